package delivery

import (
	"context"
	"strings"
	"sync"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// FanOut delivers one proposal to several targets side by side. The first
// is the primary: its Delivery is the incident's, and its error is the
// delivery's (the pipeline retries it; every target updates rather than
// duplicates for the same idempotency key, so a retry writes nothing twice).
// The others never block it or each other: their failures go to Failed.
type FanOut struct {
	Targets []Deliverer
	// Failed hears each secondary target's failure (nil: ignored).
	Failed func(target string, err error)
}

// Name names every target, primary first: "github+local".
func (f FanOut) Name() string {
	names := make([]string, len(f.Targets))
	for i, t := range f.Targets {
		names[i] = t.Name()
	}
	return strings.Join(names, "+")
}

// Repository is the primary's, when it writes to one: the pipeline's
// bounds count deliveries per repository.
func (f FanOut) Repository() string {
	if r, ok := f.Targets[0].(interface{ Repository() string }); ok {
		return r.Repository()
	}
	return ""
}

// Deliver implements Deliverer.
func (f FanOut) Deliver(ctx context.Context, p domain.Proposal) (domain.Delivery, error) {
	var wg sync.WaitGroup
	for _, t := range f.Targets[1:] {
		wg.Go(func() {
			if _, err := t.Deliver(ctx, p); err != nil && f.Failed != nil {
				f.Failed(t.Name(), err)
			}
		})
	}
	d, err := f.Targets[0].Deliver(ctx, p)
	wg.Wait()
	return d, err
}
