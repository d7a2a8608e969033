package redact

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/datasets"
)

// cleanLines are the Loghub lines that hold nothing to redact: the common
// case, which must stay fast and allocation-free.
func cleanLines(b *testing.B) []string {
	b.Helper()
	r := New(DefaultOptions())
	if f := os.Getenv("REDACT_CLEAN_LINES"); f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(string(data)), "\n")
	}
	files, _ := filepath.Glob(filepath.Join(datasets.Path(b, "loghub"), "*", "*_2k.log"))
	if len(files) == 0 {
		b.Fatal("no Loghub samples")
	}
	var out []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			if l != "" && r.Redact(l) == l {
				out = append(out, l)
			}
		}
	}
	return out
}

func BenchmarkRedactClean(b *testing.B) {
	lines := cleanLines(b)
	r := New(DefaultOptions())
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		r.Redact(lines[n%len(lines)])
		n++
	}
}
