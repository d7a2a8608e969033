// Package dashboard is the agent's read-only web UI: the incident list, an
// incident's evidence and what the agent concluded, proposed and did, the
// audit trail with its verification, and the agent's status. Pages are
// rendered on the server with html/template (every piece of log text is
// escaped), the few assets are embedded, nothing is loaded from elsewhere,
// and a strict Content-Security-Policy allows no inline script. Only GET
// and HEAD are served. Bound beyond loopback it requires authentication
// (auth.go).
package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/inert"
	"github.com/cloud-sre-agent/sre-agent/internal/links"
)

//go:embed web
var webFS embed.FS

// Store is what the dashboard reads incidents from: a page of the list
// at a time (filtered, searched, sorted and paged by the store), the
// counts and services the list's filters offer, and one incident.
type Store interface {
	Query(ctx context.Context, q domain.Query) (domain.Page, error)
	CountByState(ctx context.Context) (map[domain.State]int, error)
	Services(ctx context.Context) ([]string, error)
	Find(ctx context.Context, id string) (*domain.Incident, json.RawMessage, error)
}

// AuditTrail is the audit log as the dashboard reads it.
type AuditTrail interface {
	// Records returns every record, oldest first (every replica's);
	// RecordsOf those naming one incident.
	Records(ctx context.Context) ([]audit.Record, error)
	RecordsOf(ctx context.Context, fp domain.Fingerprint) ([]audit.Record, error)
	// Verify checks every chain: a summary, or the first problem.
	Verify(ctx context.Context) (string, error)
}

// Budget is the daily model budget the status page shows use against.
type Budget struct {
	Tokens  int64
	CostUSD float64
}

// Options build a dashboard.
type Options struct {
	Store    Store
	Audit    AuditTrail
	Gatherer prometheus.Gatherer
	Budget   Budget
	Auth     Auth
	Log      *slog.Logger
	Now      func() time.Time
	// Routes, when set, says where an incident's changes are notified
	// (the effective route); Conversations what each receiver was told.
	Routes        func(domain.Incident, *domain.Run) []Route
	Conversations func(context.Context, domain.Fingerprint) ([]domain.Conversation, error)
	// Silences, when set, lists the silences (shown on the list page);
	// Notes what people said of an incident (acknowledged, resolved).
	Silences func(context.Context) ([]domain.Silence, error)
	Notes    func(context.Context, domain.Fingerprint) ([]domain.Note, error)
	// Links build the log query and trace links (Google Cloud's consoles
	// by default).
	Links links.Links
}

type dashboard struct {
	o     Options
	pages map[string]*template.Template
	rates rateSampler
}

// New builds the dashboard's handler; mount it at "/".
func New(o Options) (http.Handler, error) {
	if o.Store == nil || o.Audit == nil || o.Gatherer == nil {
		return nil, errors.New("dashboard: a store, an audit trail and a metrics gatherer are needed")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	d := &dashboard{o: o, pages: map[string]*template.Template{}}
	funcs := template.FuncMap{
		"when":      func(t time.Time) string { return when(t) },
		"pct":       func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
		"short":     func(fp domain.Fingerprint) string { return fp.Short() },
		"join":      strings.Join,
		"hasPrefix": strings.HasPrefix,
		"json":      func(v any) string { b, _ := json.MarshalIndent(v, "", "  "); return string(b) },
		"usd":       func(f float64) string { return fmt.Sprintf("$%.4f", f) },
		"sevclass": func(s domain.Severity) string {
			return "sev-" + strings.ToLower(s.String())
		},
		"perPage": func(cur int) []int {
			sizes := []int{25, 50, 100, 250, 500}
			if !slices.Contains(sizes, cur) {
				sizes = append(sizes, cur)
				slices.Sort(sizes)
			}
			return sizes
		},
		"fields": fieldList,
		"lines":  func(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") },
		"diffclass": func(l string) string {
			switch {
			case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
				return "diff-file"
			case strings.HasPrefix(l, "+"):
				return "diff-add"
			case strings.HasPrefix(l, "-"):
				return "diff-del"
			case strings.HasPrefix(l, "@@"):
				return "diff-hunk"
			}
			return ""
		},
	}
	for _, p := range []string{"list", "incident", "audit", "status", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(webFS, "web/layout.html", "web/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard template %s: %w", p, err)
		}
		d.pages[p] = t
	}
	static, err := fs.Sub(webFS, "web/static")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.list)
	mux.HandleFunc("GET /incidents/{id}", d.incident)
	mux.HandleFunc("GET /audit", d.auditPage)
	mux.HandleFunc("GET /status", d.status)
	mux.Handle("GET /static/", http.StripPrefix("/static/", noListing(http.FileServerFS(static))))
	return secure(o.Auth.wrap(mux, o.Log, "")), nil
}

// noListing serves files, never a directory's listing.
func noListing(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// csp allows the page's own stylesheet, script and images and nothing
// else: no inline script or style, no framing, no form posts elsewhere.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// secure refuses every method but GET and HEAD and sets the security
// headers on every answer.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "the dashboard is read-only", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (d *dashboard) render(w http.ResponseWriter, page string, status int, data any) {
	var b strings.Builder
	if err := d.pages[page].Execute(&b, data); err != nil {
		d.o.Log.Error("dashboard render", "page", page, "error", err)
		http.Error(w, "could not render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprint(w, b.String())
}

func (d *dashboard) fail(w http.ResponseWriter, status int, msg string) {
	d.render(w, "error", status, map[string]any{"Title": http.StatusText(status), "Nav": "", "Message": msg})
}

// listData is the incident list page.
type listData struct {
	Title, Nav               string
	Incidents                []listRow
	Total, Matched           int
	State, Service, Severity string
	Query, Sort, Since       string
	States, Services, Sevs   []string
	Counts                   map[domain.State]int
	// Page is the page shown (1-based) of Pages, of Per rows; Prev and
	// Next link the neighbours, SortBy each column's sort link, with the
	// filters kept.
	Page, Pages, Per int
	Prev, Next       string
	SortBy           map[string]string
	Refresh          int
	// Silences are the silences in force or to come.
	Silences []domain.Silence
}

// listRow is an incident in the list, with what its run says.
type listRow struct {
	domain.Incident
	Category, RootCause string
	Attention           bool
}

// sinces are the time ranges the list offers.
var sinces = map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}

func (d *dashboard) list(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	data := listData{Title: "Incidents", Nav: "list", State: q.Get("state"), Service: q.Get("service"),
		Severity: q.Get("severity"), Query: strings.TrimSpace(q.Get("q")), Sort: q.Get("sort"), Since: q.Get("since")}
	data.Per = pageRows
	if n, err := strconv.Atoi(q.Get("per")); err == nil && n >= 5 && n <= 500 {
		data.Per = n
	}
	query := domain.Query{Service: data.Service, Text: data.Query, Limit: data.Per}
	if dur, ok := sinces[data.Since]; ok {
		query.Since = d.o.Now().Add(-dur)
	} else {
		data.Since = ""
	}
	if st := domain.State(data.State); slices.Contains(domain.States, st) {
		query.States = []domain.State{st}
	} else {
		data.State = ""
	}
	if sev, ok := domain.ParseSeverity(data.Severity); ok && data.Severity != "" {
		query.Severities = []domain.Severity{sev}
	} else {
		data.Severity = ""
	}
	if !slices.Contains(domain.QuerySorts, data.Sort) {
		data.Sort = ""
	}
	query.Sort = data.Sort
	if n, err := strconv.Atoi(q.Get("refresh")); err == nil && n >= 10 && n <= 3600 {
		data.Refresh = n
	}
	for _, st := range domain.States {
		data.States = append(data.States, string(st))
	}
	for _, s := range []domain.Severity{domain.Emergency, domain.Alert, domain.Critical, domain.Error, domain.Warning} {
		data.Sevs = append(data.Sevs, s.String())
	}
	data.Page = 1
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 && n <= 1_000_000 {
		data.Page = n
	}
	query.Offset = (data.Page - 1) * data.Per
	page, err := d.o.Store.Query(ctx, query)
	if err == nil && len(page.Incidents) == 0 && data.Page > 1 && page.Matched > 0 {
		// Past the last page (the list shrank): show the last page.
		data.Page = (page.Matched + data.Per - 1) / data.Per
		query.Offset = (data.Page - 1) * data.Per
		page, err = d.o.Store.Query(ctx, query)
	}
	if err == nil {
		data.Counts, err = d.o.Store.CountByState(ctx)
	}
	if err == nil {
		data.Services, err = d.o.Store.Services(ctx)
	}
	if err != nil {
		d.o.Log.Error("dashboard: list incidents", "error", err)
		d.fail(w, http.StatusInternalServerError, "The incident store could not be read.")
		return
	}
	for _, n := range data.Counts {
		data.Total += n
	}
	for _, l := range page.Incidents {
		row := listRow{Incident: l.Incident, Category: inert.Reveal(l.Category), RootCause: l.RootCause, Attention: l.Attention}
		showable(&row.Incident)
		data.Incidents = append(data.Incidents, row)
	}
	if d.o.Silences != nil {
		sl, err := d.o.Silences(ctx)
		if err != nil {
			d.o.Log.Error("dashboard: read silences", "error", err)
		}
		now := d.o.Now()
		for _, s := range sl {
			if s.Active(now) || s.Start.After(now) {
				s.Comment, s.Author = inert.Reveal(s.Comment), inert.Reveal(s.Author)
				for i := range s.Matchers {
					s.Matchers[i].Value = inert.Reveal(s.Matchers[i].Value)
				}
				data.Silences = append(data.Silences, s)
			}
		}
	}
	data.Matched = page.Matched
	data.Pages = max(1, (page.Matched+data.Per-1)/data.Per)
	link := func(set map[string]string) string {
		v := url.Values{}
		for k, x := range map[string]string{"state": data.State, "service": data.Service, "severity": data.Severity, "q": data.Query,
			"sort": data.Sort, "since": data.Since} {
			if x != "" {
				v.Set(k, x)
			}
		}
		if data.Refresh > 0 {
			v.Set("refresh", strconv.Itoa(data.Refresh))
		}
		if data.Per != pageRows {
			v.Set("per", strconv.Itoa(data.Per))
		}
		for k, x := range set {
			v.Set(k, x)
		}
		return "/?" + v.Encode()
	}
	if data.Page > 1 {
		data.Prev = link(map[string]string{"page": strconv.Itoa(data.Page - 1)})
	}
	if data.Page < data.Pages {
		data.Next = link(map[string]string{"page": strconv.Itoa(data.Page + 1)})
	}
	data.SortBy = map[string]string{}
	for _, by := range []string{"severity", "state", "events", "service", "newest", "category"} {
		data.SortBy[by] = link(map[string]string{"sort": by, "page": "1"})
	}
	d.render(w, "list", http.StatusOK, data)
}

// kv is one detail of an audit record.
type kv struct{ K, V string }

// fieldList renders an audit record's details as sorted pairs: text as
// it is (escaped by the template, hidden characters revealed), anything
// else as compact JSON.
func fieldList(f map[string]any) []kv {
	out := make([]kv, 0, len(f))
	for k, v := range f {
		s, ok := v.(string)
		if !ok {
			b, _ := json.Marshal(v)
			s = string(b)
		}
		out = append(out, kv{inert.Reveal(k), inert.Reveal(s)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
	return out
}

// pageRows is how many incidents a list page shows unless ?per= (5 to
// 500) says otherwise.
const pageRows = 100

// incidentData is an incident's page.
type incidentData struct {
	Title, Nav    string
	Incident      *domain.Incident
	Run           *domain.Run
	Chart         Chart
	Audit         []audit.Record
	DiffLines     []string
	Routes        []Route
	Conversations []domain.Conversation
	Notes         []domain.Note
	// LogQuery links the incident's lines in the log console; Traces
	// link each trace id it carried, where a backend is known.
	LogQuery string
	Traces   []traceLink
}

// traceLink is a trace id, the span seen with it and its page ("" when
// none is known).
type traceLink struct{ ID, Span, URL string }

// Route is one receiver an incident's changes go to, by which route of
// the notification tree, for which transitions.
type Route struct {
	Receiver, Route string
	Transitions     []string
}

func (d *dashboard) incident(w http.ResponseWriter, r *http.Request) {
	in, raw, err := d.o.Store.Find(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, domain.ErrNoIncident):
		d.o.Log.Info("dashboard: no such incident", "request", clipPath(r.URL.Path))
		d.fail(w, http.StatusNotFound, "No such incident.")
		return
	case errors.Is(err, domain.ErrBadIncidentID):
		d.o.Log.Warn("dashboard: bad incident id", "request", clipPath(r.URL.Path), "error", err.Error())
		d.fail(w, http.StatusBadRequest, "That id does not name one incident: give a fingerprint or a longer prefix of one.")
		return
	case err != nil:
		d.o.Log.Error("dashboard: find incident", "error", err)
		d.fail(w, http.StatusInternalServerError, "The incident store could not be read.")
		return
	}
	data := incidentData{Title: "Incident " + in.Fingerprint.Short(), Incident: in, Chart: NewChart(in.Timeline),
		LogQuery: d.o.Links.LogQueryURL(*in)}
	for _, tr := range in.Traces {
		data.Traces = append(data.Traces, traceLink{ID: inert.Reveal(tr), Span: inert.Reveal(in.Spans[tr]), URL: d.o.Links.TraceURL(tr, in.Spans[tr])})
	}
	showable(in)
	raw = json.RawMessage(inert.Reveal(string(raw)))
	if len(raw) > 0 {
		data.Run = new(domain.Run)
		if err := json.Unmarshal(raw, data.Run); err != nil {
			d.o.Log.Error("dashboard: decode run", "fingerprint", string(in.Fingerprint), "error", err)
			data.Run = nil
		}
	}
	if data.Run != nil && data.Run.Remediation != nil && data.Run.Remediation.Diff != "" {
		data.DiffLines = strings.Split(strings.TrimRight(data.Run.Remediation.Diff, "\n"), "\n")
	}
	data.Audit, err = d.o.Audit.RecordsOf(r.Context(), in.Fingerprint)
	if err != nil {
		d.o.Log.Error("dashboard: read audit", "error", err)
	}
	if d.o.Routes != nil {
		data.Routes = d.o.Routes(*in, data.Run)
	}
	if d.o.Notes != nil {
		if data.Notes, err = d.o.Notes(r.Context(), in.Fingerprint); err != nil {
			d.o.Log.Error("dashboard: read notes", "error", err)
		}
		for i, n := range data.Notes {
			data.Notes[i].Author, data.Notes[i].Text = inert.Reveal(n.Author), inert.Reveal(n.Text)
		}
	}
	if d.o.Conversations != nil {
		if data.Conversations, err = d.o.Conversations(r.Context(), in.Fingerprint); err != nil {
			d.o.Log.Error("dashboard: read conversations", "error", err)
		}
		for i, c := range data.Conversations {
			data.Conversations[i].Thread, data.Conversations[i].Error = inert.Reveal(c.Thread), inert.Reveal(c.Error)
		}
	}
	d.render(w, "incident", http.StatusOK, data)
}

// showable shows the hidden characters of an incident's log-derived text
// as code points (inert.Reveal): log text cannot make a line read other
// than it is.
func showable(in *domain.Incident) {
	in.Service, in.Stack = inert.Reveal(in.Service), inert.Reveal(in.Stack)
	ts := make([]domain.Template, len(in.Templates))
	for i, t := range in.Templates {
		t.Text = inert.Reveal(t.Text)
		ts[i] = t
	}
	in.Templates = ts
	ss := make([]string, len(in.Samples))
	for i, x := range in.Samples {
		ss[i] = inert.Reveal(x)
	}
	in.Samples = ss
	in.Latest = append([]string(nil), in.Latest...)
	for i, x := range in.Latest {
		in.Latest[i] = inert.Reveal(x)
	}
	in.Traces = append([]string(nil), in.Traces...)
	for i, x := range in.Traces {
		in.Traces[i] = inert.Reveal(x)
	}
	reveal := func(list []string) []string {
		out := make([]string, len(list))
		for i, x := range list {
			out[i] = inert.Reveal(x)
		}
		return out
	}
	in.Services, in.Entities = reveal(in.Services), reveal(in.Entities)
	if in.Why != nil {
		why := *in.Why
		why.Service, why.Template = inert.Reveal(why.Service), inert.Reveal(why.Template)
		in.Why = &why
	}
}

// clipPath bounds a request path for the log.
func clipPath(p string) string {
	if len(p) > 80 {
		return p[:80] + "…"
	}
	return p
}

// maxAuditRows bounds the audit page.
const maxAuditRows = 500

func (d *dashboard) auditPage(w http.ResponseWriter, r *http.Request) {
	recs, err := d.o.Audit.Records(r.Context())
	data := map[string]any{"Title": "Audit log", "Nav": "audit"}
	if err != nil {
		data["ReadError"] = err.Error()
	}
	summary, verr := d.o.Audit.Verify(r.Context())
	data["Verified"], data["Summary"] = verr == nil, summary
	if verr != nil {
		data["Problem"] = verr.Error()
	}
	data["Total"] = len(recs)
	rows := make([]audit.Record, 0, min(len(recs), maxAuditRows))
	for i := len(recs) - 1; i >= 0 && len(rows) < maxAuditRows; i-- {
		rows = append(rows, recs[i])
	}
	data["Records"] = rows
	d.render(w, "audit", http.StatusOK, data)
}

// when formats a time for people: UTC, to the second.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// rateSampler turns counters into rates between two status page visits.
type rateSampler struct {
	mu   sync.Mutex
	at   time.Time
	last map[string]float64
}

// rates returns per-key rates since the previous sample (at least a second
// before), and the seconds they cover (0: no earlier sample yet).
func (s *rateSampler) rates(now time.Time, cur map[string]float64) (map[string]float64, float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]float64{}
	secs := now.Sub(s.at).Seconds()
	if s.last == nil || secs < 1 {
		if s.last == nil {
			s.at, s.last = now, cur
		}
		return out, 0
	}
	for k, v := range cur {
		out[k] = max(v-s.last[k], 0) / secs
	}
	s.at, s.last = now, cur
	return out, secs
}
