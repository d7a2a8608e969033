package links

import (
	"net/url"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// FuzzLinks: whatever a log puts in a service name, a template or a
// trace or span id, a filled link stays on the template's host and
// scheme, and never gains a fragment.
//
//	go test -run '^$' -fuzz FuzzLinks -fuzztime 30s ./internal/links
func FuzzLinks(f *testing.F) {
	for _, s := range []string{"checkout", `x"&to=0#frag`, "../../admin?x=1", "@evil.example/", "%2F%2Fevil", "\x00\xff", "projects/p/traces/abc"} {
		f.Add(s, s)
	}
	l := Links{LogQuery: "https://grafana.example.com/explore?svc={service}&q={template}&from={start_ms}",
		Trace: "https://jaeger.example.com/trace/{trace}?uiFind={span}"}
	f.Fuzz(func(t *testing.T, text, id string) {
		in := domain.Incident{Service: text, Fingerprint: domain.Fingerprint(id), FirstSeen: time.Unix(0, 0), LastSeen: time.Unix(60, 0),
			Templates: []domain.Template{{Text: text}}, Labels: map[string]string{"project_id": text, "resource_type": text}}
		for _, u := range []string{l.LogQueryURL(in), l.TraceURL(id, text), Links{}.LogQueryURL(in), Links{}.TraceURL(id, text)} {
			if u == "" {
				continue
			}
			p, err := url.Parse(u)
			if err != nil {
				t.Fatalf("%q does not parse: %v", u, err)
			}
			if p.Scheme != "https" || p.Fragment != "" || p.User != nil ||
				(p.Host != "grafana.example.com" && p.Host != "jaeger.example.com" && p.Host != "console.cloud.google.com") {
				t.Fatalf("a link left its host: %q", u)
			}
		}
	})
}
