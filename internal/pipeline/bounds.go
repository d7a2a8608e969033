package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// Repository is implemented by a Deliverer that writes to a repository
// (an empty name: it does not, as a fan-out whose primary is local);
// its deliveries are bounded by Bounds.DeliveriesPerHour.
type Repository interface {
	Repository() string
}

// Bound names.
const (
	BoundModelCalls = "model_calls_per_hour"
	BoundDeliveries = "deliveries_per_hour"
)

// limiter counts uses per key in a sliding hour.
type limiter struct {
	mu      sync.Mutex
	uses    map[string][]time.Time
	audited map[string]time.Time
}

func newLimiter() *limiter {
	return &limiter{uses: map[string][]time.Time{}, audited: map[string]time.Time{}}
}

// take records one use of key when fewer than limit were made in the hour
// before now; otherwise it returns when the next use will be allowed.
func (l *limiter) take(key string, limit int, now time.Time) (ok bool, until time.Time) {
	if limit <= 0 {
		return true, time.Time{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	kept := l.uses[key][:0]
	for _, t := range l.uses[key] {
		if now.Sub(t) < time.Hour {
			kept = append(kept, t)
		}
	}
	l.uses[key] = kept
	if len(kept) >= limit {
		return false, kept[0].Add(time.Hour)
	}
	l.uses[key] = append(kept, now)
	return true, time.Time{}
}

// firstInHour reports whether key has not been audited in the last hour,
// and marks it.
func (l *limiter) firstInHour(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.audited[key]; ok && now.Sub(t) < time.Hour {
		return false
	}
	l.audited[key] = now
	return true
}

// over records work that a bound holds back: the run waits until the
// bound allows it, the hold is counted and, once per bound and repository
// per hour, audited.
func (p *Pipeline) over(ctx context.Context, in *domain.Incident, run *domain.Run, bound, repo string, limit int, until time.Time) error {
	run.Deferred = fmt.Sprintf("%s: %d per hour for %s reached; waits until %s", bound, limit, repo, until.UTC().Format(time.RFC3339))
	run.RetryAt = until
	p.metrics.bounded.WithLabelValues(bound).Inc()
	p.log.Warn("incident held back by a bound", "fingerprint", string(in.Fingerprint), "bound", bound, "repository", repo, "until", until)
	if !p.limits.firstInHour(bound+"\x00"+repo, p.now()) {
		return nil
	}
	if _, err := p.audit.Append(ctx, audit.Record{Kind: audit.KindBound, Fingerprint: string(in.Fingerprint), Outcome: "deferred",
		Fields: map[string]any{"bound": bound, "repository": repo, "limit": limit, "until": until.UTC().Format(time.RFC3339)}}); err != nil {
		return fmt.Errorf("audit bound: %w", err)
	}
	return nil
}

// repository names the repository an incident's work is bounded under:
// the delivery target's, else the incident's checkout, else the target.
func (p *Pipeline) repository(in domain.Incident) string {
	if r, ok := p.deliver.(Repository); ok && r.Repository() != "" {
		return r.Repository()
	}
	if root := p.root(in); root != "" {
		return root
	}
	return p.deliver.Name()
}

func newBoundedCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sre_agent_bounded_total",
		Help: "Pipeline work held back by a bound (model calls or deliveries per repository per hour)."}, []string{"bound"})
}
