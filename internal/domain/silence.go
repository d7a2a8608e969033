package domain

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// Silence mutes incidents that match it between Start and End, in the
// manner of Alertmanager: they are still recorded and counted, but not
// triaged, delivered or notified. A silence from the config has no End.
type Silence struct {
	ID       string    `json:"id"`
	Matchers []Matcher `json:"matchers"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end,omitzero"` // zero: until expired (config: always)
	Author   string    `json:"author"`
	Comment  string    `json:"comment"`
	// Source is where it was made: cli, config or dashboard.
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiredAt is when someone ended it early.
	ExpiredAt time.Time `json:"expired_at,omitzero"`
}

// Matcher is one condition of a silence: Name is service, severity,
// template (the text of any of the incident's templates), template_id,
// fingerprint, or label.KEY; Value is a shell pattern (payments-*,
// *disk full*), compared without case for severity.
type Matcher struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ParseMatcher reads name=value.
func ParseMatcher(s string) (Matcher, error) {
	name, value, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	m := Matcher{Name: name, Value: value}
	if !ok || name == "" || value == "" {
		return m, fmt.Errorf("matcher %q: want name=value (service=checkout, template=*disk full*, severity=error, template_id=ID, fingerprint=ID, label.env=staging)", s)
	}
	return m, m.Validate()
}

// Validate checks the name and the pattern.
func (m Matcher) Validate() error {
	switch {
	case m.Name == "service", m.Name == "severity", m.Name == "template", m.Name == "template_id", m.Name == "fingerprint",
		strings.HasPrefix(m.Name, "label.") && len(m.Name) > len("label."):
	default:
		return fmt.Errorf("matcher %s: unknown name (service, severity, template, template_id, fingerprint or label.KEY)", m.Name)
	}
	if _, err := path.Match(m.Value, ""); err != nil {
		return fmt.Errorf("matcher %s=%s: %w", m.Name, m.Value, err)
	}
	if m.Name == "severity" {
		if _, ok := ParseSeverity(m.Value); !ok && !strings.ContainsAny(m.Value, "*?[") {
			return fmt.Errorf("matcher severity=%s: not a severity", m.Value)
		}
	}
	return nil
}

func (m Matcher) String() string { return m.Name + "=" + m.Value }

func glob(pattern, s string) bool { ok, _ := path.Match(pattern, s); return ok }

// matches reports whether the incident satisfies the matcher.
func (m Matcher) matches(in Incident) bool {
	switch {
	case m.Name == "service":
		svcs := in.Services
		if len(svcs) == 0 {
			svcs = []string{in.Service}
		}
		return slices.ContainsFunc(svcs, func(s string) bool { return glob(m.Value, s) })
	case m.Name == "severity":
		if sv, ok := ParseSeverity(m.Value); ok {
			return in.Severity == sv
		}
		return glob(strings.ToUpper(m.Value), in.Severity.String())
	case m.Name == "template":
		return slices.ContainsFunc(in.Templates, func(t Template) bool { return glob(m.Value, t.Text) })
	case m.Name == "template_id":
		return slices.ContainsFunc(in.Templates, func(t Template) bool { return glob(m.Value, string(t.ID)) })
	case m.Name == "fingerprint":
		return glob(m.Value, string(in.Fingerprint)) || (!strings.ContainsAny(m.Value, "*?[") && strings.HasPrefix(string(in.Fingerprint), m.Value))
	case strings.HasPrefix(m.Name, "label."):
		v, ok := in.Labels[strings.TrimPrefix(m.Name, "label.")]
		return ok && glob(m.Value, v)
	}
	return false
}

// Active reports whether the silence holds at t.
func (s Silence) Active(t time.Time) bool {
	if !s.ExpiredAt.IsZero() && !t.Before(s.ExpiredAt) {
		return false
	}
	return !t.Before(s.Start) && (s.End.IsZero() || t.Before(s.End))
}

// Matches reports whether every matcher holds for the incident.
func (s Silence) Matches(in Incident) bool {
	if len(s.Matchers) == 0 {
		return false // a silence of everything is refused, never assumed
	}
	for _, m := range s.Matchers {
		if !m.matches(in) {
			return false
		}
	}
	return true
}

// Silencing is the first active silence at t that matches the incident.
func Silencing(silences []Silence, in Incident, t time.Time) *Silence {
	for i := range silences {
		if silences[i].Active(t) && silences[i].Matches(in) {
			return &silences[i]
		}
	}
	return nil
}

// Note is what a person said of an incident: an acknowledgement, a
// resolution, with who and when.
type Note struct {
	Fingerprint Fingerprint `json:"fingerprint"`
	Kind        string      `json:"kind"` // acknowledged, resolved
	Author      string      `json:"author"`
	Text        string      `json:"text"`
	At          time.Time   `json:"at"`
}
