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
	"github.com/cloud-sre-agent/sre-agent/internal/store/row"
)

// Store is an open incident database.
type Store struct {
	db *sql.DB
	// ReopenAfter is the quiet period after which an incident whose run
	// has ended is re-opened by new events; zero never re-opens.
	ReopenAfter time.Duration
	// holder names this open store in conversation claims: two agents on one
	// database file never tell a receiver the same change.
	holder string
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
	// 2: the pipeline's lifecycle. An incident's state is where the
	// pipeline has it; run holds its stage answers; closed_last_seen is the
	// incident's last event when its run ended, so a quiet gap after it
	// re-opens the incident.
	`UPDATE incidents SET state = 'new' WHERE state IN ('open', 'resolved');
	ALTER TABLE incidents ADD COLUMN run TEXT NOT NULL DEFAULT '';
	ALTER TABLE incidents ADD COLUMN closed_last_seen TEXT NOT NULL DEFAULT '';
	CREATE INDEX incidents_state ON incidents(state);`,
	// 3: baselines follow the template id, which no longer changes when a
	// template's text widens; baselines keyed by text cannot be carried
	// over and are learnt again.
	`DROP TABLE baselines;
	CREATE TABLE baselines (
		service TEXT NOT NULL,
		template_id TEXT NOT NULL,
		first_seen TEXT NOT NULL,
		baseline REAL NOT NULL,
		PRIMARY KEY (service, template_id)
	);`,
	// 4: keys of messages whose events are saved, so a redelivered message
	// (a crash between saving and acknowledging) is not counted twice.
	`CREATE TABLE seen (
		key TEXT PRIMARY KEY,
		source TEXT NOT NULL,
		at TEXT NOT NULL
	);
	CREATE INDEX seen_at ON seen(at);`,
	// 5: where the code logged an incident (LogEntry sourceLocation).
	`ALTER TABLE incidents ADD COLUMN source_location TEXT NOT NULL DEFAULT '';`,
	// 6: the resource labels of an incident, for the service -> repository map.
	`ALTER TABLE incidents ADD COLUMN labels TEXT NOT NULL DEFAULT '';`,
	// 7: events per minute, for the dashboard's event-rate chart; counted
	// per source like the totals.
	`ALTER TABLE incidents ADD COLUMN timeline TEXT NOT NULL DEFAULT '';
	ALTER TABLE incident_sources ADD COLUMN timeline TEXT NOT NULL DEFAULT '';`,
	// 8: why an incident opened, its episodes, services and entities.
	`ALTER TABLE incidents ADD COLUMN detection TEXT NOT NULL DEFAULT '';`,
	// 9: what each notification receiver was told about each incident.
	`CREATE TABLE conversations (
		fingerprint TEXT NOT NULL,
		receiver TEXT NOT NULL,
		body TEXT NOT NULL,
		holder TEXT NOT NULL DEFAULT '',
		held_until TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (fingerprint, receiver)
	);`,
	// 10: silences, and what people said of incidents (acknowledged,
	// resolved).
	`CREATE TABLE silences (
		id TEXT PRIMARY KEY,
		body TEXT NOT NULL,
		created_at TEXT NOT NULL
	);
	CREATE TABLE notes (
		fingerprint TEXT NOT NULL,
		at TEXT NOT NULL,
		body TEXT NOT NULL
	);
	CREATE INDEX notes_fingerprint ON notes(fingerprint, at);`,
	// 11: what a list filters, searches and sorts by, kept beside the
	// incident so a page is read in SQL: the incident's search text and
	// its run's category, root cause and attention flag (filled in for
	// existing rows by backfill).
	`ALTER TABLE incidents ADD COLUMN search TEXT NOT NULL DEFAULT '';
	ALTER TABLE incidents ADD COLUMN category TEXT NOT NULL DEFAULT '';
	ALTER TABLE incidents ADD COLUMN root_cause TEXT NOT NULL DEFAULT '';
	ALTER TABLE incidents ADD COLUMN attention INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE incidents ADD COLUMN run_search TEXT NOT NULL DEFAULT '';
	CREATE INDEX incidents_service ON incidents(service);
	CREATE INDEX incidents_by_severity ON incidents(severity DESC, julianday(last_seen) DESC, fingerprint);
	CREATE INDEX incidents_by_newest ON incidents(julianday(last_seen) DESC, fingerprint);`,
	// 12: the error templates a message source's run holds while no
	// incident has them (domain.HeldTemplate), saved with its share so a
	// crash after the acknowledgement loses none; a later run adopts them.
	`CREATE TABLE held (
		share TEXT NOT NULL,
		service TEXT NOT NULL,
		template_id TEXT NOT NULL,
		events TEXT NOT NULL,
		dropped INTEGER NOT NULL DEFAULT 0,
		at TEXT NOT NULL,
		PRIMARY KEY (share, service, template_id)
	);`,
	// 13: a message source's detector state (domain.DetectorState), so a
	// restart decides as the run before would have.
	`CREATE TABLE detector_state (
		source TEXT NOT NULL,
		service TEXT NOT NULL,
		template_id TEXT NOT NULL,
		state TEXT NOT NULL,
		PRIMARY KEY (source, service, template_id)
	);`,
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
	// The store holds incidents and evidence: owner-only, like the audit
	// log (SQLite gives its WAL and shared-memory files the same mode).
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("store %s: make it owner-only: %w", path, err)
		}
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
	s := &Store{db: db, holder: row.Holder()}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate store %s: %w", path, err)
	}
	if err := s.backfill(ctx); err != nil {
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
	rows, err := s.db.QueryContext(ctx, `SELECT service, template_id, first_seen, baseline FROM baselines ORDER BY service, template_id`)
	if err != nil {
		return nil, fmt.Errorf("load baselines: %w", err)
	}
	defer rows.Close()
	var out []domain.Baseline
	for rows.Next() {
		var b domain.Baseline
		var first string
		var id string
		if err := rows.Scan(&b.Service, &id, &first, &b.PerWindow); err != nil {
			return nil, fmt.Errorf("load baselines: %w", err)
		}
		b.Template, b.FirstSeen = domain.TemplateID(id), parseTS(first)
		out = append(out, b)
	}
	return out, rows.Err()
}

// Templates loads the persisted templates (those of incidents), most
// recently seen first, for the miner to restore.
func (s *Store) Templates(ctx context.Context) ([]domain.Template, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, text FROM templates ORDER BY last_seen DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("load templates: %w", err)
	}
	defer rows.Close()
	var out []domain.Template
	for rows.Next() {
		var t domain.Template
		var id string
		if err := rows.Scan(&id, &t.Text); err != nil {
			return nil, fmt.Errorf("load templates: %w", err)
		}
		t.ID = domain.TemplateID(id)
		out = append(out, t)
	}
	return out, rows.Err()
}

// Save records one source's incidents, their templates and the baselines
// in one transaction. An incident's totals are the sum of its sources'
// shares, so saving the same source again replaces its share.
func (s *Store) Save(ctx context.Context, source string, baselines []domain.Baseline, incidents []domain.Incident) error {
	return s.SaveSeen(ctx, source, baselines, incidents, nil)
}

// SaveSeen is Save plus the keys of the messages whose events the save
// includes, in the same transaction: once it returns, those messages may
// be acknowledged, and a redelivery of one is recognised by Seen.
func (s *Store) SaveSeen(ctx context.Context, source string, baselines []domain.Baseline, incidents []domain.Incident, seen []string) error {
	return s.Commit(ctx, domain.Save{Source: source, Baselines: baselines, Incidents: incidents, Seen: seen})
}

// Commit writes one flush of a source in one transaction: its share of
// the incidents, the baselines, its held templates (and deletes those of
// the earlier shares it adopted) and the message keys. Once it returns,
// those messages may be acknowledged.
func (s *Store) Commit(ctx context.Context, sv domain.Save) error {
	source, baselines, incidents, seen := sv.Source, sv.Baselines, sv.Incidents, sv.Seen
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save %s: %w", source, err)
	}
	defer tx.Rollback()
	now := ts(time.Now())
	exec := func(ctx context.Context, q string, args ...any) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	}
	if err := row.SaveHeld(ctx, exec, source, sv.Held, now, sqliteHeld); err != nil {
		return err
	}
	if err := row.SaveDetector(ctx, exec, sv.DetectorSource, sv.Detector, sqliteDetector); err != nil {
		return err
	}
	for _, k := range seen {
		if _, err := tx.ExecContext(ctx, `INSERT INTO seen (key, source, at) VALUES (?, ?, ?) ON CONFLICT(key) DO NOTHING`, k, source, now); err != nil {
			return fmt.Errorf("save seen keys: %w", err)
		}
	}
	for _, in := range incidents {
		for _, t := range in.Templates {
			if _, err := tx.ExecContext(ctx, `INSERT INTO templates (id, text, first_seen, last_seen) VALUES (?, ?, ?, ?)
				ON CONFLICT(id) DO UPDATE SET
					text = excluded.text,
					first_seen = min(templates.first_seen, excluded.first_seen),
					last_seen = max(templates.last_seen, excluded.last_seen)`,
				string(t.ID), t.Text, ts(in.FirstSeen), ts(in.LastSeen)); err != nil {
				return fmt.Errorf("save template %s: %w", t.ID, err)
			}
		}
	}
	for _, b := range baselines {
		if _, err := tx.ExecContext(ctx, `INSERT INTO baselines (service, template_id, first_seen, baseline) VALUES (?, ?, ?, ?)
			ON CONFLICT(service, template_id) DO UPDATE SET
				first_seen = min(baselines.first_seen, excluded.first_seen),
				baseline = excluded.baseline`, b.Service, string(b.Template), ts(b.FirstSeen), b.PerWindow); err != nil {
			return fmt.Errorf("save baseline: %w", err)
		}
	}
	for _, in := range incidents {
		if err := upsertIncident(ctx, tx, source, in, now, s.ReopenAfter); err != nil {
			return fmt.Errorf("save incident %s: %w", in.Fingerprint, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save %s: %w", source, err)
	}
	return nil
}

// upsertIncident writes this source's share of an incident, then rebuilds
// the incident's totals from every source's share. What is not counted per
// source (samples, reasons, stack, state) is merged into what is stored.
func upsertIncident(ctx context.Context, tx *sql.Tx, source string, in domain.Incident, now string, reopenAfter time.Duration) error {
	// Every other source's stored share, plus this one.
	var shares []domain.Incident
	rows, err := tx.QueryContext(ctx, `SELECT count, templates, first_seen, last_seen, timeline FROM incident_sources
		WHERE fingerprint = ? AND source <> ? ORDER BY source`, string(in.Fingerprint), source)
	if err != nil {
		return err
	}
	for rows.Next() {
		var sh domain.Incident
		var tj, f, l, tl string
		if err := rows.Scan(&sh.Count, &tj, &f, &l, &tl); err != nil {
			rows.Close()
			return err
		}
		if err := row.DecodeShare(tj, tl, &sh); err != nil {
			rows.Close()
			return err
		}
		sh.FirstSeen, sh.LastSeen = parseTS(f), parseTS(l)
		shares = append(shares, sh)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	share := domain.ShareOf(in)
	shares = append(shares, share)
	existing, err := getIncident(ctx, tx, in.Fingerprint)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		existing = nil
	case err != nil:
		return err
	}
	reopen := false
	if existing != nil {
		var closed string
		if err := tx.QueryRowContext(ctx, `SELECT closed_last_seen FROM incidents WHERE fingerprint = ?`, string(in.Fingerprint)).Scan(&closed); err != nil {
			return err
		}
		reopen = domain.Reopens(existing, parseTS(closed), in, reopenAfter)
	}
	merged := domain.Combine(in, existing, shares)
	c := row.Encode(merged)
	_, err = tx.ExecContext(ctx, `INSERT INTO incidents
		(fingerprint, service, severity, state, first_seen, last_seen, count, reasons, templates, samples, stack, updated_at, source_location, labels, timeline, detection, search)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(fingerprint) DO UPDATE SET severity = excluded.severity, first_seen = excluded.first_seen,
			last_seen = excluded.last_seen, count = excluded.count, reasons = excluded.reasons,
			templates = excluded.templates, samples = excluded.samples, stack = excluded.stack, updated_at = excluded.updated_at,
			source_location = excluded.source_location, labels = excluded.labels, timeline = excluded.timeline, detection = excluded.detection,
			search = excluded.search`,
		string(in.Fingerprint), in.Service, int(merged.Severity), string(merged.State), ts(merged.FirstSeen), ts(merged.LastSeen),
		merged.Count, c.Reasons, c.Templates, c.Samples, merged.Stack, now, c.SourceLocation, c.Labels, c.Timeline, c.Detection, domain.SearchText(merged))
	if err != nil {
		return err
	}
	if reopen {
		// A new run: the state goes back to new and the run number goes up.
		var runJSON string
		if err := tx.QueryRowContext(ctx, `SELECT run FROM incidents WHERE fingerprint = ?`, string(in.Fingerprint)).Scan(&runJSON); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET state = ?, run = ?, closed_last_seen = '',
			category = '', root_cause = '', attention = 0, run_search = '' WHERE fingerprint = ?`,
			string(domain.StateNew), row.NewRun(row.RunNumber(runJSON)), string(in.Fingerprint)); err != nil {
			return err
		}
	}
	shareTemplates, shareTimeline := row.EncodeShare(share)
	_, err = tx.ExecContext(ctx, `INSERT INTO incident_sources (fingerprint, source, count, templates, first_seen, last_seen, timeline)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(fingerprint, source) DO UPDATE SET count = excluded.count, templates = excluded.templates,
			first_seen = excluded.first_seen, last_seen = excluded.last_seen, timeline = excluded.timeline`,
		string(in.Fingerprint), source, share.Count, shareTemplates, ts(share.FirstSeen), ts(share.LastSeen), shareTimeline)
	return err
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func getIncident(ctx context.Context, q querier, fp domain.Fingerprint) (*domain.Incident, error) {
	row := q.QueryRowContext(ctx, `SELECT `+incidentCols+`
		FROM incidents WHERE fingerprint = ?`, string(fp))
	return scanIncident(row)
}

type scanner interface{ Scan(dest ...any) error }

// scanIncident reads an incident's columns, then any extra ones into
// extra.
func scanIncident(r scanner, extra ...any) (*domain.Incident, error) {
	var in domain.Incident
	var c row.Columns
	var fp, state, first, last string
	var sev int
	if err := r.Scan(append([]any{&fp, &in.Service, &sev, &state, &first, &last, &in.Count, &c.Reasons, &c.Templates, &c.Samples, &in.Stack,
		&c.SourceLocation, &c.Labels, &c.Timeline, &c.Detection}, extra...)...); err != nil {
		return nil, err
	}
	in.Fingerprint, in.Severity, in.State = domain.Fingerprint(fp), domain.Severity(sev), domain.State(state)
	in.FirstSeen, in.LastSeen = parseTS(first), parseTS(last)
	if err := c.Decode(&in); err != nil {
		return nil, err
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
	return s.query(ctx, `SELECT `+incidentCols+`
		FROM incidents ORDER BY severity DESC, count DESC, first_seen, fingerprint`)
}

func (s *Store) query(ctx context.Context, q string, args ...any) ([]domain.Incident, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
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

// Pending lists incidents the pipeline has not finished, most severe
// first.
func (s *Store) Pending(ctx context.Context, limit int) ([]domain.Incident, error) {
	return s.query(ctx, `SELECT `+incidentCols+`
		FROM incidents WHERE state IN ('new', 'triaged', 'analyzed', 'proposed')
		ORDER BY severity DESC, first_seen, fingerprint LIMIT ?`, limit)
}

// LoadRun reads the pipeline's record of an incident; empty before its
// first stage.
func (s *Store) LoadRun(ctx context.Context, fp domain.Fingerprint) (json.RawMessage, error) {
	var run string
	if err := s.db.QueryRowContext(ctx, `SELECT run FROM incidents WHERE fingerprint = ?`, string(fp)).Scan(&run); err != nil {
		return nil, fmt.Errorf("load run of %s: %w", fp, err)
	}
	if run == "" {
		return nil, nil
	}
	return json.RawMessage(run), nil
}

// Advance stores an incident's state and run together. Reaching a
// terminal state records the incident's last event, the cutoff for
// re-opening.
func (s *Store) Advance(ctx context.Context, fp domain.Fingerprint, state domain.State, run json.RawMessage) error {
	closed := `''`
	if state.Terminal() {
		closed = `last_seen`
	}
	category, cause, attention, search := domain.RunSummary(run)
	res, err := s.db.ExecContext(ctx, `UPDATE incidents SET state = ?, run = ?, closed_last_seen = `+closed+`, updated_at = ?,
		category = ?, root_cause = ?, attention = ?, run_search = ? WHERE fingerprint = ?`,
		string(state), string(run), ts(time.Now()), category, cause, attention, search, string(fp))
	if err != nil {
		return fmt.Errorf("advance %s to %s: %w", fp, state, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("advance %s: no such incident", fp)
	}
	return nil
}

// CountByState counts incidents in each state.
func (s *Store) CountByState(ctx context.Context) (map[domain.State]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT state, count(*) FROM incidents GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("count incidents: %w", err)
	}
	defer rows.Close()
	out := map[domain.State]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[domain.State(st)] = n
	}
	return out, rows.Err()
}

// Find resolves an incident id given in full or as a unique prefix (the
// short fingerprint) to its incident and run.
func (s *Store) Find(ctx context.Context, id string) (*domain.Incident, json.RawMessage, error) {
	if err := row.CheckID(id); err != nil {
		return nil, nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT fingerprint FROM incidents WHERE fingerprint LIKE ? LIMIT 2`, id+"%")
	if err != nil {
		return nil, nil, fmt.Errorf("find incident %s: %w", id, err)
	}
	var fps []string
	for rows.Next() {
		var fp string
		if err := rows.Scan(&fp); err != nil {
			rows.Close()
			return nil, nil, err
		}
		fps = append(fps, fp)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("find incident %s: %w", id, err)
	}
	fp, err := row.Resolve(id, fps)
	if err != nil {
		return nil, nil, err
	}
	in, err := s.Incident(ctx, fp)
	if err != nil {
		return nil, nil, err
	}
	run, err := s.LoadRun(ctx, in.Fingerprint)
	return in, run, err
}

// Seen reports which of keys have been saved.
func (s *Store) Seen(ctx context.Context, keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, k := range keys {
		var one int
		err := s.db.QueryRowContext(ctx, `SELECT 1 FROM seen WHERE key = ?`, k).Scan(&one)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, fmt.Errorf("look up seen keys: %w", err)
		default:
			out[k] = true
		}
	}
	return out, nil
}

var sqliteHeld = row.HeldStatements{
	Put: `INSERT INTO held (share, service, template_id, events, dropped, at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT(share, service, template_id) DO UPDATE SET events = excluded.events, dropped = excluded.dropped, at = excluded.at`,
	Gone:  `DELETE FROM held WHERE share = ? AND service = ? AND template_id = ?`,
	Adopt: `DELETE FROM held WHERE share = ?`,
}

const sqliteDetector = `INSERT INTO detector_state (source, service, template_id, state) VALUES (?, ?, ?, ?)
	ON CONFLICT(source, service, template_id) DO UPDATE SET state = excluded.state`

// DetectorState reads what source's detector last saved.
func (s *Store) DetectorState(ctx context.Context, source string) ([]domain.DetectorState, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT service, template_id, state FROM detector_state WHERE source = ? ORDER BY service, template_id`, source)
	if err != nil {
		return nil, fmt.Errorf("load detector state: %w", err)
	}
	defer rows.Close()
	return row.ScanDetector(rows)
}

// Held reads the templates held by the shares whose names start with
// prefix (the earlier runs of a message source), by share.
func (s *Store) Held(ctx context.Context, prefix string) (map[string][]domain.HeldTemplate, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT share, service, template_id, events, dropped FROM held
		WHERE substr(share, 1, length(?)) = ? ORDER BY share, service, template_id`, prefix, prefix)
	if err != nil {
		return nil, fmt.Errorf("load held templates: %w", err)
	}
	defer rows.Close()
	return row.ScanHeld(rows)
}

// PruneSeen forgets keys saved before t (past the transport's retention,
// no redelivery can carry them).
func (s *Store) PruneSeen(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM seen WHERE at < ?`, ts(before))
	if err != nil {
		return 0, fmt.Errorf("prune seen keys: %w", err)
	}
	return res.RowsAffected()
}
