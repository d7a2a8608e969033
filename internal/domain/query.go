package domain

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Query selects one page of incidents; every filter that is set must
// hold. The stores answer it in SQL, so a page costs the page, not the
// whole store.
type Query struct {
	// States, when any, are the states to show.
	States []State
	// Service is one service's name, exactly.
	Service string
	// Severities, when any, are the severities to show.
	Severities []Severity
	// Since shows incidents whose last event is at or after it; Until
	// those whose first event is at or before it.
	Since, Until time.Time
	// Text is searched, case-insensitively, in the service, the id, the
	// templates, the samples, the stack, the triage category and the
	// root cause.
	Text string
	// Sort is one of QuerySorts; empty is "severity".
	Sort string
	// Limit is the page's size (at most MaxPage; 0 is DefaultPage);
	// Offset how many matching incidents come before it.
	Limit, Offset int
}

// QuerySorts are the orders a Query can ask for: most severe first;
// newest last event first; lifecycle order; most events first; service
// or triage category alphabetically. Each then puts the newest first.
var QuerySorts = []string{"severity", "newest", "state", "events", "service", "category"}

// DefaultPage and MaxPage bound a Query's page.
const (
	DefaultPage = 100
	MaxPage     = 1000
)

// Check refuses a query a store cannot answer as asked.
func (q *Query) Check() error {
	if q.Sort != "" && !slices.Contains(QuerySorts, q.Sort) {
		return fmt.Errorf("unknown sort %q (one of %s)", q.Sort, strings.Join(QuerySorts, ", "))
	}
	if q.Limit < 0 || q.Offset < 0 {
		return fmt.Errorf("a page's limit and offset cannot be negative")
	}
	for _, s := range q.States {
		if !slices.Contains(States, s) {
			return fmt.Errorf("unknown state %q", s)
		}
	}
	return nil
}

// PageSize is the page's size the stores use.
func (q *Query) PageSize() int {
	switch {
	case q.Limit == 0:
		return DefaultPage
	case q.Limit > MaxPage:
		return MaxPage
	}
	return q.Limit
}

// Listed is an incident in a list with what its run says of it.
type Listed struct {
	Incident
	// Category is triage's category, RootCause the analysis' root cause,
	// empty until those stages answer.
	Category  string `json:"category,omitempty"`
	RootCause string `json:"root_cause,omitempty"`
	// Attention is set when log text looked like instructions.
	Attention bool `json:"attention,omitempty"`
}

// Page is one page of a Query's answer: the incidents on it and how many
// match in all.
type Page struct {
	Incidents []Listed
	Matched   int
}

// SearchText is what Query.Text is matched against in an incident,
// lowercased: a store keeps it beside the incident.
func SearchText(in Incident) string {
	var b strings.Builder
	add := func(s string) {
		b.WriteString(strings.ToLower(s))
		b.WriteByte('\n')
	}
	add(in.Service)
	add(string(in.Fingerprint))
	add(in.Stack)
	for _, t := range in.Templates {
		add(t.Text)
	}
	for _, s := range in.Samples {
		add(s)
	}
	for _, s := range in.Latest {
		add(s)
	}
	return b.String()
}

// RunSummary is what a list shows of a run: its category, root cause,
// attention flag, and the lowercased text Query.Text is matched against.
// A run that cannot be read shows nothing.
func RunSummary(raw []byte) (category, rootCause string, attention bool, search string) {
	if len(raw) == 0 {
		return "", "", false, ""
	}
	var r struct {
		Triage *struct {
			Category string `json:"category"`
		} `json:"triage"`
		Analysis *struct {
			RootCause string `json:"root_cause"`
		} `json:"analysis"`
		Attention []Finding `json:"attention"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return "", "", false, ""
	}
	if r.Triage != nil {
		category = r.Triage.Category
	}
	if r.Analysis != nil {
		rootCause = r.Analysis.RootCause
	}
	return category, rootCause, len(r.Attention) > 0, strings.ToLower(category + "\n" + rootCause)
}

// ParseSince reads a time bound as people write it: a duration back from
// now (24h, 30m, or whole days: 7d), a date (2026-12-01) or an RFC 3339
// time. Empty is no bound (the zero time).
func ParseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 && n <= 100_000 && strconv.Itoa(n) == days {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want a duration (24h, 7d), a date (2006-01-02) or an RFC 3339 time", v)
}
