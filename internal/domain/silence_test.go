package domain

import (
	"testing"
	"time"
)

func TestSilenceMatching(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	in := Incident{Fingerprint: "f80826e6f2498a03aa00", Service: "checkout", Services: []string{"checkout", "payments-api"}, Severity: Error,
		Templates: []Template{{ID: "tpl1", Text: "write <*>: no space left on device"}}, Labels: map[string]string{"env": "staging"}}
	for _, c := range []struct {
		m    string
		want bool
	}{
		{"service=checkout", true}, {"service=payments-*", true}, {"service=orders", false},
		{"severity=error", true}, {"severity=ERR", true}, {"severity=critical", false},
		{"template=*no space left*", true}, {"template=*timeout*", false},
		{"template_id=tpl1", true}, {"fingerprint=f80826e6", true}, {"fingerprint=deadbeef", false},
		{"label.env=stag*", true}, {"label.env=prod", false}, {"label.region=*", false},
	} {
		m, err := ParseMatcher(c.m)
		if err != nil {
			t.Fatalf("%s: %v", c.m, err)
		}
		s := Silence{ID: "s", Matchers: []Matcher{m}, Start: t0}
		if got := s.Matches(in); got != c.want {
			t.Errorf("%s: %v", c.m, got)
		}
	}
	for _, bad := range []string{"service", "=x", "colour=red", "severity=loud", "service=[", "label.=x"} {
		if _, err := ParseMatcher(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// Every matcher must hold; none is no silence.
	both := Silence{Matchers: []Matcher{{"service", "checkout"}, {"severity", "critical"}}, Start: t0}
	if both.Matches(in) || (Silence{Start: t0}).Matches(in) {
		t.Error("a partial or empty silence matched")
	}
	// Active between start and end, until expired.
	s := Silence{Matchers: []Matcher{{"service", "checkout"}}, Start: t0, End: t0.Add(time.Hour)}
	for at, want := range map[time.Duration]bool{-time.Minute: false, 0: true, 59 * time.Minute: true, time.Hour: false} {
		if s.Active(t0.Add(at)) != want {
			t.Errorf("active at %v: %v", at, !want)
		}
	}
	s.ExpiredAt = t0.Add(10 * time.Minute)
	if s.Active(t0.Add(20*time.Minute)) || Silencing([]Silence{s}, in, t0.Add(20*time.Minute)) != nil || Silencing([]Silence{s}, in, t0.Add(5*time.Minute)) == nil {
		t.Error("expiry")
	}
}

// Whatever text is given, ParseMatcher returns a matcher that validates
// and prints back as given, or an error; never a panic.
func FuzzParseMatcher(f *testing.F) {
	for _, s := range []string{"service=checkout", "template=*disk*", "label.env=prod", "severity=err", "=x", "service=[", "label.=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMatcher(s)
		if err != nil {
			return
		}
		if m.Validate() != nil || m.Name == "" || m.Value == "" {
			t.Fatalf("%q accepted as %+v", s, m)
		}
		in := Incident{Service: "x", Templates: []Template{{Text: s}}}
		_ = (Silence{Matchers: []Matcher{m}}).Matches(in)
	})
}
