package detect

import (
	"fmt"
	"math"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// Config holds every threshold; DefaultConfig has the sane defaults. All
// times are event time: a file read an hour after it was written detects
// as the live stream would have.
type Config struct {
	// Window is the short window of the error-rate rule, and the window
	// over which template counts and baselines are kept.
	Window time.Duration `yaml:"window"`
	// LongWindow is the error-rate rule's long window: a rise must hold
	// over both, so a blip does not fire and a real change fires within
	// about one short window.
	LongWindow time.Duration `yaml:"long_window"`
	// BurstCount is the fewest errors of a service within Window that can
	// fire the error-rate rule.
	BurstCount int `yaml:"burst_count"`
	// BurstRatio is the error ratio (errors / events of the service) that
	// fires the rule while the service has no baseline yet (a cold start).
	BurstRatio float64 `yaml:"burst_ratio"`
	// RateFactor: with a baseline error ratio b, the rule fires at
	// min(b*RateFactor, b+(1-b)/2), and never below b+MinRise.
	RateFactor float64 `yaml:"rate_factor"`
	MinRise    float64 `yaml:"min_rise"`
	// WarmUp is how long a service is learnt before an error template it
	// has not shown counts as new; until then only the error-rate rule
	// (on BurstRatio) and crash signatures open incidents.
	WarmUp time.Duration `yaml:"warm_up"`
	// NewTemplateAge: an error template is new for this long after it
	// is first seen (after the warm-up).
	NewTemplateAge time.Duration `yaml:"new_template_age"`
	// A template spikes when its count in Window reaches SpikeFactor times
	// its baseline and at least SpikeMinCount.
	SpikeFactor   float64 `yaml:"spike_factor"`
	SpikeMinCount int     `yaml:"spike_min_count"`
	// BaselineAlpha weighs each closed window into the baselines (EWMA).
	BaselineAlpha float64 `yaml:"baseline_alpha"`
	// CriticalRecur is how many CRITICAL lines of one template within
	// LongWindow open an incident when they carry no crash signature and the
	// service's error rate has not changed; fewer are recorded only.
	CriticalRecur int `yaml:"critical_recur"`
	// GroupWait: templates of one service that turn anomalous within this
	// long of an incident's start join it, as do other services failing
	// with the same kind of error.
	GroupWait time.Duration `yaml:"group_wait"`
	// Quiet is how long an incident's episode must stay calm (no event
	// that fires a rule) before it resolves; a later change is a new
	// episode of the same incident.
	Quiet time.Duration `yaml:"quiet"`
	// Bounds on incidents, since anyone who can write log text can make
	// them: at most MaxNewPerService new incidents per service and
	// MaxNewPerSource per source in each Window of event time, and at
	// most MaxIncidents held in memory per source. Errors over a bound
	// are folded into one summary incident per service (0: no bound).
	MaxNewPerService int `yaml:"max_new_incidents_per_service"`
	MaxNewPerSource  int `yaml:"max_new_incidents_per_source"`
	MaxIncidents     int `yaml:"max_incidents"`
}

// DefaultConfig returns the defaults (docs/DETECTION.md explains each).
func DefaultConfig() Config {
	return Config{
		Window:         time.Minute,
		LongWindow:     5 * time.Minute,
		BurstCount:     10,
		BurstRatio:     0.2,
		RateFactor:     3,
		MinRise:        0.05,
		WarmUp:         5 * time.Minute,
		NewTemplateAge: time.Minute,
		SpikeFactor:    5,
		SpikeMinCount:  10,
		BaselineAlpha:  0.3,
		CriticalRecur:  2,
		GroupWait:      2 * time.Minute,
		Quiet:          5 * time.Minute,

		MaxNewPerService: 10,
		MaxNewPerSource:  50,
		MaxIncidents:     1000,
	}
}

// Reasons is a bit set of domain.Reason values.
type Reasons uint8

const (
	// Fatal: a crash signature (panic, uncaught exception, segfault, OOM
	// kill) in the line or its stack.
	Fatal Reasons = 1 << iota
	// NewTemplate: an error template the service had not shown, after
	// its warm-up.
	NewTemplate
	// Burst: the service's error ratio is well above its baseline over
	// both windows.
	Burst
	// Spike: the template's rate is well above its own baseline.
	Spike
	// Critical: a CRITICAL line without a crash signature that recurred.
	Critical
	// Resumed: the template's incident was going when an earlier run
	// stopped (the store holds it, last seen within the quiet period):
	// the episode continues, it does not wait for a rule to fire again.
	Resumed
)

// List expands the bit set.
func (r Reasons) List() []domain.Reason {
	var out []domain.Reason
	if r&Fatal != 0 {
		out = append(out, domain.ReasonFatal)
	}
	if r&Critical != 0 {
		out = append(out, domain.ReasonCritical)
	}
	if r&NewTemplate != 0 {
		out = append(out, domain.ReasonNewTemplate)
	}
	if r&Burst != 0 {
		out = append(out, domain.ReasonBurst)
	}
	if r&Spike != 0 {
		out = append(out, domain.ReasonSpike)
	}
	if r&Resumed != 0 {
		out = append(out, domain.ReasonResumed)
	}
	return out
}

const buckets = 12

// ring counts events in the last window, in buckets of a twelfth of it.
type ring struct {
	counts [buckets]int32
	total  int32
	head   int64 // index of the newest bucket (time / bucket width)
}

// advance moves the ring to bucket idx, dropping buckets that fell out.
func (r *ring) advance(idx int64) {
	if idx <= r.head {
		return // late events count in the newest bucket
	}
	steps := idx - r.head
	if steps >= buckets {
		r.counts = [buckets]int32{}
		r.total = 0
	} else {
		for s := int64(1); s <= steps; s++ {
			b := (r.head + s) % buckets
			r.total -= r.counts[b]
			r.counts[b] = 0
		}
	}
	r.head = idx
}

func (r *ring) add(idx int64) {
	r.advance(idx)
	r.counts[r.head%buckets]++
	r.total++
}

type serviceState struct {
	all, errors         ring // short window
	longAll, longErrors ring // long window
	first, last         time.Time
	// The baseline error ratio: an EWMA over closed short windows that
	// held events; winAll/winErr count the window in progress.
	ratio          float64
	hasRatio       bool
	winStart       int64
	winAll, winErr int64
	winHot         bool
	touched        bool // listed in Detector.touched
}

// TemplateKey identifies a template within a service.
type TemplateKey struct {
	Service  string
	Template int64
}

type templateState struct {
	window    ring
	baseline  float64
	baseStart int64 // bucket index where the current baseline window began
	started   bool  // baseStart is set
	hasBase   bool
	firstSeen time.Time
	// learnt: first seen while its service was warming up, so never new.
	// For a template known from the store it is decided on its first
	// event here, from its stored first sighting: the same input read
	// again gets the same answer, a later one finds it old.
	learnt    bool
	fromStore bool
	// critical counts CRITICAL lines without a crash signature in the
	// long window.
	critical ring
	touched  bool // listed in Detector.touched
}

// Detector holds per-service and per-template state. Not safe for
// concurrent use.
type Detector struct {
	cfg       Config
	width     int64 // short bucket width in ns
	longWidth int64
	services  map[string]*serviceState
	templates map[TemplateKey]*templateState
	// tracking: Observe lists in touched what it changed since the last
	// Touched (snapshot.go), each state once, by its flag.
	tracking bool
	touched  touched
}

// Config is the detector's configuration.
func (d *Detector) Config() Config { return d.cfg }

// Validate reports the first setting out of range.
func (c Config) Validate() error {
	switch {
	case c.Window < buckets:
		return fmt.Errorf("detect.window %v: want at least %dns", c.Window, buckets)
	case c.LongWindow < c.Window:
		return fmt.Errorf("detect.long_window %v: want at least detect.window (%v)", c.LongWindow, c.Window)
	case c.BurstCount < 1:
		return fmt.Errorf("detect.burst_count %d: want at least 1", c.BurstCount)
	case c.BurstRatio < 0 || c.BurstRatio > 1:
		return fmt.Errorf("detect.burst_ratio %v: want 0..1", c.BurstRatio)
	case c.RateFactor < 1:
		return fmt.Errorf("detect.rate_factor %v: want at least 1", c.RateFactor)
	case c.MinRise < 0 || c.MinRise > 1:
		return fmt.Errorf("detect.min_rise %v: want 0..1", c.MinRise)
	case c.WarmUp < 0:
		return fmt.Errorf("detect.warm_up %v: want >= 0", c.WarmUp)
	case c.NewTemplateAge <= 0:
		return fmt.Errorf("detect.new_template_age %v: want > 0", c.NewTemplateAge)
	case c.SpikeFactor < 1:
		return fmt.Errorf("detect.spike_factor %v: want at least 1", c.SpikeFactor)
	case c.SpikeMinCount < 1:
		return fmt.Errorf("detect.spike_min_count %d: want at least 1", c.SpikeMinCount)
	case c.BaselineAlpha <= 0 || c.BaselineAlpha > 1:
		return fmt.Errorf("detect.baseline_alpha %v: want 0 < a <= 1", c.BaselineAlpha)
	case c.CriticalRecur < 1:
		return fmt.Errorf("detect.critical_recur %d: want at least 1", c.CriticalRecur)
	case c.GroupWait < 0:
		return fmt.Errorf("detect.group_wait %v: want >= 0", c.GroupWait)
	case c.Quiet <= 0:
		return fmt.Errorf("detect.quiet %v: want > 0", c.Quiet)
	case c.MaxNewPerService < 0 || c.MaxNewPerSource < 0 || c.MaxIncidents < 0:
		return fmt.Errorf("detect: incident bounds must not be negative (0: no bound)")
	}
	return nil
}

// New returns a detector for a valid configuration.
func New(cfg Config) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Detector{
		cfg:       cfg,
		width:     int64(cfg.Window) / buckets,
		longWidth: int64(cfg.LongWindow) / buckets,
		services:  make(map[string]*serviceState),
		templates: make(map[TemplateKey]*templateState),
	}, nil
}

// Known tells the detector when an error template was first seen (from the
// store), so restarts do not call old templates new.
func (d *Detector) Known(k TemplateKey, firstSeen time.Time, baseline float64) {
	d.templates[k] = &templateState{firstSeen: firstSeen, baseline: baseline, hasBase: baseline > 0, fromStore: true}
}

// Baseline reports a template's baseline (events per window).
func (d *Detector) Baseline(k TemplateKey) (float64, time.Time, bool) {
	ts, ok := d.templates[k]
	if !ok {
		return 0, time.Time{}, false
	}
	return ts.baseline, ts.firstSeen, true
}

// Observe records one event and returns the reasons, if any, that make it
// part of an incident. isError says whether the event is error-class (see
// IsError); t may be zero, in which case the service's last time is used.
// A continuation line (a stack frame logged on its own) is counted but
// fires nothing.
func (d *Detector) Observe(k TemplateKey, t time.Time, ev *domain.Event, isError bool) Reasons {
	svc := d.services[k.Service]
	if svc == nil {
		svc = &serviceState{first: t}
		d.services[k.Service] = svc
	}
	if t.IsZero() {
		t = svc.last
	} else if t.After(svc.last) {
		svc.last = t
	}
	if svc.first.IsZero() || (!t.IsZero() && t.Before(svc.first)) {
		svc.first = t
	}
	if d.tracking && !svc.touched {
		svc.touched = true
		d.touched.services = append(d.touched.services, k.Service)
	}
	idx := t.UnixNano() / d.width
	d.closeRatioWindow(svc, idx)
	svc.winAll++
	svc.all.add(idx)
	svc.longAll.add(t.UnixNano() / d.longWidth)
	if !isError {
		return 0
	}
	svc.winErr++
	svc.errors.add(idx)
	svc.longErrors.add(t.UnixNano() / d.longWidth)

	warm := t.Sub(svc.first) >= d.cfg.WarmUp
	ts := d.templates[k]
	if ts == nil {
		ts = &templateState{firstSeen: t, baseStart: idx, learnt: !warm}
		d.templates[k] = ts
	}
	if d.tracking && !ts.touched {
		ts.touched = true
		d.touched.templates = append(d.touched.templates, k)
	}
	if ts.fromStore {
		ts.learnt, ts.fromStore = ts.firstSeen.Sub(svc.first) < d.cfg.WarmUp, false
		if !t.After(ts.firstSeen) {
			// The stored history again (the same input read twice):
			// learn its baseline afresh, as the first read did.
			ts.baseline, ts.hasBase = 0, false
		}
	}
	if t.Before(ts.firstSeen) {
		ts.firstSeen = t
	}
	d.closeBaselineWindows(ts, idx)
	ts.window.add(idx)

	var r Reasons
	lone := false // a CRITICAL line that has not recurred
	switch {
	case IsFatal(ev):
		r |= Fatal
	case ev.Severity >= domain.Critical:
		ts.critical.add(t.UnixNano() / d.longWidth)
		if ts.critical.total >= int32(d.cfg.CriticalRecur) {
			r |= Critical
		} else {
			lone = true
		}
	}
	// A new template opens an incident at WARNING or worse, with no level
	// at all, or when it names an exception class that was thrown: a line
	// its writer called INFO (or NOTICE) is otherwise worth an incident
	// when it comes with a change of rate.
	if !lone && !ts.learnt && t.Sub(ts.firstSeen) < d.cfg.NewTemplateAge && (ev.Severity >= domain.Warning || ev.Severity == domain.Default || ev.Stack != "" || namesException(ev.Message)) {
		r |= NewTemplate
	}
	if ts.hasBase && ts.window.total >= int32(d.cfg.SpikeMinCount) && float64(ts.window.total) >= d.cfg.SpikeFactor*max(ts.baseline, 1) {
		r |= Spike
	}
	if d.rateHigh(svc) {
		svc.winHot = true
		// The templates that explain the rise: those above their own
		// usual count (or without one yet); the service's steady
		// background errors are not part of the change.
		if !ts.hasBase || float64(ts.window.total) >= d.cfg.RateFactor*max(ts.baseline, 1) {
			r |= Burst
		}
	}
	// A continuation line or a register dump counts, but fires nothing
	// (read last: most error events fire nothing anyway).
	if r != 0 && (isContinuation(ev.Message) || isDump(ev.Message)) {
		return 0
	}
	return r
}

// rateHigh is the multi-window error-rate rule: enough errors in the short
// window, and the error ratio over both windows at the threshold.
func (d *Detector) rateHigh(svc *serviceState) bool {
	if svc.errors.total < int32(d.cfg.BurstCount) {
		return false
	}
	thr := d.threshold(svc)
	n := float64(max(svc.all.total, 1))
	short := float64(svc.errors.total) / n
	if !svc.hasRatio {
		// A cold start has no baseline to compare with: the short
		// window's ratio must clear the threshold by its sampling error
		// (two standard errors), so a few seconds of a noisy background
		// do not fire and a service failing outright does.
		short -= 2 * math.Sqrt(short*(1-short)/n)
	}
	long := float64(svc.longErrors.total) / float64(max(svc.longAll.total, 1))
	return short >= thr && long >= thr
}

// threshold is the error ratio the rule fires at for a service.
func (d *Detector) threshold(svc *serviceState) float64 {
	if !svc.hasRatio {
		return d.cfg.BurstRatio
	}
	b := svc.ratio
	return min(max(min(b*d.cfg.RateFactor, b+(1-b)/2), b+d.cfg.MinRise), 1)
}

// closeRatioWindow folds the short window in progress into the service's
// baseline error ratio once bucket idx lies past it. A window in which the
// rule fired weighs a quarter as much: an outage does not become the
// baseline, but a lasting new level is learnt in time.
func (d *Detector) closeRatioWindow(svc *serviceState, idx int64) {
	if svc.winAll == 0 {
		svc.winStart = idx - idx%buckets
		return
	}
	if idx < svc.winStart+buckets {
		return
	}
	r := float64(svc.winErr) / float64(svc.winAll)
	a := d.cfg.BaselineAlpha
	if svc.winHot {
		a /= 4
	}
	if !svc.hasRatio {
		if !svc.winHot {
			svc.ratio, svc.hasRatio = r, true
		}
	} else {
		svc.ratio = a*r + (1-a)*svc.ratio
	}
	svc.winStart = idx - idx%buckets
	svc.winAll, svc.winErr, svc.winHot = 0, 0, false
}

// Seen reports whether the detector has seen service.
func (d *Detector) Seen(service string) bool { return d.services[service] != nil }

// HasTemplate reports whether the detector has state for k.
func (d *Detector) HasTemplate(k TemplateKey) bool { return d.templates[k] != nil }

// RateView is what the error-rate rule saw for a service at an event: for
// explaining why an incident opened.
type RateView struct {
	ShortErrors, ShortEvents int64
	LongErrors, LongEvents   int64
	Baseline                 float64 // the baseline error ratio; -1 if none yet
	Threshold                float64
	Warm                     bool // past the warm-up
}

// Rate reports the service's error-rate view now.
func (d *Detector) Rate(service string) RateView {
	svc := d.services[service]
	if svc == nil {
		return RateView{Baseline: -1}
	}
	v := RateView{ShortErrors: int64(svc.errors.total), ShortEvents: int64(svc.all.total),
		LongErrors: int64(svc.longErrors.total), LongEvents: int64(svc.longAll.total),
		Baseline: -1, Threshold: d.threshold(svc), Warm: svc.last.Sub(svc.first) >= d.cfg.WarmUp}
	if svc.hasRatio {
		v.Baseline = svc.ratio
	}
	return v
}

// TemplateView reports a template's count in the window and its baseline.
func (d *Detector) TemplateView(k TemplateKey) (count int64, baseline float64, firstSeen time.Time) {
	ts := d.templates[k]
	if ts == nil {
		return 0, 0, time.Time{}
	}
	return int64(ts.window.total), ts.baseline, ts.firstSeen
}

// closeBaselineWindows folds every whole window that ended before bucket
// idx into the template's baseline (EWMA); windows after the first that
// closed held no events. Past 64 empty windows the baseline is ~0 anyway.
func (d *Detector) closeBaselineWindows(ts *templateState, idx int64) {
	if !ts.started {
		ts.baseStart, ts.started = idx, true
		return
	}
	windows := (idx - ts.baseStart) / buckets
	if windows <= 0 {
		return
	}
	count := float64(ts.window.total)
	for w := int64(0); w < min(windows, 64); w++ {
		if !ts.hasBase {
			ts.baseline, ts.hasBase = count, true
		} else {
			// Quick to learn a rise, slow to forget: a lull (the
			// template crowded out during an outage) does not make its
			// usual rate look like a spike when the lull ends.
			a := d.cfg.BaselineAlpha
			if count < ts.baseline {
				a /= 4
			}
			ts.baseline = a*count + (1-a)*ts.baseline
		}
		count = 0
	}
	ts.baseStart += windows * buckets
}
