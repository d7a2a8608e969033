package detect

import (
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

var t0 = time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)

func errEvent(msg string) *domain.Event {
	return &domain.Event{Severity: domain.Error, Message: msg}
}

func newDetector(t testing.TB, cfg Config) *Detector {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// oldTemplate returns a detector that already knows template 1 of "api" as a
// day old with a high baseline, so only a burst can fire for it.
func oldTemplate(t testing.TB, cfg Config) (*Detector, TemplateKey) {
	d := newDetector(t, cfg)
	k := TemplateKey{"api", 1}
	d.Known(k, t0.Add(-24*time.Hour), 100)
	return d, k
}

func TestNewTemplateThenKnown(t *testing.T) {
	d := newDetector(t, DefaultConfig())
	k := TemplateKey{"api", 1}
	if r := d.Observe(k, t0, errEvent("x"), true); r&NewTemplate == 0 {
		t.Errorf("first error of a template: reasons %v", r.List())
	}
	if r := d.Observe(k, t0.Add(2*time.Hour), errEvent("x"), true); r&NewTemplate != 0 {
		t.Errorf("two hours later the template is not new: %v", r.List())
	}
}

func TestBurstNeedsCountAndRatio(t *testing.T) {
	cfg := DefaultConfig()
	cfg.BurstCount = 5
	cfg.BurstRatio = 0.5
	d, k := oldTemplate(t, cfg)
	var r Reasons
	for i := 0; i < 5; i++ {
		r = d.Observe(k, t0.Add(time.Duration(i)*time.Second), errEvent("x"), true)
	}
	if r&Burst == 0 {
		t.Errorf("5 errors in a minute: reasons %v", r.List())
	}
	// Errors drowned in normal traffic are not a burst.
	d2, _ := oldTemplate(t, cfg)
	for i := 0; i < 100; i++ {
		d2.Observe(TemplateKey{"api", 2}, t0.Add(time.Duration(i)*100*time.Millisecond), &domain.Event{Severity: domain.Info}, false)
	}
	for i := 0; i < 5; i++ {
		r = d2.Observe(k, t0.Add(10*time.Second+time.Duration(i)*time.Second), errEvent("x"), true)
	}
	if r&Burst != 0 {
		t.Error("5 errors among 100 normal events counted as a burst")
	}
}

func TestWindowSlides(t *testing.T) {
	cfg := DefaultConfig()
	cfg.BurstCount = 3
	cfg.BurstRatio = 0
	d, k := oldTemplate(t, cfg)
	d.Observe(k, t0, errEvent("x"), true)
	d.Observe(k, t0.Add(time.Second), errEvent("x"), true)
	// Two minutes later the first two have left the one-minute window.
	if r := d.Observe(k, t0.Add(2*time.Minute), errEvent("x"), true); r&Burst != 0 {
		t.Errorf("old errors still counted: %v", r.List())
	}
}

func TestSpikeAgainstBaseline(t *testing.T) {
	cfg := DefaultConfig()
	cfg.BurstCount = 1 << 30 // isolate the spike rule
	d := newDetector(t, cfg)
	k := TemplateKey{"api", 1}
	// Ten minutes of one error a minute builds a baseline near 1.
	for m := 0; m < 10; m++ {
		d.Observe(k, t0.Add(time.Duration(m)*time.Minute), errEvent("x"), true)
	}
	var r Reasons
	for i := 0; i < 12; i++ {
		r = d.Observe(k, t0.Add(11*time.Minute+time.Duration(i)*time.Second), errEvent("x"), true)
	}
	if r&Spike == 0 {
		base, _, _ := d.Baseline(k)
		t.Errorf("12 in a minute against baseline %.2f: reasons %v", base, r.List())
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []func(*Config){
		func(c *Config) { c.Window = 0 },
		func(c *Config) { c.BurstCount = 0 },
		func(c *Config) { c.BurstRatio = 1.5 },
		func(c *Config) { c.NewTemplateAge = 0 },
		func(c *Config) { c.SpikeFactor = 0.5 },
		func(c *Config) { c.SpikeMinCount = 0 },
		func(c *Config) { c.BaselineAlpha = 0 },
	}
	for i, mut := range bad {
		c := DefaultConfig()
		mut(&c)
		if _, err := New(c); err == nil {
			t.Errorf("case %d: invalid config accepted: %+v", i, c)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
}

func TestFatalAndErrorClass(t *testing.T) {
	tests := []struct {
		ev           domain.Event
		isErr, fatal bool
	}{
		{domain.Event{Severity: domain.Info, Message: "all good"}, false, false},
		{domain.Event{Severity: domain.Info, Message: "writeBlock received exception java.io.IOException"}, true, false},
		{domain.Event{Severity: domain.Warning, Message: "Connection refused"}, true, false},
		{domain.Event{Severity: domain.Error, Message: "x"}, true, false},
		{domain.Event{Severity: domain.Critical, Message: "x"}, true, true},
		{domain.Event{Severity: domain.Default, Message: "panic: runtime error: nil map"}, true, true},
		{domain.Event{Severity: domain.Error, Message: "job died", Stack: "java.lang.OutOfMemoryError: heap\n\tat x"}, true, true},
		{domain.Event{Severity: domain.Debug, Message: "retrying after error"}, false, false},
		// A line below ERROR reports a failure only when its text does.
		{domain.Event{Severity: domain.Info, Message: "processed batch size=120 errors=0"}, false, false},
		{domain.Event{Severity: domain.Info, Message: `request done {"status": 200, "error": null}`}, false, false},
		{domain.Event{Severity: domain.Info, Message: "dial options timeout:20000000000 keepalive:true"}, false, false},
		{domain.Event{Severity: domain.Default, Message: `rpc done error:="" code=OK`}, false, false},
		{domain.Event{Severity: domain.Info, Message: "3 error(s) detected and corrected"}, false, false},
		{domain.Event{Severity: domain.Info, Message: "sync finished with no errors"}, false, false},
		{domain.Event{Severity: domain.Info, Message: "processed batch size=120 errors=4"}, true, false},
		{domain.Event{Severity: domain.Info, Message: "errors=0 but connection refused by upstream"}, true, false},
		{domain.Event{Severity: domain.Warning, Message: "request timeout after 30s"}, true, false},
	}
	for _, tt := range tests {
		if got := IsError(&tt.ev); got != tt.isErr {
			t.Errorf("IsError(%q) = %v", tt.ev.Message, got)
		}
		if got := IsFatal(&tt.ev); got != tt.fatal {
			t.Errorf("IsFatal(%q) = %v", tt.ev.Message, got)
		}
	}
}

func BenchmarkObserve(b *testing.B) {
	for _, w := range []time.Duration{time.Minute, time.Hour} {
		b.Run(w.String(), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Window = w
			d := newDetector(b, cfg)
			ev := errEvent("x")
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				d.Observe(TemplateKey{"api", int64(i % 50)}, t0.Add(time.Duration(i)*time.Millisecond), ev, i%4 == 0)
			}
		})
	}
}
