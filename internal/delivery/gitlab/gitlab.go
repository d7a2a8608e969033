// Package gitlab delivers proposals as draft merge requests on GitLab
// (gitlab.com or self-managed) with the official client, the same way the
// GitHub target does: a branch per incident, a commit, a draft merge
// request with labels; a note on an open one instead of a twin; the branch
// reused after a partial failure; a closed-unmerged request holds the
// incident back for a while. It never merges.
package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/cloud-sre-agent/sre-agent/internal/backoff"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/review"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
)

// Target opens merge requests.
type Target struct {
	cfg   config.GitLabTarget
	gl    *gitlab.Client
	red   *redact.Redactor
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

// New builds the target; the token is set on each request from st.
func New(cfg config.GitLabTarget, st *secrets.Store, base http.RoundTripper) (*Target, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://gitlab.com/api/v4"
	}
	if cfg.ReportDir == "" {
		cfg.ReportDir = ".sre-agent/incidents"
	}
	hc := &http.Client{Timeout: time.Minute, Transport: &secrets.HeaderTransport{Store: st, Ref: cfg.Token, Header: "PRIVATE-TOKEN", Base: base}}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 4
	}
	// The review flow retries, bounded by MaxAttempts, as for GitHub; the
	// client's own retries would hide them.
	gl, err := gitlab.NewClient("from-secret-store", gitlab.WithBaseURL(cfg.BaseURL), gitlab.WithHTTPClient(hc), gitlab.WithoutRetries())
	if err != nil {
		return nil, err
	}
	return &Target{cfg: cfg, gl: gl, red: redact.New(redact.DefaultOptions()), now: time.Now, sleep: backoff.Sleep}, nil
}

// Name implements delivery.Deliverer.
func (*Target) Name() string { return "gitlab" }

// Repository names the project merge requests go to; the pipeline bounds
// deliveries per repository (pipeline.Repository).
func (t *Target) Repository() string { return "gitlab:" + t.cfg.Project }

// Deliver implements delivery.Deliverer through the one review flow.
func (t *Target) Deliver(ctx context.Context, p domain.Proposal) (domain.Delivery, error) {
	return review.Flow{Host: (*host)(t), Set: t.settings(), Red: t.red, Now: t.now, Sleep: t.sleep}.Deliver(ctx, p)
}

func (t *Target) settings() review.Settings {
	c := t.cfg
	return review.Settings{BaseBranch: c.BaseBranch, ReportDir: c.ReportDir, APIBase: c.BaseURL, Links: c.Links, LogQueryURL: c.LogQueryURL,
		LinkHosts: c.LinkHosts, SuppressAfterClose: c.SuppressAfterClose, Reviewers: c.Reviewers, Assignees: c.Assignees, MaxAttempts: c.MaxAttempts}
}

// call runs one API call with the flow's retries.
func (t *Target) call(ctx context.Context, f func() error) error {
	return review.Call(ctx, (*host)(t), t.settings(), t.sleep, f)
}

// host is the GitLab REST API as the review flow asks it.
type host Target

func (*host) Name() string { return "gitlab" }
func (*host) Noun() string { return "merge request" }

func request(mr *gitlab.BasicMergeRequest) review.Request {
	r := review.Request{Number: int(mr.IID), URL: mr.WebURL, Open: mr.State == "opened", Merged: mr.State == "merged", Body: mr.Description}
	if mr.ClosedAt != nil {
		r.ClosedAt = *mr.ClosedAt
	}
	return r
}

func (h *host) Find(ctx context.Context, branch string) ([]review.Request, error) {
	mrs, _, err := h.gl.MergeRequests.ListProjectMergeRequests(h.cfg.Project, &gitlab.ListProjectMergeRequestsOptions{
		SourceBranch: gitlab.Ptr(branch), TargetBranch: gitlab.Ptr(h.cfg.BaseBranch)}, gitlab.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	out := make([]review.Request, len(mrs))
	for i, mr := range mrs {
		out[i] = request(mr)
	}
	return out, nil
}

func (h *host) Comments(ctx context.Context, r review.Request) ([]string, error) {
	notes, _, err := h.gl.Notes.ListMergeRequestNotes(h.cfg.Project, int64(r.Number), &gitlab.ListMergeRequestNotesOptions{
		ListOptions: gitlab.ListOptions{PerPage: 100}}, gitlab.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	out := make([]string, len(notes))
	for i, n := range notes {
		out[i] = n.Body
	}
	return out, nil
}

func (h *host) Comment(ctx context.Context, r review.Request, text string) error {
	_, _, err := h.gl.Notes.CreateMergeRequestNote(h.cfg.Project, int64(r.Number), &gitlab.CreateMergeRequestNoteOptions{Body: gitlab.Ptr(text)}, gitlab.WithContext(ctx))
	return err
}

func (h *host) ReadFile(ctx context.Context, name string) (string, error) {
	b, _, err := h.gl.RepositoryFiles.GetRawFile(h.cfg.Project, name, &gitlab.GetRawFileOptions{Ref: gitlab.Ptr(h.cfg.BaseBranch)}, gitlab.WithContext(ctx))
	return string(b), err
}

// Commit starts the branch from the base branch in one commit; a branch
// left by a failed attempt is reset onto the base and reused (force).
func (h *host) Commit(ctx context.Context, branch string, files map[string]string, isNew map[string]bool, msg string) error {
	var actions []*gitlab.CommitActionOptions
	for _, name := range review.Sorted(files) {
		act := gitlab.FileUpdate
		if isNew[name] {
			act = gitlab.FileCreate
		}
		actions = append(actions, &gitlab.CommitActionOptions{Action: gitlab.Ptr(act), FilePath: gitlab.Ptr(name), Content: gitlab.Ptr(files[name])})
	}
	opt := &gitlab.CreateCommitOptions{Branch: gitlab.Ptr(branch), StartBranch: gitlab.Ptr(h.cfg.BaseBranch), Actions: actions, CommitMessage: gitlab.Ptr(msg)}
	if h.cfg.AuthorName != "" {
		opt.AuthorName, opt.AuthorEmail = gitlab.Ptr(h.cfg.AuthorName), gitlab.Ptr(h.cfg.AuthorEmail)
	}
	if _, resp, err := h.gl.Branches.GetBranch(h.cfg.Project, branch, gitlab.WithContext(ctx)); err == nil {
		opt.Force = gitlab.Ptr(true)
	} else if resp == nil || resp.StatusCode != http.StatusNotFound {
		return err
	}
	_, _, err := h.gl.Commits.CreateCommit(h.cfg.Project, opt, gitlab.WithContext(ctx))
	return err
}

// Open opens the merge request as a draft (GitLab marks drafts by title).
func (h *host) Open(ctx context.Context, branch, title, body string, labels []string) (review.Request, error) {
	ls := gitlab.LabelOptions(labels)
	mr, _, err := h.gl.MergeRequests.CreateMergeRequest(h.cfg.Project, &gitlab.CreateMergeRequestOptions{Title: gitlab.Ptr("Draft: " + title),
		Description: gitlab.Ptr(body), SourceBranch: gitlab.Ptr(branch), TargetBranch: gitlab.Ptr(h.cfg.BaseBranch), Labels: &ls}, gitlab.WithContext(ctx))
	if err != nil {
		return review.Request{}, err
	}
	return request(&mr.BasicMergeRequest), nil
}

// Assign sets reviewers and assignees by user name (GitLab takes ids:
// each name is looked up); GitLab has no team reviewers.
func (h *host) Assign(ctx context.Context, r review.Request, reviewers, _ []string, assignees []string) error {
	ids := func(names []string) (*[]int64, error) {
		if len(names) == 0 {
			return nil, nil
		}
		var out []int64
		for _, n := range names {
			us, _, err := h.gl.Users.ListUsers(&gitlab.ListUsersOptions{Username: gitlab.Ptr(n)}, gitlab.WithContext(ctx))
			if err != nil {
				return nil, err
			}
			if len(us) != 1 {
				return nil, fmt.Errorf("gitlab: no user named %q", n)
			}
			out = append(out, us[0].ID)
		}
		return &out, nil
	}
	rev, err := ids(reviewers)
	if err != nil {
		return err
	}
	asg, err := ids(assignees)
	if err != nil {
		return err
	}
	_, _, err = h.gl.MergeRequests.UpdateMergeRequest(h.cfg.Project, int64(r.Number), &gitlab.UpdateMergeRequestOptions{ReviewerIDs: rev, AssigneeIDs: asg}, gitlab.WithContext(ctx))
	return err
}

// Retry waits out rate limits (Retry-After, else RateLimit-Reset) and
// retries server errors with backoff.
func (*host) Retry(err error, attempt int) (time.Duration, bool) {
	var er *gitlab.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return 0, false
	}
	switch st := er.Response.StatusCode; {
	case st == http.StatusTooManyRequests:
		if d := backoff.RetryAfter(er.Response.Header); d > 0 {
			return d, true
		}
		if v, perr := strconv.ParseInt(er.Response.Header.Get("RateLimit-Reset"), 10, 64); perr == nil {
			return time.Until(time.Unix(v, 0)), true
		}
		return time.Duration(500<<attempt) * time.Millisecond, true
	case st >= 500:
		return time.Duration(500<<attempt) * time.Millisecond, true
	}
	return 0, false
}

// Source reads the project at the base branch through the API, for
// grounded analysis (coderef.Source).
func (t *Target) Source() *Source { return &Source{t: t} }

// Source is the project as the GitLab API shows it.
type Source struct{ t *Target }

// Revision is the base branch's head commit.
func (s *Source) Revision(ctx context.Context) (string, error) {
	var b *gitlab.Branch
	err := s.t.call(ctx, func() (err error) {
		b, _, err = s.t.gl.Branches.GetBranch(s.t.cfg.Project, s.t.cfg.BaseBranch, gitlab.WithContext(ctx))
		return err
	})
	if err != nil {
		return "", err
	}
	if b.Commit == nil {
		return "", nil
	}
	return b.Commit.ID, nil
}

// Files lists the blobs of the base branch, page by page.
func (s *Source) Files(ctx context.Context) ([]string, error) {
	var out []string
	opt := &gitlab.ListTreeOptions{Ref: gitlab.Ptr(s.t.cfg.BaseBranch), Recursive: gitlab.Ptr(true), ListOptions: gitlab.ListOptions{PerPage: 100}}
	for {
		var nodes []*gitlab.TreeNode
		var resp *gitlab.Response
		err := s.t.call(ctx, func() (err error) {
			nodes, resp, err = s.t.gl.Repositories.ListTree(s.t.cfg.Project, opt, gitlab.WithContext(ctx))
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, n := range nodes {
			if n.Type == "blob" {
				out = append(out, n.Path)
			}
		}
		if resp == nil || resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

// Read fetches a file at the base branch.
func (s *Source) Read(ctx context.Context, p string) (text string, err error) {
	err = s.t.call(ctx, func() (err error) { text, err = (*host)(s.t).ReadFile(ctx, p); return err })
	return text, err
}
