// Package github delivers proposals as draft pull requests with
// go-github, authenticated as a GitHub App (a signed app JWT exchanged for
// an installation token, refreshed before it expires), by a fine-grained
// personal access token, or by a classic one (which works, with a warning).
// One pull request per incident: a branch sre-agent/<short fingerprint>, a
// commit made through the Git Data API, a draft pull request with labels.
// An open pull request for the incident gets a comment instead of a twin;
// a retry after a partial failure reuses the branch; a pull request closed
// without merging holds the incident back for a while. The agent never
// merges, never enables auto-merge and never pushes to the base branch.
package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v88/github"

	"github.com/cloud-sre-agent/sre-agent/internal/backoff"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/review"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
)

// Target opens pull requests.
type Target struct {
	cfg   config.GitHubTarget
	gh    *github.Client
	red   *redact.Redactor
	sleep func(context.Context, time.Duration) error
	now   func() time.Time
}

// New builds the target. base is the HTTP transport (the egress
// transport); st resolves the token or key. It reports whether the token
// is a classic PAT (the caller warns).
func New(ctx context.Context, cfg config.GitHubTarget, st *secrets.Store, base http.RoundTripper) (*Target, bool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, false, err
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://api.github.com/"
	}
	if !strings.HasSuffix(cfg.BaseURL, "/") {
		cfg.BaseURL += "/"
	}
	if cfg.ReportDir == "" {
		cfg.ReportDir = ".sre-agent/incidents"
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 4
	}
	if cfg.AuthorName == "" {
		cfg.AuthorName, cfg.AuthorEmail = "sre-agent", "sre-agent@users.noreply.github.com"
	}
	var rt http.RoundTripper
	classic := false
	if cfg.AppID != 0 {
		key, err := st.Get(ctx, cfg.PrivateKey)
		if err != nil {
			return nil, false, err
		}
		itr, err := ghinstallation.New(base, cfg.AppID, cfg.InstallationID, []byte(key))
		if err != nil {
			return nil, false, fmt.Errorf("github app: %w", err)
		}
		itr.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
		rt = itr
	} else {
		tok, err := st.Get(ctx, cfg.Token)
		if err != nil {
			return nil, false, err
		}
		classic = strings.HasPrefix(tok, "ghp_")
		rt = &secrets.HeaderTransport{Store: st, Ref: cfg.Token, Header: "Authorization", Prefix: "Bearer ", Base: base}
	}
	opts := []github.ClientOptionsFunc{github.WithHTTPClient(&http.Client{Transport: rt, Timeout: time.Minute})}
	if cfg.BaseURL != "https://api.github.com/" {
		opts = append(opts, github.WithURLs(github.Ptr(cfg.BaseURL), github.Ptr(cfg.BaseURL)))
	}
	gh, err := github.NewClient(opts...)
	if err != nil {
		return nil, false, fmt.Errorf("github client: %w", err)
	}
	return &Target{cfg: cfg, gh: gh, red: redact.New(redact.DefaultOptions()), sleep: backoff.Sleep, now: time.Now}, classic, nil
}

// Name implements delivery.Deliverer.
func (*Target) Name() string { return "github" }

// Repository names the repository pull requests go to; the pipeline
// bounds deliveries per repository (pipeline.Repository).
func (t *Target) Repository() string { return "github:" + t.cfg.Owner + "/" + t.cfg.Repo }

// Deliver implements delivery.Deliverer through the one review flow.
func (t *Target) Deliver(ctx context.Context, p domain.Proposal) (domain.Delivery, error) {
	return review.Flow{Host: (*host)(t), Set: t.settings(), Red: t.red, Now: t.now, Sleep: t.sleep}.Deliver(ctx, p)
}

func (t *Target) settings() review.Settings {
	c := t.cfg
	return review.Settings{BaseBranch: c.BaseBranch, ReportDir: c.ReportDir, APIBase: c.BaseURL, Links: c.Links, LogQueryURL: c.LogQueryURL,
		LinkHosts: c.LinkHosts, SuppressAfterClose: c.SuppressAfterClose, Reviewers: c.Reviewers, TeamReviewers: c.TeamReviewers,
		Assignees: c.Assignees, MaxAttempts: c.MaxAttempts}
}

// call runs one API call with the flow's retries.
func (t *Target) call(ctx context.Context, f func() error) error {
	return review.Call(ctx, (*host)(t), t.settings(), t.sleep, f)
}

// host is the GitHub REST API as the review flow asks it.
type host Target

func (*host) Name() string { return "github" }
func (*host) Noun() string { return "pull request" }

func request(pr *github.PullRequest) review.Request {
	r := review.Request{Number: pr.GetNumber(), URL: pr.GetHTMLURL(), Open: pr.GetState() == "open", Merged: pr.GetMerged(), Body: pr.GetBody()}
	if pr.ClosedAt != nil {
		r.ClosedAt = pr.ClosedAt.Time
	}
	return r
}

func (h *host) Find(ctx context.Context, branch string) ([]review.Request, error) {
	o := h.cfg.Owner
	prs, _, err := h.gh.PullRequests.List(ctx, o, h.cfg.Repo, &github.PullRequestListOptions{State: "all", Head: o + ":" + branch, Base: h.cfg.BaseBranch})
	if err != nil {
		return nil, err
	}
	out := make([]review.Request, len(prs))
	for i, pr := range prs {
		out[i] = request(pr)
	}
	return out, nil
}

func (h *host) Comments(ctx context.Context, r review.Request) ([]string, error) {
	cs, _, err := h.gh.Issues.ListComments(ctx, h.cfg.Owner, h.cfg.Repo, r.Number, &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		return nil, err
	}
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.GetBody()
	}
	return out, nil
}

func (h *host) Comment(ctx context.Context, r review.Request, text string) error {
	_, _, err := h.gh.Issues.CreateComment(ctx, h.cfg.Owner, h.cfg.Repo, r.Number, &github.IssueComment{Body: github.Ptr(text)})
	return err
}

func (h *host) ReadFile(ctx context.Context, name string) (string, error) {
	fc, _, _, err := h.gh.Repositories.GetContents(ctx, h.cfg.Owner, h.cfg.Repo, name, &github.RepositoryContentGetOptions{Ref: h.cfg.BaseBranch})
	if err != nil {
		return "", err
	}
	return fc.GetContent()
}

// Commit writes files to the incident's branch through the Git Data API:
// blobs, a tree on the base commit, a commit, and the branch ref (created,
// or moved when a failed earlier attempt left it).
func (h *host) Commit(ctx context.Context, branch string, files map[string]string, _ map[string]bool, msg string) error {
	o, r := h.cfg.Owner, h.cfg.Repo
	baseRef, _, err := h.gh.Git.GetRef(ctx, o, r, "heads/"+h.cfg.BaseBranch)
	if err != nil {
		return err
	}
	baseSHA := baseRef.GetObject().GetSHA()
	baseCommit, _, err := h.gh.Git.GetCommit(ctx, o, r, baseSHA)
	if err != nil {
		return err
	}
	var entries []*github.TreeEntry
	for _, name := range review.Sorted(files) {
		blob, _, err := h.gh.Git.CreateBlob(ctx, o, r, github.Blob{Content: github.Ptr(files[name]), Encoding: github.Ptr("utf-8")})
		if err != nil {
			return err
		}
		entries = append(entries, &github.TreeEntry{Path: github.Ptr(name), Mode: github.Ptr("100644"), Type: github.Ptr("blob"), SHA: blob.SHA})
	}
	tree, _, err := h.gh.Git.CreateTree(ctx, o, r, baseCommit.GetTree().GetSHA(), entries)
	if err != nil {
		return err
	}
	who := &github.CommitAuthor{Name: github.Ptr(h.cfg.AuthorName), Email: github.Ptr(h.cfg.AuthorEmail), Date: &github.Timestamp{Time: h.now()}}
	c, _, err := h.gh.Git.CreateCommit(ctx, o, r, github.Commit{Message: github.Ptr(msg), Tree: tree, Parents: []*github.Commit{{SHA: github.Ptr(baseSHA)}},
		Author: who, Committer: who}, nil)
	if err != nil {
		return err
	}
	existing, resp, err := h.gh.Git.GetRef(ctx, o, r, "heads/"+branch)
	if err != nil && (resp == nil || resp.StatusCode != http.StatusNotFound) {
		return err
	}
	if err == nil && existing.GetRef() != "" {
		// A failed earlier attempt left the branch: reuse it.
		_, _, err := h.gh.Git.UpdateRef(ctx, o, r, "heads/"+branch, github.UpdateRef{SHA: c.GetSHA(), Force: github.Ptr(true)})
		return err
	}
	_, _, err = h.gh.Git.CreateRef(ctx, o, r, github.CreateRef{Ref: "refs/heads/" + branch, SHA: c.GetSHA()})
	return err
}

func (h *host) Open(ctx context.Context, branch, title, body string, labels []string) (review.Request, error) {
	o, r := h.cfg.Owner, h.cfg.Repo
	pr, _, err := h.gh.PullRequests.Create(ctx, o, r, &github.NewPullRequest{Title: github.Ptr(title), Head: github.Ptr(branch),
		Base: github.Ptr(h.cfg.BaseBranch), Body: github.Ptr(body), Draft: github.Ptr(true), MaintainerCanModify: github.Ptr(true)})
	if err != nil {
		return review.Request{}, err
	}
	if _, _, err := h.gh.Issues.AddLabelsToIssue(ctx, o, r, pr.GetNumber(), labels); err != nil {
		return review.Request{}, err
	}
	return request(pr), nil
}

func (h *host) Assign(ctx context.Context, req review.Request, reviewers, teams, assignees []string) error {
	o, r := h.cfg.Owner, h.cfg.Repo
	if len(reviewers)+len(teams) > 0 {
		if _, _, err := h.gh.PullRequests.RequestReviewers(ctx, o, r, req.Number, github.ReviewersRequest{Reviewers: reviewers, TeamReviewers: teams}); err != nil {
			return err
		}
	}
	if len(assignees) > 0 {
		if _, _, err := h.gh.Issues.AddAssignees(ctx, o, r, req.Number, assignees); err != nil {
			return err
		}
	}
	return nil
}

// Retry waits out primary rate limits until their reset, secondary ones
// for their Retry-After, and server errors with backoff.
func (*host) Retry(err error, attempt int) (time.Duration, bool) {
	var rl *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	var er *github.ErrorResponse
	switch {
	case errors.As(err, &rl):
		return time.Until(rl.Rate.Reset.Time), true
	case errors.As(err, &abuse):
		return abuse.GetRetryAfter(), true
	case errors.As(err, &er) && er.Response != nil && er.Response.StatusCode >= 500:
		return time.Duration(500<<attempt) * time.Millisecond, true
	}
	return 0, false
}

// Source reads the repository at the base branch through the API, for
// grounded analysis (coderef.Source).
func (t *Target) Source() *Source { return &Source{t: t} }

// Source is the repository as the GitHub API shows it.
type Source struct{ t *Target }

// Revision is the base branch's head commit.
func (s *Source) Revision(ctx context.Context) (string, error) {
	var ref *github.Reference
	err := s.t.call(ctx, func() (err error) {
		ref, _, err = s.t.gh.Git.GetRef(ctx, s.t.cfg.Owner, s.t.cfg.Repo, "heads/"+s.t.cfg.BaseBranch)
		return err
	})
	return ref.GetObject().GetSHA(), err
}

// Files lists the blobs of the base branch's tree.
func (s *Source) Files(ctx context.Context) ([]string, error) {
	var tree *github.Tree
	err := s.t.call(ctx, func() (err error) {
		tree, _, err = s.t.gh.Git.GetTree(ctx, s.t.cfg.Owner, s.t.cfg.Repo, s.t.cfg.BaseBranch, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range tree.Entries {
		if e.GetType() == "blob" {
			out = append(out, e.GetPath())
		}
	}
	return out, nil
}

// Read fetches a file at the base branch.
func (s *Source) Read(ctx context.Context, p string) (text string, err error) {
	err = s.t.call(ctx, func() (err error) { text, err = (*host)(s.t).ReadFile(ctx, p); return err })
	return text, err
}
