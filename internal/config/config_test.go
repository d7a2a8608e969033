package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name, body, wantErr string
		check               func(Config) bool
	}{
		{"empty keeps defaults", "", "", func(c Config) bool { return c.Detect.Window == time.Minute && c.Redact.IPv4 }},
		{"override", "detect:\n  window: 5m\n  burst_count: 3\nredact:\n  ipv4: false\n", "", func(c Config) bool {
			return c.Detect.Window == 5*time.Minute && c.Detect.BurstCount == 3 && !c.Redact.IPv4 && c.Redact.Email
		}},
		{"misspelt key", "detect:\n  windw: 5m\n", "windw", nil},
		{"out of range", "template:\n  similarity: 2\n", "template.similarity", nil},
		{"not yaml", "detect: [", "parse config", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(writeConfig(t, tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("loaded %+v", c)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("missing file accepted")
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
}

func TestExampleConfigLoads(t *testing.T) {
	c, err := Load("../../examples/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Sources) != 1 || !c.Sources[0].Follow || c.Delivery.Local.Dir != "out" || c.Pipeline.ReopenAfter != 6*time.Hour {
		t.Fatalf("example config: %+v", c)
	}
	d := Default()
	d.Sources = c.Sources
	if c.Pipeline != d.Pipeline || c.HTTP != d.HTTP || c.Tracing != d.Tracing || c.FlushEvery != d.FlushEvery || c.Policy.MaxFiles != d.Policy.MaxFiles {
		t.Fatal("the example's values drifted from the defaults it claims")
	}
}

func TestDaemonSettingsValidate(t *testing.T) {
	for body, want := range map[string]string{
		"provider:\n  name: magic\n":                "unknown provider",
		"tracing:\n  exporter: otlp\n":              "needs an endpoint",
		"log:\n  level: chatty\n":                   "unknown level",
		"pipeline:\n  token_budget: {triage: 10}\n": "token_budget.triage",
		"policy:\n  deny: ['[']\n":                  "bad path pattern",
		"flush_every: 0s\n":                         "flush_every",
	} {
		if _, err := Load(writeConfig(t, body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", body, err, want)
		}
	}
}

func TestPubSubExampleConfigLoads(t *testing.T) {
	c, err := Load("../../examples/pubsub.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Sources[0]
	if s.Type != "pubsub" || s.PubSub.SubscriptionName() != "projects/my-project/subscriptions/sre-agent-logs" || s.DecodeFor().Format != "logentry" {
		t.Fatalf("pubsub example: %+v", s)
	}
}

func TestPlaintextSecretsAreRefused(t *testing.T) {
	for body, want := range map[string]string{
		"github:\n  token: ghp_abcdefghijklmnopqrstuvwxyz0123456789\n":               "github.token holds a plaintext credential",
		"github:\n  token: hunter2hunter2\n":                                         "github.token holds a plaintext credential",
		"sources:\n  - type: url\n    url: nats://x?password=AKIAIOSFODNN7EXAMPLE\n": "looks like",
		"github:\n  token: env://GITHUB_TOKEN\n":                                     "",
		"github:\n  token: gcpsm://projects/p/secrets/gh\n":                          "",
	} {
		_, err := Load(writeConfig(t, body))
		if want == "" {
			if err != nil {
				t.Errorf("%q: %v", body, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", body, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error repeats the secret: %v", err)
		}
	}
}

func TestEveryExampleLoads(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) < 4 {
		t.Fatalf("found %d example configs", len(files))
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// Every key can be set from the environment, the variable's value read as
// YAML into the key; a bad value names its variable; the environment wins
// over the file.
func TestEnvOverrides(t *testing.T) {
	env := map[string]string{
		"SRE_AGENT_DETECT_QUIET":         "10m",
		"SRE_AGENT_LOG_LEVEL":            "debug",
		"SRE_AGENT_EGRESS_ALLOW_HOSTS":   "[api.github.com, '*.googleapis.com']",
		"SRE_AGENT_PROVIDER_MAX_RETRIES": "5",
		"SRE_AGENT_REDACT_IPV4":          "false",
		"SRE_AGENT_STORE_TYPE":           "postgres",
		"SRE_AGENT_REPLICA":              "not a key: ignored",
	}
	cfg := Default()
	if err := ApplyEnv(&cfg, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if cfg.Detect.Quiet != 10*time.Minute || cfg.Log.Level != "debug" || len(cfg.Egress.AllowHosts) != 2 || cfg.Provider.MaxRetries != 5 ||
		cfg.Redact.IPv4 || cfg.Store.Type != "postgres" {
		t.Fatalf("overrides not applied: %+v %+v %+v", cfg.Detect.Quiet, cfg.Egress, cfg.Redact)
	}
	bad := Default()
	err := ApplyEnv(&bad, func(k string) (string, bool) { return "soon", k == "SRE_AGENT_DETECT_QUIET" })
	if err == nil || !strings.Contains(err.Error(), "SRE_AGENT_DETECT_QUIET") {
		t.Fatalf("bad value: %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	os.WriteFile(path, []byte("log: {level: warn}\ndetect: {quiet: 7m}\n"), 0o600)
	t.Setenv("SRE_AGENT_LOG_LEVEL", "error")
	got, err := Load(path)
	if err != nil || got.Log.Level != "error" || got.Detect.Quiet != 7*time.Minute {
		t.Fatalf("file then environment: %v %v %v", got.Log.Level, got.Detect.Quiet, err)
	}
	// A credential from the environment must be a reference too.
	t.Setenv("SRE_AGENT_GITHUB_TOKEN", "ghp_plaintexttokenvalue1234567890abcd")
	if _, err := Load(path); err == nil {
		t.Fatal("a plaintext token from the environment was accepted")
	}
}

// Without --config, the user's file under $XDG_CONFIG_HOME is read.
func TestDefaultFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	if p := DefaultPath(); p != filepath.Join(dir, "sre-agent", "config.yaml") {
		t.Fatalf("default path %s", p)
	}
	if cfg, err := Load(""); err != nil || cfg.Log.Level != "info" {
		t.Fatalf("no file: %v %v", cfg.Log.Level, err)
	}
	os.MkdirAll(filepath.Join(dir, "sre-agent"), 0o700)
	os.WriteFile(filepath.Join(dir, "sre-agent", "config.yaml"), []byte("log: {level: warn}\n"), 0o600)
	if cfg, err := Load(""); err != nil || cfg.Log.Level != "warn" {
		t.Fatalf("the default file was not read: %v %v", cfg.Log.Level, err)
	}
}
