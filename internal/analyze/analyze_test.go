package analyze_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/analyze"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/datasets"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/store/sqlite"
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
// must land in an incident, or be recorded as a held CRITICAL line (an
// isolated one does not open an incident).
func TestBGLAlertLinesAreInIncidents(t *testing.T) {
	path := datasets.Path(t, "loghub/BGL/BGL_2k.log")
	res := run(t, nil, path)
	inIncident := map[int]bool{}
	for _, in := range res.Incidents {
		for _, l := range in.Lines {
			inIncident[l] = true
		}
	}
	for _, h := range res.Held {
		inIncident[h.Line] = true
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

// On the HDFS anomaly sample, each error template that only the anomalous
// blocks produce leads an incident: when normal traffic's warning surges at
// the same moment it may join (one problem at one moment is one incident),
// but it never hides an anomaly inside an incident it leads.
func TestHDFSAnomaliesSeparateFromNormalTraffic(t *testing.T) {
	logPath := datasets.Path(t, "anomaly/hdfs/HDFS_5k.log")
	res := run(t, nil, logPath)

	rows, err := csv.NewReader(open(t, datasets.Path(t, "anomaly/hdfs/HDFS_5k_preprocessed_logrecord.csv"))).ReadAll()
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
	// templateLines: for each template text, are all its lines anomalous?
	for _, want := range []string{"Unexpected error trying to delete block", "received exception", "Exception in receiveBlock"} {
		var holder *domain.Incident
		for i, in := range res.Incidents {
			for _, tp := range in.Templates {
				if strings.Contains(tp.Text, want) {
					holder = &res.Incidents[i]
				}
			}
		}
		if holder == nil {
			t.Errorf("no incident holds %q", want)
			continue
		}
		lead := holder.Templates[0].Text
		if strings.Contains(lead, "Got exception while serving") {
			t.Errorf("%q is hidden in an incident led by normal traffic's %q", want, lead)
		}
		anomalyLines := 0
		for _, l := range holder.Lines {
			if anomalous[l] {
				anomalyLines++
			}
		}
		if anomalyLines == 0 {
			t.Errorf("the incident holding %q has no anomalous line", want)
		}
	}
}

func TestAnalyzeTwiceDoesNotDuplicate(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	path := datasets.Path(t, "loghub/BGL/BGL_2k.log")
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
	// Reading the same input again finds the same problems: no incident
	// the first read did not have (the store's learnt templates may fold
	// a variant into the incident its template joined).
	stored := map[domain.Fingerprint]bool{}
	for _, in := range after1 {
		stored[in.Fingerprint] = true
	}
	for _, in := range second.Incidents {
		if !stored[in.Fingerprint] {
			t.Errorf("re-analysis made a new incident %s %q", in.Fingerprint.Short(), in.Templates[0].Text)
		}
	}
	if len(second.Incidents) < len(first.Incidents)*9/10 {
		t.Errorf("re-analysis found %d incidents, the first read %d", len(second.Incidents), len(first.Incidents))
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
	// A dozen failures in a row: an error-rate incident on a cold start.
	var lines []string
	for i := range 12 {
		lines = append(lines,
			fmt.Sprintf(`{"severity":"ERROR","textPayload":"auth failed for user%d@example.com with token ghp_%02d6C7e42F292c6912E7710c838347Ae178B4a","logName":"x","resource":{"type":"cloud_run_revision","labels":{"service_name":"api"}}}`, i, i))
	}
	in := strings.Join(lines, "\n")
	res, err := analyze.Run(context.Background(), nil, []analyze.Input{{Name: "-", Reader: strings.NewReader(in)}}, opts())
	if err != nil {
		t.Fatal(err)
	}
	incs := res[0].Incidents
	if len(incs) != 1 || incs[0].Count != 12 || incs[0].Service != "api" {
		t.Fatalf("want one api incident of 12 events, got %+v", incs)
	}
	all := incs[0].Templates[0].Text + strings.Join(incs[0].Samples, "\n")
	for _, secret := range []string{"user0@example.com", "ghp_006C7", "user11@"} {
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
	path := datasets.Path(t, "loghub/BGL/BGL_2k.log")
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

// A Go error logged by zap with its stack, after a warm service, is one
// incident holding the stack, not one per frame.
func TestZapStackIsOneIncident(t *testing.T) {
	var b strings.Builder
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	for i := range 400 {
		fmt.Fprintf(&b, "%s\tINFO\tapi/server.go:88\trequest served\t{\"path\": \"/v1/items/%d\"}\n", t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i)
	}
	fmt.Fprintf(&b, "%s\tERROR\tcart/cart.go:57\tcheckout failed\t{\"error\": \"connect: connection refused\"}\n", t0.Add(401*time.Second).Format(time.RFC3339))
	b.WriteString("github.com/acme/shop/cart.(*Service).Checkout\n\t/src/cart/cart.go:57\ngithub.com/acme/shop/api.(*Server).checkout\n\t/src/api/server.go:112\nnet/http.HandlerFunc.ServeHTTP\n\t/usr/local/go/src/net/http/server.go:2171\n")
	res, err := analyze.Run(context.Background(), nil, []analyze.Input{{Name: "api.log", Reader: strings.NewReader(b.String())}}, opts())
	if err != nil {
		t.Fatal(err)
	}
	incs := res[0].Incidents
	if len(incs) != 1 || !strings.Contains(incs[0].Templates[0].Text, "checkout failed") || !strings.Contains(incs[0].Stack, "(*Server).checkout") {
		t.Fatalf("%d incidents: %+v", len(incs), incs)
	}
}
