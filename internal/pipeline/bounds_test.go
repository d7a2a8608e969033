package pipeline_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/policy"
)

// Over the model-call bound an incident waits in its stage, visibly and
// audited once; Drain does not wait for it.
func TestModelCallBoundDefersAndIsAuditedOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, fp := range []domain.Fingerprint{"fp-2", "fp-3"} {
		in := domain.Incident{Fingerprint: fp, Service: "cache", Severity: domain.Error, State: domain.StateNew, FirstSeen: time.Unix(1000, 0), LastSeen: time.Unix(1000, 0), Count: 1,
			Templates: []domain.Template{{ID: domain.TemplateID(fp), Text: "x " + string(fp), Count: 1}}}
		if err := e.store.Save(ctx, string(fp), nil, []domain.Incident{in}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.DefaultPipeline()
	cfg.Bounds.ModelCallsPerHour = 4
	sp := script(map[domain.Stage][]reply{domain.StageTriage: {{text: okTriage}}, domain.StageAnalysis: {{text: okAnalysis}}, domain.StageRemediation: {{text: okRemedy}}})
	p := e.pipeline(t, sp, cfg)
	_, waiting, err := p.Drain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if waiting {
		t.Fatal("Drain waits for work a bound holds back")
	}
	calls := sp.calls[domain.StageTriage] + sp.calls[domain.StageAnalysis] + sp.calls[domain.StageRemediation]
	if calls != 4 {
		t.Fatalf("%d model calls under a bound of 4", calls)
	}
	deferred := 0
	for _, fp := range []string{"fp-nilmap", "fp-2", "fp-3"} {
		_, raw, _ := e.store.Find(ctx, fp)
		var r domain.Run
		json.Unmarshal(raw, &r)
		if strings.Contains(r.Deferred, pipeline.BoundModelCalls) && r.RetryAt.After(time.Now()) {
			deferred++
		}
	}
	if deferred != 2 {
		t.Fatalf("%d incidents deferred, want 2", deferred)
	}
	bounds := 0
	for _, rec := range e.records(t) {
		if rec.Kind == audit.KindBound {
			bounds++
		}
	}
	if bounds != 1 {
		t.Fatalf("%d bound records, want 1 per bound and repository per hour", bounds)
	}
	if got := testutil.ToFloat64(mustCounter(t, e.reg, "sre_agent_bounded_total")); got != 2 {
		t.Fatalf("bounded metric %v", got)
	}
}

// Answers are stored redacted, and what the redactor found refuses the
// proposal.
func TestAnswersAreRedactedBeforeTheStore(t *testing.T) {
	e := newEnv(t)
	token := "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
	analysis := strings.Replace(okAnalysis, "the cache map is nil", "the cache map is nil; push with "+token, 1)
	p := e.pipeline(t, script(map[domain.Stage][]reply{domain.StageTriage: {{text: okTriage}}, domain.StageAnalysis: {{text: analysis}}, domain.StageRemediation: {{text: okRemedy}}}), config.DefaultPipeline())
	drain(t, p)
	st, r := e.run(t)
	if st != domain.StateRejected || !strings.Contains(strings.Join(r.Rejection.Rules(), ","), policy.RuleSecret) {
		t.Fatalf("state %s, run %+v", st, r.Rejection)
	}
	_, raw, _ := e.store.Find(context.Background(), "fp-nilmap")
	if strings.Contains(string(raw), token) {
		t.Fatal("the token is stored")
	}
	if !strings.Contains(r.Analysis.RootCause, "the cache map is nil") {
		t.Fatalf("root cause lost: %q", r.Analysis.RootCause)
	}
}

// A summary incident is recorded without a model call or a delivery.
func TestSummaryIncidentIsNotSentToAModel(t *testing.T) {
	e := newEnv(t)
	in := domain.Incident{Fingerprint: domain.NewFingerprint("cache", domain.OverLimitTemplate), Service: "cache", Severity: domain.Error, State: domain.StateNew,
		FirstSeen: time.Unix(1000, 0), LastSeen: time.Unix(1000, 0), Count: 40, Reasons: []domain.Reason{domain.ReasonOverLimit},
		Templates: []domain.Template{{ID: "a", Text: "a", Count: 40}}}
	ctx := context.Background()
	if err := e.store.Save(ctx, "s", nil, []domain.Incident{in}); err != nil {
		t.Fatal(err)
	}
	sp := script(map[domain.Stage][]reply{domain.StageTriage: {{text: okTriage}}, domain.StageAnalysis: {{text: okAnalysis}}, domain.StageRemediation: {{text: okRemedy}}})
	p := e.pipeline(t, sp, config.DefaultPipeline())
	if _, err := p.Process(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, _, _ := e.store.Find(ctx, string(in.Fingerprint))
	if got.State != domain.StateNotActionable || len(sp.reqs) != 0 || e.deliver.n != 0 {
		t.Fatalf("state %s, %d model calls, %d deliveries", got.State, len(sp.reqs), e.deliver.n)
	}
}
