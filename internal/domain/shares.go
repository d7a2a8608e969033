package domain

import (
	"errors"
	"slices"
	"time"
)

// An incident is stored as the sum of its sources' shares: each source
// (a file, one run of a message stream on one replica) saves its own
// share, and saving a source again replaces its share instead of adding
// to it. These rules are the same for every store.

// ShareOf is the part of an incident one source counts.
func ShareOf(in Incident) Incident {
	return Incident{Count: in.Count, Templates: in.Templates, FirstSeen: in.FirstSeen, LastSeen: in.LastSeen, Timeline: in.Timeline}
}

// Combine builds the stored incident from the one a source saves (in),
// the stored one (nil when there is none) and every source's share, the
// saving source's included: counts, templates and times are the shares'
// sum; samples, reasons, stack and the rest merge into what is stored.
func Combine(in Incident, existing *Incident, shares []Incident) Incident {
	total := Incident{}
	for i := range shares {
		total.Merge(&shares[i])
	}
	merged := in
	merged.State = StateNew
	if existing != nil {
		merged = *existing
		merged.Merge(&Incident{Severity: in.Severity, Reasons: in.Reasons, Samples: in.Samples, Latest: in.Latest, Traces: in.Traces, Spans: in.Spans, Stack: in.Stack,
			SourceLocation: in.SourceLocation, Labels: in.Labels, Services: in.Services, Entities: in.Entities})
		if merged.Why == nil {
			merged.Why = in.Why // why it first opened
		}
		merged.Episodes = MergeEpisodes(existing.Episodes, in.Episodes)
	}
	merged.Count, merged.Templates, merged.FirstSeen, merged.LastSeen = total.Count, total.Templates, total.FirstSeen, total.LastSeen
	merged.Timeline = total.Timeline
	return merged
}

// MaxEpisodes bounds the episodes an incident keeps: the latest.
const MaxEpisodes = 50

// MergeEpisodes unites two lists of episodes by start: a later record of
// an episode (more events, an end) replaces the earlier one.
func MergeEpisodes(have, add []Episode) []Episode {
	out := append([]Episode(nil), have...)
	for _, e := range add {
		i := slices.IndexFunc(out, func(o Episode) bool { return o.Start.Equal(e.Start) })
		if i >= 0 {
			out[i] = e
			continue
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Episode) int { return a.Start.Compare(b.Start) })
	if len(out) > MaxEpisodes {
		out = out[len(out)-MaxEpisodes:]
	}
	return out
}

// Reopens reports whether new evidence re-opens an incident whose run has
// ended: an event after a quiet gap of at least reopenAfter that came
// after the run ended (closedLastSeen, the incident's last event then;
// zero means its stored last event), seen by the spine within this source
// (ReopenedAt) or between the stored incident and this source's first
// event.
func Reopens(existing *Incident, closedLastSeen time.Time, in Incident, reopenAfter time.Duration) bool {
	if existing == nil || reopenAfter <= 0 || !existing.State.Terminal() {
		return false
	}
	cutoff := existing.LastSeen
	if !closedLastSeen.IsZero() {
		cutoff = closedLastSeen
	}
	if in.ReopenedAt.After(cutoff) {
		return true
	}
	return in.FirstSeen.Sub(cutoff) >= reopenAfter
}

// NextRun is the run number a re-opened incident gets.
func NextRun(prev int) int { return max(prev, 1) + 1 }

// WindowCount is one replica's count of one series in one bucket of event
// time since its last flush: a service's events, its error events, or one
// error template's events (Series is then the template id).
type WindowCount struct {
	Service string
	Series  string
	Bucket  int64
	N       int64
}

// WindowKey names an error template of a service that a replica saw
// between buckets From and To (inclusive) since its last flush; Earliest
// is its first event then.
type WindowKey struct {
	Service  string
	Template TemplateID
	From, To int64
	Earliest time.Time
}

// WindowID names a service's error template in a shared store.
type WindowID struct {
	Service  string
	Template TemplateID
}

// ErrLeaseLost says a replica no longer holds an incident's lease: another
// replica claimed it after the lease expired, and finishes it.
var ErrLeaseLost = errors.New("lease lost: another replica holds the incident")

// Delivery says where a proposal went.
type Delivery struct {
	Target   string   `json:"target"`
	Location string   `json:"location"`
	Files    []string `json:"files,omitempty"`
}

// ErrNoIncident says a store holds no incident by the id asked for.
var ErrNoIncident = errors.New("no such incident")

// ErrBadIncidentID says an id cannot name an incident: not a fingerprint
// or a prefix of one, or a prefix several incidents share.
var ErrBadIncidentID = errors.New("bad incident id")
