package pipeline_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/local"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/stack"
	"github.com/cloud-sre-agent/sre-agent/internal/llm/offline"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/policy"
	"github.com/cloud-sre-agent/sre-agent/internal/store/sqlite"
)

// BenchmarkProcessOffline takes one incident per iteration from new to
// delivered with the offline provider, the real SQLite store, local
// delivery and the audit log (which syncs each record to disk).
func BenchmarkProcessOffline(b *testing.B) {
	dir := b.TempDir()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "s.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	aud, _ := audit.Open(filepath.Join(dir, "a.jsonl"), "bench")
	defer aud.Close()
	gate, _ := policy.New(policy.DefaultConfig(), redact.New(redact.DefaultOptions()))
	target, _ := local.New(config.LocalTarget{Dir: filepath.Join(dir, "out")})
	p, err := pipeline.New(config.DefaultPipeline(), pipeline.Deps{Provider: offline.New(), Store: store, Deliverer: target, Gate: gate, Audit: aud})
	if err != nil {
		b.Fatal(err)
	}
	incs := make([]domain.Incident, b.N)
	for i := range incs {
		incs[i] = domain.Incident{Fingerprint: domain.Fingerprint(fmt.Sprintf("fp%08d", i)), Service: "api", Severity: domain.Error, State: domain.StateNew,
			FirstSeen: time.Unix(0, 0), LastSeen: time.Unix(60, 0), Count: 40,
			Templates: []domain.Template{{Text: "dial tcp <*>: connect: connection refused", Count: 40}},
			Samples:   []string{"ERROR dial tcp [REDACTED:ipv4]:5432: connect: connection refused"}}
	}
	if err := store.Save(ctx, "bench", nil, incs); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := p.Process(ctx, incs[i])
		if err != nil || st != domain.StateDelivered {
			b.Fatalf("%s %v", st, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "incidents/s")
}

func BenchmarkBuildPrompt(b *testing.B) {
	ev := &domain.Evidence{Service: "api", Severity: domain.Error, Count: 1000,
		Frames: stack.Parse("goroutine 1 [running]:\nmain.f()\n\t/src/app/f.go:10 +0x1\nmain.main()\n\t/src/app/main.go:3 +0x2\n")}
	for i := 0; i < 20; i++ {
		ev.Templates = append(ev.Templates, domain.Template{Text: fmt.Sprintf("template %d failed for <*> after <*> ms", i), Count: int64(100 - i)})
		ev.Samples = append(ev.Samples, fmt.Sprintf("2026-01-01T00:00:%02dZ ERROR template %d failed for user [REDACTED:email] after 30 ms", i, i))
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		pipeline.BuildPrompt(domain.StageAnalysis, ev, nil, nil, 4000)
	}
}
