package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// query: a domain.Query filters, searches, sorts and pages in the store,
// and what the run says (category, root cause, attention) comes with
// each incident and is searched; a re-opened incident loses its old
// run's category.
func query(t *testing.T, open Open) {
	ctx := context.Background()
	s := open(t, time.Hour)
	mk := func(fp, service string, sev domain.Severity, count int64, first, last time.Time, tmpl string, samples ...string) domain.Incident {
		return domain.Incident{Fingerprint: domain.Fingerprint(fp), Service: service, Severity: sev, State: domain.StateNew,
			FirstSeen: first, LastSeen: last, Count: count, Reasons: []domain.Reason{domain.ReasonNewTemplate},
			Templates: []domain.Template{{ID: domain.TemplateID("t-" + fp), Text: tmpl, Count: count}}, Samples: samples}
	}
	incs := []domain.Incident{
		mk("q1", "checkout", domain.Critical, 5, t0, t0.Add(10*time.Minute), "panic: nil map in <*>", "panic: nil map in cart"),
		mk("q2", "payments", domain.Error, 50, t0, t0.Add(30*time.Minute), "pool exhausted at <*>", "pool exhausted at 10.0.0.7:5432"),
		mk("q3", "checkout", domain.Error, 7, t0.Add(time.Hour), t0.Add(2*time.Hour), "cache miss storm"),
		// q4 and q5 end in the same second, q5 half a second later.
		mk("q4", "search", domain.Warning, 1, t0, t0.Add(3*time.Hour), "slow query <*> ms"),
		mk("q5", "search", domain.Warning, 2, t0, t0.Add(3*time.Hour+500*time.Millisecond), "Slow Index Rebuild"),
	}
	must(t, s.Save(ctx, "a", nil, incs))
	runOf := func(r domain.Run) json.RawMessage { b, _ := json.Marshal(r); return b }
	must(t, s.Advance(ctx, "q2", domain.StateAnalyzed, runOf(domain.Run{Number: 1, Triage: &domain.Triage{Category: "dependency"},
		Analysis: &domain.Analysis{RootCause: "The payments DB pool is too small"}, Attention: []domain.Finding{{Rule: "instruction"}}})))
	must(t, s.Advance(ctx, "q1", domain.StateDelivered, runOf(domain.Run{Number: 1, Triage: &domain.Triage{Category: "code-defect"}})))

	ids := func(q domain.Query) ([]string, int) {
		t.Helper()
		p, err := s.Query(ctx, q)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		var out []string
		for _, l := range p.Incidents {
			out = append(out, string(l.Fingerprint))
		}
		return out, p.Matched
	}
	for _, c := range []struct {
		name string
		q    domain.Query
		want []string
	}{
		{"default: most severe, then newest", domain.Query{}, []string{"q1", "q3", "q2", "q5", "q4"}},
		{"newest (sub-second)", domain.Query{Sort: "newest"}, []string{"q5", "q4", "q3", "q2", "q1"}},
		{"state: lifecycle order", domain.Query{Sort: "state"}, []string{"q5", "q4", "q3", "q2", "q1"}},
		{"events", domain.Query{Sort: "events"}, []string{"q2", "q3", "q1", "q5", "q4"}},
		{"service", domain.Query{Sort: "service"}, []string{"q3", "q1", "q2", "q5", "q4"}},
		{"category", domain.Query{Sort: "category"}, []string{"q5", "q4", "q3", "q1", "q2"}},
		{"state filter", domain.Query{States: []domain.State{domain.StateNew, domain.StateAnalyzed}}, []string{"q3", "q2", "q5", "q4"}},
		{"service filter", domain.Query{Service: "checkout"}, []string{"q1", "q3"}},
		{"severity filter", domain.Query{Severities: []domain.Severity{domain.Warning, domain.Critical}}, []string{"q1", "q5", "q4"}},
		{"since (last event)", domain.Query{Since: t0.Add(2 * time.Hour)}, []string{"q3", "q5", "q4"}},
		{"until (first event)", domain.Query{Until: t0.Add(30 * time.Minute)}, []string{"q1", "q2", "q5", "q4"}},
		{"text in a template, with <*>", domain.Query{Text: "NIL MAP IN <*>"}, []string{"q1"}},
		{"text in a sample", domain.Query{Text: "10.0.0.7:5432"}, []string{"q2"}},
		{"text in the category", domain.Query{Text: "Dependency"}, []string{"q2"}},
		{"text in the root cause", domain.Query{Text: "pool is too small"}, []string{"q2"}},
		{"text in the service", domain.Query{Text: "search"}, []string{"q5", "q4"}},
		{"text not a pattern", domain.Query{Text: "%"}, nil},
		{"filters together", domain.Query{Service: "search", Text: "index"}, []string{"q5"}},
	} {
		got, matched := ids(c.q)
		if !slices.Equal(got, c.want) || matched != len(c.want) {
			t.Errorf("%s: got %v (%d matched), want %v", c.name, got, matched, c.want)
		}
	}
	// Paging: the page asked for, and how many match in all.
	got, matched := ids(domain.Query{Limit: 2, Offset: 2})
	if !slices.Equal(got, []string{"q2", "q5"}) || matched != 5 {
		t.Errorf("page 2 of 2: %v (%d matched)", got, matched)
	}
	if got, matched = ids(domain.Query{Limit: 2, Offset: 10}); len(got) != 0 || matched != 5 {
		t.Errorf("past the end: %v (%d matched)", got, matched)
	}
	for _, bad := range []domain.Query{{Sort: "fingerprint; DROP TABLE incidents"}, {Limit: -1}, {States: []domain.State{"gone"}}} {
		if _, err := s.Query(ctx, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	// What the run says comes with the incident.
	p, err := s.Query(ctx, domain.Query{Service: "payments"})
	must(t, err)
	if l := p.Incidents[0]; l.Category != "dependency" || l.RootCause != "The payments DB pool is too small" || !l.Attention || l.State != domain.StateAnalyzed {
		t.Errorf("listed: %+v", l)
	}
	services, err := s.Services(ctx)
	must(t, err)
	if !slices.Equal(services, []string{"checkout", "payments", "search"}) {
		t.Errorf("services %v", services)
	}
	// q1 ended (delivered); new events after a quiet hour re-open it with a
	// new run: the old category is no longer its category.
	again := mk("q1", "checkout", domain.Critical, 9, t0, t0.Add(5*time.Hour), "panic: nil map in <*>", "panic: nil map in cart")
	again.ReopenedAt = again.LastSeen
	must(t, s.Save(ctx, "a", nil, []domain.Incident{again}))
	if got, _ := ids(domain.Query{Text: "code-defect"}); len(got) != 0 {
		t.Errorf("a re-opened incident is still found by its old run's category: %v", got)
	}
	if got, _ := ids(domain.Query{States: []domain.State{domain.StateNew}, Text: "nil map"}); !slices.Equal(got, []string{"q1"}) {
		t.Errorf("re-opened q1 not new and searchable: %v", got)
	}
}
