package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"

	"github.com/cloud-sre-agent/sre-agent/internal/agent/agenttest"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/gcppubsub"
	"github.com/cloud-sre-agent/sre-agent/internal/sqlite"
)

// The pubsub source as configured, reaching an emulator through
// PUBSUB_EMULATOR_HOST exactly as production code reaches Pub/Sub.
func TestRunPubSubSourceThroughEmulator(t *testing.T) {
	srv := pstest.NewServer()
	defer srv.Close()
	t.Setenv("PUBSUB_EMULATOR_HOST", srv.Addr)
	ctx := context.Background()
	client, err := gcppubsub.NewClient(ctx, "proj")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/proj/topics/logs"}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: "projects/proj/subscriptions/agent", Topic: "projects/proj/topics/logs"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		srv.Publish("projects/proj/topics/logs", agenttest.Entry(i), nil)
	}
	srv.Publish("projects/proj/topics/logs", []byte("not json"), nil)

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
store: {path: %s}
http: {addr: ""}
delivery: {type: local, local: {dir: %s}}
sources:
  - type: pubsub
    pubsub: {project: proj, subscription: agent, max_outstanding_messages: 100}
`, filepath.Join(dir, "state", "s.db"), filepath.Join(dir, "out"))), 0o600)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	var stdout, stderr bytes.Buffer
	go func() { done <- runAgent(runCtx, cfg, "", nil, false, strings.NewReader(""), &stdout, &stderr) }()
	agenttest.WaitFor(t, "every message acknowledged", 20*time.Second, func() bool {
		for _, m := range srv.Messages() {
			if m.Acks == 0 {
				return false
			}
		}
		return true
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "state", "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, _ := st.Incidents(ctx)
	var n int64
	for _, in := range all {
		n += in.Count
	}
	if n != 30 {
		t.Fatalf("counted %d events, want 30", n)
	}
	q, _ := os.ReadFile(filepath.Join(dir, "state", "quarantine.jsonl"))
	if !bytes.Contains(q, []byte(`"reason":"invalid-json"`)) {
		t.Fatalf("the bad message is not in the quarantine: %q", q)
	}
	if !strings.Contains(stdout.String(), "delivered") {
		t.Fatalf("no incident went through the pipeline:\n%s", stdout.String())
	}
}
