package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"
)

// TemplateID is a stable hash of a template's text: the same text gives the
// same id in every run, on every machine.
type TemplateID string

// NewTemplateID hashes template text into its id.
func NewTemplateID(text string) TemplateID {
	sum := sha256.Sum256([]byte(text))
	return TemplateID(hex.EncodeToString(sum[:8]))
}

// Template is a log message with its variable parts replaced by <*>.
type Template struct {
	ID    TemplateID `json:"id"`
	Text  string     `json:"template"`
	Count int64      `json:"count"`
}

// Fingerprint identifies one problem: the service and its leading error
// template. However many lines a problem spans, it has one fingerprint.
type Fingerprint string

// NewFingerprint derives the fingerprint of a service's error template.
func NewFingerprint(service string, template TemplateID) Fingerprint {
	h := sha256.New()
	h.Write([]byte(service))
	h.Write([]byte{0})
	h.Write([]byte(template))
	return Fingerprint(hex.EncodeToString(h.Sum(nil)[:10]))
}

// Short is the first 8 characters, for branch names and display.
func (f Fingerprint) Short() string {
	if len(f) < 8 {
		return string(f)
	}
	return string(f[:8])
}

// Reason says which detector opened or refreshed an incident.
type Reason string

const (
	ReasonFatal       Reason = "fatal"
	ReasonNewTemplate Reason = "new-template"
	ReasonBurst       Reason = "error-burst"
	ReasonSpike       Reason = "template-spike"
	// ReasonCritical: CRITICAL lines without a crash signature that
	// recurred (one alone is recorded, not an incident).
	ReasonCritical Reason = "critical-recurred"
	// ReasonResumed: the incident was going when an earlier run of the
	// agent stopped, and its errors came back within the quiet period.
	ReasonResumed Reason = "resumed"
	// ReasonOverLimit marks a summary incident: the errors of a service
	// that would have opened incidents beyond the per-service, per-source
	// or in-memory bound, folded into one. It is reported, never sent to
	// a model or delivered as a change.
	ReasonOverLimit Reason = "incident-limit"
)

// MaxSummaryTemplates bounds the templates a summary incident lists.
const MaxSummaryTemplates = 20

// OverLimitTemplate is the template id a service's summary incident is
// fingerprinted by.
const OverLimitTemplate TemplateID = "incident-limit"

// Summary reports whether the incident summarises incidents over a bound.
func (in *Incident) Summary() bool {
	for _, r := range in.Reasons {
		if r == ReasonOverLimit {
			return true
		}
	}
	return false
}

// State is where an incident is in its lifecycle: found (new), then
// through the pipeline's stages to one of the terminal states.
type State string

const (
	StateNew           State = "new"
	StateTriaged       State = "triaged"
	StateAnalyzed      State = "analyzed"
	StateProposed      State = "proposed"
	StateDelivered     State = "delivered"
	StateRejected      State = "rejected"
	StateNotActionable State = "not-actionable"
	StateFailed        State = "failed"
	// StateSilenced: a silence matched before the pipeline finished; it
	// resumes where it stopped when no silence matches any more.
	StateSilenced State = "silenced"
	// StateResolved: a person resolved it (`incidents resolve`).
	StateResolved State = "resolved"
)

// States lists every state in lifecycle order.
var States = []State{StateNew, StateTriaged, StateAnalyzed, StateProposed,
	StateDelivered, StateRejected, StateNotActionable, StateFailed, StateSilenced, StateResolved}

// Terminal reports whether the pipeline is done with an incident in this
// state; only a re-opening starts it again.
func (s State) Terminal() bool {
	switch s {
	case StateDelivered, StateRejected, StateNotActionable, StateFailed, StateSilenced, StateResolved:
		return true
	}
	return false
}

// MaxEntities bounds the entities an incident lists.
const MaxEntities = 20

// MaxSamples bounds the redacted sample lines kept per incident;
// MaxLatest the latest ones; MaxTraces the trace ids.
const (
	MaxSamples = 5
	MaxLatest  = 3
	MaxTraces  = 5
)

// Incident is one problem seen in the logs.
type Incident struct {
	Fingerprint Fingerprint `json:"fingerprint"`
	Service     string      `json:"service"`
	Severity    Severity    `json:"severity"`
	State       State       `json:"state"`
	FirstSeen   time.Time   `json:"first_seen"`
	LastSeen    time.Time   `json:"last_seen"`
	Count       int64       `json:"count"`
	Reasons     []Reason    `json:"reasons"`
	// Templates are the error templates of this incident, the leading one
	// first, with the number of events each matched.
	Templates []Template `json:"templates"`
	// Samples are the first MaxSamples distinct lines, redacted, as read
	// (header, tag and fields kept).
	Samples []string `json:"samples"`
	// Latest are the latest MaxLatest lines, redacted, newest last.
	Latest []string `json:"latest_samples,omitempty"`
	// Traces are the trace ids the incident's events carried, the first
	// MaxTraces.
	Traces []string `json:"traces,omitempty"`
	// Spans are the span id first seen with each of Traces, when the
	// events carried one.
	Spans map[string]string `json:"spans,omitempty"`
	Stack string            `json:"stack,omitempty"`
	// SourceLocation is where the code logged the first event, when the
	// log says (a LogEntry's sourceLocation).
	SourceLocation *SourceLocation `json:"source_location,omitempty"`
	// Labels are the resource labels of the first event that had them.
	Labels map[string]string `json:"labels,omitempty"`
	// ReopenedAt is the time of the first event after a quiet gap (the
	// re-open period) in this run, zero when there was none.
	ReopenedAt time.Time `json:"reopened_at,omitzero"`
	// Entities are the named things its errors were about (nodes, hosts,
	// pods, block ids: the variables of its templates), at most
	// MaxEntities, first seen first.
	Entities []string `json:"entities,omitempty"`
	// Services lists every service in the incident when it spans several
	// (a shared dependency failing); Service is the first to fail.
	Services []string `json:"services,omitempty"`
	// Episodes are the incident's spans in event time within one run:
	// opened when a rule fired, resolved after a quiet period.
	Episodes []Episode `json:"episodes,omitempty"`
	// Why says what opened the incident.
	Why *Explanation `json:"why,omitempty"`
	// Timeline is the incident's events per minute of event time, the
	// latest MaxTimeline minutes, for the event-rate chart; stores keep
	// it, the JSON forms leave it out.
	Timeline Timeline `json:"-"`
	// Lines are the input line numbers of the incident's events in this run;
	// kept in memory for reports and tests, not persisted.
	Lines []int `json:"-"`
}

// Observe folds one event's time and severity into the incident.
func (in *Incident) Observe(sev Severity, t time.Time) {
	in.Count++
	in.widen(sev, t, t)
	if !t.IsZero() {
		if in.Timeline == nil {
			in.Timeline = Timeline{}
		}
		in.Timeline.Add(t.Unix()/60, 1)
	}
}

// MaxTimeline is how many minutes a timeline keeps at least (a day).
const MaxTimeline = 24 * 60

// Timeline counts events per minute (Unix time / 60).
type Timeline map[int64]int64

// Add counts n events in minute m. Past twice MaxTimeline minutes it
// forgets those more than MaxTimeline before the latest, so a timeline
// holds one to two days and adding stays cheap on the ingest path.
func (tl Timeline) Add(m, n int64) {
	tl[m] += n
	if len(tl) <= 2*MaxTimeline {
		return
	}
	latest := m
	for k := range tl {
		latest = max(latest, k)
	}
	for k := range tl {
		if k <= latest-MaxTimeline {
			delete(tl, k)
		}
	}
}

// Merge adds another timeline's counts.
func (tl *Timeline) Merge(o Timeline) {
	if len(o) == 0 {
		return
	}
	if *tl == nil {
		*tl = Timeline{}
	}
	for m, n := range o {
		tl.Add(m, n)
	}
}

func (in *Incident) widen(sev Severity, first, last time.Time) {
	if sev > in.Severity {
		in.Severity = sev
	}
	if in.FirstSeen.IsZero() || (!first.IsZero() && first.Before(in.FirstSeen)) {
		in.FirstSeen = first
	}
	if last.After(in.LastSeen) {
		in.LastSeen = last
	}
}

// Merge folds another record of the same incident into this one: counts and
// template counts add up, the time range and severity widen, reasons and
// samples are united (this incident's first), and a stack is kept if either
// has one.
func (in *Incident) Merge(o *Incident) {
	in.Count += o.Count
	in.Timeline.Merge(o.Timeline)
	in.widen(o.Severity, o.FirstSeen, o.LastSeen)
	for _, t := range o.Templates {
		found := false
		for i := range in.Templates {
			if in.Templates[i].ID == t.ID {
				in.Templates[i].Count += t.Count
				found = true
				break
			}
		}
		if !found {
			in.Templates = append(in.Templates, t)
		}
	}
	for _, r := range o.Reasons {
		in.AddReason(r)
	}
	for _, s := range o.Samples {
		in.AddSample(s)
	}
	if len(o.Latest) > 0 { // the later share's latest lines
		in.Latest = append([]string(nil), o.Latest...)
	}
	for _, t := range o.Traces {
		in.AddTrace(t, o.Spans[t])
	}
	for _, s := range o.Services {
		if !slices.Contains(in.Services, s) {
			in.Services = append(in.Services, s)
		}
	}
	for _, e := range o.Entities {
		if len(in.Entities) < MaxEntities && !slices.Contains(in.Entities, e) {
			in.Entities = append(in.Entities, e)
		}
	}
	if in.Stack == "" {
		in.Stack = o.Stack
	}
	if in.SourceLocation == nil {
		in.SourceLocation = o.SourceLocation
	}
	if in.Labels == nil {
		in.Labels = o.Labels
	}
	if o.ReopenedAt.After(in.ReopenedAt) {
		in.ReopenedAt = o.ReopenedAt
	}
	in.Lines = append(in.Lines, o.Lines...)
}

// Episode is one span of an incident in event time. End is zero while it
// is open.
type Episode struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
	Count int64     `json:"count"`
}

// Explanation says why an incident opened: the rule, and what the
// detector saw for the service and the leading template at that moment.
type Explanation struct {
	Rule     Reason    `json:"rule"`
	At       time.Time `json:"at,omitzero"`
	Service  string    `json:"service"`
	Template string    `json:"template"`
	// The error-rate rule's view: errors and events of the service in the
	// short and long windows, its baseline error ratio (-1 while it has
	// none) and the ratio the rule fires at.
	ShortWindow   time.Duration `json:"short_window"`
	LongWindow    time.Duration `json:"long_window"`
	ShortErrors   int64         `json:"short_errors"`
	ShortEvents   int64         `json:"short_events"`
	LongErrors    int64         `json:"long_errors"`
	LongEvents    int64         `json:"long_events"`
	BaselineRatio float64       `json:"baseline_ratio"`
	Threshold     float64       `json:"threshold"`
	WarmedUp      bool          `json:"warmed_up"`
	// The template's count in the short window and its usual count.
	TemplateCount    int64     `json:"template_count"`
	TemplateBaseline float64   `json:"template_baseline"`
	TemplateFirst    time.Time `json:"template_first_seen,omitzero"`
}

// HeldLine is a CRITICAL line recorded without an incident: isolated, with
// no crash signature, no recurrence and no rate change.
type HeldLine struct {
	Line       int        `json:"line,omitempty"`
	Time       time.Time  `json:"time,omitzero"`
	Service    string     `json:"service"`
	TemplateID TemplateID `json:"template_id"`
	Sample     string     `json:"sample"`
}

// Baseline is what detection remembers of a service's error template
// between runs: when it was first seen and its usual count per window. It
// follows the template's id, which stays as the template's text widens.
type Baseline struct {
	Service   string
	Template  TemplateID
	FirstSeen time.Time
	PerWindow float64
}

// AddReason records a detector's reason once.
func (in *Incident) AddReason(r Reason) {
	for _, have := range in.Reasons {
		if have == r {
			return
		}
	}
	in.Reasons = append(in.Reasons, r)
}

// AddTrace keeps a new distinct trace id while there is room.
func (in *Incident) AddTrace(t, span string) {
	if t == "" || len(in.Traces) >= MaxTraces {
		return
	}
	if !slices.Contains(in.Traces, t) {
		in.Traces = append(in.Traces, t)
	}
	if span != "" && in.Spans[t] == "" {
		if in.Spans == nil {
			in.Spans = map[string]string{}
		}
		in.Spans[t] = span
	}
}

// AddSample keeps a new distinct sample while there is room.
func (in *Incident) AddSample(s string) {
	if len(in.Samples) >= MaxSamples {
		return
	}
	for _, have := range in.Samples {
		if have == s {
			return
		}
	}
	in.Samples = append(in.Samples, s)
}
