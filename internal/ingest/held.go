package ingest

import (
	"sort"
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
	cluster *template.Cluster
	// written is the row the last save wrote these events to, next the
	// one HeldChanges is writing them to: a merge in the miner moves a
	// template's events to another row, and the old one must go.
	written, next domain.HeldKey
	changed       bool           // since the last save
	events        []domain.Event // redacted as they would be stored
	crit          []int          // each event's held CRITICAL record, notCritical or unlisted
	dropped       int64          // events beyond pendingMax, counted only
}

// hold keeps an error event of a template no incident holds, for the long
// window: if a rule fires within it, the event joins the incident. The
// message that carried it may be acknowledged once a save has written
// what is held (HeldChanges): held is state, saved like incidents.
func (s *Spine) hold(key detect.TemplateKey, ev *domain.Event, cluster *template.Cluster, crit int) {
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
		h = &held{cluster: cluster}
		s.pending[key] = h
	}
	h.changed = true
	// Under shared detection events come from every replica's share of
	// the stream, redeliveries minutes late among them: held events are
	// decided on at the next flush before they may age out (Settle).
	if s.shared == nil && len(h.events) > 0 && ev.Time.Sub(h.events[0].Time) > s.detector.Config().LongWindow {
		h.events, h.crit, h.dropped = h.events[:0], h.crit[:0], 0
	}
	if len(h.events) >= pendingMax {
		h.dropped++
		return
	}
	if s.saveHeld {
		h.events = append(h.events, s.redacted(*ev)) // as the store keeps it
	} else {
		h.events = append(h.events, *ev)
	}
	h.crit = append(h.crit, crit)
}

// redacted is ev with every text a store would keep redacted; the spine
// redacts what it shows again, and redaction leaves redacted text alone.
func (s *Spine) redacted(ev domain.Event) domain.Event {
	r := s.redactor.Redact
	ev.Raw, ev.Detail, ev.Stack, ev.InsertID = r(ev.Raw), r(ev.Detail), r(ev.Stack), r(ev.InsertID)
	ev.Trace, ev.Span = r(ev.Trace), r(ev.Span)
	if ev.SourceLocation != nil {
		sl := *ev.SourceLocation
		sl.File, sl.Function = r(sl.File), r(sl.Function)
		ev.SourceLocation = &sl
	}
	if len(ev.Labels) > 0 {
		labels := make(map[string]string, len(ev.Labels))
		for k, v := range ev.Labels {
			labels[k] = r(v)
		}
		ev.Labels = labels
	}
	return ev
}

// unpend drops key's held events: they joined an incident, or aged out.
func (s *Spine) unpend(key detect.TemplateKey, h *held) {
	if s.saveHeld && h.written != (domain.HeldKey{}) {
		// Its row goes (under the key it was written with).
		s.gone = append(s.gone, h.written)
	}
	delete(s.pending, key)
}

// SaveHeld turns on HeldChanges: a spine whose input is acknowledged (a
// message source) saves what it holds.
func (s *Spine) SaveHeld() {
	s.saveHeld = true
	if s.shared == nil {
		// A single spine decides alone: its detector's state is saved
		// too (replicas decide on the store's merged counts).
		s.detector.Track()
		s.clusters = map[detect.TemplateKey]*template.Cluster{}
	}
}

// HeldChanges is what changed in the held templates since the last save,
// as the store keeps them: one row per service (redacted) and template
// id. The agent commits it with the incidents and the message keys, then
// calls HeldSaved.
func (s *Spine) HeldChanges() domain.HeldChanges {
	var out domain.HeldChanges
	if !s.saveHeld {
		return out
	}
	dirty := map[domain.HeldKey]bool{}
	for k, h := range s.pending {
		h.next = domain.HeldKey{Service: s.service(k.Service), Template: h.cluster.ID()}
		if h.changed || h.written != h.next {
			// Changed, new, or merged into another template in the miner
			// (its old row goes).
			dirty[h.next] = true
			if h.written != (domain.HeldKey{}) {
				dirty[h.written] = true
			}
		}
	}
	// Keys that share a row (templates merged in the miner, services that
	// redact alike) are written together.
	rows := map[domain.HeldKey]*domain.HeldTemplate{}
	for _, h := range s.pending {
		hk := h.next
		if !dirty[hk] {
			continue
		}
		row := rows[hk]
		if row == nil {
			row = &domain.HeldTemplate{Service: hk.Service, Template: hk.Template}
			rows[hk] = row
		}
		for _, ev := range h.events {
			ev.Service = hk.Service
			row.Events = append(row.Events, ev)
		}
		row.Dropped += h.dropped
	}
	for _, hk := range s.gone {
		dirty[hk] = true
	}
	for hk := range dirty {
		if row := rows[hk]; row != nil {
			sort.SliceStable(row.Events, func(i, j int) bool { return row.Events[i].Time.Before(row.Events[j].Time) })
			out.Put = append(out.Put, *row)
		} else {
			out.Gone = append(out.Gone, hk)
		}
	}
	sort.Slice(out.Put, func(i, j int) bool {
		return heldLess(out.Put[i].Service, out.Put[i].Template, out.Put[j].Service, out.Put[j].Template)
	})
	sort.Slice(out.Gone, func(i, j int) bool {
		return heldLess(out.Gone[i].Service, out.Gone[i].Template, out.Gone[j].Service, out.Gone[j].Template)
	})
	return out
}

func heldLess(s1 string, t1 domain.TemplateID, s2 string, t2 domain.TemplateID) bool {
	if s1 != s2 {
		return s1 < s2
	}
	return t1 < t2
}

// HeldSaved ends a save that committed HeldChanges.
func (s *Spine) HeldSaved() {
	s.gone = s.gone[:0]
	for _, h := range s.pending {
		h.written, h.changed = h.next, false
	}
}

// Adopt takes over the templates earlier runs held when they stopped (a
// crash among them): their events are held again, in time order (or join
// the store's incident they belong to), without being counted again in
// Stats or by the detector, whose state the earlier run saved; they join
// an incident when a rule fires, as they would have. The agent
// deletes the earlier rows in the commit that writes this run's.
func (s *Spine) Adopt(rows []domain.HeldTemplate) {
	type replay struct {
		ev  domain.Event
		row int
	}
	var all []replay
	for i, r := range rows {
		for _, ev := range r.Events {
			all = append(all, replay{ev, i})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].ev.Time.Before(all[j].ev.Time) })
	keys := make([]detect.TemplateKey, len(rows))
	clusters := make([]*template.Cluster, len(rows))
	s.replaying = true
	for _, r := range all {
		keys[r.row] = s.process(r.ev)
		clusters[r.row] = s.lastCluster
	}
	s.replaying = false
	for i, r := range rows {
		if r.Dropped <= 0 || len(r.Events) == 0 { // (a negative count from a bad row: none)
			continue
		}
		switch k := keys[i]; {
		case s.pending[k] != nil:
			s.pending[k].dropped += r.Dropped
			s.pending[k].changed = true
		case s.incidents[k] != nil:
			s.incidents[k].inc.Count += r.Dropped
		case s.bounds.summarised[k] && s.bounds.summaries[k.Service] != nil:
			sm := s.bounds.summaries[k.Service]
			sm.b.inc.Count += r.Dropped
			sm.add(clusters[i], r.Dropped)
		}
	}
}

// maxPending bounds the templates with held events.
const maxPending = 4096

// prunePending drops held events older than the long window.
func (s *Spine) prunePending(now time.Time) {
	lw := s.detector.Config().LongWindow
	for k, h := range s.pending {
		if len(h.events) == 0 || now.Sub(h.events[len(h.events)-1].Time) > lw {
			s.unpend(k, h)
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
