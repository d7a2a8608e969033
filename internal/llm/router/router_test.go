package router

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/llm"
	"github.com/cloud-sre-agent/sre-agent/internal/llm/gemini"
	"github.com/cloud-sre-agent/sre-agent/internal/llm/offline"
	"github.com/cloud-sre-agent/sre-agent/internal/llm/openai"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline"
)

const triageJSON = `{"category":"timeout","severity":"high","actionable":true,"confidence":0.8,"reasoning":"slow"}`

func req(fp string) llm.Request {
	ev := &domain.Evidence{Fingerprint: domain.Fingerprint(fp), Service: "api", Severity: domain.Error, Count: 3,
		Templates: []domain.Template{{ID: "t1", Text: "upstream request timeout after <*> ms", Count: 3}}}
	return llm.Request{Stage: domain.StageTriage, Model: "", System: "sys", Prompt: "<<<DATA-x>>> timeout <<<END DATA-x>>>",
		Schema: pipeline.Schema(domain.StageTriage), Evidence: ev}
}

// openaiServer answers chat completions; fail says with which status to fail.
func openaiServer(t *testing.T, calls *atomic.Int32, fail func() int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if code := fail(); code != 0 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(code)
			w.Write([]byte(`{"error":{"message":"no","type":"x","code":"x","param":null}}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": "c", "object": "chat.completion", "created": 1, "model": "gpt-x",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": triageJSON}}},
			"usage":   map[string]any{"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func geminiDown(t *testing.T, calls *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(503)
		w.Write([]byte(`{"error":{"code":503,"message":"unavailable","status":"UNAVAILABLE"}}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newRouter(t *testing.T, cfg Config, chain ...Entry) (*Router, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	aud, err := audit.Open(path, "t")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { aud.Close() })
	r, err := New(cfg, chain, offline.New(), redact.New(redact.DefaultOptions()), aud, nil)
	if err != nil {
		t.Fatal(err)
	}
	var slept []time.Duration
	r.sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	return r, path
}

// Gemini primary, OpenAI fallback: a Gemini outage costs nothing but a
// failed call, then the breaker keeps Gemini out of the way.
func TestGeminiOutageFallsBackToOpenAI(t *testing.T) {
	var gCalls, oCalls atomic.Int32
	g := geminiDown(t, &gCalls)
	o := openaiServer(t, &oCalls, func() int { return 0 })
	gp, err := gemini.New(context.Background(), gemini.Config{APIKey: "k", Model: "gemini-x", BaseURL: g.URL})
	if err != nil {
		t.Fatal(err)
	}
	op := openai.New(openai.Config{BaseURL: o.URL, APIKey: "k", Model: "gpt-x"})
	r, _ := newRouter(t, Config{AllowThirdParty: true, MaxRetries: 1, BreakerFailures: 2, BreakerCooldown: time.Hour,
		Prices: map[string]config.Price{"gpt-x": {InputPerMTok: 2, OutputPerMTok: 8}}},
		Entry{Provider: gp, ThirdParty: true}, Entry{Provider: op, ThirdParty: true})
	for i := 0; i < 4; i++ {
		resp, err := r.Complete(context.Background(), req(string(rune('a'+i))))
		if err != nil || resp.Provider != "openai" || resp.Text != triageJSON {
			t.Fatalf("call %d: %+v %v", i, resp, err)
		}
		if want := (1000*2.0 + 100*8.0) / 1e6; resp.CostUSD != want {
			t.Fatalf("cost %v, want %v", resp.CostUSD, want)
		}
	}
	// Two calls (a retry each) before the breaker opened, then none.
	if gCalls.Load() != 4 || oCalls.Load() != 4 {
		t.Fatalf("gemini calls %d, openai calls %d", gCalls.Load(), oCalls.Load())
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	var calls atomic.Int32
	n := 0
	o := openaiServer(t, &calls, func() int { n++; return map[bool]int{true: 429, false: 0}[n == 1] })
	r, _ := newRouter(t, Config{AllowThirdParty: true, MaxRetries: 2}, Entry{Provider: openai.New(openai.Config{BaseURL: o.URL, APIKey: "k"}), ThirdParty: true})
	var slept []time.Duration
	r.sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	if _, err := r.Complete(context.Background(), req("x")); err != nil {
		t.Fatal(err)
	}
	if len(slept) != 1 || slept[0] != time.Second {
		t.Fatalf("slept %v, want the 1s Retry-After", slept)
	}
}

func TestBudgetSpentAnswersOfflineAndSaysSo(t *testing.T) {
	var calls atomic.Int32
	o := openaiServer(t, &calls, func() int { return 0 })
	r, path := newRouter(t, Config{AllowThirdParty: true, DailyTokens: 1500}, Entry{Provider: openai.New(openai.Config{BaseURL: o.URL, APIKey: "k"}), ThirdParty: true})
	r.Complete(context.Background(), req("a")) // 1,100 tokens
	r.Complete(context.Background(), req("b")) // 2,200: spent
	resp, err := r.Complete(context.Background(), req("c"))
	if err != nil || resp.Provider != offline.Name || !strings.Contains(resp.Note, "budget") {
		t.Fatalf("after the budget: %+v %v", resp, err)
	}
	if calls.Load() != 2 {
		t.Fatalf("%d calls", calls.Load())
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `"kind":"budget_exhausted"`) {
		t.Fatal("budget exhaustion not audited")
	}
}

func TestRecurringIncidentIsCached(t *testing.T) {
	var calls atomic.Int32
	o := openaiServer(t, &calls, func() int { return 0 })
	r, _ := newRouter(t, Config{AllowThirdParty: true}, Entry{Provider: openai.New(openai.Config{BaseURL: o.URL, APIKey: "k"}), ThirdParty: true})
	first, _ := r.Complete(context.Background(), req("same"))
	again, _ := r.Complete(context.Background(), req("same"))
	if calls.Load() != 1 || !again.Cached || again.Text != first.Text || again.InputTokens != 0 {
		t.Fatalf("calls %d, cached %v", calls.Load(), again.Cached)
	}
}

func TestDataGates(t *testing.T) {
	p := openai.New(openai.Config{BaseURL: "http://127.0.0.1:1", APIKey: "k"})
	if _, err := New(Config{}, []Entry{{Provider: p, ThirdParty: true}}, offline.New(), redact.New(redact.DefaultOptions()), nil, nil); !errors.Is(err, ErrThirdParty) {
		t.Fatalf("third party without consent: %v", err)
	}
	var calls atomic.Int32
	o := openaiServer(t, &calls, func() int { return 0 })
	r, path := newRouter(t, Config{AllowThirdParty: true}, Entry{Provider: openai.New(openai.Config{BaseURL: o.URL, APIKey: "k"}), ThirdParty: true})
	leaky := req("leak")
	leaky.Prompt += " token=ghp_abcdefghijklmnopqrstuvwxyz0123456789"
	resp, err := r.Complete(context.Background(), leaky)
	if err != nil || calls.Load() != 0 || resp.Provider != offline.Name {
		t.Fatalf("a prompt with a secret was sent: calls %d, %+v %v", calls.Load(), resp, err)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `"kind":"prompt_blocked"`) || strings.Contains(string(b), "ghp_abc") {
		t.Fatalf("audit: %s", b)
	}
}

func TestSlowProviderTimesOut(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(1500 * time.Millisecond):
		}
	}))
	defer slow.Close()
	r, _ := newRouter(t, Config{AllowThirdParty: true, Timeout: 100 * time.Millisecond, MaxRetries: 0},
		Entry{Provider: openai.New(openai.Config{BaseURL: slow.URL, APIKey: "k"}), ThirdParty: true})
	start := time.Now()
	if _, err := r.Complete(context.Background(), req("slow")); err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("slow provider: %v after %v", err, time.Since(start))
	}
}
