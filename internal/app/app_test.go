package app

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
)

const sampleLog = "../../examples/logs/checkout.log"

// The wiring, driven as the commands drive it, without the binary:
// analyze finds the sample's incidents; run delivers them as local reports
// and audits what it did; the incidents commands read them back.
func TestAnalyzeRunAndIncidentsThroughApp(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.HTTP.Addr = ""
	cfg.Store.Path = filepath.Join(dir, "s.db")
	cfg.Audit.Path = filepath.Join(dir, "audit.jsonl")
	cfg.Delivery.Local.Dir = filepath.Join(dir, "out")
	if err := Check(cfg); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := Analyze(ctx, cfg, []string{sampleLog}, AnalyzeOptions{JSON: true, NoStore: true}, nil, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var results []struct {
		Incidents []json.RawMessage `json:"incidents"`
	}
	if err := json.Unmarshal(out.Bytes(), &results); err != nil || len(results) != 1 || len(results[0].Incidents) < 4 {
		t.Fatalf("analyze: %v %s", err, out.String())
	}

	out.Reset()
	if err := RunAgent(ctx, cfg, "", []string{sampleLog}, false, strings.NewReader(""), &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(\d+) delivered`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("run delivered nothing:\n%s", out.String())
	}
	n, _ := strconv.Atoi(m[1])
	reports, _ := filepath.Glob(filepath.Join(cfg.Delivery.Local.Dir, "*.md"))
	if n < 4 || len(reports) < n {
		t.Fatalf("%d delivered, %d reports", n, len(reports))
	}
	recs, err := audit.ReadFile(cfg.Audit.Path)
	if err != nil || len(recs) == 0 {
		t.Fatalf("audit: %d records, %v", len(recs), err)
	}

	st, err := OpenIncidents(ctx, func() (config.Config, error) { return cfg, nil }, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out.Reset()
	if err := ListIncidents(ctx, st, &out, ListOptions{}); err != nil || strings.Count(out.String(), "\n") < n+1 {
		t.Fatalf("incidents list: %v\n%s", err, out.String())
	}
}
