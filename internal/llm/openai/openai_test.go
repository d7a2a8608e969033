package openai

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/llm"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline"
)

const answer = `{"category":"timeout","severity":"high","actionable":true,"confidence":0.8,"reasoning":"p99 above the timeout"}`

func request() llm.Request {
	return llm.Request{Stage: domain.StageTriage, Model: "gpt-test", System: "system text", Prompt: "<<<DATA-x>>>\nsample: timeout\n<<<END DATA-x>>>", Schema: pipeline.Schema(domain.StageTriage)}
}

func TestWireFormat(t *testing.T) {
	var body map[string]any
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
		if r.URL.Path != "/chat/completions" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-test-2026",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": answer}}},
			"usage":   map[string]any{"prompt_tokens": 321, "completion_tokens": 45, "total_tokens": 366}})
	}))
	defer srv.Close()
	p := New(Config{BaseURL: srv.URL, APIKey: "sk-test-key-123", HTTP: srv.Client()})
	resp, err := p.Complete(context.Background(), request())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text != answer || resp.InputTokens != 321 || resp.OutputTokens != 45 || resp.Model != "gpt-test-2026" {
		t.Fatalf("%+v", resp)
	}
	if auth != "Bearer sk-test-key-123" {
		t.Fatalf("auth header %q", auth)
	}
	rf, _ := body["response_format"].(map[string]any)
	js, _ := rf["json_schema"].(map[string]any)
	if body["model"] != "gpt-test" || rf["type"] != "json_schema" || js["schema"] == nil {
		t.Fatalf("request: %v", body)
	}
	b, _ := json.Marshal(body)
	if strings.Contains(string(b), "sk-test-key-123") {
		t.Fatal("the key is in the request body")
	}
}

func TestRateLimitAndServerErrors(t *testing.T) {
	status := http.StatusTooManyRequests
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(`{"error":{"message":"slow down","type":"rate_limit","code":"rate_limit_exceeded","param":null}}`))
	}))
	defer srv.Close()
	p := New(Config{BaseURL: srv.URL, APIKey: "k"})
	_, err := p.Complete(context.Background(), request())
	se, ok := llm.AsStatus(err)
	if !ok || se.Status != 429 || se.RetryAfter.Seconds() != 7 || !se.Retryable() {
		t.Fatalf("429: %v", err)
	}
	status = http.StatusInternalServerError
	_, err = p.Complete(context.Background(), request())
	if se, ok := llm.AsStatus(err); !ok || se.Status != 500 || !se.Retryable() {
		t.Fatalf("500: %v", err)
	}
	status = http.StatusUnauthorized
	_, err = p.Complete(context.Background(), request())
	if se, ok := llm.AsStatus(err); !ok || se.Retryable() {
		t.Fatalf("401 must not be retried: %v", err)
	}
}
