package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestLine(t *testing.T) {
	b := New(&bytes.Buffer{}, 1000)
	got := b.Line(500, 250, b.start.Add(2*time.Second))
	if !strings.Contains(got, " 25%") || !strings.Contains(got, "500 lines") || !strings.Contains(got, "250 lines/s") {
		t.Errorf("line %q", got)
	}
	unknown := New(&bytes.Buffer{}, 0)
	if got := unknown.Line(10, 999, unknown.start.Add(time.Second)); got != "10 lines  10 lines/s" {
		t.Errorf("unknown size: %q", got)
	}
}

func TestUpdateIsRateLimited(t *testing.T) {
	var out bytes.Buffer
	b := New(&out, 0)
	now := b.start
	b.now = func() time.Time { return now }
	b.Update(1, 1)
	b.Update(2, 2) // same instant: not redrawn
	now = now.Add(time.Second)
	b.Update(3, 3)
	if n := strings.Count(out.String(), "\r"); n != 2 {
		t.Errorf("%d redraws, want 2: %q", n, out.String())
	}
	b.Done()
	if !strings.HasSuffix(out.String(), "\r\033[K") {
		t.Error("Done did not clear the line")
	}
}
