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

	"github.com/cloud-sre-agent/sre-agent/internal/agent/agenttest"
	"github.com/cloud-sre-agent/sre-agent/internal/store/sqlite"
)

// The pubsub source as configured, reaching an emulator through
// PUBSUB_EMULATOR_HOST exactly as production code reaches Pub/Sub.
func TestRunPubSubSourceThroughEmulator(t *testing.T) {
	var msgs [][]byte
	for i := 0; i < 30; i++ {
		msgs = append(msgs, agenttest.Entry(i))
	}
	srv := emulator(t, append(msgs, []byte("not json"))...)
	a := startAgent(t, fmt.Sprintf(`
http: {addr: ""}
delivery: {type: local, local: {dir: %s}}
sources:
  - type: pubsub
    pubsub: {project: proj, subscription: agent, max_outstanding_messages: 100}
`, t.TempDir()))
	agenttest.WaitFor(t, "every message acknowledged", 20*time.Second, func() bool { return allAcked(srv) })
	if err := a.stop(); err != nil {
		t.Fatalf("run: %v\n%s", err, a.Stderr.String())
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, a.DB)
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
	q, _ := os.ReadFile(filepath.Join(filepath.Dir(a.DB), "quarantine.jsonl"))
	if !bytes.Contains(q, []byte(`"reason":"invalid-json"`)) {
		t.Fatalf("the bad message is not in the quarantine: %q", q)
	}
	if !strings.Contains(a.Stdout.String(), "delivered") {
		t.Fatalf("no incident went through the pipeline:\n%s", a.Stdout.String())
	}
}
