package server

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func serve(t *testing.T, addr string, guard Guard) string {
	t.Helper()
	s, err := Listen(addr, prometheus.NewRegistry(), func() error { return errors.New("source 'x' not open") }, nil, guard)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() { s.srv.Close() })
	return s.Addr()
}

func status(t *testing.T, url, host string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := new(strings.Builder)
	buf := make([]byte, 512)
	n, _ := resp.Body.Read(buf)
	b.Write(buf[:n])
	return resp.StatusCode, b.String()
}

// On loopback only loopback Host names are answered: DNS rebinding from
// an operator's browser gets nothing.
func TestLoopbackRefusesForeignHosts(t *testing.T) {
	addr := serve(t, "127.0.0.1:0", nil)
	for host, want := range map[string]int{"": 200, "localhost:9469": 200, "127.0.0.1": 200, "[::1]:80": 200, "evil.example": 421, "attacker.example:9469": 421} {
		if code, _ := status(t, "http://"+addr+"/metrics", host); code != want {
			t.Errorf("Host %q: %d, want %d", host, code, want)
		}
	}
}

// Beyond loopback health, readiness and metrics need the guard, and are
// refused without one.
func TestBeyondLoopbackMetricsNeedAuthentication(t *testing.T) {
	open := serve(t, "0.0.0.0:0", nil)
	port := open[strings.LastIndex(open, ":"):]
	for _, p := range []string{"/metrics", "/healthz", "/readyz"} {
		if code, body := status(t, "http://127.0.0.1"+port+p, ""); code != http.StatusForbidden || strings.Contains(body, "source") {
			t.Errorf("%s without a guard: %d %q", p, code, body)
		}
	}
	guard := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer t0ken" {
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	guarded := serve(t, "0.0.0.0:0", guard)
	port = guarded[strings.LastIndex(guarded, ":"):]
	if code, _ := status(t, "http://127.0.0.1"+port+"/metrics", ""); code != 401 {
		t.Errorf("metrics without the token: %d", code)
	}
	if code, _ := status(t, "http://127.0.0.1"+port+"/metrics", "", "Authorization", "Bearer t0ken"); code != 200 {
		t.Errorf("metrics with the token: %d", code)
	}
	if code, _ := status(t, "http://127.0.0.1"+port+"/healthz", ""); code != 401 {
		t.Errorf("healthz without the token: %d", code)
	}
	if code, _ := status(t, "http://127.0.0.1"+port+"/healthz", "", "Authorization", "Bearer t0ken"); code != 200 {
		t.Errorf("healthz with the token: %d", code)
	}
}
