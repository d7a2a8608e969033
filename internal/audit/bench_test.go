package audit

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkAppend writes records to a log file that has 2,000 before
// them, as the daemon does: each is locked against other writers,
// chained and synced.
//
//	go test -run '^$' -bench Append ./internal/audit
func BenchmarkAppend(b *testing.B) {
	path := filepath.Join(b.TempDir(), "audit.jsonl")
	l, err := Open(path, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	rec := Record{Kind: KindModelCall, Fingerprint: "0123456789abcdef0123", Outcome: "ok",
		Fields: map[string]any{"provider": "gemini", "model": "gemini-2.5-pro", "input_tokens": 1200, "output_tokens": 300, "cost_usd": 0.0042}}
	for range 2000 {
		if _, err := l.Append(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if _, err := l.Append(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
}
