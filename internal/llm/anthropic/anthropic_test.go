package anthropic

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/llm"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline"
)

func TestWireFormat(t *testing.T) {
	var body map[string]any
	var key string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key = r.Header.Get("Authorization")
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
		if r.URL.Path != "/v1/messages" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"m1","type":"message","role":"assistant","model":"claude-test","stop_reason":"tool_use",
			"content":[{"type":"tool_use","id":"t1","name":"answer","input":{"category":"disk-full","severity":"low","actionable":true,"confidence":0.9,"reasoning":"no space left"}}],
			"usage":{"input_tokens":500,"output_tokens":60}}`))
	}))
	defer srv.Close()
	p := New(Config{BaseURL: srv.URL, APIKey: "sk-ant-test", Model: "claude-default"})
	req := llm.Request{Stage: domain.StageTriage, System: "sys", Prompt: "data", Schema: pipeline.Schema(domain.StageTriage)}
	resp, err := p.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var tri domain.Triage
	if err := pipeline.Decode(domain.StageTriage, resp.Text, &tri); err != nil || tri.Category != "disk-full" {
		t.Fatalf("answer %q: %v", resp.Text, err)
	}
	if resp.InputTokens != 500 || resp.OutputTokens != 60 || key != "Bearer sk-ant-test" || body["model"] != "claude-default" {
		t.Fatalf("resp %+v key %q body %v", resp, key, body)
	}
	tc, _ := body["tool_choice"].(map[string]any)
	if tc["type"] != "tool" || tc["name"] != "answer" {
		t.Fatalf("tool_choice %v", body["tool_choice"])
	}
}

func TestOverloaded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(529)
		w.Write([]byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`))
	}))
	defer srv.Close()
	_, err := New(Config{BaseURL: srv.URL, APIKey: "k"}).Complete(context.Background(),
		llm.Request{Stage: domain.StageTriage, Schema: pipeline.Schema(domain.StageTriage)})
	if se, ok := llm.AsStatus(err); !ok || !se.Retryable() || se.RetryAfter.Seconds() != 3 {
		t.Fatalf("529: %v", err)
	}
}
