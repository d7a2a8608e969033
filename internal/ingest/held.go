package ingest

import (
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/detect"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/template"
)

// pendingMax bounds the events held per template while no rule has fired.
const pendingMax = 16

// held is an error template's recent events while no incident holds it:
// when a rule fires for it, they join the incident that opens.
type held struct {
	events  []domain.Event
	crit    []int // each event's held CRITICAL record, notCritical or unlisted
	dropped int64 // events beyond pendingMax, counted only
}

// hold keeps an error event of a template no incident holds, for the long
// window: if a rule fires within it, the event joins the incident.
func (s *Spine) hold(key detect.TemplateKey, ev *domain.Event, crit int) {
	if s.pending == nil {
		s.pending = map[detect.TemplateKey]*held{}
	}
	h := s.pending[key]
	if h == nil {
		if len(s.pending) >= maxPending {
			// Pruning walks every held template: at most once per
			// bucket of event time, so a flood of distinct templates
			// does not walk it per event. Meanwhile new ones are not
			// held (still counted in Stats).
			if ev.Time.Sub(s.prunedAt) < s.detector.Config().LongWindow/12 {
				return
			}
			s.prunePending(ev.Time)
			s.prunedAt = ev.Time
			if len(s.pending) >= maxPending {
				return
			}
		}
		h = &held{}
		s.pending[key] = h
	}
	if len(h.events) > 0 && ev.Time.Sub(h.events[0].Time) > s.detector.Config().LongWindow {
		h.events, h.crit, h.dropped = h.events[:0], h.crit[:0], 0
	}
	if len(h.events) >= pendingMax {
		h.dropped++
		return
	}
	h.events = append(h.events, *ev)
	h.crit = append(h.crit, crit)
}

// maxPending bounds the templates with held events.
const maxPending = 4096

// prunePending drops held events older than the long window.
func (s *Spine) prunePending(now time.Time) {
	lw := s.detector.Config().LongWindow
	for k, h := range s.pending {
		if len(h.events) == 0 || now.Sub(h.events[len(h.events)-1].Time) > lw {
			delete(s.pending, k)
		}
	}
}

// maxHeldShown bounds the held CRITICAL lines listed (all are counted).
const maxHeldShown = 1000

// heldLine is a CRITICAL line that opened nothing when it came.
type heldLine struct {
	rec    domain.HeldLine
	joined bool // a later recurrence took it into an incident
}

// holdCritical records a CRITICAL line that opened nothing: it stays
// visible (Held) and counted until it recurs or coincides with a rate
// change, when it joins the incident that opens. It returns the record's
// index, notCritical, or unlisted (counted, past maxHeldShown).
func (s *Spine) holdCritical(ev *domain.Event, cluster *template.Cluster) int {
	if ev.Severity < domain.Critical {
		return notCritical
	}
	s.held++
	if len(s.heldLines) >= maxHeldShown {
		return unlisted
	}
	s.heldLines = append(s.heldLines, heldLine{rec: domain.HeldLine{Line: ev.Line, Time: ev.Time,
		Service: s.service(ev.Service), TemplateID: cluster.ID(), Sample: s.sample(line{raw: ev.Raw, t: ev.Time, sev: ev.Severity, message: ev.Message})}})
	return len(s.heldLines) - 1
}

// What hold keeps of an event that is not a listed held CRITICAL line.
const (
	notCritical = -1
	unlisted    = -2
)

// unhold takes a held event into an incident: a CRITICAL one is no longer
// held.
func (s *Spine) unhold(crit int) {
	if crit == notCritical {
		return
	}
	s.held--
	if crit >= 0 {
		s.heldLines[crit].joined = true
	}
}

// Held lists the CRITICAL lines recorded without an incident (at most
// maxHeldShown), and how many there are in all.
func (s *Spine) Held() ([]domain.HeldLine, int) {
	var out []domain.HeldLine
	for _, h := range s.heldLines {
		if !h.joined {
			out = append(out, h.rec)
		}
	}
	return out, s.held
}
