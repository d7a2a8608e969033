package detect

import (
	"fmt"
	"strings"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// Config holds every threshold; DefaultConfig has the sane defaults.
type Config struct {
	// Window is the sliding window for bursts and spikes.
	Window time.Duration `yaml:"window"`
	// BurstCount errors of a service within Window make a burst...
	BurstCount int `yaml:"burst_count"`
	// ...when they are at least BurstRatio of the service's events.
	BurstRatio float64 `yaml:"burst_ratio"`
	// NewTemplateAge: an error template first seen less than this long ago
	// (event time) is new.
	NewTemplateAge time.Duration `yaml:"new_template_age"`
	// A template spikes when its count in Window reaches SpikeFactor times
	// its baseline and at least SpikeMinCount.
	SpikeFactor   float64 `yaml:"spike_factor"`
	SpikeMinCount int     `yaml:"spike_min_count"`
	// BaselineAlpha weighs each closed window into the baseline (EWMA).
	BaselineAlpha float64 `yaml:"baseline_alpha"`
	// Bounds on incidents, since anyone who can write log text can make
	// them: at most MaxNewPerService new incidents per service and
	// MaxNewPerSource per source in each Window of event time, and at
	// most MaxIncidents held in memory per source. Errors over a bound
	// are folded into one summary incident per service (0: no bound).
	MaxNewPerService int `yaml:"max_new_incidents_per_service"`
	MaxNewPerSource  int `yaml:"max_new_incidents_per_source"`
	MaxIncidents     int `yaml:"max_incidents"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Window:         time.Minute,
		BurstCount:     10,
		BurstRatio:     0.2,
		NewTemplateAge: time.Hour,
		SpikeFactor:    5,
		SpikeMinCount:  10,
		BaselineAlpha:  0.3,

		MaxNewPerService: 10,
		MaxNewPerSource:  50,
		MaxIncidents:     1000,
	}
}

// Reasons is a bit set of domain.Reason values.
type Reasons uint8

const (
	Fatal Reasons = 1 << iota
	NewTemplate
	Burst
	Spike
)

// List expands the bit set.
func (r Reasons) List() []domain.Reason {
	var out []domain.Reason
	if r&Fatal != 0 {
		out = append(out, domain.ReasonFatal)
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
	return out
}

const buckets = 12

// ring counts events in the last Window, in buckets of Window/buckets.
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
	all, errors ring
	last        time.Time
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
}

// Detector holds per-service and per-template state. Not safe for
// concurrent use.
type Detector struct {
	cfg       Config
	width     int64 // bucket width in ns
	services  map[string]*serviceState
	templates map[TemplateKey]*templateState
}

// Config is the detector's configuration.
func (d *Detector) Config() Config { return d.cfg }

// Validate reports the first setting out of range.
func (c Config) Validate() error {
	switch {
	case c.Window < buckets:
		return fmt.Errorf("detect.window %v: want at least %dns", c.Window, buckets)
	case c.BurstCount < 1:
		return fmt.Errorf("detect.burst_count %d: want at least 1", c.BurstCount)
	case c.BurstRatio < 0 || c.BurstRatio > 1:
		return fmt.Errorf("detect.burst_ratio %v: want 0..1", c.BurstRatio)
	case c.NewTemplateAge <= 0:
		return fmt.Errorf("detect.new_template_age %v: want > 0", c.NewTemplateAge)
	case c.SpikeFactor < 1:
		return fmt.Errorf("detect.spike_factor %v: want at least 1", c.SpikeFactor)
	case c.SpikeMinCount < 1:
		return fmt.Errorf("detect.spike_min_count %d: want at least 1", c.SpikeMinCount)
	case c.BaselineAlpha <= 0 || c.BaselineAlpha > 1:
		return fmt.Errorf("detect.baseline_alpha %v: want 0 < a <= 1", c.BaselineAlpha)
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
		services:  make(map[string]*serviceState),
		templates: make(map[TemplateKey]*templateState),
	}, nil
}

// Known tells the detector when an error template was first seen (from the
// store), so restarts do not call old templates new.
func (d *Detector) Known(k TemplateKey, firstSeen time.Time, baseline float64) {
	d.templates[k] = &templateState{firstSeen: firstSeen, baseline: baseline, hasBase: baseline > 0}
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
func (d *Detector) Observe(k TemplateKey, t time.Time, ev *domain.Event, isError bool) Reasons {
	svc := d.services[k.Service]
	if svc == nil {
		svc = &serviceState{}
		d.services[k.Service] = svc
	}
	if t.IsZero() {
		t = svc.last
	} else if t.After(svc.last) {
		svc.last = t
	}
	idx := t.UnixNano() / d.width
	svc.all.add(idx)
	if !isError {
		return 0
	}
	svc.errors.add(idx)

	var r Reasons
	if IsFatal(ev) {
		r |= Fatal
	}
	ts := d.templates[k]
	if ts == nil {
		ts = &templateState{firstSeen: t, baseStart: idx}
		d.templates[k] = ts
	}
	if t.Before(ts.firstSeen) {
		ts.firstSeen = t
	}
	if t.Sub(ts.firstSeen) < d.cfg.NewTemplateAge {
		r |= NewTemplate
	}
	d.closeBaselineWindows(ts, idx)
	ts.window.add(idx)
	if ts.hasBase && ts.window.total >= int32(d.cfg.SpikeMinCount) && float64(ts.window.total) >= d.cfg.SpikeFactor*max(ts.baseline, 1) {
		r |= Spike
	}
	if svc.errors.total >= int32(d.cfg.BurstCount) && float64(svc.errors.total) >= d.cfg.BurstRatio*float64(svc.all.total) {
		r |= Burst
	}
	return r
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
	a := d.cfg.BaselineAlpha
	for w := int64(0); w < min(windows, 64); w++ {
		if !ts.hasBase {
			ts.baseline, ts.hasBase = count, true
		} else {
			ts.baseline = a*count + (1-a)*ts.baseline
		}
		count = 0
	}
	ts.baseStart += windows * buckets
}

// errorWords mark an event as error-class when its level does not say so
// (INFO lines that report an exception, untagged text).
var errorWords = newWords("exception", "error", "fail", "fatal", "panic", "refused", "denied", "timeout", "timed out", "unreachable", "corrupt", "abort", "killed", "crash", "segfault", "traceback")

// IsError reports whether an event is error-class: ERROR or worse, or a
// lower level whose text reports a failure.
func IsError(ev *domain.Event) bool {
	if ev.Severity >= domain.Error {
		return true
	}
	if ev.Severity == domain.Debug {
		return false
	}
	if ev.Stack != "" {
		return true
	}
	return reportsFailure(ev.Message)
}

// reportsFailure reads a line below ERROR the way a person would: an
// error word counts unless its context says there was none ("errors=0",
// "error": null, "no error", "0 failures", a timeout setting) or that it
// was dealt with ("error(s) detected and corrected"). It scans in place,
// without allocating: it runs on every line.
func reportsFailure(msg string) bool {
	for from := 0; from < len(msg); {
		at, n := errorWords.index(msg, from)
		if at < 0 {
			return false
		}
		if !neutral(msg, at, at+n) {
			return true
		}
		from = at + n
	}
	return false
}

// neutral reports whether the error word at msg[a:b] says there was no
// failure, or that it was handled.
func neutral(msg string, a, b int) bool {
	// The whole word: "errors", "error(s)", "failures", "failed".
	e := b
	for e < len(msg) && isLetter(msg[e]) {
		e++
	}
	if strings.HasPrefix(msg[e:], "(s)") {
		e += 3
	}
	// Before: "no error", "0 errors", "without failures".
	if p := a; p > 0 && msg[p-1] == ' ' {
		for p > 0 && msg[p-1] == ' ' {
			p--
		}
		q := p
		for q > 0 && (isLetter(msg[q-1]) || isDigitByte(msg[q-1])) {
			q--
		}
		switch w := msg[q:p]; {
		case w == "0", strings.EqualFold(w, "no"), strings.EqualFold(w, "zero"), strings.EqualFold(w, "without"):
			return true
		}
	}
	// After: a field that says none, or a timeout setting.
	i := e
	for i < len(msg) && (msg[i] == '"' || msg[i] == '\'' || msg[i] == '_' || isLetter(msg[i])) {
		i++
	}
	for i < len(msg) && msg[i] == ' ' {
		i++
	}
	if i < len(msg) && (msg[i] == '=' || msg[i] == ':') {
		i++
		if i < len(msg) && msg[i] == '=' {
			i++
		}
		for i < len(msg) && msg[i] == ' ' {
			i++
		}
		v := msg[i:]
		if (msg[a]|0x20) == 't' && len(v) > 0 && isDigitByte(v[0]) { // timeout: a setting
			return true
		}
		for _, none := range noneValues {
			if len(v) >= len(none) && strings.EqualFold(v[:len(none)], none) &&
				(len(v) == len(none) || !isLetter(v[len(none)]) && !isDigitByte(v[len(none)])) {
				return true
			}
		}
	}
	// Handled: "error(s) detected and corrected" within the clause.
	rest := msg[e:min(len(msg), e+48)]
	if k := strings.IndexAny(rest, ".;"); k >= 0 {
		rest = rest[:k]
	}
	return handledWords.in(rest)
}

var noneValues = []string{"0", "null", "nil", "none", "false", `""`, "''", "[]", "{}", "<nil>"}

var handledWords = newWords("corrected", "recovered", "succeeded", "resolved", "cleared")

func isLetter(c byte) bool    { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }

var fatalWords = newWords("panic:", "fatal error", "outofmemoryerror", "out of memory", "segmentation fault", "sigsegv", "core dumped", "oom-kill", "killed process", "crashloopbackoff", "stack overflow")

// IsFatal reports fatal, panic and crash signatures.
func IsFatal(ev *domain.Event) bool {
	if ev.Severity >= domain.Critical {
		return true
	}
	return fatalWords.in(ev.Message) || (ev.Stack != "" && fatalWords.in(firstLines(ev.Stack, 3)))
}

func firstLines(s string, n int) string {
	i := 0
	for ; n > 0; n-- {
		j := strings.IndexByte(s[i:], '\n')
		if j < 0 {
			return s
		}
		i += j + 1
	}
	return s[:i]
}

// words are lower-case needles searched case-insensitively, without
// allocating a lowered copy of the haystack; the table of first bytes is
// built once, not per line.
type words struct {
	list  []string
	first [256]bool
}

func newWords(list ...string) *words {
	w := &words{list: list}
	for _, n := range list {
		w.first[n[0]] = true
	}
	return w
}

// index is the first match at or after from: its position and length, or
// -1.
func (w *words) index(s string, from int) (int, int) {
	for i := from; i < len(s); i++ {
		c := s[i] | 0x20
		if !w.first[c] {
			continue
		}
		for _, n := range w.list {
			if n[0] != c || len(s)-i < len(n) {
				continue
			}
			match := true
			for j := 1; j < len(n); j++ {
				b := s[i+j]
				if b >= 'A' && b <= 'Z' {
					b += 'a' - 'A'
				}
				if b != n[j] {
					match = false
					break
				}
			}
			if match {
				return i, len(n)
			}
		}
	}
	return -1, 0
}

func (w *words) in(s string) bool {
	i, _ := w.index(s, 0)
	return i >= 0
}
