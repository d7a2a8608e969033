package agent_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloud-sre-agent/sre-agent/internal/agent"
	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/local"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/detect"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/template"
	"github.com/cloud-sre-agent/sre-agent/internal/llm/offline"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/policy"
	"github.com/cloud-sre-agent/sre-agent/internal/server"
	"github.com/cloud-sre-agent/sre-agent/internal/source/tail"
	"github.com/cloud-sre-agent/sre-agent/internal/store/sqlite"
)

type rig struct {
	store *sqlite.Store
	aud   *audit.Log
	reg   *prometheus.Registry
	out   string
	agent *agent.Agent
}

func newRig(t *testing.T, src agent.Source) *rig {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	aud, err := audit.Open(filepath.Join(dir, "audit.jsonl"), "t")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close(); aud.Close() })
	reg := prometheus.NewRegistry()
	gate, _ := policy.New(policy.DefaultConfig(), redact.New(redact.DefaultOptions()))
	out := filepath.Join(dir, "out")
	target, _ := local.New(config.LocalTarget{Dir: out})
	pipe, err := pipeline.New(config.DefaultPipeline(), pipeline.Deps{Provider: offline.New(), Store: store, Deliverer: target, Gate: gate, Audit: aud, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ag, err := agent.New(store, pipe, aud, []agent.Source{src}, agent.Options{Redact: redact.DefaultOptions(), Template: template.DefaultConfig(),
		Detect: detect.DefaultConfig(), ReopenAfter: time.Hour, FlushEvery: 50 * time.Millisecond, Poll: 20 * time.Millisecond,
		ShutdownGrace: 2 * time.Second, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{store: store, aud: aud, reg: reg, out: out, agent: ag}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A followed file: lines written while the agent runs become delivered
// incidents; /readyz and /metrics answer; cancelling stops it cleanly.
func TestFollowServeAndStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.log")
	os.WriteFile(path, []byte("2026-01-01T00:00:00Z INFO started\n"), 0o644)
	r := newRig(t, agent.Source{Name: "api.log", Key: "file:" + path, Service: "api",
		Open: func(ctx context.Context) (io.ReadCloser, error) {
			o := tail.DefaultOptions()
			o.Poll = 10 * time.Millisecond
			return tail.Follow(ctx, path, o)
		}})
	srv, err := server.Listen("127.0.0.1:0", r.reg, r.agent.Ready, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())
	base := "http://" + srv.Addr()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.agent.Run(ctx) }()
	waitFor(t, "ready", func() bool { code, _ := get(t, base+"/readyz"); return code == 200 })

	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("2026-01-01T00:00:05Z CRITICAL write /data/x: no space left on device\n2026-01-01T00:00:06Z CRITICAL write /data/y: no space left on device\n")
	f.Close()
	waitFor(t, "a delivered incident", func() bool {
		c, _ := r.store.CountByState(context.Background())
		return c[domain.StateDelivered] == 1
	})
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	_, metrics := get(t, base+"/metrics")
	for _, want := range []string{
		`sre_agent_events_total{severity="CRITICAL",source="api.log"} 2`,
		`sre_agent_incidents{state="delivered"} 1`,
		`sre_agent_model_calls_total{outcome="ok",provider="offline",stage="triage"} 1`,
		`sre_agent_deliveries_total{outcome="delivered",target="local"} 1`,
		`sre_agent_pipeline_stage_seconds_bucket{stage="analysis"`,
		`sre_agent_parse_errors_total{source="api.log"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stop: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not stop")
	}
	if code, _ := get(t, base+"/readyz"); code != 503 {
		t.Fatalf("readyz after stop: %d", code)
	}
}

// Incidents left mid-pipeline by an earlier process are finished at start,
// even with no new input.
func TestStartResumesPendingIncidents(t *testing.T) {
	r := newRig(t, agent.Source{Name: "empty", Key: "empty", Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader("")), nil
	}})
	in := domain.Incident{Fingerprint: "left-over", Service: "api", Severity: domain.Error, FirstSeen: time.Unix(0, 0), LastSeen: time.Unix(60, 0), Count: 3,
		Templates: []domain.Template{{Text: "connection refused", Count: 3}}}
	ctx := context.Background()
	r.store.Save(ctx, "old", nil, []domain.Incident{in})
	r.store.Advance(ctx, "left-over", domain.StateTriaged, []byte(`{"number":1,"triage":{"category":"dependency-unavailable","severity":"medium","actionable":true,"confidence":0.7,"reasoning":"x"}}`))
	if err := r.agent.Run(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := r.store.Incident(ctx, "left-over")
	if got.State != domain.StateDelivered {
		t.Fatalf("state %s", got.State)
	}
}
