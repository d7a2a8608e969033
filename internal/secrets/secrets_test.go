package secrets

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
)

type counting struct {
	values []string
	calls  int
}

func (c *counting) Fetch(context.Context, Ref) (string, error) {
	v := c.values[min(c.calls, len(c.values)-1)]
	c.calls++
	return v, nil
}

func TestParse(t *testing.T) {
	good := map[string]Ref{
		"gcpsm://projects/p/secrets/s/versions/3": {Scheme: SchemeGCP, Name: "projects/p/secrets/s/versions/3"},
		"gcpsm://projects/p/secrets/s":            {Scheme: SchemeGCP, Name: "projects/p/secrets/s/versions/latest"},
		"awssm://eu-west-1/prod/github#token":     {Scheme: SchemeAWS, Region: "eu-west-1", Name: "prod/github", JSONKey: "token"},
		"azkv://myvault/gh-token":                 {Scheme: SchemeAzure, Vault: "myvault", Name: "gh-token"},
		"azkv://myvault/gh-token/abc123":          {Scheme: SchemeAzure, Vault: "myvault", Name: "gh-token", Version: "abc123"},
		"file:///var/run/secrets/token":           {Scheme: SchemeFile, Name: "/var/run/secrets/token"},
		"env://GITHUB_TOKEN":                      {Scheme: SchemeEnv, Name: "GITHUB_TOKEN"},
	}
	for raw, want := range good {
		got, err := Parse(raw)
		want.Raw = raw
		if err != nil || got != want {
			t.Errorf("%s: %+v %v", raw, got, err)
		}
	}
	for _, bad := range []string{"ghp_abc", "gcpsm://secrets/s", "awssm:///name", "azkv://vault", "file://relative/x", "env://", "vault://x/y"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if d := Describe("ghp_supersecret"); strings.Contains(d, "supersecret") {
		t.Fatalf("Describe showed the value: %s", d)
	}
}

func TestTTLRotationAndInvalidate(t *testing.T) {
	b := &counting{values: []string{"v1", "v2", "v3"}}
	var loaded []string
	path := filepath.Join(t.TempDir(), "a.jsonl")
	aud, _ := audit.Open(path, "t")
	defer aud.Close()
	s := New(Options{TTL: time.Minute, Audit: aud, OnLoad: func(v string) { loaded = append(loaded, v) }}, map[string]Backend{SchemeGCP: b})
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	ref := "gcpsm://projects/p/secrets/s/versions/latest"
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if v, _ := s.Get(ctx, ref); v != "v1" {
			t.Fatalf("cached read %d: %s", i, v)
		}
	}
	if b.calls != 1 {
		t.Fatalf("%d fetches within the TTL", b.calls)
	}
	now = now.Add(2 * time.Minute) // rotated upstream, TTL passed
	if v, _ := s.Get(ctx, ref); v != "v2" {
		t.Fatalf("after the TTL: %s", v)
	}
	s.Invalidate(ref) // the service answered 401
	if v, _ := s.Get(ctx, ref); v != "v3" {
		t.Fatalf("after a 401: %s", v)
	}
	if strings.Join(loaded, ",") != "v1,v2,v3" {
		t.Fatalf("values registered for masking: %v", loaded)
	}
	logb, _ := os.ReadFile(path)
	if strings.Count(string(logb), `"kind":"secret_read"`) != 3 || strings.Contains(string(logb), "v1") && strings.Contains(string(logb), `"v1"`) {
		t.Fatalf("audit: %s", logb)
	}
	if _, err := audit.VerifyFile(path); err != nil {
		t.Fatal(err)
	}
}

func TestEnvRefusedInProduction(t *testing.T) {
	t.Setenv("SRE_TEST_TOKEN", "dev-token-value")
	ctx := context.Background()
	warned := false
	dev := New(Options{Warn: func(string, string) { warned = true }}, nil)
	if v, err := dev.Get(ctx, "env://SRE_TEST_TOKEN"); err != nil || v != "dev-token-value" || !warned {
		t.Fatalf("development: %q %v warned=%v", v, err, warned)
	}
	prod := New(Options{Production: true}, nil)
	if _, err := prod.Get(ctx, "env://SRE_TEST_TOKEN"); !errors.Is(err, ErrEnvInProduction) {
		t.Fatalf("production env secret: %v", err)
	}
	allowed := New(Options{Production: true, AllowEnv: true}, nil)
	if _, err := allowed.Get(ctx, "env://SRE_TEST_TOKEN"); err != nil {
		t.Fatalf("explicitly allowed: %v", err)
	}
}

func TestFileSecret(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	os.WriteFile(p, []byte("mounted-value\n"), 0o600)
	v, err := New(Options{}, nil).Get(context.Background(), "file://"+p)
	if err != nil || v != "mounted-value" {
		t.Fatalf("%q %v", v, err)
	}
	if _, err := New(Options{}, nil).Get(context.Background(), "gcpsm://projects/p/secrets/s"); err == nil {
		t.Fatal("a reference without its backend resolved")
	}
}

func TestHeaderTransportRefetchesAfter401(t *testing.T) {
	b := &counting{values: []string{"old-key", "new-key"}}
	s := New(Options{TTL: time.Hour}, map[string]Backend{SchemeAWS: b})
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Authorization"))
		if r.Header.Get("Authorization") != "Bearer new-key" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	c := &http.Client{Transport: &HeaderTransport{Store: s, Ref: "awssm://r/k", Header: "Authorization", Prefix: "Bearer "}}
	r1, _ := c.Get(srv.URL)
	r2, _ := c.Get(srv.URL)
	if r1.StatusCode != 401 || r2.StatusCode != 200 || strings.Join(seen, ",") != "Bearer old-key,Bearer new-key" {
		t.Fatalf("statuses %d %d, headers %v", r1.StatusCode, r2.StatusCode, seen)
	}
}

// A secret pasted where its reference belongs is refused without being
// repeated, whatever the scheme.
func TestPastedSecretIsNeverEchoed(t *testing.T) {
	const tok = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
	for _, raw := range []string{"gcpsm://" + tok, "file://" + tok, "env://" + tok, "azkv://" + tok, "awssm://" + tok, tok, "env://GH TOKEN"} {
		_, err := Parse(raw)
		if err == nil {
			t.Errorf("%q accepted", raw)
			continue
		}
		if strings.Contains(err.Error(), tok) {
			t.Errorf("%q: the error repeats the token: %v", raw, err)
		}
		if d := Describe(raw); strings.Contains(d, tok) {
			t.Errorf("Describe(%q) = %q", raw, d)
		}
	}
	for _, ok := range []string{"env://GITHUB_TOKEN", "gcpsm://projects/p/secrets/gh", "file:///var/run/secrets/gh"} {
		if _, err := Parse(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

// In production every env:// reference is refused before the agent
// starts, a model key or dashboard token as much as a GitHub token, and
// the error names the setting.
func TestOneRuleForEveryCredential(t *testing.T) {
	s := New(Options{Production: true}, map[string]Backend{})
	for _, field := range []string{"provider.openai.api_key", "dashboard.token", "delivery.github.token"} {
		err := s.CheckAll(map[string]string{field: "env://SOME_KEY"})
		if !errors.Is(err, ErrEnvInProduction) || !strings.HasPrefix(err.Error(), field) {
			t.Errorf("%s: %v", field, err)
		}
	}
	if err := New(Options{Production: true, AllowEnv: true}, map[string]Backend{}).CheckAll(map[string]string{"dashboard.token": "env://T"}); err != nil {
		t.Fatal(err)
	}
}
