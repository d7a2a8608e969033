package teams

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

type refs map[string]string

func (r refs) Get(_ context.Context, ref string) (string, error) { return r[ref], nil }

// workflow is a Teams Workflows webhook: POST of {"type":"message",
// "attachments":[{"contentType":"application/vnd.microsoft.card.adaptive",
// "content":{AdaptiveCard}}]} on the signed URL, 202 Accepted.
type workflow struct {
	statuses []int
	cards    []map[string]any
}

func (w *workflow) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Query().Get("sig") != "S" || r.Header.Get("Content-Type") != "application/json" {
		rw.WriteHeader(http.StatusUnauthorized)
		return
	}
	b, _ := io.ReadAll(r.Body)
	var m struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string         `json:"contentType"`
			Content     map[string]any `json:"content"`
		} `json:"attachments"`
	}
	if json.Unmarshal(b, &m) != nil || m.Type != "message" || len(m.Attachments) != 1 ||
		m.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" || m.Attachments[0].Content["type"] != "AdaptiveCard" {
		rw.WriteHeader(http.StatusBadRequest)
		return
	}
	w.cards = append(w.cards, m.Attachments[0].Content)
	if len(w.statuses) > 0 {
		st := w.statuses[0]
		w.statuses = w.statuses[1:]
		if st == http.StatusTooManyRequests {
			rw.Header().Set("Retry-After", "2")
		}
		rw.WriteHeader(st)
		return
	}
	rw.WriteHeader(http.StatusAccepted)
}

func sink(t *testing.T, w *workflow) (*Sink, *[]time.Duration) {
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	s, err := New(Config{WebhookURL: "env://TEAMS"}, srv.Client(), refs{"env://TEAMS": srv.URL + "/workflows/x/triggers/manual/paths/invoke?sig=S"})
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	s.sender.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	return s, &waits
}

func note(tr delivery.Transition) delivery.Notification {
	return delivery.Notification{Transition: tr, DashboardURL: "https://sre.example/incidents/fp1",
		Incident: domain.Incident{Fingerprint: "fp1234567890", Service: "checkout", Severity: domain.Error, Count: 4,
			Templates: []domain.Template{{Text: "refund failed <at>All</at> [docs](https://evil.example) api_key=sk_live_abcdefghijklmnop1234"}}},
		Run: &domain.Run{Analysis: &domain.Analysis{RootCause: "the refunds queue is full"}, Delivery: &domain.Delivery{Location: "https://github.example/o/r/pull/9"}}}
}

// Each change is an Adaptive Card with the facts and links; the webhook
// cannot update, and the card says so; text from logs has no live
// mention or link, and no secret.
func TestAdaptiveCard(t *testing.T) {
	w := &workflow{}
	s, _ := sink(t, w)
	for _, tr := range []delivery.Transition{delivery.Opened, delivery.Resolved} {
		if _, err := s.Notify(context.Background(), note(tr), ""); err != nil {
			t.Fatal(err)
		}
	}
	if len(w.cards) != 2 {
		t.Fatalf("%d cards", len(w.cards))
	}
	b, _ := json.Marshal(w.cards)
	all := string(b)
	for _, want := range []string{"Incident opened", "Incident resolved", "checkout", "Root cause: the refunds queue is full", "https://github.example/o/r/pull/9", "cannot update"} {
		if !strings.Contains(all, want) {
			t.Fatalf("cards lack %q: %s", want, all)
		}
	}
	for _, live := range []string{"<at>All</at>", "](https://evil.example)", "sk_live_abcdefghijklmnop1234"} {
		if strings.Contains(all, live) {
			t.Fatalf("%q arrived live: %s", live, all)
		}
	}
}

// 429 waits for Retry-After; an error never shows the signed URL.
func TestRetriesAndTheURLStaysSecret(t *testing.T) {
	w := &workflow{statuses: []int{429}}
	s, waits := sink(t, w)
	if _, err := s.Notify(context.Background(), note(delivery.Opened), ""); err != nil || len(*waits) != 1 || (*waits)[0] != 2*time.Second {
		t.Fatalf("err %v waits %v", err, *waits)
	}
	down := &workflow{statuses: []int{503, 503, 503, 503}}
	s2, _ := sink(t, down)
	if _, err := s2.Notify(context.Background(), note(delivery.Opened), ""); err == nil || strings.Contains(err.Error(), "sig=S") {
		t.Fatalf("error %v", err)
	}
	bad, _ := New(Config{WebhookURL: "env://TEAMS"}, http.DefaultClient, refs{"env://TEAMS": "http://teams.example/x?sig=S"})
	if _, err := bad.Notify(context.Background(), note(delivery.Opened), ""); err == nil || strings.Contains(err.Error(), "sig=S") {
		t.Fatalf("plain http: %v", err)
	}
}
