// Package offline is the built-in model provider: deterministic rules over
// an incident's templates, severity, counts and stack frames. It needs no
// network and no key, so the agent runs end to end anywhere. It classifies
// the common failure classes and writes runbook-style proposals; it never
// invents code, so its remediation has no diff.
package offline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/stack"
	"github.com/cloud-sre-agent/sre-agent/internal/llm"
)

// Name is the provider's name in config, metrics and the audit log.
const Name = "offline"

// Model is the rule set's version, reported as the model.
const Model = "offline-rules-v1"

// Provider answers from rules. It is safe for concurrent use.
type Provider struct{}

// New returns the offline provider.
func New() *Provider { return &Provider{} }

// Name implements llm.Provider.
func (*Provider) Name() string { return Name }

// Complete answers a stage from the request's structured evidence.
func (*Provider) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	if err := ctx.Err(); err != nil {
		return llm.Response{}, err
	}
	if req.Evidence == nil {
		return llm.Response{}, errors.New("offline provider: the request carries no evidence")
	}
	c := classify(req.Evidence)
	var v any
	switch req.Stage {
	case domain.StageTriage:
		v = c.triage(req.Evidence)
	case domain.StageAnalysis:
		v = c.analysis(req.Evidence)
	case domain.StageRemediation:
		v = c.remediation(req.Evidence)
	default:
		return llm.Response{}, fmt.Errorf("offline provider: unknown stage %q", req.Stage)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return llm.Response{}, err
	}
	// No tokens: nothing was sent to a model.
	return llm.Response{Text: string(b), Model: Model}, nil
}

// rule recognises one failure class by the words its logs use.
type rule struct {
	category string
	re       *regexp.Regexp
	cause    string   // root cause, %s is the service
	steps    []string // runbook
	tests    []string
	risk     string
}

// rules are tried in order; the first that matches names the class. More
// specific classes come before those whose words they share (a crash loop
// often follows an out-of-memory kill; a TLS failure is also a failed
// connection).
var rules = []rule{
	{domain.CategoryCrashLoop, regexp.MustCompile(`(?i)crashloopbackoff|back-off restarting|restarting failed container|container .{0,40}exited with|restart count`),
		"%s is restarting repeatedly: the process exits soon after start, so the platform keeps restarting it with back-off.",
		[]string{"Read the logs of the previous container instance (kubectl logs --previous, or the revision's logs) for the first error after start.", "Check recent deploys and configuration changes for the service and roll back if the loop began with one.", "Check the liveness probe: a probe that fails during slow start also restarts the container."},
		[]string{"The service starts and stays up for longer than the probe period.", "Restart count stops growing."}, "medium"},
	{domain.CategoryOOM, regexp.MustCompile(`(?i)out of memory|outofmemory|\boom(killed|kill|_kill)?\b|cannot allocate memory|memory limit|heap space|killed process|memory exhausted|std::bad_alloc`),
		"%s ran out of memory: allocations failed or the process was killed at its memory limit.",
		[]string{"Compare the memory limit with the working set over the last day; raise the limit if usage grew with load.", "Look for unbounded caches, queues or request bodies read whole into memory in the code path that fails.", "Take a heap profile under load before and after the change."},
		[]string{"Memory stays below the limit at peak load.", "No OOM kills or allocation failures in the logs for a day."}, "medium"},
	{domain.CategoryDiskFull, regexp.MustCompile(`(?i)no space left on device|disk (is )?full|disk quota exceeded|\benospc\b|insufficient disk|filesystem .{0,20}full`),
		"%s cannot write: a filesystem it uses is full.",
		[]string{"Find the full volume (df -h) and what grew on it (du); clear or rotate old files.", "Add log rotation or retention for what filled it.", "Resize the volume or alert at 80% use."},
		[]string{"Writes succeed and free space stays above the alert threshold.", "The alert fires in a staging test that fills the disk."}, "low"},
	{domain.CategoryTLS, regexp.MustCompile(`(?i)x509|certificate (has )?expired|certificate verify failed|unknown authority|tls handshake|ssl handshake|certificate is not valid|self.signed certificate|cert_has_expired|sslerror|pkix path`),
		"%s fails TLS: a certificate in the chain is expired, untrusted or does not match the host name.",
		[]string{"Inspect the peer's certificate chain (openssl s_client -connect host:443 -servername host) for expiry, issuer and names.", "Renew or re-issue the certificate, or install the missing CA in the client's trust store.", "Add expiry monitoring for the certificate."},
		[]string{"A TLS handshake to the peer succeeds from the service's network.", "No certificate errors in the logs after the change."}, "low"},
	{domain.CategoryPermission, regexp.MustCompile(`(?i)permission denied|access denied|permission_denied|\bforbidden\b|\bunauthori[sz]ed\b|\beacces\b|\bnot authorized\b|does not have .{0,40}permission|iam\b|\b403\b|\b401\b`),
		"%s is refused access: its identity lacks a permission, or its credentials are missing or expired.",
		[]string{"Find which identity the service runs as and which resource refused it.", "Grant the narrowest role that allows the call on that resource only; do not widen roles project-wide.", "If credentials expired, rotate them in the secret manager rather than in configuration."},
		[]string{"The failing call succeeds with the new binding.", "The identity holds no role broader than the call needs."}, "medium"},
	{domain.CategoryRateLimited, regexp.MustCompile(`(?i)rate.?limit|too many requests|\b429\b|quota exceeded|resource_exhausted|resource exhausted|throttl`),
		"%s is being rate limited by a dependency or quota.",
		[]string{"Find the limit and the current request rate; raise the quota if demand is legitimate.", "Add client-side backoff with jitter that honours Retry-After.", "Cache or batch calls that repeat."},
		[]string{"Throttling errors stop at normal load.", "Retries back off under an induced 429 in staging."}, "low"},
	{domain.CategoryTimeout, regexp.MustCompile(`(?i)timed? ?out|timeout|deadline exceeded|deadline_exceeded|context deadline`),
		"%s times out waiting on a call: the dependency is slow or overloaded, or the timeout is shorter than its latency.",
		[]string{"Compare the dependency's latency (p99) with the configured timeout.", "Check the dependency's health and saturation at the incident's time range.", "Add a deadline budget and retries with backoff only for idempotent calls."},
		[]string{"Latency stays below the timeout at peak.", "Timeout errors stop after the change."}, "low"},
	{domain.CategoryDependency, regexp.MustCompile(`(?i)connection refused|econnrefused|no such host|name resolution|connection reset|econnreset|unreachable|failed to connect|could not connect|unable to connect|dial tcp|\bunavailable\b|\b503\b|broken pipe|no route to host`),
		"%s cannot reach a dependency: connections are refused, reset or cannot be resolved.",
		[]string{"Check the dependency is up and its endpoint (DNS name, port) is what the service is configured with.", "Check network policy and firewall rules between the two.", "Make the client retry with backoff and fail fast when the dependency is down."},
		[]string{"Connections to the dependency succeed from the service's network.", "The service degrades gracefully when the dependency is stopped in staging."}, "low"},
	{domain.CategoryConfig, regexp.MustCompile(`(?i)missing (required )?(config|configuration|setting|environment|env)|(environment variable|env var|config(uration)? (key|value|option)) .{0,40}(not set|missing|required|undefined)|not configured|no such file or directory.{0,60}(conf|config|\.ya?ml|\.json|\.toml|\.ini)|invalid configuration`),
		"%s is missing configuration it needs: a setting, environment variable or file is absent or invalid.",
		[]string{"Find the setting named in the error and where the deployment should provide it.", "Restore it in the deployment's configuration (a secret reference if it is a credential).", "Make the service check its configuration at start and exit with a clear message."},
		[]string{"The service starts with the restored setting.", "A start without the setting fails fast with a clear message."}, "low"},
	{domain.CategoryCodeDefect, regexp.MustCompile(`(?i)nil pointer|nil map|null ?pointer|nullreferenceexception|index out of range|indexerror|keyerror|typeerror|attributeerror|undefined is not|cannot read propert|segmentation fault|sigsegv|panic:|unhandled exception|uncaught exception|zerodivision|division by zero|arrayindexoutofbounds|classcastexception|illegalstateexception|assertion failed`),
		"%s has a code defect: an unhandled error (a nil or null value, an out-of-range index, a type error) aborts the request.",
		[]string{"Open the top application frame of the stack trace and find the value that is nil, null or out of range.", "Handle the case (validate input, check the lookup, return an error) instead of crashing.", "Add a regression test that reproduces the failing input."},
		[]string{"A unit test with the failing input passes.", "The error template stops appearing after the deploy."}, "medium"},
}

var other = rule{category: domain.CategoryOther,
	cause: "%s logs errors that match no known failure class; the templates and samples are the best evidence.",
	steps: []string{"Read the leading template and samples and find the component that logs them.", "Check recent deploys and dependency incidents in the time range."},
	tests: []string{"The error template stops appearing."}, risk: "low"}

type class struct {
	rule
	matched bool
	top     domain.Frame
	hasTop  bool
}

func classify(ev *domain.Evidence) class {
	var text strings.Builder
	for _, t := range ev.Templates {
		text.WriteString(t.Text)
		text.WriteByte('\n')
	}
	for _, s := range ev.Samples {
		text.WriteString(s)
		text.WriteByte('\n')
	}
	c := class{rule: other}
	c.top, c.hasTop = stack.TopInApp(ev.Frames)
	for _, r := range rules {
		if r.re.MatchString(text.String()) {
			c.rule, c.matched = r, true
			return c
		}
	}
	if c.hasTop { // a stack trace with an in-app frame and no other class
		for _, r := range rules {
			if r.category == domain.CategoryCodeDefect {
				c.rule, c.matched = r, true
			}
		}
	}
	return c
}

func (c class) severity(ev *domain.Evidence) string {
	switch {
	case ev.Severity >= domain.Critical:
		return "critical"
	case ev.Severity >= domain.Error && (ev.Count >= 100 || hasReason(ev, domain.ReasonBurst)):
		return "high"
	case ev.Severity >= domain.Error:
		return "medium"
	}
	return "low"
}

func hasReason(ev *domain.Evidence, r domain.Reason) bool {
	for _, x := range ev.Reasons {
		if x == r {
			return true
		}
	}
	return false
}

func (c class) triage(ev *domain.Evidence) domain.Triage {
	sev := c.severity(ev)
	t := domain.Triage{Category: c.category, Severity: sev, Confidence: 0.3}
	if c.matched {
		t.Confidence = 0.7
		if c.hasTop {
			t.Confidence = 0.8
		}
	}
	// Something known, something in the code, or something severe enough
	// that a person should look: actionable. An unclassified error with no
	// stack at low severity is noise to triage by hand, not a fix to
	// propose.
	t.Actionable = c.matched || c.hasTop || sev == "critical"
	t.Reasoning = fmt.Sprintf("%d events of %s from %s between %s and %s; matched the %s rules%s.",
		ev.Count, ev.Severity, ev.Service, ev.FirstSeen.UTC().Format(time.RFC3339), ev.LastSeen.UTC().Format(time.RFC3339), c.category, c.frameNote())
	if !t.Actionable {
		t.Reasoning += " Not actionable: no known failure class, no stack trace, not critical."
	}
	return t
}

func (c class) frameNote() string {
	if !c.hasTop {
		return ""
	}
	return "; top application frame " + c.top.String()
}

// endpoint finds host:port (an address or a DNS name) in log text;
// operation the call that failed.
var (
	endpoint  = regexp.MustCompile(`\b((?:\d{1,3}\.){3}\d{1,3}|[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)+):(\d{2,5})\b`)
	operation = regexp.MustCompile(`(?i)\b(dial tcp|dial udp|read tcp|write tcp|lookup|tls handshake|x509|connect|GET|POST|PUT|PATCH|DELETE|SELECT|INSERT|UPDATE|write|read|open)\b`)
)

var reasonSays = map[domain.Reason]string{
	domain.ReasonNewTemplate: "its leading error was new to the service",
	domain.ReasonBurst:       "the service's error rate rose above its baseline",
	domain.ReasonSpike:       "a known error spiked against its baseline",
	domain.ReasonFatal:       "the lines carry a crash signature",
	domain.ReasonCritical:    "CRITICAL lines recurred",
}

// facts says what the evidence says, without a model: the operation and
// the endpoints the errors name, when and how often, and what changed.
func facts(ev *domain.Evidence) string {
	var text []string
	if len(ev.Templates) > 0 {
		text = append(text, ev.Templates[0].Text)
	}
	text = append(text, ev.Samples...)
	var eps []string
	op := ""
	for _, t := range text {
		if op == "" {
			if m := operation.FindString(t); m != "" {
				op = m
			}
		}
		for _, m := range endpoint.FindAllString(t, -1) {
			if len(eps) < 3 && !slices.Contains(eps, m) {
				eps = append(eps, m)
			}
		}
	}
	var b strings.Builder
	switch {
	case op != "" && len(eps) > 0:
		fmt.Fprintf(&b, "The failing call is %q to %s.", op, strings.Join(eps, ", "))
	case len(eps) > 0:
		fmt.Fprintf(&b, "The errors name %s.", strings.Join(eps, ", "))
	case op != "":
		fmt.Fprintf(&b, "The failing call is %q.", op)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	fmt.Fprintf(&b, "%d events from %s to %s", ev.Count, ev.FirstSeen.UTC().Format(time.RFC3339), ev.LastSeen.UTC().Format(time.RFC3339))
	if d := ev.LastSeen.Sub(ev.FirstSeen); d >= time.Minute {
		fmt.Fprintf(&b, " (about %.1f a minute)", float64(ev.Count)/d.Minutes())
	}
	b.WriteString(".")
	var changed []string
	for _, r := range ev.Reasons {
		if s, ok := reasonSays[r]; ok {
			changed = append(changed, s)
		}
	}
	if len(changed) > 0 {
		b.WriteString(" What changed: " + strings.Join(changed, "; ") + ".")
	}
	if w := ev.Why; w != nil && w.ShortEvents > 0 {
		fmt.Fprintf(&b, " When it opened, the service logged %d errors in %d events over %s (%.0f%%)", w.ShortErrors, w.ShortEvents, w.ShortWindow,
			100*float64(w.ShortErrors)/float64(w.ShortEvents))
		if w.BaselineRatio >= 0 && w.WarmedUp {
			fmt.Fprintf(&b, " against a usual %.1f%%", 100*w.BaselineRatio)
		} else {
			b.WriteString(" with no baseline learnt yet")
		}
		if w.TemplateCount > 0 {
			fmt.Fprintf(&b, "; the leading error %d times, usually %.1f", w.TemplateCount, w.TemplateBaseline)
		}
		b.WriteString(".")
	}
	return b.String()
}

func (c class) analysis(ev *domain.Evidence) domain.Analysis {
	a := domain.Analysis{RootCause: fmt.Sprintf(c.cause, ev.Service) + " " + facts(ev), Confidence: 0.3, Evidence: []domain.EvidenceRef{}, SuspectedFiles: []domain.SuspectedFile{}}
	if c.matched {
		a.Confidence = 0.6
	}
	if len(ev.Templates) > 0 {
		t := ev.Templates[0]
		a.Evidence = append(a.Evidence, domain.EvidenceRef{Kind: "template", Ref: t.Text, Note: fmt.Sprintf("%d events", t.Count)})
	}
	a.Evidence = append(a.Evidence, domain.EvidenceRef{Kind: "count", Ref: fmt.Sprintf("%d events", ev.Count),
		Note: fmt.Sprintf("from %s to %s", ev.FirstSeen.UTC().Format(time.RFC3339), ev.LastSeen.UTC().Format(time.RFC3339))})
	if len(ev.Samples) > 0 {
		a.Evidence = append(a.Evidence, domain.EvidenceRef{Kind: "sample", Ref: ev.Samples[0]})
	}
	if c.hasTop {
		file, note := c.top.File, "innermost application frame"
		a.RootCause += " The innermost application frame is " + c.top.String()
		if path, src, ok := codeAt(ev.Code, c.top); ok {
			file = path
			at := fmt.Sprintf("%s:%d reads: %s", path, c.top.Line, src)
			a.RootCause += ", where " + at
			note += "; " + at
			a.Confidence += 0.05
		}
		a.RootCause += "."
		a.Evidence = append(a.Evidence, domain.EvidenceRef{Kind: "frame", Ref: c.top.String(), Note: note})
		a.SuspectedFiles = append(a.SuspectedFiles, domain.SuspectedFile{Path: file, Line: c.top.Line,
			Reason: "innermost application frame of the stack trace"})
		a.Confidence += 0.1
	}
	return a
}

// codeAt finds the innermost frame's line in the code windows the
// analysis was given (the repository's files, mapped from the stack): the
// window's repository path and the line's code, trimmed and bounded.
func codeAt(windows []domain.CodeWindow, f domain.Frame) (path, src string, ok bool) {
	if f.Line <= 0 {
		return "", "", false
	}
	file := strings.ReplaceAll(f.File, "\\", "/")
	for _, w := range windows {
		if w.Path == "" || f.Line < w.Start || f.Line > w.End || !(file == w.Path || strings.HasSuffix(file, "/"+w.Path)) {
			continue
		}
		prefix := fmt.Sprintf("%d: ", f.Line)
		for _, l := range strings.Split(w.Text, "\n") {
			if rest, found := strings.CutPrefix(l, prefix); found {
				rest = strings.TrimSpace(rest)
				if rest == "" {
					return "", "", false
				}
				if len(rest) > 160 {
					rest = rest[:160] + "…"
				}
				return w.Path, "`" + strings.ReplaceAll(rest, "`", "'") + "`", true
			}
		}
	}
	return "", "", false
}

func (c class) remediation(ev *domain.Evidence) domain.Remediation {
	steps := append([]string(nil), c.steps...)
	if c.hasTop {
		step := "Start reading at " + c.top.String()
		if path, src, ok := codeAt(ev.Code, c.top); ok {
			step += fmt.Sprintf(" (%s:%d: %s)", path, c.top.Line, src)
		}
		steps = append(steps, step+".")
	}
	return domain.Remediation{
		Summary:  fmt.Sprintf("Runbook for %s (%s): %s", ev.Service, c.category, fmt.Sprintf(c.cause, ev.Service)),
		Steps:    steps,
		Risk:     c.risk,
		TestPlan: append([]string(nil), c.tests...),
	}
}
