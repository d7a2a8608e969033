package main

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/delivery/github/githubtest"
)

// With a config pointing at a (test) GitHub, each incident becomes exactly
// one draft pull request whose body carries the evidence and no secret;
// running again adds comments and nothing else.
func TestRunOpensOneDraftPullRequestPerIncident(t *testing.T) {
	f := githubtest.New()
	srv := httptest.NewServer(f)
	defer srv.Close()
	t.Setenv("SRE_TEST_GITHUB_TOKEN", "github_pat_finegrained")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte(githubDelivery(srv.URL, "SRE_TEST_GITHUB_TOKEN")+`http: {addr: ""}
pipeline: {bounds: {deliveries_per_hour: 50}}
`), 0o600)
	args := []string{"--config", cfg, "run", "--db", filepath.Join(dir, "s.db"), sampleLog}
	out := execute(t, "", args...)
	m := regexp.MustCompile(`(\d+) delivered`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("nothing delivered:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	if len(f.PRs) != n || n < 4 {
		t.Fatalf("%d pull requests for %d delivered incidents", len(f.PRs), n)
	}
	for _, pr := range f.PRs {
		if pr["draft"] != true {
			t.Fatalf("not a draft: %v", pr)
		}
	}
	bodies := ""
	for k, v := range f.Bodies {
		if strings.HasPrefix(k, "POST /repos/o/r/pulls") || strings.HasPrefix(k, "POST /repos/o/r/git/blobs") {
			bodies += v
		}
	}
	for _, secret := range []string{"ghp_1234567890abcdef", "jane.doe@example.com", "github_pat_finegrained"} {
		if strings.Contains(bodies, secret) {
			t.Fatalf("%s reached GitHub", secret)
		}
	}
	var last map[string]any
	json.Unmarshal([]byte(f.Bodies["POST /repos/o/r/pulls"]), &last)
	if body, _ := last["body"].(string); !strings.Contains(body, "## Evidence") || !strings.Contains(body, "events") {
		t.Fatalf("body lacks the evidence:\n%s", body)
	}
	// Again, with more of the same log: comments only.
	before := len(f.Seq)
	execute(t, "", args...)
	if len(f.PRs) != n || f.Count("POST /repos/o/r/pulls") != n {
		t.Fatalf("second run opened pull requests: %d", len(f.PRs))
	}
	for _, s := range f.Seq[before:] {
		if !strings.HasSuffix(s, "/comments") && !strings.HasPrefix(s, "GET ") {
			t.Fatalf("second run changed more than comments: %s", s)
		}
	}
}

// delivery.also: each proposal becomes a draft pull request and, beside
// it, a local report; the pull request stays the incident's delivery.
func TestDeliveryAlsoWritesALocalReportBesideThePullRequest(t *testing.T) {
	f := githubtest.New()
	srv := httptest.NewServer(f)
	defer srv.Close()
	t.Setenv("SRE_TEST_GITHUB_TOKEN", "github_pat_finegrained")
	dir := t.TempDir()
	reports := filepath.Join(dir, "reports")
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte(githubDelivery(srv.URL, "SRE_TEST_GITHUB_TOKEN")+"  also: [local]\n  local: {dir: "+reports+"}\n"+`http: {addr: ""}
pipeline: {bounds: {deliveries_per_hour: 50}}
`), 0o600)
	out := execute(t, "", "--config", cfg, "run", "--db", filepath.Join(dir, "s.db"), sampleLog)
	m := regexp.MustCompile(`(\d+) delivered`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("nothing delivered:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	written, _ := filepath.Glob(filepath.Join(reports, "*.md"))
	if len(f.PRs) != n || n < 4 || len(written) < n {
		t.Fatalf("%d delivered, %d pull requests, %d local reports", n, len(f.PRs), len(written))
	}
}
