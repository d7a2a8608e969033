package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/datasets"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/template"
	"github.com/cloud-sre-agent/sre-agent/internal/scenario"
)

// These tests measure what a user gets: the real binary (this test binary
// run as the command) on raw input, scored against ground truth. The
// scores print with -v; docs/BENCHMARKS.md records them.

// binary runs the sre-agent command as its own process and returns stdout.
func binary(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SRE_AGENT_BE_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sre-agent %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// The generator's streams, JSON and plain text: every episode found, at
// most one opening per episode plus a few, no incident made only of
// normal lines.
// Besides the default stream, other seeds, background error shares and
// volumes, so the rules are not tuned to one sample.
func TestDetectionScenarios(t *testing.T) {
	variants := []struct {
		format     string
		seed       uint64
		background float64
		perSecond  int
	}{
		{"json", 1, 0.04, 20}, {"text", 1, 0.04, 20},
		{"text", 3, 0.08, 10}, {"json", 4, 0.01, 40}, {"text", 6, 0.04, 3}, {"json", 5, 0.15, 10},
	}
	for _, v := range variants {
		name := fmt.Sprintf("%s/seed%d/bg%g/%dps", v.format, v.seed, v.background, v.perSecond)
		t.Run(name, func(t *testing.T) {
			cfg := scenario.DefaultConfig()
			cfg.Format, cfg.Seed, cfg.Background, cfg.PerSecond = v.format, v.seed, v.background, v.perSecond
			format := name
			path := filepath.Join(t.TempDir(), "stream.log")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			eps, err := scenario.Generate(f, cfg)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			a, err := scenario.ReadAnalysis(bytes.NewReader(binary(t, "analyze", "--no-store", "--json", "--lines", path)))
			if err != nil {
				t.Fatal(err)
			}
			s := scenario.ScoreStream(eps, a)
			t.Log(s.Table(format))
			for _, e := range s.Episodes {
				if e.Openings == 0 {
					t.Errorf("episode %q not found", e.Name)
				}
			}
			if s.Openings > len(eps)+2 || s.Unmatched > 1 {
				t.Errorf("%d openings for %d episodes, %d during none", s.Openings, len(eps), s.Unmatched)
			}
			if s.NormalOnly > 0 {
				t.Errorf("%d incidents made only of normal lines", s.NormalOnly)
			}
		})
	}
}

// bglNormalOnlyCeiling is the share of BGL_2k incidents made only of lines
// labelled normal that CI accepts: measured 0.474 (9 of 19; 0.75 before
// episodes). The goal is 0.10; what is left is FATAL and ERROR lines the
// labels call normal (user jobs failing to load, node-card status reports):
// docs/DETECTION.md.
const bglNormalOnlyCeiling = 0.48

// Loghub's BGL_2k tags alert lines: few incidents made only of normal
// lines, and every alert line in an incident or listed as a held CRITICAL
// line.
func TestDetectionOnBGLLabels(t *testing.T) {
	path := datasets.Path(t, "loghub/BGL/BGL_2k.log")
	a, err := scenario.ReadAnalysis(bytes.NewReader(binary(t, "analyze", "--no-store", "--json", "--lines", path)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	alerts := map[int]bool{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if !strings.HasPrefix(sc.Text(), "-") {
			alerts[n] = true
		}
	}
	s := scenario.ScoreLabels(a, alerts)
	t.Logf("BGL_2k: %d incidents, %d normal-only (%.1f%%), %d of %d alert lines covered", s.Incidents, s.NormalOnly, 100*s.NormalOnlyShare(), s.Covered, s.Anomalies)
	if s.NormalOnlyShare() > bglNormalOnlyCeiling {
		t.Errorf("%.1f%% of incidents are normal-only (at most %.0f%%)", 100*s.NormalOnlyShare(), 100*bglNormalOnlyCeiling)
	}
	if s.Covered != s.Anomalies {
		t.Errorf("%d of %d alert lines covered", s.Covered, s.Anomalies)
	}
}

// Loghub's HDFS anomaly sample labels each line by its block: incidents
// hold anomalous lines, and none is made only of normal ones.
func TestDetectionOnHDFSLabels(t *testing.T) {
	path := datasets.Path(t, "anomaly/hdfs/HDFS_5k.log")
	a, err := scenario.ReadAnalysis(bytes.NewReader(binary(t, "analyze", "--no-store", "--json", "--lines", path)))
	if err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, "anomaly/hdfs/HDFS_5k_preprocessed_logrecord.csv")
	anomalous := map[int]bool{}
	for _, r := range rows[1:] {
		i, err := strconv.Atoi(r[0])
		if err != nil {
			t.Fatalf("label row %v: %v", r, err)
		}
		if r[8] == "1" {
			anomalous[i+1] = true
		}
	}
	s := scenario.ScoreLabels(a, anomalous)
	t.Logf("HDFS_5k: %d incidents, %d normal-only, %d of %d anomalous lines in incidents", s.Incidents, s.NormalOnly, s.Covered, s.Anomalies)
	if s.Incidents == 0 || s.NormalOnly > 0 {
		t.Errorf("%d incidents, %d normal-only", s.Incidents, s.NormalOnly)
	}
}

// Grouping accuracy on raw lines through `sre-agent templates FILE` (parse,
// redact, mine: what incidents use), one configuration for all ten shared
// Loghub systems: mean at least 0.96, none below 0.90, and none below its
// measured floor.
func TestTemplatesGroupingThroughTheBinary(t *testing.T) {
	floor := map[string]float64{
		"Android": 0.94, "BGL": 0.97, "HDFS": 0.99, "HPC": 0.92, "Hadoop": 0.98,
		"Linux": 0.99, "Spark": 0.91, "Thunderbird": 0.94, "Windows": 0.98, "Zookeeper": 0.98,
	}
	var b strings.Builder
	b.WriteString("\n| system | GA through `sre-agent templates` |\n|---|---|\n")
	sum := 0.0
	for _, sys := range []string{"Android", "BGL", "HDFS", "HPC", "Hadoop", "Linux", "Spark", "Thunderbird", "Windows", "Zookeeper"} {
		truth := loghubTruth(t, sys)
		rows, err := csv.NewReader(bytes.NewReader(binary(t, "templates", datasets.Path(t, "loghub", sys, sys+"_2k.log")))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows)-1 != len(truth) {
			t.Fatalf("%s: %d rows for %d lines", sys, len(rows)-1, len(truth))
		}
		groups := make([]string, len(truth))
		for i, r := range rows[1:] {
			groups[i] = r[1]
		}
		ga := template.GroupingAccuracy(truth, groups)
		sum += ga
		fmt.Fprintf(&b, "| %s | %.3f |\n", sys, ga)
		if ga < floor[sys] || ga < 0.90 {
			t.Errorf("%s: GA %.3f below its floor %.2f", sys, ga, floor[sys])
		}
	}
	mean := sum / 10
	fmt.Fprintf(&b, "| mean | %.3f |\n", mean)
	t.Log(b.String())
	if mean < 0.96 {
		t.Errorf("mean GA %.3f below 0.96", mean)
	}
}

// loghubTruth is each line's ground-truth event of a Loghub system.
func loghubTruth(t *testing.T, sys string) []string {
	t.Helper()
	rows := readCSV(t, "loghub", sys, sys+"_2k.log_structured.csv")
	col := -1
	for i, h := range rows[0] {
		if h == "EventId" {
			col = i
		}
	}
	out := make([]string, 0, len(rows)-1)
	for _, r := range rows[1:] {
		out = append(out, r[col])
	}
	return out
}

// readCSV reads a CSV file of the shared data.
func readCSV(t *testing.T, rel ...string) [][]string {
	t.Helper()
	f, err := os.Open(datasets.Path(t, rel...))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// Why an incident opened is kept in the store: `incidents show` says it
// after `analyze`, and `analyze --explain` says it on the spot.
func TestWhyItOpenedIsShown(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	execute(t, "", "analyze", "--db", db, sampleLog)
	out := execute(t, "", "incidents", "show", "0f88e96b", "--db", db)
	for _, want := range []string{"Why it opened:", "by rule fatal", "panic: runtime error", "episode 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("incidents show lacks %q:\n%s", want, out)
		}
	}
	out = execute(t, "", "analyze", "--no-store", "--explain", "d6acb207", sampleLog)
	for _, want := range []string{"by rule new-template", "short       1m0s window:", "baseline", "warmed up   true"} {
		if !strings.Contains(out, want) {
			t.Errorf("--explain lacks %q:\n%s", want, out)
		}
	}
}
