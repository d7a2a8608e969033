package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// Claim leases the most urgent unfinished incident that no live lease
// holds and that is not in skip, to this replica for LeaseTTL. It returns
// nil when there is none. Rows other replicas are claiming are skipped
// (SKIP LOCKED), never waited for.
func (s *Store) Claim(ctx context.Context, skip []domain.Fingerprint) (*domain.Incident, error) {
	skipped := make([]string, len(skip))
	for i, fp := range skip {
		skipped[i] = string(fp)
	}
	var in *domain.Incident
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		in, err = scanIncident(tx.QueryRow(ctx, `UPDATE incidents SET lease_owner = $1, lease_until = now() + $2::interval
			WHERE fingerprint = (
				SELECT fingerprint FROM incidents
				WHERE state IN ('new', 'triaged', 'analyzed', 'proposed')
					AND (lease_until IS NULL OR lease_until < now() OR lease_owner = $1)
					AND NOT (fingerprint = ANY($3))
				ORDER BY severity DESC, first_seen, fingerprint
				LIMIT 1 FOR UPDATE SKIP LOCKED)
			RETURNING `+incidentCols, s.replica, s.LeaseTTL.String(), skipped))
		if errors.Is(err, pgx.ErrNoRows) {
			in = nil
			return nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim an incident: %w", err)
	}
	if in != nil {
		s.writes.Add(1)
	}
	return in, nil
}

// LeaseDuration is how long a claim lasts without a heartbeat.
func (s *Store) LeaseDuration() time.Duration { return s.LeaseTTL }

// Renew extends this replica's lease on an incident: the heartbeat.
func (s *Store) Renew(ctx context.Context, fp domain.Fingerprint) error {
	tag, err := s.pool.Exec(ctx, `UPDATE incidents SET lease_until = now() + $3::interval WHERE fingerprint = $1 AND lease_owner = $2`,
		string(fp), s.replica, s.LeaseTTL.String())
	if err != nil {
		return fmt.Errorf("renew lease on %s: %w", fp, err)
	}
	s.writes.Add(1)
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("renew lease on %s: %w", fp, domain.ErrLeaseLost)
	}
	return nil
}

// Release gives an incident's lease up (the replica is done with it for
// now); a lease already lost is no error.
func (s *Store) Release(ctx context.Context, fp domain.Fingerprint) error {
	if _, err := s.pool.Exec(ctx, `UPDATE incidents SET lease_owner = NULL, lease_until = NULL WHERE fingerprint = $1 AND lease_owner = $2`,
		string(fp), s.replica); err != nil {
		return fmt.Errorf("release lease on %s: %w", fp, err)
	}
	s.writes.Add(1)
	return nil
}

// Advance stores an incident's state and run together, only while this
// replica holds its lease (or nobody does: a single agent's flow). A
// terminal state records the incident's last event, the cutoff for
// re-opening, and ends the lease.
func (s *Store) Advance(ctx context.Context, fp domain.Fingerprint, state domain.State, run json.RawMessage) error {
	closed, lease := `NULL`, `lease_until`
	if state.Terminal() {
		closed, lease = `last_seen`, `NULL`
	}
	owner := `lease_owner`
	if state.Terminal() {
		owner = `NULL`
	}
	category, cause, attention, search := domain.RunSummary(run)
	tag, err := s.pool.Exec(ctx, `UPDATE incidents SET state = $1, run = $2, closed_last_seen = `+closed+`, updated_at = now(),
		lease_owner = `+owner+`, lease_until = `+lease+`, category = $5, root_cause = $6, attention = $7, run_search = $8
		WHERE fingerprint = $3 AND (lease_owner = $4 OR lease_owner IS NULL)`, string(state), string(run), string(fp), s.replica,
		category, cause, attention, search)
	if err != nil {
		return fmt.Errorf("advance %s to %s: %w", fp, state, err)
	}
	s.writes.Add(1)
	if tag.RowsAffected() == 1 {
		return nil
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM incidents WHERE fingerprint = $1`, string(fp)).Scan(&n); err == nil && n == 0 {
		return fmt.Errorf("advance %s: %w", fp, domain.ErrNoIncident)
	}
	return fmt.Errorf("advance %s to %s: %w", fp, state, domain.ErrLeaseLost)
}

// BeginDelivery records that this replica is about to deliver run of an
// incident with key. Only the lease holder may begin. When the run was
// delivered already (by any replica), that delivery is returned and
// nothing must be sent again; when an earlier attempt began and did not
// finish (its replica died), this one goes ahead with the same key.
func (s *Store) BeginDelivery(ctx context.Context, fp domain.Fingerprint, run int, key string) (*domain.Delivery, error) {
	var done *domain.Delivery
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var owner *string
		if err := tx.QueryRow(ctx, `SELECT lease_owner FROM incidents WHERE fingerprint = $1 FOR UPDATE`, string(fp)).Scan(&owner); err != nil {
			return err
		}
		if owner != nil && *owner != s.replica {
			return domain.ErrLeaseLost
		}
		if _, err := s.exec(ctx, tx, `INSERT INTO deliveries (fingerprint, run, idempotency_key, replica, started_at) VALUES ($1, $2, $3, $4, now())
			ON CONFLICT (fingerprint, run) DO UPDATE SET replica = excluded.replica WHERE deliveries.delivered_at IS NULL`,
			string(fp), run, key, s.replica); err != nil {
			return err
		}
		var at *time.Time
		var target, location, files string
		if err := tx.QueryRow(ctx, `SELECT delivered_at, target, location, files FROM deliveries WHERE fingerprint = $1 AND run = $2`,
			string(fp), run).Scan(&at, &target, &location, &files); err != nil {
			return err
		}
		if at != nil {
			done = &domain.Delivery{Target: target, Location: location}
			if files != "" {
				done.Files = strings.Split(files, "\n")
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("begin delivery of %s: %w", fp, err)
	}
	return done, nil
}

// EndDelivery records where run of an incident was delivered. The
// database takes it once: a second end for the same run is refused.
func (s *Store) EndDelivery(ctx context.Context, fp domain.Fingerprint, run int, d domain.Delivery) error {
	tag, err := s.pool.Exec(ctx, `UPDATE deliveries SET delivered_at = now(), target = $3, location = $4, files = $5
		WHERE fingerprint = $1 AND run = $2 AND delivered_at IS NULL AND replica = $6`,
		string(fp), run, d.Target, d.Location, strings.Join(d.Files, "\n"), s.replica)
	if err != nil {
		return fmt.Errorf("end delivery of %s: %w", fp, err)
	}
	s.writes.Add(1)
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("end delivery of %s run %d: already delivered or taken over", fp, run)
	}
	return nil
}

// Deliveries counts finished deliveries per fingerprint, one per run.
func (s *Store) Deliveries(ctx context.Context) (map[domain.Fingerprint]int, error) {
	return countBy[domain.Fingerprint](ctx, s, `SELECT fingerprint, count(*) FROM deliveries WHERE delivered_at IS NOT NULL GROUP BY fingerprint`)
}
