package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/inert"
	"github.com/cloud-sre-agent/sre-agent/internal/links"
)

// Markdown writes a proposal as a report a person reviews: the incident,
// its evidence, the triage, the root cause and the proposed fix. Log text
// and model text are untrusted: log text goes into code blocks whose fence
// it cannot close, and every other untrusted string (service, labels,
// model prose) is rendered inert by md (links live only to md's hosts).
// l links the incident's log query and traces.
func Markdown(w io.Writer, p domain.Proposal, md inert.Markdown, l links.Links) error {
	prose, cell := md.Text, md.Line
	in := p.Incident
	var b strings.Builder
	fmt.Fprintf(&b, "# Incident %s: %s in %s\n\n", in.Fingerprint.Short(), cell(p.Triage.Category), cell(in.Service))
	b.WriteString("> Proposed by sre-agent for human review. Nothing here has been applied.\n\n")
	if len(p.Attention) > 0 {
		b.WriteString("> **Needs human attention**: the logs of this incident contain text written like instructions to a model. It was treated as data; check the proposal with that in mind.\n>\n")
		for _, f := range p.Attention {
			fmt.Fprintf(&b, "> - %s: %s\n", cell(f.Rule), code(f.Excerpt))
		}
		b.WriteString("\n")
	}
	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, cell(v)) }
	row("Fingerprint", string(in.Fingerprint))
	row("Service", in.Service)
	row("Severity", in.Severity.String())
	row("Events", fmt.Sprint(in.Count))
	row("First seen", in.FirstSeen.UTC().Format(time.RFC3339))
	row("Last seen", in.LastSeen.UTC().Format(time.RFC3339))
	reasons := make([]string, len(in.Reasons))
	for i, r := range in.Reasons {
		reasons[i] = string(r)
	}
	row("Detected by", strings.Join(reasons, ", "))
	if p.AuditSeq > 0 {
		row("Audit record", fmt.Sprintf("seq %d", p.AuditSeq))
	}
	b.WriteString("\n## Evidence\n\n### Templates\n\n")
	for _, t := range in.Templates {
		fmt.Fprintf(&b, "- %d events:\n\n%s\n", t.Count, indent(fence(t.Text, ""), "  "))
	}
	if len(in.Samples) > 0 {
		b.WriteString("\n### Samples (redacted; the first lines as read)\n\n")
		b.WriteString(fence(inert.DefangURLs(strings.Join(in.Samples, "\n")), "text"))
	}
	if len(in.Latest) > 0 {
		b.WriteString("\n### Latest lines (redacted)\n\n")
		b.WriteString(fence(inert.DefangURLs(strings.Join(in.Latest, "\n")), "text"))
	}
	if len(in.Traces) > 0 {
		b.WriteString("\n### Traces\n\n")
		for _, tr := range in.Traces {
			if span := in.Spans[tr]; span != "" {
				fmt.Fprintf(&b, "- %s span %s\n", traceLink(tr, span, l), code(span))
			} else {
				fmt.Fprintf(&b, "- %s\n", traceLink(tr, "", l))
			}
		}
	}
	if u := l.LogQueryURL(in); u != "" {
		fmt.Fprintf(&b, "\n[Log query](<%s>): the incident's lines, five minutes either side\n", u)
	}
	if in.Stack != "" {
		b.WriteString("\n### Stack trace\n\n")
		b.WriteString(fence(inert.DefangURLs(in.Stack), "text"))
	}
	t := p.Triage
	fmt.Fprintf(&b, "\n## Triage\n\n- Category: %s\n- Severity: %s\n- Actionable: %v\n- Confidence: %.2f\n\n%s\n",
		cell(t.Category), cell(t.Severity), t.Actionable, t.Confidence, prose(t.Reasoning))
	a := p.Analysis
	fmt.Fprintf(&b, "\n## Root cause (confidence %.2f)\n\n%s\n", a.Confidence, prose(a.RootCause))
	if len(a.Evidence) > 0 {
		b.WriteString("\nEvidence:\n\n")
		for _, e := range a.Evidence {
			fmt.Fprintf(&b, "- %s: %s", cell(e.Kind), code(e.Ref))
			if e.Note != "" {
				fmt.Fprintf(&b, " (%s)", cell(e.Note))
			}
			b.WriteByte('\n')
		}
	}
	if len(a.SuspectedFiles) > 0 {
		b.WriteString("\nSuspected files:\n\n")
		for _, f := range a.SuspectedFiles {
			loc := f.Path
			if f.Line > 0 {
				loc = fmt.Sprintf("%s:%d", f.Path, f.Line)
			}
			fmt.Fprintf(&b, "- %s", code(loc))
			if f.Reason != "" {
				fmt.Fprintf(&b, ": %s", cell(f.Reason))
			}
			b.WriteByte('\n')
		}
	}
	r := p.Remediation
	fmt.Fprintf(&b, "\n## Proposal (risk: %s)\n\n%s\n", cell(r.Risk), prose(r.Summary))
	if len(r.Steps) > 0 {
		b.WriteString("\nSteps:\n\n")
		for i, s := range r.Steps {
			fmt.Fprintf(&b, "%d. %s\n", i+1, cell(s))
		}
	}
	if len(r.TestPlan) > 0 {
		b.WriteString("\nTest plan:\n\n")
		for _, s := range r.TestPlan {
			fmt.Fprintf(&b, "- [ ] %s\n", cell(s))
		}
	}
	if r.Diff != "" {
		b.WriteString("\n### Diff\n\n")
		b.WriteString(fence(r.Diff, "diff"))
	}
	if v := p.Validation; v != nil {
		status := "passed"
		if !v.Passed() {
			status = "did not pass"
		}
		fmt.Fprintf(&b, "\n### Validation (%s)\n\n%s", status, fence(v.Summary(), "text"))
	}
	if len(p.Code) > 0 {
		b.WriteString("\n### Code read\n\n")
		for _, w := range p.Code {
			fmt.Fprintf(&b, "- %s lines %d-%d (version %s): %s\n", code(w.Path), w.Start, w.End, cell(w.Version), cell(w.Why))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fence wraps text in a code block whose fence is longer than any run of
// backticks inside it, so the text cannot end the block.
func fence(text, lang string) string {
	f := strings.Repeat("`", max(3, longestBackticks(text)+1))
	return f + lang + "\n" + strings.TrimRight(text, "\n") + "\n" + f + "\n"
}

// code is inline code that its content cannot close; code spans are
// never linked or mentioned.
func code(s string) string {
	s = strings.ReplaceAll(inert.Terminal(s), "\n", " ")
	if len(s) > inert.MaxLine {
		s = s[:inert.MaxLine] + "…"
	}
	f := strings.Repeat("`", longestBackticks(s)+1)
	return f + " " + s + " " + f
}

// longestBackticks is the longest run of backticks in s.
func longestBackticks(s string) int {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return pre + strings.Join(lines, "\n"+pre)
}

// traceLink shows a trace id as code, linked to its page where l knows
// one.
func traceLink(tr, span string, l links.Links) string {
	if u := l.TraceURL(tr, span); u != "" {
		return fmt.Sprintf("[%s](<%s>)", code(tr), u)
	}
	return code(tr)
}
