package sqlite

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/store/row"
)

// dialect: numbered parameters (one is used twice); times are RFC 3339 text, compared as Julian days (text of
// varying precision does not sort); instr is a plain substring test.
var dialect = row.Dialect{
	Param:    func(n int) string { return "?" + strconv.Itoa(n) },
	Contains: func(text, needle string) string { return "instr(" + text + ", " + needle + ") > 0" },
	Time:     func(expr string) string { return "julianday(" + expr + ")" },
	TimeArg:  func(t time.Time) any { return ts(t) },
}

// Query reads one page of the incidents q selects, and how many match.
func (s *Store) Query(ctx context.Context, q domain.Query) (domain.Page, error) {
	if err := q.Check(); err != nil {
		return domain.Page{}, err
	}
	where, order, args := row.Query(q, dialect)
	var page domain.Page
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM incidents`+where, args...).Scan(&page.Matched); err != nil {
		return page, fmt.Errorf("query incidents: %w", err)
	}
	// The page is chosen over narrow rows, then read in full: sorting
	// whole rows (samples, templates, timeline) costs the whole table.
	rows, err := s.db.QueryContext(ctx, `SELECT fingerprint, service, severity, state, first_seen, last_seen, count, reasons, templates, samples, stack,
		source_location, labels, timeline, detection, category, root_cause, attention
		FROM incidents WHERE fingerprint IN (SELECT fingerprint FROM incidents`+where+` ORDER BY `+order+
		fmt.Sprintf(` LIMIT ?%d OFFSET ?%d)`, len(args)+1, len(args)+2)+` ORDER BY `+order, append(args, q.PageSize(), q.Offset)...)
	if err != nil {
		return page, fmt.Errorf("query incidents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var l domain.Listed
		in, err := scanIncident(rows, &l.Category, &l.RootCause, &l.Attention)
		if err != nil {
			return page, fmt.Errorf("query incidents: %w", err)
		}
		l.Incident = *in
		page.Incidents = append(page.Incidents, l)
	}
	return page, rows.Err()
}

// Services lists the services incidents were seen in, alphabetically.
func (s *Store) Services(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT service FROM incidents ORDER BY service`)
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	defer rows.Close()
	return row.ScanStrings(rows)
}

// backfill fills the list's columns of incidents kept before they
// existed (migration 11): their search text, and what their runs say.
func (s *Store) backfill(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT fingerprint FROM incidents WHERE search = ''`)
	if err != nil {
		return err
	}
	fps, err := row.ScanStrings(rows)
	rows.Close()
	if err != nil {
		return err
	}
	return row.Backfill(ctx, fps, func(ctx context.Context, fp domain.Fingerprint) (*domain.Incident, []byte, error) {
		in, err := getIncident(ctx, s.db, fp)
		if err != nil {
			return nil, nil, err
		}
		run, err := s.LoadRun(ctx, fp)
		return in, run, err
	}, func(ctx context.Context, fp string, l row.Listing) error {
		_, err := s.db.ExecContext(ctx, `UPDATE incidents SET search = ?, category = ?, root_cause = ?, attention = ?, run_search = ? WHERE fingerprint = ?`,
			l.Search, l.Category, l.RootCause, l.Attention, l.RunSearch, fp)
		return err
	})
}
