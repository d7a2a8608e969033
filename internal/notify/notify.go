// Package notify tells people about incidents: it routes each change of
// an incident (opened, triaged, root cause, change proposed, resolved,
// re-opened) through the routing tree to receivers (delivery.Notifier:
// Slack, PagerDuty, Google Chat, Teams, webhooks) and keeps one
// conversation per incident and receiver.
//
// What a receiver has been told is kept in the store (a Conversation per
// incident and receiver, claimed by one agent at a time), and what is due
// is worked out from the incident and its run as stored. So a restart or a
// second replica tells nothing twice, and changes made while a receiver
// was failing, rate limited or in quiet hours are told together, as one
// message, when it can be told again. Receivers work side by side: one
// failing or slow receiver holds up neither the others nor the pipeline.
// Every message sent or failed is audited.
package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// Store is what the dispatcher reads and keeps.
type Store interface {
	Incidents(ctx context.Context) ([]domain.Incident, error)
	Incident(ctx context.Context, fp domain.Fingerprint) (*domain.Incident, error)
	LoadRun(ctx context.Context, fp domain.Fingerprint) (json.RawMessage, error)
	ClaimConversation(ctx context.Context, fp domain.Fingerprint, receiver string, lease time.Duration) (domain.Conversation, bool, error)
	ReleaseConversation(ctx context.Context, c domain.Conversation) error
}

// Redactor cleans error text from outside systems before it is kept.
type Redactor interface{ Redact(string) string }

// Receiver is one configured receiver.
type Receiver struct {
	Notifier delivery.Notifier
	// RateLimit bounds messages per hour; zero is none.
	RateLimit int
}

// Options are the dispatcher's collaborators and settings.
type Options struct {
	Store     Store
	Tree      *Tree
	Receivers []Receiver
	Audit     audit.Appender
	Log       *slog.Logger
	Redactor  Redactor
	// DashboardURL is the dashboard's external address ("" for none).
	DashboardURL string
	// Every is how often every incident is looked at (changes made
	// elsewhere, held ones); the changes this agent makes wake it at once.
	Every time.Duration
	// Lease bounds a claim on a conversation (how long a dead holder
	// blocks others); SendTimeout bounds one message, retries included.
	Lease, SendTimeout time.Duration
	Registerer         prometheus.Registerer
	Now                func() time.Time
}

// Dispatcher tells receivers about incidents' changes.
type Dispatcher struct {
	opt       Options
	receivers []Receiver
	mu        sync.Mutex
	dirty     map[domain.Fingerprint]bool
	all       bool // a change it cannot name: look at every incident
	wake      chan struct{}
	// told remembers, per incident and receiver, the changes this agent
	// saw told: a pass that finds the same due skips the store.
	told     map[string]string
	sent     map[string][]time.Time // per receiver, within the last hour
	messages *prometheus.CounterVec
	held     *prometheus.CounterVec
}

// New makes a dispatcher.
func New(opt Options) (*Dispatcher, error) {
	if opt.Store == nil || opt.Tree == nil || opt.Audit == nil {
		return nil, errors.New("notify: a store, a routing tree and an audit log are required")
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Every <= 0 {
		opt.Every = 30 * time.Second
	}
	if opt.Lease <= 0 {
		opt.Lease = 2 * time.Minute
	}
	if opt.SendTimeout <= 0 {
		opt.SendTimeout = time.Minute
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	d := &Dispatcher{opt: opt, dirty: map[domain.Fingerprint]bool{}, told: map[string]string{}, wake: make(chan struct{}, 1), sent: map[string][]time.Time{},
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sre_agent_notifications_total",
			Help: "Messages to notification receivers, by receiver, transition and outcome (sent, error)."}, []string{"receiver", "transition", "outcome"}),
		held: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sre_agent_notifications_held_total",
			Help: "Changes held for a receiver, by reason (rate_limit, quiet_hours, retry): told later, folded into one message."}, []string{"receiver", "reason"}),
	}
	names := map[string]bool{}
	for _, r := range opt.Receivers {
		if names[r.Notifier.Name()] {
			return nil, fmt.Errorf("notify: receiver %q twice", r.Notifier.Name())
		}
		names[r.Notifier.Name()] = true
		d.receivers = append(d.receivers, r)
	}
	if opt.Registerer != nil {
		for _, c := range []prometheus.Collector{d.messages, d.held} {
			if err := opt.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// Changed says incidents changed (saved by a source, advanced by the
// pipeline): they are looked at soon; none named means any may have.
func (d *Dispatcher) Changed(fps ...domain.Fingerprint) {
	d.mu.Lock()
	d.all = d.all || len(fps) == 0
	for _, fp := range fps {
		d.dirty[fp] = true
	}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run tells receivers until ctx ends: every incident at the start and
// every Every, the changed ones as they change (at most one pass a
// second). A last pass over every incident runs on the way out, bounded
// by the send timeout. Failures are logged and audited, and retried; Run
// never stops for one.
func (d *Dispatcher) Run(ctx context.Context) {
	// A pass under way when ctx ends finishes, within the send timeout:
	// a stop does not cut a message in half.
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(d.opt.SendTimeout, cancel) })
	defer stop()
	full := time.NewTicker(d.opt.Every)
	defer full.Stop()
	d.logged(d.Pass(work, nil))
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-full.C:
			d.logged(d.Pass(work, nil))
		case <-d.wake:
			d.logged(d.Flush(work))
			select { // let changes gather
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	d.logged(d.Pass(work, nil))
}

func (d *Dispatcher) logged(err error) {
	if err != nil {
		d.opt.Log.Warn("notifications", "error", err)
	}
}

// Flush tells the receivers about the incidents marked changed.
func (d *Dispatcher) Flush(ctx context.Context) error {
	d.mu.Lock()
	fps := make([]domain.Fingerprint, 0, len(d.dirty))
	for fp := range d.dirty {
		fps = append(fps, fp)
	}
	all := d.all
	clear(d.dirty)
	d.all = false
	d.mu.Unlock()
	if !all && len(fps) == 0 {
		return nil
	}
	slices.Sort(fps)
	if all {
		fps = nil
	}
	err := d.Pass(ctx, fps)
	if err != nil && ctx.Err() != nil {
		// Stopped midway: they are looked at again (the last pass).
		d.Changed(fps...)
	}
	return err
}

// item is one incident as stored, with its run.
type item struct {
	in  domain.Incident
	run *domain.Run
}

// Pass tells every receiver what is due for the incidents (all when fps
// is nil), receivers side by side.
func (d *Dispatcher) Pass(ctx context.Context, fps []domain.Fingerprint) error {
	if len(d.receivers) == 0 {
		return nil
	}
	var ins []domain.Incident
	if fps == nil {
		all, err := d.opt.Store.Incidents(ctx)
		if err != nil {
			return fmt.Errorf("notify: list incidents: %w", err)
		}
		ins = all
	} else {
		for _, fp := range fps {
			in, err := d.opt.Store.Incident(ctx, fp)
			if errors.Is(err, domain.ErrNoIncident) {
				continue
			}
			if err != nil {
				return fmt.Errorf("notify: incident %s: %w", fp, err)
			}
			ins = append(ins, *in)
		}
	}
	items := make([]item, 0, len(ins))
	for _, in := range ins {
		it := item{in: in}
		raw, err := d.opt.Store.LoadRun(ctx, in.Fingerprint)
		if err != nil {
			return fmt.Errorf("notify: run of %s: %w", in.Fingerprint, err)
		}
		if len(raw) > 0 {
			var r domain.Run
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("notify: run of %s: %w", in.Fingerprint, err)
			}
			it.run = &r
		}
		items = append(items, it)
	}
	// Oldest first: conversations start in the order incidents did.
	sort.SliceStable(items, func(i, j int) bool { return items[i].in.FirstSeen.Before(items[j].in.FirstSeen) })
	errs := make([]error, len(d.receivers))
	var wg sync.WaitGroup
	for i, r := range d.receivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, it := range items {
				if err := d.tell(ctx, r, it); err != nil {
					errs[i] = errors.Join(errs[i], err)
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// change is one transition of an incident, named by its idempotency key.
type change struct {
	tr  delivery.Transition
	key string
}

// Key names one change of an incident, the same from every replica and
// every attempt (a webhook's id, a message's metadata).
func Key(fp domain.Fingerprint, tr delivery.Transition, ord string) string {
	h := sha256.Sum256([]byte("sre-agent-notification\x00" + string(fp) + "\x00" + string(tr) + "\x00" + ord))
	return hex.EncodeToString(h[:16])
}

// changes are the incident's transitions in its current episode, as
// stored, in order: its opening (or re-opening), then the run's stages,
// then its resolution.
func changes(in domain.Incident, run *domain.Run) (opening change, rest []change, resolved *change) {
	start := in.FirstSeen
	reopened := run != nil && run.Number > 1
	var ended bool
	if n := len(in.Episodes); n > 0 {
		start, ended = in.Episodes[n-1].Start, !in.Episodes[n-1].End.IsZero()
		reopened = reopened || n > 1
	}
	ep := start.UTC().Format(time.RFC3339Nano)
	opening = change{delivery.Opened, Key(in.Fingerprint, delivery.Opened, ep)}
	if reopened {
		opening = change{delivery.Reopened, Key(in.Fingerprint, delivery.Reopened, ep)}
	}
	if run != nil {
		num := fmt.Sprint(run.Number)
		if run.Triage != nil {
			rest = append(rest, change{delivery.Triaged, Key(in.Fingerprint, delivery.Triaged, num)})
		}
		if run.Analysis != nil && run.Analysis.RootCause != "" {
			rest = append(rest, change{delivery.RootCause, Key(in.Fingerprint, delivery.RootCause, num)})
		}
		if run.Delivery != nil {
			rest = append(rest, change{delivery.Proposed, Key(in.Fingerprint, delivery.Proposed, num)})
		}
	}
	if ended {
		resolved = &change{delivery.Resolved, Key(in.Fingerprint, delivery.Resolved, ep)}
	}
	return opening, rest, resolved
}

// routed reports whether the tree sends tr of the incident to receiver,
// and the decision.
func (d *Dispatcher) routed(receiver string, it item, tr delivery.Transition) (Decision, bool) {
	for _, dec := range d.opt.Tree.Route(FactsOf(it.in, it.run, tr)) {
		if dec.Receiver == receiver {
			return dec, true
		}
	}
	return Decision{}, false
}

// tell tells one receiver what is due about one incident.
func (d *Dispatcher) tell(ctx context.Context, r Receiver, it item) error {
	name := r.Notifier.Name()
	if it.in.State == domain.StateSilenced {
		return nil // told again when the silence ends
	}
	opening, rest, resolved := changes(it.in, it.run)
	now := d.opt.Now()
	// What the tree sends this receiver and it was not told. The first
	// message about an episode is its opening, carrying whatever is
	// known by then; a resolution goes to whoever was told the opening.
	type due struct {
		change
		dec Decision
	}
	var todo []due
	for _, c := range append([]change{opening}, rest...) {
		if dec, ok := d.routed(name, it, c.tr); ok {
			todo = append(todo, due{c, dec})
		}
	}
	if len(todo) == 0 && resolved == nil {
		return nil
	}
	sig := opening.key
	for _, x := range todo {
		sig += x.key
	}
	if resolved != nil {
		sig += resolved.key
	}
	cacheKey := string(it.in.Fingerprint) + "\x00" + name
	d.mu.Lock()
	seen := d.told[cacheKey] == sig
	d.mu.Unlock()
	if seen {
		return nil
	}
	conv, ok, err := d.opt.Store.ClaimConversation(ctx, it.in.Fingerprint, name, d.opt.Lease)
	if err != nil || !ok {
		return err // held by another agent: it tells
	}
	release := func() error {
		if err := d.opt.Store.ReleaseConversation(context.WithoutCancel(ctx), conv); err != nil {
			return fmt.Errorf("notify %s: %w", name, err)
		}
		return nil
	}
	todo = slices.DeleteFunc(todo, func(x due) bool { return conv.Told(x.key) })
	var msgs []delivery.Transition
	var keys [][]string
	if len(todo) > 0 {
		tr := todo[len(todo)-1].tr
		if !conv.Told(opening.key) {
			tr = opening.tr
		}
		all := []string{opening.key}
		for _, x := range todo {
			all = append(all, x.key)
		}
		msgs, keys = append(msgs, tr), append(keys, all)
	}
	if resolved != nil && !conv.Told(resolved.key) && (conv.Told(opening.key) || len(msgs) > 0) {
		msgs, keys = append(msgs, resolved.tr), append(keys, []string{resolved.key})
	}
	if len(msgs) == 0 {
		d.mu.Lock()
		d.told[cacheKey] = sig
		d.mu.Unlock()
		return release()
	}
	// Held: after a failure until its retry time; in the route's quiet
	// hours; over the receiver's rate.
	hold := ""
	switch {
	case now.Before(conv.RetryAt):
		hold = "retry"
	case len(todo) > 0:
		if _, quiet := todo[len(todo)-1].dec.Until(now, it.in.Severity); quiet {
			hold = "quiet_hours"
		}
	}
	if hold == "" && !d.allow(name, r.RateLimit, now, len(msgs)) {
		hold = "rate_limit"
	}
	if hold != "" {
		d.held.WithLabelValues(name, hold).Inc()
		return release()
	}
	for i, tr := range msgs {
		n := delivery.Notification{Transition: tr, Incident: it.in, Run: it.run, Key: keys[i][len(keys[i])-1]}
		if d.opt.DashboardURL != "" {
			n.DashboardURL = d.opt.DashboardURL + "/incidents/" + string(it.in.Fingerprint)
		}
		sctx, cancel := context.WithTimeout(ctx, d.opt.SendTimeout)
		thread, err := r.Notifier.Notify(sctx, n, conv.Thread)
		cancel()
		fields := map[string]any{"receiver": name, "transition": string(tr), "key": n.Key}
		outcome := "sent"
		if err != nil && ctx.Err() != nil {
			// Stopped, not refused: told again, under the same key.
			fields["error"] = "interrupted: " + ctx.Err().Error()
			d.messages.WithLabelValues(name, string(tr), "interrupted").Inc()
			_, aerr := d.opt.Audit.Append(context.WithoutCancel(ctx), audit.Record{Kind: audit.KindNotification, Fingerprint: string(it.in.Fingerprint), Outcome: "interrupted", Fields: fields})
			return errors.Join(ctx.Err(), release(), aerr)
		}
		if err != nil {
			outcome = "error"
			msg := err.Error()
			if d.opt.Redactor != nil {
				msg = d.opt.Redactor.Redact(msg)
			}
			fields["error"] = msg
			conv.Failures++
			conv.Error = msg
			conv.RetryAt = now.Add(min(time.Duration(1<<min(conv.Failures, 10))*5*time.Second, 15*time.Minute))
		} else {
			conv.Thread = thread
			conv.Tell(keys[i]...)
			conv.Sent++
			conv.Last, conv.LastAt = string(tr), now
			conv.Failures, conv.RetryAt, conv.Error = 0, time.Time{}, ""
			d.record(name, now)
		}
		d.messages.WithLabelValues(name, string(tr), outcome).Inc()
		_, aerr := d.opt.Audit.Append(context.WithoutCancel(ctx), audit.Record{Kind: audit.KindNotification, Fingerprint: string(it.in.Fingerprint), Outcome: outcome, Fields: fields})
		if err != nil || aerr != nil {
			if err != nil {
				err = fmt.Errorf("notify %s of %s (%s): %s", name, it.in.Fingerprint, tr, fields["error"])
			}
			return errors.Join(err, release(), aerr)
		}
	}
	return release()
}

// allow reports whether n more messages fit the receiver's rate.
func (d *Dispatcher) allow(name string, limit int, now time.Time, n int) bool {
	if limit <= 0 {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sent[name] = slices.DeleteFunc(d.sent[name], func(t time.Time) bool { return now.Sub(t) >= time.Hour })
	return len(d.sent[name])+n <= limit
}

func (d *Dispatcher) record(name string, now time.Time) {
	d.mu.Lock()
	d.sent[name] = append(d.sent[name], now)
	d.mu.Unlock()
}
