package mcpserver

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// HTTPOptions configure the Streamable HTTP endpoint.
type HTTPOptions struct {
	// Loopback says the listener is on loopback: a browser page's Origin
	// is then refused unless it is a loopback origin or allowed, and the
	// Host must be a loopback name (DNS rebinding).
	Loopback bool
	// AllowedOrigins are origins (scheme://host[:port]) allowed to call
	// from a browser beyond the loopback ones.
	AllowedOrigins []string
	// Guard authenticates a request and sets CallerHeader to who it is
	// (the dashboard's authentication); nil on loopback, where the caller
	// is whoever reaches the port.
	Guard func(http.Handler) http.Handler
}

// Handler serves srv over Streamable HTTP: Origin and Host checked, the
// request authenticated by the guard, bodies bounded.
func Handler(srv *mcp.Server, o HTTPOptions) http.Handler {
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{
		SessionTimeout:      30 * time.Minute,
		MaxRequestBodyBytes: 1 << 20,
	})
	var next http.Handler = h
	if o.Guard != nil {
		next = o.Guard(h)
	} else {
		next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Set(CallerHeader, "loopback:"+hostOf(r.RemoteAddr))
			h.ServeHTTP(w, r)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del(CallerHeader) // only the guard says who calls
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if origin := r.Header.Get("Origin"); origin != "" && !o.allowed(origin) {
			http.Error(w, "origin not allowed: "+url.QueryEscape(origin), http.StatusForbidden)
			return
		}
		if o.Loopback && !loopbackName(r.Host) {
			http.Error(w, "this endpoint answers only to loopback names (Host: localhost, 127.0.0.1, [::1])", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allowed says whether a browser page from origin may call: an allowed
// origin, or on a loopback listener a loopback origin.
func (o HTTPOptions) allowed(origin string) bool {
	if slices.Contains(o.AllowedOrigins, strings.TrimSuffix(origin, "/")) {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return o.Loopback && loopbackName(u.Host)
}

func loopbackName(hostport string) bool {
	host := hostOf(hostport)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func hostOf(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return strings.Trim(strings.ToLower(host), "[]")
}
