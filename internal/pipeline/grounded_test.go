package pipeline_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/llm"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/coderef"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/policy"
)

const sampleRepo = "coderef/testdata/samplerepo"

// The sample repository's bugs: a trace as the service prints it, the
// faulty function the analysis prompt must show, and a fix.
var bugs = []struct {
	name, trace, template, faulty, fix string
}{
	{"go", "goroutine 1 [running]:\nexample.com/shop/svc/cart.(*Cart).Add(...)\n\t/build/src/example.com/shop/svc/cart/cart.go:15 +0x5d\n",
		"panic: assignment to entry in nil map", "func (c *Cart) Add(item string, n int) {",
		"--- a/svc/cart/cart.go\n+++ b/svc/cart/cart.go\n@@ -14,3 +14,6 @@ func New() *Cart {\n func (c *Cart) Add(item string, n int) {\n+\tif c.items == nil {\n+\t\tc.items = map[string]int{}\n+\t}\n \tc.items[item] += n // BUG: items is never made, so this panics\n }\n"},
	{"python", "Traceback (most recent call last):\n  File \"/app/tools/report.py\", line 13, in main\n  File \"/app/tools/report.py\", line 9, in top_item\nIndexError: list index out of range\n",
		"IndexError: list index out of range", "def top_item(orders):",
		"--- a/tools/report.py\n+++ b/tools/report.py\n@@ -6,6 +6,8 @@ def top_item(orders):\n     for o in orders:\n         counts[o] = counts.get(o, 0) + 1\n     ranked = sorted(counts, key=counts.get, reverse=True)\n+    if not ranked:\n+        return None\n     return ranked[0]  # BUG: IndexError when there are no orders\n \n \n"},
	{"node", "    at displayName (/srv/app/web/user.js:4:23)\n    at render (/srv/app/web/user.js:8:25)\n",
		"TypeError: Cannot read properties of undefined (reading 'name')", "function displayName(user) {",
		"--- a/web/user.js\n+++ b/web/user.js\n@@ -2,5 +2,5 @@\n function displayName(user) {\n   // BUG: user.profile is undefined for guests\n-  return user.profile.name;\n+  return (user.profile && user.profile.name) || \"guest\";\n }\n \n"},
}

func TestGroundedAnalysisAndValidatedFix(t *testing.T) {
	for _, bug := range bugs {
		t.Run(bug.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			e.store.Advance(ctx, "fp-nilmap", domain.StateNotActionable, []byte(`{"number":1}`))
			fp := domain.Fingerprint("fp-" + bug.name)
			e.store.Save(ctx, "bug", nil, []domain.Incident{{Fingerprint: fp, Service: "shop", Severity: domain.Error, State: domain.StateNew,
				FirstSeen: time.Unix(0, 0), LastSeen: time.Unix(5, 0), Count: 3, Stack: bug.trace,
				Templates: []domain.Template{{ID: "t", Text: bug.template, Count: 3}}, Samples: []string{"ERROR " + bug.template}}})
			m, _ := coderef.NewMap([]coderef.Repo{{Service: "shop", Path: sampleRepo}})
			rem, _ := json.Marshal(domain.Remediation{Summary: "guard the case", Steps: []string{"apply the diff"}, Risk: "low", TestPlan: []string{"reproduce"}, Diff: bug.fix})
			sp := script(map[domain.Stage][]reply{domain.StageTriage: {{text: okTriage}}, domain.StageAnalysis: {{text: okAnalysis}}, domain.StageRemediation: {{text: string(rem)}}})
			gate, _ := policy.New(policy.DefaultConfig(), redact.New(redact.DefaultOptions()))
			p, err := pipeline.New(config.DefaultPipeline(), pipeline.Deps{Provider: sp, Store: e.store, Deliverer: e.deliver, Gate: gate, Audit: e.audit, Code: m})
			if err != nil {
				t.Fatal(err)
			}
			drain(t, p)
			var analysis llm.Request
			for _, r := range sp.reqs {
				if r.Stage == domain.StageAnalysis {
					analysis = r
				}
			}
			if !strings.Contains(analysis.Prompt, bug.faulty) {
				t.Fatalf("the analysis prompt lacks the faulty function %q", bug.faulty)
			}
			// Trusted code sits outside the untrusted data block.
			if i, j := strings.Index(analysis.Prompt, bug.faulty), strings.Index(analysis.Prompt, "<<<DATA-"); i > j {
				t.Fatal("repository code was put inside the untrusted data block")
			}
			got, raw, _ := e.store.Find(ctx, string(fp))
			var run domain.Run
			json.Unmarshal(raw, &run)
			if got.State != domain.StateDelivered || run.Validation == nil || !run.Validation.Passed() {
				t.Fatalf("state %s, validation %+v", got.State, run.Validation)
			}
		})
	}
}

// A LogEntry's sourceLocation points at the code as a stack frame does.
func TestSourceLocationReachesThePrompt(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.store.Advance(ctx, "fp-nilmap", domain.StateNotActionable, []byte(`{"number":1}`))
	e.store.Save(ctx, "le", nil, []domain.Incident{{Fingerprint: "fp-sl", Service: "shop", Severity: domain.Error, State: domain.StateNew,
		FirstSeen: time.Unix(0, 0), LastSeen: time.Unix(5, 0), Count: 1,
		Templates:      []domain.Template{{ID: "t", Text: "top item failed", Count: 1}},
		SourceLocation: &domain.SourceLocation{File: "/workspace/tools/report.py", Line: 9, Function: "top_item"}}})
	m, _ := coderef.NewMap([]coderef.Repo{{Service: "shop", Path: sampleRepo}})
	sp := script(map[domain.Stage][]reply{domain.StageTriage: {{text: okTriage}}, domain.StageAnalysis: {{text: okAnalysis}}, domain.StageRemediation: {{text: okRemedy}}})
	gate, _ := policy.New(policy.DefaultConfig(), redact.New(redact.DefaultOptions()))
	p, _ := pipeline.New(config.DefaultPipeline(), pipeline.Deps{Provider: sp, Store: e.store, Deliverer: e.deliver, Gate: gate, Audit: e.audit, Code: m})
	drain(t, p)
	for _, r := range sp.reqs {
		if r.Stage == domain.StageAnalysis && !strings.Contains(r.Prompt, "def top_item(orders):") {
			t.Fatal("the sourceLocation's function is not in the analysis prompt")
		}
	}
}
