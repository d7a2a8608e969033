// Package row is how an incident is laid out in a store's row,
// the same for the SQLite and the PostgreSQL store: the fields kept as
// JSON text, a source's share, the run number inside the run record, and
// how an id given in full or as a prefix resolves.
package row

import (
	"encoding/json"
	"fmt"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// Columns are the incident fields a store keeps as JSON text. An absent
// source location, label set or timeline is the empty string.
type Columns struct {
	Reasons, Templates, Samples      string
	SourceLocation, Labels, Timeline string
	// Detection is why the incident opened, its episodes, services and
	// entities.
	Detection string
}

// detection is the Detection column's layout.
type detection struct {
	Why      *domain.Explanation `json:"why,omitempty"`
	Episodes []domain.Episode    `json:"episodes,omitempty"`
	Services []string            `json:"services,omitempty"`
	Entities []string            `json:"entities,omitempty"`
	Latest   []string            `json:"latest_samples,omitempty"`
	Traces   []string            `json:"traces,omitempty"`
	Spans    map[string]string   `json:"spans,omitempty"`
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain data types are marshalled here
	}
	return string(b)
}

func optional(v any, empty bool) string {
	if empty {
		return ""
	}
	return mustJSON(v)
}

// Encode lays an incident's JSON fields out for a row.
func Encode(in domain.Incident) Columns {
	return Columns{Reasons: mustJSON(in.Reasons), Templates: mustJSON(in.Templates), Samples: mustJSON(in.Samples),
		SourceLocation: optional(in.SourceLocation, in.SourceLocation == nil), Labels: optional(in.Labels, len(in.Labels) == 0),
		Timeline: optional(in.Timeline, len(in.Timeline) == 0),
		Detection: optional(detection{in.Why, in.Episodes, in.Services, in.Entities, in.Latest, in.Traces, in.Spans},
			in.Why == nil && len(in.Episodes) == 0 && len(in.Services) == 0 && len(in.Entities) == 0 && len(in.Latest) == 0 && len(in.Traces) == 0)}
}

// Decode reads the JSON fields back into in.
func (c Columns) Decode(in *domain.Incident) error {
	for _, f := range []struct {
		name, s string
		v       any
	}{{"reasons", c.Reasons, &in.Reasons}, {"templates", c.Templates, &in.Templates}, {"samples", c.Samples, &in.Samples},
		{"labels", c.Labels, &in.Labels}, {"timeline", c.Timeline, &in.Timeline}} {
		if f.s == "" {
			continue
		}
		if err := json.Unmarshal([]byte(f.s), f.v); err != nil {
			return fmt.Errorf("decode incident %s %s: %w", in.Fingerprint, f.name, err)
		}
	}
	if c.Detection != "" {
		var d detection
		if err := json.Unmarshal([]byte(c.Detection), &d); err != nil {
			return fmt.Errorf("decode incident %s detection: %w", in.Fingerprint, err)
		}
		in.Why, in.Episodes, in.Services, in.Entities, in.Latest, in.Traces, in.Spans = d.Why, d.Episodes, d.Services, d.Entities, d.Latest, d.Traces, d.Spans
	}
	if c.SourceLocation != "" {
		in.SourceLocation = new(domain.SourceLocation)
		if err := json.Unmarshal([]byte(c.SourceLocation), in.SourceLocation); err != nil {
			return fmt.Errorf("decode incident %s source location: %w", in.Fingerprint, err)
		}
	}
	return nil
}

// EncodeShare lays a source's share out: its templates and timeline.
func EncodeShare(sh domain.Incident) (templates, timeline string) {
	return mustJSON(sh.Templates), optional(sh.Timeline, len(sh.Timeline) == 0)
}

// DecodeShare reads a share's templates and timeline back into sh.
func DecodeShare(templates, timeline string, sh *domain.Incident) error {
	return Columns{Templates: templates, Timeline: timeline}.Decode(sh)
}

// RunNumber reads the run number from a stored run record (0 when empty).
func RunNumber(run string) int {
	var r struct {
		Number int `json:"number"`
	}
	_ = json.Unmarshal([]byte(run), &r) // an empty run is run 0
	return r.Number
}

// NewRun is the record a re-opened incident's next run starts with.
func NewRun(prev int) string { return fmt.Sprintf(`{"number":%d}`, domain.NextRun(prev)) }

// CheckID refuses an id that is empty or would be a pattern in LIKE: it
// names no incident.
func CheckID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("an incident id is 1 to 64 characters: %w", domain.ErrBadIncidentID)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return fmt.Errorf("an incident id is letters, digits and dashes (a fingerprint or its prefix): %w", domain.ErrBadIncidentID)
		}
	}
	return nil
}

// Resolve picks the incident an id names from the fingerprints that
// start with it (a store fetches at most two).
func Resolve(id string, matches []string) (domain.Fingerprint, error) {
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("incident %s: %w", id, domain.ErrNoIncident)
	case 1:
		return domain.Fingerprint(matches[0]), nil
	}
	return "", fmt.Errorf("incident id %s names more than one incident; give more of it: %w", id, domain.ErrBadIncidentID)
}
