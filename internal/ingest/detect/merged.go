package detect

import (
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// Replicas sharing one store detect on merged counts: each counts events
// per bucket (Window/12 of event time) and adds its counts to the store's
// at every flush; the decision for an error template is then taken on
// every replica's counts together, so a burst split across replicas is
// found as one agent would find it. These are the pieces of that
// decision that do not depend on the store.

// Counted series of a service besides its templates' error counts.
const (
	// SeriesAll counts every event of a service.
	SeriesAll = ""
	// SeriesErrors counts a service's error-class events.
	SeriesErrors = "!"
)

// Bucket is the bucket index of an event time.
func (d *Detector) Bucket(t time.Time) int64 { return t.UnixNano() / d.width }

// BucketsPerWindow is how many buckets make one window.
const BucketsPerWindow = buckets

// Merged is every replica's counts for one error template of a service,
// by bucket, with the template's shared first sighting and baseline.
type Merged struct {
	Errors    map[int64]int64 // the template's error events
	SvcErrors map[int64]int64 // the service's error events
	SvcAll    map[int64]int64 // the service's events
	FirstSeen time.Time
	Baseline  SharedBaseline
	// Open says the store already holds an incident for the template: a
	// replica counts into it as a single agent counts into the incident it
	// opened, reasons or not.
	Open bool
}

// SharedBaseline is a template's baseline kept in the shared store:
// closed windows up to Through (a bucket index, exclusive) are folded in.
type SharedBaseline struct {
	PerWindow float64
	HasBase   bool
	Through   int64
}

func windowSum(m map[int64]int64, end int64) int64 {
	var n int64
	for b := end - buckets + 1; b <= end; b++ {
		n += m[b]
	}
	return n
}

// EvaluateMerged returns the reasons the merged counts give an error
// template whose events this replica saw in buckets (ascending), the
// earliest at earliest. Each bucket is judged on the window ending there,
// as a single agent judges each event on the window ending at it.
func (d *Detector) EvaluateMerged(m Merged, buckets []int64, earliest time.Time) Reasons {
	var r Reasons
	if !m.FirstSeen.IsZero() && earliest.Sub(m.FirstSeen) < d.cfg.NewTemplateAge {
		r |= NewTemplate
	}
	for _, b := range buckets {
		tmpl := windowSum(m.Errors, b)
		if m.Baseline.HasBase && tmpl >= int64(d.cfg.SpikeMinCount) && float64(tmpl) >= d.cfg.SpikeFactor*max(m.Baseline.PerWindow, 1) {
			r |= Spike
		}
		errs, all := windowSum(m.SvcErrors, b), windowSum(m.SvcAll, b)
		if errs >= int64(d.cfg.BurstCount) && float64(errs) >= d.cfg.BurstRatio*float64(all) {
			r |= Burst
		}
	}
	return r
}

// MaxFoldWindows bounds the empty windows folded into a baseline: past 64
// the baseline is about zero anyway.
const MaxFoldWindows = 64

// FoldMerged folds every whole window that closed before bucket upTo into
// a shared baseline (EWMA of the template's merged error counts per
// window). Windows are aligned to multiples of the window so that every
// replica folds the same windows; a window is folded once (Through).
func (d *Detector) FoldMerged(b SharedBaseline, errs map[int64]int64, upTo int64) SharedBaseline {
	end := floorDiv(upTo, buckets) * buckets // start of the window upTo is in
	if b.Through == 0 {
		// The first window seen starts the baseline's clock.
		b.Through = end
		return b
	}
	if end-b.Through > MaxFoldWindows*buckets {
		b.Through = end - MaxFoldWindows*buckets
	}
	a := d.cfg.BaselineAlpha
	for w := b.Through; w+buckets <= end; w += buckets {
		var n int64
		for i := w; i < w+buckets; i++ {
			n += errs[i]
		}
		if !b.HasBase {
			b.PerWindow, b.HasBase = float64(n), true
		} else {
			b.PerWindow = a*float64(n) + (1-a)*b.PerWindow
		}
		b.Through = w + buckets
	}
	return b
}

// FoldFrom is the first bucket whose counts FoldMerged needs.
func FoldFrom(b SharedBaseline, upTo int64) int64 {
	end := floorDiv(upTo, buckets) * buckets
	if b.Through == 0 {
		return end
	}
	return max(b.Through, end-MaxFoldWindows*buckets)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// KeyedBaseline is a template's shared baseline after a flush.
type KeyedBaseline struct {
	domain.WindowID
	SharedBaseline
}

// Decider takes the decision on every replica's merged counts and returns
// the baselines with closed windows folded in and the incidents to save.
// A store may call it again when it retries its transaction.
type Decider func(map[domain.WindowID]Merged) ([]KeyedBaseline, []domain.Incident)
