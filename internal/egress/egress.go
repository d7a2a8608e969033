// Package egress is the one HTTP transport for every outside call the
// agent makes: HTTPS only (plain HTTP only to loopback, for tests and
// emulators), TLS 1.2 at least, and, when configured, only to listed
// hosts. A refused call is an error naming the host, and an audit record.
package egress

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
)

// Config says where the agent may connect.
type Config struct {
	// AllowHosts, when set, are the only hosts outside calls may reach
	// ("api.github.com", "*.googleapis.com"); loopback is always allowed.
	AllowHosts []string `yaml:"allow_hosts"`
}

// ErrRefused wraps every refusal.
var ErrRefused = errors.New("egress refused")

// Transport checks each request, then sends it over TLS 1.2+.
type Transport struct {
	cfg   Config
	audit audit.Appender
	base  *http.Transport
}

// New builds the transport; roots nil means the system's CAs.
func New(cfg Config, aud audit.Appender, roots *x509.CertPool) *Transport {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	base.ForceAttemptHTTP2 = true
	return &Transport{cfg: cfg, audit: aud, base: base}
}

// Client is an HTTP client on the transport.
func (t *Transport) Client() *http.Client {
	return &http.Client{Transport: t, Timeout: 2 * time.Minute}
}

// Check says why a URL's scheme and host may not be reached, or nil.
func (t *Transport) Check(scheme, host string) error {
	loopback := IsLoopback(host)
	switch scheme {
	case "https":
	case "http":
		if !loopback {
			return fmt.Errorf("%w: plain http to %s (only https leaves this machine)", ErrRefused, host)
		}
	default:
		return fmt.Errorf("%w: scheme %q to %s", ErrRefused, scheme, host)
	}
	if loopback || len(t.cfg.AllowHosts) == 0 {
		return nil
	}
	for _, pat := range t.cfg.AllowHosts {
		if matchHost(pat, host) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is not in egress.allow_hosts", ErrRefused, host)
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Hostname()
	if err := t.Check(req.URL.Scheme, host); err != nil {
		if t.audit != nil {
			if _, aerr := t.audit.Append(req.Context(), audit.Record{Kind: audit.KindEgressDenied, Outcome: "refused",
				Fields: map[string]any{"host": host, "scheme": req.URL.Scheme, "method": req.Method, "reason": err.Error()}}); aerr != nil {
				return nil, errors.Join(err, aerr)
			}
		}
		return nil, err
	}
	return t.base.RoundTrip(req)
}

// IsLoopback reports a loopback host name or address.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func matchHost(pattern, host string) bool {
	pattern, host = strings.ToLower(pattern), strings.ToLower(host)
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		return strings.HasSuffix(host, "."+rest)
	}
	return pattern == host
}
