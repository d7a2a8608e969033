package ingest

import (
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// An incident going when an earlier run stopped continues after a
// restart: its template's errors join at once (reason "resumed"), even a
// redelivered older one, instead of waiting in the new run's warm-up for
// a rule; a template quiet for longer than the quiet period does not.
func TestEpisodeResumesAfterARestart(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	errAt := func(at time.Time, msg string) domain.Event {
		return domain.Event{Time: at, Service: "checkout", Severity: domain.Error, Message: msg}
	}
	// The first run: an error template whose incident the store keeps.
	first := newSpine(t)
	first.Event(errAt(t0, "dial tcp 10.0.0.7:5432: connect: connection refused"))
	tmpl := first.miner.Add("dial tcp 10.0.0.7:5432: connect: connection refused")
	stored := domain.Incident{Fingerprint: "fp", Service: "checkout", LastSeen: t0.Add(time.Minute),
		Templates: []domain.Template{{ID: tmpl.ID(), Text: tmpl.Template()}}}

	second := newSpine(t)
	second.Seed(Learnt{Templates: []domain.Template{{ID: tmpl.ID(), Text: tmpl.Template()}}, Incidents: []domain.Incident{stored}})
	second.Event(errAt(t0.Add(90*time.Second), "dial tcp 10.0.0.7:5432: connect: connection refused"))
	second.Event(errAt(t0.Add(30*time.Second), "dial tcp 10.0.0.7:5432: connect: connection refused")) // redelivered, older
	ins := second.Incidents()
	if len(ins) != 1 || ins[0].Count != 2 || len(ins[0].Reasons) != 1 || ins[0].Reasons[0] != domain.ReasonResumed {
		t.Fatalf("after a restart mid-episode: %+v", ins)
	}

	late := newSpine(t)
	late.Seed(Learnt{Templates: []domain.Template{{ID: tmpl.ID(), Text: tmpl.Template()}}, Incidents: []domain.Incident{stored}})
	late.Event(errAt(t0.Add(time.Hour), "dial tcp 10.0.0.7:5432: connect: connection refused"))
	if ins := late.Incidents(); len(ins) != 0 {
		t.Fatalf("an hour later, in the warm-up, one error opened %+v", ins)
	}
}
