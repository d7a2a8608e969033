// Package progress draws a one-line progress bar with lines/s on a terminal.
package progress

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Bar writes progress to a terminal at most every Interval.
type Bar struct {
	w        io.Writer
	total    int64 // bytes, 0 when unknown
	start    time.Time
	last     time.Time
	Interval time.Duration
	drawn    bool
	now      func() time.Time
}

// New returns a bar for an input of total bytes (0 when unknown).
func New(w io.Writer, total int64) *Bar {
	return &Bar{w: w, total: total, start: time.Now(), Interval: 200 * time.Millisecond, now: time.Now}
}

// Update redraws the bar if Interval has passed.
func (b *Bar) Update(lines int, bytes int64) {
	now := b.now()
	if b.drawn && now.Sub(b.last) < b.Interval {
		return
	}
	b.last, b.drawn = now, true
	fmt.Fprint(b.w, "\r"+b.Line(lines, bytes, now))
}

// Line renders the bar's text.
func (b *Bar) Line(lines int, bytes int64, now time.Time) string {
	el := now.Sub(b.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(lines) / el
	}
	if b.total <= 0 {
		return fmt.Sprintf("%d lines  %.0f lines/s", lines, rate)
	}
	frac := float64(bytes) / float64(b.total)
	if frac > 1 {
		frac = 1
	}
	const width = 30
	n := int(frac * width)
	return fmt.Sprintf("[%s%s] %3.0f%%  %d lines  %.0f lines/s", strings.Repeat("=", n), strings.Repeat(" ", width-n), frac*100, lines, rate)
}

// Done clears the bar.
func (b *Bar) Done() {
	if b.drawn {
		fmt.Fprint(b.w, "\r\033[K")
	}
}
