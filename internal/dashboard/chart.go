package dashboard

import (
	"fmt"
	"sort"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// Chart is an incident's event rate as bars, drawn as SVG on the server:
// no script, no inline style, nothing to load.
type Chart struct {
	Width, Height int
	Bars          []Bar
	From, To      string
	Max           int64
	BinMinutes    int64
	Empty         bool
}

// Bar is one bin of the chart.
type Bar struct {
	X, Y, W, H int
	Label      string
	Count      int64
}

const (
	chartW, chartH = 720, 160
	maxBars        = 60
	minSpan        = 30 // minutes
)

// NewChart bins a timeline into at most maxBars bars spanning its first to
// its last minute.
func NewChart(tl domain.Timeline) Chart {
	c := Chart{Width: chartW, Height: chartH}
	if len(tl) == 0 {
		c.Empty = true
		return c
	}
	minutes := make([]int64, 0, len(tl))
	for m := range tl {
		minutes = append(minutes, m)
	}
	sort.Slice(minutes, func(i, j int) bool { return minutes[i] < minutes[j] })
	first, last := minutes[0], minutes[len(minutes)-1]
	// A short incident is shown in half an hour of context, so that a
	// burst looks like one.
	if span := last - first + 1; span < minSpan {
		first -= (minSpan - span) / 2
		last = first + minSpan - 1
	}
	span := last - first + 1
	bin := (span + maxBars - 1) / maxBars
	n := (span + bin - 1) / bin
	counts := make([]int64, n)
	for m, v := range tl {
		counts[(m-first)/bin] += v
	}
	for _, v := range counts {
		c.Max = max(c.Max, v)
	}
	c.BinMinutes = bin
	w := chartW / int(n)
	for i, v := range counts {
		h := int(float64(chartH-20) * float64(v) / float64(c.Max))
		if v > 0 && h < 2 {
			h = 2
		}
		start := time.Unix((first+int64(i)*bin)*60, 0).UTC()
		c.Bars = append(c.Bars, Bar{X: i * w, Y: chartH - h, W: max(w-1, 1), H: h, Count: v,
			Label: fmt.Sprintf("%s: %d events", start.Format("2006-01-02 15:04Z"), v)})
	}
	c.From = time.Unix(first*60, 0).UTC().Format("2006-01-02 15:04Z")
	c.To = time.Unix((last+1)*60, 0).UTC().Format("2006-01-02 15:04Z")
	return c
}
