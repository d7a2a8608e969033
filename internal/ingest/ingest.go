package ingest

import (
	"sort"
	"strings"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/detect"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/parse"
	"github.com/cloud-sre-agent/sre-agent/internal/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/template"
)

// Stats counts what went through the spine.
type Stats struct {
	Lines       int            `json:"lines"`
	Events      int            `json:"events"`
	ParseErrors int            `json:"parse_errors"`
	Truncated   int            `json:"truncated_lines"`
	BySeverity  map[string]int `json:"by_severity"`
	Templates   int            `json:"templates"`
}

// KnownTemplate is a template remembered from an earlier run.
type KnownTemplate struct {
	Text      string
	FirstSeen time.Time
}

// KnownBaseline is a per-service template baseline from an earlier run.
type KnownBaseline struct {
	Service   string
	Template  string // template text
	FirstSeen time.Time
	Baseline  float64
}

// Spine runs events through redaction, templating and detection and
// collects incidents. It is not safe for concurrent use: one per stream.
type Spine struct {
	parser   parse.Parser
	redactor *redact.Redactor
	miner    *template.Miner
	detector *detect.Detector
	// DefaultService names events whose input does not say (a file's name).
	DefaultService string

	incidents map[detect.TemplateKey]*building
	known     map[baselineKey]KnownBaseline
	stats     Stats
	lastTime  time.Time
}

type building struct {
	inc     domain.Incident
	cluster *template.Cluster
	service string
}

// New builds a spine from its parts.
func New(r *redact.Redactor, m *template.Miner, d *detect.Detector) *Spine {
	return &Spine{redactor: r, miner: m, detector: d,
		incidents: make(map[detect.TemplateKey]*building),
		stats:     Stats{BySeverity: map[string]int{}}}
}

// Seed teaches the detector what earlier runs saw: when a service's
// template first appears with a text that has a stored baseline, the
// baseline and first-seen time carry over. The miner itself is not seeded:
// template ids are hashes of their text, so the same input gives the same
// ids without it, and seeding would change how a re-run groups lines.
func (s *Spine) Seed(baselines []KnownBaseline) {
	s.known = make(map[baselineKey]KnownBaseline, len(baselines))
	for _, b := range baselines {
		s.known[baselineKey{b.Service, b.Template}] = b
	}
}

type baselineKey struct{ service, template string }

// Record runs one assembled record through the spine.
func (s *Spine) Record(rec parse.Record) {
	s.parser.Parse(rec, s.Event)
}

// Event runs one parsed event through redaction, templating and detection.
func (s *Spine) Event(ev domain.Event) {
	s.stats.Events++
	if ev.ParseError {
		s.stats.ParseErrors++
	}
	s.stats.BySeverity[ev.Severity.String()]++
	if ev.Service == "" {
		ev.Service = s.DefaultService
	}
	if ev.Time.IsZero() {
		ev.Time = s.lastTime
	} else {
		s.lastTime = ev.Time
	}
	ev.Message = s.redactor.Redact(ev.Message)
	cluster := s.miner.Add(ev.Message)
	isErr := detect.IsError(&ev)
	key := detect.TemplateKey{Service: ev.Service, Template: cluster.Seq()}
	if isErr && len(s.known) > 0 {
		if _, _, seen := s.detector.Baseline(key); !seen {
			if b, ok := s.known[baselineKey{ev.Service, cluster.Template()}]; ok {
				s.detector.Known(key, b.FirstSeen, b.Baseline)
			}
		}
	}
	reasons := s.detector.Observe(key, ev.Time, &ev, isErr)
	if !isErr {
		return
	}
	b := s.incidents[key]
	if b == nil {
		if reasons == 0 {
			return
		}
		b = &building{cluster: cluster, service: ev.Service, inc: domain.Incident{
			Service: ev.Service, State: domain.StateOpen, FirstSeen: ev.Time, LastSeen: ev.Time,
		}}
		s.incidents[key] = b
	}
	in := &b.inc
	in.Count++
	if ev.Severity > in.Severity {
		in.Severity = ev.Severity
	}
	if ev.Time.Before(in.FirstSeen) {
		in.FirstSeen = ev.Time
	}
	if ev.Time.After(in.LastSeen) {
		in.LastSeen = ev.Time
	}
	for _, r := range reasons.List() {
		in.AddReason(r)
	}
	if len(in.Samples) < domain.MaxSamples {
		in.AddSample(s.sample(&ev))
	}
	if in.Stack == "" && ev.Stack != "" {
		in.Stack = s.redactor.Redact(ev.Stack)
	}
	in.Lines = append(in.Lines, ev.Line)
}

// sample is the redacted event as a person would want to read it: the
// message with its time and severity, and detail lines if any.
func (s *Spine) sample(ev *domain.Event) string {
	var b strings.Builder
	if !ev.Time.IsZero() {
		b.WriteString(ev.Time.UTC().Format(time.RFC3339Nano))
		b.WriteByte(' ')
	}
	b.WriteString(ev.Severity.String())
	b.WriteByte(' ')
	b.WriteString(ev.Message) // already redacted
	return b.String()
}

// Stats reports counts so far; lines comes from the reader.
func (s *Spine) Stats() Stats {
	st := s.stats
	st.Templates = s.miner.Len()
	return st
}

// Incidents returns the incidents found so far, most severe first, with
// fingerprints from the final template texts.
func (s *Spine) Incidents() []domain.Incident {
	// Several clusters can end with the same text for one service (a line
	// seeded from the store and its generalisation); they are one incident.
	merged := map[domain.Fingerprint]*domain.Incident{}
	var order []domain.Fingerprint
	for _, b := range s.incidents {
		id := b.cluster.ID()
		fp := domain.NewFingerprint(b.service, id)
		tmpl := domain.Template{ID: id, Text: b.cluster.Template(), Count: b.inc.Count}
		if have, ok := merged[fp]; ok {
			mergeInto(have, &b.inc, tmpl)
			continue
		}
		in := b.inc
		in.Fingerprint = fp
		in.Templates = []domain.Template{tmpl}
		in.Samples = append([]string(nil), in.Samples...)
		in.Lines = append([]int(nil), in.Lines...)
		merged[fp] = &in
		order = append(order, fp)
	}
	out := make([]domain.Incident, 0, len(merged))
	for _, fp := range order {
		in := merged[fp]
		sort.Ints(in.Lines)
		out = append(out, *in)
	}
	SortIncidents(out)
	return out
}

func mergeInto(dst, src *domain.Incident, tmpl domain.Template) {
	dst.Count += src.Count
	dst.Templates[0].Count += tmpl.Count
	if src.Severity > dst.Severity {
		dst.Severity = src.Severity
	}
	if src.FirstSeen.Before(dst.FirstSeen) {
		dst.FirstSeen = src.FirstSeen
	}
	if src.LastSeen.After(dst.LastSeen) {
		dst.LastSeen = src.LastSeen
	}
	for _, r := range src.Reasons {
		dst.AddReason(r)
	}
	for _, smp := range src.Samples {
		dst.AddSample(smp)
	}
	if dst.Stack == "" {
		dst.Stack = src.Stack
	}
	dst.Lines = append(dst.Lines, src.Lines...)
}

// SortIncidents orders most severe first, then most events, then earliest,
// then fingerprint, so output is stable.
func SortIncidents(in []domain.Incident) {
	sort.SliceStable(in, func(i, j int) bool {
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

// Templates returns the mined templates with counts, most frequent first.
func (s *Spine) Templates() []domain.Template {
	cs := s.miner.Clusters()
	out := make([]domain.Template, len(cs))
	for i, c := range cs {
		out[i] = domain.Template{ID: c.ID(), Text: c.Template(), Count: c.Count()}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Text < out[j].Text
	})
	return out
}

// Baselines returns per-service baselines of the incident templates, for the
// store.
func (s *Spine) Baselines() []KnownBaseline {
	var out []KnownBaseline
	for k, b := range s.incidents {
		base, first, ok := s.detector.Baseline(k)
		if !ok {
			continue
		}
		out = append(out, KnownBaseline{Service: k.Service, Template: b.cluster.Template(), FirstSeen: first, Baseline: base})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Template < out[j].Template
	})
	return out
}
