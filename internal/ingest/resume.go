package ingest

import (
	"maps"
	"slices"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/template"
)

// A run that starts where another stopped (a restart, a crash) carries on
// the store's incidents rather than opening new ones: what decides which
// incident an event joins is state, and the store holds it. An error of a
// template the store's incident last saw within the quiet period joins
// that incident (reason "resumed"), whatever service it came from and
// whichever template leads it; one folded into a bound's summary folds
// there again; a new template of the same kind of failure within the
// group wait joins it as it would have; and the incidents each window
// opened still count against the bounds.

// resumeTo is the store's incident that last saw a template.
type resumeTo struct {
	last    time.Time
	fp      domain.Fingerprint
	summary bool
}

// carryOn prepares the store's incidents to carry on: each as a shell
// building (listed once it takes an event), joinable by its templates,
// by the services it spans and, for the group wait, by its cause.
func (s *Spine) carryOn(incidents []domain.Incident, restored map[domain.TemplateID]*template.Cluster) {
	s.resumable = map[baselineKey]resumeTo{}
	s.shells = map[domain.Fingerprint]*building{}
	window := s.detector.Config().Window
	for _, in := range incidents {
		summary := false
		for _, r := range in.Reasons {
			summary = summary || r == domain.ReasonOverLimit
		}
		services := in.Services
		if len(services) == 0 {
			services = []string{in.Service}
		}
		for _, svc := range services {
			for _, t := range in.Templates {
				k := baselineKey{svc, t.ID}
				if have, ok := s.resumable[k]; !ok || in.LastSeen.After(have.last) {
					s.resumable[k] = resumeTo{last: in.LastSeen, fp: in.Fingerprint, summary: summary}
				}
			}
		}
		if summary || len(in.Templates) == 0 {
			continue
		}
		opened := in.FirstSeen
		if in.Why != nil && !in.Why.At.IsZero() {
			opened = in.Why.At
		}
		if window > 0 && !opened.IsZero() {
			s.bounds.opened(opened.UnixNano()/int64(window), in.Service)
		}
		lead := restored[in.Templates[0].ID]
		if lead == nil {
			continue
		}
		start := opened
		if n := len(in.Episodes); n > 0 {
			start = in.Episodes[n-1].Start
		}
		if !in.ReopenedAt.IsZero() && in.ReopenedAt.After(start) {
			start = in.ReopenedAt
		}
		b := &building{fp: in.Fingerprint, shell: true, cluster: lead, cause: causeOf(lead.Template()),
			inc:  domain.Incident{Service: in.Service, State: domain.StateNew},
			open: true, opened: start, lastHot: in.LastSeen}
		if len(in.Services) > 1 {
			b.services = append([]string(nil), in.Services[1:]...)
		}
		s.shells[in.Fingerprint] = b
		s.recent = append(s.recent, b)
		if a := s.active[in.Service]; a == nil || a.lastHot.Before(b.lastHot) {
			s.active[in.Service] = b
		}
	}
}

// resumes reports the store's incident ev's template belongs to when an
// earlier run left it going: it last saw the template within the quiet
// period of ev (either side: a redelivered message can be older; an input
// read again from the start is not resumed into what it found before), or,
// for a message source, at any time before.
func (s *Spine) resumes(ev *domain.Event, cluster *template.Cluster) (resumeTo, bool) {
	if len(s.resumable) == 0 {
		return resumeTo{}, false
	}
	to, ok := s.resumable[baselineKey{s.service(ev.Service), cluster.ID()}]
	if !ok {
		return resumeTo{}, false
	}
	if s.saveHeld {
		// A message source's run carries on the stream where the last
		// stopped: as in one run, the incident takes its templates'
		// later events, between episodes too (redeliveries: a quiet
		// period older at most).
		if ev.Time.Before(to.last.Add(-s.detector.Config().Quiet)) {
			return resumeTo{}, false
		}
		return to, true
	}
	if ev.Time.Sub(to.last).Abs() > s.detector.Config().Quiet {
		return resumeTo{}, false
	}
	return to, true
}

// take lets b (an incident of this run, or a store's incident carried on)
// take ev: a shell is listed, an episode that ended opens again.
func (s *Spine) take(b *building, ev *domain.Event) {
	if b.shell {
		b.shell = false
		s.order = append(s.order, b)
	}
	if svc := s.service(ev.Service); svc != b.inc.Service && !slices.Contains(b.services, svc) {
		b.services = append(b.services, svc)
	}
	s.settle(b, ev.Time)
	if !b.open {
		s.reopen(b, ev.Time)
		return
	}
	if len(b.episodes) == 0 {
		b.episodes = []domain.Episode{{Start: b.opened}}
	}
}

// opened counts an incident the store says opened in window w, against
// the bounds of that window.
func (bd *bounds) opened(w int64, service string) {
	if bd.stored == nil {
		bd.stored = map[int64]map[string]int{}
	}
	if bd.stored[w] == nil {
		bd.stored[w] = map[string]int{}
	}
	bd.stored[w][service]++
}

// start begins window w: the incidents the store says it opened count.
func (bd *bounds) start(w int64) {
	bd.window, bd.perSource = w, 0
	clear(bd.perService)
	maps.Copy(bd.perService, bd.stored[w])
	for _, n := range bd.stored[w] {
		bd.perSource += n
	}
}
