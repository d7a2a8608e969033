package analyze_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/analyze"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/shareddata"
	"github.com/cloud-sre-agent/sre-agent/internal/sqlite"
)

func open(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "inc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func opts() analyze.Options {
	c := config.Default()
	return analyze.Options{Redact: c.Redact, Template: c.Template, Detect: c.Detect, KeepLines: true}
}

func run(t *testing.T, store analyze.Store, path string) analyze.Result {
	t.Helper()
	res, err := analyze.Run(context.Background(), store, []analyze.Input{{Name: path, Reader: open(t, path)}}, opts())
	if err != nil {
		t.Fatal(err)
	}
	return res[0]
}

// BGL marks alert lines with a tag in the first column; every one of them
// must land in an incident.
func TestBGLAlertLinesAreInIncidents(t *testing.T) {
	path := shareddata.Path(t, "loghub/BGL/BGL_2k.log")
	res := run(t, nil, path)
	inIncident := map[int]bool{}
	for _, in := range res.Incidents {
		for _, l := range in.Lines {
			inIncident[l] = true
		}
	}
	sc := bufio.NewScanner(open(t, path))
	n, alerts, missed := 0, 0, 0
	for sc.Scan() {
		n++
		if !strings.HasPrefix(sc.Text(), "-") {
			alerts++
			if !inIncident[n] {
				missed++
				if missed < 5 {
					t.Errorf("alert line %d not in any incident: %.120s", n, sc.Text())
				}
			}
		}
	}
	if alerts != 143 {
		t.Errorf("found %d alert lines, the data has 143", alerts)
	}
	if missed > 0 {
		t.Errorf("%d of %d alert lines missed", missed, alerts)
	}
	if len(res.Incidents) == 0 || res.Incidents[0].Severity < domain.Critical {
		t.Errorf("most severe incident first: got %+v", res.Incidents[:1])
	}
}

// On the HDFS anomaly sample, the error templates that only the anomalous
// blocks produce must be incidents of their own, not merged with templates
// that normal traffic also produces.
func TestHDFSAnomaliesSeparateFromNormalTraffic(t *testing.T) {
	logPath := shareddata.Path(t, "anomaly/hdfs/HDFS_5k.log")
	res := run(t, nil, logPath)

	rows, err := csv.NewReader(open(t, shareddata.Path(t, "anomaly/hdfs/HDFS_5k_preprocessed_logrecord.csv"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	anomalous := map[int]bool{} // 1-based line -> label
	for _, r := range rows[1:] {
		i, err := strconv.Atoi(r[0])
		if err != nil {
			t.Fatalf("label row %v: %v", r, err)
		}
		anomalous[i+1] = r[8] == "1"
	}
	var anomalyOnly []domain.Incident
	for _, in := range res.Incidents {
		normal := 0
		for _, l := range in.Lines {
			if !anomalous[l] {
				normal++
			}
		}
		if normal == 0 {
			anomalyOnly = append(anomalyOnly, in)
		}
	}
	var texts []string
	for _, in := range anomalyOnly {
		texts = append(texts, in.Templates[0].Text)
	}
	joined := strings.Join(texts, "\n")
	for _, want := range []string{"Unexpected error trying to delete block", "received exception", "Exception in receiveBlock"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no anomaly-only incident for %q; anomaly-only templates:\n%s", want, joined)
		}
	}
	// The normal-traffic warning is its own incident, apart from those.
	for _, in := range res.Incidents {
		if strings.Contains(in.Templates[0].Text, "Got exception while serving") {
			for _, t2 := range texts {
				if t2 == in.Templates[0].Text {
					t.Errorf("normal-traffic template counted as anomaly-only")
				}
			}
		}
	}
}

func TestAnalyzeTwiceDoesNotDuplicate(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	path := shareddata.Path(t, "loghub/BGL/BGL_2k.log")
	first := run(t, st, path)
	after1, err := st.Incidents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second := run(t, st, path)
	after2, err := st.Incidents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after1) != len(first.Incidents) || len(after2) != len(after1) {
		t.Fatalf("incidents: run1 %d stored %d, run2 %d stored %d", len(first.Incidents), len(after1), len(second.Incidents), len(after2))
	}
	for i := range after1 {
		a, b := after1[i], after2[i]
		if a.Fingerprint != b.Fingerprint || a.Count != b.Count {
			t.Errorf("incident %d changed on re-analysis: %s/%d -> %s/%d", i, a.Fingerprint, a.Count, b.Fingerprint, b.Count)
		}
	}
	for i := range first.Incidents {
		if first.Incidents[i].Fingerprint != second.Incidents[i].Fingerprint {
			t.Errorf("fingerprint %d not stable across runs", i)
		}
	}
	// A second source adds to the same incidents instead of replacing them.
	tmp := filepath.Join(t.TempDir(), "BGL_2k.log") // same service name, another source
	b, _ := os.ReadFile(path)
	os.WriteFile(tmp, b, 0o600)
	run(t, st, tmp)
	after3, _ := st.Incidents(ctx)
	if len(after3) != len(after1) || after3[0].Count != 2*after1[0].Count {
		t.Errorf("second source: %d incidents, top count %d (was %d)", len(after3), after3[0].Count, after1[0].Count)
	}
}

func TestRedactionBeforeIncidents(t *testing.T) {
	in := strings.Join([]string{
		`{"severity":"ERROR","textPayload":"auth failed for admin@example.com with token ghp_16C7e42F292c6912E7710c838347Ae178B4a","logName":"x","resource":{"type":"cloud_run_revision","labels":{"service_name":"api"}}}`,
		`{"severity":"ERROR","textPayload":"auth failed for bob@example.com with token ghp_26C7e42F292c6912E7710c838347Ae178B4a","logName":"x","resource":{"type":"cloud_run_revision","labels":{"service_name":"api"}}}`,
	}, "\n")
	res, err := analyze.Run(context.Background(), nil, []analyze.Input{{Name: "-", Reader: strings.NewReader(in)}}, opts())
	if err != nil {
		t.Fatal(err)
	}
	incs := res[0].Incidents
	if len(incs) != 1 || incs[0].Count != 2 || incs[0].Service != "api" {
		t.Fatalf("want one api incident of 2 events, got %+v", incs)
	}
	all := incs[0].Templates[0].Text + strings.Join(incs[0].Samples, "\n")
	for _, secret := range []string{"admin@example.com", "ghp_16C7", "bob@"} {
		if strings.Contains(all, secret) {
			t.Errorf("secret %q reached the incident: %s", secret, all)
		}
	}
}

// A restart sees part of a log first and the rest later: the templates and
// incidents of the first part keep their ids, however the templates widen
// with the rest.
func TestTemplateIDsSurviveARestart(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	path := shareddata.Path(t, "loghub/BGL/BGL_2k.log")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	dir := t.TempDir()
	part := filepath.Join(dir, "BGL_2k.log")
	os.WriteFile(part, []byte(strings.Join(lines[:len(lines)/4], "")), 0o600)
	first := run(t, st, part)
	if len(first.Incidents) == 0 {
		t.Fatal("no incidents in the first part")
	}
	templates, err := st.Templates(ctx)
	if err != nil || len(templates) == 0 {
		t.Fatalf("no templates persisted: %v", err)
	}
	os.WriteFile(part, b, 0o600) // the rest arrives
	second := run(t, st, part)
	have := map[domain.Fingerprint]domain.TemplateID{}
	for _, in := range second.Incidents {
		have[in.Fingerprint] = in.Templates[0].ID
	}
	for _, in := range first.Incidents {
		id, ok := have[in.Fingerprint]
		if !ok {
			t.Errorf("incident %s (%s) lost its fingerprint after the restart", in.Fingerprint, in.Templates[0].Text)
			continue
		}
		if id != in.Templates[0].ID {
			t.Errorf("template %q changed id %s -> %s", in.Templates[0].Text, in.Templates[0].ID, id)
		}
	}
	baselines, _ := st.Baselines(ctx)
	templates, _ = st.Templates(ctx)
	ids := map[domain.TemplateID]bool{}
	for _, tm := range templates {
		ids[tm.ID] = true
	}
	for _, bl := range baselines {
		if !ids[bl.Template] {
			t.Errorf("baseline for unknown template id %s", bl.Template)
		}
	}
}
