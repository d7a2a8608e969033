package notify

import (
	"slices"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

func TestRoutes(t *testing.T) {
	tr := tree(t, config.Route{Receiver: "default", Routes: []config.Route{
		{Receiver: "pager", Match: config.Match{Severities: []string{"CRITICAL"}, Transitions: []string{"opened", "reopened", "resolved"}}, Continue: true},
		{Match: config.Match{Services: []string{"payments-*"}}, Receiver: "payments", Routes: []config.Route{
			{Receiver: "payments-db", Match: config.Match{Categories: []string{"dependency"}}},
		}},
		{Receiver: "eu", Match: config.Match{Labels: map[string]string{"region": "europe-*"}}},
		{Receiver: "chat"},
	}})
	for _, c := range []struct {
		name string
		f    Facts
		want []string
	}{
		{"critical opening pages and continues", Facts{Services: []string{"checkout"}, Severity: domain.Critical, Transition: delivery.Opened}, []string{"pager", "chat"}},
		{"critical triage does not page", Facts{Services: []string{"checkout"}, Severity: domain.Critical, Transition: delivery.Triaged}, []string{"chat"}},
		{"first matching sibling wins", Facts{Services: []string{"payments-api"}, Severity: domain.Error, Labels: map[string]string{"region": "europe-west1"}}, []string{"payments"}},
		{"a child narrows, inheriting nothing it sets", Facts{Services: []string{"payments-api"}, Category: "dependency"}, []string{"payments-db"}},
		{"any of the services", Facts{Services: []string{"checkout", "payments-api"}}, []string{"payments"}},
		{"labels by pattern", Facts{Services: []string{"x"}, Labels: map[string]string{"region": "europe-west1"}}, []string{"eu"}},
		{"a missing label does not match", Facts{Services: []string{"x"}}, []string{"chat"}},
	} {
		var got []string
		for _, d := range tr.Route(c.f) {
			got = append(got, d.Receiver)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// A node with no matching child is the receiver, inherited when unset.
	bare := tree(t, config.Route{Receiver: "root", Routes: []config.Route{{Match: config.Match{Services: []string{"a"}}}}})
	if d := bare.Route(Facts{Services: []string{"a"}}); len(d) != 1 || d[0].Receiver != "root" || d[0].Route != "route.routes[0]" {
		t.Errorf("inherited: %+v", d)
	}
	eff := tr.Describe(domain.Incident{Service: "checkout", Severity: domain.Critical}, nil)
	if len(eff) != 2 || eff[0].Receiver != "pager" || !slices.Equal(eff[0].Transitions, []string{"opened", "resolved", "reopened"}) || len(eff[1].Transitions) != 6 {
		t.Errorf("describe %+v", eff)
	}
}

func TestQuietHours(t *testing.T) {
	night := Decision{quiet: &quiet{start: 22 * 60, end: 7 * 60, loc: time.UTC, except: []string{"critical"}}}
	day := Decision{quiet: &quiet{start: 60, end: 5 * 60, loc: time.UTC}}
	at := func(h, m int) time.Time { return time.Date(2026, 12, 2, h, m, 0, 0, time.UTC) }
	for _, c := range []struct {
		d     Decision
		now   time.Time
		sev   domain.Severity
		quiet bool
		until time.Time
	}{
		{night, at(23, 0), domain.Error, true, at(7, 0).AddDate(0, 0, 1)},
		{night, at(3, 0), domain.Error, true, at(7, 0)},
		{night, at(7, 0), domain.Error, false, time.Time{}},
		{night, at(12, 0), domain.Error, false, time.Time{}},
		{night, at(23, 0), domain.Critical, false, time.Time{}},
		{day, at(2, 0), domain.Error, true, at(5, 0)},
		{day, at(0, 30), domain.Error, false, time.Time{}},
		{Decision{}, at(2, 0), domain.Error, false, time.Time{}},
	} {
		until, q := c.d.Until(c.now, c.sev)
		if q != c.quiet || !until.Equal(c.until) {
			t.Errorf("%s %s: %v until %s", c.now.Format("15:04"), c.sev, q, until)
		}
	}
}
