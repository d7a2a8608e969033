// Package gitlab delivers proposals as draft merge requests on GitLab
// (gitlab.com or self-managed) with the official client, the same way the
// GitHub target does: a branch per incident, a commit, a draft merge
// request with labels; a note on an open one instead of a twin; the branch
// reused after a partial failure; a closed-unmerged request holds the
// incident back for a while. It never merges.
package gitlab

import (
	"context"
	"net/http"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/delivery/review"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/inert"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/secrets"
)

// Target opens merge requests.
type Target struct {
	cfg config.GitLabTarget
	gl  *gitlab.Client
	red *redact.Redactor
	now func() time.Time
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
	gl, err := gitlab.NewClient("from-secret-store", gitlab.WithBaseURL(cfg.BaseURL), gitlab.WithHTTPClient(hc))
	if err != nil {
		return nil, err
	}
	return &Target{cfg: cfg, gl: gl, red: redact.New(redact.DefaultOptions()), now: time.Now}, nil
}

// Name implements pipeline.Deliverer.
func (*Target) Name() string { return "gitlab" }

// Repository names the project merge requests go to; the pipeline bounds
// deliveries per repository (pipeline.Repository).
func (t *Target) Repository() string { return "gitlab:" + t.cfg.Project }

// Deliver implements pipeline.Deliverer.
func (t *Target) Deliver(ctx context.Context, p domain.Proposal) (domain.Delivery, error) {
	pid, branch := t.cfg.Project, review.Branch(p)
	if branch == t.cfg.BaseBranch {
		return domain.Delivery{}, review.Reject("base-branch", "refusing to write to the base branch")
	}
	mrs, _, err := t.gl.MergeRequests.ListProjectMergeRequests(pid, &gitlab.ListProjectMergeRequestsOptions{
		SourceBranch: gitlab.Ptr(branch), TargetBranch: gitlab.Ptr(t.cfg.BaseBranch)}, gitlab.WithContext(ctx))
	if err != nil {
		return domain.Delivery{}, err
	}
	for _, mr := range mrs {
		if mr.State == "opened" {
			if review.HasKey(mr.Description, p.IdempotencyKey) {
				// This delivery opened the merge request before its
				// replica died: nothing to write again.
				return domain.Delivery{Target: "gitlab", Location: mr.WebURL}, nil
			}
			note := review.Comment(p)
			if err := review.CheckSecrets(t.red, note); err != nil {
				return domain.Delivery{}, err
			}
			if _, _, err := t.gl.Notes.CreateMergeRequestNote(pid, mr.IID, &gitlab.CreateMergeRequestNoteOptions{Body: gitlab.Ptr(note)}, gitlab.WithContext(ctx)); err != nil {
				return domain.Delivery{}, err
			}
			return domain.Delivery{Target: "gitlab", Location: mr.WebURL}, nil
		}
		if mr.State == "closed" && mr.ClosedAt != nil && t.now().Sub(*mr.ClosedAt) < t.cfg.SuppressAfterClose {
			return domain.Delivery{}, review.Reject("suppressed", "merge request !%d for this incident was closed without merging on %s", mr.IID, mr.ClosedAt.Format(time.RFC3339))
		}
	}
	md := review.Links(t.cfg.BaseURL, t.cfg.LogQueryURL, t.cfg.LinkHosts)
	title := review.Title(p, md)
	body, err := review.Body(p, t.cfg.LogQueryURL, md)
	if err != nil {
		return domain.Delivery{}, err
	}
	files, isNew, err := review.Files(p, t.cfg.ReportDir, md, func(name string) (string, error) {
		b, _, err := t.gl.RepositoryFiles.GetRawFile(pid, name, &gitlab.GetRawFileOptions{Ref: gitlab.Ptr(t.cfg.BaseBranch)}, gitlab.WithContext(ctx))
		return string(b), err
	})
	if err != nil {
		return domain.Delivery{}, err
	}
	texts := []string{title, body}
	var actions []*gitlab.CommitActionOptions
	for _, name := range review.Sorted(files) {
		texts = append(texts, files[name])
		act := gitlab.FileUpdate
		if isNew[name] {
			act = gitlab.FileCreate
		}
		actions = append(actions, &gitlab.CommitActionOptions{Action: gitlab.Ptr(act), FilePath: gitlab.Ptr(name), Content: gitlab.Ptr(files[name])})
	}
	if err := review.CheckSecrets(t.red, texts...); err != nil {
		return domain.Delivery{}, err
	}
	// The commit starts the branch from the base branch; a branch left by
	// a failed attempt is reset onto the base and reused (force).
	opt := &gitlab.CreateCommitOptions{Branch: gitlab.Ptr(branch), StartBranch: gitlab.Ptr(t.cfg.BaseBranch), Actions: actions,
		CommitMessage: gitlab.Ptr("sre-agent: proposed fix for incident " + p.Incident.Fingerprint.Short() + "\n\n" + inert.Markdown{}.Text(p.Remediation.Summary))}
	if t.cfg.AuthorName != "" {
		opt.AuthorName, opt.AuthorEmail = gitlab.Ptr(t.cfg.AuthorName), gitlab.Ptr(t.cfg.AuthorEmail)
	}
	if _, resp, err := t.gl.Branches.GetBranch(pid, branch, gitlab.WithContext(ctx)); err == nil {
		opt.Force = gitlab.Ptr(true)
	} else if resp == nil || resp.StatusCode != http.StatusNotFound {
		return domain.Delivery{}, err
	}
	if _, _, err := t.gl.Commits.CreateCommit(pid, opt, gitlab.WithContext(ctx)); err != nil {
		return domain.Delivery{}, err
	}
	labels := gitlab.LabelOptions(review.Labels(p))
	mr, _, err := t.gl.MergeRequests.CreateMergeRequest(pid, &gitlab.CreateMergeRequestOptions{Title: gitlab.Ptr("Draft: " + title),
		Description: gitlab.Ptr(body), SourceBranch: gitlab.Ptr(branch), TargetBranch: gitlab.Ptr(t.cfg.BaseBranch), Labels: &labels}, gitlab.WithContext(ctx))
	if err != nil {
		return domain.Delivery{}, err
	}
	return domain.Delivery{Target: "gitlab", Location: mr.WebURL, Files: review.Sorted(files)}, nil
}

// Source reads the project at the base branch through the API, for
// grounded analysis (coderef.Source).
func (t *Target) Source() *Source { return &Source{t: t} }

// Source is the project as the GitLab API shows it.
type Source struct{ t *Target }

// Revision is the base branch's head commit.
func (s *Source) Revision(ctx context.Context) (string, error) {
	b, _, err := s.t.gl.Branches.GetBranch(s.t.cfg.Project, s.t.cfg.BaseBranch, gitlab.WithContext(ctx))
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
		nodes, resp, err := s.t.gl.Repositories.ListTree(s.t.cfg.Project, opt, gitlab.WithContext(ctx))
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
func (s *Source) Read(ctx context.Context, p string) (string, error) {
	b, _, err := s.t.gl.RepositoryFiles.GetRawFile(s.t.cfg.Project, p, &gitlab.GetRawFileOptions{Ref: gitlab.Ptr(s.t.cfg.BaseBranch)}, gitlab.WithContext(ctx))
	return string(b), err
}
