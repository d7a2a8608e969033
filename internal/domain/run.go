package domain

import "time"

// Stage names a model-backed step of the pipeline.
type Stage string

const (
	StageTriage      Stage = "triage"
	StageAnalysis    Stage = "analysis"
	StageRemediation Stage = "remediation"
)

// Stages lists the model-backed stages in order.
var Stages = []Stage{StageTriage, StageAnalysis, StageRemediation}

// Categories a triage can name; the triage schema holds the same list.
const (
	CategoryDependency  = "dependency-unavailable"
	CategoryTimeout     = "timeout"
	CategoryOOM         = "out-of-memory"
	CategoryDiskFull    = "disk-full"
	CategoryTLS         = "tls-certificate"
	CategoryPermission  = "permission-denied"
	CategoryCodeDefect  = "code-defect"
	CategoryConfig      = "config-missing"
	CategoryRateLimited = "rate-limited"
	CategoryCrashLoop   = "crash-loop"
	CategoryOther       = "other"
)

// Triage is the first stage's answer: what kind of problem this is and
// whether anyone can act on it.
type Triage struct {
	Category   string  `json:"category"`
	Severity   string  `json:"severity"`
	Actionable bool    `json:"actionable"`
	Confidence float64 `json:"confidence"`
	Reasoning  string  `json:"reasoning"`
}

// Texts are the answer's free-text fields: what redaction cleans and the
// gate reads.
func (t *Triage) Texts() []*string { return []*string{&t.Category, &t.Severity, &t.Reasoning} }

// EvidenceRef points at what supports a root cause.
type EvidenceRef struct {
	Kind string `json:"kind"` // template, sample, frame or count
	Ref  string `json:"ref"`
	Note string `json:"note,omitempty"`
}

// SuspectedFile is where the analysis thinks the fault is.
type SuspectedFile struct {
	Path   string `json:"path"`
	Line   int    `json:"line,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Analysis is the second stage's answer: the root cause.
type Analysis struct {
	RootCause      string          `json:"root_cause"`
	Evidence       []EvidenceRef   `json:"evidence"`
	Confidence     float64         `json:"confidence"`
	SuspectedFiles []SuspectedFile `json:"suspected_files"`
}

func (a *Analysis) Texts() []*string {
	out := []*string{&a.RootCause}
	for i := range a.Evidence {
		out = append(out, &a.Evidence[i].Kind, &a.Evidence[i].Ref, &a.Evidence[i].Note)
	}
	for i := range a.SuspectedFiles {
		out = append(out, &a.SuspectedFiles[i].Path, &a.SuspectedFiles[i].Reason)
	}
	return out
}

// Remediation is the third stage's answer: a proposal in words and, when
// the provider can make one, a unified diff.
type Remediation struct {
	Summary  string   `json:"summary"`
	Steps    []string `json:"steps"`
	Diff     string   `json:"diff,omitempty"`
	Risk     string   `json:"risk"`
	TestPlan []string `json:"test_plan"`
}

// Texts leaves out the diff, which the gate reads as a diff.
func (r *Remediation) Texts() []*string {
	out := []*string{&r.Summary, &r.Risk}
	for i := range r.Steps {
		out = append(out, &r.Steps[i])
	}
	for i := range r.TestPlan {
		out = append(out, &r.TestPlan[i])
	}
	return out
}

// Evidence is what the model is shown of an incident, all of it redacted:
// the same data the prompt carries, structured, for providers that work
// from rules rather than text.
type Evidence struct {
	Fingerprint Fingerprint `json:"fingerprint"`
	Service     string      `json:"service"`
	Severity    Severity    `json:"severity"`
	Count       int64       `json:"count"`
	FirstSeen   time.Time   `json:"first_seen"`
	LastSeen    time.Time   `json:"last_seen"`
	Reasons     []Reason    `json:"reasons"`
	Templates   []Template  `json:"templates"`
	Samples     []string    `json:"samples"`
	Frames      []Frame     `json:"frames,omitempty"`
	// Why is what the detector saw when the incident opened: the service's
	// errors against its baseline, the template against its usual count.
	Why *Explanation `json:"why,omitempty"`
	// Code is repository source the incident points to: trusted context,
	// from the repository, not the logs.
	Code []CodeWindow `json:"code,omitempty"`
}

// Proposal is what delivery gets: the incident and every stage's answer.
type Proposal struct {
	Incident    Incident    `json:"incident"`
	Triage      Triage      `json:"triage"`
	Analysis    Analysis    `json:"analysis"`
	Remediation Remediation `json:"remediation"`
	// AuditSeq is the audit record of the remediation model call.
	AuditSeq int64 `json:"audit_seq"`
	// Attention lists instruction-like log text: a person should look.
	Attention []Finding `json:"attention,omitempty"`
	// Code is what the model read; a diff must apply to these versions.
	Code []CodeWindow `json:"code,omitempty"`
	// Validation is how the diff fared with the language's tools.
	Validation *Validation `json:"validation,omitempty"`
	// IdempotencyKey is the same for every attempt to deliver one run of
	// an incident, from any replica: a target that sees it twice must
	// update what the first made, never make a second.
	IdempotencyKey string `json:"idempotency_key"`
}

// Run is the pipeline's record of an incident, stored with it so that a
// restart resumes where the last run stopped.
type Run struct {
	// Number counts runs: the first is 1; a re-opening starts the next.
	Number      int           `json:"number"`
	Triage      *Triage       `json:"triage,omitempty"`
	Analysis    *Analysis     `json:"analysis,omitempty"`
	Remediation *Remediation  `json:"remediation,omitempty"`
	AuditSeq    int64         `json:"audit_seq,omitempty"`
	Rejection   *GateDecision `json:"rejection,omitempty"`
	Delivery    *Delivery     `json:"delivery,omitempty"`
	Failure     string        `json:"failure,omitempty"`
	// Attention lists instruction-like text found in the incident's logs.
	Attention []Finding `json:"attention,omitempty"`
	Scanned   bool      `json:"scanned,omitempty"`
	// Code was gathered before analysis; Validation after remediation.
	Code         []CodeWindow `json:"code,omitempty"`
	CodeGathered bool         `json:"code_gathered,omitempty"`
	Validation   *Validation  `json:"validation,omitempty"`
	// TraceID and SpanID name the run's root span, so a run resumed after
	// a retry or a restart continues the same trace.
	TraceID string `json:"trace_id,omitempty"`
	SpanID  string `json:"span_id,omitempty"`
	// Errors counts provider or delivery errors in the current stage; the
	// incident fails when it reaches the configured limit.
	Errors  int       `json:"errors,omitempty"`
	RetryAt time.Time `json:"retry_at,omitzero"`
	// Deferred says which bound holds the run back, until RetryAt.
	Deferred string `json:"deferred,omitempty"`
	// Silenced names the silence that stopped the run, and the state it
	// stopped in (the run resumes there when the silence ends).
	Silenced *Silenced `json:"silenced,omitempty"`
	// AnswerFindings are what the redactor found in the model's answers:
	// the answers are stored redacted, and the gate refuses the proposal.
	AnswerFindings []Violation `json:"answer_findings,omitempty"`
}

// Silenced is a run stopped by a silence.
type Silenced struct {
	ID    string    `json:"id"`
	At    time.Time `json:"at"`
	From  State     `json:"from"`
	Until time.Time `json:"until,omitzero"`
}
