package doctor

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
)

// github serves /user, answering like GitHub for each token.
func github(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") {
		case "github_pat_finegrained":
		case "ghp_classicnarrow":
			w.Header().Set("X-OAuth-Scopes", "repo")
		case "ghp_classicbroad":
			w.Header().Set("X-OAuth-Scopes", "repo, admin:org, delete_repo, workflow")
		default:
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"login":"sre-agent-bot"}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func find(cs []Check, prefix string) Check {
	for _, c := range cs {
		if strings.HasPrefix(c.Name, prefix) {
			return c
		}
	}
	return Check{}
}

func inputs(t *testing.T, cfg config.Config, env map[string]string) Inputs {
	return Inputs{Config: cfg, Secrets: secrets.New(secrets.Options{AllowEnv: true}, nil), HTTP: http.DefaultClient,
		Getenv: func(k string) string { return env[k] }, Geteuid: func() int { return 1000 }}
}

func TestGitHubToken(t *testing.T) {
	gh := github(t)
	for tok, want := range map[string]Status{"github_pat_finegrained": Pass, "ghp_classicnarrow": Warn, "ghp_classicbroad": Fail, "unknown-token-xyz": Fail} {
		t.Setenv("SRE_DOCTOR_TOKEN", tok)
		cfg := config.Default()
		cfg.GitHub = config.GitHub{Token: "env://SRE_DOCTOR_TOKEN", BaseURL: gh.URL}
		c := find(Run(context.Background(), inputs(t, cfg, nil)), "GitHub token")
		if c.Status != want {
			t.Errorf("%s: %s (%s), want %s", tok, c.Status, c.Detail, want)
		}
		if strings.Contains(c.Detail, tok) {
			t.Errorf("%s: the detail shows the token", tok)
		}
	}
}

func TestEachCheckPassesAndFails(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	good := config.Default()
	good.Mode = "production"
	good.Egress.AllowHosts = []string{"api.github.com"}
	cfgPath := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfgPath, []byte("mode: production\n"), 0o600)
	auditPath := filepath.Join(dir, "audit.jsonl")
	l, _ := audit.Open(auditPath, "t")
	l.Append(ctx, audit.Record{Kind: audit.KindStart})
	l.Close()
	in := inputs(t, good, nil)
	in.ConfigPath, in.AuditPath = cfgPath, auditPath
	for _, c := range Run(ctx, in) {
		if c.Status != Pass {
			t.Errorf("good setup: %s: %s (%s)", c.Name, c.Status, c.Detail)
		}
	}

	// Now break each thing.
	bad := good
	bad.GitHub.Token = "env://GITHUB_TOKEN"
	bad.Tracing.Endpoint = "http://collector.example:4318/v1/traces"
	bad.Egress.AllowHosts = nil
	bad.Provider.Name = "gemini"
	bad.HTTP.Addr = "0.0.0.0:9469"
	os.Chmod(cfgPath, 0o666)
	keyFile := filepath.Join(dir, "sa.json")
	os.WriteFile(keyFile, []byte(`{"type":"service_account","private_key":"x"}`), 0o644)
	b, _ := os.ReadFile(auditPath)
	os.WriteFile(auditPath, []byte(strings.Replace(string(b), `"agent_start"`, `"agent_stop"`, 1)), 0o600)
	in = inputs(t, bad, map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": keyFile})
	in.ConfigPath, in.AuditPath = cfgPath, auditPath
	in.Geteuid = func() int { return 0 }
	got := Run(ctx, in)
	want := map[string]Status{
		"secrets are references":     Fail,
		"config file permissions":    Fail,
		"model providers":            Warn,
		"endpoints use TLS":          Fail,
		"cloud identity is ambient":  Fail,
		"egress allowlist":           Warn,
		"audit log chain intact":     Fail,
		"not running as root":        Warn,
		"dashboard and MCP endpoint": Fail,
	}
	for prefix, st := range want {
		if c := find(got, prefix); c.Status != st {
			t.Errorf("bad setup: %s: %s (%s), want %s", prefix, c.Status, c.Detail, st)
		}
	}
	if !Failed(got) {
		t.Fatal("a bad setup did not fail")
	}
	// The key file with a private mode is only a warning.
	os.Chmod(keyFile, 0o600)
	if c := find(Run(ctx, in), "cloud identity"); c.Status != Warn {
		t.Errorf("private key file: %s", c.Status)
	}
}

type fakeManager struct{ value string }

func (f fakeManager) Fetch(context.Context, secrets.Ref) (string, error) { return f.value, nil }

func TestExampleConfigs(t *testing.T) {
	gh := github(t)
	cfg, err := config.Load("../../examples/production.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.GitHub.BaseURL = gh.URL // GitHub's /user, served locally
	in := Inputs{Config: cfg, Secrets: secrets.New(secrets.Options{Production: true},
		map[string]secrets.Backend{secrets.SchemeGCP: fakeManager{"github_pat_finegrained"}}),
		HTTP: http.DefaultClient, Getenv: func(string) string { return "" }, Geteuid: func() int { return 1000 }}
	for _, c := range Run(context.Background(), in) {
		if c.Status != Pass {
			t.Errorf("production example: %s: %s (%s)", c.Name, c.Status, c.Detail)
		}
	}
	bad, err := config.Load("../../examples/insecure.yaml")
	if err != nil {
		t.Fatal(err)
	}
	in.Config = bad
	got := Run(context.Background(), in)
	for _, prefix := range []string{"secrets are references", "endpoints use TLS", "GitHub token"} {
		if c := find(got, prefix); c.Status != Fail {
			t.Errorf("insecure example: %s: %s (%s)", prefix, c.Status, c.Detail)
		}
	}
	if c := find(got, "egress allowlist"); c.Status != Warn {
		t.Errorf("insecure example: egress %s", c.Status)
	}
}

// Plain http to any remote endpoint the config names fails, a model's
// and a delivery target's included.
func TestEveryEndpointIsChecked(t *testing.T) {
	for field, set := range map[string]func(*config.Config){
		"delivery.github.base_url":    func(c *config.Config) { c.Delivery.GitHub.BaseURL = "http://github.corp.example/api/v3/" },
		"delivery.gitlab.base_url":    func(c *config.Config) { c.Delivery.GitLab.BaseURL = "http://gitlab.corp.example/api/v4" },
		"provider.openai.base_url":    func(c *config.Config) { c.Provider.OpenAI.BaseURL = "http://llm.corp.example/v1" },
		"provider.ollama.base_url":    func(c *config.Config) { c.Provider.Ollama.BaseURL = "http://gpu-box.corp.example:11434" },
		"provider.gemini.base_url":    func(c *config.Config) { c.Provider.Gemini.BaseURL = "http://vertex.corp.example" },
		"provider.anthropic.base_url": func(c *config.Config) { c.Provider.Anthropic.BaseURL = "http://claude.corp.example" },
		"notify.receivers[0].webhook.url": func(c *config.Config) {
			c.Notify.Receivers = []config.Receiver{{Name: "h", Webhook: &config.WebhookReceiver{URL: "http://hooks.corp.example/in"}}}
		},
		"notify.receivers[0].pagerduty.url": func(c *config.Config) {
			c.Notify.Receivers = []config.Receiver{{Name: "p", PagerDuty: &config.PagerDutyReceiver{URL: "http://pd-proxy.corp.example/v2/enqueue"}}}
		},
		"notify.receivers[0].slack.api_url": func(c *config.Config) {
			c.Notify.Receivers = []config.Receiver{{Name: "s", Slack: &config.SlackReceiver{APIURL: "http://slack-proxy.corp.example/api/"}}}
		},
	} {
		cfg := config.Default()
		set(&cfg)
		c := find(Run(context.Background(), inputs(t, cfg, nil)), "endpoints use TLS")
		if c.Status != Fail || !strings.Contains(c.Detail, field) {
			t.Errorf("%s: %+v", field, c)
		}
	}
	cfg := config.Default()
	cfg.Provider.Ollama.BaseURL = "http://127.0.0.1:11434"
	if c := find(Run(context.Background(), inputs(t, cfg, nil)), "endpoints use TLS"); c.Status != Pass {
		t.Errorf("loopback: %+v", c)
	}
}

// The provider facts are one table: Ollama is self-hosted, not a third
// party; a third-party fallback behind the offline primary is reported.
func TestProvidersFromOneTable(t *testing.T) {
	cfg := config.Default()
	cfg.Provider.Name, cfg.Provider.Ollama.BaseURL = "ollama", "http://127.0.0.1:11434"
	if c := find(Run(context.Background(), inputs(t, cfg, nil)), "model providers"); c.Status != Pass || !strings.Contains(c.Detail, "self-hosted") {
		t.Errorf("ollama: %+v", c)
	}
	cfg = config.Default()
	cfg.Provider.Fallbacks, cfg.Provider.AllowThirdParty = []string{"gemini"}, true
	if c := find(Run(context.Background(), inputs(t, cfg, nil)), "model providers"); c.Status != Warn || !strings.Contains(c.Detail, "gemini (fallback)") {
		t.Errorf("offline with a gemini fallback: %+v", c)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg.Provider.Name, cfg.Provider.Fallbacks, cfg.Provider.AllowThirdParty = "ollama", nil, false
	if err := cfg.Validate(); err != nil {
		t.Fatalf("ollama needs no third-party consent: %v", err)
	}
}

func TestSecretFilesArePrivate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "token")
	os.WriteFile(p, []byte("x"), 0o644)
	cfg := config.Default()
	cfg.Delivery.GitHub.Token = "file://" + p
	if c := find(Run(context.Background(), inputs(t, cfg, nil)), "secret files"); c.Status != Fail || !strings.Contains(c.Detail, "delivery.github.token") {
		t.Errorf("%+v", c)
	}
	os.Chmod(p, 0o600)
	if c := find(Run(context.Background(), inputs(t, cfg, nil)), "secret files"); c.Status != Pass {
		t.Errorf("%+v", c)
	}
}
