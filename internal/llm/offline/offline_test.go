package offline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/stack"
	"github.com/cloud-sre-agent/sre-agent/internal/llm"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline"
)

func evidence(template string, stackText string, sev domain.Severity) *domain.Evidence {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	return &domain.Evidence{Fingerprint: "fp", Service: "checkout", Severity: sev, Count: 42, FirstSeen: t0, LastSeen: t0.Add(time.Minute),
		Templates: []domain.Template{{Text: template, Count: 42}}, Samples: []string{"2026-03-01T10:00:00Z ERROR " + template},
		Frames: stack.Parse(stackText)}
}

func ask[T any](t *testing.T, st domain.Stage, ev *domain.Evidence) T {
	t.Helper()
	resp, err := New().Complete(context.Background(), llm.Request{Stage: st, Evidence: ev})
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := pipeline.Decode(st, resp.Text, &out); err != nil {
		t.Fatalf("offline %s answer fails its own schema: %v\n%s", st, err, resp.Text)
	}
	return out
}

func TestClassifiesCommonFailures(t *testing.T) {
	goPanic := "goroutine 1 [running]:\nmain.(*Cart).Total(0x0)\n\t/src/cart/cart.go:57 +0x1d\n"
	cases := []struct {
		template, stack, category string
	}{
		{"dial tcp <*>:5432: connect: connection refused", "", domain.CategoryDependency},
		{"upstream request timeout after <*> ms", "", domain.CategoryTimeout},
		{"context deadline exceeded while calling <*>", "", domain.CategoryTimeout},
		{"java.lang.OutOfMemoryError: Java heap space", "", domain.CategoryOOM},
		{"write /var/lib/data/<*>: no space left on device", "", domain.CategoryDiskFull},
		{"x509: certificate has expired or is not yet valid", "", domain.CategoryTLS},
		{"rpc error: code = PermissionDenied desc = Permission denied on resource <*>", "", domain.CategoryPermission},
		{"panic: runtime error: invalid memory address or nil pointer dereference", goPanic, domain.CategoryCodeDefect},
		{"IndexError: list index out of range", "", domain.CategoryCodeDefect},
		{"required environment variable DATABASE_URL is not set", "", domain.CategoryConfig},
		{"HTTP 429 Too Many Requests from <*>", "", domain.CategoryRateLimited},
		{"Back-off restarting failed container app in pod <*>", "", domain.CategoryCrashLoop},
		{"unexpected response from ledger: <*>", "", domain.CategoryOther},
		{"request failed with code <*>", goPanic, domain.CategoryCodeDefect},
	}
	for _, tc := range cases {
		ev := evidence(tc.template, tc.stack, domain.Error)
		tri := ask[domain.Triage](t, domain.StageTriage, ev)
		if tri.Category != tc.category {
			t.Errorf("%q: category %s, want %s", tc.template, tri.Category, tc.category)
		}
		if tri.Actionable != (tc.category != domain.CategoryOther) {
			t.Errorf("%q: actionable %v", tc.template, tri.Actionable)
		}
	}
}

func TestAnalysisPointsAtTopAppFrame(t *testing.T) {
	ev := evidence("panic: runtime error: index out of range [3] with length 3",
		"goroutine 7 [running]:\nruntime.goPanicIndex(0x3)\n\t/usr/local/go/src/runtime/panic.go:114 +0x7c\nmain.pick()\n\t/src/app/pick.go:19 +0x2a\n", domain.Critical)
	a := ask[domain.Analysis](t, domain.StageAnalysis, ev)
	if len(a.SuspectedFiles) != 1 || a.SuspectedFiles[0].Path != "/src/app/pick.go" || a.SuspectedFiles[0].Line != 19 {
		t.Fatalf("suspected files %+v", a.SuspectedFiles)
	}
	r := ask[domain.Remediation](t, domain.StageRemediation, ev)
	if r.Diff != "" {
		t.Fatal("the offline provider must never write code")
	}
	if len(r.Steps) == 0 || len(r.TestPlan) == 0 {
		t.Fatalf("empty runbook %+v", r)
	}
	tri := ask[domain.Triage](t, domain.StageTriage, ev)
	if tri.Severity != "critical" {
		t.Fatalf("severity %s", tri.Severity)
	}
}

// With the repository's code windows (mapped from the stack by coderef),
// the analysis quotes the code at the innermost frame and names the file
// by its repository path; a window that does not hold the line, or
// another file, is not quoted.
func TestAnalysisQuotesTheCodeAtTheFrame(t *testing.T) {
	ev := evidence("panic: runtime error: index out of range [3] with length 3",
		"goroutine 7 [running]:\nruntime.goPanicIndex(0x3)\n\t/usr/local/go/src/runtime/panic.go:114 +0x7c\nmain.pick()\n\t/src/app/pick.go:19 +0x2a\n", domain.Critical)
	ev.Code = []domain.CodeWindow{
		{Path: "cmd/other.go", Start: 1, End: 40, Text: "19: return nil\n"},
		{Path: "app/pick.go", Start: 15, End: 22, Text: "15: func pick(xs []string) string {\n16: \ti := len(xs)\n19: \treturn xs[i] // `boom`\n20: }\n"},
	}
	a := ask[domain.Analysis](t, domain.StageAnalysis, ev)
	if !strings.Contains(a.RootCause, "where app/pick.go:19 reads: `return xs[i] // 'boom'`") {
		t.Errorf("root cause does not quote the code: %s", a.RootCause)
	}
	if a.SuspectedFiles[0].Path != "app/pick.go" || a.SuspectedFiles[0].Line != 19 {
		t.Errorf("suspected %+v", a.SuspectedFiles)
	}
	var code bool
	for _, e := range a.Evidence {
		code = code || (e.Kind == "frame" && strings.Contains(e.Note, "app/pick.go:19 reads: `return xs[i]"))
	}
	if !code {
		t.Errorf("no code evidence: %+v", a.Evidence)
	}
	r := ask[domain.Remediation](t, domain.StageRemediation, ev)
	if last := r.Steps[len(r.Steps)-1]; !strings.Contains(last, "app/pick.go:19: `return xs[i]") {
		t.Errorf("runbook's last step: %s", last)
	}
	ev.Code = []domain.CodeWindow{{Path: "app/pick.go", Start: 30, End: 60, Text: "30: x\n"}}
	if a := ask[domain.Analysis](t, domain.StageAnalysis, ev); strings.Contains(a.RootCause, "reads:") {
		t.Errorf("quoted code the windows do not hold: %s", a.RootCause)
	}
}

func TestDeterministic(t *testing.T) {
	ev := evidence("dial tcp <*>: connection refused", "", domain.Error)
	a, _ := New().Complete(context.Background(), llm.Request{Stage: domain.StageAnalysis, Evidence: ev})
	b, _ := New().Complete(context.Background(), llm.Request{Stage: domain.StageAnalysis, Evidence: ev})
	if a.Text != b.Text {
		t.Fatal("same evidence, different answers")
	}
}

func TestNoEvidenceIsAnError(t *testing.T) {
	if _, err := New().Complete(context.Background(), llm.Request{Stage: domain.StageTriage}); err == nil {
		t.Fatal("want an error")
	}
}

// Without a model the analysis still says what the evidence says: the
// failing call and the endpoints it names, when and how often, what
// changed.
func TestAnalysisSaysWhatTheEvidenceSays(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 9, 0, 42, 0, time.UTC)
	ev := &domain.Evidence{Service: "checkout", Severity: domain.Error, Count: 12, FirstSeen: t0, LastSeen: t0.Add(4 * time.Minute),
		Reasons: []domain.Reason{domain.ReasonNewTemplate, domain.ReasonBurst},
		Why: &domain.Explanation{Rule: domain.ReasonBurst, ShortWindow: time.Minute, ShortErrors: 12, ShortEvents: 30, BaselineRatio: 0.02, WarmedUp: true,
			TemplateCount: 12, TemplateBaseline: 0},
		Templates: []domain.Template{{Text: "dial tcp <*>:5432: connect: connection refused (payments-db pool exhausted, attempt <*>)", Count: 12}},
		Samples: []string{"2026-11-20T09:00:42.000Z ERROR dial tcp 10.20.2.7:5432: connect: connection refused (payments-db pool exhausted, attempt 3)",
			"2026-11-20T09:00:45.000Z ERROR dial tcp 10.20.1.7:5432: connect: connection refused (payments-db pool exhausted, attempt 6)"}}
	a := classify(ev).analysis(ev)
	for _, want := range []string{"cannot reach a dependency", `"dial tcp" to 10.20.2.7:5432, 10.20.1.7:5432`, "12 events from 2026-11-20T09:00:42Z",
		"about 3.0 a minute", "new to the service", "error rate rose above its baseline",
		"12 errors in 30 events over 1m0s (40%) against a usual 2.0%; the leading error 12 times, usually 0.0"} {
		if !strings.Contains(a.RootCause, want) {
			t.Errorf("root cause lacks %q: %s", want, a.RootCause)
		}
	}
	// A certificate: the peer by name.
	ev = &domain.Evidence{Service: "checkout", Severity: domain.Error, Count: 2, FirstSeen: t0, LastSeen: t0,
		Samples: []string{"ERROR x509: certificate has expired or is not yet valid (peer tax-api.internal:443)"}}
	if a := classify(ev).analysis(ev); !strings.Contains(a.RootCause, `"x509" to tax-api.internal:443`) || strings.Contains(a.RootCause, "a minute") {
		t.Errorf("x509: %s", a.RootCause)
	}
}
