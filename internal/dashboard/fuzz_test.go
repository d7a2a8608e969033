package dashboard

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// oneIncident serves one incident to every read: the fuzz target tests
// rendering, not the store (fuzzing through SQLite spends the budget on
// instrumenting it; the store's queries have their own contract tests).
type oneIncident struct {
	in  domain.Incident
	run json.RawMessage
}

func (o *oneIncident) Query(context.Context, domain.Query) (domain.Page, error) {
	return domain.Page{Incidents: []domain.Listed{{Incident: o.in, Category: o.in.Service, RootCause: o.in.Stack, Attention: true}}, Matched: 1}, nil
}
func (o *oneIncident) CountByState(context.Context) (map[domain.State]int, error) {
	return map[domain.State]int{o.in.State: 1}, nil
}
func (o *oneIncident) Services(context.Context) ([]string, error) { return []string{o.in.Service}, nil }
func (o *oneIncident) Find(context.Context, string) (*domain.Incident, json.RawMessage, error) {
	in := o.in
	return &in, o.run, nil
}

// FuzzIncidentPage renders an incident whose log text is anything: the page
// must render, and no log-derived text may open an element or an event
// handler outside text (the only script element is the page's own).
//
//	go test -run '^$' -fuzz FuzzIncidentPage -fuzztime 30s ./internal/dashboard
func FuzzIncidentPage(f *testing.F) {
	for _, s := range []string{hostile, `"><svg onload=alert(1)>`, `</pre><script>x()</script>`, "javascript:alert(1)", "\x00\xff<", `{{.}}`} {
		f.Add(s, s)
	}
	fx, tr, reg := fixture(f)
	st := &oneIncident{in: fx.incs[0], run: fx.runs[fx.incs[0].Fingerprint]}
	h, err := New(Options{Store: st, Audit: tr, Gatherer: reg})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text, service string) {
		in := fx.incs[0]
		in.Samples, in.Latest, in.Traces = []string{text}, []string{text}, []string{text}
		in.Templates = []domain.Template{{ID: "tf", Text: text, Count: 1}}
		in.Stack, in.Service, in.Labels = text, service, map[string]string{"k": text}
		st.in = in
		for _, path := range []string{"/incidents/aaaa1111", "/?q=" + "x"} {
			resp, body := get(t, h, "GET", path)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d", path, resp.StatusCode)
			}
			lower := strings.ToLower(body)
			if n := strings.Count(lower, "<script"); n != 1 {
				t.Fatalf("%s: %d script elements for text %q", path, n, text)
			}
			for _, bad := range []string{"<svg onload", "<img", "<iframe", "<object", "<a href=\"javascript"} {
				if strings.Contains(lower, bad) {
					t.Fatalf("%s: %q reached the page for text %q", path, bad, text)
				}
			}
		}
	})
}
