package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// stageAnswers are valid answers for each stage, by schema name.
var stageAnswers = map[string]string{
	"triage":      `{"category":"dependency-unavailable","severity":"high","actionable":true,"confidence":0.8,"reasoning":"the database refuses connections"}`,
	"analysis":    `{"root_cause":"the payments database is down","evidence":[{"kind":"template","ref":"dial tcp <*>"}],"confidence":0.7,"suspected_files":[]}`,
	"remediation": `{"summary":"restore the database and add connect retries","steps":["check the database"],"risk":"low","test_plan":["connect from the pod"]}`,
}

// A config with Gemini primary and OpenAI fallback survives a Gemini
// outage: every incident is still triaged, analysed and delivered.
func TestGeminiOutageWithOpenAIFallback(t *testing.T) {
	var geminiCalls, openaiCalls atomic.Int32
	gemini := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		geminiCalls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(503)
		w.Write([]byte(`{"error":{"code":503,"message":"unavailable","status":"UNAVAILABLE"}}`))
	}))
	defer gemini.Close()
	var sawKey atomic.Value
	openai := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		openaiCalls.Add(1)
		sawKey.Store(r.Header.Get("Authorization"))
		b, _ := io.ReadAll(r.Body)
		if bytes.Contains(b, []byte("sk-openai-test")) {
			t.Error("the API key is in the request body")
		}
		writeCompletion(w, stageAnswers[stageOf(b)], 800, 90)
	}))
	defer openai.Close()
	t.Setenv("SRE_TEST_GEMINI_KEY", "AIza-test")
	t.Setenv("SRE_TEST_OPENAI_KEY", "sk-openai-test")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte(`
provider:
  name: gemini
  fallbacks: [openai]
  allow_third_party: true
  max_retries: 0
  prices: {gpt-test: {input_per_mtok: 1, output_per_mtok: 4}}
  gemini: {api_key: env://SRE_TEST_GEMINI_KEY, model: gemini-test, base_url: `+gemini.URL+`}
  openai: {api_key: env://SRE_TEST_OPENAI_KEY, model: gpt-test, base_url: `+openai.URL+`}
http: {addr: ""}
`), 0o600)
	out := execute(t, "", "--config", cfg, "run", "--db", filepath.Join(dir, "s.db"), "--out", filepath.Join(dir, "out"), sampleLog)
	if !strings.Contains(out, "delivered") {
		t.Fatalf("nothing delivered:\n%s", out)
	}
	if geminiCalls.Load() == 0 || openaiCalls.Load() == 0 {
		t.Fatalf("gemini %d calls, openai %d", geminiCalls.Load(), openaiCalls.Load())
	}
	if k, _ := sawKey.Load().(string); k != "Bearer sk-openai-test" {
		t.Fatalf("openai auth %q", k)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	if !strings.Contains(string(b), `"provider":"openai"`) || !strings.Contains(string(b), `"cost_usd":0.00116`) {
		t.Fatalf("audit lacks the fallback's calls and cost:\n%.2000s", b)
	}
	if strings.Contains(string(b), "sk-openai-test") || strings.Contains(string(b), "AIza-test") {
		t.Fatal("a key reached the audit log")
	}
	usage := execute(t, "", "--config", cfg, "usage", "--db", filepath.Join(dir, "s.db"))
	if !strings.Contains(usage, "openai") || !strings.Contains(usage, "gpt-test") || !strings.Contains(usage, "gemini") {
		t.Fatalf("usage:\n%s", usage)
	}
	reports, _ := filepath.Glob(filepath.Join(dir, "out", "*.md"))
	found := false
	for _, r := range reports {
		rb, _ := os.ReadFile(r)
		found = found || strings.Contains(string(rb), "the payments database is down")
	}
	if !found {
		t.Fatal("no report carries the model's root cause")
	}
}
