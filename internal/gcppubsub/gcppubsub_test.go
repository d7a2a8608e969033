package gcppubsub_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cloud-sre-agent/sre-agent/internal/agent"
	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/decode"
	"github.com/cloud-sre-agent/sre-agent/internal/gcppubsub"
	"github.com/cloud-sre-agent/sre-agent/internal/quarantine"
	"github.com/cloud-sre-agent/sre-agent/internal/sqlite"
)

const (
	project = "proj"
	topic   = "projects/proj/topics/logs"
	subName = "projects/proj/subscriptions/agent"
)

type fake struct {
	srv    *pstest.Server
	client *pubsub.Client
}

func newFake(t testing.TB) *fake {
	t.Helper()
	pstest.SetMinAckDeadline(time.Second)
	t.Cleanup(pstest.ResetMinAckDeadline)
	srv := pstest.NewServer()
	t.Cleanup(func() { srv.Close() })
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	client, err := gcppubsub.NewClient(ctx, project, option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/proj/topics/dead"}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: subName, Topic: topic, AckDeadlineSeconds: 1}); err != nil {
		t.Fatal(err)
	}
	return &fake{srv: srv, client: client}
}

// entry is a LogEntry as a Cloud Logging sink publishes it.
func entry(i int, msg string) []byte {
	return []byte(fmt.Sprintf(`{"insertId":"id-%06d","logName":"projects/proj/logs/run.googleapis.com%%2Fstderr","severity":"ERROR","textPayload":%q,"timestamp":"2026-11-20T09:%02d:%02d.%03dZ","resource":{"type":"cloud_run_revision","labels":{"service_name":"checkout"}}}`,
		i, msg, (i/60)%60, i%60, i%1000))
}

func publishEntries(f *fake, n int) {
	msgs := []string{"dial tcp 10.0.0.7:5432: connect: connection refused", "upstream request timeout after 3000 ms", "payment declined for order 42 code=51"}
	for i := 0; i < n; i++ {
		f.srv.Publish(topic, entry(i, msgs[i%len(msgs)]), nil)
	}
}

type nopPipeline struct{}

func (nopPipeline) Drain(context.Context) (int, bool, error) { return 0, false, nil }
func (nopPipeline) Stop()                                    {}

type rig struct {
	store *sqlite.Store
	aud   *audit.Log
	quar  string
	dir   string
}

func newRig(t testing.TB) *rig {
	t.Helper()
	dir := t.TempDir()
	r := &rig{dir: dir, quar: filepath.Join(dir, "quarantine.jsonl")}
	r.open(t)
	return r
}

func (r *rig) open(t testing.TB) {
	var err error
	if r.store, err = sqlite.Open(context.Background(), filepath.Join(r.dir, "s.db")); err != nil {
		t.Fatal(err)
	}
	if r.aud, err = audit.Open(filepath.Join(r.dir, "audit.jsonl"), "t"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.store.Close(); r.aud.Close() })
}

// wrap lets a test see and change what the agent does with messages.
type wrap struct {
	inner      agent.Receiver
	dropAcks   bool
	out, max   atomic.Int64
	delivered  atomic.Int64
	acks, nack atomic.Int64
	mu         sync.Mutex
	ids        map[string]int
}

func (w *wrap) Receive(ctx context.Context, deliver func(agent.Message)) error {
	var mu sync.Mutex
	var dropped []func()
	if w.dropAcks {
		// The process "dies": what it never acknowledged comes back, as
		// it would once the ack deadline passed.
		go func() {
			<-ctx.Done()
			mu.Lock()
			defer mu.Unlock()
			for _, nack := range dropped {
				nack()
			}
		}()
	}
	return w.inner.Receive(ctx, func(m agent.Message) {
		w.delivered.Add(1)
		w.mu.Lock()
		if w.ids == nil {
			w.ids = map[string]int{}
		}
		w.ids[m.ID]++
		w.mu.Unlock()
		if n := w.out.Add(1); n > w.max.Load() {
			w.max.Store(n)
		}
		ack, nack := m.Ack, m.Nack
		var once sync.Once
		m.Ack = func() {
			once.Do(func() {
				w.out.Add(-1)
				w.acks.Add(1)
				if !w.dropAcks {
					ack()
					return
				}
				// A crash between saving and acknowledging.
				mu.Lock()
				defer mu.Unlock()
				if ctx.Err() != nil {
					nack()
					return
				}
				dropped = append(dropped, nack)
			})
		}
		m.Nack = func() { once.Do(func() { w.out.Add(-1); w.nack.Add(1); nack() }) }
		deliver(m)
	})
}

func (r *rig) agent(t testing.TB, f *fake, cfg gcppubsub.Config, w *wrap, dl agent.DeadLetter) *agent.Agent {
	t.Helper()
	recv, err := gcppubsub.NewReceiver(f.client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.inner = recv
	if dl == nil {
		q, err := quarantine.Open(r.quar)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Close() })
		dl = q
	}
	c := config.Default()
	d := decode.DefaultOptions()
	d.Format = decode.FormatLogEntry
	d.MaxBytes = 64 << 10
	ag, err := agent.New(r.store, nopPipeline{}, r.aud, []agent.Source{{Name: "pubsub", Key: "pubsub:" + subName, Service: "pubsub",
		Messages: w, Decode: d, DeadLetter: dl}},
		agent.Options{Redact: c.Redact, Template: c.Template, Detect: c.Detect, ReopenAfter: time.Hour,
			FlushEvery: 200 * time.Millisecond, Poll: 50 * time.Millisecond, ShutdownGrace: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return ag
}

func (r *rig) total(t testing.TB) int64 {
	t.Helper()
	all, err := r.store.Incidents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, in := range all {
		n += in.Count
	}
	return n
}

func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func run(ag *agent.Agent) (cancel func() error) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ag.Run(ctx) }()
	return func() error { stop(); return <-done }
}

func allAcked(f *fake) bool {
	for _, m := range f.srv.Messages() {
		if m.Acks == 0 {
			return false
		}
	}
	return true
}

// N messages, the first agent saves but never acknowledges (it dies between
// the two), a second agent on the same store gets them all again: every
// event counted once, every message acknowledged.
func TestCrashBeforeAckCountsOnce(t *testing.T) {
	f := newFake(t)
	const n = 300
	publishEntries(f, n)
	// Cloud Logging can publish an entry twice: same insertId.
	for i := 0; i < 20; i++ {
		f.srv.Publish(topic, entry(i, "dial tcp 10.0.0.7:5432: connect: connection refused"), nil)
	}
	r := newRig(t)
	// Held messages' deadlines are extended a second at a time, so what a
	// dead agent held comes back within a second or two.
	cfg := gcppubsub.Config{Project: project, Subscription: "agent", MaxAckExtension: time.Second}
	first := &wrap{dropAcks: true}
	stop := run(r.agent(t, f, cfg, first, nil))
	waitFor(t, "the first agent to save", 20*time.Second, func() bool { return r.total(t) >= 100 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	saved := r.total(t)
	if allAcked(f) {
		t.Fatal("the first agent acknowledged messages")
	}
	second := &wrap{}
	stop = run(r.agent(t, f, cfg, second, nil))
	deadline := time.Now().Add(30 * time.Second)
	for !allAcked(f) {
		if time.Now().After(deadline) {
			unacked, maxDel := 0, 0
			for _, m := range f.srv.Messages() {
				if m.Acks == 0 {
					unacked++
					maxDel = max(maxDel, m.Deliveries)
				}
			}
			t.Fatalf("not all acknowledged: %d unacked (max deliveries %d); second agent: delivered %d acks %d nacks %d; first: delivered %d acks %d",
				unacked, maxDel, second.delivered.Load(), second.acks.Load(), second.nack.Load(), first.delivered.Load(), first.acks.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := r.total(t); got != n {
		t.Fatalf("events counted %d, want %d (first agent saved %d before dying)", got, n, saved)
	}
	if second.delivered.Load() < int64(saved) {
		t.Fatalf("the second agent saw %d messages; the %d saved ones were not redelivered", second.delivered.Load(), saved)
	}
}

func TestBadMessagesAreDeadLettered(t *testing.T) {
	f := newFake(t)
	bad := map[string][]byte{
		"invalid-json": []byte(`{"insertId": "x", `),
		"wrong-shape":  []byte(`{"hello":"world"}`),
		"oversized":    []byte(`{"insertId":"big","textPayload":"` + strings.Repeat("x", 70<<10) + `"}`),
		"compression":  append([]byte{0x1f, 0x8b}, []byte("not gzip at all")...),
	}
	for _, b := range bad {
		f.srv.Publish(topic, b, map[string]string{"k": "v"})
	}
	publishEntries(f, 5)
	r := newRig(t)
	stop := run(r.agent(t, f, gcppubsub.Config{Project: project, Subscription: "agent"}, &wrap{}, nil))
	waitFor(t, "every message acknowledged", 20*time.Second, func() bool { return allAcked(f) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	qf, err := os.Open(r.quar)
	if err != nil {
		t.Fatal(err)
	}
	defer qf.Close()
	lines := 0
	sc := bufio.NewScanner(qf)
	sc.Buffer(nil, 1<<20) // the oversized message is in there, base64
	for sc.Scan() {
		lines++
	}
	if lines != len(bad) {
		t.Fatalf("%d quarantined, want %d", lines, len(bad))
	}
	if r.total(t) != 5 {
		t.Fatalf("good messages counted %d, want 5", r.total(t))
	}
	b, _ := os.ReadFile(filepath.Join(r.dir, "audit.jsonl"))
	if got := strings.Count(string(b), `"kind":"dead_letter"`); got != len(bad) {
		t.Fatalf("%d dead letters audited, want %d", got, len(bad))
	}
}

func TestDeadLetterTopic(t *testing.T) {
	f := newFake(t)
	f.srv.Publish(topic, []byte("{broken"), nil)
	r := newRig(t)
	dl := gcppubsub.NewDeadLetterTopic(f.client, "projects/proj/topics/dead")
	defer dl.Stop()
	stop := run(r.agent(t, f, gcppubsub.Config{Project: project, Subscription: "agent"}, &wrap{}, dl))
	waitFor(t, "the bad message dead-lettered", 20*time.Second, func() bool {
		for _, m := range f.srv.Messages() {
			if m.Topic == "projects/proj/topics/dead" && m.Attributes["sre_agent_reason"] == decode.ReasonInvalidJSON {
				return allAcked(f) || true
			}
		}
		return false
	})
	waitFor(t, "the original acknowledged", 20*time.Second, func() bool {
		for _, m := range f.srv.Messages() {
			if m.Topic == topic && m.Acks == 0 {
				return false
			}
		}
		return true
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestFlowControlBoundsOutstanding(t *testing.T) {
	f := newFake(t)
	publishEntries(f, 200)
	r := newRig(t)
	w := &wrap{}
	stop := run(r.agent(t, f, gcppubsub.Config{Project: project, Subscription: "agent", MaxOutstandingMessages: 5, NumGoroutines: 1}, w, nil))
	waitFor(t, "every message acknowledged", 60*time.Second, func() bool { return allAcked(f) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if m := w.max.Load(); m > 5 {
		t.Fatalf("%d messages outstanding at once, the limit is 5 (%d deliveries of %d messages)", m, w.delivered.Load(), len(w.ids))
	}
	if r.total(t) != 200 {
		t.Fatalf("counted %d", r.total(t))
	}
}

func TestShutdownWithinDeadline(t *testing.T) {
	f := newFake(t)
	publishEntries(f, 2000)
	r := newRig(t)
	w := &wrap{}
	stop := run(r.agent(t, f, gcppubsub.Config{Project: project, Subscription: "agent"}, w, nil))
	waitFor(t, "some messages", 20*time.Second, func() bool { return w.delivered.Load() > 50 })
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 6*time.Second {
		t.Fatalf("stop took %v, the grace is 5s", took)
	}
	// Whatever was acknowledged is saved; nothing acknowledged is lost.
	if got, acked := r.total(t), w.acks.Load(); got != acked {
		t.Fatalf("saved %d events but acknowledged %d messages", got, acked)
	}
}
