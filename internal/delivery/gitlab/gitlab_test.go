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
	switch {
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
		mr := map[string]any{"iid": n, "state": "opened", "web_url": fmt.Sprintf("https://gitlab.example/g/p/-/merge_requests/%d", n)}
		f.mrs = append(f.mrs, mr)
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(mr)
	case r.Method == "POST" && strings.HasSuffix(p, "/notes"):
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
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Setenv("SRE_GL_TOKEN", "glpat-test")
	tg, err := New(config.GitLabTarget{BaseURL: srv.URL + "/api/v4", Project: "g/p", BaseBranch: "main", Token: "env://SRE_GL_TOKEN"}, secrets.New(secrets.Options{}, nil), http.DefaultTransport)
	if err != nil {
		t.Fatal(err)
	}
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
