package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/report"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// readOnly marks a tool that changes nothing and reaches nothing outside
// the agent's own store.
var readOnly = &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: new(bool)}

func (s *server) addTools(srv *mcp.Server) {
	mcp.AddTool(srv, &mcp.Tool{Name: "list_incidents", Annotations: readOnly,
		Description: "List and search incidents, a page at a time: by state, service, minimum severity, time range and text " +
			"(templates, samples, stack, service, id, triage category, root cause). Use next_offset for the next page."}, s.listIncidents)
	mcp.AddTool(srv, &mcp.Tool{Name: "get_incident", Annotations: readOnly,
		Description: "One incident: templates, counts, timeline, redacted samples, stack, triage, root cause, proposal and diff, " +
			"pull request, validation, links and audit records."}, s.getIncident)
	mcp.AddTool(srv, &mcp.Tool{Name: "search_templates", Annotations: readOnly,
		Description: "Search the log templates the agent has mined (a substring, case-insensitive), a page at a time."}, s.searchTemplates)
	mcp.AddTool(srv, &mcp.Tool{Name: "explain_incident", Annotations: readOnly,
		Description: "Why an incident opened: the detection rule, its windows and counts against the baseline."}, s.explainIncident)
	mcp.AddTool(srv, &mcp.Tool{Name: "get_code_windows", Annotations: readOnly,
		Description: "The repository code the analysis read for an incident (paths, line ranges, file versions and the lines)."}, s.codeWindows)
	mcp.AddTool(srv, &mcp.Tool{Name: "verify_audit", Annotations: readOnly,
		Description: "Verify the audit log's hash chain (every replica's): intact, or the first problem."}, s.verifyAudit)
	mcp.AddTool(srv, &mcp.Tool{Name: "get_usage", Annotations: readOnly,
		Description: "Model calls, tokens and spend on a day (UTC, default today), by provider and model, from the audit log."}, s.usage)
}

// Summary is what a list shows of an incident outside the data block.
type Summary struct {
	ID        string    `json:"id" jsonschema:"the incident's id (its fingerprint)"`
	State     string    `json:"state"`
	Severity  string    `json:"severity"`
	Events    int64     `json:"events"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Attention bool      `json:"attention,omitempty" jsonschema:"instruction-like text was found in its logs: a person should look"`
}

// ListIn asks for a page of incidents.
type ListIn struct {
	State       string `json:"state,omitempty" jsonschema:"one state: new, triaged, analyzed, proposed, delivered, rejected, not-actionable, failed, silenced, resolved"`
	Service     string `json:"service,omitempty" jsonschema:"one service's exact name"`
	MinSeverity string `json:"min_severity,omitempty" jsonschema:"WARNING, ERROR, CRITICAL, ALERT or EMERGENCY: that and above"`
	Since       string `json:"since,omitempty" jsonschema:"last event at or after: a duration back from now (24h, 7d) or an RFC 3339 time"`
	Until       string `json:"until,omitempty" jsonschema:"first event at or before: an RFC 3339 time"`
	Text        string `json:"text,omitempty" jsonschema:"case-insensitive substring of templates, samples, stack, service, id, category or root cause"`
	Sort        string `json:"sort,omitempty" jsonschema:"severity (default), newest, state, events, service or category"`
	Limit       int    `json:"limit,omitempty" jsonschema:"page size, 1 to 50 (default 20)"`
	Offset      int    `json:"offset,omitempty" jsonschema:"incidents to skip (next_offset of the previous page)"`
}

// ListOut is a page of incidents.
type ListOut struct {
	Incidents []Summary `json:"incidents"`
	Matched   int       `json:"matched" jsonschema:"incidents matching in all"`
	// NextOffset is the offset of the next page; 0 when this is the last.
	NextOffset int `json:"next_offset,omitempty"`
	// Data holds, per incident id, its service, leading template, triage
	// category and root cause.
	Data Untrusted `json:"data"`
}

// listed is an incident's untrusted part in a list.
type listed struct {
	Service   string `json:"service"`
	Template  string `json:"leading_template,omitempty"`
	Category  string `json:"category,omitempty"`
	RootCause string `json:"root_cause,omitempty"`
}

func (s *server) listIncidents(ctx context.Context, _ *mcp.CallToolRequest, in ListIn) (*mcp.CallToolResult, ListOut, error) {
	q := domain.Query{Service: in.Service, Text: in.Text, Sort: in.Sort, Offset: in.Offset, Limit: in.Limit}
	if q.Limit == 0 {
		q.Limit = 20
	}
	if q.Limit < 1 || q.Limit > MaxPage {
		return nil, ListOut{}, fmt.Errorf("limit %d: 1 to %d", in.Limit, MaxPage)
	}
	if in.State != "" {
		q.States = []domain.State{domain.State(in.State)}
	}
	if in.MinSeverity != "" {
		min, ok := domain.ParseSeverity(in.MinSeverity)
		if !ok {
			return nil, ListOut{}, fmt.Errorf("min_severity %q: WARNING, ERROR, CRITICAL, ALERT or EMERGENCY", in.MinSeverity)
		}
		for _, sev := range []domain.Severity{domain.Warning, domain.Error, domain.Critical, domain.Alert, domain.Emergency} {
			if sev >= min {
				q.Severities = append(q.Severities, sev)
			}
		}
	}
	var err error
	if q.Since, err = domain.ParseSince(in.Since, s.o.Now()); err != nil {
		return nil, ListOut{}, fmt.Errorf("since %w", err)
	}
	if in.Until != "" {
		if q.Until, err = time.Parse(time.RFC3339, in.Until); err != nil {
			return nil, ListOut{}, fmt.Errorf("until %q: an RFC 3339 time", in.Until)
		}
	}
	page, err := s.o.Store.Query(ctx, q)
	if err != nil {
		return nil, ListOut{}, err
	}
	out := ListOut{Incidents: []Summary{}, Matched: page.Matched}
	data := map[string]listed{}
	for _, l := range page.Incidents {
		out.Incidents = append(out.Incidents, summary(l.Incident, l.Attention))
		d := listed{Service: l.Service, Category: l.Category, RootCause: l.RootCause}
		if len(l.Templates) > 0 {
			d.Template = l.Templates[0].Text
		}
		data[string(l.Fingerprint)] = d
	}
	if next := q.Offset + len(page.Incidents); len(page.Incidents) > 0 && next < page.Matched {
		out.NextOffset = next
	}
	// The trusted fields through the redactor; the data is redacted
	// field by field as it is marked.
	if out, err = redactOut(s, out); err != nil {
		return nil, ListOut{}, err
	}
	out.Data, err = s.untrusted(data)
	return nil, out, err
}

func summary(in domain.Incident, attention bool) Summary {
	return Summary{ID: string(in.Fingerprint), State: string(in.State), Severity: in.Severity.String(), Events: in.Count,
		FirstSeen: in.FirstSeen.UTC(), LastSeen: in.LastSeen.UTC(), Attention: attention}
}

// IDIn names one incident.
type IDIn struct {
	ID string `json:"id" jsonschema:"the incident's id or a unique prefix of it (8 or more characters)"`
}

// IncidentOut is one incident.
type IncidentOut struct {
	Summary
	Reasons   []string `json:"reasons"`
	RunNumber int      `json:"run_number,omitempty"`
	// PullRequest is where the proposal was delivered (a pull or merge
	// request, or a local report); DeliveredTo the target.
	PullRequest string `json:"pull_request,omitempty"`
	DeliveredTo string `json:"delivered_to,omitempty"`
	// Validation says whether the diff applied and its checks passed.
	Validation *ValidationOut `json:"validation,omitempty"`
	LogQuery   string         `json:"log_query_url,omitempty"`
	Traces     []TraceOut     `json:"trace_links,omitempty"`
	// Timeline is events per minute, the latest MaxTimeline minutes.
	Timeline []Minute `json:"timeline,omitempty"`
	// Audit are the audit records naming the incident (model calls,
	// deliveries, notifications), the latest MaxAuditRecords.
	Audit []AuditOut `json:"audit,omitempty"`
	// Data holds the incident's text from logs and models: service,
	// templates, samples, latest lines, stack, triage, analysis, proposal
	// and diff, rejection, failure, attention findings.
	Data Untrusted `json:"data"`
}

// ValidationOut is how the diff fared with the language's tools.
type ValidationOut struct {
	Applied bool `json:"applied"`
	Passed  bool `json:"passed"`
	Checks  int  `json:"checks"`
}

// TraceOut is a trace's link, in the order of the data's traces (the
// ids themselves are in the data); empty when no backend is known.
type TraceOut struct {
	URL string `json:"url,omitempty"`
}

// Minute is one minute's events.
type Minute struct {
	At     time.Time `json:"at"`
	Events int64     `json:"events"`
}

// AuditOut is one audit record, briefly.
type AuditOut struct {
	Seq     int64     `json:"seq"`
	Replica string    `json:"replica,omitempty"`
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Outcome string    `json:"outcome,omitempty"`
}

// MaxTimeline bounds the minutes an incident's result carries.
const MaxTimeline = 120

type incidentData struct {
	Service     string                   `json:"service"`
	Services    []string                 `json:"services,omitempty"`
	Entities    []string                 `json:"entities,omitempty"`
	Templates   []domain.Template        `json:"templates"`
	Samples     []string                 `json:"first_lines"`
	Latest      []string                 `json:"latest_lines,omitempty"`
	Traces      []string                 `json:"traces,omitempty"`
	Spans       map[string]string        `json:"spans,omitempty"`
	Stack       string                   `json:"stack,omitempty"`
	Triage      *domain.Triage           `json:"triage,omitempty"`
	Analysis    *domain.Analysis         `json:"analysis,omitempty"`
	Remediation *domain.Remediation      `json:"proposal,omitempty"`
	Rejection   *domain.GateDecision     `json:"policy_rejection,omitempty"`
	Failure     string                   `json:"failure,omitempty"`
	Attention   []domain.Finding         `json:"attention,omitempty"`
	Checks      []domain.ValidationCheck `json:"validation_checks,omitempty"`
}

// find reads an incident and its run by id.
func (s *server) find(ctx context.Context, id string) (*domain.Incident, *domain.Run, error) {
	if strings.TrimSpace(id) == "" {
		return nil, nil, errors.New("an incident id is needed")
	}
	in, raw, err := s.o.Store.Find(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	var run *domain.Run
	if len(raw) > 0 {
		run = new(domain.Run)
		if err := json.Unmarshal(raw, run); err != nil {
			return nil, nil, fmt.Errorf("incident %s: its run cannot be read", in.Fingerprint.Short())
		}
	}
	return in, run, nil
}

func (s *server) getIncident(ctx context.Context, _ *mcp.CallToolRequest, in IDIn) (*mcp.CallToolResult, IncidentOut, error) {
	inc, run, err := s.find(ctx, in.ID)
	if err != nil {
		return nil, IncidentOut{}, err
	}
	out := IncidentOut{Summary: summary(*inc, run != nil && len(run.Attention) > 0), LogQuery: s.o.Links.LogQueryURL(*inc)}
	for _, r := range inc.Reasons {
		out.Reasons = append(out.Reasons, string(r))
	}
	for _, tr := range inc.Traces {
		out.Traces = append(out.Traces, TraceOut{URL: s.o.Links.TraceURL(tr, inc.Spans[tr])})
	}
	minutes := make([]int64, 0, len(inc.Timeline))
	for m := range inc.Timeline {
		minutes = append(minutes, m)
	}
	slices.Sort(minutes)
	if len(minutes) > MaxTimeline {
		minutes = minutes[len(minutes)-MaxTimeline:]
	}
	for _, m := range minutes {
		out.Timeline = append(out.Timeline, Minute{At: time.Unix(m*60, 0).UTC(), Events: inc.Timeline[m]})
	}
	data := incidentData{Service: inc.Service, Services: inc.Services, Entities: inc.Entities, Templates: inc.Templates,
		Samples: inc.Samples, Latest: inc.Latest, Traces: inc.Traces, Spans: inc.Spans, Stack: clip(inc.Stack, MaxText)}
	if run != nil {
		out.RunNumber = run.Number
		if d := run.Delivery; d != nil {
			out.PullRequest, out.DeliveredTo = d.Location, d.Target
		}
		if v := run.Validation; v != nil {
			out.Validation = &ValidationOut{Applied: v.Applied, Passed: v.Passed(), Checks: len(v.Checks)}
			data.Checks = v.Checks
		}
		data.Triage, data.Analysis, data.Rejection, data.Failure, data.Attention = run.Triage, run.Analysis, run.Rejection, run.Failure, run.Attention
		if r := run.Remediation; r != nil {
			rem := *r
			rem.Diff = clip(rem.Diff, MaxDiff)
			data.Remediation = &rem
		}
	}
	recs, err := s.o.Trail.RecordsOf(ctx, inc.Fingerprint)
	if err != nil {
		return nil, IncidentOut{}, fmt.Errorf("read the audit log: %w", err)
	}
	for _, r := range recs {
		out.Audit = append(out.Audit, AuditOut{Seq: r.Seq, Replica: r.Replica, Time: r.Time.UTC(), Kind: string(r.Kind), Outcome: r.Outcome})
	}
	if len(out.Audit) > MaxAuditRecords {
		out.Audit = out.Audit[len(out.Audit)-MaxAuditRecords:]
	}
	// The trusted fields through the redactor; the data is redacted
	// field by field as it is marked.
	if out, err = redactOut(s, out); err != nil {
		return nil, IncidentOut{}, err
	}
	out.Data, err = s.untrusted(data)
	return nil, out, err
}

// TemplatesIn searches templates.
type TemplatesIn struct {
	Text   string `json:"text,omitempty" jsonschema:"case-insensitive substring of the template's text; empty lists all"`
	Limit  int    `json:"limit,omitempty" jsonschema:"page size, 1 to 50 (default 20)"`
	Offset int    `json:"offset,omitempty"`
}

// TemplatesOut is a page of templates, by id.
type TemplatesOut struct {
	Templates  []TemplateOut `json:"templates"`
	Matched    int           `json:"matched"`
	NextOffset int           `json:"next_offset,omitempty"`
	// Data holds each template's text by id.
	Data Untrusted `json:"data"`
}

// TemplateOut is a template's id (its text is in the data).
type TemplateOut struct {
	ID string `json:"id"`
}

func (s *server) searchTemplates(ctx context.Context, _ *mcp.CallToolRequest, in TemplatesIn) (*mcp.CallToolResult, TemplatesOut, error) {
	limit := in.Limit
	if limit == 0 {
		limit = 20
	}
	if limit < 1 || limit > MaxPage || in.Offset < 0 {
		return nil, TemplatesOut{}, fmt.Errorf("limit 1 to %d, offset 0 or more", MaxPage)
	}
	all, err := s.o.Store.Templates(ctx)
	if err != nil {
		return nil, TemplatesOut{}, err
	}
	needle := strings.ToLower(strings.TrimSpace(in.Text))
	var match []domain.Template
	for _, t := range all {
		if needle == "" || strings.Contains(strings.ToLower(t.Text), needle) {
			match = append(match, t)
		}
	}
	slices.SortStableFunc(match, func(a, b domain.Template) int { return strings.Compare(string(a.ID), string(b.ID)) })
	out := TemplatesOut{Templates: []TemplateOut{}, Matched: len(match)}
	texts := map[string]string{}
	for i := in.Offset; i < len(match) && i < in.Offset+limit; i++ {
		out.Templates = append(out.Templates, TemplateOut{ID: string(match[i].ID)})
		texts[string(match[i].ID)] = match[i].Text
	}
	if next := in.Offset + limit; next < len(match) {
		out.NextOffset = next
	}
	// The trusted fields through the redactor; the data is redacted
	// field by field as it is marked.
	if out, err = redactOut(s, out); err != nil {
		return nil, TemplatesOut{}, err
	}
	out.Data, err = s.untrusted(texts)
	return nil, out, err
}

// ExplainOut is why an incident opened.
type ExplainOut struct {
	ID      string   `json:"id"`
	Reasons []string `json:"reasons"`
	// Rule is the detection rule that opened it, when recorded.
	Rule string `json:"rule,omitempty"`
	// Data holds the explanation in words and the detector's numbers.
	Data Untrusted `json:"data"`
}

func (s *server) explainIncident(ctx context.Context, _ *mcp.CallToolRequest, in IDIn) (*mcp.CallToolResult, ExplainOut, error) {
	inc, _, err := s.find(ctx, in.ID)
	if err != nil {
		return nil, ExplainOut{}, err
	}
	out := ExplainOut{ID: string(inc.Fingerprint)}
	for _, r := range inc.Reasons {
		out.Reasons = append(out.Reasons, string(r))
	}
	if inc.Why != nil {
		out.Rule = string(inc.Why.Rule)
	}
	var words strings.Builder
	if err := report.ExplainBody(&words, *inc); err != nil {
		return nil, ExplainOut{}, err
	}
	// The trusted fields through the redactor; the data is redacted
	// field by field as it is marked.
	if out, err = redactOut(s, out); err != nil {
		return nil, ExplainOut{}, err
	}
	out.Data, err = s.untrusted(struct {
		Explanation string              `json:"explanation"`
		Detector    *domain.Explanation `json:"detector,omitempty"`
		Episodes    []domain.Episode    `json:"episodes,omitempty"`
	}{words.String(), inc.Why, inc.Episodes})
	return nil, out, err
}

// WindowsOut are the code windows the analysis read.
type WindowsOut struct {
	ID      string      `json:"id"`
	Windows []WindowOut `json:"windows"`
	// Data holds each window's lines ("N: text"), in the order of Windows.
	Data Untrusted `json:"data"`
}

// WindowOut names one window of repository code.
type WindowOut struct {
	Path    string `json:"path"`
	Start   int    `json:"start"`
	End     int    `json:"end"`
	Version string `json:"version" jsonschema:"the file's sha256, 16 hex digits: a diff applies to this version"`
}

func (s *server) codeWindows(ctx context.Context, _ *mcp.CallToolRequest, in IDIn) (*mcp.CallToolResult, WindowsOut, error) {
	inc, run, err := s.find(ctx, in.ID)
	if err != nil {
		return nil, WindowsOut{}, err
	}
	out := WindowsOut{ID: string(inc.Fingerprint), Windows: []WindowOut{}}
	var texts []map[string]string
	if run != nil {
		for i, w := range run.Code {
			if i == MaxWindows {
				break
			}
			out.Windows = append(out.Windows, WindowOut{Path: w.Path, Start: w.Start, End: w.End, Version: w.Version})
			texts = append(texts, map[string]string{"path": w.Path, "why": w.Why, "lines": clip(w.Text, MaxWindowText)})
		}
	}
	// The trusted fields through the redactor; the data is redacted
	// field by field as it is marked.
	if out, err = redactOut(s, out); err != nil {
		return nil, WindowsOut{}, err
	}
	out.Data, err = s.untrusted(texts)
	return nil, out, err
}

// VerifyOut is the audit log's verification.
type VerifyOut struct {
	Intact  bool   `json:"intact"`
	Summary string `json:"summary,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// Empty takes no arguments.
type Empty struct{}

func (s *server) verifyAudit(ctx context.Context, _ *mcp.CallToolRequest, _ Empty) (*mcp.CallToolResult, VerifyOut, error) {
	out, err := redactOut(s, s.verify(ctx))
	return nil, out, err
}

func (s *server) verify(ctx context.Context) VerifyOut {
	summary, err := s.o.Trail.Verify(ctx)
	if err != nil {
		return VerifyOut{Problem: err.Error(), Summary: summary}
	}
	return VerifyOut{Intact: true, Summary: summary}
}

// UsageIn names a day.
type UsageIn struct {
	Day string `json:"day,omitempty" jsonschema:"UTC day, YYYY-MM-DD (default today)"`
}

// UsageOut is a day's model use.
type UsageOut struct {
	Day          string        `json:"day"`
	Calls        int           `json:"calls"`
	InputTokens  int64         `json:"input_tokens"`
	OutputTokens int64         `json:"output_tokens"`
	CostUSD      float64       `json:"cost_usd"`
	ByModel      []audit.Spend `json:"by_model"`
}

func (s *server) usage(ctx context.Context, _ *mcp.CallToolRequest, in UsageIn) (*mcp.CallToolResult, UsageOut, error) {
	day := in.Day
	if day == "" {
		day = s.o.Now().UTC().Format(time.DateOnly)
	} else if _, err := time.Parse(time.DateOnly, day); err != nil {
		return nil, UsageOut{}, fmt.Errorf("day %q: YYYY-MM-DD", day)
	}
	recs, err := s.o.Trail.Records(ctx)
	if err != nil {
		return nil, UsageOut{}, fmt.Errorf("read the audit log: %w", err)
	}
	out := UsageOut{Day: day, ByModel: audit.SpendOn(recs, day)}
	for _, sp := range out.ByModel {
		out.Calls += sp.Calls
		out.InputTokens += sp.InputTokens
		out.OutputTokens += sp.OutputTokens
		out.CostUSD += sp.CostUSD
	}
	out, err = redactOut(s, out)
	return nil, out, err
}
