package gocloud_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"testing"
	"time"

	"gocloud.dev/pubsub"

	"github.com/cloud-sre-agent/sre-agent/internal/agent/agenttest"
	"github.com/cloud-sre-agent/sre-agent/internal/datasets"
	"github.com/cloud-sre-agent/sre-agent/internal/source/envelope"
	"github.com/cloud-sre-agent/sre-agent/internal/source/gocloud"
)

// natsURL is the NATS server on this machine (.ci/run starts it).
const natsURL = "nats://127.0.0.1:4222"

func TestNATSEndToEnd(t *testing.T) {
	t.Setenv("NATS_SERVER_URL", natsURL)
	ctx := context.Background()
	subject := fmt.Sprintf("sre-agent-test-%d", time.Now().UnixNano())
	recv, err := gocloud.Open(ctx, "nats://"+subject)
	if err != nil {
		t.Fatalf("open NATS subscription (is nats-server running on 127.0.0.1:4222?): %v", err)
	}
	topic, err := pubsub.OpenTopic(ctx, "nats://"+subject)
	if err != nil {
		t.Fatal(err)
	}
	defer topic.Shutdown(ctx)
	r := agenttest.New(t)
	stop := agenttest.Run(r.Agent(t, "nats", recv, envelope.FormatAuto, nil))
	const n = 100
	for i := 0; i < n; i++ {
		if err := topic.Send(ctx, &pubsub.Message{Body: agenttest.Entry(i)}); err != nil {
			t.Fatal(err)
		}
	}
	topic.Send(ctx, &pubsub.Message{Body: []byte{0x1f, 0x8b, 1, 2, 3}}) // compressed garbage
	agenttest.WaitFor(t, "every NATS message counted", 20*time.Second, func() bool { return r.Total(t) == n })
	agenttest.WaitFor(t, "the bad one quarantined", 10*time.Second, func() bool {
		b, _ := os.ReadFile(r.Quarantine)
		return len(b) > 0
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// CloudWatch Logs subscription payloads as they reach a queue: JSON, gzip,
// and base64 of gzip, from the shared samples.
func TestCloudWatchPayloadsThroughATransport(t *testing.T) {
	ctx := context.Background()
	plain, err := os.ReadFile(datasets.Path(t, "cloud", "aws", "valid_cloudwatch_log.json"))
	if err != nil {
		t.Fatal(err)
	}
	lambda, err := os.ReadFile(datasets.Path(t, "cloud", "aws", "cloudwatch-logs-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("mem://cw-%d", time.Now().UnixNano())
	topic, err := pubsub.OpenTopic(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer topic.Shutdown(ctx)
	recv, err := gocloud.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	r := agenttest.New(t)
	stop := agenttest.Run(r.Agent(t, "sqs", recv, envelope.FormatCloudWatch, nil))
	for _, body := range [][]byte{plain, lambda, []byte(base64.StdEncoding.EncodeToString(plain)), plain} {
		if err := topic.Send(ctx, &pubsub.Message{Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	// Every payload is saved under its content key; the plain and base64
	// forms of one payload are one key (a redelivery counts once).
	dec, err := envelope.New(envelope.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, body := range [][]byte{plain, lambda} {
		m, err := dec.Decode(body)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, m.Key)
	}
	agenttest.WaitFor(t, "both CloudWatch payloads saved", 10*time.Second, func() bool {
		seen, err := r.Store.Seen(ctx, keys)
		return err == nil && seen[keys[0]] && seen[keys[1]]
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(r.Quarantine); len(b) != 0 {
		t.Fatalf("a CloudWatch payload was quarantined: %s", b)
	}
}

func TestURLSchemes(t *testing.T) {
	if err := gocloud.CheckURL("awssqs://sqs.us-east-2.amazonaws.com/123/q?region=us-east-2"); err != nil {
		t.Fatal(err)
	}
	if err := gocloud.CheckURL("gcppubsub://projects/p/subscriptions/s"); err == nil {
		t.Fatal("gcppubsub URLs go through the native adapter")
	}
}

// BenchmarkNATSEndToEnd: LogEntry messages through the real NATS server
// into the agent and its store, in chunks a core-NATS subscriber keeps up
// with (go test -run '^$' -bench EndToEnd ./internal/source/gocloud).
func BenchmarkNATSEndToEnd(b *testing.B) {
	b.Setenv("NATS_SERVER_URL", natsURL)
	benchURL(b, fmt.Sprintf("nats://sre-agent-bench-%d", time.Now().UnixNano()))
}

// BenchmarkMemEndToEnd is the same through an in-process queue with
// acknowledgements: the agent's own cost per message.
func BenchmarkMemEndToEnd(b *testing.B) {
	benchURL(b, fmt.Sprintf("mem://bench-%d", time.Now().UnixNano()))
}

func benchURL(b *testing.B, url string) {
	ctx := context.Background()
	topic, err := pubsub.OpenTopic(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	recv, err := gocloud.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer topic.Shutdown(ctx)
	r := agenttest.New(b)
	stop := agenttest.Run(r.Agent(b, "bench", recv, envelope.FormatLogEntry, nil))
	defer stop()
	b.ResetTimer()
	const chunk = 2000
	for sent := 0; sent < b.N; {
		n := min(chunk, b.N-sent)
		for i := 0; i < n; i++ {
			if err := topic.Send(ctx, &pubsub.Message{Body: agenttest.Entry(sent + i)}); err != nil {
				b.Fatal(err)
			}
		}
		sent += n
		agenttest.WaitFor(b, "the chunk counted", time.Minute, func() bool { return r.Total(b) >= int64(sent) })
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
