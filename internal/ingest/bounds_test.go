package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/detect"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/template"
)

func boundedSpine(t *testing.T, perService, perSource, max int) *Spine {
	t.Helper()
	cfg := detect.DefaultConfig()
	cfg.MaxNewPerService, cfg.MaxNewPerSource, cfg.MaxIncidents = perService, perSource, max
	// Every distinct template its own incident: no warm-up, no grouping.
	cfg.WarmUp, cfg.GroupWait = 0, 0
	m, _ := template.New(template.DefaultConfig())
	d, err := detect.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return New(redact.New(redact.DefaultOptions()), m, d)
}

// distinct is an error line of its own template: no two share a word.
func distinct(service string, i int, at time.Time) domain.Event {
	w := func(k int) string {
		b := []byte("gggggg")
		n := i*131 + k*977
		for j := range b {
			b[j] = "ghijklmnopqrstuvwxyz"[n%20]
			n /= 20
			n += k
		}
		return string(b)
	}
	return domain.Event{Service: service, Severity: domain.Error, Time: at, Message: fmt.Sprintf("%s %s %s %s", w(1), w(2), w(3), w(4))}
}

func TestFloodIsSummarisedPerService(t *testing.T) {
	s := boundedSpine(t, 3, 100, 1000)
	for i := range 50 {
		s.Event(distinct("checkout", i, t0))
	}
	s.Event(distinct("cart", 1000, t0))
	incs := s.Incidents()
	var summaries, plain int
	for _, in := range incs {
		if in.Summary() {
			summaries++
			if in.Service != "checkout" || in.Count != 47 || len(in.Templates) != domain.MaxSummaryTemplates+1 {
				t.Errorf("summary %s: %d events, %d templates", in.Service, in.Count, len(in.Templates))
			}
			if in.Fingerprint != domain.NewFingerprint("checkout", domain.OverLimitTemplate) {
				t.Errorf("summary fingerprint %s", in.Fingerprint)
			}
		} else {
			plain++
		}
	}
	if summaries != 1 || plain != 4 {
		t.Fatalf("%d summaries and %d incidents, want 1 and 4 (3 checkout, 1 cart)", summaries, plain)
	}
	if st := s.Stats(); st.OverLimit != 47 {
		t.Fatalf("over limit %d", st.OverLimit)
	}
	// A template once summarised stays in the summary; a new window
	// admits new templates again.
	s.Event(distinct("checkout", 10, t0.Add(2*time.Minute)))
	s.Event(distinct("checkout", 500, t0.Add(2*time.Minute)))
	if n := len(s.Incidents()); n != 6 {
		t.Fatalf("%d incidents after the next window, want 6", n)
	}
}

func TestIncidentsInMemoryAreBounded(t *testing.T) {
	s := boundedSpine(t, 0, 0, 20)
	for i := range 5000 {
		s.Event(distinct(fmt.Sprintf("svc%d", i%7), i, t0.Add(time.Duration(i)*time.Second)))
	}
	incs := s.Incidents()
	total := int64(0)
	for _, in := range incs {
		total += in.Count
	}
	if len(s.order) != 20 || len(incs) > 20+7 || total != 5000 {
		t.Fatalf("%d held, %d reported, %d events of 5000", len(s.order), len(incs), total)
	}
}

// With shared detection the bound applies where the merged decision
// makes a candidate an incident, and a repeated Decide does not count
// a summarised candidate twice.
func TestSharedDecisionIsBounded(t *testing.T) {
	s := boundedSpine(t, 2, 100, 1000)
	s.Share()
	for i := range 6 {
		s.Event(distinct("checkout", i, t0))
	}
	f := s.TakeShared()
	merged := map[domain.WindowID]detect.Merged{}
	for _, k := range f.Keys {
		merged[domain.WindowID{Service: k.Service, Template: k.Template}] = detect.Merged{Open: true}
	}
	s.Decide(merged)
	s.Decide(merged)
	s.Settle()
	var summary *domain.Incident
	plain := 0
	for _, in := range s.Incidents() {
		if in.Summary() {
			summary = &in
		} else {
			plain++
		}
	}
	if plain != 2 || summary == nil || summary.Count != 4 {
		t.Fatalf("%d incidents, summary %+v", plain, summary)
	}
}

// Errors held for a template that may yet open an incident are bounded,
// however many distinct templates a flood brings.
func TestHeldErrorsAreBounded(t *testing.T) {
	s := newSpine(t) // in its warm-up, errors 1 in 20: nothing opens
	at := t0
	for i := range maxPending + 2000 {
		for range 19 {
			at = at.Add(time.Millisecond)
			s.Event(domain.Event{Service: "checkout", Severity: domain.Info, Time: at, Message: "request served"})
		}
		at = at.Add(time.Millisecond)
		s.Event(distinct("checkout", i, at))
	}
	if n := len(s.pending); n > maxPending || n < maxPending/2 {
		t.Fatalf("%d templates held (bound %d)", n, maxPending)
	}
	if st := s.Stats(); st.Events != 20*(maxPending+2000) || len(s.Incidents()) != 0 {
		t.Fatalf("%d events counted, %d incidents", st.Events, len(s.Incidents()))
	}
}
