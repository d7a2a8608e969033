package ingest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/datasets"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/detect"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/parse"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/template"
)

// loghubLines reads the raw lines of all ten Loghub systems.
func loghubLines(b *testing.B) []string {
	files, _ := filepath.Glob(filepath.Join(datasets.Path(b, "loghub"), "*", "*_2k.log"))
	if len(files) == 0 {
		b.Fatal("no Loghub files in the shared data")
	}
	var lines []string
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			b.Fatal(err)
		}
		lr := parse.NewLineReader(fh)
		for lr.Scan() {
			lines = append(lines, lr.Text())
		}
		fh.Close()
		if err := lr.Err(); err != nil {
			b.Fatal(err)
		}
	}
	return lines
}

// logEntryLines wraps each Loghub line in a Cloud Logging LogEntry as a
// Cloud Logging sink would deliver it.
func logEntryLines(b *testing.B) []string {
	sev := []string{"INFO", "WARNING", "ERROR", "DEFAULT"}
	svc := []string{"checkout", "payments", "search"}
	var out []string
	t := time.Date(2024, 5, 5, 10, 0, 0, 0, time.UTC)
	for i, l := range loghubLines(b) {
		e := map[string]any{
			"insertId":  "id" + string(rune('a'+i%26)) + time.Duration(i).String(),
			"logName":   "projects/p/logs/run.googleapis.com%2Fstderr",
			"severity":  sev[i%len(sev)],
			"timestamp": t.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano),
			"resource": map[string]any{"type": "cloud_run_revision", "labels": map[string]any{
				"service_name": svc[i%len(svc)], "revision_name": "r-0001", "location": "europe-west1", "project_id": "p"}},
			"trace":       "projects/p/traces/1dbe317eb73eb6e3bbb51a2bc3a41e09",
			"textPayload": l,
		}
		bs, _ := json.Marshal(e)
		out = append(out, string(bs))
	}
	return out
}

func newSpine(b testing.TB) *Spine { return spineWith(b, detect.DefaultConfig()) }

// warmSpine has no warm-up: the first sight of an error template is new,
// for tests about what happens once an incident opens.
func warmSpine(b testing.TB) *Spine {
	cfg := detect.DefaultConfig()
	cfg.WarmUp = 0
	return spineWith(b, cfg)
}

func spineWith(b testing.TB, cfg detect.Config) *Spine {
	m, err := template.New(template.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	d, err := detect.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	s := New(redact.New(redact.DefaultOptions()), m, d)
	s.DefaultService = "bench"
	return s
}

// perLine runs fn over the lines round-robin and reports lines/s.
func perLine(b *testing.B, lines []string, fn func(n int, line string)) {
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		fn(n, lines[n%len(lines)])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}

func benchWholePath(b *testing.B, lines []string) {
	s := newSpine(b)
	rec := parse.Record{Lines: make([]string, 1)}
	perLine(b, lines, func(n int, line string) {
		rec.Line, rec.Lines[0] = n+1, line
		s.Record(rec)
	})
}

// BenchmarkWholePathPlain: parse, redact, template, detect and incident
// folding of raw Loghub lines.
func BenchmarkWholePathPlain(b *testing.B) { benchWholePath(b, loghubLines(b)) }

// BenchmarkWholePathLogEntry: the same through LogEntry JSON.
func BenchmarkWholePathLogEntry(b *testing.B) { benchWholePath(b, logEntryLines(b)) }

func benchParse(b *testing.B, lines []string) {
	var p parse.Parser
	perLine(b, lines, func(_ int, line string) { p.ParseLine(line) })
}

func BenchmarkParsePlain(b *testing.B)    { benchParse(b, loghubLines(b)) }
func BenchmarkParseLogEntry(b *testing.B) { benchParse(b, logEntryLines(b)) }

func BenchmarkRedact(b *testing.B) {
	r := redact.New(redact.DefaultOptions())
	perLine(b, loghubLines(b), func(_ int, line string) { r.Redact(line) })
}

func BenchmarkTemplate(b *testing.B) {
	var msgs []string
	var p parse.Parser
	for _, l := range loghubLines(b) {
		msgs = append(msgs, p.ParseLine(l).Message)
	}
	m, err := template.New(template.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	perLine(b, msgs, func(_ int, msg string) { m.Add(msg) })
}

// benchSaved is the whole path as a message source runs it: every 500
// lines a save takes the incidents and baselines, and (held) what the
// spine holds for templates no incident has yet.
func benchSaved(b *testing.B, held bool) {
	s := newSpine(b)
	if held {
		s.SaveHeld()
	}
	rec := parse.Record{Lines: make([]string, 1)}
	perLine(b, loghubLines(b), func(n int, line string) {
		rec.Line, rec.Lines[0] = n+1, line
		s.Record(rec)
		if n%500 == 499 {
			s.Incidents()
			s.Baselines()
			if held {
				s.HeldChanges()
				s.HeldSaved()
			}
		}
	})
}

// BenchmarkSavedWithoutHeld is a message source's path as it was before
// held templates were saved; BenchmarkSavedWithHeld, as it is.
func BenchmarkSavedWithoutHeld(b *testing.B) { benchSaved(b, false) }
func BenchmarkSavedWithHeld(b *testing.B)    { benchSaved(b, true) }
