package scenario

import (
	"strings"
	"testing"
	"time"
)

// Bad analyze output is a clear error, never a panic.
func TestReadAnalysisRefusesBadInput(t *testing.T) {
	for _, in := range []string{"", "{", "[{\"incidents\": 3}]", "null x"} {
		if _, err := ReadAnalysis(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "read analyze output") {
			t.Errorf("%q: %v", in, err)
		}
	}
	a, err := ReadAnalysis(strings.NewReader(`[{"incidents":[{"fingerprint":"f","first_seen":"2026-11-20T09:10:30Z","lines":[3]}],"held":[{"line":9}]}]`))
	if err != nil || len(a.Incidents) != 1 || a.Held[0] != 9 {
		t.Fatalf("%+v %v", a, err)
	}
	t0 := time.Date(2026, 11, 20, 9, 10, 0, 0, time.UTC)
	s := ScoreStream([]Episode{{Name: "e", Start: t0, End: t0.Add(time.Minute), Lines: []int{3}}}, a)
	if s.Found != 1 || s.Unmatched != 0 || s.NormalOnly != 0 || s.Episodes[0].Delay != 30*time.Second {
		t.Fatalf("%+v", s)
	}
}

func FuzzReadAnalysis(f *testing.F) {
	f.Add(`[{"incidents":[{"fingerprint":"f","episodes":[{"start":"2026-11-20T09:10:30Z"}],"lines":[3]}]}]`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ReadAnalysis(strings.NewReader(s))
		if err != nil {
			return
		}
		ScoreStream([]Episode{{Start: time.Unix(0, 0), End: time.Unix(60, 0), Lines: []int{1}}}, a)
		ScoreLabels(a, map[int]bool{1: true})
	})
}
