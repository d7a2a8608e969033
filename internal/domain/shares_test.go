package domain

import (
	"testing"
	"time"
)

func TestTimelineKeepsTheLatestDay(t *testing.T) {
	tl := Timeline{}
	for m := int64(0); m < 3*MaxTimeline; m++ {
		tl.Add(m, 1)
	}
	if len(tl) < MaxTimeline || len(tl) > 2*MaxTimeline || tl[0] != 0 || tl[3*MaxTimeline-1] != 1 {
		t.Fatalf("%d minutes kept; oldest %d, newest %d", len(tl), tl[0], tl[3*MaxTimeline-1])
	}
	for m := int64(2 * MaxTimeline); m < 3*MaxTimeline; m++ {
		if tl[m] != 1 {
			t.Fatalf("minute %d of the latest day lost", m)
		}
	}
	var merged Timeline
	merged.Merge(Timeline{5: 2})
	merged.Merge(Timeline{5: 3, 6: 1})
	if merged[5] != 5 || merged[6] != 1 {
		t.Fatalf("merge %v", merged)
	}
}

func TestReopensAfterAQuietGap(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	done := &Incident{State: StateDelivered, LastSeen: t0}
	if Reopens(done, time.Time{}, Incident{FirstSeen: t0.Add(time.Hour)}, 6*time.Hour) {
		t.Error("re-opened within the quiet period")
	}
	if !Reopens(done, time.Time{}, Incident{FirstSeen: t0.Add(7 * time.Hour)}, 6*time.Hour) {
		t.Error("not re-opened after the quiet period")
	}
	if !Reopens(done, t0, Incident{FirstSeen: t0, ReopenedAt: t0.Add(time.Minute)}, 6*time.Hour) {
		t.Error("a gap the spine saw did not re-open")
	}
	if Reopens(&Incident{State: StateTriaged, LastSeen: t0}, time.Time{}, Incident{FirstSeen: t0.Add(7 * time.Hour)}, 6*time.Hour) {
		t.Error("an incident in flight re-opened")
	}
}
