package ingest

import (
	"strings"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/parse"
)

var t0 = time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)

func record(n int, line string) parse.Record { return parse.Record{Line: n, Lines: []string{line}} }

func TestSpineFoldsOneProblemIntoOneIncident(t *testing.T) {
	s := newSpine(t)
	s.KeepLines = true
	lines := []string{
		`{"severity":"ERROR","textPayload":"timeout calling 10.0.0.1 after 30s","logName":"l","resource":{"type":"t","labels":{"service_name":"pay"}},"timestamp":"2024-01-01T12:00:00Z"}`,
		`{"severity":"INFO","textPayload":"ok","logName":"l","resource":{"type":"t","labels":{"service_name":"pay"}},"timestamp":"2024-01-01T12:00:01Z"}`,
		`{"severity":"CRITICAL","textPayload":"timeout calling 10.0.0.2 after 31s","logName":"l","resource":{"type":"t","labels":{"service_name":"pay"}},"timestamp":"2024-01-01T12:00:02Z"}`,
	}
	for i, l := range lines {
		s.Record(record(i+1, l))
	}
	incs := s.Incidents()
	if len(incs) != 1 {
		t.Fatalf("got %d incidents, want 1: %+v", len(incs), incs)
	}
	in := incs[0]
	if in.Count != 2 || in.Severity != domain.Critical || in.Service != "pay" || !in.FirstSeen.Equal(t0) || !in.LastSeen.Equal(t0.Add(2*time.Second)) {
		t.Errorf("incident %+v", in)
	}
	if len(in.Lines) != 2 || in.Lines[0] != 1 || in.Lines[1] != 3 {
		t.Errorf("lines %v", in.Lines)
	}
	if len(in.Reasons) == 0 || in.Reasons[0] != domain.ReasonFatal {
		t.Errorf("reasons %v", in.Reasons)
	}
	st := s.Stats()
	if st.Events != 3 || st.BySeverity["ERROR"] != 1 || st.BySeverity["INFO"] != 1 || st.BySeverity["CRITICAL"] != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestSpineKeepsNoLinesByDefault(t *testing.T) {
	s := newSpine(t)
	s.Record(record(1, "ERROR something failed"))
	if incs := s.Incidents(); len(incs) != 1 || incs[0].Lines != nil {
		t.Errorf("lines kept without KeepLines: %+v", incs)
	}
}

func TestSpineRedactsServiceName(t *testing.T) {
	s := newSpine(t)
	s.Record(record(1, `{"level":"error","msg":"boom","service":"ops@example.com"}`))
	incs := s.Incidents()
	if len(incs) != 1 || strings.Contains(incs[0].Service, "example.com") {
		t.Errorf("service %q reached the incident", incs[0].Service)
	}
}

func TestSpineSeedCarriesBaseline(t *testing.T) {
	s := newSpine(t)
	id := domain.TemplateID("0123456789abcdef")
	s.Seed(Learnt{Templates: []domain.Template{{ID: id, Text: "disk <*> full"}},
		Baselines: []domain.Baseline{{Service: "svc", Template: id, FirstSeen: t0.Add(-48 * time.Hour), PerWindow: 1000}}})
	s.DefaultService = "svc"
	// Known for two days with a high baseline: neither new nor a spike, and
	// one error is no burst, so no incident.
	s.Record(record(1, "2024-01-01 12:00:00 ERROR disk /dev/sda1 full"))
	if incs := s.Incidents(); len(incs) != 0 {
		t.Errorf("seeded template opened an incident: %+v", incs)
	}
	if b := s.Baselines(); len(b) != 0 {
		t.Errorf("baselines of non-incidents: %+v", b)
	}
}

func TestQuietGapReopens(t *testing.T) {
	s := newSpine(t)
	s.ReopenAfter = time.Hour
	for i, at := range []time.Duration{0, time.Minute, 2 * time.Minute, 3 * time.Hour, 3*time.Hour + time.Second} {
		s.Event(domain.Event{Line: i + 1, Time: t0.Add(at), Service: "api", Severity: domain.Critical, Message: "database connection refused"})
	}
	inc := s.Incidents()
	if len(inc) != 1 {
		t.Fatalf("got %d incidents, want 1", len(inc))
	}
	if want := t0.Add(3 * time.Hour); !inc[0].ReopenedAt.Equal(want) {
		t.Fatalf("ReopenedAt = %v, want %v", inc[0].ReopenedAt, want)
	}
}
