package pipeline_test

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
)

func readRecords(t *testing.T, path string) []audit.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []audit.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// sumMetric is a collector summing every series of a family, optionally
// only those with a label value.
type sumMetric struct {
	reg   *prometheus.Registry
	name  string
	label string
}

func (s sumMetric) Describe(ch chan<- *prometheus.Desc) {}
func (s sumMetric) Collect(ch chan<- prometheus.Metric) {
	fams, _ := s.reg.Gather()
	total := 0.0
	for _, f := range fams {
		if f.GetName() != s.name {
			continue
		}
		for _, m := range f.Metric {
			if s.label != "" && !hasLabel(m, s.label) {
				continue
			}
			total += m.GetCounter().GetValue()
		}
	}
	ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("sum", "sum", nil, nil), prometheus.CounterValue, total)
}

func hasLabel(m *dto.Metric, v string) bool {
	for _, l := range m.Label {
		if l.GetValue() == v {
			return true
		}
	}
	return false
}

func mustCounter(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	return sumMetric{reg: reg, name: name}
}

func mustCounterWith(t *testing.T, reg *prometheus.Registry, name, label string) prometheus.Collector {
	return sumMetric{reg: reg, name: name, label: label}
}
