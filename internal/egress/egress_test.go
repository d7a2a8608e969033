package egress

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
)

func TestRefusalsAreErrorsAndAudited(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	aud, _ := audit.Open(path, "t")
	defer aud.Close()
	tr := New(Config{AllowHosts: []string{"api.github.com", "*.googleapis.com"}}, aud, nil)
	c := tr.Client()
	for _, u := range []string{"http://example.com/x", "https://evil.example/x", "ftp://api.github.com/x"} {
		_, err := c.Get(u)
		if !errors.Is(err, ErrRefused) {
			t.Fatalf("%s: %v", u, err)
		}
	}
	for host, want := range map[string]bool{"api.github.com": true, "secretmanager.googleapis.com": true, "googleapis.com.evil": false, "github.com": false} {
		if got := tr.Check("https", host) == nil; got != want {
			t.Errorf("%s allowed=%v", host, got)
		}
	}
	b, _ := os.ReadFile(path)
	if strings.Count(string(b), `"kind":"egress_denied"`) != 3 || !strings.Contains(string(b), "evil.example") {
		t.Fatalf("audit: %s", b)
	}
}

func TestLoopbackHTTPAndTLSFloor(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer plain.Close()
	tr := New(Config{AllowHosts: []string{"only.example"}}, nil, nil)
	if resp, err := tr.Client().Get(plain.URL); err != nil || resp.StatusCode != 200 {
		t.Fatalf("loopback http: %v", err)
	}
	old := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	old.TLS = &tls.Config{MaxVersion: tls.VersionTLS11}
	old.StartTLS()
	defer old.Close()
	pool := old.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	if _, err := New(Config{}, nil, pool).Client().Get(old.URL); err == nil {
		t.Fatal("a TLS 1.1 server was accepted")
	}
	modern := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer modern.Close()
	if _, err := New(Config{}, nil, modern.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs).Client().Get(modern.URL); err != nil {
		t.Fatalf("TLS 1.2+ server: %v", err)
	}
}
