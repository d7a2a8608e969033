// Package sqlite is the incident store on SQLite (modernc.org/sqlite, no
// cgo). Incidents are upserted by fingerprint; each input source's share of
// an incident is kept apart, so analysing the same source again replaces its
// share instead of counting it twice. Templates and baselines persist so ids
// and detection survive restarts. The schema migrates itself on Open.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// Store is an open incident database.
type Store struct {
	db *sql.DB
}

// migrations are applied in order; the index+1 is the schema version.
var migrations = []string{
	`CREATE TABLE templates (
		id TEXT PRIMARY KEY,
		text TEXT NOT NULL,
		first_seen TEXT NOT NULL,
		last_seen TEXT NOT NULL
	);
	CREATE TABLE baselines (
		service TEXT NOT NULL,
		template_text TEXT NOT NULL,
		first_seen TEXT NOT NULL,
		baseline REAL NOT NULL,
		PRIMARY KEY (service, template_text)
	);
	CREATE TABLE incidents (
		fingerprint TEXT PRIMARY KEY,
		service TEXT NOT NULL,
		severity INTEGER NOT NULL,
		state TEXT NOT NULL,
		first_seen TEXT NOT NULL,
		last_seen TEXT NOT NULL,
		count INTEGER NOT NULL,
		reasons TEXT NOT NULL,
		templates TEXT NOT NULL,
		samples TEXT NOT NULL,
		stack TEXT NOT NULL,
		updated_at TEXT NOT NULL
	);
	CREATE TABLE incident_sources (
		fingerprint TEXT NOT NULL REFERENCES incidents(fingerprint),
		source TEXT NOT NULL,
		count INTEGER NOT NULL,
		templates TEXT NOT NULL,
		first_seen TEXT NOT NULL,
		last_seen TEXT NOT NULL,
		PRIMARY KEY (fingerprint, source)
	);
	CREATE INDEX incidents_severity ON incidents(severity DESC, last_seen DESC);`,
}

// DefaultPath is the store under the user's state directory
// ($XDG_STATE_HOME, else ~/.local/state).
func DefaultPath() (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find home directory for the store: %w", err)
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "sre-agent", "incidents.db"), nil
}

// Open opens (creating if needed) the database at path and migrates it.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create store directory: %w", err)
	}
	// A URI, so the path is escaped: a '?' or '#' in it must not start the
	// query.
	dsn := (&url.URL{Scheme: "file", OmitHost: true, Path: path,
		RawQuery: "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // SQLite has one writer; one connection avoids SQLITE_BUSY
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate store %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) migrate(ctx context.Context) error {
	var version int
	if err := s.db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this binary knows (%d)", version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, v+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

const timeFmt = time.RFC3339Nano

func ts(t time.Time) string { return t.UTC().Format(timeFmt) }

func parseTS(s string) time.Time {
	t, _ := time.Parse(timeFmt, s)
	return t
}

// Baselines loads per-service template baselines.
func (s *Store) Baselines(ctx context.Context) ([]domain.Baseline, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT service, template_text, first_seen, baseline FROM baselines ORDER BY service, template_text`)
	if err != nil {
		return nil, fmt.Errorf("load baselines: %w", err)
	}
	defer rows.Close()
	var out []domain.Baseline
	for rows.Next() {
		var b domain.Baseline
		var first string
		if err := rows.Scan(&b.Service, &b.Template, &first, &b.PerWindow); err != nil {
			return nil, fmt.Errorf("load baselines: %w", err)
		}
		b.FirstSeen = parseTS(first)
		out = append(out, b)
	}
	return out, rows.Err()
}

// Save records one source's incidents, their templates and the baselines
// in one transaction. An incident's totals are the sum of its sources'
// shares, so saving the same source again replaces its share.
func (s *Store) Save(ctx context.Context, source string, baselines []domain.Baseline, incidents []domain.Incident) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save %s: %w", source, err)
	}
	defer tx.Rollback()
	now := ts(time.Now())
	for _, in := range incidents {
		for _, t := range in.Templates {
			if _, err := tx.ExecContext(ctx, `INSERT INTO templates (id, text, first_seen, last_seen) VALUES (?, ?, ?, ?)
				ON CONFLICT(id) DO UPDATE SET
					first_seen = min(templates.first_seen, excluded.first_seen),
					last_seen = max(templates.last_seen, excluded.last_seen)`,
				string(t.ID), t.Text, ts(in.FirstSeen), ts(in.LastSeen)); err != nil {
				return fmt.Errorf("save template %s: %w", t.ID, err)
			}
		}
	}
	for _, b := range baselines {
		if _, err := tx.ExecContext(ctx, `INSERT INTO baselines (service, template_text, first_seen, baseline) VALUES (?, ?, ?, ?)
			ON CONFLICT(service, template_text) DO UPDATE SET
				first_seen = min(baselines.first_seen, excluded.first_seen),
				baseline = excluded.baseline`, b.Service, b.Template, ts(b.FirstSeen), b.PerWindow); err != nil {
			return fmt.Errorf("save baseline: %w", err)
		}
	}
	for _, in := range incidents {
		if err := upsertIncident(ctx, tx, source, in, now); err != nil {
			return fmt.Errorf("save incident %s: %w", in.Fingerprint, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save %s: %w", source, err)
	}
	return nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain data types are marshalled here
	}
	return string(b)
}

// upsertIncident writes this source's share of an incident, then rebuilds
// the incident's totals from every source's share. What is not counted per
// source (samples, reasons, stack, state) is merged into what is stored.
func upsertIncident(ctx context.Context, tx *sql.Tx, source string, in domain.Incident, now string) error {
	share := domain.Incident{Count: in.Count, Templates: in.Templates, FirstSeen: in.FirstSeen, LastSeen: in.LastSeen}
	// Totals: every other source's stored share plus this one.
	total := domain.Incident{}
	rows, err := tx.QueryContext(ctx, `SELECT count, templates, first_seen, last_seen FROM incident_sources
		WHERE fingerprint = ? AND source <> ? ORDER BY source`, string(in.Fingerprint), source)
	if err != nil {
		return err
	}
	for rows.Next() {
		var sh domain.Incident
		var tj, f, l string
		if err := rows.Scan(&sh.Count, &tj, &f, &l); err != nil {
			rows.Close()
			return err
		}
		if err := json.Unmarshal([]byte(tj), &sh.Templates); err != nil {
			rows.Close()
			return fmt.Errorf("decode templates: %w", err)
		}
		sh.FirstSeen, sh.LastSeen = parseTS(f), parseTS(l)
		total.Merge(&sh)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	total.Merge(&share)
	merged := in
	existing, err := getIncident(ctx, tx, in.Fingerprint)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	default:
		merged = *existing
		merged.Merge(&domain.Incident{Severity: in.Severity, Reasons: in.Reasons, Samples: in.Samples, Stack: in.Stack})
	}
	merged.Count, merged.Templates, merged.FirstSeen, merged.LastSeen = total.Count, total.Templates, total.FirstSeen, total.LastSeen
	_, err = tx.ExecContext(ctx, `INSERT INTO incidents
		(fingerprint, service, severity, state, first_seen, last_seen, count, reasons, templates, samples, stack, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(fingerprint) DO UPDATE SET severity = excluded.severity, first_seen = excluded.first_seen,
			last_seen = excluded.last_seen, count = excluded.count, reasons = excluded.reasons,
			templates = excluded.templates, samples = excluded.samples, stack = excluded.stack, updated_at = excluded.updated_at`,
		string(in.Fingerprint), in.Service, int(merged.Severity), string(merged.State), ts(merged.FirstSeen), ts(merged.LastSeen),
		merged.Count, mustJSON(merged.Reasons), mustJSON(merged.Templates), mustJSON(merged.Samples), merged.Stack, now)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO incident_sources (fingerprint, source, count, templates, first_seen, last_seen)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT(fingerprint, source) DO UPDATE SET count = excluded.count, templates = excluded.templates,
			first_seen = excluded.first_seen, last_seen = excluded.last_seen`,
		string(in.Fingerprint), source, share.Count, mustJSON(share.Templates), ts(share.FirstSeen), ts(share.LastSeen))
	return err
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func getIncident(ctx context.Context, q querier, fp domain.Fingerprint) (*domain.Incident, error) {
	row := q.QueryRowContext(ctx, `SELECT fingerprint, service, severity, state, first_seen, last_seen, count, reasons, templates, samples, stack
		FROM incidents WHERE fingerprint = ?`, string(fp))
	return scanIncident(row)
}

type scanner interface{ Scan(dest ...any) error }

func scanIncident(r scanner) (*domain.Incident, error) {
	var in domain.Incident
	var fp, state, first, last, reasons, templates, samples string
	var sev int
	if err := r.Scan(&fp, &in.Service, &sev, &state, &first, &last, &in.Count, &reasons, &templates, &samples, &in.Stack); err != nil {
		return nil, err
	}
	in.Fingerprint, in.Severity, in.State = domain.Fingerprint(fp), domain.Severity(sev), domain.State(state)
	in.FirstSeen, in.LastSeen = parseTS(first), parseTS(last)
	for _, f := range []struct {
		s string
		v any
	}{{reasons, &in.Reasons}, {templates, &in.Templates}, {samples, &in.Samples}} {
		if err := json.Unmarshal([]byte(f.s), f.v); err != nil {
			return nil, fmt.Errorf("decode incident %s: %w", fp, err)
		}
	}
	return &in, nil
}

// Incident reads one incident.
func (s *Store) Incident(ctx context.Context, fp domain.Fingerprint) (*domain.Incident, error) {
	in, err := getIncident(ctx, s.db, fp)
	if err != nil {
		return nil, fmt.Errorf("read incident %s: %w", fp, err)
	}
	return in, nil
}

// Incidents lists every incident, most severe first.
func (s *Store) Incidents(ctx context.Context) ([]domain.Incident, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT fingerprint, service, severity, state, first_seen, last_seen, count, reasons, templates, samples, stack
		FROM incidents ORDER BY severity DESC, count DESC, first_seen, fingerprint`)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	var out []domain.Incident
	for rows.Next() {
		in, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		out = append(out, *in)
	}
	return out, rows.Err()
}
