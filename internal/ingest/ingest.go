package ingest

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/detect"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/parse"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/template"
)

// Stats counts what went through the spine.
type Stats struct {
	Lines       int            `json:"lines"`
	Events      int            `json:"events"`
	ParseErrors int            `json:"parse_errors"`
	Truncated   int            `json:"truncated_lines"`
	BySeverity  map[string]int `json:"by_severity"`
	Templates   int            `json:"templates"`
	// OverLimit counts incidents folded into summaries by a bound.
	OverLimit int `json:"incidents_over_limit,omitempty"`
	// CriticalHeld counts CRITICAL lines recorded without opening an
	// incident: isolated, with no crash signature and no rate change.
	CriticalHeld int `json:"critical_held,omitempty"`
}

// Spine runs events through redaction, templating and detection and
// collects incidents. It is not safe for concurrent use: one per stream.
//
// An incident is one problem in event time: it opens when a detection
// rule fires, takes in the templates of its service that turn anomalous
// within the group wait and the services that fail with the same kind of
// error, and its episode resolves after a quiet period; a later change of
// the same templates is a new episode of the same incident.
type Spine struct {
	parser   parse.Parser
	redactor *redact.Redactor
	miner    *template.Miner
	detector *detect.Detector
	// DefaultService names events whose input does not say (a file's name).
	DefaultService string
	// KeepLines records each incident's input line numbers (Incident.Lines);
	// off by default because it grows with the input.
	KeepLines bool
	// sourceFirst: DefaultService wins over what the record names.
	sourceFirst bool
	// ReopenAfter is, under shared detection (which decides per template
	// on merged counts, without episodes), the quiet gap after which an
	// incident's next event re-opens it; zero never re-opens.
	ReopenAfter time.Duration

	// incidents maps each member template to its incident; several keys
	// may share one.
	incidents map[detect.TemplateKey]*building
	// order holds each incident once, in creation order.
	order []*building
	// active is each service's latest incident; recent are incidents
	// whose episode opened within the group wait, for other services to
	// join.
	active  map[string]*building
	recent  []*building
	pending map[detect.TemplateKey]*held
	// gone are rows of held templates no longer held, to delete.
	gone        []domain.HeldKey
	lastCluster *template.Cluster // the template of the last event processed
	saveHeld    bool
	replaying   bool // Adopt is replaying held events
	// clusters names each error key's template, for the detector's
	// saved state; restore is what an earlier run saved (detector.go).
	clusters  map[detect.TemplateKey]*template.Cluster
	restore   *restoreState
	prunedAt  time.Time
	heldLines []heldLine
	bounds    bounds
	shared    *shared
	known     map[baselineKey]domain.Baseline
	// resumable holds, by redacted service and template id, the store's
	// incident that last saw each template, and when (resume.go).
	resumable map[baselineKey]resumeTo
	// shells are the store's incidents, to carry on, by fingerprint.
	shells map[domain.Fingerprint]*building
	// services caches each service name as redacted: a handful of
	// names, asked per error event.
	services    map[string]string
	events      int
	parseErrors int
	held        int
	bySeverity  [domain.Emergency/100 + 1]int
	lastTime    time.Time
	newest      time.Time // the latest event time seen
}

type building struct {
	inc domain.Incident
	// fp is the fingerprint of the store's incident this one carries on
	// (resume.go); shell is set until it takes an event.
	fp      domain.Fingerprint
	shell   bool
	reasons detect.Reasons
	// cluster is the leading template: the one that opened the incident.
	cluster  *template.Cluster
	members  []member
	services []string
	cause    string
	// The episode in progress: open, since opened, last fired at lastHot.
	open     bool
	opened   time.Time
	lastHot  time.Time
	episodes []domain.Episode
	// latest are the incident's latest lines, a ring of domain.MaxLatest
	// (unredacted raw lines: redacted when the incident is read); seen
	// counts the lines put in.
	latest [domain.MaxLatest]line
	seen   int
	// shown is latest as last redacted, at seen == shownAt: a save with
	// no new line does not redact again.
	shown   []string
	shownAt int
}

// line is one of an incident's lines as read, for its samples.
type line struct {
	raw     string // unredacted
	t       time.Time
	sev     domain.Severity
	message string // redacted
}

// member is a template of an incident and its events there.
type member struct {
	cluster *template.Cluster
	count   int64
}

type baselineKey struct {
	service  string
	template domain.TemplateID
}

// New builds a spine from its parts.
func New(r *redact.Redactor, m *template.Miner, d *detect.Detector) *Spine {
	return &Spine{redactor: r, miner: m, detector: d, incidents: make(map[detect.TemplateKey]*building),
		active: make(map[string]*building), bounds: newBounds()}
}

// SetParse sets where events' services are read from (parse.Config).
func (s *Spine) SetParse(c parse.Config) {
	s.parser.Config = c
	s.sourceFirst = c.SourceFirst()
}

// Learnt is what earlier runs persisted for the spine.
type Learnt struct {
	Templates []domain.Template
	Baselines []domain.Baseline
	// Incidents are the store's: an episode one of them was in when an
	// earlier run stopped continues in this one.
	Incidents []domain.Incident
}

// LearntStore is the store that keeps it.
type LearntStore interface {
	Templates(ctx context.Context) ([]domain.Template, error)
	Baselines(ctx context.Context) ([]domain.Baseline, error)
	Incidents(ctx context.Context) ([]domain.Incident, error)
}

// Load reads what earlier runs learnt.
func Load(ctx context.Context, st LearntStore) (Learnt, error) {
	var l Learnt
	var err error
	if l.Templates, err = st.Templates(ctx); err != nil {
		return l, err
	}
	if l.Incidents, err = st.Incidents(ctx); err != nil {
		return l, err
	}
	l.Baselines, err = st.Baselines(ctx)
	return l, err
}

// Seed carries over what earlier runs learnt: their templates go back into
// the miner with their ids, so lines that match them get the same ids (and
// incidents the same fingerprints); when a service's template first
// appears with a stored baseline, its baseline and first-seen time carry
// over to the detector; and the store's incidents carry on (resume.go).
func (s *Spine) Seed(l Learnt) {
	restored := make(map[domain.TemplateID]*template.Cluster, len(l.Templates))
	for _, t := range l.Templates {
		restored[t.ID] = s.miner.Restore(t.ID, t.Text)
	}
	s.known = make(map[baselineKey]domain.Baseline, len(l.Baselines))
	for _, b := range l.Baselines {
		s.known[baselineKey{b.Service, b.Template}] = b
	}
	s.carryOn(l.Incidents, restored)
}

// service is svc redacted, as incidents and baselines name it.
func (s *Spine) service(svc string) string {
	if r, ok := s.services[svc]; ok {
		return r
	}
	r := s.redactor.Redact(svc)
	if s.services == nil || len(s.services) >= 1024 {
		s.services = map[string]string{} // a stream of distinct names: start over
	}
	s.services[svc] = r
	return r
}

// Record runs one assembled record through the spine.
func (s *Spine) Record(rec parse.Record) {
	s.parser.Parse(rec, s.Event)
}

// Event runs one parsed event through redaction, templating and detection.
func (s *Spine) Event(ev domain.Event) {
	s.events++
	if ev.ParseError {
		s.parseErrors++
	}
	if i := int(ev.Severity) / 100; i >= 0 && i < len(s.bySeverity) {
		s.bySeverity[i]++
	}
	s.process(ev)
}

// process is Event past its counting; it returns the event's template key.
func (s *Spine) process(ev domain.Event) detect.TemplateKey {
	if ev.Service == "" || s.sourceFirst && s.DefaultService != "" {
		ev.Service = s.DefaultService
	}
	if ev.Time.IsZero() {
		ev.Time = s.lastTime
	} else {
		s.lastTime = ev.Time
		if ev.Time.After(s.newest) {
			s.newest = ev.Time
		}
	}
	ev.Message = s.redactor.Redact(ev.Message)
	cluster := s.miner.Add(ev.Message)
	s.lastCluster = cluster
	isErr := detect.IsError(&ev)
	key := detect.TemplateKey{Service: ev.Service, Template: cluster.Seq()}
	if s.clusters != nil && isErr {
		if _, ok := s.clusters[key]; !ok {
			s.clusters[key] = cluster
		}
	}
	if s.restore != nil {
		s.restoreDetector(&ev, key, cluster, isErr)
	}
	if isErr && len(s.known) > 0 {
		if _, _, seen := s.detector.Baseline(key); !seen {
			// Stored baselines name the redacted service, as incidents do.
			if b, ok := s.known[baselineKey{s.service(ev.Service), cluster.ID()}]; ok {
				s.detector.Known(key, b.FirstSeen, b.PerWindow)
			}
		}
	}
	// A held event another run adopted was observed by that run: its
	// detector state says so already (detector.go).
	var reasons detect.Reasons
	if !s.replaying {
		reasons = s.detector.Observe(key, ev.Time, &ev, isErr)
	}
	if s.shared != nil {
		// Only a fatal event decides alone; the rest is decided on every
		// replica's counts at the flush (Decide). Held events another run
		// adopted were counted by the run that read them: decided on, not
		// counted again.
		if s.replaying {
			s.shared.decideOn(s.detector.Bucket(ev.Time), isErr, key, ev.Time)
		} else {
			s.shared.count(ev.Service, s.detector.Bucket(ev.Time), isErr, key, ev.Time)
		}
	}
	if !isErr {
		return key
	}
	if s.shared != nil {
		s.sharedEvent(key, &ev, cluster, reasons)
		return key
	}
	b := s.incidents[key]
	if b == nil && s.bounds.summarised[key] {
		s.fold(&ev, cluster)
		return key
	}
	if b != nil {
		s.settle(b, ev.Time)
		switch {
		case reasons != 0 || b.open && ev.Severity >= domain.Critical:
			// (A CRITICAL line keeps an open episode going.)
			if !b.open {
				s.reopen(b, ev.Time)
			}
			b.lastHot = ev.Time
		}
		// Between episodes the incident still counts its templates'
		// events (its timeline shows them); only a rule firing opens the
		// next episode.
		s.observe(b, &ev, reasons, cluster)
		return key
	}
	if to, ok := s.resumes(&ev, cluster); ok {
		if to.summary {
			s.bounds.summarised[key] = true
			s.fold(&ev, cluster)
			return key
		}
		reasons |= detect.Resumed
		b = s.shells[to.fp]
	}
	if reasons == 0 {
		s.hold(key, &ev, cluster, s.holdCritical(&ev, cluster))
		return key
	}
	cause := causeOf(cluster.Template())
	if b == nil {
		b = s.group(key, &ev, cluster, cause, reasons)
	}
	if b != nil {
		s.take(b, &ev)
	} else {
		if !s.admit(key, &ev) {
			s.fold(&ev, cluster)
			return key
		}
		b = s.newBuilding(&ev, cluster)
		b.open, b.opened = true, ev.Time
		b.episodes = []domain.Episode{{Start: ev.Time}}
		b.cause = cause
		b.inc.Why = s.explain(key, &ev, cluster, reasons)
		s.order = append(s.order, b)
		s.addRecent(b, ev.Time)
	}
	b.lastHot = ev.Time
	s.incidents[key] = b
	s.active[ev.Service] = b
	if h := s.pending[key]; h != nil {
		// The template's errors that led up to the change belong to it.
		s.unpend(key, h)
		for i := range h.events {
			s.observe(b, &h.events[i], 0, cluster)
			s.unhold(h.crit[i])
		}
		b.inc.Count += h.dropped
	}
	s.observe(b, &ev, reasons, cluster)
	return key
}

// observe folds one error event into an incident being built.
func (s *Spine) observe(b *building, ev *domain.Event, reasons detect.Reasons, cluster *template.Cluster) {
	b.inc.Observe(ev.Severity, ev.Time)
	b.reasons |= reasons
	if n := len(b.episodes); n > 0 && b.open {
		b.episodes[n-1].Count++
	}
	if cluster != nil {
		found := false
		for i := range b.members {
			if b.members[i].cluster == cluster {
				b.members[i].count++
				found = true
				break
			}
		}
		if !found {
			b.members = append(b.members, member{cluster: cluster, count: 1})
		}
	}
	l := line{raw: ev.Raw, t: ev.Time, sev: ev.Severity, message: ev.Message}
	if len(b.inc.Samples) < domain.MaxSamples {
		b.inc.AddSample(s.sample(l))
	}
	b.latest[b.seen%domain.MaxLatest] = l
	b.seen++
	if ev.Trace != "" && len(b.inc.Traces) < domain.MaxTraces {
		tr, span := s.redactor.Redact(ev.Trace), ""
		if ev.Span != "" && b.inc.Spans[tr] == "" { // redacted once, when kept
			span = s.redactor.Redact(ev.Span)
		}
		b.inc.AddTrace(tr, span)
	}
	if cluster != nil && len(b.inc.Entities) < domain.MaxEntities && b.inc.Count <= maxEntityScan {
		b.inc.Entities = addEntities(b.inc.Entities, ev.Message, cluster.Template())
	}
	if b.inc.Labels == nil && len(ev.Labels) > 0 {
		b.inc.Labels = make(map[string]string, len(ev.Labels))
		for k, v := range ev.Labels { // label values come from the log: redacted like the rest
			b.inc.Labels[k] = s.redactor.Redact(v)
		}
	}
	if b.inc.SourceLocation == nil && ev.SourceLocation != nil {
		sl := *ev.SourceLocation
		sl.File, sl.Function = s.redactor.Redact(sl.File), s.redactor.Redact(sl.Function)
		b.inc.SourceLocation = &sl
	}
	if b.inc.Stack == "" && ev.Stack != "" {
		b.inc.Stack = s.redactor.Redact(ev.Stack)
	}
	if s.KeepLines {
		b.inc.Lines = append(b.inc.Lines, ev.Line)
	}
}

func (s *Spine) newBuilding(ev *domain.Event, cluster *template.Cluster) *building {
	// The service name comes from the log too: redact it before it can
	// reach the store.
	return &building{cluster: cluster, inc: domain.Incident{Service: s.service(ev.Service), State: domain.StateNew}}
}

// sample is the redacted event as a person would want to read it: its time,
// severity and (already redacted) message.
// sample is a line as the incident shows it: the line as read (its
// header, tag and fields), redacted and bounded; an event that came
// without a line (a LogEntry from Pub/Sub) shows its time, severity and
// message.
func (s *Spine) sample(l line) string {
	if l.raw != "" {
		raw := l.raw
		if len(raw) > maxSample {
			raw = strings.ToValidUTF8(raw[:maxSample], "") + "…"
		}
		return s.redactor.Redact(raw)
	}
	var b strings.Builder
	if !l.t.IsZero() {
		b.WriteString(l.t.UTC().Format(time.RFC3339Nano))
		b.WriteByte(' ')
	}
	b.WriteString(l.sev.String())
	b.WriteByte(' ')
	b.WriteString(l.message)
	return b.String()
}

// maxSample bounds a sample line, in bytes.
const maxSample = 2000

// latestOf is the incident's latest lines, oldest first, redacted;
// those already among its first samples are left out.
func (s *Spine) latestOf(b *building) []string {
	if b.shownAt == b.seen && b.shown != nil {
		return append([]string(nil), b.shown...)
	}
	defer func() { b.shownAt = b.seen }()
	n := min(b.seen, domain.MaxLatest)
	var out []string
	for i := b.seen - n; i < b.seen; i++ {
		smp := s.sample(b.latest[i%domain.MaxLatest])
		if !slices.Contains(b.inc.Samples, smp) {
			out = append(out, smp)
		}
	}
	b.shown = append([]string{}, out...)
	return out
}

// Stats reports counts so far; lines and truncation come from the reader.
func (s *Spine) Stats() Stats {
	st := Stats{Events: s.events, ParseErrors: s.parseErrors, Templates: s.miner.Len(), BySeverity: map[string]int{}, OverLimit: s.bounds.over}
	st.CriticalHeld = s.held
	for i, n := range s.bySeverity {
		if n > 0 {
			st.BySeverity[domain.Severity(i*100).String()] = n
		}
	}
	return st
}

// Incidents returns the incidents found so far, most severe first.
func (s *Spine) Incidents() []domain.Incident {
	// Templates merged in the miner may leave two incidents led by one
	// template; they share a fingerprint and are one incident. Incidents
	// are taken in creation order so that the merge, and so the samples
	// kept, are the same in every run.
	merged := map[domain.Fingerprint]*domain.Incident{}
	var fps []domain.Fingerprint
	for _, b := range s.order {
		in := b.inc
		in.Reasons = b.reasons.List()
		in.Templates = b.templates()
		in.Samples = append([]string(nil), in.Samples...)
		in.Latest = s.latestOf(b)
		in.Traces = append([]string(nil), in.Traces...)
		in.Spans = maps.Clone(in.Spans)
		in.Lines = append([]int(nil), in.Lines...)
		in.Timeline = maps.Clone(in.Timeline)
		if len(b.services) > 0 {
			in.Services = append([]string{in.Service}, b.services...)
			slices.Sort(in.Services[1:])
		}
		in.Episodes = append([]domain.Episode(nil), b.episodes...)
		if n := len(in.Episodes); n > 0 && b.open && s.lastTime.Sub(b.lastHot) >= s.detector.Config().Quiet {
			in.Episodes[n-1].End = b.lastHot
		}
		// Template ids do not change as templates widen, so neither do
		// fingerprints; templates merged in the miner share one. An
		// incident carried on from the store keeps its own.
		in.Fingerprint = b.fp
		if in.Fingerprint == "" {
			in.Fingerprint = domain.NewFingerprint(in.Service, b.cluster.ID())
		}
		if have, ok := merged[in.Fingerprint]; ok {
			have.Merge(&in)
			have.Episodes = append(have.Episodes, in.Episodes...)
			continue
		}
		merged[in.Fingerprint] = &in
		fps = append(fps, in.Fingerprint)
	}
	out := make([]domain.Incident, 0, len(merged)+len(s.bounds.summaries))
	for _, fp := range fps {
		in := merged[fp]
		sort.Ints(in.Lines)
		out = append(out, *in)
	}
	for _, sm := range s.bounds.summaries {
		in := sm.incident()
		sort.Ints(in.Lines)
		out = append(out, in)
	}
	SortIncidents(out)
	return out
}

// templates lists an incident's templates, the leader first, then by
// events; templates merged in the miner are counted once.
func (b *building) templates() []domain.Template {
	if len(b.members) == 0 {
		return []domain.Template{{ID: b.cluster.ID(), Text: b.cluster.Template(), Count: b.inc.Count}}
	}
	var out []domain.Template
	for _, m := range b.members {
		id := m.cluster.ID()
		if i := slices.IndexFunc(out, func(t domain.Template) bool { return t.ID == id }); i >= 0 {
			out[i].Count += m.count
			continue
		}
		out = append(out, domain.Template{ID: id, Text: m.cluster.Template(), Count: m.count})
	}
	lead := b.cluster.ID()
	sort.SliceStable(out, func(i, j int) bool {
		if (out[i].ID == lead) != (out[j].ID == lead) {
			return out[i].ID == lead
		}
		return out[i].Count > out[j].Count
	})
	return out
}

// SortIncidents orders most severe first, then most events, then earliest,
// then fingerprint, so output is stable.
func SortIncidents(in []domain.Incident) {
	sort.Slice(in, func(i, j int) bool {
		a, b := in[i], in[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if !a.FirstSeen.Equal(b.FirstSeen) {
			return a.FirstSeen.Before(b.FirstSeen)
		}
		return a.Fingerprint < b.Fingerprint
	})
}

// Baselines returns per-service baselines of the incident templates, for the
// store.
func (s *Spine) Baselines() []domain.Baseline {
	var out []domain.Baseline
	for k, b := range s.incidents {
		perWindow, first, ok := s.detector.Baseline(k)
		if !ok {
			continue
		}
		c := b.cluster
		for _, m := range b.members {
			if m.cluster.Seq() == k.Template {
				c = m.cluster
			}
		}
		out = append(out, domain.Baseline{Service: s.redactor.Redact(k.Service), Template: c.ID(), FirstSeen: first, PerWindow: perWindow})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Template < out[j].Template
	})
	return out
}
