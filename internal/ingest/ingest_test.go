package ingest

import (
	"strings"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/parse"
)

var t0 = time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)

func record(n int, line string) parse.Record { return parse.Record{Line: n, Lines: []string{line}} }

func TestSpineFoldsOneProblemIntoOneIncident(t *testing.T) {
	s := warmSpine(t)
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
	if len(in.Reasons) == 0 || in.Reasons[0] != domain.ReasonNewTemplate {
		t.Errorf("reasons %v", in.Reasons)
	}
	st := s.Stats()
	if st.Events != 3 || st.BySeverity["ERROR"] != 1 || st.BySeverity["INFO"] != 1 || st.BySeverity["CRITICAL"] != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestSpineKeepsNoLinesByDefault(t *testing.T) {
	s := warmSpine(t)
	s.Record(record(1, "ERROR something failed"))
	if incs := s.Incidents(); len(incs) != 1 || incs[0].Lines != nil {
		t.Errorf("lines kept without KeepLines: %+v", incs)
	}
}

func TestSpineRedactsServiceName(t *testing.T) {
	s := warmSpine(t)
	s.Record(record(1, `{"level":"error","msg":"boom","service":"ops@example.com"}`))
	incs := s.Incidents()
	if len(incs) != 1 || strings.Contains(incs[0].Service, "example.com") {
		t.Errorf("service %q reached the incident", incs[0].Service)
	}
}

func TestSpineSeedCarriesBaseline(t *testing.T) {
	s := warmSpine(t)
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

// A recurrence after a quiet period is a new episode of the same incident:
// the first episode resolves, the store is told when the next one began.
func TestRecurrenceIsANewEpisode(t *testing.T) {
	s := warmSpine(t)
	for i, at := range []time.Duration{0, time.Minute, 2 * time.Minute, 3 * time.Hour, 3*time.Hour + time.Second} {
		s.Event(domain.Event{Line: i + 1, Time: t0.Add(at), Service: "api", Severity: domain.Critical, Message: "database connection refused"})
	}
	inc := s.Incidents()
	if len(inc) != 1 {
		t.Fatalf("got %d incidents, want 1", len(inc))
	}
	eps := inc[0].Episodes
	// The first line is held; its recurrence opens the episode and takes
	// it in.
	if len(eps) != 2 || !eps[0].Start.Equal(t0.Add(time.Minute)) || !eps[0].End.Equal(t0.Add(2*time.Minute)) || eps[0].Count != 3 || !inc[0].FirstSeen.Equal(t0) {
		t.Fatalf("episodes %+v", eps)
	}
	// The lone CRITICAL at 3h counts into the incident without opening an
	// episode; its recurrence a second later opens the second.
	if want := t0.Add(3 * time.Hour); !eps[1].Start.Equal(want.Add(time.Second)) || !inc[0].ReopenedAt.Equal(want.Add(time.Second)) || eps[1].Count != 1 || inc[0].Count != 5 {
		t.Fatalf("second episode %+v, ReopenedAt %v, count %d", eps[1], inc[0].ReopenedAt, inc[0].Count)
	}
	// A lone CRITICAL of another kind is recorded, not an incident.
	s.Event(domain.Event{Line: 9, Time: t0.Add(4 * time.Hour), Service: "api", Severity: domain.Critical, Message: "fan speed below threshold"})
	if n := len(s.Incidents()); n != 1 {
		t.Fatalf("a lone CRITICAL opened an incident: %d", n)
	}
	if held, n := s.Held(); n != 1 || len(held) != 1 || held[0].Line != 9 {
		t.Fatalf("held %d: %+v", n, held)
	}
	if st := s.Stats(); st.CriticalHeld != 1 {
		t.Errorf("critical held %d, want 1", st.CriticalHeld)
	}
}

// One failure across many nodes is one incident listing the nodes.
func TestOneFailureAcrossNodesListsThem(t *testing.T) {
	s := warmSpine(t)
	nodes := []string{"bglio559", "bglio344", "bglio46", "bglio136", "bglio75"}
	for i, n := range nodes {
		s.Event(domain.Event{Line: i + 1, Time: t0.Add(time.Duration(i) * 10 * time.Second), Service: "kernel", Severity: domain.Critical,
			Message: "Lustre mount FAILED : " + n + " : point /p/gb1"})
	}
	incs := s.Incidents()
	if len(incs) != 1 || incs[0].Count != 5 {
		t.Fatalf("%d incidents: %+v", len(incs), incs)
	}
	if got := strings.Join(incs[0].Entities, ","); got != strings.Join(nodes, ",") {
		t.Errorf("entities %q", got)
	}
}

// parse.service_from starting with "source": the source's name wins.
func TestSourceFirst(t *testing.T) {
	s := warmSpine(t)
	s.DefaultService = "payments"
	s.SetParse(parse.Config{ServiceFrom: []string{"source", "tag"}})
	s.Record(record(1, "2026-11-20T09:00:01.000Z ERROR checkout[1296]: panic: nil map"))
	if incs := s.Incidents(); len(incs) != 1 || incs[0].Service != "payments" {
		t.Fatalf("%+v", incs)
	}
}
