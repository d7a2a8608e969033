package review

import (
	"context"
	"fmt"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/inert"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/links"
)

// Request is a pull or merge request as the flow reads it.
type Request struct {
	Number   int // what people see: #12, !12
	URL      string
	Open     bool
	Merged   bool
	ClosedAt time.Time // zero while open, or when the host does not say
	Body     string
}

// Host is a code review host: the calls the flow makes of GitHub or
// GitLab. A host does not retry; the flow does, asking the host which
// failures may be tried again.
type Host interface {
	// Name names the target ("github"); Noun what a request is called
	// there ("pull request").
	Name() string
	Noun() string
	// Find lists the requests from branch into the base branch, any state.
	Find(ctx context.Context, branch string) ([]Request, error)
	// Comments are the bodies of a request's comments (notes).
	Comments(ctx context.Context, r Request) ([]string, error)
	Comment(ctx context.Context, r Request, text string) error
	// ReadFile reads a file of the base branch.
	ReadFile(ctx context.Context, path string) (string, error)
	// Commit writes files to branch, started from the base branch (a
	// branch a failed attempt left is reset onto it and reused).
	Commit(ctx context.Context, branch string, files map[string]string, isNew map[string]bool, message string) error
	// Open opens a draft request with its labels.
	Open(ctx context.Context, branch, title, body string, labels []string) (Request, error)
	// Assign asks for reviews and sets assignees (none is a no-op).
	Assign(ctx context.Context, r Request, reviewers, teamReviewers, assignees []string) error
	// Retry says whether a call that failed with err may be tried again,
	// and after how long (attempt counts from 0).
	Retry(err error, attempt int) (time.Duration, bool)
}

// Settings are what a review target is configured with.
type Settings struct {
	BaseBranch string
	ReportDir  string
	APIBase    string // the host's API, to which untrusted text may link
	// Links are the log query and trace links; LogQueryURL, when set,
	// is this target's own log query template (it wins).
	Links       links.Links
	LogQueryURL string
	LinkHosts   []string
	// SuppressAfterClose holds an incident back this long after its
	// request was closed without merging.
	SuppressAfterClose                  time.Duration
	Reviewers, TeamReviewers, Assignees []string
	// MaxAttempts bounds the tries of one call; MaxWait the longest wait
	// the flow accepts between them (a longer rate-limit reset fails).
	MaxAttempts int
	MaxWait     time.Duration
}

// Flow delivers proposals through a host: one request per incident, a
// comment on the open one instead of a twin, nothing written twice for one
// idempotency key, a closed-unmerged request holding the incident back,
// every text checked for secrets before it leaves.
type Flow struct {
	Host  Host
	Set   Settings
	Red   *redact.Redactor
	Now   func() time.Time
	Sleep func(context.Context, time.Duration) error
}

// Deliver implements delivery.Deliverer for the host.
func (f Flow) Deliver(ctx context.Context, p domain.Proposal) (domain.Delivery, error) {
	h, s := f.Host, f.Set
	branch := Branch(p)
	if branch == s.BaseBranch {
		return domain.Delivery{}, Reject("base-branch", "refusing to write to the base branch")
	}
	var reqs []Request
	if err := f.call(ctx, func() (err error) { reqs, err = h.Find(ctx, branch); return err }); err != nil {
		return domain.Delivery{}, err
	}
	for _, r := range reqs {
		if r.Open {
			return f.comment(ctx, r, p)
		}
		if !r.Merged && !r.ClosedAt.IsZero() && f.Now().Sub(r.ClosedAt) < s.SuppressAfterClose {
			return domain.Delivery{}, Reject("suppressed", "%s %d for this incident was closed without merging on %s",
				h.Noun(), r.Number, r.ClosedAt.Format(time.RFC3339))
		}
	}
	l := s.Links
	if s.LogQueryURL != "" {
		l.LogQuery = s.LogQueryURL
	}
	md := Links(s.APIBase, l, s.LinkHosts)
	title := Title(p, md)
	body, err := Body(p, l, md)
	if err != nil {
		return domain.Delivery{}, err
	}
	files, isNew, err := Files(p, s.ReportDir, md, l, func(name string) (text string, err error) {
		err = f.call(ctx, func() (err error) { text, err = h.ReadFile(ctx, name); return err })
		return text, err
	})
	if err != nil {
		return domain.Delivery{}, err
	}
	texts := []string{title, body}
	for _, name := range Sorted(files) {
		texts = append(texts, files[name])
	}
	if err := CheckSecrets(f.Red, texts...); err != nil {
		return domain.Delivery{}, err
	}
	msg := fmt.Sprintf("sre-agent: proposed fix for incident %s\n\n%s", p.Incident.Fingerprint.Short(), inert.Markdown{}.Text(p.Remediation.Summary))
	if err := f.call(ctx, func() error { return h.Commit(ctx, branch, files, isNew, msg) }); err != nil {
		return domain.Delivery{}, err
	}
	var r Request
	if err := f.call(ctx, func() (err error) { r, err = h.Open(ctx, branch, title, body, Labels(p)); return err }); err != nil {
		return domain.Delivery{}, err
	}
	if len(s.Reviewers)+len(s.TeamReviewers)+len(s.Assignees) > 0 {
		if err := f.call(ctx, func() error { return h.Assign(ctx, r, s.Reviewers, s.TeamReviewers, s.Assignees) }); err != nil {
			return domain.Delivery{}, err
		}
	}
	return domain.Delivery{Target: h.Name(), Location: r.URL, Files: Sorted(files)}, nil
}

// comment adds the new evidence to the incident's open request, unless
// this delivery (its idempotency key) already wrote it: the request or a
// comment made before a replica died.
func (f Flow) comment(ctx context.Context, r Request, p domain.Proposal) (domain.Delivery, error) {
	done := domain.Delivery{Target: f.Host.Name(), Location: r.URL}
	if HasKey(r.Body, p.IdempotencyKey) {
		return done, nil
	}
	if p.IdempotencyKey != "" {
		var comments []string
		if err := f.call(ctx, func() (err error) { comments, err = f.Host.Comments(ctx, r); return err }); err != nil {
			return domain.Delivery{}, err
		}
		for _, c := range comments {
			if HasKey(c, p.IdempotencyKey) {
				return done, nil
			}
		}
	}
	text := Comment(p)
	if err := CheckSecrets(f.Red, text); err != nil {
		return domain.Delivery{}, err
	}
	if err := f.call(ctx, func() error { return f.Host.Comment(ctx, r, text) }); err != nil {
		return domain.Delivery{}, err
	}
	return done, nil
}

func (f Flow) call(ctx context.Context, fn func() error) error {
	return Call(ctx, f.Host, f.Set, f.Sleep, fn)
}

// Call runs one host call, trying again as the host allows (rate limits
// until their reset, server errors with backoff), up to MaxAttempts.
func Call(ctx context.Context, h Host, s Settings, sleep func(context.Context, time.Duration) error, fn func() error) error {
	attempts := max(s.MaxAttempts, 1)
	maxWait := s.MaxWait
	if maxWait <= 0 {
		maxWait = 2 * time.Minute
	}
	var err error
	for attempt := range attempts {
		if err = fn(); err == nil {
			return nil
		}
		wait, ok := h.Retry(err, attempt)
		if !ok {
			return err
		}
		if wait > maxWait {
			return fmt.Errorf("%w (%s asks to wait %v)", err, h.Name(), wait)
		}
		if serr := sleep(ctx, max(wait, 0)); serr != nil {
			return serr
		}
	}
	return fmt.Errorf("%s: %d attempts: %w", h.Name(), attempts, err)
}
