package dashboard

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"
)

// iapKeys serves a key set where IAP publishes its signing keys, so the
// real idtoken validator verifies assertions signed in the test.
type iapKeys struct{ jwks []byte }

func (k iapKeys) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != "www.gstatic.com" || r.URL.Path != "/iap/verify/public_key-jwk" {
		return &http.Response{StatusCode: 404, Body: io.NopCloser(bytes.NewReader(nil)), Request: r}, nil
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(k.jwks)), Request: r}, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// assertion signs an IAP-style JWT with ES256.
func assertion(t *testing.T, key *ecdsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": "k1", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	signing := b64(h) + "." + b64(c)
	sum := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signing + "." + b64(sig)
}

func TestIAPAssertionVerifiedWithGooglesValidator(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, err := key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "k1",
		"x": b64(pub[1:33]), "y": b64(pub[33:65])}}})
	v, err := idtoken.NewValidator(context.Background(), option.WithHTTPClient(&http.Client{Transport: iapKeys{jwks}}))
	if err != nil {
		t.Fatal(err)
	}
	const aud = "/projects/1/global/backendServices/2"
	h, _ := newUI(t, Auth{Required: true, IAP: v, IAPAudience: aud})
	exp := time.Now().Add(5 * time.Minute).Unix()
	claims := func(iss, a string, e int64) map[string]any {
		return map[string]any{"iss": iss, "aud": a, "exp": e, "iat": time.Now().Unix(), "email": "sre@example.com", "sub": "accounts.google.com:1"}
	}
	for _, tc := range []struct {
		name string
		jwt  string
		want int
	}{
		{"valid", assertion(t, key, claims(iapIssuer, aud, exp)), 200},
		{"other audience", assertion(t, key, claims(iapIssuer, "/projects/9/global/backendServices/9", exp)), 401},
		{"other issuer", assertion(t, key, claims("https://accounts.google.com", aud, exp)), 401},
		{"expired", assertion(t, key, claims(iapIssuer, aud, time.Now().Add(-time.Hour).Unix())), 401},
		{"other key", assertion(t, other, claims(iapIssuer, aud, exp)), 401},
		{"garbage", "not.a.jwt", 401},
	} {
		if resp, _ := get(t, h, "GET", "/", "X-Goog-Iap-Jwt-Assertion", tc.jwt); resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	// WrapAs (the MCP endpoint's guard) names the verified identity in
	// the header it is given, whatever the client put there.
	var who []string
	wrapped := Auth{Required: true, IAP: v, IAPAudience: aud}.WrapAs(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who = append(who, r.Header.Get("X-Caller"))
	}), nil, "X-Caller")
	get(t, wrapped, "POST", "/mcp", "X-Goog-Iap-Jwt-Assertion", assertion(t, key, claims(iapIssuer, aud, exp)), "X-Caller", "admin@evil.example")
	get(t, wrapped, "POST", "/mcp", "X-Caller", "admin@evil.example")
	if len(who) != 1 || who[0] != "sre@example.com" {
		t.Errorf("callers named: %v", who)
	}
}
