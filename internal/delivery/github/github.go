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
	"github.com/cloud-sre-agent/sre-agent/internal/inert"
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

// Name implements pipeline.Deliverer.
func (*Target) Name() string { return "github" }

// Repository names the repository pull requests go to; the pipeline
// bounds deliveries per repository (pipeline.Repository).
func (t *Target) Repository() string { return "github:" + t.cfg.Owner + "/" + t.cfg.Repo }

// Deliver implements pipeline.Deliverer.
func (t *Target) Deliver(ctx context.Context, p domain.Proposal) (domain.Delivery, error) {
	branch := review.Branch(p)
	if branch == t.cfg.BaseBranch {
		return domain.Delivery{}, review.Reject("base-branch", "refusing to write to the base branch")
	}
	o, r := t.cfg.Owner, t.cfg.Repo
	// One pull request per incident: find the incident's.
	var prs []*github.PullRequest
	err := t.call(ctx, func() (*github.Response, error) {
		var resp *github.Response
		var err error
		prs, resp, err = t.gh.PullRequests.List(ctx, o, r, &github.PullRequestListOptions{State: "all", Head: o + ":" + branch, Base: t.cfg.BaseBranch})
		return resp, err
	})
	if err != nil {
		return domain.Delivery{}, err
	}
	for _, pr := range prs {
		if pr.GetState() == "open" {
			return t.comment(ctx, pr, p)
		}
		if !pr.GetMerged() && pr.ClosedAt != nil && t.now().Sub(pr.ClosedAt.Time) < t.cfg.SuppressAfterClose {
			return domain.Delivery{}, review.Reject("suppressed", "pull request #%d for this incident was closed without merging on %s",
				pr.GetNumber(), pr.ClosedAt.Format(time.RFC3339))
		}
	}
	md := review.Links(t.cfg.BaseURL, t.cfg.LogQueryURL, t.cfg.LinkHosts)
	title := review.Title(p, md)
	body, err := review.Body(p, t.cfg.LogQueryURL, md)
	if err != nil {
		return domain.Delivery{}, err
	}
	files, _, err := review.Files(p, t.cfg.ReportDir, md, t.fetch(ctx))
	if err != nil {
		return domain.Delivery{}, err
	}
	if err := review.CheckSecrets(t.red, append([]string{title, body}, values(files)...)...); err != nil {
		return domain.Delivery{}, err
	}
	if err := t.commit(ctx, branch, p, files); err != nil {
		return domain.Delivery{}, err
	}
	var pr *github.PullRequest
	err = t.call(ctx, func() (*github.Response, error) {
		var resp *github.Response
		var err error
		pr, resp, err = t.gh.PullRequests.Create(ctx, o, r, &github.NewPullRequest{Title: github.Ptr(title), Head: github.Ptr(branch),
			Base: github.Ptr(t.cfg.BaseBranch), Body: github.Ptr(body), Draft: github.Ptr(true), MaintainerCanModify: github.Ptr(true)})
		return resp, err
	})
	if err != nil {
		return domain.Delivery{}, err
	}
	labels := review.Labels(p)
	if err := t.call(ctx, func() (*github.Response, error) {
		_, resp, err := t.gh.Issues.AddLabelsToIssue(ctx, o, r, pr.GetNumber(), labels)
		return resp, err
	}); err != nil {
		return domain.Delivery{}, err
	}
	if len(t.cfg.Reviewers)+len(t.cfg.TeamReviewers) > 0 {
		if err := t.call(ctx, func() (*github.Response, error) {
			_, resp, err := t.gh.PullRequests.RequestReviewers(ctx, o, r, pr.GetNumber(), github.ReviewersRequest{Reviewers: t.cfg.Reviewers, TeamReviewers: t.cfg.TeamReviewers})
			return resp, err
		}); err != nil {
			return domain.Delivery{}, err
		}
	}
	if len(t.cfg.Assignees) > 0 {
		if err := t.call(ctx, func() (*github.Response, error) {
			_, resp, err := t.gh.Issues.AddAssignees(ctx, o, r, pr.GetNumber(), t.cfg.Assignees)
			return resp, err
		}); err != nil {
			return domain.Delivery{}, err
		}
	}
	return domain.Delivery{Target: "github", Location: pr.GetHTMLURL(), Files: keys(files)}, nil
}

// comment adds the new evidence to the incident's open pull request.
func (t *Target) comment(ctx context.Context, pr *github.PullRequest, p domain.Proposal) (domain.Delivery, error) {
	done := domain.Delivery{Target: "github", Location: pr.GetHTMLURL()}
	// This delivery made the pull request, or commented, before its
	// replica died: nothing to write again.
	if review.HasKey(pr.GetBody(), p.IdempotencyKey) {
		return done, nil
	}
	if p.IdempotencyKey != "" {
		var comments []*github.IssueComment
		err := t.call(ctx, func() (*github.Response, error) {
			var resp *github.Response
			var err error
			comments, resp, err = t.gh.Issues.ListComments(ctx, t.cfg.Owner, t.cfg.Repo, pr.GetNumber(), &github.IssueListCommentsOptions{
				ListOptions: github.ListOptions{PerPage: 100}})
			return resp, err
		})
		if err != nil {
			return domain.Delivery{}, err
		}
		for _, c := range comments {
			if review.HasKey(c.GetBody(), p.IdempotencyKey) {
				return done, nil
			}
		}
	}
	text := review.Comment(p)
	if err := review.CheckSecrets(t.red, text); err != nil {
		return domain.Delivery{}, err
	}
	err := t.call(ctx, func() (*github.Response, error) {
		_, resp, err := t.gh.Issues.CreateComment(ctx, t.cfg.Owner, t.cfg.Repo, pr.GetNumber(), &github.IssueComment{Body: github.Ptr(text)})
		return resp, err
	})
	if err != nil {
		return domain.Delivery{}, err
	}
	return done, nil
}

// fetch reads a file of the base branch.
func (t *Target) fetch(ctx context.Context) func(string) (string, error) {
	return func(name string) (string, error) {
		var fc *github.RepositoryContent
		err := t.call(ctx, func() (*github.Response, error) {
			var resp *github.Response
			var err error
			fc, _, resp, err = t.gh.Repositories.GetContents(ctx, t.cfg.Owner, t.cfg.Repo, name, &github.RepositoryContentGetOptions{Ref: t.cfg.BaseBranch})
			return resp, err
		})
		if err != nil {
			return "", err
		}
		return fc.GetContent()
	}
}

// commit writes files to the incident's branch through the Git Data API:
// blobs, a tree on the base commit, a commit, and the branch ref (created,
// or moved when a failed earlier attempt left it).
func (t *Target) commit(ctx context.Context, branch string, p domain.Proposal, files map[string]string) error {
	o, r := t.cfg.Owner, t.cfg.Repo
	var baseRef *github.Reference
	if err := t.call(ctx, func() (*github.Response, error) {
		var resp *github.Response
		var err error
		baseRef, resp, err = t.gh.Git.GetRef(ctx, o, r, "heads/"+t.cfg.BaseBranch)
		return resp, err
	}); err != nil {
		return err
	}
	baseSHA := baseRef.GetObject().GetSHA()
	var baseCommit *github.Commit
	if err := t.call(ctx, func() (*github.Response, error) {
		var resp *github.Response
		var err error
		baseCommit, resp, err = t.gh.Git.GetCommit(ctx, o, r, baseSHA)
		return resp, err
	}); err != nil {
		return err
	}
	var entries []*github.TreeEntry
	for _, name := range keys(files) {
		var blob *github.Blob
		if err := t.call(ctx, func() (*github.Response, error) {
			var resp *github.Response
			var err error
			blob, resp, err = t.gh.Git.CreateBlob(ctx, o, r, github.Blob{Content: github.Ptr(files[name]), Encoding: github.Ptr("utf-8")})
			return resp, err
		}); err != nil {
			return err
		}
		entries = append(entries, &github.TreeEntry{Path: github.Ptr(name), Mode: github.Ptr("100644"), Type: github.Ptr("blob"), SHA: blob.SHA})
	}
	var tree *github.Tree
	if err := t.call(ctx, func() (*github.Response, error) {
		var resp *github.Response
		var err error
		tree, resp, err = t.gh.Git.CreateTree(ctx, o, r, baseCommit.GetTree().GetSHA(), entries)
		return resp, err
	}); err != nil {
		return err
	}
	who := &github.CommitAuthor{Name: github.Ptr(t.cfg.AuthorName), Email: github.Ptr(t.cfg.AuthorEmail), Date: &github.Timestamp{Time: t.now()}}
	msg := fmt.Sprintf("sre-agent: proposed fix for incident %s\n\n%s", p.Incident.Fingerprint.Short(), inert.Markdown{}.Text(p.Remediation.Summary))
	var c *github.Commit
	if err := t.call(ctx, func() (*github.Response, error) {
		var resp *github.Response
		var err error
		c, resp, err = t.gh.Git.CreateCommit(ctx, o, r, github.Commit{Message: github.Ptr(msg), Tree: tree, Parents: []*github.Commit{{SHA: github.Ptr(baseSHA)}},
			Author: who, Committer: who}, nil)
		return resp, err
	}); err != nil {
		return err
	}
	ref := "refs/heads/" + branch
	var existing *github.Reference
	err := t.call(ctx, func() (*github.Response, error) {
		var resp *github.Response
		var err error
		existing, resp, err = t.gh.Git.GetRef(ctx, o, r, "heads/"+branch)
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			return resp, nil
		}
		return resp, err
	})
	if err != nil {
		return err
	}
	return t.call(ctx, func() (*github.Response, error) {
		if existing != nil && existing.GetRef() != "" {
			// A failed earlier attempt left the branch: reuse it.
			_, resp, err := t.gh.Git.UpdateRef(ctx, o, r, "heads/"+branch, github.UpdateRef{SHA: c.GetSHA(), Force: github.Ptr(true)})
			return resp, err
		}
		_, resp, err := t.gh.Git.CreateRef(ctx, o, r, github.CreateRef{Ref: ref, SHA: c.GetSHA()})
		return resp, err
	})
}

// call retries one API call on rate limits (waiting for the reset or
// Retry-After) and server errors (backoff), up to MaxAttempts.
func (t *Target) call(ctx context.Context, f func() (*github.Response, error)) error {
	var err error
	for attempt := 0; attempt < t.cfg.MaxAttempts; attempt++ {
		var resp *github.Response
		resp, err = f()
		if err == nil {
			return nil
		}
		var wait time.Duration
		var rl *github.RateLimitError
		var abuse *github.AbuseRateLimitError
		switch {
		case errors.As(err, &rl):
			wait = time.Until(rl.Rate.Reset.Time)
		case errors.As(err, &abuse):
			wait = abuse.GetRetryAfter()
		case resp != nil && resp.StatusCode >= 500:
			wait = time.Duration(500<<attempt) * time.Millisecond
		default:
			return err
		}
		if wait > 2*time.Minute {
			return fmt.Errorf("%w (GitHub asks to wait %v)", err, wait)
		}
		if wait < 0 {
			wait = 0
		}
		if serr := t.sleep(ctx, wait); serr != nil {
			return serr
		}
	}
	return fmt.Errorf("github: %d attempts: %w", t.cfg.MaxAttempts, err)
}

func keys(m map[string]string) []string { return review.Sorted(m) }

func values(m map[string]string) []string {
	out := []string{}
	for _, k := range keys(m) {
		out = append(out, m[k])
	}
	return out
}

// Source reads the repository at the base branch through the API, for
// grounded analysis (coderef.Source).
func (t *Target) Source() *Source { return &Source{t: t} }

// Source is the repository as the GitHub API shows it.
type Source struct{ t *Target }

// Revision is the base branch's head commit.
func (s *Source) Revision(ctx context.Context) (string, error) {
	var ref *github.Reference
	err := s.t.call(ctx, func() (*github.Response, error) {
		var resp *github.Response
		var err error
		ref, resp, err = s.t.gh.Git.GetRef(ctx, s.t.cfg.Owner, s.t.cfg.Repo, "heads/"+s.t.cfg.BaseBranch)
		return resp, err
	})
	return ref.GetObject().GetSHA(), err
}

// Files lists the blobs of the base branch's tree.
func (s *Source) Files(ctx context.Context) ([]string, error) {
	var tree *github.Tree
	err := s.t.call(ctx, func() (*github.Response, error) {
		var resp *github.Response
		var err error
		tree, resp, err = s.t.gh.Git.GetTree(ctx, s.t.cfg.Owner, s.t.cfg.Repo, s.t.cfg.BaseBranch, true)
		return resp, err
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
func (s *Source) Read(ctx context.Context, p string) (string, error) { return s.t.fetch(ctx)(p) }
