// Package delivery is the port proposals leave by: the Deliverer interface
// every target implements (a local report, a GitHub pull request, a GitLab
// merge request) and the fan-out that runs several side by side. The
// targets live in the packages under it.
package delivery

import (
	"context"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// Deliverer sends a proposal somewhere people will review it. Delivering
// the same incident again must update, not duplicate.
type Deliverer interface {
	Name() string
	Deliver(ctx context.Context, p domain.Proposal) (domain.Delivery, error)
}

// RejectError is returned by a Deliverer that refuses a proposal on policy
// grounds it can only check at delivery (a patch that does not apply to
// the repository); the incident is rejected, not retried.
type RejectError struct{ Violation domain.Violation }

func (e *RejectError) Error() string { return e.Violation.Rule + ": " + e.Violation.Detail }
