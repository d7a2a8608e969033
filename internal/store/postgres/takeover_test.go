package postgres_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/llm"
	"github.com/cloud-sre-agent/sre-agent/internal/llm/offline"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/policy"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres"
	"github.com/cloud-sre-agent/sre-agent/internal/store/postgres/pgtest"
)

// frozen is a replica that stopped mid-run: its heartbeat no longer
// renews (its model call hangs: hangingProvider).
type frozen struct{ *postgres.Store }

func (f *frozen) Renew(context.Context, domain.Fingerprint) error { return nil }

type hangingProvider struct {
	llm.Provider
	release <-chan struct{}
	once    sync.Once
	called  chan struct{}
}

func (h *hangingProvider) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	if req.Stage == domain.StageAnalysis {
		h.once.Do(func() { close(h.called) })
		<-h.release
	}
	return h.Provider.Complete(ctx, req)
}

type countingTarget struct {
	mu   sync.Mutex
	keys []string
}

func (c *countingTarget) Name() string { return "counting" }

func (c *countingTarget) Deliver(_ context.Context, p domain.Proposal) (domain.Delivery, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys = append(c.keys, p.IdempotencyKey)
	return domain.Delivery{Target: "counting", Location: "pr/1"}, nil
}

func newPipeline(t *testing.T, st pipeline.Store, aud audit.Appender, prov llm.Provider, target delivery.Deliverer) *pipeline.Pipeline {
	t.Helper()
	gate, err := policy.New(policy.DefaultConfig(), redact.New(redact.Options{Email: true}))
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.DefaultPipeline()
	p, err := pipeline.New(cfg, pipeline.Deps{Provider: prov, Store: st, Deliverer: target, Gate: gate, Audit: aud})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A replica that stops mid-run loses its lease; another finishes the
// incident, delivering it once; when the first wakes, its writes are
// refused and it lets go without an error.
func TestPipelineLeaseTakeover(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	a, b := open(t, dsn, "a"), open(t, dsn, "b")
	a.LeaseTTL, b.LeaseTTL = 300*time.Millisecond, 300*time.Millisecond
	in := incident("fp1", 40, t0)
	in.Severity, in.Reasons = domain.Critical, []domain.Reason{domain.ReasonFatal}
	in.Templates[0].Text, in.Samples = "panic: runtime error: invalid memory address or nil pointer dereference", []string{"CRITICAL panic: runtime error"}
	if err := a.Save(ctx, "f", nil, []domain.Incident{in}); err != nil {
		t.Fatal(err)
	}
	audA, err := a.OpenAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	audB, err := b.OpenAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	target := &countingTarget{}
	release := make(chan struct{})
	hang := &hangingProvider{Provider: offline.New(), release: release, called: make(chan struct{})}
	pa := newPipeline(t, &frozen{Store: a}, audA, hang, target)
	doneA := make(chan error, 1)
	go func() { _, _, err := pa.Drain(ctx); doneA <- err }()
	<-hang.called // a has triaged and hangs in analysis

	time.Sleep(400 * time.Millisecond) // a's lease expires
	pb := newPipeline(t, b, audB, offline.New(), target)
	if _, _, err := pb.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := b.Incident(ctx, "fp1")
	if err != nil || !got.State.Terminal() {
		t.Fatalf("b did not finish the incident: %+v %v", got, err)
	}
	close(release)
	if err := <-doneA; err != nil {
		t.Fatalf("a, waking after the takeover: %v", err)
	}
	raw, err := b.LoadRun(ctx, "fp1")
	if err != nil {
		t.Fatal(err)
	}
	var run domain.Run
	json.Unmarshal(raw, &run)
	if run.Triage == nil || run.Analysis == nil {
		t.Fatalf("b's run lacks a's triage or its own analysis: %s", raw)
	}
	again, _ := b.Incident(ctx, "fp1")
	if again.State != got.State {
		t.Errorf("a's late write moved the incident from %s to %s", got.State, again.State)
	}
	if got.State != domain.StateDelivered || len(target.keys) != 1 {
		t.Fatalf("%s with %d deliveries, want delivered once", got.State, len(target.keys))
	}
	if target.keys[0] != pipeline.IdempotencyKey("fp1", 1) {
		t.Errorf("idempotency key %q", target.keys[0])
	}
}
