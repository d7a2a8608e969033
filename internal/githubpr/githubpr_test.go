package githubpr

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
)

const mainGo = "package main\n\nfunc main() {\n\tprintln(\"hi\")\n}\n"

// fakeGitHub serves the endpoints the target uses, with state, and records
// the request sequence.
type fakeGitHub struct {
	mu         sync.Mutex
	seq        []string
	prs        []map[string]any
	refs       map[string]string
	bodies     map[string]string // "POST /repos/o/r/pulls" -> body
	failPulls  int               // fail this many pull creations (a crash)
	auth       []string
	pubKey     *rsa.PublicKey
	tokenTTL   time.Duration
	tokens     int
	jwtProblem string
}

func newFake() *fakeGitHub {
	return &fakeGitHub{refs: map[string]string{"heads/main": "base123"}, bodies: map[string]string{}, tokenTTL: time.Hour}
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := io.ReadAll(r.Body)
	p := strings.TrimPrefix(r.URL.Path, "/api/v3")
	key := r.Method + " " + p
	f.seq = append(f.seq, key)
	f.bodies[key] = string(b)
	w.Header().Set("Content-Type", "application/json")
	if strings.HasPrefix(p, "/app/installations/") {
		f.tokens++
		f.checkJWT(r.Header.Get("Authorization"))
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(map[string]any{"token": fmt.Sprintf("ghs_installation%d", f.tokens), "expires_at": time.Now().Add(f.tokenTTL).UTC().Format(time.RFC3339)})
		return
	}
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	switch {
	case r.Method == "GET" && p == "/repos/o/r/pulls":
		head := r.URL.Query().Get("head")
		out := []map[string]any{}
		for _, pr := range f.prs {
			if "o:"+pr["head"].(map[string]any)["ref"].(string) == head {
				out = append(out, pr)
			}
		}
		json.NewEncoder(w).Encode(out)
	case r.Method == "GET" && p == "/repos/o/r/contents/main.go":
		json.NewEncoder(w).Encode(map[string]any{"type": "file", "encoding": "base64", "path": "main.go", "sha": "f1",
			"content": base64.StdEncoding.EncodeToString([]byte(mainGo))})
	case r.Method == "GET" && strings.HasPrefix(p, "/repos/o/r/git/ref/"):
		name := strings.TrimPrefix(p, "/repos/o/r/git/ref/")
		sha, ok := f.refs[name]
		if !ok {
			w.WriteHeader(404)
			w.Write([]byte(`{"message":"Not Found"}`))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"ref": "refs/" + name, "object": map[string]any{"sha": sha, "type": "commit"}})
	case r.Method == "GET" && p == "/repos/o/r/git/commits/base123":
		w.Write([]byte(`{"sha":"base123","tree":{"sha":"tree0"}}`))
	case r.Method == "POST" && p == "/repos/o/r/git/blobs":
		w.WriteHeader(201)
		w.Write([]byte(`{"sha":"blob1"}`))
	case r.Method == "POST" && p == "/repos/o/r/git/trees":
		w.WriteHeader(201)
		w.Write([]byte(`{"sha":"tree1"}`))
	case r.Method == "POST" && p == "/repos/o/r/git/commits":
		w.WriteHeader(201)
		w.Write([]byte(`{"sha":"commit1"}`))
	case r.Method == "POST" && p == "/repos/o/r/git/refs":
		var in struct{ Ref, SHA string }
		json.Unmarshal(b, &in)
		f.refs[strings.TrimPrefix(in.Ref, "refs/")] = in.SHA
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(map[string]any{"ref": in.Ref, "object": map[string]any{"sha": in.SHA}})
	case r.Method == "PATCH" && strings.HasPrefix(p, "/repos/o/r/git/refs/"):
		json.NewEncoder(w).Encode(map[string]any{"ref": "refs/" + strings.TrimPrefix(p, "/repos/o/r/git/refs/")})
	case r.Method == "POST" && p == "/repos/o/r/pulls":
		if f.failPulls > 0 {
			f.failPulls--
			w.WriteHeader(422)
			w.Write([]byte(`{"message":"Validation Failed"}`))
			return
		}
		var in map[string]any
		json.Unmarshal(b, &in)
		n := len(f.prs) + 1
		pr := map[string]any{"number": n, "state": "open", "draft": in["draft"], "merged": false,
			"html_url": fmt.Sprintf("https://github.example/o/r/pull/%d", n), "head": map[string]any{"ref": in["head"]}}
		f.prs = append(f.prs, pr)
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(pr)
	case r.Method == "POST" && strings.HasSuffix(p, "/labels"):
		w.Write([]byte(`[]`))
	case r.Method == "POST" && strings.HasSuffix(p, "/requested_reviewers"):
		w.WriteHeader(201)
		w.Write([]byte(`{"number":1}`))
	case r.Method == "POST" && strings.HasSuffix(p, "/assignees"):
		w.WriteHeader(201)
		w.Write([]byte(`{"number":1}`))
	case r.Method == "POST" && strings.HasSuffix(p, "/comments"):
		w.WriteHeader(201)
		w.Write([]byte(`{"id":1}`))
	default:
		w.WriteHeader(404)
		w.Write([]byte(`{"message":"Not Found"}`))
	}
}

func (f *fakeGitHub) checkJWT(h string) {
	tok, err := jwt.ParseWithClaims(strings.TrimPrefix(h, "Bearer "), &jwt.RegisteredClaims{}, func(*jwt.Token) (any, error) { return f.pubKey, nil },
		jwt.WithValidMethods([]string{"RS256"}))
	if err != nil {
		f.jwtProblem = err.Error()
		return
	}
	c := tok.Claims.(*jwt.RegisteredClaims)
	now := time.Now()
	if c.Issuer != "123" || c.IssuedAt == nil || c.IssuedAt.After(now.Add(time.Second)) || c.ExpiresAt == nil || c.ExpiresAt.Sub(now) > 10*time.Minute || c.ExpiresAt.Before(now) {
		f.jwtProblem = fmt.Sprintf("claims %+v", c)
	}
}

func (f *fakeGitHub) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, s := range f.seq {
		if s == key {
			n++
		}
	}
	return n
}

func proposal(diff string) pipeline.Proposal {
	return pipeline.Proposal{
		Incident: domain.Incident{Fingerprint: "abcdef0123456789abcd", Service: "api", Severity: domain.Error, Count: 12,
			FirstSeen: time.Unix(1000, 0), LastSeen: time.Unix(2000, 0),
			Templates: []domain.Template{{Text: "greeting failed for user <*>", Count: 12}},
			Samples:   []string{"ERROR greeting failed for user [REDACTED:email]"}},
		Triage:      pipeline.Triage{Category: "code-defect", Severity: "high", Actionable: true, Confidence: 0.8, Reasoning: "bad greeting"},
		Analysis:    pipeline.Analysis{RootCause: "the greeting is wrong", Confidence: 0.7},
		Remediation: pipeline.Remediation{Summary: "fix the greeting", Steps: []string{"edit main.go"}, Risk: "low", TestPlan: []string{"run it"}, Diff: diff},
		AuditSeq:    42,
	}
}

const diff = "--- a/main.go\n+++ b/main.go\n@@ -1,5 +1,5 @@\n package main\n \n func main() {\n-\tprintln(\"hi\")\n+\tprintln(\"hello\")\n }\n"

func patTarget(t *testing.T, f *fakeGitHub, token string) (*Target, bool) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Setenv("SRE_GH_TOKEN", token)
	tg, classic, err := New(context.Background(), Config{BaseURL: srv.URL + "/api/v3/", Owner: "o", Repo: "r", BaseBranch: "main",
		Token: "env://SRE_GH_TOKEN", Reviewers: []string{"alice"}, Assignees: []string{"bob"}, SuppressAfterClose: 24 * time.Hour},
		secrets.New(secrets.Options{}, nil), http.DefaultTransport)
	if err != nil {
		t.Fatal(err)
	}
	tg.sleep = func(context.Context, time.Duration) error { return nil }
	return tg, classic
}

func TestOneDraftPullRequestThenComments(t *testing.T) {
	f := newFake()
	tg, classic := patTarget(t, f, "github_pat_finegrained")
	if classic {
		t.Fatal("a fine-grained token reported as classic")
	}
	d, err := tg.Deliver(context.Background(), proposal(diff))
	if err != nil {
		t.Fatal(err)
	}
	if d.Location != "https://github.example/o/r/pull/1" {
		t.Fatalf("location %s", d.Location)
	}
	want := []string{"GET /repos/o/r/pulls", "GET /repos/o/r/contents/main.go", "GET /repos/o/r/git/ref/heads/main", "GET /repos/o/r/git/commits/base123",
		"POST /repos/o/r/git/blobs", "POST /repos/o/r/git/trees", "POST /repos/o/r/git/commits", "GET /repos/o/r/git/ref/heads/sre-agent/abcdef01",
		"POST /repos/o/r/git/refs", "POST /repos/o/r/pulls", "POST /repos/o/r/issues/1/labels", "POST /repos/o/r/pulls/1/requested_reviewers", "POST /repos/o/r/issues/1/assignees"}
	if got := strings.Join(f.seq, "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("request sequence:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	var pr map[string]any
	json.Unmarshal([]byte(f.bodies["POST /repos/o/r/pulls"]), &pr)
	body, _ := pr["body"].(string)
	if pr["draft"] != true || pr["base"] != "main" || pr["head"] != "sre-agent/abcdef01" {
		t.Fatalf("pull request %v", pr)
	}
	for _, w := range []string{"greeting failed for user <*>", "12", "the greeting is wrong", "- [ ] run it", "seq 42", "never merges"} {
		if !strings.Contains(body, w) {
			t.Errorf("body lacks %q", w)
		}
	}
	var blob map[string]any
	json.Unmarshal([]byte(f.bodies["POST /repos/o/r/git/blobs"]), &blob)
	if !strings.Contains(blob["content"].(string), `println("hello")`) {
		t.Fatalf("blob %v", blob)
	}
	if !strings.Contains(f.bodies["POST /repos/o/r/issues/1/labels"], "needs-human-review") {
		t.Fatalf("labels %s", f.bodies["POST /repos/o/r/issues/1/labels"])
	}
	for _, a := range f.auth {
		if a != "Bearer github_pat_finegrained" {
			t.Fatalf("auth %q", a)
		}
	}
	// Again: a comment, not a second pull request.
	if _, err := tg.Deliver(context.Background(), proposal(diff)); err != nil {
		t.Fatal(err)
	}
	if f.count("POST /repos/o/r/pulls") != 1 || f.count("POST /repos/o/r/issues/1/comments") != 1 {
		t.Fatalf("second delivery: %v", f.seq[len(want):])
	}
}

func TestCrashBetweenCommitAndPullRequestReusesTheBranch(t *testing.T) {
	f := newFake()
	f.failPulls = 1
	tg, _ := patTarget(t, f, "ghp_classictoken")
	if _, err := tg.Deliver(context.Background(), proposal(diff)); err == nil {
		t.Fatal("the failed pull request creation was not an error")
	}
	if _, err := tg.Deliver(context.Background(), proposal(diff)); err != nil {
		t.Fatal(err)
	}
	if f.count("POST /repos/o/r/git/refs") != 1 || f.count("PATCH /repos/o/r/git/refs/heads/sre-agent/abcdef01") != 1 || len(f.prs) != 1 {
		t.Fatalf("refs created %d, updated %d, prs %d", f.count("POST /repos/o/r/git/refs"), f.count("PATCH /repos/o/r/git/refs/heads/sre-agent/abcdef01"), len(f.prs))
	}
}

func TestClosedUnmergedSuppressesAndSecretsAreRefused(t *testing.T) {
	f := newFake()
	closed := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	f.prs = append(f.prs, map[string]any{"number": 9, "state": "closed", "merged": false, "closed_at": closed, "head": map[string]any{"ref": "sre-agent/abcdef01"}})
	tg, classic := patTarget(t, f, "ghp_classictoken")
	if !classic {
		t.Fatal("a classic token not reported")
	}
	var rej *pipeline.RejectError
	if _, err := tg.Deliver(context.Background(), proposal(diff)); !errors.As(err, &rej) || rej.Violation.Rule != "suppressed" {
		t.Fatalf("closed-unmerged: %v", err)
	}
	f2 := newFake()
	tg2, _ := patTarget(t, f2, "github_pat_x")
	leaky := strings.Replace(diff, `println(\"hello\")`, `println(\"hello\") // AKIAIOSFODNN7EXAMPLE`, 1)
	leaky = strings.Replace(diff, "+\tprintln(\"hello\")", "+\tprintln(\"AKIAIOSFODNN7EXAMPLE\")", 1)
	if _, err := tg2.Deliver(context.Background(), proposal(leaky)); !errors.As(err, &rej) {
		t.Fatalf("secret in the diff: %v", err)
	}
	if f2.count("POST /repos/o/r/git/blobs") != 0 {
		t.Fatal("a secret reached GitHub")
	}
}

func TestAppJWTAndTokenRefresh(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	pemPath := filepath.Join(t.TempDir(), "app.pem")
	os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	f := newFake()
	f.pubKey = &key.PublicKey
	f.tokenTTL = 30 * time.Second // inside the refresh margin: every call refreshes
	srv := httptest.NewServer(f)
	defer srv.Close()
	tg, _, err := New(context.Background(), Config{BaseURL: srv.URL + "/api/v3/", Owner: "o", Repo: "r", BaseBranch: "main",
		AppID: 123, InstallationID: 99, PrivateKey: "file://" + pemPath}, secrets.New(secrets.Options{}, nil), http.DefaultTransport)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Deliver(context.Background(), proposal(diff)); err != nil {
		t.Fatal(err)
	}
	if f.jwtProblem != "" {
		t.Fatalf("app JWT: %s", f.jwtProblem)
	}
	if f.tokens < 2 {
		t.Fatalf("installation token fetched %d times; it expires within the refresh margin", f.tokens)
	}
	for _, a := range f.auth {
		if !strings.HasPrefix(a, "token ghs_installation") {
			t.Fatalf("api auth %q", a)
		}
	}
}
