package gemini

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

func TestWireFormat(t *testing.T) {
	var body map[string]any
	var path, key string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, key = r.URL.Path, r.Header.Get("X-Goog-Api-Key")
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"candidates":[{"content":{"role":"model","parts":[{"text":"{\"category\":\"timeout\",\"severity\":\"high\",\"actionable\":true,\"confidence\":0.7,\"reasoning\":\"slow db\"}"}]},"finishReason":"STOP"}],
			"usageMetadata":{"promptTokenCount":210,"candidatesTokenCount":33,"totalTokenCount":243},"modelVersion":"gemini-test-001"}`))
	}))
	defer srv.Close()
	p, err := New(context.Background(), Config{APIKey: "AIza-test", Model: "gemini-test", BaseURL: srv.URL, HTTP: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.Complete(context.Background(), llm.Request{Stage: domain.StageTriage, System: "sys", Prompt: "data", Schema: pipeline.Schema(domain.StageTriage)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(path, "/models/gemini-test:generateContent") || key != "AIza-test" {
		t.Fatalf("path %s key %q", path, key)
	}
	gc, _ := body["generationConfig"].(map[string]any)
	if gc["responseMimeType"] != "application/json" || gc["responseJsonSchema"] == nil {
		t.Fatalf("generationConfig %v", body["generationConfig"])
	}
	if resp.InputTokens != 210 || resp.OutputTokens != 33 || resp.Model != "gemini-test-001" || !strings.Contains(resp.Text, "timeout") {
		t.Fatalf("%+v", resp)
	}
}

func TestUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(503)
		w.Write([]byte(`{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}`))
	}))
	defer srv.Close()
	p, _ := New(context.Background(), Config{APIKey: "k", Model: "m", BaseURL: srv.URL})
	_, err := p.Complete(context.Background(), llm.Request{Stage: domain.StageTriage, Schema: pipeline.Schema(domain.StageTriage)})
	if se, ok := llm.AsStatus(err); !ok || se.Status != 503 || !se.Retryable() {
		t.Fatalf("503: %v", err)
	}
}
