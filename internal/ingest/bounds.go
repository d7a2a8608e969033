package ingest

import (
	"maps"
	"sort"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/detect"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/template"
)

// Incident bounds: anyone who can write log text can make incidents, so
// a spine opens at most so many per service and per source in each
// detection window, and holds at most so many. Errors of a template over
// a bound go, from then on, to one summary incident per service (reason
// incident-limit): counted and reported, never dropped, never sent to a
// model or delivered as a change.

type bounds struct {
	window     int64 // the current window (event time / detect window)
	perService map[string]int
	perSource  int
	// summarised are the keys whose errors go to their service's summary.
	summarised map[detect.TemplateKey]bool
	summaries  map[string]*summary // by service
	over       int                 // incidents summarised so far
	// stored counts the incidents the store says each window opened, by
	// (redacted) service.
	stored map[int64]map[string]int
}

type summary struct {
	b         building
	templates map[domain.TemplateID]*summaryTemplate
	others    int64
}

type summaryTemplate struct {
	cluster *template.Cluster
	count   int64
}

func newBounds() bounds {
	return bounds{window: -1 << 62, perService: map[string]int{}, summarised: map[detect.TemplateKey]bool{}, summaries: map[string]*summary{}}
}

// admit reports whether key may open a new incident now, and counts it.
func (s *Spine) admit(key detect.TemplateKey, ev *domain.Event) bool {
	cfg := s.detector.Config()
	bd := &s.bounds
	if w := ev.Time.UnixNano() / int64(cfg.Window); w > bd.window {
		bd.start(w)
	}
	switch {
	case cfg.MaxIncidents > 0 && len(s.order) >= cfg.MaxIncidents,
		cfg.MaxNewPerService > 0 && bd.perService[key.Service] >= cfg.MaxNewPerService,
		cfg.MaxNewPerSource > 0 && bd.perSource >= cfg.MaxNewPerSource:
		bd.summarised[key] = true
		bd.over++
		return false
	}
	bd.perService[key.Service]++
	bd.perSource++
	return true
}

// fold adds one error event to its service's summary incident.
func (s *Spine) fold(ev *domain.Event, cluster *template.Cluster) {
	sm := s.summary(ev)
	s.observe(&sm.b, ev, 0, nil)
	sm.add(cluster, 1)
}

func (s *Spine) summary(ev *domain.Event) *summary {
	sm := s.bounds.summaries[ev.Service]
	if sm == nil {
		sm = &summary{b: *s.newBuilding(ev, nil), templates: map[domain.TemplateID]*summaryTemplate{}}
		s.bounds.summaries[ev.Service] = sm
	}
	return sm
}

func (sm *summary) add(c *template.Cluster, n int64) {
	if t := sm.templates[c.ID()]; t != nil {
		t.count += n
		return
	}
	if len(sm.templates) >= domain.MaxSummaryTemplates {
		sm.others += n
		return
	}
	sm.templates[c.ID()] = &summaryTemplate{cluster: c, count: n}
}

// incident is the summary as an incident: the templates it folded, most
// events first.
func (sm *summary) incident() domain.Incident {
	in := sm.b.inc
	in.Reasons = []domain.Reason{domain.ReasonOverLimit}
	in.Fingerprint = domain.NewFingerprint(in.Service, domain.OverLimitTemplate)
	in.Templates = make([]domain.Template, 0, len(sm.templates)+1)
	for _, t := range sm.templates {
		in.Templates = append(in.Templates, domain.Template{ID: t.cluster.ID(), Text: t.cluster.Template(), Count: t.count})
	}
	sort.Slice(in.Templates, func(i, j int) bool {
		a, b := in.Templates[i], in.Templates[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.ID < b.ID
	})
	if sm.others > 0 {
		in.Templates = append(in.Templates, domain.Template{ID: "incident-limit-others", Text: "(errors of further templates)", Count: sm.others})
	}
	in.Samples = append([]string(nil), in.Samples...)
	in.Lines = append([]int(nil), in.Lines...)
	in.Timeline = maps.Clone(in.Timeline)
	return in
}
