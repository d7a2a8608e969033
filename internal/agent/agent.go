// Package agent is the long-running daemon: each source feeds its own
// ingest spine, what the spines find is saved to the store every flush
// interval, and a worker takes each new or re-opened incident through the
// pipeline. Incidents the pipeline had not finished when the agent last
// stopped are picked up at start.
//
// When every source has ended (files read to their end, stdin closed) the
// agent finishes the incidents in flight and returns. When its context is
// cancelled (SIGINT, SIGTERM) it stops reading, saves what it has, lets
// the pipeline step in flight finish within the shutdown grace, and
// returns.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/detect"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/parse"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/template"
	"github.com/cloud-sre-agent/sre-agent/internal/source"
	"github.com/cloud-sre-agent/sre-agent/internal/source/envelope"
)

// Store is what the agent needs from the incident store.
type Store interface {
	ingest.LearntStore
	// Commit writes one flush in one transaction; a message is
	// acknowledged only after the commit that names its key.
	Commit(ctx context.Context, sv domain.Save) error
	// Held reads what earlier runs of a source held, by share.
	Held(ctx context.Context, prefix string) (map[string][]domain.HeldTemplate, error)
	// DetectorState reads what a source's detector last saved.
	DetectorState(ctx context.Context, source string) ([]domain.DetectorState, error)
	Seen(ctx context.Context, keys []string) (map[string]bool, error)
	PruneSeen(ctx context.Context, before time.Time) (int64, error)
	CountByState(ctx context.Context) (map[domain.State]int, error)
}

// SharedStore is a store several replicas share (PostgreSQL): detection
// runs on every replica's counts merged at each flush, and templates one
// replica registers are picked up by the others.
type SharedStore interface {
	SaveShared(ctx context.Context, source string, counts []domain.WindowCount, keys []domain.WindowKey, decide detect.Decider, held func() domain.HeldChanges, seen []string) error
	// RenewShare and AdoptHeld: a replica says it is alive; the held
	// templates of a share whose replica stopped saying so are adopted.
	RenewShare(ctx context.Context, share string) error
	AdoptHeld(ctx context.Context, prefix, own string) (map[string][]domain.HeldTemplate, error)
	TemplatesSince(ctx context.Context, mark int64) ([]domain.Template, int64, error)
}

// Pipeline is what the agent needs from the pipeline.
type Pipeline interface {
	Drain(ctx context.Context) (moved int, waiting bool, err error)
	Stop()
}

// Source is one input stream.
type Source struct {
	// Name labels the source in metrics and logs.
	Name string
	// Key is the source's share key in the store: the same key on a
	// restart replaces the share instead of adding to it.
	Key string
	// Service names events that do not name their own.
	Service string
	// Open starts reading a stream. The reader may return parse.ErrPause
	// when it has nothing for now; it returns io.EOF at its end, or when
	// ctx is done.
	Open func(ctx context.Context) (io.ReadCloser, error)
	// Messages, instead of Open, is a message transport (Pub/Sub, SQS,
	// NATS, Kafka): each message is acknowledged once its events are
	// saved, dead-lettered when it is not a log message.
	Messages source.Receiver
	// Decode says what the messages hold.
	Decode envelope.Options
	// DeadLetter keeps messages that are not log messages.
	DeadLetter source.DeadLetter
}

// Options tune the agent.
type Options struct {
	Redact   redact.Options
	Template template.Config
	Detect   detect.Config
	Parse    parse.Config
	// ReopenAfter is the quiet gap after which an incident's next event
	// re-opens it.
	ReopenAfter time.Duration
	// FlushEvery is how often a source saves what it found while input
	// keeps coming (it also saves when input pauses and at its end).
	FlushEvery time.Duration
	// Poll is how often the worker looks for incidents due a retry.
	Poll time.Duration
	// ShutdownGrace bounds how long a pipeline step in flight may take to
	// finish once the agent is told to stop.
	ShutdownGrace time.Duration
	Log           *slog.Logger
	Registerer    prometheus.Registerer
	// Replica names this process among the replicas sharing a store.
	Replica string
	// Known masks the agent's own loaded secrets in what the spines keep
	// (incidents, held templates), beside the redaction rules.
	Known redact.Known
	// Changed, when set, is told the incidents each save wrote (nil when
	// it cannot say which: look at all), for notifications.
	Changed func(fps []domain.Fingerprint)
}

// Agent runs sources and the pipeline.
type Agent struct {
	store   Store
	shared  SharedStore // the store, when replicas share it; else nil
	pipe    Pipeline
	audit   audit.Appender
	sources []Source
	opts    Options
	red     *redact.Redactor
	log     *slog.Logger

	ready     atomic.Bool
	stopping  atomic.Bool
	events    *prometheus.CounterVec
	parseErrs *prometheus.CounterVec
	saves     *prometheus.CounterVec
	messages  *prometheus.CounterVec
	// overLimitTotal counts incidents summarised by a bound.
	overLimitTotal *prometheus.CounterVec
	started        time.Time
}

// New builds an agent.
func New(store Store, pipe Pipeline, aud audit.Appender, sources []Source, opts Options) (*Agent, error) {
	if len(sources) == 0 {
		return nil, errors.New("agent: no sources")
	}
	if opts.FlushEvery <= 0 || opts.Poll <= 0 {
		return nil, errors.New("agent: flush and poll intervals must be positive")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	shared, _ := store.(SharedStore)
	red := redact.New(opts.Redact)
	if opts.Known != nil {
		red = red.WithKnown(opts.Known)
	}
	a := &Agent{store: store, shared: shared, pipe: pipe, audit: aud, sources: sources, opts: opts, red: red, log: opts.Log,
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sre_agent_events_total",
			Help: "Log events read, by source and severity."}, []string{"source", "severity"}),
		parseErrs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sre_agent_parse_errors_total",
			Help: "Records that did not parse as their format claimed (kept as plain text)."}, []string{"source"}),
		saves: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sre_agent_store_saves_total",
			Help: "Saves of what a source found, by outcome."}, []string{"source", "outcome"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sre_agent_messages_total",
			Help: "Transport messages by outcome: processed, duplicate, control, dead_lettered, nacked."}, []string{"source", "outcome"}),
		overLimitTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sre_agent_incidents_over_limit_total",
			Help: "Would-be incidents folded into a summary incident by an incident bound, by source."}, []string{"source"}),
		started: time.Now().UTC(),
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{a.events, a.parseErrs, a.saves, a.messages, a.overLimitTotal, &stateCollector{a: a}} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register agent metrics: %w", err)
			}
		}
	}
	return a, nil
}

// Ready reports whether the agent is reading and working.
func (a *Agent) Ready() error {
	switch {
	case a.stopping.Load():
		return errors.New("stopping")
	case !a.ready.Load():
		return errors.New("starting")
	}
	return nil
}

// Run reads every source and works the pipeline until the sources end and
// the work is done, or ctx is cancelled.
func (a *Agent) Run(ctx context.Context) error {
	if _, err := a.audit.Append(ctx, audit.Record{Kind: audit.KindStart, Outcome: "ok", Fields: map[string]any{"sources": len(a.sources)}}); err != nil {
		return err
	}
	a.anchor("start")
	anchorCtx, stopAnchors := context.WithCancel(ctx)
	defer stopAnchors()
	go a.anchorEvery(anchorCtx, time.Hour)
	learnt, err := ingest.Load(ctx, a.store)
	if err != nil {
		if ctx.Err() != nil {
			// Stopped while starting: a clean stop, not a failure.
			_, aerr := a.audit.Append(ctx, audit.Record{Kind: audit.KindStop, Outcome: "signalled"})
			a.anchor("stop")
			return aerr
		}
		return err
	}
	wake := make(chan struct{}, 1)
	sourcesDone := make(chan struct{})
	var wg sync.WaitGroup
	srcErrs := make([]error, len(a.sources))
	for i, src := range a.sources {
		a.parseErrs.WithLabelValues(src.Name) // a zero series from the start
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.read(ctx, src, learnt, wake); err != nil {
				srcErrs[i] = fmt.Errorf("source %s: %w", src.Name, err)
				a.log.Error("source stopped", "source", src.Name, "error", err)
			}
		}()
	}
	go func() { wg.Wait(); close(sourcesDone) }()
	a.ready.Store(true)
	a.log.Info("agent started", "sources", len(a.sources))

	// The pipeline's calls run on their own context: a stop lets the step
	// in flight finish, up to the grace period.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	go func() {
		select {
		case <-ctx.Done():
		case <-workCtx.Done():
			return
		}
		a.stopping.Store(true)
		a.pipe.Stop()
		select {
		case <-time.After(a.opts.ShutdownGrace):
			cancelWork()
		case <-workCtx.Done():
		}
	}()
	workErr := a.work(ctx, workCtx, wake, sourcesDone)
	a.stopping.Store(true)
	cancelWork()
	// Sources save on their way out; wait for them briefly (stdin may
	// still be blocked in a read that only the process exit ends).
	select {
	case <-sourcesDone:
	case <-time.After(a.opts.ShutdownGrace):
		a.log.Warn("a source did not stop within the shutdown grace")
	}
	outcome := "ok"
	if ctx.Err() != nil {
		outcome = "signalled"
	}
	if _, err := a.audit.Append(ctx, audit.Record{Kind: audit.KindStop, Outcome: outcome}); err != nil && workErr == nil {
		workErr = err
	}
	a.anchor("stop")
	a.log.Info("agent stopped", "outcome", outcome)
	return errors.Join(append([]error{workErr}, srcErrs...)...)
}

// Header is an audit log that can name its chain's head.
type Header interface {
	Head() (audit.Head, bool)
}

// anchor writes the audit chain's head to the agent's own log (stderr,
// which Cloud Logging keeps off the machine): `audit verify --anchor`
// later proves the chain still holds that record, so a log cut and
// re-chained with a rewritten head is found.
func (a *Agent) anchor(when string) {
	h, ok := a.audit.(Header)
	if !ok {
		return
	}
	if hd, ok := h.Head(); ok && hd.Seq > 0 {
		a.log.Info("audit anchor", "when", when, "replica", a.opts.Replica, "seq", hd.Seq, "hash", hd.Hash)
	}
}

func (a *Agent) anchorEvery(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.anchor("periodic")
		}
	}
}

// work drains the pipeline whenever a source saves, until the sources are
// done and nothing is left, or ctx is cancelled.
func (a *Agent) work(ctx, workCtx context.Context, wake <-chan struct{}, sourcesDone <-chan struct{}) error {
	done := sourcesDone
	for {
		if ctx.Err() != nil {
			return nil
		}
		finished := done == nil
		_, waiting, err := a.pipe.Drain(workCtx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("pipeline: %w", err)
		}
		if finished && !waiting {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-done:
			done = nil // drain once more: the last saves are in
		case <-time.After(a.opts.Poll):
		}
	}
}

// newSpine builds a source's spine, seeded with what earlier runs learnt.
func (a *Agent) newSpine(src Source, learnt ingest.Learnt) (*ingest.Spine, error) {
	miner, err := template.New(a.opts.Template)
	if err != nil {
		return nil, err
	}
	det, err := detect.New(a.opts.Detect)
	if err != nil {
		return nil, err
	}
	spine := ingest.New(a.red, miner, det)
	spine.DefaultService = src.Service
	spine.SetParse(a.opts.Parse)
	spine.ReopenAfter = a.opts.ReopenAfter
	spine.Seed(learnt)
	if a.shared != nil {
		spine.Share()
	}
	return spine, nil
}

// read runs one source through its own spine, saving what it finds.
func (a *Agent) read(ctx context.Context, src Source, learnt ingest.Learnt, wake chan<- struct{}) error {
	if src.Messages != nil {
		return a.consume(ctx, src, learnt, wake)
	}
	spine, err := a.newSpine(src, learnt)
	if err != nil {
		return err
	}
	r, err := src.Open(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	s := &sourceState{src: src, key: src.Key, spine: spine, last: time.Now()}
	// Saving uses its own context: what was read is saved even when the
	// agent is stopping.
	saveCtx := context.WithoutCancel(ctx)
	asm := parse.NewAssembler(r)
	for n := 0; ; n++ {
		rec, err := asm.Next()
		if errors.Is(err, parse.ErrPause) {
			if err := a.save(saveCtx, s, wake); err != nil {
				return err
			}
			continue
		}
		if errors.Is(err, io.EOF) {
			return a.save(saveCtx, s, wake)
		}
		if err != nil {
			if serr := a.save(saveCtx, s, wake); serr != nil {
				return errors.Join(err, serr)
			}
			return err
		}
		spine.Record(rec)
		if n&255 == 0 && time.Since(s.last) >= a.opts.FlushEvery {
			if err := a.save(saveCtx, s, wake); err != nil {
				return err
			}
		}
	}
}

type sourceState struct {
	src        Source
	key        string // the share key in the store
	spine      *ingest.Spine
	last       time.Time
	savedStats ingest.Stats
	// templateMark is how far this source has read the shared template
	// registry.
	templateMark int64
	// overAudited is when incidents over the bounds were last audited,
	// overSince how many were summarised since.
	overAudited time.Time
	overSince   int
	// adopted are the earlier shares whose held templates this run took
	// over, until a save deletes their rows; holds says whether the
	// spine's held templates are saved (message sources: what they hold
	// was acknowledged).
	adopted []string
	holds   bool
	// renewed is when this replica last said its share is alive (shared
	// detection), adoptedAt when it last looked for orphaned shares.
	renewed, adoptedAt time.Time
}

// overLimit counts the incidents a bound summarised since the last save
// and audits them, once per detection window per source.
func (a *Agent) overLimit(ctx context.Context, s *sourceState, st ingest.Stats) error {
	d := st.OverLimit - s.savedStats.OverLimit
	if d <= 0 {
		return nil
	}
	a.overLimitTotal.WithLabelValues(s.src.Name).Add(float64(d))
	s.overSince += d
	if time.Since(s.overAudited) < a.opts.Detect.Window {
		return nil
	}
	a.log.Warn("incidents over the bounds summarised", "source", s.src.Name, "incidents", s.overSince)
	if _, err := a.audit.Append(ctx, audit.Record{Kind: audit.KindBound, Outcome: "summarised", Fields: map[string]any{"bound": "incidents",
		"source": s.src.Name, "incidents": s.overSince, "max_new_per_service": a.opts.Detect.MaxNewPerService,
		"max_new_per_source": a.opts.Detect.MaxNewPerSource, "max_incidents": a.opts.Detect.MaxIncidents}}); err != nil {
		return fmt.Errorf("audit bound: %w", err)
	}
	s.overAudited, s.overSince = time.Now(), 0
	return nil
}

// save stores the spine's incidents when anything was read since the last
// save, with the keys of the messages read (seen), counts the new events,
// and wakes the worker.
func (a *Agent) save(ctx context.Context, s *sourceState, wake chan<- struct{}, seen ...string) error {
	s.last = time.Now()
	st := s.spine.Stats()
	if st.Events == s.savedStats.Events && len(seen) == 0 && len(s.adopted) == 0 {
		return nil
	}
	for sev, n := range st.BySeverity {
		if d := n - s.savedStats.BySeverity[sev]; d > 0 {
			a.events.WithLabelValues(s.src.Name, sev).Add(float64(d))
		}
	}
	if d := st.ParseErrors - s.savedStats.ParseErrors; d > 0 {
		a.parseErrs.WithLabelValues(s.src.Name).Add(float64(d))
	}
	if err := a.overLimit(ctx, s, st); err != nil {
		return err
	}
	s.savedStats = st
	var err error
	var changed []domain.Fingerprint
	if a.shared != nil {
		err = a.saveShared(ctx, s, seen)
	} else {
		incidents := s.spine.Incidents()
		var held domain.HeldChanges
		if s.holds {
			held = s.spine.HeldChanges()
			held.Adopted = s.adopted
		}
		if len(incidents) == 0 && len(seen) == 0 && held.Empty() {
			return nil
		}
		sv := domain.Save{Source: s.key, Baselines: s.spine.Baselines(), Incidents: incidents, Held: held, Seen: seen}
		if s.holds {
			sv.Detector, sv.DetectorSource = s.spine.DetectorChanges(), s.src.Key
		}
		err = a.store.Commit(ctx, sv)
		if err == nil && s.holds {
			s.spine.HeldSaved()
			s.adopted = nil
		}
		changed = make([]domain.Fingerprint, 0, len(incidents))
		for _, in := range incidents {
			changed = append(changed, in.Fingerprint)
		}
	}
	if err != nil {
		a.saves.WithLabelValues(s.src.Name, "error").Inc()
		return err
	}
	a.saves.WithLabelValues(s.src.Name, "ok").Inc()
	if a.opts.Changed != nil {
		a.opts.Changed(changed)
	}
	select {
	case wake <- struct{}{}:
	default:
	}
	return nil
}

// saveShared is a replica's flush: its counts join every replica's in the
// store, the decision is taken on the sum, and what it finds is saved with
// the message keys in the same transaction. Then the templates other
// replicas registered are taken into this spine's miner.
func (a *Agent) saveShared(ctx context.Context, s *sourceState, seen []string) error {
	if s.holds {
		if err := a.adoptOrphans(ctx, s); err != nil {
			return err
		}
	}
	f := s.spine.TakeShared()
	var held func() domain.HeldChanges
	if s.holds {
		held = func() domain.HeldChanges {
			h := s.spine.HeldChanges()
			h.Adopted = s.adopted
			return h
		}
	}
	err := a.shared.SaveShared(ctx, s.key, f.Counts, f.Keys, func(m map[domain.WindowID]detect.Merged) ([]detect.KeyedBaseline, []domain.Incident) {
		bases := s.spine.Decide(m)
		return bases, s.spine.Incidents()
	}, held, seen)
	if err != nil {
		return err
	}
	if s.holds {
		// Before Settle: what it lets age out is the next save's change.
		s.spine.HeldSaved()
		s.adopted = nil
		s.renewed = time.Now()
	}
	s.spine.Settle()
	ts, mark, err := a.shared.TemplatesSince(ctx, s.templateMark)
	if err != nil {
		return err
	}
	s.templateMark = mark
	s.spine.RestoreTemplates(ts)
	return nil
}

// stateCollector reports incidents by state from the store at scrape time.
type stateCollector struct{ a *Agent }

var stateDesc = prometheus.NewDesc("sre_agent_incidents", "Incidents in the store by lifecycle state.", []string{"state"}, nil)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- stateDesc }

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.a.store.CountByState(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(stateDesc, err)
		return
	}
	for _, st := range domain.States {
		ch <- prometheus.MustNewConstMetric(stateDesc, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
}
