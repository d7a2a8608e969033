// Package links builds the links from an incident to where its evidence
// lives: the log query that shows its lines and the trace of each trace
// id it carried. Google Cloud's consoles are built in (Cloud Logging for
// incidents read from a LogEntry, Cloud Trace for its trace names); any
// other backend (Grafana, Datadog, Kibana, Jaeger, Honeycomb ...) is a URL
// template. Every value put into a template is percent-encoded: a
// service name or trace id from a log cannot add parameters, leave the
// URL or change its host.
package links

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/egress"
)

// Links are the templates; the zero value links to Google Cloud's
// consoles where an incident's evidence came from Google Cloud, and
// nowhere else.
type Links struct {
	// LogQuery is the log query's URL for an incident; placeholders:
	// {service}, {fingerprint}, {template} (the leading template's text),
	// {start} and {end} (RFC 3339, five minutes around the incident),
	// {start_ms} and {end_ms} (Unix milliseconds), {project}.
	LogQuery string `yaml:"log_query"`
	// Trace is a trace's URL; placeholders: {trace} (the id alone),
	// {trace_name} (as the log carried it), {span} (the span id seen with
	// it, when any), {project}.
	Trace string `yaml:"trace"`
}

// Margin widens an incident's time range in its log query.
const Margin = 5 * time.Minute

var (
	placeholder = regexp.MustCompile(`\{[a-z_]+\}`)
	logKeys     = []string{"{service}", "{fingerprint}", "{template}", "{start}", "{end}", "{start_ms}", "{end_ms}", "{project}"}
	traceKeys   = []string{"{trace}", "{trace_name}", "{span}", "{project}"}
)

// Validate is Check, for the configuration's load.
func (l Links) Validate() error { return l.Check() }

// Check refuses a template that is not an https URL (http only to
// loopback) or names a placeholder it cannot fill.
func (l Links) Check() error {
	for _, t := range []struct {
		name, tmpl string
		keys       []string
	}{{"log_query", l.LogQuery, logKeys}, {"trace", l.Trace, traceKeys}} {
		if t.tmpl == "" {
			continue
		}
		for _, p := range placeholder.FindAllString(t.tmpl, -1) {
			if !slices.Contains(t.keys, p) {
				return fmt.Errorf("links.%s: unknown placeholder %s (known: %s)", t.name, p, strings.Join(t.keys, " "))
			}
		}
		// The host is checked with placeholders removed: a placeholder in
		// the host would let log text choose where the link goes.
		u, err := url.Parse(placeholder.ReplaceAllString(t.tmpl, "x"))
		if err != nil {
			return fmt.Errorf("links.%s: %w", t.name, err)
		}
		host := u.Hostname()
		if strings.Contains(hostPart(t.tmpl), "{") {
			return errors.New("links." + t.name + ": a placeholder in the host would let log text choose where the link goes")
		}
		switch {
		case u.Scheme == "https" && host != "":
		case u.Scheme == "http" && egress.IsLoopback(host):
		default:
			return fmt.Errorf("links.%s: %q is not an https URL (plain http only to loopback)", t.name, t.tmpl)
		}
	}
	return nil
}

// Hosts are the hosts the templates link to, for the Markdown renderers'
// allow-lists.
func (l Links) Hosts() []string {
	var out []string
	for _, t := range []string{l.LogQuery, l.Trace} {
		if u, err := url.Parse(placeholder.ReplaceAllString(t, "x")); err == nil && u.Hostname() != "" {
			out = append(out, strings.ToLower(u.Hostname()))
		}
	}
	return out
}

// LogQueryURL is the log query for in: the template filled, else Cloud
// Logging's Logs Explorer when the incident came from a Google Cloud
// project, else "".
func (l Links) LogQueryURL(in domain.Incident) string {
	start, end := in.FirstSeen.Add(-Margin).UTC(), in.LastSeen.Add(Margin).UTC()
	project := in.Labels["project_id"]
	for _, tr := range in.Traces {
		if p, _, ok := cloudTrace(tr); ok && project == "" {
			project = p
		}
	}
	if l.LogQuery == "" {
		return cloudLogging(in, project, start, end)
	}
	tmpl := ""
	if len(in.Templates) > 0 {
		tmpl = in.Templates[0].Text
	}
	if strings.Contains(l.LogQuery, "{project}") && project == "" {
		return ""
	}
	return fill(l.LogQuery, map[string]string{
		"{service}": in.Service, "{fingerprint}": string(in.Fingerprint), "{template}": tmpl,
		"{start}": start.Format(time.RFC3339), "{end}": end.Format(time.RFC3339),
		"{start_ms}": fmt.Sprint(start.UnixMilli()), "{end_ms}": fmt.Sprint(end.UnixMilli()), "{project}": project,
	})
}

// TraceURL is the page of one trace id (and the span seen with it, when
// any): the template filled, else Cloud Trace for a Cloud Logging trace
// name (projects/P/traces/T), else "".
func (l Links) TraceURL(trace, span string) string {
	project, id, named := cloudTrace(trace)
	if l.Trace == "" {
		if !named {
			return ""
		}
		return "https://console.cloud.google.com/traces/list?project=" + project + "&tid=" + id
	}
	if !named {
		id = trace
	}
	if id == "" || (strings.Contains(l.Trace, "{project}") && project == "") {
		return ""
	}
	return fill(l.Trace, map[string]string{"{trace}": id, "{trace_name}": trace, "{span}": span, "{project}": project})
}

// resourceKeys are the resource labels that name where an incident's
// lines come from (not one revision, instance or pod of it), in the order
// the query lists them.
var resourceKeys = []string{"location", "cluster_name", "namespace_name", "service_name", "function_name", "container_name", "module_id", "job_name"}

// cloudLogging is the Logs Explorer's page for an incident read from a
// Google Cloud resource's LogEntry: its resource's lines at warning and
// above, in its time range; "" for anything else.
func cloudLogging(in domain.Incident, project string, start, end time.Time) string {
	t := in.Labels["resource_type"]
	if !validProject(project) || t == "" {
		return ""
	}
	q := []string{fmt.Sprintf("resource.type=%q", t)}
	for _, k := range resourceKeys {
		if v := in.Labels[k]; v != "" {
			q = append(q, fmt.Sprintf("resource.labels.%s=%q", k, v))
		}
	}
	q = append(q, "severity>=WARNING")
	return "https://console.cloud.google.com/logs/query;query=" + esc(strings.Join(q, "\n")) +
		";startTime=" + esc(start.Format(time.RFC3339)) + ";endTime=" + esc(end.Format(time.RFC3339)) + "?project=" + project
}

// cloudTrace splits a Cloud Logging trace name.
func cloudTrace(tr string) (project, id string, ok bool) {
	rest, ok := strings.CutPrefix(tr, "projects/")
	if !ok {
		return "", "", false
	}
	project, id, ok = strings.Cut(rest, "/traces/")
	if !ok || !validProject(project) || !validHex(id) {
		return "", "", false
	}
	return project, id, true
}

func fill(tmpl string, values map[string]string) string {
	return placeholder.ReplaceAllStringFunc(tmpl, func(p string) string { return esc(values[p]) })
}

// esc percent-encodes everything but unreserved characters (also ';',
// '/', '=' and '&': a value can never add a parameter or a path).
func esc(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

func hostPart(tmpl string) string {
	_, rest, ok := strings.Cut(tmpl, "://")
	if !ok {
		return tmpl
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

func validProject(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func validHex(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}
