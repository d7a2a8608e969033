package detect

import (
	"strings"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// A detector restored from what another saved decides as it would have:
// the same reasons for the same next events.
func TestRestoredDetectorDecidesAlike(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	a, _ := New(DefaultConfig())
	a.Track()
	k := TemplateKey{Service: "cart", Template: 1}
	for i := range 900 { // past the warm-up, a steady 10% of errors
		at := t0.Add(time.Duration(i) * 500 * time.Millisecond)
		a.Observe(k, at, &domain.Event{Severity: domain.Info}, i%10 == 0)
	}
	svcs, keys := a.Touched()
	if len(svcs) != 1 || len(keys) != 1 {
		t.Fatalf("touched %v %v", svcs, keys)
	}
	b, _ := New(DefaultConfig())
	sb, _ := a.SaveService("cart")
	tb, _ := a.SaveTemplate(k)
	if err := b.RestoreService("cart", sb); err != nil {
		t.Fatal(err)
	}
	if err := b.RestoreTemplate(k, tb); err != nil {
		t.Fatal(err)
	}
	for i := 900; i < 1100; i++ { // the errors rise
		at := t0.Add(time.Duration(i) * 500 * time.Millisecond)
		ev := &domain.Event{Severity: domain.Error}
		if ra, rb := a.Observe(k, at, ev, true), b.Observe(k, at, ev, true); ra != rb {
			t.Fatalf("event %d: %v before the restart, %v after", i, ra.List(), rb.List())
		}
	}
}

// What the store gives back is checked, never trusted.
func TestRestoreRefusesBadState(t *testing.T) {
	d, _ := New(DefaultConfig())
	for _, bad := range []string{`{`, `{"All":{"c":[1,0,0,0,0,0,0,0,0,0,0,0],"t":5,"h":3}}`, `{"All":{"c":[-1,0,0,0,0,0,0,0,0,0,0,0],"t":-1,"h":3}}`,
		`{"All":{"c":[0,0,0,0,0,0,0,0,0,0,0,0],"t":0,"h":-7}}`} {
		if err := d.RestoreService("svc", []byte(bad)); err == nil || !strings.Contains(err.Error(), "svc") {
			t.Errorf("%s: %v", bad, err)
		}
		if err := d.RestoreTemplate(TemplateKey{Service: "svc"}, []byte(strings.ReplaceAll(bad, "All", "Window"))); err == nil {
			t.Errorf("template %s: accepted", bad)
		}
	}
}

// Whatever a stored state holds, a restored detector observes without a
// panic.
func FuzzRestore(f *testing.F) {
	a, _ := New(DefaultConfig())
	k := TemplateKey{Service: "s", Template: 1}
	a.Observe(k, time.Unix(1e9, 0), &domain.Event{Severity: domain.Error}, true)
	sb, _ := a.SaveService("s")
	tb, _ := a.SaveTemplate(k)
	f.Add(sb, tb, int64(1e9))
	f.Add([]byte(`{"All":{"h":99999999999}}`), []byte(`{"Window":{"h":5},"BaseStart":-4}`), int64(-5))
	f.Fuzz(func(t *testing.T, svc, tmpl []byte, at int64) {
		d, _ := New(DefaultConfig())
		d.RestoreService("s", svc)
		d.RestoreTemplate(k, tmpl)
		for i := range 3 {
			d.Observe(k, time.Unix(at/2+int64(i)*30, 0), &domain.Event{Severity: domain.Critical}, true)
		}
	})
}
