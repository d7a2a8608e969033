package gitlab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
)

type fakeGitLab struct {
	mu        sync.Mutex
	seq       []string
	bodies    map[string]string
	mrs       []map[string]any
	branch    bool
	failMR    int
	tokens    []string
	commitOps []map[string]any
	notes     map[string][]string // merge request iid: note bodies
	// fail answers the next requests to a path with these statuses
	// (429 with Retry-After: 1, or a 5xx).
	fail map[string][]int
}

func (f *fakeGitLab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := io.ReadAll(r.Body)
	p := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v4/projects/g%2Fp")
	key := r.Method + " " + p
	f.seq = append(f.seq, key)
	f.bodies[key] = string(b)
	f.tokens = append(f.tokens, r.Header.Get("PRIVATE-TOKEN"))
	w.Header().Set("Content-Type", "application/json")
	if st := f.fail[key]; len(st) > 0 {
		f.fail[key] = st[1:]
		if st[0] == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(st[0])
		w.Write([]byte(`{"message":"try later"}`))
		return
	}
	switch {
	case r.Method == "GET" && r.URL.EscapedPath() == "/api/v4/users":
		u := r.URL.Query().Get("username")
		if u == "ghost" {
			w.Write([]byte(`[]`))
			return
		}
		fmt.Fprintf(w, `[{"id":%d,"username":%q}]`, 100+len(u), u)
	case r.Method == "PUT" && strings.HasPrefix(p, "/merge_requests/"):
		w.Write([]byte(`{"iid":1}`))
	case r.Method == "GET" && strings.HasSuffix(p, "/notes"):
		iid := strings.TrimSuffix(strings.TrimPrefix(p, "/merge_requests/"), "/notes")
		var out []map[string]any
		for i, b := range f.notes[iid] {
			out = append(out, map[string]any{"id": i + 1, "body": b})
		}
		if out == nil {
			out = []map[string]any{}
		}
		json.NewEncoder(w).Encode(out)
	case r.Method == "GET" && p == "/merge_requests":
		json.NewEncoder(w).Encode(f.mrs)
	case r.Method == "GET" && (p == "/repository/files/main.go/raw" || p == "/repository/files/main%2Ego/raw"):
		w.Write([]byte("package main\n\nfunc main() {\n\tprintln(\"hi\")\n}\n"))
	case r.Method == "GET" && p == "/repository/tree":
		w.Write([]byte(`[{"id":"a","name":"main.go","type":"blob","path":"main.go","mode":"100644"},{"id":"b","name":"docs","type":"tree","path":"docs","mode":"040000"}]`))
	case r.Method == "GET" && p == "/repository/branches/main":
		w.Write([]byte(`{"name":"main","commit":{"id":"c0ffee"}}`))
	case r.Method == "GET" && strings.HasPrefix(p, "/repository/branches/"):
		if !f.branch {
			w.WriteHeader(404)
			w.Write([]byte(`{"message":"404 Branch Not Found"}`))
			return
		}
		w.Write([]byte(`{"name":"sre-agent/abcdef01"}`))
	case r.Method == "POST" && p == "/repository/commits":
		var in map[string]any
		json.Unmarshal(b, &in)
		f.commitOps = append(f.commitOps, in)
		f.branch = true
		w.WriteHeader(201)
		w.Write([]byte(`{"id":"c1"}`))
	case r.Method == "POST" && p == "/merge_requests":
		if f.failMR > 0 {
			f.failMR--
			w.WriteHeader(409)
			w.Write([]byte(`{"message":"conflict"}`))
			return
		}
		n := len(f.mrs) + 1
		var in map[string]any
		json.Unmarshal(b, &in)
		mr := map[string]any{"iid": n, "state": "opened", "web_url": fmt.Sprintf("https://gitlab.example/g/p/-/merge_requests/%d", n), "description": in["description"]}
		f.mrs = append(f.mrs, mr)
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(mr)
	case r.Method == "POST" && strings.HasSuffix(p, "/notes"):
		var in map[string]any
		json.Unmarshal(b, &in)
		iid := strings.TrimSuffix(strings.TrimPrefix(p, "/merge_requests/"), "/notes")
		if f.notes == nil {
			f.notes = map[string][]string{}
		}
		body, _ := in["body"].(string)
		f.notes[iid] = append(f.notes[iid], body)
		w.WriteHeader(201)
		w.Write([]byte(`{"id":1}`))
	default:
		w.WriteHeader(404)
		w.Write([]byte(`{"message":"404 Not Found"}`))
	}
}

func (f *fakeGitLab) count(k string) int {
	n := 0
	for _, s := range f.seq {
		if s == k {
			n++
		}
	}
	return n
}

func proposal() domain.Proposal {
	return domain.Proposal{
		Incident: domain.Incident{Fingerprint: "abcdef0123456789abcd", Service: "api", Severity: domain.Error, Count: 5,
			FirstSeen: time.Unix(1000, 0), LastSeen: time.Unix(2000, 0), Templates: []domain.Template{{Text: "greeting failed", Count: 5}}},
		Triage:   domain.Triage{Category: "code-defect", Severity: "high", Actionable: true, Confidence: 0.8, Reasoning: "r"},
		Analysis: domain.Analysis{RootCause: "wrong greeting", Confidence: 0.7},
		Remediation: domain.Remediation{Summary: "fix it", Steps: []string{"edit"}, Risk: "low", TestPlan: []string{"run"},
			Diff: "--- a/main.go\n+++ b/main.go\n@@ -1,5 +1,5 @@\n package main\n \n func main() {\n-\tprintln(\"hi\")\n+\tprintln(\"hello\")\n }\n"},
	}
}

func target(t *testing.T, f *fakeGitLab) *Target {
	return targetWith(t, f, config.GitLabTarget{})
}

func targetWith(t *testing.T, f *fakeGitLab, cfg config.GitLabTarget) *Target {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Setenv("SRE_GL_TOKEN", "glpat-test")
	cfg.BaseURL, cfg.Project, cfg.BaseBranch, cfg.Token = srv.URL+"/api/v4", "g/p", "main", "env://SRE_GL_TOKEN"
	tg, err := New(cfg, secrets.New(secrets.Options{}, nil), http.DefaultTransport)
	if err != nil {
		t.Fatal(err)
	}
	tg.sleep = func(context.Context, time.Duration) error { return nil }
	return tg
}

func TestDraftMergeRequestOnceThenNotes(t *testing.T) {
	f := &fakeGitLab{bodies: map[string]string{}}
	tg := target(t, f)
	d, err := tg.Deliver(context.Background(), proposal())
	if err != nil {
		t.Fatal(err)
	}
	want := "GET /merge_requests,GET /repository/files/main%2Ego/raw,GET /repository/branches/sre-agent%2Fabcdef01,POST /repository/commits,POST /merge_requests"
	if strings.Join(f.seq, ",") != want || d.Location != "https://gitlab.example/g/p/-/merge_requests/1" {
		t.Fatalf("sequence %v, location %s", f.seq, d.Location)
	}
	var mr map[string]any
	json.Unmarshal([]byte(f.bodies["POST /merge_requests"]), &mr)
	if !strings.HasPrefix(mr["title"].(string), "Draft: ") || !strings.Contains(mr["labels"].(string), "needs-human-review") ||
		!strings.Contains(mr["description"].(string), "wrong greeting") {
		t.Fatalf("merge request %v", mr)
	}
	acts := f.commitOps[0]["actions"].([]any)
	if a := acts[0].(map[string]any); a["action"] != "update" || !strings.Contains(a["content"].(string), `println("hello")`) {
		t.Fatalf("commit actions %v", acts)
	}
	for _, tok := range f.tokens {
		if tok != "glpat-test" {
			t.Fatalf("token header %q", tok)
		}
	}
	if _, err := tg.Deliver(context.Background(), proposal()); err != nil {
		t.Fatal(err)
	}
	if f.count("POST /merge_requests") != 1 || f.count("POST /merge_requests/1/notes") != 1 {
		t.Fatalf("rerun: %v", f.seq)
	}
}

func TestCrashBetweenCommitAndMergeRequestReusesTheBranch(t *testing.T) {
	f := &fakeGitLab{bodies: map[string]string{}, failMR: 1}
	tg := target(t, f)
	if _, err := tg.Deliver(context.Background(), proposal()); err == nil {
		t.Fatal("a failed merge request was not an error")
	}
	if _, err := tg.Deliver(context.Background(), proposal()); err != nil {
		t.Fatal(err)
	}
	if len(f.mrs) != 1 || len(f.commitOps) != 2 || f.commitOps[1]["force"] != true {
		t.Fatalf("mrs %d, commits %v", len(f.mrs), f.commitOps)
	}
}

func TestSourceForGroundedAnalysis(t *testing.T) {
	f := &fakeGitLab{bodies: map[string]string{}}
	src := target(t, f).Source()
	rev, err := src.Revision(context.Background())
	files, err2 := src.Files(context.Background())
	content, err3 := src.Read(context.Background(), "main.go")
	if err != nil || err2 != nil || err3 != nil || rev != "c0ffee" || len(files) != 1 || files[0] != "main.go" || !strings.Contains(content, "println") {
		t.Fatalf("rev %q files %v content %q errs %v %v %v", rev, files, content, err, err2, err3)
	}
}

// Rate limits (429 with Retry-After) and server errors are waited out and
// retried by the same flow as GitHub's, up to max_attempts; a client
// error is not retried.
func TestRateLimitsAndServerErrorsAreRetried(t *testing.T) {
	f := &fakeGitLab{bodies: map[string]string{}, fail: map[string][]int{"GET /merge_requests": {429, 502}}}
	tg := target(t, f)
	var waits []time.Duration
	tg.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	if _, err := tg.Deliver(context.Background(), proposal()); err != nil {
		t.Fatal(err)
	}
	if f.count("GET /merge_requests") != 3 || len(waits) != 2 || waits[0] != time.Second {
		t.Fatalf("%d list calls, waits %v: want 3 calls, the 1 s Retry-After, then a backoff", f.count("GET /merge_requests"), waits)
	}
	f2 := &fakeGitLab{bodies: map[string]string{}, fail: map[string][]int{"GET /merge_requests": {500, 500, 500, 500, 500}}}
	tg2 := target(t, f2)
	if _, err := tg2.Deliver(context.Background(), proposal()); err == nil || f2.count("GET /merge_requests") != 4 {
		t.Fatalf("err %v after %d calls: want a failure after 4 attempts", err, f2.count("GET /merge_requests"))
	}
	f3 := &fakeGitLab{bodies: map[string]string{}, fail: map[string][]int{"POST /merge_requests": {403}}}
	if _, err := target(t, f3).Deliver(context.Background(), proposal()); err == nil || f3.count("POST /merge_requests") != 1 {
		t.Fatalf("a 403 was retried: %v", f3.seq)
	}
}

// Reviewers and assignees are looked up by name and set on the new merge
// request; an unknown name fails the delivery rather than dropping it.
func TestReviewersAndAssignees(t *testing.T) {
	f := &fakeGitLab{bodies: map[string]string{}}
	tg := targetWith(t, f, config.GitLabTarget{Reviewers: []string{"alice"}, Assignees: []string{"bob"}})
	if _, err := tg.Deliver(context.Background(), proposal()); err != nil {
		t.Fatal(err)
	}
	var upd map[string]any
	json.Unmarshal([]byte(f.bodies["PUT /merge_requests/1"]), &upd)
	if fmt.Sprint(upd["reviewer_ids"]) != "[105]" || fmt.Sprint(upd["assignee_ids"]) != "[103]" {
		t.Fatalf("update %v", upd)
	}
	f2 := &fakeGitLab{bodies: map[string]string{}}
	if _, err := targetWith(t, f2, config.GitLabTarget{Reviewers: []string{"ghost"}}).Deliver(context.Background(), proposal()); err == nil {
		t.Fatal("an unknown reviewer was ignored")
	}
}

// A delivery retried with its idempotency key finds what it wrote (the
// merge request's description, or its note) and writes nothing; a new
// run's key adds one note.
func TestIdempotencyKeyMakesRetriesWriteNothing(t *testing.T) {
	f := &fakeGitLab{bodies: map[string]string{}}
	tg := target(t, f)
	p := proposal()
	p.IdempotencyKey = "run1key"
	for range 2 {
		if _, err := tg.Deliver(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	if f.count("POST /merge_requests") != 1 || f.count("POST /merge_requests/1/notes") != 0 {
		t.Fatalf("a retried delivery wrote again: %v", f.seq)
	}
	p.IdempotencyKey = "run2key"
	for range 2 {
		if _, err := tg.Deliver(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	if f.count("POST /merge_requests/1/notes") != 1 || !strings.Contains(f.notes["1"][0], "idempotency-key: run2key") {
		t.Fatalf("the second run: notes %v", f.notes)
	}
}
