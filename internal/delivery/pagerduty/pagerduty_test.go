package pagerduty

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

type keys map[string]string

func (k keys) Get(_ context.Context, ref string) (string, error) { return k[ref], nil }

const routingKey = "R0123456789abcdef0123456789abcdef"

// events is an Events API v2 endpoint as PagerDuty documents it: JSON
// events with a 32-character routing key, 202 with the dedup_key; 400 for
// an invalid event; statuses queued first (429 with Retry-After, 5xx).
type events struct {
	mu       sync.Mutex
	statuses []int
	got      []map[string]any
}

func (e *events) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, _ := io.ReadAll(r.Body)
	var ev map[string]any
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &ev) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	e.got = append(e.got, ev)
	if len(e.statuses) > 0 {
		st := e.statuses[0]
		e.statuses = e.statuses[1:]
		if st == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "3")
		}
		w.WriteHeader(st)
		return
	}
	action, _ := ev["event_action"].(string)
	if ev["routing_key"] != routingKey || (action != "trigger" && action != "resolve") || ev["dedup_key"] == "" {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"status":"invalid event","message":"Event object is invalid"}`))
		return
	}
	if action == "trigger" {
		p, _ := ev["payload"].(map[string]any)
		if p == nil || p["summary"] == "" || p["source"] == "" || p["severity"] == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
	}
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]string{"status": "success", "message": "Event processed", "dedup_key": ev["dedup_key"].(string)})
}

func sink(t *testing.T, e *events) (*Sink, *[]time.Duration) {
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	s, err := New(Config{RoutingKey: "env://PD", URL: srv.URL}, srv.Client(), keys{"env://PD": routingKey})
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	s.sender.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	return s, &waits
}

func notification(tr delivery.Transition) delivery.Notification {
	return delivery.Notification{Transition: tr, Key: "k", DashboardURL: "https://sre.example/incidents/fp1",
		Incident: domain.Incident{Fingerprint: "fp1", Service: "checkout", Severity: domain.Critical, Count: 9,
			FirstSeen: time.Unix(1000, 0), LastSeen: time.Unix(2000, 0), Reasons: []domain.Reason{domain.ReasonFatal},
			Templates: []domain.Template{{Text: "panic: nil map for @oncall token=ghp_1234567890abcdefghijklmnopqrstuvwxyz12"}}},
		Run: &domain.Run{Analysis: &domain.Analysis{RootCause: "a nil map"}, Delivery: &domain.Delivery{Location: "https://github.example/o/r/pull/3"}}}
}

// A trigger deduplicated by the fingerprint, severity mapped, links and
// details; the same incident's next change updates (same dedup_key); the
// episode's end resolves it.
func TestTriggerUpdateResolve(t *testing.T) {
	e := &events{}
	s, _ := sink(t, e)
	thread, err := s.Notify(context.Background(), notification(delivery.Opened), "")
	if err != nil || thread != "fp1" {
		t.Fatalf("trigger: thread %q %v", thread, err)
	}
	if _, err := s.Notify(context.Background(), notification(delivery.Proposed), thread); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Notify(context.Background(), notification(delivery.Resolved), thread); err != nil {
		t.Fatal(err)
	}
	if len(e.got) != 3 {
		t.Fatalf("%d events", len(e.got))
	}
	for i, want := range []string{"trigger", "trigger", "resolve"} {
		if e.got[i]["event_action"] != want || e.got[i]["dedup_key"] != "fp1" {
			t.Fatalf("event %d: %v", i, e.got[i])
		}
	}
	p := e.got[0]["payload"].(map[string]any)
	if p["severity"] != "critical" || p["source"] != "checkout" || p["class"] != "fatal" {
		t.Fatalf("payload %v", p)
	}
	summary := p["summary"].(string)
	if strings.Contains(summary, "ghp_1234567890") || strings.Contains(summary, "@oncall") {
		t.Fatalf("summary not redacted and inert: %s", summary)
	}
	links := e.got[1]["links"].([]any)
	if len(links) != 2 || links[0].(map[string]any)["href"] != "https://github.example/o/r/pull/3" {
		t.Fatalf("links %v", links)
	}
	if p["custom_details"].(map[string]any)["root_cause"] != "a nil map" {
		t.Fatalf("details %v", p["custom_details"])
	}
}

// 429 honours Retry-After, 5xx backs off; an invalid event (400) is not
// retried.
func TestRetries(t *testing.T) {
	e := &events{statuses: []int{429, 502}}
	s, waits := sink(t, e)
	if _, err := s.Notify(context.Background(), notification(delivery.Opened), ""); err != nil {
		t.Fatal(err)
	}
	if len(e.got) != 3 || len(*waits) != 2 || (*waits)[0] != 3*time.Second {
		t.Fatalf("%d posts, waits %v", len(e.got), *waits)
	}
	bad := &events{}
	s2, _ := sink(t, bad)
	s2.secrets = keys{"env://PD": "wrong"}
	if _, err := s2.Notify(context.Background(), notification(delivery.Opened), ""); err == nil || len(bad.got) != 1 {
		t.Fatalf("an invalid event: %d posts, %v", len(bad.got), err)
	}
}
