// Package postgres is the incident store on PostgreSQL (pgx), for several
// agent replicas sharing one subscription: the same store interface as
// the SQLite store, plus what replicas need to behave as one agent.
//
//   - Detection on merged counts: every replica adds its per-bucket event
//     counts to window_counts at each flush, in the same transaction that
//     saves its incidents and message keys, and decides on the sum
//     (SaveShared).
//   - Templates registered once: a template's id is the hash of its text,
//     unique in templates; replicas pull the templates others registered
//     (TemplatesSince).
//   - Work claimed with leases: Claim takes the next incident no live
//     lease holds (FOR UPDATE SKIP LOCKED), Renew is the heartbeat, and
//     Advance only writes while this replica holds the lease.
//   - One delivery per incident run: deliveries is keyed by fingerprint
//     and run, with a unique idempotency key handed to the PR target.
//   - Audit chains per replica (AuditLog), verified together.
//
// The schema migrates itself on Open under an advisory lock, so replicas
// starting together migrate once.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is an open PostgreSQL incident store, acting for one replica.
type Store struct {
	pool    *pgxpool.Pool
	replica string
	// ReopenAfter is the quiet period after which an incident whose run
	// has ended is re-opened by new events; zero never re-opens.
	ReopenAfter time.Duration
	// LeaseTTL is how long a claim lasts without a heartbeat.
	LeaseTTL time.Duration
	// writes counts statements that changed rows (Writes).
	writes atomic.Int64

	pruneMu   sync.Mutex
	lastPrune time.Time
}

// migrations are applied in order; the index+1 is the schema version.
var migrations = []string{
	`CREATE TABLE templates (
		id TEXT PRIMARY KEY,
		text TEXT NOT NULL,
		first_seen TIMESTAMPTZ NOT NULL,
		last_seen TIMESTAMPTZ NOT NULL,
		seq BIGSERIAL UNIQUE
	);
	CREATE TABLE baselines (
		service TEXT NOT NULL,
		template_id TEXT NOT NULL,
		first_seen TIMESTAMPTZ NOT NULL,
		baseline DOUBLE PRECISION NOT NULL DEFAULT 0,
		has_base BOOLEAN NOT NULL DEFAULT false,
		through_bucket BIGINT NOT NULL DEFAULT 0,
		PRIMARY KEY (service, template_id)
	);
	CREATE TABLE incidents (
		fingerprint TEXT PRIMARY KEY,
		service TEXT NOT NULL,
		severity INTEGER NOT NULL,
		state TEXT NOT NULL,
		first_seen TIMESTAMPTZ NOT NULL,
		last_seen TIMESTAMPTZ NOT NULL,
		count BIGINT NOT NULL,
		reasons TEXT NOT NULL,
		templates TEXT NOT NULL,
		samples TEXT NOT NULL,
		stack TEXT NOT NULL,
		source_location TEXT NOT NULL DEFAULT '',
		labels TEXT NOT NULL DEFAULT '',
		run TEXT NOT NULL DEFAULT '',
		closed_last_seen TIMESTAMPTZ,
		updated_at TIMESTAMPTZ NOT NULL,
		lease_owner TEXT,
		lease_until TIMESTAMPTZ
	);
	CREATE INDEX incidents_pending ON incidents (severity DESC, first_seen, fingerprint)
		WHERE state IN ('new', 'triaged', 'analyzed', 'proposed');
	CREATE TABLE incident_sources (
		fingerprint TEXT NOT NULL REFERENCES incidents(fingerprint),
		source TEXT NOT NULL,
		count BIGINT NOT NULL,
		templates TEXT NOT NULL,
		first_seen TIMESTAMPTZ NOT NULL,
		last_seen TIMESTAMPTZ NOT NULL,
		PRIMARY KEY (fingerprint, source)
	);
	CREATE TABLE seen (
		key TEXT PRIMARY KEY,
		source TEXT NOT NULL,
		at TIMESTAMPTZ NOT NULL
	);
	CREATE INDEX seen_at ON seen(at);
	CREATE TABLE window_counts (
		service TEXT NOT NULL,
		series TEXT NOT NULL,
		bucket BIGINT NOT NULL,
		n BIGINT NOT NULL,
		PRIMARY KEY (service, series, bucket)
	);
	CREATE INDEX window_counts_bucket ON window_counts(bucket);
	CREATE TABLE deliveries (
		fingerprint TEXT NOT NULL REFERENCES incidents(fingerprint),
		run INTEGER NOT NULL,
		idempotency_key TEXT NOT NULL UNIQUE,
		replica TEXT NOT NULL,
		started_at TIMESTAMPTZ NOT NULL,
		delivered_at TIMESTAMPTZ,
		target TEXT NOT NULL DEFAULT '',
		location TEXT NOT NULL DEFAULT '',
		files TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (fingerprint, run)
	);
	CREATE TABLE audit_log (
		replica TEXT NOT NULL,
		seq BIGINT NOT NULL,
		line TEXT NOT NULL,
		PRIMARY KEY (replica, seq)
	);
	CREATE TABLE audit_heads (
		replica TEXT PRIMARY KEY,
		seq BIGINT NOT NULL,
		line_hash TEXT NOT NULL
	);`,
	// 2: events per minute, for the dashboard's event-rate chart.
	`ALTER TABLE incidents ADD COLUMN timeline TEXT NOT NULL DEFAULT '';
	ALTER TABLE incident_sources ADD COLUMN timeline TEXT NOT NULL DEFAULT '';`,
	// 3: why an incident opened, its episodes, services and entities.
	`ALTER TABLE incidents ADD COLUMN detection TEXT NOT NULL DEFAULT '';`,
	// 4: what each notification receiver was told about each incident.
	`CREATE TABLE conversations (
		fingerprint TEXT NOT NULL,
		receiver TEXT NOT NULL,
		body TEXT NOT NULL,
		holder TEXT NOT NULL DEFAULT '',
		held_until TIMESTAMPTZ,
		PRIMARY KEY (fingerprint, receiver)
	);`,
	// 5: silences, and what people said of incidents.
	`CREATE TABLE silences (
		id TEXT PRIMARY KEY,
		body TEXT NOT NULL,
		created_at TIMESTAMPTZ NOT NULL
	);
	CREATE TABLE notes (
		fingerprint TEXT NOT NULL,
		at TIMESTAMPTZ NOT NULL,
		body TEXT NOT NULL
	);
	CREATE INDEX notes_fingerprint ON notes(fingerprint, at);`,
	// 6: what a list filters, searches and sorts by, kept beside the
	// incident so a page is read in SQL (existing rows: backfill).
	`ALTER TABLE incidents ADD COLUMN search TEXT NOT NULL DEFAULT '';
	ALTER TABLE incidents ADD COLUMN category TEXT NOT NULL DEFAULT '';
	ALTER TABLE incidents ADD COLUMN root_cause TEXT NOT NULL DEFAULT '';
	ALTER TABLE incidents ADD COLUMN attention BOOLEAN NOT NULL DEFAULT false;
	ALTER TABLE incidents ADD COLUMN run_search TEXT NOT NULL DEFAULT '';
	CREATE INDEX incidents_service ON incidents (service);
	CREATE INDEX incidents_by_severity ON incidents (severity DESC, last_seen DESC, fingerprint);
	CREATE INDEX incidents_by_newest ON incidents (last_seen DESC, fingerprint);`,
	// 7: the error templates a message source's run holds while no
	// incident has them, saved with its share; a later run adopts them.
	`CREATE TABLE held (
		share TEXT NOT NULL,
		service TEXT NOT NULL,
		template_id TEXT NOT NULL,
		events TEXT NOT NULL,
		dropped BIGINT NOT NULL DEFAULT 0,
		at TIMESTAMPTZ NOT NULL,
		PRIMARY KEY (share, service, template_id)
	);`,
	// 8: when each share's replica last said it is alive: the held
	// templates of a share past its time are adopted by a live replica.
	`CREATE TABLE shares (
		share TEXT PRIMARY KEY,
		alive_until TIMESTAMPTZ NOT NULL
	);`,
	// 9: a message source's detector state, for one agent on this store.
	`CREATE TABLE detector_state (
		source TEXT NOT NULL,
		service TEXT NOT NULL,
		template_id TEXT NOT NULL,
		state TEXT NOT NULL,
		PRIMARY KEY (source, service, template_id)
	);`,
}

// migrationLock is the advisory lock key replicas take to migrate.
const migrationLock = 0x5e_a9_e7_01

// Open connects to the database at dsn (a libpq URL or key=value string)
// as replica, and migrates the schema.
func Open(ctx context.Context, dsn, replica string) (*Store, error) {
	if replica == "" {
		return nil, errors.New("postgres store: a replica name is needed")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The DSN may hold a password: never quote it.
		return nil, errors.New("postgres store: the DSN does not parse")
	}
	if cfg.MaxConns < 4 {
		cfg.MaxConns = 4
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres store: connect to %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	s := &Store{pool: pool, replica: replica, LeaseTTL: 30 * time.Second}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres store: migrate: %w", err)
	}
	if err := s.backfill(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres store: migrate: %w", err)
	}
	return s, nil
}

// Replica is the name this store acts under.
func (s *Store) Replica() string { return s.replica }

// Close closes the pool.
func (s *Store) Close() error { s.pool.Close(); return nil }

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return err
	}
	var version int
	err = tx.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&version)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this binary knows (%d)", version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		if _, err := tx.Exec(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE schema_version SET version = $1`, len(migrations)); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// inTx runs f in a transaction, again when PostgreSQL aborted it for a
// deadlock or a serialization failure (another replica's flush).
func (s *Store) inTx(ctx context.Context, f func(pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := pgx.BeginFunc(ctx, s.pool, f)
		var pgErr *pgconn.PgError
		if attempt < 5 && errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001") {
			time.Sleep(time.Duration(attempt) * 10 * time.Millisecond)
			continue
		}
		return err
	}
}
