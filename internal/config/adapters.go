package config

import (
	"errors"
	"github.com/cloud-sre-agent/sre-agent/internal/links"
	"strings"
	"time"
)

// PubSub names the subscription and bounds what is in flight.
type PubSub struct {
	// Project is the Google Cloud project of the subscription.
	Project string `yaml:"project"`
	// Subscription is the Pub/Sub subscription fed by the Cloud Logging
	// sink.
	Subscription string `yaml:"subscription"`
	// MaxOutstandingMessages and MaxOutstandingBytes are flow control:
	// messages received and not yet acknowledged.
	MaxOutstandingMessages int `yaml:"max_outstanding_messages"`
	MaxOutstandingBytes    int `yaml:"max_outstanding_bytes"`
	// NumGoroutines is the number of streaming pulls.
	NumGoroutines int `yaml:"num_goroutines"`
	// MaxAckExtension bounds each extension of a held message's ack
	// deadline: after a crash, held messages come back within it.
	MaxAckExtension time.Duration `yaml:"max_ack_extension"`
	// DeadLetterTopic, when set, receives messages that are not log
	// messages (else they go to the local quarantine file).
	DeadLetterTopic string `yaml:"dead_letter_topic"`
}

// Validate checks the settings.
func (c PubSub) Validate() error {
	if c.Project == "" || c.Subscription == "" {
		return errors.New("pubsub: project and subscription are required")
	}
	if c.MaxOutstandingMessages < 0 || c.MaxOutstandingBytes < 0 || c.NumGoroutines < 0 || c.MaxAckExtension < 0 {
		return errors.New("pubsub: flow-control settings must not be negative")
	}
	return nil
}

// SubscriptionName is the full resource name.
func (c PubSub) SubscriptionName() string {
	if strings.HasPrefix(c.Subscription, "projects/") {
		return c.Subscription
	}
	return "projects/" + c.Project + "/subscriptions/" + c.Subscription
}

// LocalTarget says where reports go.
type LocalTarget struct {
	// Links are the top-level links, given to the target when it is built.
	Links links.Links `yaml:"-"`
	// Dir receives the reports; relative paths are from the working
	// directory.
	Dir string `yaml:"dir"`
	// RepoPath, when set, is the git work tree patches must apply to.
	RepoPath string `yaml:"repo_path"`
	// LinkHosts are the hosts untrusted text in a report may link to
	// (none by default: a local report links nowhere).
	LinkHosts []string `yaml:"link_hosts"`
}

// Validate checks the settings.
func (c LocalTarget) Validate() error {
	if c.Dir == "" {
		return errors.New("delivery: local dir must be set")
	}
	return nil
}

// GitHubTarget names the repository and how to reach it.
type GitHubTarget struct {
	// Links are the top-level links, given to the target when it is built.
	Links   links.Links `yaml:"-"`
	BaseURL string      `yaml:"base_url"` // https://api.github.com, or https://HOST/api/v3/
	// Owner is the repository's owner (user or organisation).
	Owner string `yaml:"owner"`
	// Repo is the repository pull requests are opened on.
	Repo string `yaml:"repo"`
	// BaseBranch is the branch pull requests target; the agent never
	// pushes to it.
	BaseBranch string `yaml:"base_branch"`
	// Token is a secret reference to a fine-grained (or classic) PAT.
	Token string `yaml:"token"`
	// App authentication: app id, installation id, and a secret reference
	// to the app's private key (PEM).
	AppID int64 `yaml:"app_id"`
	// InstallationID is the GitHub App's installation on the repository
	// (App authentication).
	InstallationID int64 `yaml:"installation_id"`
	// PrivateKey is a secret reference to the GitHub App's private key
	// (PEM).
	PrivateKey string `yaml:"private_key"`

	// AuthorName and AuthorEmail sign the agent's commits.
	AuthorName  string `yaml:"author_name"`
	AuthorEmail string `yaml:"author_email"`
	// Reviewers are asked to review each pull request (user logins).
	Reviewers []string `yaml:"reviewers"`
	// TeamReviewers are teams asked to review (team slugs).
	TeamReviewers []string `yaml:"team_reviewers"`
	// Assignees are assigned each pull request.
	Assignees []string `yaml:"assignees"`
	// ReportDir is where a words-only proposal's report is committed.
	ReportDir string `yaml:"report_dir"`
	// SuppressAfterClose holds an incident back this long after its pull
	// request was closed without merging.
	SuppressAfterClose time.Duration `yaml:"suppress_after_close"`
	// LogQueryURL, when set, is this target's log query template, in
	// place of links.log_query (the same placeholders).
	LogQueryURL string `yaml:"log_query_url"`
	// LinkHosts are hosts, beyond github.com (or the Enterprise host) and
	// the log console, that untrusted text may link to in what the agent
	// writes.
	LinkHosts []string `yaml:"link_hosts"`
	// MaxAttempts bounds retries of one API call (rate limits, 5xx).
	MaxAttempts int `yaml:"max_attempts"`
}

// Validate checks the settings.
func (c GitHubTarget) Validate() error {
	switch {
	case c.Owner == "" || c.Repo == "" || c.BaseBranch == "":
		return errors.New("github: owner, repo and base_branch are required")
	case c.Token == "" && c.AppID == 0:
		return errors.New("github: set token (a PAT reference) or app_id, installation_id and private_key")
	case c.AppID != 0 && (c.InstallationID == 0 || c.PrivateKey == ""):
		return errors.New("github: an App needs installation_id and private_key")
	}
	return nil
}

// GitLabTarget names the project and the token.
type GitLabTarget struct {
	// Links are the top-level links, given to the target when it is built.
	Links   links.Links `yaml:"-"`
	BaseURL string      `yaml:"base_url"` // https://gitlab.com/api/v4, or a self-managed host's
	Project string      `yaml:"project"`  // "group/project" or its id
	// BaseBranch is the branch merge requests target; the agent never
	// pushes to it.
	BaseBranch string `yaml:"base_branch"`
	// Token is a secret reference to a project access token with the
	// Developer role and the api scope.
	Token string `yaml:"token"`
	// AuthorName and AuthorEmail sign the agent's commits.
	AuthorName  string `yaml:"author_name"`
	AuthorEmail string `yaml:"author_email"`
	// ReportDir is where a words-only proposal's report is committed.
	ReportDir string `yaml:"report_dir"`
	// SuppressAfterClose holds an incident back this long after its merge
	// request was closed without merging.
	SuppressAfterClose time.Duration `yaml:"suppress_after_close"`
	// LogQueryURL, when set, is this target's log query template, in
	// place of links.log_query (the same placeholders).
	LogQueryURL string `yaml:"log_query_url"`
	// LinkHosts are hosts, beyond the GitLab host and the log console,
	// that untrusted text may link to in what the agent writes.
	LinkHosts []string `yaml:"link_hosts"`
	// Reviewers and Assignees are user names, set on each new merge
	// request.
	Reviewers []string `yaml:"reviewers"`
	Assignees []string `yaml:"assignees"`
	// MaxAttempts bounds retries of one API call (rate limits, 5xx).
	MaxAttempts int `yaml:"max_attempts"`
}

// Validate checks the settings.
func (c GitLabTarget) Validate() error {
	if c.Project == "" || c.BaseBranch == "" || c.Token == "" {
		return errors.New("gitlab: project, base_branch and token are required")
	}
	return nil
}
