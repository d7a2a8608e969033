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
