package delivery

import (
	"context"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// Transition is what happened to an incident that people are told.
type Transition string

const (
	Opened    Transition = "opened"
	Triaged   Transition = "triaged"
	RootCause Transition = "root-cause"
	Proposed  Transition = "proposed" // a pull or merge request, or a report
	Resolved  Transition = "resolved"
	Reopened  Transition = "reopened"
)

// Notification is one incident's change, told to people: the incident as
// stored (redacted), and the run's answers so far.
type Notification struct {
	Transition Transition
	Incident   domain.Incident
	Run        *domain.Run
	// DashboardURL links the incident's page, when the dashboard is
	// reachable.
	DashboardURL string
	// Key is the same for every attempt to send this notification, from
	// any replica: a sink that sees it twice must not post twice.
	Key string
}

// Notifier tells people about incidents: a chat, a pager, a webhook.
// thread is where the incident's conversation is (empty: none yet); the
// notifier returns the thread to keep, so later changes update it instead
// of starting another.
type Notifier interface {
	Name() string
	Notify(ctx context.Context, n Notification, thread string) (string, error)
}

// Secrets resolves a secret reference (a sink's token, key or signing
// secret) when it is used, never from the config itself.
type Secrets interface {
	Get(ctx context.Context, ref string) (string, error)
}
