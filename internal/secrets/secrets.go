// Package secrets resolves secret references: the config names where a
// credential lives (a secret manager, a mounted file, in development an
// environment variable), never the credential. Values are cached for a TTL
// and fetched again on expiry or when the service that uses one answers
// 401 (Invalidate), so a rotated secret needs no restart. Every fetch is
// audited by name; every value is handed to OnLoad so the log handler can
// mask it wherever it appears.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
)

// Schemes a reference may use.
const (
	SchemeGCP   = "gcpsm"
	SchemeAWS   = "awssm"
	SchemeAzure = "azkv"
	SchemeFile  = "file"
	SchemeEnv   = "env"
)

// Ref is a parsed secret reference.
type Ref struct {
	Raw    string
	Scheme string
	// Name is what the backend looks up: a Secret Manager version name, an
	// AWS secret name, a Key Vault secret name, a file path, a variable.
	Name string
	// Region (AWS) or Vault (Azure); Version (Azure, optional).
	Region, Vault, Version string
	// JSONKey picks one key of a JSON secret (AWS "#key").
	JSONKey string
}

// IsRef reports whether s is written as a reference.
func IsRef(s string) bool {
	for _, p := range []string{SchemeGCP, SchemeAWS, SchemeAzure, SchemeFile, SchemeEnv} {
		if strings.HasPrefix(s, p+"://") {
			return true
		}
	}
	return false
}

// Parse reads a reference.
func Parse(raw string) (Ref, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || !IsRef(raw) {
		// The string may be the secret itself, pasted where its reference
		// belongs: it is never repeated.
		return Ref{}, fmt.Errorf("secret reference %s: want gcpsm://, awssm://, azkv://, file:// or env://", Describe(raw))
	}
	r := Ref{Raw: raw, Scheme: u.Scheme}
	if kinds := looksSecret.Find(strings.TrimPrefix(raw, u.Scheme+"://")); len(kinds) > 0 {
		return Ref{}, fmt.Errorf("secret reference %s://…: what follows the scheme looks like a secret value (a %s), not where one is kept; put the value in a secret manager and name it here", u.Scheme, kinds[0])
	}
	hidden := u.Scheme + "://…"
	path := strings.TrimPrefix(u.Path, "/")
	switch u.Scheme {
	case SchemeGCP:
		// gcpsm://projects/P/secrets/S[/versions/V]
		name := u.Host + "/" + path
		parts := strings.Split(name, "/")
		if len(parts) == 4 {
			parts = append(parts, "versions", "latest")
		}
		if len(parts) != 6 || parts[0] != "projects" || parts[2] != "secrets" || parts[4] != "versions" || parts[1] == "" || parts[3] == "" || parts[5] == "" {
			return Ref{}, fmt.Errorf("secret reference %s: want gcpsm://projects/P/secrets/S/versions/V", hidden)
		}
		r.Name = strings.Join(parts, "/")
	case SchemeAWS:
		r.Region, r.Name, r.JSONKey = u.Host, path, u.Fragment
		if r.Region == "" || r.Name == "" {
			return Ref{}, fmt.Errorf("secret reference %s: want awssm://REGION/NAME[#jsonkey]", hidden)
		}
	case SchemeAzure:
		r.Vault = u.Host
		r.Name, r.Version, _ = strings.Cut(path, "/")
		if r.Vault == "" || r.Name == "" {
			return Ref{}, fmt.Errorf("secret reference %s: want azkv://VAULT/NAME[/VERSION]", hidden)
		}
	case SchemeFile:
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			return Ref{}, fmt.Errorf("secret reference %s: want file:///absolute/path", hidden)
		}
		r.Name = u.Path
	case SchemeEnv:
		r.Name = u.Host
		if !envName.MatchString(r.Name) || u.Path != "" {
			return Ref{}, fmt.Errorf("secret reference %s: want env://NAME (letters, digits and _)", hidden)
		}
	}
	return r, nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// looksSecret finds a secret value where a reference's name should be.
var looksSecret = redact.New(redact.Options{})

// Describe shows a string that may be a secret without showing it: a
// well-formed reference as itself, anything else by its length.
func Describe(s string) string {
	if IsRef(s) {
		scheme, rest, _ := strings.Cut(s, "://")
		if len(looksSecret.Find(rest)) == 0 {
			return s
		}
		return scheme + "://<hidden: looks like a secret value>"
	}
	return fmt.Sprintf("<%d characters, not a reference>", len(s))
}

// Backend fetches one secret value.
type Backend interface {
	Fetch(ctx context.Context, ref Ref) (string, error)
}

// Options tune the store.
type Options struct {
	// TTL is how long a value is used before it is fetched again.
	TTL time.Duration
	// Production refuses env:// references unless AllowEnv.
	Production bool
	AllowEnv   bool
	Audit      audit.Appender
	// OnLoad is given every value fetched (the log handler masks them).
	OnLoad func(value string)
	// Warn is told about risky but allowed use (env:// anywhere).
	Warn func(msg string, ref string)
}

// Store resolves references. It is safe for concurrent use.
type Store struct {
	opts     Options
	backends map[string]Backend
	now      func() time.Time
	mu       sync.Mutex
	cache    map[string]entry
}

type entry struct {
	value   string
	fetched time.Time
}

// New builds a store; backends are keyed by scheme. file:// and env:// are
// built in.
func New(opts Options, backends map[string]Backend) *Store {
	if opts.TTL <= 0 {
		opts.TTL = 5 * time.Minute
	}
	b := map[string]Backend{SchemeFile: fileBackend{}, SchemeEnv: envBackend{}}
	for k, v := range backends {
		b[k] = v
	}
	return &Store{opts: opts, backends: b, now: time.Now, cache: map[string]entry{}}
}

// Check applies the store's rules to every reference a config names, by
// setting, before anything is fetched: the agent refuses to start on a
// reference it would refuse later (one rule for every credential, a model
// key as much as a GitHub token). Errors name the setting.
func (s *Store) CheckAll(refs map[string]string) error {
	fields := make([]string, 0, len(refs))
	for f := range refs {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, field := range fields {
		if _, err := s.Check(refs[field]); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
	}
	return nil
}

// ErrEnvInProduction refuses env:// references in production mode.
var ErrEnvInProduction = errors.New("env:// secrets are for development; in production use a secret manager or a mounted file (or set secrets.allow_env_in_production)")

// Check validates a reference against the store's policy without fetching.
func (s *Store) Check(raw string) (Ref, error) {
	ref, err := Parse(raw)
	if err != nil {
		return ref, err
	}
	if ref.Scheme == SchemeEnv && s.opts.Production && !s.opts.AllowEnv {
		return ref, fmt.Errorf("%s: %w", raw, ErrEnvInProduction)
	}
	if _, ok := s.backends[ref.Scheme]; !ok {
		return ref, fmt.Errorf("%s: no %s backend configured", raw, ref.Scheme)
	}
	return ref, nil
}

// Get returns the value a reference names, from the cache while fresh.
func (s *Store) Get(ctx context.Context, raw string) (string, error) {
	ref, err := s.Check(raw)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	e, ok := s.cache[raw]
	s.mu.Unlock()
	if ok && s.now().Sub(e.fetched) < s.opts.TTL {
		return e.value, nil
	}
	if ref.Scheme == SchemeEnv && s.opts.Warn != nil {
		s.opts.Warn("secret read from the environment: for development only", raw)
	}
	v, ferr := s.backends[ref.Scheme].Fetch(ctx, ref)
	outcome := "ok"
	if ferr != nil {
		outcome = "error"
	}
	if s.opts.Audit != nil {
		// The reference names the secret; the value is never recorded.
		if _, err := s.opts.Audit.Append(ctx, audit.Record{Kind: audit.KindSecretRead, Outcome: outcome,
			Fields: map[string]any{"ref": raw, "backend": ref.Scheme}}); err != nil {
			return "", fmt.Errorf("audit secret read: %w", err)
		}
	}
	if ferr != nil {
		return "", fmt.Errorf("read secret %s: %w", raw, ferr)
	}
	if v == "" {
		return "", fmt.Errorf("read secret %s: empty value", raw)
	}
	if s.opts.OnLoad != nil {
		s.opts.OnLoad(v)
	}
	s.mu.Lock()
	s.cache[raw] = entry{value: v, fetched: s.now()}
	s.mu.Unlock()
	return v, nil
}

// Invalidate drops a cached value: the service that used it answered 401,
// so the secret was probably rotated; the next Get fetches it again.
func (s *Store) Invalidate(raw string) {
	s.mu.Lock()
	delete(s.cache, raw)
	s.mu.Unlock()
}

type fileBackend struct{}

func (fileBackend) Fetch(_ context.Context, ref Ref) (string, error) {
	b, err := os.ReadFile(ref.Name)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

type envBackend struct{}

func (envBackend) Fetch(_ context.Context, ref Ref) (string, error) {
	v, ok := os.LookupEnv(ref.Name)
	if !ok {
		return "", fmt.Errorf("environment variable %s is not set", ref.Name)
	}
	return v, nil
}

// HeaderTransport sets a credential header on every request from the
// store (so a rotated secret is picked up after its TTL), and on a 401
// drops the cached value so the next request fetches it again.
type HeaderTransport struct {
	Store  *Store
	Ref    string
	Header string // "Authorization", "x-goog-api-key"
	Prefix string // "Bearer "
	Base   http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *HeaderTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	v, err := t.Store.Get(req.Context(), t.Ref)
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Header.Set(t.Header, t.Prefix+v)
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		t.Store.Invalidate(t.Ref)
	}
	return resp, err
}
