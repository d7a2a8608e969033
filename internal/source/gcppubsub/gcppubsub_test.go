package gcppubsub_test

import (
	"bufio"
	"context"
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

	"github.com/cloud-sre-agent/sre-agent/internal/agent/agenttest"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/source"
	"github.com/cloud-sre-agent/sre-agent/internal/source/envelope"
	"github.com/cloud-sre-agent/sre-agent/internal/source/gcppubsub"
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

func publishEntries(f *fake, n int) {
	for i := 0; i < n; i++ {
		f.srv.Publish(topic, agenttest.Entry(i), nil)
	}
}

// wrap lets a test see and change what the agent does with messages.
type wrap struct {
	inner      source.Receiver
	dropAcks   bool
	out, max   atomic.Int64
	delivered  atomic.Int64
	acks, nack atomic.Int64
	mu         sync.Mutex
	ids        map[string]int
}

func (w *wrap) Receive(ctx context.Context, deliver func(source.Message)) error {
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
	return w.inner.Receive(ctx, func(m source.Message) {
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

func receiver(t testing.TB, f *fake, cfg config.PubSub, w *wrap) *wrap {
	t.Helper()
	recv, err := gcppubsub.NewReceiver(f.client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.inner = recv
	return w
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
		f.srv.Publish(topic, agenttest.EntryWith(i, "dial tcp 10.0.0.7:5432: connect: connection refused"), nil)
	}
	r := agenttest.New(t)
	// Held messages' deadlines are extended a second at a time, so what a
	// dead agent held comes back within a second or two.
	cfg := config.PubSub{Project: project, Subscription: "agent", MaxAckExtension: time.Second}
	first := &wrap{dropAcks: true}
	stop := agenttest.Run(r.Agent(t, "pubsub", receiver(t, f, cfg, first), envelope.FormatLogEntry, nil))
	agenttest.WaitFor(t, "the first agent to save", 20*time.Second, func() bool { return r.Total(t) >= 100 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	saved := r.Total(t)
	if allAcked(f) {
		t.Fatal("the first agent acknowledged messages")
	}
	second := &wrap{}
	stop = agenttest.Run(r.Agent(t, "pubsub", receiver(t, f, cfg, second), envelope.FormatLogEntry, nil))
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
	if got := r.Total(t); got != n {
		t.Fatalf("events counted %d, want %d (first agent saved %d before dying)", got, n, saved)
	}
	if second.delivered.Load() < int64(saved) {
		t.Fatalf("the second agent saw %d messages; the %d saved ones were not redelivered", second.delivered.Load(), saved)
	}
}

func TestBadMessagesAreDeadLettered(t *testing.T) {
	f := newFake(t)
	bad := map[string][]byte{
		"invalid-json": []byte(`{"insertId": "x", "token": "ghp_abcdefghijklmnopqrstuvwxyz0123456789" oops`),
		"wrong-shape":  []byte(`{"hello":"world"}`),
		"oversized":    []byte(`{"insertId":"big","textPayload":"` + strings.Repeat("x", 70<<10) + `"}`),
		"compression":  append([]byte{0x1f, 0x8b}, []byte("not gzip at all")...),
	}
	for _, b := range bad {
		f.srv.Publish(topic, b, map[string]string{"k": "v"})
	}
	publishEntries(f, 5)
	r := agenttest.New(t)
	stop := agenttest.Run(r.Agent(t, "pubsub", receiver(t, f, config.PubSub{Project: project, Subscription: "agent"}, &wrap{}), envelope.FormatLogEntry, nil))
	agenttest.WaitFor(t, "every message acknowledged", 20*time.Second, func() bool { return allAcked(f) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	qf, err := os.Open(r.Quarantine)
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
	if r.Total(t) != 5 {
		t.Fatalf("good messages counted %d, want 5", r.Total(t))
	}
	b, _ := os.ReadFile(filepath.Join(r.Dir, "audit.jsonl"))
	if strings.Contains(string(b), "ghp_abcdefghij") {
		t.Fatal("a secret quoted by a parser error reached the audit log")
	}
	if got := strings.Count(string(b), `"kind":"dead_letter"`); got != len(bad) {
		t.Fatalf("%d dead letters audited, want %d", got, len(bad))
	}
}

func TestDeadLetterTopic(t *testing.T) {
	f := newFake(t)
	f.srv.Publish(topic, []byte("{broken"), nil)
	r := agenttest.New(t)
	dl := gcppubsub.NewDeadLetterTopic(f.client, "projects/proj/topics/dead")
	defer dl.Stop()
	stop := agenttest.Run(r.Agent(t, "pubsub", receiver(t, f, config.PubSub{Project: project, Subscription: "agent"}, &wrap{}), envelope.FormatLogEntry, dl))
	agenttest.WaitFor(t, "the bad message dead-lettered", 20*time.Second, func() bool {
		for _, m := range f.srv.Messages() {
			if m.Topic == "projects/proj/topics/dead" && m.Attributes["sre_agent_reason"] == envelope.ReasonInvalidJSON {
				return allAcked(f) || true
			}
		}
		return false
	})
	agenttest.WaitFor(t, "the original acknowledged", 20*time.Second, func() bool {
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
	r := agenttest.New(t)
	w := &wrap{}
	stop := agenttest.Run(r.Agent(t, "pubsub", receiver(t, f, config.PubSub{Project: project, Subscription: "agent", MaxOutstandingMessages: 5, NumGoroutines: 1}, w), envelope.FormatLogEntry, nil))
	agenttest.WaitFor(t, "every message acknowledged", 60*time.Second, func() bool { return allAcked(f) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if m := w.max.Load(); m > 5 {
		t.Fatalf("%d messages outstanding at once, the limit is 5 (%d deliveries of %d messages)", m, w.delivered.Load(), len(w.ids))
	}
	if r.Total(t) != 200 {
		t.Fatalf("counted %d", r.Total(t))
	}
}

func TestShutdownWithinDeadline(t *testing.T) {
	f := newFake(t)
	publishEntries(f, 2000)
	r := agenttest.New(t)
	w := &wrap{}
	stop := agenttest.Run(r.Agent(t, "pubsub", receiver(t, f, config.PubSub{Project: project, Subscription: "agent"}, w), envelope.FormatLogEntry, nil))
	agenttest.WaitFor(t, "some messages", 20*time.Second, func() bool { return w.delivered.Load() > 50 })
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 6*time.Second {
		t.Fatalf("stop took %v, the grace is 5s", took)
	}
	// Whatever was acknowledged is saved; nothing acknowledged is lost.
	if got, acked := r.Total(t), w.acks.Load(); got != acked {
		t.Fatalf("saved %d events but acknowledged %d messages", got, acked)
	}
}

// BenchmarkEndToEnd: LogEntry messages published to the in-process server,
// pulled, decoded, deduplicated, run through the spine, saved to SQLite
// with their keys and acknowledged
// (go test -run '^$' -bench EndToEnd ./internal/gcppubsub).
func BenchmarkEndToEnd(b *testing.B) {
	f := newFake(b)
	r := agenttest.New(b)
	w := &wrap{}
	stop := agenttest.Run(r.Agent(b, "pubsub", receiver(b, f, config.PubSub{Project: project, Subscription: "agent", NumGoroutines: 4}, w), envelope.FormatLogEntry, nil))
	defer stop()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.srv.Publish(topic, agenttest.Entry(i), nil)
	}
	agenttest.WaitFor(b, "every message acknowledged", 10*time.Minute, func() bool { return w.acks.Load() >= int64(b.N) })
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(w.max.Load()), "max-outstanding")
}
