// Package server is the daemon's HTTP endpoint: /healthz (the process is
// alive), /readyz (it is reading its sources and running its pipeline) and
// /metrics (Prometheus). It listens on loopback unless told otherwise.
//
// On loopback it answers only requests whose Host is a loopback name or
// the listener's own address, so a web page cannot reach it through DNS
// rebinding. Beyond loopback every endpoint needs the dashboard's
// authentication (a bearer token or an IAP identity) and is refused
// without one configured; kubelet probes run `sre-agent probe`, which
// asks a loopback listener or sends the token.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server serves health and metrics.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Guard authenticates a request before the handler it wraps serves it
// (the dashboard's Auth); nil when no authentication is configured.
type Guard func(http.Handler) http.Handler

// Listen binds addr; ready reports readiness (nil when ready, else why
// not). ui, when not nil, serves every other path (the dashboard). guard
// protects /healthz, /readyz and /metrics beyond loopback.
func Listen(addr string, gatherer prometheus.Gatherer, ready func() error, ui http.Handler, guard Guard) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (set http.addr in the config, or --http-addr): %w", addr, err)
	}
	local := Loopback(addr)
	protect := func(next http.Handler) http.Handler {
		switch {
		case local:
			return next
		case guard != nil:
			return guard(next)
		}
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "beyond loopback this endpoint needs authentication: set dashboard.token or dashboard.iap_audience (probes: sre-agent probe)", http.StatusForbidden)
		})
	}
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", protect(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})))
	mux.Handle("GET /readyz", protect(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", err)
			return
		}
		fmt.Fprintln(w, "ready")
	})))
	mux.Handle("GET /metrics", protect(promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{ErrorLog: nil})))
	if ui != nil {
		mux.Handle("/", ui)
	}
	var h http.Handler = mux
	if local {
		h = loopbackHosts(ln.Addr().String(), mux)
	}
	s := &Server{ln: ln, srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}}
	return s, nil
}

// loopbackHosts refuses a request whose Host is not a loopback name or
// the listener's address: a page on another site whose name resolves to
// 127.0.0.1 (DNS rebinding) sends its own name.
func loopbackHosts(own string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.Trim(strings.ToLower(host), "[]")
		ownHost, _, _ := net.SplitHostPort(own)
		ip := net.ParseIP(host)
		if host == "localhost" || strings.HasSuffix(host, ".localhost") || host == ownHost || (ip != nil && ip.IsLoopback()) {
			next.ServeHTTP(w, r)
			return
		}
		http.Error(w, "this endpoint answers only to loopback names (Host: localhost, 127.0.0.1, [::1])", http.StatusMisdirectedRequest)
	})
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until Shutdown.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops serving, letting requests in flight finish.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Loopback reports whether addr (host:port) listens on loopback only.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
