package notify

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// Facts are what routes match for one change of an incident.
type Facts struct {
	Services   []string
	Severity   domain.Severity
	Category   string // empty until triaged
	Labels     map[string]string
	Transition delivery.Transition
}

// FactsOf reads the facts of an incident's change.
func FactsOf(in domain.Incident, run *domain.Run, tr delivery.Transition) Facts {
	f := Facts{Services: in.Services, Severity: in.Severity, Labels: in.Labels, Transition: tr}
	if len(f.Services) == 0 {
		f.Services = []string{in.Service}
	}
	if run != nil && run.Triage != nil {
		f.Category = run.Triage.Category
	}
	return f
}

// Tree is a compiled routing tree.
type Tree struct{ root node }

type node struct {
	name     string // its place in the config: route.routes[1]
	receiver string
	match    config.Match
	cont     bool
	quiet    *quiet
	children []node
}

// Decision is where a change goes: the receiver, the route that chose it
// and that route's quiet hours.
type Decision struct {
	Receiver string
	Route    string
	quiet    *quiet
}

// Compile builds the tree; the config was validated.
func Compile(r config.Route) (*Tree, error) {
	root, err := compile(r, "route", "", nil)
	if err != nil {
		return nil, err
	}
	return &Tree{root: root}, nil
}

func compile(r config.Route, name, receiver string, q *quiet) (node, error) {
	n := node{name: name, receiver: r.Receiver, match: r.Match, cont: r.Continue, quiet: q}
	if n.receiver == "" {
		n.receiver = receiver
	}
	if r.QuietHours != nil {
		var err error
		if n.quiet, err = newQuiet(*r.QuietHours); err != nil {
			return n, fmt.Errorf("%s.quiet_hours: %w", name, err)
		}
	}
	for i, c := range r.Routes {
		cn, err := compile(c, fmt.Sprintf("%s.routes[%d]", name, i), n.receiver, n.quiet)
		if err != nil {
			return n, err
		}
		n.children = append(n.children, cn)
	}
	return n, nil
}

// Route lists the receivers a change goes to, each once, in the order
// the tree chose them. The root takes every change.
func (t *Tree) Route(f Facts) []Decision {
	var out []Decision
	for _, d := range t.root.route(f) {
		if !slices.ContainsFunc(out, func(o Decision) bool { return o.Receiver == d.Receiver }) {
			out = append(out, d)
		}
	}
	return out
}

func (n node) route(f Facts) []Decision {
	var out []Decision
	for _, c := range n.children {
		if !c.matches(f) {
			continue
		}
		out = append(out, c.route(f)...)
		if !c.cont {
			break
		}
	}
	if len(out) == 0 {
		out = []Decision{{Receiver: n.receiver, Route: n.name, quiet: n.quiet}}
	}
	return out
}

func (n node) matches(f Facts) bool {
	m := n.match
	if len(m.Services) > 0 && !slices.ContainsFunc(f.Services, func(s string) bool { return glob(m.Services, s) }) {
		return false
	}
	if len(m.Severities) > 0 && !slices.ContainsFunc(m.Severities, func(s string) bool { return strings.EqualFold(s, f.Severity.String()) }) {
		return false
	}
	if len(m.Categories) > 0 && !slices.ContainsFunc(m.Categories, func(c string) bool { return strings.EqualFold(c, f.Category) }) {
		return false
	}
	for k, pat := range m.Labels {
		v, ok := f.Labels[k]
		if !ok || !glob([]string{pat}, v) {
			return false
		}
	}
	if len(m.Transitions) > 0 && !slices.Contains(m.Transitions, string(f.Transition)) {
		return false
	}
	return true
}

func glob(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

// quiet is a route's quiet hours.
type quiet struct {
	start, end int // minutes after midnight
	loc        *time.Location
	except     []string
}

func newQuiet(q config.QuietHours) (*quiet, error) {
	start, end, loc, err := q.Parse()
	if err != nil {
		return nil, err
	}
	return &quiet{start: start, end: end, loc: loc, except: q.Except}, nil
}

// Until reports whether the decision's quiet hours hold a change of sev
// at now, and when they end.
func (d Decision) Until(now time.Time, sev domain.Severity) (time.Time, bool) {
	q := d.quiet
	if q == nil || q.start == q.end || slices.ContainsFunc(q.except, func(s string) bool { return strings.EqualFold(s, sev.String()) }) {
		return time.Time{}, false
	}
	local := now.In(q.loc)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, q.loc)
	m := local.Hour()*60 + local.Minute()
	at := func(day, minute int) time.Time {
		return midnight.AddDate(0, 0, day).Add(time.Duration(minute) * time.Minute)
	}
	switch {
	case q.start < q.end && m >= q.start && m < q.end: // 01:00-05:00
		return at(0, q.end), true
	case q.start > q.end && m >= q.start: // 22:00-07:00, before midnight
		return at(1, q.end), true
	case q.start > q.end && m < q.end: // after midnight
		return at(0, q.end), true
	}
	return time.Time{}, false
}

// Describe says where a change of the incident goes, per transition: the
// effective route shown by `incidents show` and the dashboard.
func (t *Tree) Describe(in domain.Incident, run *domain.Run) []Effective {
	var out []Effective
	for _, tr := range []delivery.Transition{delivery.Opened, delivery.Triaged, delivery.RootCause, delivery.Proposed, delivery.Resolved, delivery.Reopened} {
		for _, d := range t.Route(FactsOf(in, run, tr)) {
			i := slices.IndexFunc(out, func(e Effective) bool { return e.Receiver == d.Receiver && e.Route == d.Route })
			if i < 0 {
				out = append(out, Effective{Receiver: d.Receiver, Route: d.Route})
				i = len(out) - 1
			}
			out[i].Transitions = append(out[i].Transitions, string(tr))
		}
	}
	return out
}

// Effective is one receiver an incident's changes go to, by which route,
// for which transitions.
type Effective struct {
	Receiver    string   `json:"receiver"`
	Route       string   `json:"route"`
	Transitions []string `json:"transitions"`
}
