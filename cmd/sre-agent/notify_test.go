package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/slack/slacktest"
)

// sink is an endpoint that keeps every request's body and headers, and
// answers as the service would.
type sink struct {
	mu      sync.Mutex
	bodies  []string
	headers []http.Header
	queries []string
	// answer is the service's status and body for a request; only what
	// it accepts is kept, and kept before the answer is written.
	answer func(r *http.Request, body []byte) (int, string)
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	status, answer := s.answer(r, b)
	if status < 300 {
		s.mu.Lock()
		s.bodies = append(s.bodies, string(b))
		s.headers = append(s.headers, r.Header.Clone())
		s.queries = append(s.queries, r.URL.RawQuery)
		s.mu.Unlock()
	}
	w.WriteHeader(status)
	io.WriteString(w, answer)
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bodies)
}

const (
	slackToken = "xoxb-2222-3333-e2eSLACKTOKEN"
	hookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	pdKey      = "R0UTINGKEYR0UTINGKEYR0UTINGKEY12"
)

// An end-to-end `run` over the sample log with every kind of receiver:
// each receiver gets one conversation per incident; a second run (a
// restart) over the grown log tells only what changed (the episodes
// resolving) in the same conversations; a third tells nothing. No secret
// and no live mention, link or markup from the log reaches any of them;
// every message is audited and shown by `incidents show`.
func TestNotificationsEndToEnd(t *testing.T) {
	slackAPI := slacktest.New(slackToken, "C0INCIDENTS")
	slackSrv := httptest.NewServer(slackAPI)
	defer slackSrv.Close()
	pd := &sink{answer: func(r *http.Request, b []byte) (int, string) {
		var m map[string]any
		if json.Unmarshal(b, &m) != nil || m["routing_key"] != pdKey || r.URL.Path != "/v2/enqueue" {
			return http.StatusBadRequest, `{"status":"invalid event"}`
		}
		return http.StatusAccepted, fmt.Sprintf(`{"status":"success","message":"Event processed","dedup_key":%q}`, m["dedup_key"])
	}}
	chat := &sink{answer: func(r *http.Request, _ []byte) (int, string) {
		q := r.URL.Query()
		if q.Get("key") != "K" || q.Get("token") != "T" || q.Get("threadKey") == "" {
			return http.StatusForbidden, ""
		}
		return http.StatusOK, fmt.Sprintf(`{"name":"spaces/AAA/messages/1","thread":{"name":"spaces/AAA/threads/%s"}}`, q.Get("threadKey"))
	}}
	teams := &sink{answer: func(r *http.Request, _ []byte) (int, string) {
		if r.URL.Query().Get("sig") != "SIGNATURE" {
			return http.StatusUnauthorized, ""
		}
		return http.StatusAccepted, ""
	}}
	wh, _ := standardwebhooks.NewWebhook(hookSecret)
	hook := &sink{answer: func(r *http.Request, b []byte) (int, string) {
		if err := wh.Verify(b, r.Header); err != nil {
			return http.StatusUnauthorized, ""
		}
		return http.StatusNoContent, ""
	}}
	var srvs []*httptest.Server
	for _, h := range []http.Handler{pd, chat, teams, hook} {
		s := httptest.NewServer(h)
		defer s.Close()
		srvs = append(srvs, s)
	}
	t.Setenv("T_SLACK_TOKEN", slackToken)
	t.Setenv("T_PD_KEY", pdKey)
	t.Setenv("T_CHAT_URL", srvs[1].URL+"/v1/spaces/AAA/messages?key=K&token=T")
	t.Setenv("T_TEAMS_URL", srvs[2].URL+"/workflows/abc/triggers/manual/paths/invoke?sig=SIGNATURE")
	t.Setenv("T_HOOK_SECRET", hookSecret)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`http: {addr: ""}
delivery: {local: {dir: %s}}
notify:
  dashboard_url: https://sre.example.com/
  receivers:
    - name: oncall
      pagerduty: {routing_key: env://T_PD_KEY, url: %s/v2/enqueue}
    - name: team-slack
      slack: {token: env://T_SLACK_TOKEN, channel: C0INCIDENTS, api_url: %s/api/}
    - name: gchat
      googlechat: {webhook_url: env://T_CHAT_URL}
    - name: teams
      teams: {webhook_url: env://T_TEAMS_URL}
    - name: hook
      webhook: {url: %s/hook, secret: env://T_HOOK_SECRET}
  route:
    receiver: team-slack
    routes:
      - {receiver: oncall, match: {severities: [critical]}, continue: true}
      - {receiver: hook, continue: true}
      - {receiver: gchat, continue: true}
      - {receiver: teams, continue: true}
      - {receiver: team-slack}
`, filepath.Join(dir, "reports"), srvs[0].URL, slackSrv.URL, srvs[3].URL)), 0o600)

	sample, err := os.ReadFile(sampleLog)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "logs", "checkout.log")
	os.MkdirAll(filepath.Dir(logPath), 0o700)
	hostile := "2026-11-20T09:01:40.000Z ERROR refund failed <!channel> <@U024BE7LH> see <https://evil.example|click> *now* @here\n"
	os.WriteFile(logPath, append(sample, hostile...), 0o600)
	db := filepath.Join(dir, "s.db")
	run := []string{"--config", cfg, "run", "--db", db, logPath}

	binary(t, run...)
	parents := map[string]string{} // fingerprint -> ts
	for _, m := range slackAPI.Posts() {
		if m.ThreadTS != "" {
			continue
		}
		fp := slackFingerprint(t, m.Metadata)
		if _, twice := parents[fp]; twice {
			t.Fatalf("two Slack conversations for incident %s", fp)
		}
		parents[fp] = m.TS
	}
	if len(parents) < 5 {
		t.Fatalf("%d incidents told in Slack", len(parents))
	}
	first := map[*sink]int{pd: pd.count(), chat: chat.count(), teams: teams.count(), hook: hook.count()}
	if first[pd] == 0 || first[chat] < len(parents) || first[teams] < len(parents) || first[hook] < len(parents) {
		t.Fatalf("first run told pager %d, chat %d, teams %d, webhook %d about %d incidents", first[pd], first[chat], first[teams], first[hook], len(parents))
	}

	// The log grows: eight quiet minutes, so every episode resolves. The
	// agent restarts and reads it.
	f, _ := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	at := time.Date(2026, 11, 20, 9, 2, 0, 0, time.UTC)
	for i := range 160 {
		fmt.Fprintf(f, "%s INFO request handled path=/cart/%d status=200 duration_ms=21\n", at.Add(time.Duration(i)*3*time.Second).Format("2006-01-02T15:04:05.000Z"), 9000+i)
	}
	f.Close()
	updatesBefore, postsBefore := slackAPI.Updates(), len(slackAPI.Posts())
	binary(t, run...)
	resolvedReplies := 0
	for _, m := range slackAPI.Posts()[postsBefore:] {
		if m.ThreadTS == "" {
			t.Fatalf("the restart started a new Slack conversation: %s", m.Text)
		}
		if strings.HasPrefix(m.Text, "*Resolved*") {
			resolvedReplies++
		}
	}
	if resolvedReplies == 0 || slackAPI.Updates() <= updatesBefore {
		t.Fatalf("no resolution told in Slack (%d replies, %d updates)", resolvedReplies, slackAPI.Updates()-updatesBefore)
	}
	if n := len(slackAPI.Posts()) - postsBefore; n != resolvedReplies {
		t.Fatalf("the restart told Slack %d things, %d of them resolutions: something was told twice", n, resolvedReplies)
	}
	// PagerDuty: each critical incident triggered under its fingerprint,
	// then resolved under the same key.
	actions := map[string][]string{}
	for _, b := range pd.bodies {
		var ev map[string]any
		json.Unmarshal([]byte(b), &ev)
		actions[ev["dedup_key"].(string)] = append(actions[ev["dedup_key"].(string)], ev["event_action"].(string))
	}
	for key, acts := range actions {
		if _, ok := parents[key]; !ok {
			t.Fatalf("PagerDuty dedup_key %s is no incident's fingerprint", key)
		}
		if acts[0] != "trigger" || acts[len(acts)-1] != "resolve" || strings.Count(strings.Join(acts, " "), "resolve") != 1 {
			t.Fatalf("PagerDuty events for %s: %v", key, acts)
		}
	}
	// Chat replies in the threads the first run opened.
	keys := map[string]bool{}
	for i, q := range chat.queries {
		k := strings.SplitN(strings.SplitN(q, "threadKey=", 2)[1], "&", 2)[0]
		if i < first[chat] {
			keys[k] = true
		} else if !keys[k] {
			t.Fatalf("a chat thread the first run did not open: %s", k)
		}
	}
	// The webhook: each message signed and told once (ids unique).
	ids := map[string]bool{}
	resolvedEvents := 0
	for i, h := range hook.headers {
		id := h.Get("webhook-id")
		if ids[id] {
			t.Fatalf("webhook-id %s twice", id)
		}
		ids[id] = true
		if strings.Contains(hook.bodies[i], `"type":"incident.resolved"`) {
			resolvedEvents++
		}
	}
	if resolvedEvents != resolvedReplies {
		t.Fatalf("%d resolutions by webhook, %d in Slack", resolvedEvents, resolvedReplies)
	}

	// A third run over the same log tells nothing.
	counts := func() string {
		return fmt.Sprintf("slack %d/%d pd %d chat %d teams %d hook %d", len(slackAPI.Posts()), slackAPI.Updates(), pd.count(), chat.count(), teams.count(), hook.count())
	}
	before := counts()
	binary(t, run...)
	if after := counts(); after != before {
		t.Fatalf("a run with nothing new told: %s, then %s", before, after)
	}

	// Nothing secret or live reached any receiver.
	var all strings.Builder
	for _, m := range slackAPI.Posts() {
		now, _ := slackAPI.Get(m.TS)
		all.WriteString(m.Text + m.Blocks + now.Blocks)
	}
	for _, s := range []*sink{chat, teams, hook} {
		all.WriteString(strings.Join(s.bodies, "\n"))
	}
	// PagerDuty's events carry its routing key, as the API requires.
	all.WriteString(strings.ReplaceAll(strings.Join(pd.bodies, "\n"), `"routing_key":"`+pdKey+`"`, ""))
	for _, leak := range []string{"ghp_1234567890abcdef", "jane.doe@example.com", slackToken, pdKey, "SIGNATURE", "<!channel>", "<@U024BE7LH>", "<https://evil.example", "https://evil.example", "*now*"} {
		if strings.Contains(all.String(), leak) {
			t.Errorf("%q reached a receiver", leak)
		}
	}
	if !strings.Contains(all.String(), "https://sre.example.com/incidents/") {
		t.Error("no dashboard link")
	}

	// Audited, and shown.
	recs, err := audit.ReadFile(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	sent := audit.Count(recs, audit.KindNotification, "sent")
	total := len(slackAPI.Posts()) + pd.count() + chat.count() + teams.count() + hook.count()
	if sent != total {
		t.Errorf("%d notifications audited, %d sent", sent, total)
	}
	var fp string
	for k := range actions {
		fp = k
	}
	var shown struct {
		Routes []struct {
			Receiver string `json:"receiver"`
		} `json:"routes"`
		Conversations []struct {
			Receiver string `json:"receiver"`
			Sent     int    `json:"sent"`
			Last     string `json:"last"`
		} `json:"conversations"`
	}
	out := binary(t, "--config", cfg, "incidents", "show", fp, "--db", db, "--json")
	if err := json.Unmarshal(out, &shown); err != nil {
		t.Fatal(err)
	}
	if len(shown.Routes) != 5 || len(shown.Conversations) != 5 {
		t.Fatalf("a critical incident's routes %+v, conversations %+v", shown.Routes, shown.Conversations)
	}
	for _, c := range shown.Conversations {
		if c.Last != "resolved" || c.Sent < 2 {
			t.Errorf("conversation %+v", c)
		}
	}
	text := string(binary(t, "--config", cfg, "incidents", "show", fp, "--db", db))
	if !strings.Contains(text, "route:       oncall by route.routes[0]") || !strings.Contains(text, "told:        team-slack:") {
		t.Errorf("incidents show:\n%s", text)
	}
}

func slackFingerprint(t *testing.T, metadata string) string {
	var m struct {
		EventPayload map[string]string `json:"event_payload"`
	}
	if err := json.Unmarshal([]byte(metadata), &m); err != nil || m.EventPayload["fingerprint"] == "" {
		t.Fatalf("slack metadata %q: %v", metadata, err)
	}
	return m.EventPayload["fingerprint"]
}
