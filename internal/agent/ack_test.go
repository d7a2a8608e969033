package agent_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/agent"
	"github.com/cloud-sre-agent/sre-agent/internal/agent/agenttest"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/source"
	"github.com/cloud-sre-agent/sre-agent/internal/source/envelope"
	"github.com/cloud-sre-agent/sre-agent/internal/source/quarantine"
)

// The contract at the acknowledgement, for any transport: when a message
// is acknowledged, the store already holds every error event of every
// message acknowledged so far (in an incident or a held template) and its
// key. A receiver checks it at each Ack, on the default detection (errors
// held before a rule fires), with redeliveries of messages still in the
// batch being built.
func TestAcknowledgedMeansStored(t *testing.T) {
	r := agenttest.New(t)
	q, err := quarantine.Open(r.Quarantine)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var msgs [][]byte
	var errs []bool
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for i := range 3000 {
		sev, msg := "INFO", "GET /cart 200"
		// Errors ten a minute (held), then a burst within the long
		// window, so that no held error ages out.
		if i%40 == 0 || i > 1500 && i%3 == 0 {
			sev, msg = "ERROR", fmt.Sprintf("redis timeout after %dms", 100+i)
		}
		at := t0.Add(time.Duration(i) * 150 * time.Millisecond)
		msgs = append(msgs, []byte(fmt.Sprintf(`{"insertId":"a-%05d","logName":"projects/p/logs/app","severity":%q,"textPayload":%q,"timestamp":%q,"resource":{"type":"k8s_container","labels":{"container_name":"cart"}}}`,
			i, sev, msg, at.Format(time.RFC3339Nano))))
		errs = append(errs, sev == "ERROR")
	}
	recv := &checkingReceiver{t: t, r: r, msgs: msgs, errs: errs, acked: map[int]bool{}}
	d := envelope.DefaultOptions()
	d.Format = envelope.FormatLogEntry
	c := config.Default()
	ag, err := agent.New(r.Store, nopPipeline{}, r.Audit, []agent.Source{{Name: "acks", Key: "acks", Messages: recv, Decode: d, DeadLetter: q}},
		agent.Options{Redact: c.Redact, Template: c.Template, Detect: c.Detect, FlushEvery: 50 * time.Millisecond, Poll: time.Hour, ShutdownGrace: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	stop := agenttest.Run(ag)
	agenttest.WaitFor(t, "every message acknowledged", 60*time.Second, func() bool { return recv.done() })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if recv.failed != "" {
		t.Fatal(recv.failed)
	}
	if recv.checks < 100 || recv.dups == 0 {
		t.Fatalf("checked %d acknowledgements, %d of redeliveries: the test tested little", recv.checks, recv.dups)
	}
	if got, want := stored(t, r), recv.ackedErrors(); got != want {
		t.Fatalf("the store holds %d error events, %d were acknowledged", got, want)
	}
}

type nopPipeline struct{}

func (nopPipeline) Drain(context.Context) (int, bool, error) { return 0, false, nil }
func (nopPipeline) Stop()                                    {}

// stored is every error event the store holds: counted in incidents, or
// held for templates no incident has yet.
func stored(t *testing.T, r *agenttest.Rig) int64 {
	n := r.Total(t)
	held, err := r.Store.Held(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, hs := range held {
		for _, h := range hs {
			n += int64(len(h.Events)) + h.Dropped
		}
	}
	return n
}

// checkingReceiver delivers msgs in order, every ninth one delivered again
// right after (a redelivery while the first is unsaved), and checks the
// store at each Ack.
type checkingReceiver struct {
	t      *testing.T
	r      *agenttest.Rig
	msgs   [][]byte
	errs   []bool
	mu     sync.Mutex
	acked  map[int]bool
	checks int
	dups   int
	failed string
}

func (c *checkingReceiver) Receive(ctx context.Context, deliver func(source.Message)) error {
	for i := range c.msgs {
		copies := 1
		if i%9 == 0 {
			copies = 2
		}
		for k := range copies {
			i, dup := i, k > 0
			m := source.Message{ID: fmt.Sprintf("m%d-%d", i, k), Data: c.msgs[i]}
			m.Ack = func() { c.ack(i, dup) }
			m.Nack = func() {}
			select {
			case <-ctx.Done():
				return nil
			default:
			}
			deliver(m)
		}
	}
	<-ctx.Done()
	return nil
}

func (c *checkingReceiver) ack(i int, dup bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.acked[i] = true
	c.checks++
	if dup {
		c.dups++
	}
	if c.failed != "" {
		return
	}
	want := c.ackedErrors()
	if got := stored(c.t, c.r); got < want {
		c.failed = fmt.Sprintf("message %d acknowledged when the store held %d error events of the %d acknowledged", i, got, want)
	}
	seen, err := c.r.Store.Seen(context.Background(), []string{key(c.msgs[i])})
	if err != nil || len(seen) != 1 {
		c.failed = fmt.Sprintf("message %d acknowledged before its key was saved (%v)", i, err)
	}
}

// key is the message's LogEntry key as the agent saves it.
func key(b []byte) string {
	s := string(b)
	id := s[strings.Index(s, `"insertId":"`)+12:]
	return "le:projects/p/logs/app|" + id[:strings.Index(id, `"`)]
}

func (c *checkingReceiver) ackedErrors() int64 {
	var n int64
	for i := range c.acked {
		if c.errs[i] {
			n++
		}
	}
	return n
}

func (c *checkingReceiver) done() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.acked) == len(c.msgs) || c.failed != ""
}
