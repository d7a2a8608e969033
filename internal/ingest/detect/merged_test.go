package detect

import (
	"testing"
	"time"
)

func TestEvaluateMergedJudgesEachBucketsWindow(t *testing.T) {
	d, _ := New(DefaultConfig())
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b0 := d.Bucket(t0)
	m := Merged{Errors: map[int64]int64{}, SvcErrors: map[int64]int64{}, SvcAll: map[int64]int64{}, FirstSeen: t0.Add(-2 * time.Hour)}
	// 9 errors over the window: one short of a burst.
	for i := range int64(9) {
		m.SvcErrors[b0+i] = 1
		m.SvcAll[b0+i] = 2
	}
	if r := d.EvaluateMerged(m, []int64{b0 + 8}, t0); r != 0 {
		t.Fatalf("9 errors: %v", r.List())
	}
	m.SvcErrors[b0+9], m.SvcAll[b0+9] = 1, 1
	if r := d.EvaluateMerged(m, []int64{b0 + 9}, t0); r != Burst {
		t.Fatalf("10 errors in the window: %v", r.List())
	}
	// The same counts judged at a bucket past the window: they slid out.
	if r := d.EvaluateMerged(m, []int64{b0 + 9 + BucketsPerWindow}, t0); r != 0 {
		t.Fatalf("a window later: %v", r.List())
	}
	// Too few errors among many events: no burst.
	m.SvcAll[b0+9] = 100
	if r := d.EvaluateMerged(m, []int64{b0 + 9}, t0); r != 0 {
		t.Fatalf("errors under the ratio: %v", r.List())
	}
	// A template first seen within new_template_age is new.
	m.FirstSeen = t0.Add(-30 * time.Second)
	if r := d.EvaluateMerged(m, []int64{b0}, t0); r != NewTemplate {
		t.Fatalf("new template: %v", r.List())
	}
}

func TestFoldMergedFoldsEachClosedWindowOnce(t *testing.T) {
	d, _ := New(DefaultConfig())
	errs := map[int64]int64{}
	w := int64(1000) * BucketsPerWindow // a window start
	for i := range int64(BucketsPerWindow) {
		errs[w+i] = 2 // 24 in window w
	}
	b := d.FoldMerged(SharedBaseline{}, errs, w+3)
	if b.HasBase || b.Through != w {
		t.Fatalf("first sight starts the clock: %+v", b)
	}
	b = d.FoldMerged(b, errs, w+BucketsPerWindow+1) // w closed
	if !b.HasBase || b.PerWindow != 24 || b.Through != w+BucketsPerWindow {
		t.Fatalf("after one window: %+v", b)
	}
	again := d.FoldMerged(b, errs, w+BucketsPerWindow+5) // same window: nothing more
	if again != b {
		t.Fatalf("folded twice: %+v", again)
	}
	b = d.FoldMerged(b, errs, w+3*BucketsPerWindow) // two empty windows
	want := 0.7 * 0.7 * 24
	if b.PerWindow < want-1e-9 || b.PerWindow > want+1e-9 || b.Through != w+3*BucketsPerWindow {
		t.Fatalf("after two empty windows: %+v, want %v", b, want)
	}
	if FoldFrom(b, w+3*BucketsPerWindow) != b.Through {
		t.Fatal("FoldFrom")
	}
	// Long silence: at most MaxFoldWindows windows are folded.
	far := d.FoldMerged(b, errs, w+1000*BucketsPerWindow)
	if far.Through != w+1000*BucketsPerWindow || far.PerWindow > 1e-6 {
		t.Fatalf("after a long silence: %+v", far)
	}
}
