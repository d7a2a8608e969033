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
// day old with a baseline of one a window, so only a burst can fire for a
// few of its errors.
func oldTemplate(t testing.TB, cfg Config) (*Detector, TemplateKey) {
	d := newDetector(t, cfg)
	k := TemplateKey{"api", 1}
	d.Known(k, t0.Add(-24*time.Hour), 1)
	return d, k
}

func info() *domain.Event { return &domain.Event{Severity: domain.Info, Message: "ok"} }

// A cold start learns: error templates seen during the warm-up are not
// new; one first seen after it is, for new_template_age.
func TestWarmUpThenNewTemplate(t *testing.T) {
	d := newDetector(t, DefaultConfig())
	early, late := TemplateKey{"api", 1}, TemplateKey{"api", 2}
	if r := d.Observe(early, t0, errEvent("x"), true); r&NewTemplate != 0 {
		t.Errorf("first error of a cold service: reasons %v", r.List())
	}
	d.Observe(TemplateKey{"api", 3}, t0.Add(6*time.Minute), info(), false)
	if r := d.Observe(early, t0.Add(6*time.Minute), errEvent("x"), true); r&NewTemplate != 0 {
		t.Errorf("a template learnt in the warm-up is not new later: %v", r.List())
	}
	if r := d.Observe(late, t0.Add(7*time.Minute), errEvent("y"), true); r&NewTemplate == 0 {
		t.Errorf("first error of a template after the warm-up: reasons %v", r.List())
	}
	if r := d.Observe(late, t0.Add(2*time.Hour), errEvent("y"), true); r&NewTemplate != 0 {
		t.Errorf("two hours later the template is not new: %v", r.List())
	}
}

// The multi-window rule: quiet on a steady background of errors, fires
// within about a short window when the ratio jumps, stops when it falls.
func TestErrorRateRule(t *testing.T) {
	d := newDetector(t, DefaultConfig())
	bg, outage := TemplateKey{"api", 1}, TemplateKey{"api", 2}
	at := t0
	step := func(errEvery int, k TemplateKey, n int) (fired int, first time.Duration) {
		start := at
		first = -1
		for i := range n {
			at = at.Add(100 * time.Millisecond)
			if i%errEvery == 0 {
				if d.Observe(k, at, errEvent("e"), true)&Burst != 0 {
					fired++
					if first < 0 {
						first = at.Sub(start)
					}
				}
				continue
			}
			d.Observe(TemplateKey{"api", 9}, at, info(), false)
		}
		return fired, first
	}
	// Thirty minutes at 4% errors: 10 events a second.
	if n, _ := step(25, bg, 18000); n != 0 {
		t.Fatalf("a steady 4%% background fired %d times", n)
	}
	// Two minutes at 50%: fires, within a minute.
	n, first := step(2, outage, 1200)
	if n == 0 || first > time.Minute {
		t.Fatalf("50%% errors: fired %d times, first after %v", n, first)
	}
	// Back to the background: the rule stops within the long window.
	step(25, bg, 3000)
	if n, _ := step(25, bg, 3000); n != 0 {
		t.Fatalf("after recovery fired %d times", n)
	}
}

// A lone CRITICAL line without a crash signature is recorded, not an
// incident; its recurrence is.
func TestIsolatedCriticalIsHeld(t *testing.T) {
	d := newDetector(t, DefaultConfig())
	k := TemplateKey{"api", 1}
	crit := &domain.Event{Severity: domain.Critical, Message: "RAID controller reports degraded array"}
	if r := d.Observe(k, t0, crit, true); r != 0 {
		t.Fatalf("one CRITICAL: %v", r.List())
	}
	if r := d.Observe(k, t0.Add(2*time.Minute), crit, true); r&Critical == 0 {
		t.Fatalf("recurring CRITICAL: %v", r.List())
	}
	panicked := &domain.Event{Severity: domain.Critical, Message: "panic: runtime error: index out of range"}
	if r := d.Observe(TemplateKey{"api", 2}, t0, panicked, true); r&Fatal == 0 {
		t.Fatalf("a panic is a crash: %v", r.List())
	}
}

// A stack frame logged as its own line counts but never fires.
func TestContinuationLinesFireNothing(t *testing.T) {
	cfg := DefaultConfig()
	cfg.WarmUp = 0
	d := newDetector(t, cfg)
	for i, msg := range []string{"at com.shop.Pay.charge(Pay.java:42)", "\tat java.base/java.lang.Thread.run(Thread.java:833)", `File "/app/main.py", line 3, in <module>`, "Caused by: java.net.ConnectException: refused", "github.com/acme/shop/cart.(*Service).Checkout"} {
		if r := d.Observe(TemplateKey{"api", int64(i)}, t0, errEvent(msg), true); r != 0 {
			t.Errorf("%q fired %v", msg, r.List())
		}
	}
}

func TestBurstNeedsCountAndRatio(t *testing.T) {
	cfg := DefaultConfig()
	cfg.BurstCount = 5
	cfg.BurstRatio = 0.5
	d, k := oldTemplate(t, cfg)
	// A quiet service seen for a while (no cold start).
	d.Observe(TemplateKey{"api", 9}, t0.Add(-2*time.Minute), info(), false)
	var r Reasons
	for i := 0; i < 5; i++ {
		r = d.Observe(k, t0.Add(time.Duration(i)*time.Second), errEvent("x"), true)
	}
	if r&Burst == 0 {
		t.Errorf("5 errors in a minute: reasons %v", r.List())
	}
	// Errors drowned in normal traffic are not a burst.
	d2, _ := oldTemplate(t, cfg)
	d2.Observe(TemplateKey{"api", 9}, t0.Add(-2*time.Minute), info(), false)
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
	cfg.WarmUp = 0
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
		func(c *Config) { c.LongWindow = time.Second },
		func(c *Config) { c.RateFactor = 0.5 },
		func(c *Config) { c.MinRise = 2 },
		func(c *Config) { c.WarmUp = -time.Second },
		func(c *Config) { c.CriticalRecur = 0 },
		func(c *Config) { c.GroupWait = -time.Second },
		func(c *Config) { c.Quiet = 0 },
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
		{domain.Event{Severity: domain.Critical, Message: "x"}, true, false}, // a level alone is no crash
		{domain.Event{Severity: domain.Default, Message: "Exception in thread \"main\" java.lang.IllegalStateException: closed"}, true, true},
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

// A register dump line is detail, never an incident of its own; a thrown
// exception class is named in the text.
func TestDumpLinesAndExceptionNames(t *testing.T) {
	checks := map[string]func(string) bool{"isDump": isDump, "namesException": namesException}
	for _, tt := range []struct {
		check, msg string
		want       bool
	}{
		{"isDump", "instruction address: 0x00004ed8", true},
		{"isDump", "machine check: i-fetch......................0", true},
		{"isDump", "program interrupt: illegal instruction......0", true},
		{"isDump", "guaranteed instruction cache block touch.0", true},
		{"isDump", "exception syndrome register: 0x00800000", true},
		{"isDump", "program interrupt: fp cr field .............0", true},
		{"isDump", "problem state (0=sup,1=usr).......0", true},
		{"isDump", "upgraded to version 1.2.0", false},
		{"isDump", "retrying in 3.5", false},
		{"isDump", "failed with code: 0x80070005", false},
		{"isDump", "write failed: no space left on device", false},
		{"namesException", "Exception in receiveBlock for block blk_1 java.io.IOException: Connection reset by peer", true},
		{"namesException", "caught NullPointerException in handler", true},
		{"namesException", "ValueError: bad input", true},
		{"namesException", "63543 floating point alignment exceptions", false},
		{"namesException", "error count 3", false},
	} {
		if got := checks[tt.check](tt.msg); got != tt.want {
			t.Errorf("%s(%q) = %v", tt.check, tt.msg, got)
		}
	}
}

// A cold start has no baseline: a noisy background's first seconds do not
// fire, a service failing outright does at once.
func TestColdStartAllowsForSamplingNoise(t *testing.T) {
	run := func(errEvery int) (first time.Duration) {
		d := newDetector(t, DefaultConfig())
		for i := range 600 { // 10 events a second for a minute
			at := t0.Add(time.Duration(i) * 100 * time.Millisecond)
			if i%errEvery != 0 {
				d.Observe(TemplateKey{"api", 9}, at, info(), false)
				continue
			}
			if d.Observe(TemplateKey{"api", 1}, at, errEvent("x"), true)&Burst != 0 {
				return at.Sub(t0)
			}
		}
		return -1
	}
	if at := run(7); at >= 0 { // 14% errors: noise around a steady level
		t.Errorf("a 14%% background fired at %v", at)
	}
	if at := run(1); at < 0 || at > 2*time.Second {
		t.Errorf("a service failing outright fired at %v", at)
	}
}
