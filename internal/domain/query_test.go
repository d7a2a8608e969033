package domain

import (
	"testing"
	"time"
)

// ParseSince: durations, days, dates and times; anything else refused.
func TestParseSince(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{"": {}, "24h": now.Add(-24 * time.Hour), "30m": now.Add(-30 * time.Minute), "7d": now.Add(-7 * 24 * time.Hour),
		"2026-12-01": time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), "2026-12-01T10:00:00Z": time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)} {
		if got, err := ParseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"yesterday", "-1h", "2026-13-45", "24", "-1d", "1.5d", "99999999999d"} {
		if _, err := ParseSince(bad, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
