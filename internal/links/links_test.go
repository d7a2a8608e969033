package links

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func cloudRun() domain.Incident {
	return domain.Incident{Fingerprint: "d6acb207ca1e1b6686f4", Service: "checkout", FirstSeen: t0, LastSeen: t0.Add(10 * time.Minute),
		Templates: []domain.Template{{Text: "dial tcp <*>: connection refused"}},
		Labels: map[string]string{"resource_type": "cloud_run_revision", "project_id": "shop-prod", "service_name": "checkout",
			"location": "europe-west1", "revision_name": "checkout-00042-abc"},
		Traces: []string{"projects/shop-prod/traces/4bf92f3577b34da6a3ce929d0e0e4736"}}
}

// With no templates: Cloud Logging's Logs Explorer for an incident from a
// Google Cloud resource (its resource, not one revision; the time range
// around it) and Cloud Trace for trace names; nothing for others.
func TestGoogleCloudByDefault(t *testing.T) {
	var l Links
	u := l.LogQueryURL(cloudRun())
	want := "https://console.cloud.google.com/logs/query;query=" +
		url.QueryEscape("resource.type=\"cloud_run_revision\"\nresource.labels.location=\"europe-west1\"\nresource.labels.service_name=\"checkout\"\nseverity>=WARNING") +
		";startTime=2026-11-20T08%3A55%3A00Z;endTime=2026-11-20T09%3A15%3A00Z?project=shop-prod"
	if u != strings.ReplaceAll(want, "+", "%20") {
		t.Errorf("log query\n got %s\nwant %s", u, want)
	}
	if strings.Contains(u, "revision_name") {
		t.Error("the query is narrowed to one revision")
	}
	if got := l.TraceURL("projects/shop-prod/traces/4bf92f3577b34da6a3ce929d0e0e4736", ""); got != "https://console.cloud.google.com/traces/list?project=shop-prod&tid=4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace: %s", got)
	}
	plain := domain.Incident{Fingerprint: "ab", Service: "checkout", FirstSeen: t0, LastSeen: t0}
	for _, got := range []string{l.LogQueryURL(plain), l.TraceURL("4bf92f3577b34da6a3ce929d0e0e4736", ""),
		l.TraceURL("projects/Evil.example/traces/4bf9", ""), l.TraceURL("projects/p/traces/not-hex", "")} {
		if got != "" {
			t.Errorf("a link without a Google Cloud origin: %s", got)
		}
	}
	// A project from the trace names when the resource has none; no
	// resource, no query (it would not show the incident's lines).
	noProject := cloudRun()
	delete(noProject.Labels, "project_id")
	if u := l.LogQueryURL(noProject); !strings.HasSuffix(u, "?project=shop-prod") {
		t.Errorf("project from the trace: %s", u)
	}
	noResource := cloudRun()
	delete(noResource.Labels, "resource_type")
	if u := l.LogQueryURL(noResource); u != "" {
		t.Errorf("no resource: %s", u)
	}
}

// Templates for other backends: values percent-encoded so log text can
// neither add parameters nor leave the URL; a project placeholder with no
// project gives no link.
func TestTemplates(t *testing.T) {
	l := Links{
		LogQuery: "https://grafana.example.com/explore?left={\"queries\":[{\"expr\":\"{service}\"}]}&from={start_ms}&to={end_ms}&q={template}",
		Trace:    "https://jaeger.example.com/trace/{trace}?uiFind={span}",
	}
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
	in := cloudRun()
	in.Service = `checkout"&to=0#x`
	u := l.LogQueryURL(in)
	if !strings.Contains(u, "from=1795164900000&to=1795166100000") || !strings.Contains(u, "checkout%22%26to%3D0%23x") ||
		!strings.Contains(u, "q=dial%20tcp%20%3C%2A%3E%3A%20connection%20refused") {
		t.Errorf("log query: %s", u)
	}
	parsed, err := url.Parse(u)
	if err != nil || parsed.Host != "grafana.example.com" || parsed.Fragment != "" || len(parsed.Query()["to"]) != 1 {
		t.Errorf("a service name changed the URL: %s", u)
	}
	if got := l.TraceURL("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"); got != "https://jaeger.example.com/trace/4bf92f3577b34da6a3ce929d0e0e4736?uiFind=00f067aa0ba902b7" {
		t.Errorf("trace: %s", got)
	}
	// A Cloud Logging trace name: the id alone goes in {trace}; no span,
	// an empty one.
	if got := l.TraceURL("projects/shop-prod/traces/4bf92f3577b34da6a3ce929d0e0e4736", ""); got != "https://jaeger.example.com/trace/4bf92f3577b34da6a3ce929d0e0e4736?uiFind=" {
		t.Errorf("trace name: %s", got)
	}
	if got := l.TraceURL("../../admin?x=1", "&a=b"); got != "https://jaeger.example.com/trace/..%2F..%2Fadmin%3Fx%3D1?uiFind=%26a%3Db" {
		t.Errorf("a hostile trace id: %s", got)
	}
	p := Links{LogQuery: "https://logs.example.com/{project}/q?s={service}"}
	if got := p.LogQueryURL(domain.Incident{Service: "x"}); got != "" {
		t.Errorf("no project: %s", got)
	}
	if h := l.Hosts(); len(h) != 2 || h[0] != "grafana.example.com" || h[1] != "jaeger.example.com" {
		t.Errorf("hosts %v", h)
	}
}

func TestCheckRefuses(t *testing.T) {
	for _, bad := range []Links{
		{LogQuery: "http://logs.example.com/?q={service}"},
		{Trace: "https://{service}.example.com/t/{trace}"},
		{Trace: "https://x.example.com/t/{spam}"},
		{LogQuery: "javascript:alert({service})"},
		{LogQuery: "/relative/{service}"},
	} {
		if err := bad.Check(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if err := (Links{LogQuery: "http://127.0.0.1:3000/explore?q={service}"}).Check(); err != nil {
		t.Errorf("loopback http: %v", err)
	}
}
