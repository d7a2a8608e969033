package detect

import (
	"encoding/json"
	"fmt"
	"time"
)

// What the detector holds of a service or a template (its windows in
// progress, baselines, first sightings) is state a restart would
// otherwise learn again, deciding differently meanwhile. A spine whose
// input is acknowledged saves it with each flush (only what changed) and
// a later run restores it, so that a crash changes no decision.

// RingSnap is a ring of bucket counts as saved.
type RingSnap struct {
	Counts [buckets]int32 `json:"c"`
	Total  int32          `json:"t"`
	Head   int64          `json:"h"`
}

func (r ring) snap() RingSnap { return RingSnap{r.counts, r.total, r.head} }
func (s RingSnap) ring() ring { return ring{counts: s.Counts, total: s.Total, head: s.Head} }

// valid: counts that are counts, summing to the total, at a bucket an
// event could have (a stored state is read back, never trusted).
func (s RingSnap) valid() bool {
	var sum int64
	for _, c := range s.Counts {
		if c < 0 {
			return false
		}
		sum += int64(c)
	}
	return s.Head >= 0 && sum == int64(s.Total)
}

// ServiceSnap is a service's state as saved.
type ServiceSnap struct {
	All, Errors, LongAll, LongErrors RingSnap
	First, Last                      time.Time
	Ratio                            float64
	HasRatio                         bool
	WinStart, WinAll, WinErr         int64
	WinHot                           bool
}

// TemplateSnap is a template's state as saved.
type TemplateSnap struct {
	Window, Critical RingSnap
	Baseline         float64
	BaseStart        int64
	Started, HasBase bool
	FirstSeen        time.Time
	Learnt           bool
}

// touched lists the services and templates Observe changed since the
// last Touched.
type touched struct {
	services  []string
	templates []TemplateKey
}

// Touched reports and forgets the services and templates observed since
// the last call.
func (d *Detector) Touched() (services []string, templates []TemplateKey) {
	services, templates = d.touched.services, d.touched.templates
	for _, s := range services {
		if st := d.services[s]; st != nil {
			st.touched = false
		}
	}
	for _, k := range templates {
		if t := d.templates[k]; t != nil {
			t.touched = false
		}
	}
	d.touched = touched{}
	return services, templates
}

// Track turns on Touched.
func (d *Detector) Track() { d.tracking = true }

// SaveService is a service's state as JSON; ok is false for one not seen.
func (d *Detector) SaveService(service string) (b []byte, ok bool) {
	s := d.services[service]
	if s == nil {
		return nil, false
	}
	b, err := json.Marshal(ServiceSnap{All: s.all.snap(), Errors: s.errors.snap(), LongAll: s.longAll.snap(), LongErrors: s.longErrors.snap(),
		First: s.first, Last: s.last, Ratio: s.ratio, HasRatio: s.hasRatio, WinStart: s.winStart, WinAll: s.winAll, WinErr: s.winErr, WinHot: s.winHot})
	return b, err == nil
}

// SaveTemplate is a template's state as JSON; ok is false for one not
// seen.
func (d *Detector) SaveTemplate(k TemplateKey) (b []byte, ok bool) {
	t := d.templates[k]
	if t == nil || t.fromStore {
		return nil, false
	}
	b, err := json.Marshal(TemplateSnap{Window: t.window.snap(), Critical: t.critical.snap(), Baseline: t.baseline, BaseStart: t.baseStart,
		Started: t.started, HasBase: t.hasBase, FirstSeen: t.firstSeen, Learnt: t.learnt})
	return b, err == nil
}

// RestoreService takes a service's saved state, before its first event
// here; it does nothing for a service already seen.
func (d *Detector) RestoreService(service string, b []byte) error {
	if d.services[service] != nil {
		return nil
	}
	var s ServiceSnap
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("detector state of %s: %w", service, err)
	}
	for _, r := range []RingSnap{s.All, s.Errors, s.LongAll, s.LongErrors} {
		if !r.valid() {
			return fmt.Errorf("detector state of %s: a window's counts do not add up", service)
		}
	}
	d.services[service] = &serviceState{all: s.All.ring(), errors: s.Errors.ring(), longAll: s.LongAll.ring(), longErrors: s.LongErrors.ring(),
		first: s.First, last: s.Last, ratio: s.Ratio, hasRatio: s.HasRatio, winStart: s.WinStart, winAll: s.WinAll, winErr: s.WinErr, winHot: s.WinHot}
	return nil
}

// RestoreTemplate takes a template's saved state, before its first event
// here; it does nothing for a template already seen.
func (d *Detector) RestoreTemplate(k TemplateKey, b []byte) error {
	if d.templates[k] != nil {
		return nil
	}
	var t TemplateSnap
	if err := json.Unmarshal(b, &t); err != nil {
		return fmt.Errorf("detector state of a template of %s: %w", k.Service, err)
	}
	if !t.Window.valid() || !t.Critical.valid() {
		return fmt.Errorf("detector state of a template of %s: a window's counts do not add up", k.Service)
	}
	d.templates[k] = &templateState{window: t.Window.ring(), critical: t.Critical.ring(), baseline: t.Baseline, baseStart: t.BaseStart,
		started: t.Started, hasBase: t.HasBase, firstSeen: t.FirstSeen, learnt: t.Learnt}
	return nil
}

// Span is when the detector first and last saw service.
func (d *Detector) Span(service string) (first, last time.Time, ok bool) {
	s := d.services[service]
	if s == nil {
		return time.Time{}, time.Time{}, false
	}
	return s.first, s.last, true
}
