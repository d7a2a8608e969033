package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/store/row"
)

var dialect = row.Dialect{
	Param:    func(n int) string { return "$" + strconv.Itoa(n) },
	Contains: func(text, needle string) string { return "strpos(" + text + ", " + needle + ") > 0" },
	Time:     func(expr string) string { return expr },
	TimeArg:  func(t time.Time) any { return t },
}

// Query reads one page of the incidents q selects, and how many match.
func (s *Store) Query(ctx context.Context, q domain.Query) (domain.Page, error) {
	if err := q.Check(); err != nil {
		return domain.Page{}, err
	}
	st := row.PageStatements(q, dialect, incidentCols)
	var page domain.Page
	if err := s.pool.QueryRow(ctx, st.Count, st.CountArgs...).Scan(&page.Matched); err != nil {
		return page, fmt.Errorf("query incidents: %w", err)
	}
	rows, err := s.pool.Query(ctx, st.Page, st.PageArgs...)
	if err != nil {
		return page, fmt.Errorf("query incidents: %w", err)
	}
	defer rows.Close()
	page.Incidents, err = row.ScanPage(rows, func(extra ...any) (*domain.Incident, error) { return scanIncident(rows, extra...) })
	if err != nil {
		return page, fmt.Errorf("query incidents: %w", err)
	}
	return page, nil
}

// Services lists the services incidents were seen in, alphabetically.
func (s *Store) Services(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT service FROM incidents ORDER BY service`)
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	defer rows.Close()
	return row.ScanStrings(rows)
}

// backfill fills the list's columns of incidents kept before they
// existed (migration 6). Replicas starting together may both do it; the
// answer is the same.
func (s *Store) backfill(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, `SELECT fingerprint FROM incidents WHERE search = ''`)
	if err != nil {
		return err
	}
	fps, err := row.ScanStrings(rows)
	rows.Close()
	if err != nil {
		return err
	}
	return row.Backfill(ctx, fps, func(ctx context.Context, fp domain.Fingerprint) (*domain.Incident, []byte, error) {
		in, err := s.Incident(ctx, fp)
		if err != nil {
			return nil, nil, err
		}
		run, err := s.LoadRun(ctx, fp)
		return in, run, err
	}, func(ctx context.Context, fp string, l row.Listing) error {
		_, err := s.pool.Exec(ctx, `UPDATE incidents SET search = $2, category = $3, root_cause = $4, attention = $5, run_search = $6 WHERE fingerprint = $1`,
			fp, l.Search, l.Category, l.RootCause, l.Attention, l.RunSearch)
		return err
	})
}
