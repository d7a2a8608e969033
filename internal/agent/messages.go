package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest"
	"github.com/cloud-sre-agent/sre-agent/internal/source"
	"github.com/cloud-sre-agent/sre-agent/internal/source/envelope"
)

const (
	// batchSize is how many processed messages trigger a save; a quiet
	// transport saves after idleFlush, a busy one every FlushEvery.
	batchSize = 500
	// lookupBatch bounds the messages whose keys are looked up together.
	lookupBatch = 256
	idleFlush   = 20 * time.Millisecond
	// recentKeys bounds the in-memory set of keys already saved; older
	// ones are looked up in the store.
	recentKeys = 100_000
	// seenRetention outlives any transport's redelivery window (Pub/Sub
	// keeps unacknowledged messages 7 days at most).
	seenRetention = 8 * 24 * time.Hour
)

// pending is a message processed and not yet saved; dup marks a
// redelivery of a message already in the batch (it carries nothing new,
// and is acknowledged with that batch, never before).
type pending struct {
	m   source.Message
	key string
	dup bool
}

// consume runs a message source: decode, deduplicate, feed the spine, and
// acknowledge a message only once a save holds its events and its key
// (source.Message says exactly when). A save writes everything the spine
// keeps that can still be counted: incidents, summaries, and the error
// events it holds for templates no incident has yet, so what a message
// carried is in the store before the message is acknowledged, whatever
// detection does with it later.
// Nothing is acknowledged before it is saved; a message whose save fails
// is not acknowledged, and the source stops (a restart resumes from the
// transport, and the saved keys keep redeliveries from counting twice).
func (a *Agent) consume(ctx context.Context, src Source, learnt ingest.Learnt, wake chan<- struct{}) error {
	dec, err := envelope.New(src.Decode)
	if err != nil {
		return err
	}
	spine, err := a.newSpine(src, learnt)
	if err != nil {
		return err
	}
	// Each run of a stream is its own share: a restart does not re-read
	// what the last run saved, so it must not replace it.
	// Each replica's run is its own share too.
	s := &sourceState{src: src, key: src.Key + "@" + a.opts.Replica + "@" + a.started.Format(time.RFC3339Nano), spine: spine, last: time.Now()}
	saveCtx := context.WithoutCancel(ctx)
	if err := a.adopt(saveCtx, s); err != nil {
		return err
	}
	if n, err := a.store.PruneSeen(saveCtx, time.Now().Add(-seenRetention)); err != nil {
		return err
	} else if n > 0 {
		a.log.Info("forgot old message keys", "source", src.Name, "keys", n)
	}
	in := make(chan source.Message, 256)
	recvDone := make(chan error, 1)
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		recvDone <- src.Messages.Receive(ctx, func(m source.Message) {
			select {
			case in <- m:
			case <-stopped: // the consumer is gone: the message comes back later
				m.Nack()
			}
		})
	}()
	c := &consumer{a: a, src: src, dec: dec, s: s, wake: wake, ctx: saveCtx, recent: newKeySet(recentKeys), inBatch: map[string]bool{}}
	idle := time.NewTimer(time.Hour)
	defer idle.Stop()
	tick := time.NewTicker(a.opts.FlushEvery)
	defer tick.Stop()
	var deadline <-chan time.Time
	done := ctx.Done()
	for {
		select {
		case m := <-in:
			// Take what else is waiting too: one store lookup for the
			// keys of all of them.
			if err := c.handleAll(waiting(in, []source.Message{m}, lookupBatch)); err != nil {
				c.nackAll()
				return err
			}
			if len(c.batch) >= batchSize {
				if err := c.flush(); err != nil {
					return err
				}
			}
			idle.Reset(idleFlush)
		case <-idle.C:
			if err := c.flush(); err != nil {
				return err
			}
		case <-tick.C:
			if err := c.flush(); err != nil {
				return err
			}
			if err := a.renew(saveCtx, s, a.opts.FlushEvery); err != nil {
				return err
			}
			// A quiet replica still takes over what a stopped one held.
			if err := a.adoptIdle(saveCtx, s, wake); err != nil {
				return err
			}
		case <-done:
			// Stopping: the receiver stops pulling; what it already
			// handed over is processed and saved, within the grace.
			done, deadline = nil, time.After(a.opts.ShutdownGrace)
		case <-deadline:
			c.nackAll()
			return errors.New("the transport did not stop within the shutdown grace; unsaved messages were nacked")
		case rerr := <-recvDone:
			if err := c.handleAll(waiting(in, nil, cap(in))); err != nil {
				c.nackAll()
				return err
			}
			if err := c.flush(); err != nil {
				return err
			}
			if rerr != nil && ctx.Err() == nil {
				return fmt.Errorf("receive: %w", rerr)
			}
			return nil
		}
	}
}

// adopt takes over what earlier runs of the source held and acknowledged
// without an incident to count it in (a run that crashed, or stopped):
// the spine replays it, and the first save deletes the earlier rows in
// the commit that writes this run's. Replicas sharing a store adopt at
// their saves instead, the shares of replicas that stopped saying they
// are alive (adoptOrphans).
func (a *Agent) adopt(ctx context.Context, s *sourceState) error {
	s.holds = true
	s.spine.SaveHeld()
	if a.shared != nil {
		return nil
	}
	states, err := a.store.DetectorState(ctx, s.src.Key)
	if err != nil {
		return err
	}
	if err := s.spine.RestoreDetector(states); err != nil {
		a.log.Warn("detector state left out; it is learnt again", "source", s.src.Name, "error", err)
	}
	byShare, err := a.store.Held(ctx, s.src.Key+"@")
	if err != nil {
		return err
	}
	var rows []domain.HeldTemplate
	for share, hs := range byShare {
		if share == s.key {
			continue
		}
		s.adopted = append(s.adopted, share)
		rows = append(rows, hs...)
	}
	if len(rows) == 0 {
		return nil
	}
	slices.Sort(s.adopted)
	s.spine.Adopt(rows)
	a.log.Info("took over the templates earlier runs held", "source", s.src.Name, "runs", len(s.adopted), "templates", len(rows))
	return nil
}

// adoptEvery bounds how often a replica looks for orphaned shares.
const adoptEvery = time.Second

// adoptOrphans takes over, under shared detection, the held templates of
// the source's shares whose replicas stopped renewing them.
func (a *Agent) adoptOrphans(ctx context.Context, s *sourceState) error {
	if time.Since(s.adoptedAt) < adoptEvery {
		return nil
	}
	s.adoptedAt = time.Now()
	byShare, err := a.shared.AdoptHeld(ctx, s.src.Key+"@", s.key)
	if err != nil {
		return err
	}
	var rows []domain.HeldTemplate
	for _, share := range slices.Sorted(maps.Keys(byShare)) {
		s.adopted = append(s.adopted, share)
		rows = append(rows, byShare[share]...)
	}
	if len(rows) > 0 {
		s.spine.Adopt(rows)
		a.log.Info("took over the templates a stopped replica held", "source", s.src.Name, "shares", len(byShare), "templates", len(rows))
	}
	return nil
}

// adoptIdle adopts orphaned shares while no message comes, and saves
// what it took over.
func (a *Agent) adoptIdle(ctx context.Context, s *sourceState, wake chan<- struct{}) error {
	if a.shared == nil || !s.holds {
		return nil
	}
	if err := a.adoptOrphans(ctx, s); err != nil {
		return err
	}
	if len(s.adopted) == 0 {
		return nil
	}
	return a.save(ctx, s, wake)
}

// renew says, under shared detection, that this replica's share is alive
// while it saves nothing, so its held templates are not adopted.
func (a *Agent) renew(ctx context.Context, s *sourceState, every time.Duration) error {
	if a.shared == nil || !s.holds || time.Since(s.renewed) < every {
		return nil
	}
	s.renewed = time.Now()
	return a.shared.RenewShare(ctx, s.key)
}

// waiting appends to ms what in holds now, without waiting, up to limit.
func waiting(in <-chan source.Message, ms []source.Message, limit int) []source.Message {
	for len(ms) < limit {
		select {
		case m := <-in:
			ms = append(ms, m)
		default:
			return ms
		}
	}
	return ms
}

type consumer struct {
	a      *Agent
	src    Source
	dec    *envelope.Decoder
	s      *sourceState
	wake   chan<- struct{}
	ctx    context.Context
	recent *keySet
	// batch is processed and not yet saved; inBatch holds its keys.
	batch   []pending
	inBatch map[string]bool
}

func (c *consumer) count(outcome string) {
	c.a.messages.WithLabelValues(c.src.Name, outcome).Inc()
}

type decoded struct {
	m   source.Message
	msg envelope.Message
	key string
}

// handleAll processes messages in order, looking up in the store at once
// the keys not known in memory; an error stops the source.
func (c *consumer) handleAll(ms []source.Message) error {
	var todo []decoded
	var lookup []string
	for _, m := range ms {
		msg, err := c.dec.Decode(m.Data)
		var badMsg *envelope.BadMessage
		if errors.As(err, &badMsg) {
			if err := c.deadLetter(m, badMsg); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if msg.Control {
			m.Ack()
			c.count("control")
			continue
		}
		key := msg.Key
		if key == "" {
			key = "msg:" + c.src.Key + "|" + m.ID
		}
		if !c.recent.has(key) && !c.inBatch[key] {
			lookup = append(lookup, key)
		}
		todo = append(todo, decoded{m, msg, key})
	}
	seen, err := c.a.store.Seen(c.ctx, lookup)
	if err != nil {
		return err
	}
	for _, d := range todo {
		c.handle(d, seen[d.key])
	}
	return nil
}

// handle feeds one decoded message to the spine, unless it is a duplicate.
func (c *consumer) handle(d decoded, saved bool) {
	m, msg, key := d.m, d.msg, d.key
	if saved {
		c.recent.add(key)
	}
	if saved || c.recent.has(key) {
		m.Ack() // the store holds its events and its key
		c.count("duplicate")
		return
	}
	if c.inBatch[key] {
		// Its first delivery is in the batch, not yet saved: acknowledging
		// this one now would let a crash lose both.
		c.batch = append(c.batch, pending{m: m, key: key, dup: true})
		return
	}
	for _, r := range msg.Records {
		c.s.spine.Record(r)
	}
	for _, ev := range msg.Events {
		c.s.spine.Event(ev)
	}
	c.batch = append(c.batch, pending{m: m, key: key})
	c.inBatch[key] = true
}

// flush saves the spine with the batch's keys, then acknowledges the batch.
func (c *consumer) flush() error {
	if len(c.batch) == 0 {
		return nil
	}
	keys := make([]string, 0, len(c.batch))
	for _, p := range c.batch {
		if !p.dup {
			keys = append(keys, p.key)
		}
	}
	if err := c.a.save(c.ctx, c.s, c.wake, keys...); err != nil {
		c.nackAll()
		return fmt.Errorf("save: %w", err)
	}
	for _, p := range c.batch {
		p.m.Ack()
		c.recent.add(p.key)
		if p.dup {
			c.count("duplicate")
		} else {
			c.count("processed")
		}
	}
	c.batch = c.batch[:0]
	clear(c.inBatch)
	return nil
}

func (c *consumer) nackAll() {
	for _, p := range c.batch {
		p.m.Nack()
		c.count("nacked")
	}
	c.batch = c.batch[:0]
	clear(c.inBatch)
}

// deadLetter keeps a bad message where a person can look at it, audits
// it, and only then acknowledges it. When it cannot be kept, it is nacked
// and will come back; nothing is dropped silently.
func (c *consumer) deadLetter(m source.Message, bad *envelope.BadMessage) error {
	// Parser errors quote the message ("unexpected tail: ..."): the detail
	// is log text, redacted before it is audited or kept with the letter.
	detail := c.a.red.Redact(bad.Detail)
	dl := c.src.DeadLetter
	if dl == nil {
		m.Nack()
		c.count("nacked")
		c.a.log.Error("bad message and no dead-letter destination: nacked", "source", c.src.Name, "reason", bad.Reason)
		return nil
	}
	if err := dl.Put(c.ctx, m, bad.Reason, detail); err != nil {
		m.Nack()
		c.count("nacked")
		c.a.log.Error("dead-letter failed: nacked", "source", c.src.Name, "reason", bad.Reason, "error", err)
		return nil
	}
	if _, err := c.a.audit.Append(c.ctx, audit.Record{Kind: audit.KindDeadLetter, Outcome: bad.Reason, Fields: map[string]any{
		"source": c.src.Name, "message_id": m.ID, "bytes": len(m.Data), "destination": dl.Name(), "detail": detail}}); err != nil {
		m.Nack()
		return fmt.Errorf("audit dead letter: %w", err)
	}
	m.Ack()
	c.count("dead_lettered")
	c.a.log.Warn("message dead-lettered", "source", c.src.Name, "reason", bad.Reason, "destination", dl.Name())
	return nil
}

// keySet is a bounded set: past its size the oldest keys are forgotten.
type keySet struct {
	set  map[string]struct{}
	ring []string
	next int
}

func newKeySet(n int) *keySet {
	return &keySet{set: make(map[string]struct{}, n), ring: make([]string, n)}
}

func (k *keySet) has(key string) bool { _, ok := k.set[key]; return ok }

func (k *keySet) add(key string) {
	if k.has(key) {
		return
	}
	if old := k.ring[k.next]; old != "" {
		delete(k.set, old)
	}
	k.ring[k.next] = key
	k.set[key] = struct{}{}
	k.next = (k.next + 1) % len(k.ring)
}
