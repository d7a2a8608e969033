package mcpserver

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cloud-sre-agent/sre-agent/internal/egress"
)

// HTTPOptions configure the Streamable HTTP endpoint.
type HTTPOptions struct {
	// Loopback says the listener is on loopback: a browser page's Origin
	// is then refused unless it is a loopback origin or allowed. (A
	// non-loopback Host, DNS rebinding, is refused by the SDK's own
	// protection and by the agent's listener.)
	Loopback bool
	// AllowedOrigins are origins (scheme://host[:port]) allowed to call
	// from a browser beyond the loopback ones.
	AllowedOrigins []string
	// Guard authenticates a request and sets CallerHeader to who it is
	// (the dashboard's Auth.WrapAs, which on loopback names the peer's
	// address); without one the audit records say "http:unidentified".
	Guard func(http.Handler) http.Handler
}

// Handler serves srv over Streamable HTTP: Origin checked, the
// request authenticated by the guard, bodies bounded.
func Handler(srv *mcp.Server, o HTTPOptions) http.Handler {
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{
		SessionTimeout:      30 * time.Minute,
		MaxRequestBodyBytes: 1 << 20,
	})
	var next http.Handler = h
	if o.Guard != nil {
		next = o.Guard(h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del(CallerHeader) // only the guard says who calls
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if origin := r.Header.Get("Origin"); origin != "" && !o.allowed(origin) {
			http.Error(w, "origin not allowed: "+url.QueryEscape(origin), http.StatusForbidden)
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
	return o.Loopback && egress.IsLoopback(u.Hostname())
}
