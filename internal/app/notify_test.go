package app

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/slack/slacktest"
	"github.com/cloud-sre-agent/sre-agent/internal/doctor"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres/pgtest"
)

// manager is a secret manager holding values by the secret's name; it
// refuses what it does not hold.
type manager map[string]string

func (m manager) Fetch(_ context.Context, ref secrets.Ref) (string, error) {
	for name, v := range m {
		if strings.Contains(ref.Name, "/secrets/"+name+"/") {
			return v, nil
		}
	}
	return "", fmt.Errorf("secret %s: NOT_FOUND", ref.Name)
}

const botToken = "xoxb-1111-2222-GOODBOTTOKEN"

func exampleSecrets() manager {
	return manager{
		"pagerduty-routing-key":  "R0UTINGKEYR0UTINGKEYR0UTINGKEY12",
		"slack-bot-token":        botToken,
		"slack-payments-webhook": "https://hooks.slack.com/services/T000/B000/XXXX",
		"chat-webhook":           "https://chat.googleapis.com/v1/spaces/AAA/messages?key=K&token=T",
		"teams-workflow-url":     "https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=S",
		"webhook-signing-secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	}
}

func secretStore(m manager) *secrets.Store {
	return secrets.New(secrets.Options{Production: true}, map[string]secrets.Backend{secrets.SchemeGCP: m})
}

// examples/notifications.yaml passes doctor: every check of the agent's
// posture, and each receiver's (Slack's token accepted by auth.test with
// chat:write alone, the other credentials resolving, every endpoint https).
func TestNotificationsExamplePassesDoctor(t *testing.T) {
	api := slacktest.New(botToken, "C0123INCIDENTS")
	api.Scopes = "chat:write"
	srv := httptest.NewServer(api)
	defer srv.Close()
	cfg, err := Load("../../examples/notifications.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Notify.Receivers) != 6 {
		t.Fatalf("%d receivers", len(cfg.Notify.Receivers))
	}
	cfg.Notify.Receivers[1].Slack.APIURL = srv.URL + "/api/" // Slack's Web API, served locally
	st := secretStore(exampleSecrets())
	in := doctor.Inputs{Config: cfg, Secrets: st, HTTP: http.DefaultClient, AuditPath: filepath.Join(t.TempDir(), "audit.jsonl"),
		Getenv: func(string) string { return "" }, Geteuid: func() int { return 1000 }}
	checks := append(doctor.Run(context.Background(), in), ReceiverChecks(context.Background(), cfg, st, srv.Client())...)
	receivers := 0
	for _, c := range checks {
		if strings.HasPrefix(c.Name, "notify receiver") {
			receivers++
		}
		if c.Status != doctor.Pass {
			t.Errorf("%s: %s (%s)", c.Name, c.Status, c.Detail)
		}
	}
	if receivers != 6 {
		t.Errorf("%d receivers checked", receivers)
	}
}

// Each receiver's check fails on what would stop it (a refused token, a
// malformed key, a secret that does not resolve, plain http beyond
// loopback, a signing secret of the wrong form) and warns on what works
// but is broader than needed (extra Slack scopes, an unsigned webhook).
func TestReceiverChecksFailAndWarn(t *testing.T) {
	api := slacktest.New(botToken, "C0123INCIDENTS")
	api.Scopes = "chat:write,channels:history"
	srv := httptest.NewServer(api)
	defer srv.Close()
	ref := func(name string) string { return "gcpsm://projects/p/secrets/" + name + "/versions/latest" }
	m := manager{"good-bot": botToken, "bad-bot": "xoxb-0000-0000-REVOKED", "short-key": "abc123", "plain-chat": "http://chat.corp.example/v1/spaces/A/messages",
		"not-whsec": "hunter2"}
	cases := []struct {
		r    config.Receiver
		want doctor.Status
		says string
	}{
		{config.Receiver{Name: "slack-extra", Slack: &config.SlackReceiver{Token: ref("good-bot"), Channel: "C0123INCIDENTS", APIURL: srv.URL + "/api/"}}, doctor.Warn, "channels:history"},
		{config.Receiver{Name: "slack-revoked", Slack: &config.SlackReceiver{Token: ref("bad-bot"), Channel: "C0123INCIDENTS", APIURL: srv.URL + "/api/"}}, doctor.Fail, "invalid_auth"},
		{config.Receiver{Name: "pd-short", PagerDuty: &config.PagerDutyReceiver{RoutingKey: ref("short-key")}}, doctor.Fail, "32 letters"},
		{config.Receiver{Name: "chat-http", GoogleChat: &config.ChatWebhook{WebhookURL: ref("plain-chat")}}, doctor.Fail, "https"},
		{config.Receiver{Name: "teams-missing", Teams: &config.ChatWebhook{WebhookURL: ref("nowhere")}}, doctor.Fail, "NOT_FOUND"},
		{config.Receiver{Name: "hook-bad-secret", Webhook: &config.WebhookReceiver{URL: "https://hooks.example.com/x", Secret: ref("not-whsec")}}, doctor.Fail, "Standard Webhooks"},
		{config.Receiver{Name: "hook-unsigned", Webhook: &config.WebhookReceiver{URL: "https://hooks.example.com/x"}}, doctor.Warn, "unsigned"},
		{config.Receiver{Name: "hook-http", Webhook: &config.WebhookReceiver{URL: "http://hooks.example.com/x"}}, doctor.Fail, "https"},
	}
	cfg := config.Default()
	for _, c := range cases {
		cfg.Notify.Receivers = append(cfg.Notify.Receivers, c.r)
	}
	checks := ReceiverChecks(context.Background(), cfg, secretStore(m), srv.Client())
	if len(checks) != len(cases) {
		t.Fatalf("%d checks", len(checks))
	}
	for i, c := range cases {
		got := checks[i]
		if got.Status != c.want || !strings.Contains(got.Detail, c.says) {
			t.Errorf("%s: %s %q, want %s saying %q", c.r.Name, got.Status, got.Detail, c.want, c.says)
		}
		for _, v := range m {
			if strings.Contains(got.Detail, v) && v != "abc123" {
				t.Errorf("%s: a secret in the detail: %s", c.r.Name, got.Detail)
			}
		}
	}
}

// `notify test` sends one sample to the named receiver, inert, and
// audits it; an unknown name lists the configured ones.
func TestNotifyTestSendsASample(t *testing.T) {
	api := slacktest.New(botToken, "C0123INCIDENTS")
	srv := httptest.NewServer(api)
	defer srv.Close()
	t.Setenv("T_BOT", botToken)
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Store.Path = filepath.Join(dir, "s.db")
	cfg.Notify = config.Notify{Receivers: []config.Receiver{{Name: "team", Slack: &config.SlackReceiver{Token: "env://T_BOT", Channel: "C0123INCIDENTS", APIURL: srv.URL + "/api/"}}},
		Route: config.Route{Receiver: "team"}}
	if err := Check(cfg); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := NotifyTestCLI(context.Background(), cfg, "", "team", &out); err != nil {
		t.Fatal(err)
	}
	posts := api.Posts()
	if len(posts) != 1 || !strings.Contains(out.String(), "sent a test message to team") {
		t.Fatalf("%d posts; %s", len(posts), out.String())
	}
	if !strings.Contains(posts[0].Blocks, "TEST from sre-agent") || strings.Contains(posts[0].Blocks, "<!channel>") {
		t.Fatalf("sample: %s", posts[0].Blocks)
	}
	recs, err := audit.ReadFile(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[audit.Kind]int{}
	for _, r := range recs {
		kinds[r.Kind]++
	}
	if kinds[audit.KindNotification] != 1 || kinds[audit.KindSecretRead] == 0 {
		t.Fatalf("audited %v", kinds)
	}
	err = NotifyTestCLI(context.Background(), cfg, "", "nobody", &out)
	if err == nil || !strings.Contains(err.Error(), "configured: team") {
		t.Fatalf("unknown receiver: %v", err)
	}
}

// With PostgreSQL, `notify test` audits into its own chain there.
func TestNotifyTestAuditsIntoPostgres(t *testing.T) {
	api := slacktest.New(botToken, "C0123INCIDENTS")
	srv := httptest.NewServer(api)
	defer srv.Close()
	t.Setenv("T_BOT", botToken)
	t.Setenv("T_DSN", pgtest.DSN(t))
	cfg := config.Default()
	cfg.Store = config.Store{Type: "postgres", DSN: "env://T_DSN", LeaseTTL: 30 * time.Second}
	cfg.Notify = config.Notify{Receivers: []config.Receiver{{Name: "team", Slack: &config.SlackReceiver{Token: "env://T_BOT", Channel: "C0123INCIDENTS", APIURL: srv.URL + "/api/"}}},
		Route: config.Route{Receiver: "team"}}
	var out bytes.Buffer
	if err := NotifyTestCLI(context.Background(), cfg, "", "team", &out); err != nil {
		t.Fatal(err)
	}
	recs, err := AuditRecords(context.Background(), cfg, Paths{})
	if err != nil {
		t.Fatal(err)
	}
	n := audit.Count(recs, audit.KindNotification, "sent")
	if n != 1 || len(api.Posts()) != 1 {
		t.Fatalf("%d audited, %d posted", n, len(api.Posts()))
	}
}
