// Package pipeline takes an incident through triage, analysis and
// remediation behind one model-provider interface, gates the proposal and
// delivers it, recording each step in the store (so a restart resumes
// where it stopped) and every outside action in the audit log.
//
// Every model answer is validated against its stage's JSON schema; an
// invalid answer gets one retry carrying the validation error, then the
// incident fails with the reason. Provider and delivery errors are retried
// with backoff up to a limit.
package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/stack"
	"github.com/cloud-sre-agent/sre-agent/internal/llm"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/injection"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/policy"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/validate"
)

// Store is what the pipeline needs from the incident store. The run is
// stored as opaque JSON beside the incident.
type Store interface {
	// Pending lists incidents whose state is not terminal, most severe
	// first.
	Pending(ctx context.Context, limit int) ([]domain.Incident, error)
	LoadRun(ctx context.Context, fp domain.Fingerprint) (json.RawMessage, error)
	// Advance stores the incident's new state and run in one write.
	Advance(ctx context.Context, fp domain.Fingerprint, state domain.State, run json.RawMessage) error
}

// Claimer is a store several replicas share: an incident is worked only
// by the replica that holds its lease. Claim leases the most urgent
// unfinished incident no live lease holds (nil when none); Renew is the
// heartbeat; both, and Advance, fail with domain.ErrLeaseLost once another
// replica has taken the incident over.
type Claimer interface {
	Claim(ctx context.Context, skip []domain.Fingerprint) (*domain.Incident, error)
	Renew(ctx context.Context, fp domain.Fingerprint) error
	Release(ctx context.Context, fp domain.Fingerprint) error
	LeaseDuration() time.Duration
}

// Ledger records deliveries so that each run of an incident is delivered
// once whichever replica gets there: BeginDelivery returns the delivery
// already made, if any; EndDelivery records the one just made.
type Ledger interface {
	BeginDelivery(ctx context.Context, fp domain.Fingerprint, run int, key string) (*domain.Delivery, error)
	EndDelivery(ctx context.Context, fp domain.Fingerprint, run int, d domain.Delivery) error
}

// CodeFinder finds the repository source an incident points to.
type CodeFinder interface {
	Find(ctx context.Context, in domain.Incident, frames []domain.Frame) ([]domain.CodeWindow, error)
	// Root is the local checkout of an incident's repository ("" if none).
	Root(in domain.Incident) string
}

// Gate is the policy check a proposal must pass.
type Gate interface {
	Check(text, diff string) domain.GateDecision
}

// Pipeline runs incidents through the stages. It is safe for concurrent
// use on different incidents.
type Pipeline struct {
	cfg      config.Pipeline
	provider llm.Provider
	store    Store
	deliver  delivery.Deliverer
	gate     Gate
	audit    audit.Appender
	code     CodeFinder
	changed  func(domain.Fingerprint)
	silences func(context.Context) ([]domain.Silence, error)
	swept    time.Time
	red      Redactor
	limits   *limiter
	log      *slog.Logger
	metrics  *metrics
	tracer   trace.Tracer
	now      func() time.Time
	stop     chan struct{}
	stopOnce sync.Once
}

// Stop asks the pipeline to stop between steps: a model call or delivery
// in flight finishes (within its context), and no new step starts. The
// incidents keep their state, and a restart resumes them.
func (p *Pipeline) Stop() { p.stopOnce.Do(func() { close(p.stop) }) }

func (p *Pipeline) stopped() bool {
	select {
	case <-p.stop:
		return true
	default:
		return false
	}
}

// Deps are the pipeline's collaborators. Registerer may be nil.
type Deps struct {
	Provider   llm.Provider
	Store      Store
	Deliverer  delivery.Deliverer
	Gate       Gate
	Audit      audit.Appender
	Log        *slog.Logger
	Registerer prometheus.Registerer
	// Changed, when set, is told each incident the pipeline advanced.
	Changed func(fp domain.Fingerprint)
	// Silences, when set, are the silences in force (the store's and the
	// config's): a matching incident stops before its next stage.
	Silences func(ctx context.Context) ([]domain.Silence, error)
	// Code, optional, grounds analysis and remediation in the service's
	// repository.
	Code CodeFinder
	// Redactor cleans model answers before they are stored; nil uses one
	// that finds every secret kind, email addresses and phone numbers.
	Redactor Redactor
}

// Redactor finds and removes secrets and personal data in text.
type Redactor interface {
	Redact(string) string
	Find(string) []redact.Kind
}

// New builds a pipeline.
func New(cfg config.Pipeline, d Deps) (*Pipeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Provider == nil || d.Store == nil || d.Deliverer == nil || d.Gate == nil || d.Audit == nil {
		return nil, errors.New("pipeline: provider, store, deliverer, gate and audit are required")
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(d.Registerer)
	if err != nil {
		return nil, err
	}
	red := d.Redactor
	if red == nil {
		red = redact.New(redact.Options{Email: true, Phone: true})
	}
	return &Pipeline{cfg: cfg, provider: d.Provider, store: d.Store, deliver: d.Deliverer, gate: d.Gate, audit: d.Audit, code: d.Code,
		changed: d.Changed, silences: d.Silences, red: red, limits: newLimiter(), log: log, metrics: m, tracer: otel.Tracer("github.com/cloud-sre-agent/sre-agent/internal/pipeline"), now: time.Now,
		stop: make(chan struct{})}, nil
}

// Drain processes every pending incident that is due. It reports how many
// it moved forward and whether any are still waiting for a retry.
func (p *Pipeline) Drain(ctx context.Context) (moved int, waiting bool, err error) {
	if err := p.unsilence(ctx); err != nil {
		return 0, false, err
	}
	next, process, err := p.work(ctx)
	if err != nil {
		return 0, false, err
	}
	for {
		if p.stopped() {
			return moved, true, nil
		}
		if err := ctx.Err(); err != nil {
			return moved, true, err
		}
		in, err := next()
		if err != nil {
			return moved, true, err
		}
		if in == nil {
			return moved, waiting, nil
		}
		before := in.State
		state, deferred, err := process(*in)
		if err != nil {
			return moved, true, err
		}
		if state != before {
			moved++
		}
		// Work a bound holds back is not waited for: it resumes when the
		// bound allows, in this process or the next.
		if !state.Terminal() && !deferred {
			waiting = true
		}
	}
}

// work is where Drain takes incidents from and how it runs each: the
// store's pending list, or, from a store replicas share, one claim at a
// time, each under a lease kept alive by a heartbeat.
func (p *Pipeline) work(ctx context.Context) (next func() (*domain.Incident, error), process func(domain.Incident) (domain.State, bool, error), err error) {
	if cl, ok := p.store.(Claimer); ok {
		var done []domain.Fingerprint
		next = func() (*domain.Incident, error) {
			in, err := cl.Claim(ctx, done)
			if in != nil {
				done = append(done, in.Fingerprint)
			}
			return in, err
		}
		return next, func(in domain.Incident) (domain.State, bool, error) { return p.processLeased(ctx, cl, in) }, nil
	}
	pending, err := p.store.Pending(ctx, 1000)
	if err != nil {
		return nil, nil, err
	}
	next = func() (*domain.Incident, error) {
		if len(pending) == 0 {
			return nil, nil
		}
		in := pending[0]
		pending = pending[1:]
		return &in, nil
	}
	return next, func(in domain.Incident) (domain.State, bool, error) { return p.process(ctx, in) }, nil
}

// processLeased runs Process while a heartbeat renews the lease. A lost
// lease cancels the work in hand: the replica that took the incident
// over finishes it, and this one does not count that as an error.
func (p *Pipeline) processLeased(ctx context.Context, cl Claimer, in domain.Incident) (domain.State, bool, error) {
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	beat := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(max(cl.LeaseDuration()/3, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-beat:
				return
			case <-t.C:
				if err := cl.Renew(context.WithoutCancel(ctx), in.Fingerprint); err != nil {
					p.log.Warn("lease renewal failed: stopping work on the incident", "fingerprint", string(in.Fingerprint), "error", err.Error())
					cancel(err)
					return
				}
			}
		}
	}()
	state, deferred, err := p.process(wctx, in)
	close(beat)
	<-stopped
	if errors.Is(err, domain.ErrLeaseLost) || errors.Is(context.Cause(wctx), domain.ErrLeaseLost) {
		p.log.Info("incident taken over by another replica", "fingerprint", string(in.Fingerprint))
		return in.State, false, nil
	}
	if err != nil {
		return state, deferred, err
	}
	if !state.Terminal() {
		if err := cl.Release(context.WithoutCancel(ctx), in.Fingerprint); err != nil {
			return state, deferred, err
		}
	}
	return state, deferred, nil
}

// Process takes one incident as far as it can go now: to a terminal state,
// or to a stage waiting for a retry or held back by a bound. The returned
// error is a store or audit failure; stage failures are recorded in the
// incident.
func (p *Pipeline) Process(ctx context.Context, in domain.Incident) (domain.State, error) {
	state, _, err := p.process(ctx, in)
	return state, err
}

// process is Process, also reporting whether a bound holds the incident
// back.
func (p *Pipeline) process(ctx context.Context, in domain.Incident) (domain.State, bool, error) {
	var run domain.Run
	raw, err := p.store.LoadRun(ctx, in.Fingerprint)
	if err != nil {
		return in.State, false, err
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &run); err != nil {
			return in.State, false, fmt.Errorf("decode run of %s: %w", in.Fingerprint, err)
		}
	}
	if silenced, err := p.silence(ctx, in, &run); silenced || err != nil {
		return domain.StateSilenced, false, err
	}
	if run.RetryAt.After(p.now()) {
		return in.State, run.Deferred != "", nil
	}
	run.Deferred = ""
	if in.State == domain.StateNew && run.Number == 0 {
		run.Number = 1
	}
	ctx, span := p.tracer.Start(p.traceParent(ctx, &run), "incident", trace.WithAttributes(
		attribute.String("incident.fingerprint", string(in.Fingerprint)),
		attribute.String("incident.service", in.Service),
		attribute.String("incident.severity", in.Severity.String()),
		attribute.String("incident.state.start", string(in.State)),
		attribute.Int("incident.run", run.Number)))
	if run.TraceID == "" && span.SpanContext().IsValid() {
		run.TraceID, run.SpanID = span.SpanContext().TraceID().String(), span.SpanContext().SpanID().String()
	}
	defer span.End()
	ev := evidenceOf(in)
	if !run.Scanned {
		if err := p.scan(ctx, &in, ev, &run); err != nil {
			return in.State, false, err
		}
	}
	state := in.State
	for !state.Terminal() && !p.stopped() {
		next, err := p.step(ctx, state, &in, ev, &run)
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
			return state, false, err
		}
		// The step's outcome is saved even when ctx was cancelled during
		// it: that is what lets a restart resume from here.
		if err := p.save(context.WithoutCancel(ctx), in.Fingerprint, next, &run); err != nil {
			return state, false, err
		}
		if next == state { // waiting for a retry
			break
		}
		p.log.Info("incident advanced", "fingerprint", string(in.Fingerprint), "from", string(state), "to", string(next))
		state = next
	}
	span.SetAttributes(attribute.String("incident.state.end", string(state)))
	if state == domain.StateFailed {
		span.SetStatus(codes.Error, run.Failure)
	}
	return state, run.Deferred != "", nil
}

// silence stops an incident a silence matches before its next stage:
// it is kept and counted, not triaged, delivered or notified; the run
// remembers where it stopped.
func (p *Pipeline) silence(ctx context.Context, in domain.Incident, run *domain.Run) (bool, error) {
	if p.silences == nil || in.State.Terminal() {
		return false, nil
	}
	all, err := p.silences(ctx)
	if err != nil {
		return false, fmt.Errorf("silences: %w", err)
	}
	now := p.now()
	s := domain.Silencing(all, in, now)
	if s == nil {
		return false, nil
	}
	run.Silenced = &domain.Silenced{ID: s.ID, At: now, From: in.State, Until: s.End}
	if run.Number == 0 {
		run.Number = 1
	}
	if _, err := p.audit.Append(ctx, audit.Record{Kind: audit.KindSilenced, Fingerprint: string(in.Fingerprint), Outcome: "silenced",
		Fields: map[string]any{"silence": s.ID, "from": string(in.State), "author": s.Author}}); err != nil {
		return false, fmt.Errorf("audit silence: %w", err)
	}
	p.log.Info("incident silenced", "fingerprint", string(in.Fingerprint), "silence", s.ID, "from", string(in.State))
	return true, p.save(context.WithoutCancel(ctx), in.Fingerprint, domain.StateSilenced, run)
}

// unsilence resumes, where they stopped, the silenced incidents no
// silence matches any more (expired, ended, or edited), at most every
// 30 seconds.
func (p *Pipeline) unsilence(ctx context.Context) error {
	type lister interface {
		Incidents(ctx context.Context) ([]domain.Incident, error)
	}
	ls, ok := p.store.(lister)
	if p.silences == nil || !ok || p.now().Sub(p.swept) < 30*time.Second {
		return nil
	}
	p.swept = p.now()
	all, err := ls.Incidents(ctx)
	if err != nil {
		return err
	}
	var silences []domain.Silence
	for _, in := range all {
		if in.State != domain.StateSilenced {
			continue
		}
		if silences == nil {
			if silences, err = p.silences(ctx); err != nil {
				return fmt.Errorf("silences: %w", err)
			}
		}
		if domain.Silencing(silences, in, p.now()) != nil {
			continue
		}
		raw, err := p.store.LoadRun(ctx, in.Fingerprint)
		if err != nil {
			return err
		}
		var run domain.Run
		if err := json.Unmarshal(raw, &run); err != nil {
			return fmt.Errorf("decode run of %s: %w", in.Fingerprint, err)
		}
		from := domain.StateNew
		id := ""
		if run.Silenced != nil {
			from, id = run.Silenced.From, run.Silenced.ID
		}
		run.Silenced = nil
		if _, err := p.audit.Append(ctx, audit.Record{Kind: audit.KindSilenced, Fingerprint: string(in.Fingerprint), Outcome: "resumed",
			Fields: map[string]any{"silence": id, "to": string(from)}}); err != nil {
			return fmt.Errorf("audit silence: %w", err)
		}
		p.log.Info("silence over: incident resumed", "fingerprint", string(in.Fingerprint), "silence", id, "to", string(from))
		if err := p.save(ctx, in.Fingerprint, from, &run); err != nil {
			return err
		}
	}
	return nil
}

// traceParent makes a resumed run's spans part of the trace its first
// pass started; a first pass starts a new trace.
func (p *Pipeline) traceParent(ctx context.Context, run *domain.Run) context.Context {
	ctx = trace.ContextWithSpanContext(ctx, trace.SpanContext{}) // never a caller's trace
	if run.TraceID == "" {
		return ctx
	}
	tid, err1 := trace.TraceIDFromHex(run.TraceID)
	sid, err2 := trace.SpanIDFromHex(run.SpanID)
	if err1 != nil || err2 != nil {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true}))
}

func (p *Pipeline) save(ctx context.Context, fp domain.Fingerprint, state domain.State, run *domain.Run) error {
	b, err := json.Marshal(run)
	if err != nil {
		return err
	}
	if err := p.store.Advance(ctx, fp, state, b); err != nil {
		return err
	}
	if p.changed != nil {
		p.changed(fp)
	}
	return nil
}

// step runs the stage that follows state and returns the next state; the
// same state means the stage must be retried later.
func (p *Pipeline) step(ctx context.Context, state domain.State, in *domain.Incident, ev *domain.Evidence, run *domain.Run) (domain.State, error) {
	switch state {
	case domain.StateNew:
		if in.Summary() {
			return p.summarised(ctx, in, run)
		}
		var t domain.Triage
		next, err := p.ask(ctx, domain.StageTriage, in, ev, run, &t)
		if next != domain.StateTriaged || err != nil {
			return next, err
		}
		p.clean(run, domain.StageTriage, t.Texts()...)
		run.Triage = &t
		if !t.Actionable {
			return domain.StateNotActionable, nil
		}
		return next, nil
	case domain.StateTriaged:
		if p.code != nil && !run.CodeGathered {
			code, err := p.code.Find(ctx, *in, ev.Frames)
			if err != nil {
				p.log.Warn("could not read the repository", "fingerprint", string(in.Fingerprint), "error", err.Error())
			}
			run.Code, run.CodeGathered = code, true
		}
		ev.Code = run.Code
		var a domain.Analysis
		next, err := p.ask(ctx, domain.StageAnalysis, in, ev, run, &a)
		if next == domain.StateAnalyzed {
			p.clean(run, domain.StageAnalysis, a.Texts()...)
			run.Analysis = &a
		}
		return next, err
	case domain.StateAnalyzed:
		ev.Code = run.Code
		var r domain.Remediation
		next, err := p.ask(ctx, domain.StageRemediation, in, ev, run, &r)
		if next == domain.StateProposed {
			p.clean(run, domain.StageRemediation, append(r.Texts(), &r.Diff)...)
			run.Remediation = &r
		}
		return next, err
	case domain.StateProposed:
		return p.gateAndDeliver(ctx, in, run)
	}
	return domain.StateFailed, fmt.Errorf("incident %s in unknown state %q", in.Fingerprint, state)
}

var stageDone = map[domain.Stage]domain.State{domain.StageTriage: domain.StateTriaged, domain.StageAnalysis: domain.StateAnalyzed, domain.StageRemediation: domain.StateProposed}

var stageFrom = map[domain.Stage]domain.State{domain.StageTriage: domain.StateNew, domain.StageAnalysis: domain.StateTriaged, domain.StageRemediation: domain.StateAnalyzed}

// ask runs one model stage: a call, and one retry when the answer does not
// validate. It returns the stage's done state on success, the same state
// to retry after a provider error, or failed.
func (p *Pipeline) ask(ctx context.Context, st domain.Stage, in *domain.Incident, ev *domain.Evidence, run *domain.Run, out any) (domain.State, error) {
	ctx, span := p.tracer.Start(ctx, string(st))
	defer span.End()
	start := p.now()
	defer func() { p.metrics.stageSeconds.WithLabelValues(string(st)).Observe(p.now().Sub(start).Seconds()) }()
	pr := BuildPrompt(st, ev, run.Triage, run.Analysis, p.cfg.TokenBudget.Of(st))
	req := llm.Request{Stage: st, Model: p.cfg.Models.Of(st), System: pr.System, Prompt: pr.User, Schema: Schema(st),
		Evidence: ev, Triage: run.Triage, Analysis: run.Analysis}
	span.SetAttributes(attribute.Int("prompt.tokens_estimate", llm.EstimateTokens(pr.System)+llm.EstimateTokens(pr.User)),
		attribute.Int("prompt.omitted_items", pr.Omitted))
	for attempt := 1; attempt <= 2; attempt++ {
		repo := p.repository(*in)
		if ok, until := p.limits.take(BoundModelCalls+"\x00"+repo, p.cfg.Bounds.ModelCallsPerHour, p.now()); !ok {
			return stageFrom[st], p.over(ctx, in, run, BoundModelCalls, repo, p.cfg.Bounds.ModelCallsPerHour, until)
		}
		seq, verr, err := p.call(ctx, req, in.Fingerprint, attempt, out)
		if err != nil {
			span.RecordError(err)
			if ctx.Err() != nil {
				// The agent is stopping: not the provider's fault; the
				// stage runs again after a restart.
				return stageFrom[st], nil
			}
			return p.stageError(in, run, st, err)
		}
		if verr != nil {
			p.log.Warn("model answer refused", "fingerprint", string(in.Fingerprint), "stage", string(st), "attempt", attempt, "error", verr.Error())
			if attempt == 2 {
				run.Failure = p.red.Redact(fmt.Sprintf("%s: the model's answer was invalid twice: %v", st, verr))
				span.SetStatus(codes.Error, run.Failure)
				return domain.StateFailed, nil
			}
			req.Retry = verr.Error()
			req.Prompt = pr.User + "\nYour previous answer was refused: " + verr.Error() + "\nAnswer again with one JSON object that satisfies the schema.\n"
			continue
		}
		if st == domain.StageRemediation {
			run.AuditSeq = seq
		}
		run.Errors, run.RetryAt = 0, time.Time{}
		return stageDone[st], nil
	}
	return domain.StateFailed, nil // not reached
}

// call makes one provider call with the stage timeout, validates the
// answer into out and audits the call. verr is a refused answer; err a
// failed call (or an audit failure, which stops the pipeline).
func (p *Pipeline) call(ctx context.Context, req llm.Request, fp domain.Fingerprint, attempt int, out any) (seq int64, verr, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.StageTimeout)
	defer cancel()
	start := p.now()
	resp, err := p.provider.Complete(ctx, req)
	latency := p.now().Sub(start)
	outcome := "ok"
	if err != nil {
		outcome = "error"
	} else if verr = Decode(req.Stage, resp.Text, out); verr != nil {
		outcome = "invalid"
	}
	provider := firstNonEmpty(resp.Provider, p.provider.Name())
	p.metrics.modelCalls.WithLabelValues(provider, string(req.Stage), outcome).Inc()
	p.metrics.modelCost.WithLabelValues(provider, firstNonEmpty(resp.Model, req.Model)).Add(resp.CostUSD)
	p.metrics.modelTokens.WithLabelValues(provider, string(req.Stage), "input").Add(float64(resp.InputTokens))
	p.metrics.modelTokens.WithLabelValues(provider, string(req.Stage), "output").Add(float64(resp.OutputTokens))
	h := sha256.Sum256([]byte(req.System + "\x00" + req.Prompt))
	fields := map[string]any{
		"provider": provider, "model": firstNonEmpty(resp.Model, req.Model), "stage": string(req.Stage),
		"prompt_sha256": hex.EncodeToString(h[:]), "input_tokens": resp.InputTokens, "output_tokens": resp.OutputTokens,
		"latency_ms": latency.Milliseconds(), "attempt": attempt, "cost_usd": resp.CostUSD,
	}
	if resp.Cached {
		fields["cached"] = true
	}
	if resp.Note != "" {
		fields["note"] = resp.Note
	}
	if err != nil {
		fields["error"] = p.red.Redact(err.Error())
	}
	if verr != nil {
		fields["invalid"] = p.red.Redact(verr.Error())
	}
	rec, aerr := p.audit.Append(ctx, audit.Record{Kind: audit.KindModelCall, Fingerprint: string(fp), Outcome: outcome, Fields: fields})
	if aerr != nil {
		// An outside action that cannot be audited must not count as done.
		return 0, nil, &auditError{fmt.Errorf("audit model call: %w", aerr)}
	}
	return rec.Seq, verr, err
}

// stageError records a retryable error of a model stage.
func (p *Pipeline) stageError(in *domain.Incident, run *domain.Run, st domain.Stage, err error) (domain.State, error) {
	var ae *auditError
	if errors.As(err, &ae) {
		return in.State, err
	}
	p.log.Warn("stage error", "fingerprint", string(in.Fingerprint), "stage", string(st), "errors", run.Errors+1, "error", p.red.Redact(err.Error()))
	return p.retryLater(run, string(st), stageFrom[st], err), nil
}

// retryLater counts an error of a step: the step is retried from state
// after a backoff until MaxErrors, then the incident fails.
func (p *Pipeline) retryLater(run *domain.Run, step string, state domain.State, err error) domain.State {
	run.Errors++
	if run.Errors >= p.cfg.MaxErrors {
		run.Failure = p.red.Redact(fmt.Sprintf("%s: %d errors, the last: %v", step, run.Errors, err))
		return domain.StateFailed
	}
	run.RetryAt = p.now().Add(p.cfg.RetryBackoff << (run.Errors - 1))
	return state
}

type auditError struct{ err error }

func (e *auditError) Error() string { return e.err.Error() }
func (e *auditError) Unwrap() error { return e.err }

// gateAndDeliver runs the policy gate, then delivery.
func (p *Pipeline) gateAndDeliver(ctx context.Context, in *domain.Incident, run *domain.Run) (domain.State, error) {
	if run.Triage == nil || run.Analysis == nil || run.Remediation == nil {
		run.Failure = "proposed without every stage's answer"
		return domain.StateFailed, nil
	}
	ctx, span := p.tracer.Start(ctx, "policy")
	start := p.now()
	rem := run.Remediation
	d := p.gate.Check(freeText(run), rem.Diff)
	// What the redactor took out of the answers before they were stored
	// counts as the gate's finding: the stored text no longer shows it.
	d.Violations = append(append([]domain.Violation(nil), run.AnswerFindings...), d.Violations...)
	d.Allowed = len(d.Violations) == 0
	p.metrics.stageSeconds.WithLabelValues("policy").Observe(p.now().Sub(start).Seconds())
	span.SetAttributes(attribute.Bool("policy.allowed", d.Allowed))
	span.End()
	if !d.Allowed {
		return p.reject(ctx, in, run, d)
	}
	// Only a diff the gate passed is validated, and only in validate's
	// sandbox; one that does not apply to the checkout goes nowhere.
	if root := p.root(*in); rem.Diff != "" && root != "" && run.Validation == nil {
		v := validate.Run(ctx, root, rem.Diff)
		v.Error = p.red.Redact(v.Error)
		for i := range v.Checks {
			v.Checks[i].Output = p.red.Redact(v.Checks[i].Output)
		}
		run.Validation = &v
	}
	if v := run.Validation; v != nil && !v.Applied {
		d.Allowed, d.Violations = false, append(d.Violations, domain.Violation{Rule: policy.RulePatchNotApply, Detail: "validation: " + v.Error})
		return p.reject(ctx, in, run, d)
	}
	repo := p.repository(*in)
	if _, bounded := p.deliver.(Repository); bounded {
		if ok, until := p.limits.take(BoundDeliveries+"\x00"+repo, p.cfg.Bounds.DeliveriesPerHour, p.now()); !ok {
			return domain.StateProposed, p.over(ctx, in, run, BoundDeliveries, repo, p.cfg.Bounds.DeliveriesPerHour, until)
		}
	}
	ctx, span = p.tracer.Start(ctx, "delivery")
	defer span.End()
	key := IdempotencyKey(in.Fingerprint, run.Number)
	led, _ := p.store.(Ledger)
	if led != nil {
		done, err := led.BeginDelivery(ctx, in.Fingerprint, run.Number, key)
		if err != nil {
			return in.State, err
		}
		if done != nil {
			// Another replica delivered this run and died before it
			// could record the state: take its delivery, send nothing.
			p.log.Info("delivery already made", "fingerprint", string(in.Fingerprint), "location", done.Location)
			run.Delivery = done
			run.Errors, run.RetryAt = 0, time.Time{}
			return domain.StateDelivered, nil
		}
	}
	start = p.now()
	dctx, cancel := context.WithTimeout(ctx, p.cfg.StageTimeout)
	del, err := p.deliver.Deliver(dctx, domain.Proposal{Incident: *in, Triage: *run.Triage, Analysis: *run.Analysis, Remediation: *rem, AuditSeq: run.AuditSeq, Attention: run.Attention,
		Code: run.Code, Validation: run.Validation, IdempotencyKey: key})
	cancel()
	p.metrics.stageSeconds.WithLabelValues("delivery").Observe(p.now().Sub(start).Seconds())
	var rej *delivery.RejectError
	if errors.As(err, &rej) {
		rej.Violation.Detail = p.red.Redact(rej.Violation.Detail)
		d.Allowed, d.Violations = false, append(d.Violations, rej.Violation)
		return p.reject(ctx, in, run, d)
	}
	outcome := "delivered"
	fields := map[string]any{"target": p.deliver.Name()}
	if err != nil {
		outcome = "error"
		// Error text from an outside system can echo what was sent (an
		// Authorization header): it is redacted, loaded secrets included,
		// before it is logged, audited or stored.
		fields["error"] = p.red.Redact(err.Error())
		p.log.Warn("delivery failed", "fingerprint", string(in.Fingerprint), "target", p.deliver.Name(), "error", fields["error"])
		span.RecordError(err)
	} else {
		fields["location"], fields["files"] = del.Location, del.Files
	}
	p.metrics.deliveries.WithLabelValues(p.deliver.Name(), outcome).Inc()
	if _, aerr := p.audit.Append(ctx, audit.Record{Kind: audit.KindDelivery, Fingerprint: string(in.Fingerprint), Outcome: outcome, Fields: fields}); aerr != nil {
		return in.State, fmt.Errorf("audit delivery: %w", aerr)
	}
	if err != nil {
		if ctx.Err() != nil {
			return domain.StateProposed, nil
		}
		return p.retryLater(run, "delivery", domain.StateProposed, err), nil
	}
	if led != nil {
		if err := led.EndDelivery(context.WithoutCancel(ctx), in.Fingerprint, run.Number, del); err != nil {
			return in.State, err
		}
	}
	run.Delivery = &del
	run.Errors, run.RetryAt = 0, time.Time{}
	return domain.StateDelivered, nil
}

// IdempotencyKey names one run of an incident's delivery, the same from
// every replica and every attempt.
func IdempotencyKey(fp domain.Fingerprint, run int) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("sre-agent-delivery\x00%s\x00%d", fp, run)))
	return hex.EncodeToString(h[:16])
}

func (p *Pipeline) reject(ctx context.Context, in *domain.Incident, run *domain.Run, d domain.GateDecision) (domain.State, error) {
	for _, r := range d.Rules() {
		p.metrics.policyRejections.WithLabelValues(r).Inc()
	}
	if _, err := p.audit.Append(ctx, audit.Record{Kind: audit.KindPolicyRejection, Fingerprint: string(in.Fingerprint), Outcome: "rejected",
		Fields: map[string]any{"rules": d.Rules(), "violations": d.Violations, "files": d.Files}}); err != nil {
		return in.State, fmt.Errorf("audit policy rejection: %w", err)
	}
	p.log.Warn("proposal rejected by policy", "fingerprint", string(in.Fingerprint), "rules", d.Rules())
	run.Rejection = &d
	return domain.StateRejected, nil
}

// summarised records a summary incident (errors over an incident bound)
// without a model call: it is reported, never proposed as a change.
func (p *Pipeline) summarised(ctx context.Context, in *domain.Incident, run *domain.Run) (domain.State, error) {
	run.Triage = &domain.Triage{Category: domain.CategoryOther, Severity: strings.ToLower(in.Severity.String()), Actionable: false, Confidence: 1,
		Reasoning: fmt.Sprintf("Summary of %d error events from %d templates of %s that would have opened incidents beyond the configured bounds (detect.max_new_incidents_per_service, max_new_incidents_per_source, max_incidents). Not sent to a model and not delivered; look at the templates, or raise the bounds.",
			in.Count, len(in.Templates), in.Service)}
	p.metrics.bounded.WithLabelValues("incidents").Inc()
	if _, err := p.audit.Append(ctx, audit.Record{Kind: audit.KindBound, Fingerprint: string(in.Fingerprint), Outcome: "summarised",
		Fields: map[string]any{"bound": "incidents", "service": in.Service, "events": in.Count, "templates": len(in.Templates)}}); err != nil {
		return in.State, fmt.Errorf("audit bound: %w", err)
	}
	return domain.StateNotActionable, nil
}

// clean redacts a stage's answer fields in place before they are stored;
// what it finds is recorded for the gate.
func (p *Pipeline) clean(run *domain.Run, st domain.Stage, fields ...*string) {
	for _, f := range fields {
		kinds := p.red.Find(*f)
		if len(kinds) == 0 {
			continue
		}
		for _, k := range kinds {
			run.AnswerFindings = append(run.AnswerFindings, domain.Violation{Rule: policy.RuleSecret,
				Detail: fmt.Sprintf("the %s answer carried a %s (redacted before it was stored)", st, k)})
		}
		*f = p.red.Redact(*f)
	}
}

// freeText is every prose field of the run's answers, for the gate.
func freeText(run *domain.Run) string {
	var fields []*string
	if run.Triage != nil {
		fields = append(fields, run.Triage.Texts()...)
	}
	if run.Analysis != nil {
		fields = append(fields, run.Analysis.Texts()...)
	}
	if run.Remediation != nil {
		fields = append(fields, run.Remediation.Texts()...)
	}
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = *f
	}
	return strings.Join(parts, "\n")
}

func (p *Pipeline) root(in domain.Incident) string {
	if p.code == nil {
		return ""
	}
	return p.code.Root(in)
}

// scan flags instruction-like log text once per run: the incident is
// marked for a person's attention and the finding audited. The text stays
// data; nothing else about the run changes.
func (p *Pipeline) scan(ctx context.Context, in *domain.Incident, ev *domain.Evidence, run *domain.Run) error {
	texts := append([]string{in.Stack}, ev.Samples...)
	for _, t := range ev.Templates {
		texts = append(texts, t.Text)
	}
	run.Scanned = true
	run.Attention = injection.Scan(texts...)
	if len(run.Attention) == 0 {
		return nil
	}
	p.log.Warn("instruction-like log text: incident marked for human attention", "fingerprint", string(in.Fingerprint), "findings", len(run.Attention))
	if _, err := p.audit.Append(ctx, audit.Record{Kind: audit.KindInjection, Fingerprint: string(in.Fingerprint), Outcome: "flagged",
		Fields: map[string]any{"findings": run.Attention}}); err != nil {
		return fmt.Errorf("audit injection finding: %w", err)
	}
	return nil
}

func evidenceOf(in domain.Incident) *domain.Evidence {
	return &domain.Evidence{Fingerprint: in.Fingerprint, Service: in.Service, Severity: in.Severity, Count: in.Count,
		FirstSeen: in.FirstSeen, LastSeen: in.LastSeen, Reasons: in.Reasons, Templates: in.Templates,
		Samples: in.Samples, Frames: framesOf(in), Why: in.Why}
}

// framesOf is the incident's stack frames, with the place the log says it
// was written (sourceLocation) first when there is one.
func framesOf(in domain.Incident) []domain.Frame {
	frames := stack.Parse(in.Stack)
	if sl := in.SourceLocation; sl != nil && sl.File != "" {
		frames = append([]domain.Frame{{Function: sl.Function, File: sl.File, Line: sl.Line, Lang: "source-location", InApp: true}}, frames...)
	}
	return frames
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

type metrics struct {
	stageSeconds     *prometheus.HistogramVec
	modelCalls       *prometheus.CounterVec
	modelTokens      *prometheus.CounterVec
	deliveries       *prometheus.CounterVec
	policyRejections *prometheus.CounterVec
	modelCost        *prometheus.CounterVec
	bounded          *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		stageSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sre_agent_pipeline_stage_seconds",
			Help: "Time spent in each pipeline stage.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, []string{"stage"}),
		modelCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sre_agent_model_calls_total",
			Help: "Model provider calls by provider, stage and outcome (ok, invalid, error)."}, []string{"provider", "stage", "outcome"}),
		modelTokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sre_agent_model_tokens_total",
			Help: "Tokens sent to and received from model providers."}, []string{"provider", "stage", "direction"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sre_agent_deliveries_total",
			Help: "Proposal deliveries by target and outcome."}, []string{"target", "outcome"}),
		policyRejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sre_agent_policy_rejections_total",
			Help: "Proposals refused by the policy gate, by rule."}, []string{"rule"}),
		modelCost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sre_agent_model_cost_usd_total",
			Help: "Model spend in US dollars by the configured price table."}, []string{"provider", "model"}),
		bounded: newBoundedCounter(),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.stageSeconds, m.modelCalls, m.modelTokens, m.deliveries, m.policyRejections, m.modelCost, m.bounded} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register pipeline metrics: %w", err)
		}
	}
	return m, nil
}
