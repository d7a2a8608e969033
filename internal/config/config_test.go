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
