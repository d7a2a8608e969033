// Package review is what the pull-request targets (GitHub, GitLab) share:
// the incident's branch, the title and body, the diff applied to the base
// branch's files as fetched, and the last secret check before sending.
package review

import (
	"bytes"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/bluekeyes/go-gitdiff/gitdiff"

	"github.com/cloud-sre-agent/sre-agent/internal/delivery"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/report"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/inert"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/links"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/coderef"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/patch"
	"github.com/cloud-sre-agent/sre-agent/internal/pipeline/policy"
)

// Branch is the incident's branch.
func Branch(p domain.Proposal) string { return "sre-agent/" + p.Incident.Fingerprint.Short() }

// Title is the pull request's title; the category and service are
// untrusted (a model's answer, a log field) and rendered inert.
func Title(p domain.Proposal, md inert.Markdown) string {
	return fmt.Sprintf("sre-agent: %s in %s (%s)", md.Line(p.Triage.Category), md.Line(p.Incident.Service), p.Incident.Fingerprint.Short())
}

// Links is the Markdown renderer for a target: links may point to the
// repository's own host (from its API base URL), the log and trace
// consoles (from l's templates) and the extra hosts configured.
func Links(apiBase string, l links.Links, extra []string) inert.Markdown {
	var hosts []string
	if u, err := url.Parse(apiBase); err == nil && u.Hostname() != "" {
		h := strings.ToLower(u.Hostname())
		hosts = append(hosts, h, strings.TrimPrefix(h, "api."))
	}
	return inert.Markdown{Hosts: append(append(hosts, l.Hosts()...), extra...)}
}

// Labels mark the pull request for review.
func Labels(p domain.Proposal) []string {
	return []string{"sre-agent", "severity:" + strings.ToLower(p.Incident.Severity.String()), "needs-human-review"}
}

// Reject is a refusal the pipeline records as a rejection.
func Reject(rule, format string, args ...any) error {
	return &delivery.RejectError{Violation: domain.Violation{Rule: rule, Detail: fmt.Sprintf(format, args...)}}
}

// Body is the report with its links (log query, traces) and the promise
// that a person merges.
func Body(p domain.Proposal, l links.Links, md inert.Markdown) (string, error) {
	var b bytes.Buffer
	if err := report.Markdown(&b, p, md, l); err != nil {
		return "", err
	}
	b.WriteString("\n---\nOpened as a draft by sre-agent. It never merges; review, test and merge it yourself.\n")
	b.WriteString(KeyMarker(p.IdempotencyKey))
	return b.String(), nil
}

// KeyMarker is the hidden line that carries a delivery's idempotency key
// in what it wrote (a pull request's body, a comment), so that a retry of
// the same delivery, from any replica, finds it instead of writing again.
// Empty for an empty key.
func KeyMarker(key string) string {
	if key == "" {
		return ""
	}
	return "\n<!-- sre-agent idempotency-key: " + key + " -->\n"
}

// HasKey reports whether text carries the key's marker.
func HasKey(text, key string) bool {
	return key != "" && strings.Contains(text, strings.TrimSpace(KeyMarker(key)))
}

// Comment is the note added to an open pull request when the incident is
// seen again.
func Comment(p domain.Proposal) string {
	in := p.Incident
	t := ""
	if len(in.Templates) > 0 {
		t = in.Templates[0].Text
	}
	return fmt.Sprintf("sre-agent saw this incident again: %d events, last at %s (incident %s).\n\nLeading template:\n\n```\n%s\n```\n",
		in.Count, in.LastSeen.UTC().Format(time.RFC3339), in.Fingerprint.Short(), strings.ReplaceAll(t, "```", "'''")) + KeyMarker(p.IdempotencyKey)
}

// Files are the new contents the proposal writes: its diff applied to the
// base branch's files as fetched, or, for a words-only proposal, its report
// under reportDir. isNew reports files the diff creates.
func Files(p domain.Proposal, reportDir string, md inert.Markdown, l links.Links, fetch func(path string) (string, error)) (files map[string]string, isNew map[string]bool, err error) {
	files, isNew = map[string]string{}, map[string]bool{}
	if p.Remediation.Diff == "" {
		var b bytes.Buffer
		if err := report.Markdown(&b, p, md, l); err != nil {
			return nil, nil, err
		}
		name := path.Join(reportDir, string(p.Incident.Fingerprint)+".md")
		files[name], isNew[name] = b.String(), true
		return files, isNew, nil
	}
	parsed, err := patch.Parse(p.Remediation.Diff)
	if err != nil {
		return nil, nil, Reject(policy.RuleDiffParse, "%v", err)
	}
	for _, f := range parsed.Files {
		// The gate refused these already; a target never writes them.
		if f.IsDelete || f.IsRename || f.IsCopy || f.IsBinary || (f.Old != "" && f.Old != f.New) {
			return nil, nil, Reject(policy.RuleFileOp, "the agent only edits and creates files (%s)", f.Path())
		}
		name := f.New
		var old string
		if !f.IsNew {
			if old, err = fetch(name); err != nil {
				return nil, nil, err
			}
			// The diff must apply to exactly the version the model read.
			for _, w := range p.Code {
				if w.Path == name && w.Version != coderef.Version(old) {
					return nil, nil, Reject("stale-file", "%s changed on the base branch since the model read it (version %s, now %s)", name, w.Version, coderef.Version(old))
				}
			}
		}
		var nb bytes.Buffer
		if err := gitdiff.Apply(&nb, strings.NewReader(old), f.Diff); err != nil {
			return nil, nil, Reject(policy.RulePatchNotApply, "%s does not apply to the base branch: %v", name, err)
		}
		files[name], isNew[name] = nb.String(), f.IsNew
	}
	return files, isNew, nil
}

// CheckSecrets refuses to send any text the redactor finds a secret or
// personal data in.
func CheckSecrets(red *redact.Redactor, texts ...string) error {
	for _, t := range texts {
		if kinds := red.Find(t); len(kinds) > 0 {
			return Reject(policy.RuleSecret, "the pull request would carry a %s", kinds[0])
		}
	}
	return nil
}

// Sorted lists a file map's names in order.
func Sorted(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
