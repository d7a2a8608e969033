package dashboard

import (
	"cmp"
	"context"
	"crypto/subtle"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"google.golang.org/api/idtoken"
)

// Auth says who may see the dashboard. On loopback (Required false) anyone
// who can reach the port may: a person with a shell on the host, or one
// at the end of `kubectl port-forward`. Bound beyond loopback every page
// needs one of
//
//   - a bearer token (Authorization: Bearer ...) equal to the secret Token
//     returns (a secret reference in the config, read per request so that
//     a rotation takes effect), or
//   - an identity asserted by Identity-Aware Proxy: the signed JWT in
//     x-goog-iap-jwt-assertion, verified against Google's IAP keys, with
//     the configured audience and IAP's issuer.
//
// With neither configured nothing is served.
type Auth struct {
	Required    bool
	Token       func(ctx context.Context) (string, error)
	IAPAudience string
	IAP         Validator
}

// Validator verifies a signed identity token (idtoken.Validator).
type Validator interface {
	Validate(ctx context.Context, token, audience string) (*idtoken.Payload, error)
}

// iapIssuer is the issuer of IAP's assertions.
const iapIssuer = "https://cloud.google.com/iap"

// Wrap serves next only to a request that proves who it is (see Auth).
func (a Auth) Wrap(next http.Handler, log *slog.Logger) http.Handler { return a.wrap(next, log, "") }

// WrapAs is Wrap that also tells next who the request is from, in the
// request header named header (whatever the client sent there is
// dropped): "bearer" for the token's holder, an IAP identity's email, on
// loopback "loopback:ADDR".
func (a Auth) WrapAs(next http.Handler, log *slog.Logger, header string) http.Handler {
	return a.wrap(next, log, header)
}

func (a Auth) wrap(next http.Handler, log *slog.Logger, header string) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !a.Required {
		if header == "" {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			host := r.RemoteAddr
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			r.Header.Set(header, "loopback:"+host)
			next.ServeHTTP(w, r)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if header != "" {
			r.Header.Del(header)
		}
		if a.Token == nil && a.IAP == nil {
			http.Error(w, "the dashboard is bound beyond loopback without authentication: set dashboard.token or dashboard.iap_audience", http.StatusForbidden)
			return
		}
		if who, ok := a.check(r, log); ok {
			log.Debug("dashboard request", "user", who, "request", r.URL.Path)
			if header != "" {
				r.Header.Set(header, cmp.Or(who, "iap"))
			}
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="sre-agent"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
	})
}

// check returns who the request is from when it proves it.
func (a Auth) check(r *http.Request, log *slog.Logger) (string, bool) {
	if a.Token != nil {
		if got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && got != "" {
			want, err := a.Token(r.Context())
			if err != nil {
				log.Error("dashboard token unavailable", "error", err)
				return "", false
			}
			if want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 {
				return "bearer", true
			}
		}
	}
	if a.IAP != nil && a.IAPAudience != "" {
		if jwt := r.Header.Get("X-Goog-Iap-Jwt-Assertion"); jwt != "" {
			p, err := a.IAP.Validate(r.Context(), jwt, a.IAPAudience)
			if err != nil {
				log.Warn("dashboard: IAP assertion refused", "error", err)
				return "", false
			}
			if p.Issuer != iapIssuer {
				log.Warn("dashboard: IAP assertion from the wrong issuer", "issuer", p.Issuer)
				return "", false
			}
			email, _ := p.Claims["email"].(string)
			return email, true
		}
	}
	return "", false
}
