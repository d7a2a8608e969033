package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/config"
)

// Each `type` setting names a kind the registries hold, and each kind's
// own check runs: through Load, as every command reads its config.
func TestKindsAreChecked(t *testing.T) {
	for body, want := range map[string]string{
		"sources:\n  - type: file\n":                                 "needs a path",
		"sources:\n  - type: kafka\n":                                "unknown type \"kafka\" (this build has: file, pubsub, stdin, url)",
		"sources:\n  - type: stdin\n    follow: true":                "stdin takes no",
		"sources:\n  - type: pubsub\n":                               "project and subscription",
		"sources:\n  - type: url\n    url: gopher://x\n":             "subscription url scheme",
		"delivery:\n  type: email\n":                                 "unknown type \"email\" (this build has: github, gitlab, local)",
		"delivery:\n  type: github\n":                                "owner, repo and base_branch",
		"delivery:\n  type: gitlab\n":                                "project, base_branch and token",
		"delivery:\n  also: [email]\n":                               "delivery.also[0]: unknown type \"email\"",
		"delivery:\n  also: [local]\n":                               "delivery.also[0]: local is named twice",
		"delivery:\n  also: [github]\n":                              "owner, repo and base_branch",
		"store:\n  type: mysql\n":                                    "want one of postgres, sqlite",
		"store:\n  type: postgres\n":                                 "needs dsn",
		"store:\n  type: sqlite\n  dsn: env://X\n":                   "store.dsn is for type: postgres",
		"store:\n  type: postgres\n  dsn: env://X\n  lease_ttl: 1ms": "lease_ttl",
	} {
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", body, err, want)
		}
	}
	// The defaults and every example check out.
	if _, err := Load(""); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	examples, _ := filepath.Glob("../../examples/*.yaml")
	if len(examples) == 0 {
		t.Fatal("no examples found")
	}
	for _, e := range examples {
		if strings.Contains(e, "insecure") {
			continue
		}
		if _, err := Load(e); err != nil {
			t.Errorf("%s: %v", e, err)
		}
	}
}

// The provider builders and config's provider facts name the same kinds.
func TestProviderKindsMatchTheirFacts(t *testing.T) {
	for name := range config.Providers {
		if _, ok := providerKinds[name]; !ok {
			t.Errorf("provider %s has facts but no builder", name)
		}
	}
	for name := range providerKinds {
		if _, ok := config.Providers[name]; !ok {
			t.Errorf("provider %s has a builder but no facts", name)
		}
	}
}
