package main

import (
	"bytes"
	"encoding/csv"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/datasets"
)

var update = flag.Bool("update", false, "rewrite golden files")

func execute(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, errOut.String())
	}
	return out.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden; run go test ./cmd/sre-agent -update and review the diff", name)
	}
}

func TestAnalyzeGolden(t *testing.T) {
	tests := []struct{ name, file string }{
		{"bgl", "loghub/BGL/BGL_2k.log"},
		{"cassandra", "cloud/gcp-logentry/ops-agent-fixtures/logging_processor-cassandra-system/input.log"},
		{"cloudrun", "cloud/gcp-logentry/cloud-run-real_log.json"},
		{"logfmt", "samples/logfile_logfmt.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := datasets.Path(t, tt.file)
			text := execute(t, "", "analyze", "--no-store", path)
			golden(t, tt.name+".txt", text)
			js := execute(t, "", "analyze", "--no-store", "--json", path)
			// The source key holds an absolute path, which differs per machine.
			abs, _ := filepath.Abs(path)
			golden(t, tt.name+".json", strings.ReplaceAll(js, abs, "DATA/"+tt.file))
		})
	}
}

func TestAnalyzeStdinAndStore(t *testing.T) {
	db := filepath.Join(t.TempDir(), "x.db")
	// A dozen failures in a row: an error-rate incident on a cold start.
	in := strings.Repeat(`{"severity":"ERROR","textPayload":"payment failed for order 123","logName":"l","resource":{"type":"cloud_run_revision","labels":{"service_name":"pay"}}}`+"\n", 12)
	out := execute(t, in, "analyze", "--db", db, "-")
	if !strings.Contains(out, "service=pay") || !strings.Contains(out, "payment failed for order <*>") {
		t.Errorf("stdin analyze output:\n%s", out)
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("store not written: %v", err)
	}
}

func TestTemplatesCSV(t *testing.T) {
	path := datasets.Path(t, "loghub/HDFS/HDFS_2k.log")
	out := execute(t, "", "templates", path)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2001 || strings.Join(rows[0], ",") != "line,template_id,template" {
		t.Fatalf("%d rows, header %v", len(rows), rows[0])
	}
	if rows[1][0] != "1" || rows[2000][0] != "2000" || len(rows[1][1]) != 16 {
		t.Errorf("rows: %v ... %v", rows[1], rows[2000])
	}
	sum := execute(t, "", "templates", "--summary", path)
	srows, _ := csv.NewReader(strings.NewReader(sum)).ReadAll()
	total := 0
	for _, r := range srows[1:] {
		n, err := strconv.Atoi(r[1])
		if err != nil {
			t.Fatalf("summary row %v: %v", r, err)
		}
		total += n
	}
	if total != 2000 || len(srows) < 10 {
		t.Errorf("summary: %d templates covering %d lines", len(srows)-1, total)
	}
	ids := map[string]bool{}
	for i, r := range srows[1:] {
		if ids[r[0]] {
			t.Errorf("template %s listed twice", r[0])
		}
		ids[r[0]] = true
		prev, _ := strconv.Atoi(srows[i][1]) // the row before (srows[0] is the header: 0)
		if n, _ := strconv.Atoi(r[1]); i > 0 && n > prev {
			t.Errorf("summary not sorted by count at row %d", i+1)
		}
	}
}

func TestRedactCommand(t *testing.T) {
	in := "key AKIAIOSFODNN7EXAMPLE\nclean line\r\nmail ops@example.com from 81.2.69.160 via 10.1.2.3\n"
	out := execute(t, in, "redact")
	want := "key [REDACTED:aws-access-key]\nclean line\nmail [REDACTED:email] from [REDACTED:ipv4] via 10.1.2.3\n"
	if out != want {
		t.Errorf("redact:\n got %q\nwant %q", out, want)
	}
}
