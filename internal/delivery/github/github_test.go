package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/backoff"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/github/githubtest"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/coderef"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
)

func proposal(diff string) domain.Proposal {
	return domain.Proposal{
		Incident: domain.Incident{Fingerprint: "abcdef0123456789abcd", Service: "api", Severity: domain.Error, Count: 12,
			FirstSeen: time.Unix(1000, 0), LastSeen: time.Unix(2000, 0),
			Templates: []domain.Template{{Text: "greeting failed for user <*>", Count: 12}},
			Samples:   []string{"ERROR greeting failed for user [REDACTED:email]"}},
		Triage:      domain.Triage{Category: "code-defect", Severity: "high", Actionable: true, Confidence: 0.8, Reasoning: "bad greeting"},
		Analysis:    domain.Analysis{RootCause: "the greeting is wrong", Confidence: 0.7},
		Remediation: domain.Remediation{Summary: "fix the greeting", Steps: []string{"edit main.go"}, Risk: "low", TestPlan: []string{"run it"}, Diff: diff},
		AuditSeq:    42,
	}
}

const diff = "--- a/main.go\n+++ b/main.go\n@@ -1,5 +1,5 @@\n package main\n \n func main() {\n-\tprintln(\"hi\")\n+\tprintln(\"hello\")\n }\n"

func patTarget(t *testing.T, f *githubtest.Fake, token string) (*Target, bool) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Setenv("SRE_GH_TOKEN", token)
	tg, classic, err := New(context.Background(), config.GitHubTarget{BaseURL: srv.URL + "/api/v3/", Owner: "o", Repo: "r", BaseBranch: "main",
		Token: "env://SRE_GH_TOKEN", Reviewers: []string{"alice"}, Assignees: []string{"bob"}, SuppressAfterClose: 24 * time.Hour},
		secrets.New(secrets.Options{}, nil), http.DefaultTransport)
	if err != nil {
		t.Fatal(err)
	}
	tg.sleep = func(context.Context, time.Duration) error { return nil }
	return tg, classic
}

func TestOneDraftPullRequestThenComments(t *testing.T) {
	f := githubtest.New()
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
	if got := strings.Join(f.Seq, "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("request sequence:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	var pr map[string]any
	json.Unmarshal([]byte(f.Bodies["POST /repos/o/r/pulls"]), &pr)
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
	json.Unmarshal([]byte(f.Bodies["POST /repos/o/r/git/blobs"]), &blob)
	if !strings.Contains(blob["content"].(string), `println("hello")`) {
		t.Fatalf("blob %v", blob)
	}
	if !strings.Contains(f.Bodies["POST /repos/o/r/issues/1/labels"], "needs-human-review") {
		t.Fatalf("labels %s", f.Bodies["POST /repos/o/r/issues/1/labels"])
	}
	for _, a := range f.Auth {
		if a != "Bearer github_pat_finegrained" {
			t.Fatalf("auth %q", a)
		}
	}
	// Again: a comment, not a second pull request.
	if _, err := tg.Deliver(context.Background(), proposal(diff)); err != nil {
		t.Fatal(err)
	}
	if f.Count("POST /repos/o/r/pulls") != 1 || f.Count("POST /repos/o/r/issues/1/comments") != 1 {
		t.Fatalf("second delivery: %v", f.Seq[len(want):])
	}
}

func TestCrashBetweenCommitAndPullRequestReusesTheBranch(t *testing.T) {
	f := githubtest.New()
	f.FailPulls = 1
	tg, _ := patTarget(t, f, "ghp_classictoken")
	if _, err := tg.Deliver(context.Background(), proposal(diff)); err == nil {
		t.Fatal("the failed pull request creation was not an error")
	}
	if _, err := tg.Deliver(context.Background(), proposal(diff)); err != nil {
		t.Fatal(err)
	}
	if f.Count("POST /repos/o/r/git/refs") != 1 || f.Count("PATCH /repos/o/r/git/refs/heads/sre-agent/abcdef01") != 1 || len(f.PRs) != 1 {
		t.Fatalf("refs created %d, updated %d, prs %d", f.Count("POST /repos/o/r/git/refs"), f.Count("PATCH /repos/o/r/git/refs/heads/sre-agent/abcdef01"), len(f.PRs))
	}
}

func TestClosedUnmergedSuppressesAndSecretsAreRefused(t *testing.T) {
	f := githubtest.New()
	closed := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	f.PRs = append(f.PRs, map[string]any{"number": 9, "state": "closed", "merged": false, "closed_at": closed, "head": map[string]any{"ref": "sre-agent/abcdef01"}})
	tg, classic := patTarget(t, f, "ghp_classictoken")
	if !classic {
		t.Fatal("a classic token not reported")
	}
	var rej *delivery.RejectError
	if _, err := tg.Deliver(context.Background(), proposal(diff)); !errors.As(err, &rej) || rej.Violation.Rule != "suppressed" {
		t.Fatalf("closed-unmerged: %v", err)
	}
	f2 := githubtest.New()
	tg2, _ := patTarget(t, f2, "github_pat_x")
	leaky := strings.Replace(diff, "+\tprintln(\"hello\")", "+\tprintln(\"AKIAIOSFODNN7EXAMPLE\")", 1)
	if _, err := tg2.Deliver(context.Background(), proposal(leaky)); !errors.As(err, &rej) {
		t.Fatalf("secret in the diff: %v", err)
	}
	if f2.Count("POST /repos/o/r/git/blobs") != 0 {
		t.Fatal("a secret reached GitHub")
	}
}

func TestAppJWTAndTokenRefresh(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	pemPath := filepath.Join(t.TempDir(), "app.pem")
	os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	f := githubtest.New()
	f.PubKey = &key.PublicKey
	f.TokenTTL = 30 * time.Second // inside the refresh margin: every call refreshes
	srv := httptest.NewServer(f)
	defer srv.Close()
	tg, _, err := New(context.Background(), config.GitHubTarget{BaseURL: srv.URL + "/api/v3/", Owner: "o", Repo: "r", BaseBranch: "main",
		AppID: 123, InstallationID: 99, PrivateKey: "file://" + pemPath}, secrets.New(secrets.Options{}, nil), http.DefaultTransport)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Deliver(context.Background(), proposal(diff)); err != nil {
		t.Fatal(err)
	}
	if f.JWTProblem != "" {
		t.Fatalf("app JWT: %s", f.JWTProblem)
	}
	if f.Tokens < 2 {
		t.Fatalf("installation token fetched %d times; it expires within the refresh margin", f.Tokens)
	}
	for _, a := range f.Auth {
		if !strings.HasPrefix(a, "token ghs_installation") {
			t.Fatalf("api auth %q", a)
		}
	}
}

// Secondary rate limits (Retry-After) and 5xx are waited out and retried.
func TestRateLimitsAndServerErrorsAreRetried(t *testing.T) {
	f := githubtest.New()
	var n int
	var waits []time.Duration
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" && strings.HasSuffix(r.URL.Path, "/pulls") && n < 2 {
			n++
			if n == 1 {
				w.Header().Set("Retry-After", "1")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				w.Write([]byte(`{"message":"You have exceeded a secondary rate limit.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`))
				return
			}
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		f.ServeHTTP(w, r)
	}))
	defer srv.Close()
	t.Setenv("SRE_GH_TOKEN", "github_pat_x")
	tg, _, err := New(context.Background(), config.GitHubTarget{BaseURL: srv.URL + "/api/v3/", Owner: "o", Repo: "r", BaseBranch: "main", Token: "env://SRE_GH_TOKEN"},
		secrets.New(secrets.Options{}, nil), http.DefaultTransport)
	if err != nil {
		t.Fatal(err)
	}
	// go-github itself refuses requests until a secondary limit passes, so
	// the waits are real (and short).
	tg.sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return backoff.Sleep(ctx, d)
	}
	if _, err := tg.Deliver(context.Background(), proposal(diff)); err != nil {
		t.Fatal(err)
	}
	if len(waits) != 2 || waits[0] != time.Second {
		t.Fatalf("waits %v: want the 1 s Retry-After, then a backoff", waits)
	}
}

// The repository as the API shows it feeds grounded analysis: a frame maps
// to main.go and its window comes from the base branch.
func TestSourceForGroundedAnalysis(t *testing.T) {
	f := githubtest.New()
	tg, _ := patTarget(t, f, "github_pat_x")
	fd := coderef.NewFinder(tg.Source(), "")
	ws, err := fd.Gather(context.Background(), coderef.Inputs{Frames: []domain.Frame{{File: "/go/src/app/main.go", Line: 4, InApp: true, Lang: "go"}}}, 4000)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].Path != "main.go" || !strings.Contains(ws[0].Text, "4: \tprintln(\"hi\")") || ws[0].Version != coderef.Version(githubtest.MainGo) {
		t.Fatalf("windows %+v", ws)
	}
	// Cached per commit: a second gather reads nothing new.
	before := f.Count("GET /repos/o/r/contents/main.go")
	fd.Gather(context.Background(), coderef.Inputs{Frames: []domain.Frame{{File: "main.go", Line: 2, InApp: true}}}, 4000)
	if f.Count("GET /repos/o/r/contents/main.go") != before {
		t.Fatal("the same commit's file was fetched again")
	}
}

// A delivery retried with its idempotency key (its replica died after
// writing) finds what it wrote and writes nothing; a new run's key comments.
func TestIdempotencyKeyMakesRetriesWriteNothing(t *testing.T) {
	f := githubtest.New()
	tg, _ := patTarget(t, f, "github_pat_finegrained")
	p := proposal(diff)
	p.IdempotencyKey = "run1key"
	for range 2 {
		if _, err := tg.Deliver(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	if f.Count("POST /repos/o/r/pulls") != 1 || f.Count("POST /repos/o/r/issues/1/comments") != 0 {
		t.Fatalf("a retried delivery wrote again: %v", f.Seq)
	}
	p.IdempotencyKey = "run2key"
	for range 2 {
		if _, err := tg.Deliver(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	if f.Count("POST /repos/o/r/pulls") != 1 || f.Count("POST /repos/o/r/issues/1/comments") != 1 {
		t.Fatalf("the second run: %d comments, want 1", f.Count("POST /repos/o/r/issues/1/comments"))
	}
	if !strings.Contains(f.Comments[0]["body"].(string), "idempotency-key: run2key") {
		t.Errorf("the comment does not carry its key: %v", f.Comments[0])
	}
}
