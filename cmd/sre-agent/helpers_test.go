package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/cloud-sre-agent/sre-agent/internal/app"
	"github.com/cloud-sre-agent/sre-agent/internal/source/gcppubsub"
)

// emulator is a pstest server, reached through PUBSUB_EMULATOR_HOST as
// production code reaches Pub/Sub, holding msgs on topic logs with the
// subscription agent (10 s acknowledgement deadline).
func emulator(t *testing.T, msgs ...[]byte) *pstest.Server {
	t.Helper()
	srv := pstest.NewServer()
	t.Cleanup(func() { srv.Close() })
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
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: "projects/proj/subscriptions/agent",
		Topic: "projects/proj/topics/logs", AckDeadlineSeconds: 10, MessageRetentionDuration: durationpb.New(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		srv.Publish("projects/proj/topics/logs", m, nil)
	}
	return srv
}

func allAcked(srv *pstest.Server) bool {
	for _, m := range srv.Messages() {
		if m.Acks == 0 {
			return false
		}
	}
	return true
}

// bgAgent is `sre-agent run --follow` in this process, on a config given
// as YAML, with its store at DB (a fresh directory that also holds the
// audit log and the quarantine).
type bgAgent struct {
	DB             string
	Stdout, Stderr bytes.Buffer
	cancel         context.CancelFunc
	done           chan error
	stopped        sync.Once
	err            error
}

func startAgent(t *testing.T, yaml string, args ...string) *bgAgent {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := app.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	a := &bgAgent{DB: filepath.Join(dir, "s.db"), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go func() {
		a.done <- app.RunAgent(ctx, cfg, a.DB, args, true, strings.NewReader(""), &a.Stdout, &a.Stderr)
	}()
	return a
}

// stop signals the agent as SIGTERM would and waits for it; again, it
// says how the agent ended.
func (a *bgAgent) stop() error {
	a.stopped.Do(func() {
		a.cancel()
		a.err = <-a.done
	})
	return a.err
}

// stageOf is the stage an OpenAI chat request asks about: the name of its
// response JSON schema.
func stageOf(body []byte) string {
	var req struct {
		ResponseFormat struct {
			JSONSchema struct{ Name string } `json:"json_schema"`
		} `json:"response_format"`
	}
	json.Unmarshal(body, &req)
	return req.ResponseFormat.JSONSchema.Name
}

// writeCompletion answers an OpenAI chat request with content, as the
// chat completions API does.
func writeCompletion(w http.ResponseWriter, content string, promptTokens, completionTokens int) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"id": "c", "object": "chat.completion", "created": 1, "model": "gpt-test",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": content}}},
		"usage":   map[string]any{"prompt_tokens": promptTokens, "completion_tokens": completionTokens, "total_tokens": promptTokens + completionTokens}})
}

// githubDelivery is the config's delivery to a test GitHub at url, with
// the token in the environment variable tokenEnv.
func githubDelivery(url, tokenEnv string) string {
	return fmt.Sprintf("delivery:\n  type: github\n  github: {base_url: %s/api/v3/, owner: o, repo: r, base_branch: main, token: env://%s}\n", url, tokenEnv)
}
