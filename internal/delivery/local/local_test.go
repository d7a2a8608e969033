package local

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/policy"
)

// gitRepo makes a real repository with one committed file.
func gitRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {\n\tprintln(\"hi\")\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "init"}} {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

func proposal(diff string) domain.Proposal {
	return domain.Proposal{
		Incident: domain.Incident{Fingerprint: "abcdef0123456789abcd", Service: "api", Severity: domain.Error, Count: 3,
			Templates: []domain.Template{{Text: "boom ``` <script>alert(1)</script>", Count: 3}},
			Samples:   []string{"ERROR boom ``` <script>alert(1)</script>"}},
		Triage:      domain.Triage{Category: "code-defect", Severity: "high", Actionable: true, Confidence: 0.8, Reasoning: "<b>x</b>"},
		Analysis:    domain.Analysis{RootCause: "nil map", Confidence: 0.7},
		Remediation: domain.Remediation{Summary: "guard it", Steps: []string{"do"}, Risk: "low", TestPlan: []string{"test"}, Diff: diff},
	}
}

const goodPatch = `--- a/main.go
+++ b/main.go
@@ -1,5 +1,5 @@
 package main
 
 func main() {
-	println("hi")
+	println("hello")
 }
`

func TestDeliverReportAndCheckedPatch(t *testing.T) {
	repo := gitRepo(t)
	out := filepath.Join(t.TempDir(), "out")
	tg, err := New(config.LocalTarget{Dir: out, RepoPath: repo})
	if err != nil {
		t.Fatal(err)
	}
	d, err := tg.Deliver(context.Background(), proposal(goodPatch))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Files) != 2 || !strings.HasSuffix(d.Files[1], ".patch") {
		t.Fatalf("files %v", d.Files)
	}
	md, _ := os.ReadFile(d.Location)
	s := string(md)
	if strings.Contains(s, "<script>") && !strings.Contains(s, "````") {
		t.Fatal("log text with backticks escaped its code block")
	}
	if strings.Contains(s, "<b>x</b>") {
		t.Fatal("model prose rendered as HTML")
	}
	for _, want := range []string{"## Root cause", "nil map", "## Proposal", "- [ ] test", "git apply --check"} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	cmd := exec.Command("git", "-C", repo, "apply", "--check", d.Files[1])
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("written patch does not apply: %v %s", err, b)
	}
	// Delivering again replaces, not duplicates.
	if _, err := tg.Deliver(context.Background(), proposal(goodPatch)); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 2 {
		t.Fatalf("%d files after a second delivery", len(entries))
	}
}

func TestPatchThatDoesNotApplyIsRejected(t *testing.T) {
	repo := gitRepo(t)
	tg, _ := New(config.LocalTarget{Dir: t.TempDir(), RepoPath: repo})
	bad := strings.Replace(goodPatch, `println("hi")`, `println("bye")`, 1)
	_, err := tg.Deliver(context.Background(), proposal(bad))
	var rej *delivery.RejectError
	if !errors.As(err, &rej) || rej.Violation.Rule != policy.RulePatchNotApply {
		t.Fatalf("err = %v, want a patch-does-not-apply rejection", err)
	}
}

func TestWordsOnlyProposalHasNoPatch(t *testing.T) {
	dir := t.TempDir()
	tg, _ := New(config.LocalTarget{Dir: dir})
	d, err := tg.Deliver(context.Background(), proposal(""))
	if err != nil || len(d.Files) != 1 {
		t.Fatalf("%+v %v", d, err)
	}
}
