package webhook

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

type envSecrets map[string]string

func (e envSecrets) Get(_ context.Context, ref string) (string, error) { return e[ref], nil }

var secret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("a 32-byte signing key for tests!"))

// receiver is a webhook endpoint that verifies each delivery the way the
// Standard Webhooks library does, and can answer with statuses first.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	bodies   [][]byte
	headers  []http.Header
	verified []error
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, _ := io.ReadAll(req.Body)
	wh, _ := standardwebhooks.NewWebhook(secret)
	r.bodies, r.headers = append(r.bodies, b), append(r.headers, req.Header.Clone())
	r.verified = append(r.verified, wh.Verify(b, req.Header))
	if len(r.statuses) > 0 {
		st := r.statuses[0]
		r.statuses = r.statuses[1:]
		if st == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "2")
		}
		w.WriteHeader(st)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func sink(t *testing.T, r *receiver, format string) (*Sink, *[]time.Duration) {
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	s, err := New(Config{Name: "ops", URL: srv.URL, Secret: "env://HOOK", Format: format}, srv.Client(), envSecrets{"env://HOOK": secret})
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	s.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	return s, &waits
}

func notification() delivery.Notification {
	return delivery.Notification{Transition: delivery.Opened, Key: "fp1-opened-1", DashboardURL: "https://sre.example/incidents/fp1",
		Incident: domain.Incident{Fingerprint: "fp1", Service: "checkout", Severity: domain.Error, State: domain.StateNew, Count: 7,
			FirstSeen: time.Unix(1000, 0).UTC(), LastSeen: time.Unix(2000, 0).UTC(), Reasons: []domain.Reason{domain.ReasonBurst},
			Templates: []domain.Template{{ID: "t1", Text: "payment failed for <*>", Count: 7}},
			Samples:   []string{"ERROR payment failed for @channel see [x](https://evil.example) token=ghp_1234567890abcdefghijklmnopqrstuvwxyz12 /invite @all"}},
		Run: &domain.Run{Triage: &domain.Triage{Category: "dependency-unavailable", Severity: "high", Actionable: true},
			Analysis: &domain.Analysis{RootCause: "the payments database is down"}, Delivery: &domain.Delivery{Location: "https://github.example/o/r/pull/1"}}}
}

// The payload is the documented schema, signed so that the Standard
// Webhooks library verifies it; log text arrives redacted and inert.
func TestSignedVersionedPayload(t *testing.T) {
	r := &receiver{}
	s, _ := sink(t, r, "")
	if _, err := s.Notify(context.Background(), notification(), ""); err != nil {
		t.Fatal(err)
	}
	if len(r.bodies) != 1 || r.verified[0] != nil {
		t.Fatalf("%d deliveries, verification %v", len(r.bodies), r.verified)
	}
	if r.headers[0].Get("webhook-id") != "fp1-opened-1" {
		t.Fatalf("webhook-id %q", r.headers[0].Get("webhook-id"))
	}
	var p Payload
	if err := json.Unmarshal(r.bodies[0], &p); err != nil {
		t.Fatal(err)
	}
	if p.Version != "1" || p.Type != "incident.opened" || p.Incident.ID != "fp1" || p.Incident.Count != 7 || p.RootCause != "the payments database is down" ||
		p.ChangeURL != "https://github.example/o/r/pull/1" || p.Triage == nil || !p.Triage.Actionable {
		t.Fatalf("payload %+v", p)
	}
	sample := p.Incident.Samples[0]
	if strings.Contains(sample, "ghp_1234567890") {
		t.Fatalf("a token left in a payload: %s", sample)
	}
	for _, live := range []string{"@channel", "](https://evil.example)", "@all"} {
		if strings.Contains(sample, live) {
			t.Fatalf("%q is live in %s", live, sample)
		}
	}
	// A tampered body fails verification with the same library.
	wh, _ := standardwebhooks.NewWebhook(secret)
	if wh.Verify(append(r.bodies[0], ' '), r.headers[0]) == nil {
		t.Fatal("a changed body verified")
	}
}

// 429 waits for Retry-After, 5xx backs off and is retried with the same
// id (a receiver can drop a repeat); a 4xx is not retried; after
// max_attempts the error is returned.
func TestRetries(t *testing.T) {
	r := &receiver{statuses: []int{429, 503}}
	s, waits := sink(t, r, "")
	if _, err := s.Notify(context.Background(), notification(), ""); err != nil {
		t.Fatal(err)
	}
	if len(r.bodies) != 3 || len(*waits) != 2 || (*waits)[0] != 2*time.Second {
		t.Fatalf("%d posts, waits %v", len(r.bodies), *waits)
	}
	for _, h := range r.headers {
		if h.Get("webhook-id") != "fp1-opened-1" {
			t.Fatalf("a retry changed the id: %v", h)
		}
	}
	r2 := &receiver{statuses: []int{400}}
	s2, _ := sink(t, r2, "")
	if _, err := s2.Notify(context.Background(), notification(), ""); err == nil || len(r2.bodies) != 1 {
		t.Fatalf("a 400 was retried or accepted: %d posts, %v", len(r2.bodies), err)
	}
	r3 := &receiver{statuses: []int{500, 500, 500, 500, 500}}
	s3, _ := sink(t, r3, "")
	if _, err := s3.Notify(context.Background(), notification(), ""); err == nil || len(r3.bodies) != 4 {
		t.Fatalf("%d posts, %v: want 4 then an error", len(r3.bodies), err)
	}
}

// format: alertmanager sends Alertmanager's webhook payload (version 4):
// firing while open, resolved with endsAt when the episode ends.
func TestAlertmanagerCompatiblePayload(t *testing.T) {
	r := &receiver{}
	s, _ := sink(t, r, "alertmanager")
	n := notification()
	n.Transition = delivery.Resolved
	if _, err := s.Notify(context.Background(), n, ""); err != nil {
		t.Fatal(err)
	}
	var am struct {
		Version string `json:"version"`
		Status  string `json:"status"`
		Alerts  []struct {
			Status      string            `json:"status"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
			EndsAt      time.Time         `json:"endsAt"`
			Fingerprint string            `json:"fingerprint"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal(r.bodies[0], &am); err != nil {
		t.Fatal(err)
	}
	if am.Version != "4" || am.Status != "resolved" || len(am.Alerts) != 1 || am.Alerts[0].Labels["alertname"] != "SREAgentIncident" ||
		am.Alerts[0].Labels["service"] != "checkout" || am.Alerts[0].EndsAt.IsZero() || am.Alerts[0].Fingerprint != "fp1" {
		t.Fatalf("alertmanager payload %s", r.bodies[0])
	}
	if r.verified[0] != nil {
		t.Fatalf("not verified: %v", r.verified[0])
	}
}

func TestConfigRefused(t *testing.T) {
	if _, err := New(Config{}, http.DefaultClient, nil); err == nil {
		t.Fatal("no url accepted")
	}
	if _, err := New(Config{URL: "https://x", Format: "xml"}, http.DefaultClient, nil); err == nil {
		t.Fatal("an unknown format accepted")
	}
	s, _ := New(Config{URL: "https://x", Secret: "env://BAD"}, http.DefaultClient, envSecrets{"env://BAD": "not-a-secret"})
	if _, err := s.Notify(context.Background(), notification(), ""); err == nil || strings.Contains(err.Error(), "not-a-secret") {
		t.Fatalf("a bad secret: %v", err)
	}
}
