package ingest

import (
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/detect"
)

// In shared mode only a fatal event makes an incident by itself; other
// error events wait as candidates for the decision on merged counts.
func TestSharedSpineWaitsForTheMergedDecision(t *testing.T) {
	s := newSpine(t)
	s.Share()
	ev := func(sec int, sev domain.Severity, msg string) domain.Event {
		return domain.Event{Time: t0.Add(time.Duration(sec) * time.Second), Service: "pay", Severity: sev, Message: msg}
	}
	s.Event(ev(0, domain.Info, "request served"))
	s.Event(ev(1, domain.Error, "payment gateway unavailable"))
	s.Event(ev(2, domain.Error, "payment gateway unavailable"))
	s.Event(ev(3, domain.Critical, "panic: disk on fire"))
	if incs := s.Incidents(); len(incs) != 1 || incs[0].Templates[0].Text != "panic: disk on fire" {
		t.Fatalf("before the decision: %+v", incs)
	}
	f := s.TakeShared()
	var all, errs, tmpl int64
	for _, c := range f.Counts {
		switch c.Series {
		case detect.SeriesAll:
			all += c.N
		case detect.SeriesErrors:
			errs += c.N
		default:
			tmpl += c.N
		}
	}
	if all != 4 || errs != 3 || tmpl != 3 || len(f.Keys) != 2 {
		t.Fatalf("counts all %d errors %d templates %d keys %v", all, errs, tmpl, f.Keys)
	}
	// The merged counts say nothing: the errors stay held (saved with
	// the share, not an incident).
	merged := map[domain.WindowID]detect.Merged{}
	for _, k := range f.Keys {
		merged[domain.WindowID{Service: k.Service, Template: k.Template}] = detect.Merged{FirstSeen: t0.Add(-3 * time.Hour)}
	}
	bases := s.Decide(merged)
	s.Settle()
	if len(bases) != 2 || len(s.Incidents()) != 1 {
		t.Fatalf("a candidate without a reason became an incident: %+v", s.Incidents())
	}
	// Another replica opened the incident: this one's held errors, which
	// led up to it, join it with the new one.
	s.Event(ev(4, domain.Error, "payment gateway unavailable"))
	f = s.TakeShared()
	for _, k := range f.Keys {
		merged[domain.WindowID{Service: k.Service, Template: k.Template}] = detect.Merged{FirstSeen: t0.Add(-3 * time.Hour), Open: true}
	}
	s.Decide(merged)
	s.Decide(merged) // a retried transaction decides again: same answer
	s.Settle()
	incs := s.Incidents()
	if len(incs) != 2 {
		t.Fatalf("after the merged decision: %+v", incs)
	}
	for _, in := range incs {
		if in.Templates[0].Text == "payment gateway unavailable" && in.Count != 3 {
			t.Errorf("counted %d events into the opened incident, want 3 (2 held, 1 new)", in.Count)
		}
	}
}
