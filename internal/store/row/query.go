package row

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// Dialect is what differs between the stores' SQL for a domain.Query.
type Dialect struct {
	// Param is the n'th (1-based) parameter's placeholder.
	Param func(n int) string
	// Contains is true where text holds needle (both SQL expressions).
	Contains func(text, needle string) string
	// Time makes a time column or parameter comparable and sortable.
	Time func(expr string) string
	// TimeArg is a time as the driver takes it.
	TimeArg func(time.Time) any
}

// Query is a domain.Query as SQL over the incidents table: the WHERE
// clause (with " WHERE " when any), the ORDER BY list and the
// parameters, in order. The caller has checked the query.
func Query(q domain.Query, d Dialect) (where, order string, args []any) {
	var conds []string
	param := func(v any) string {
		args = append(args, v)
		return d.Param(len(args))
	}
	if len(q.States) > 0 {
		var ps []string
		for _, s := range q.States {
			ps = append(ps, param(string(s)))
		}
		conds = append(conds, "state IN ("+strings.Join(ps, ", ")+")")
	}
	if q.Service != "" {
		conds = append(conds, "service = "+param(q.Service))
	}
	if len(q.Severities) > 0 {
		var ps []string
		for _, s := range q.Severities {
			ps = append(ps, param(int(s)))
		}
		conds = append(conds, "severity IN ("+strings.Join(ps, ", ")+")")
	}
	if !q.Since.IsZero() {
		conds = append(conds, d.Time("last_seen")+" >= "+d.Time(param(d.TimeArg(q.Since))))
	}
	if !q.Until.IsZero() {
		conds = append(conds, d.Time("first_seen")+" <= "+d.Time(param(d.TimeArg(q.Until))))
	}
	if t := strings.ToLower(strings.TrimSpace(q.Text)); t != "" {
		p := param(t)
		conds = append(conds, "("+d.Contains("search", p)+" OR "+d.Contains("run_search", p)+")")
	}
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	newest := d.Time("last_seen") + " DESC, fingerprint"
	switch q.Sort {
	case "newest":
		order = newest
	case "state":
		var b strings.Builder
		b.WriteString("CASE state")
		for i, s := range domain.States {
			fmt.Fprintf(&b, " WHEN '%s' THEN %d", s, i)
		}
		fmt.Fprintf(&b, " ELSE %d END, ", len(domain.States))
		order = b.String() + newest
	case "events":
		order = "count DESC, " + newest
	case "service":
		order = "service, " + newest
	case "category":
		order = "category, " + newest
	default:
		order = "severity DESC, " + newest
	}
	return where, order, args
}

// ScanStrings reads rows of one text column.
func ScanStrings(rows Rows) ([]string, error) {
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Listing is what a list searches and shows of an incident beside its
// columns: the incident's search text and what its run says.
type Listing struct {
	Search, Category, RootCause, RunSearch string
	Attention                              bool
}

// Backfill fills the listing of each incident in fps (kept before the
// columns existed): read gives an incident and its run, write stores the
// listing.
func Backfill(ctx context.Context, fps []string, read func(ctx context.Context, fp domain.Fingerprint) (*domain.Incident, []byte, error),
	write func(ctx context.Context, fp string, l Listing) error) error {
	for _, fp := range fps {
		in, run, err := read(ctx, domain.Fingerprint(fp))
		if err != nil {
			return fmt.Errorf("backfill %s: %w", fp, err)
		}
		var l Listing
		l.Category, l.RootCause, l.Attention, l.RunSearch = domain.RunSummary(run)
		l.Search = domain.SearchText(*in)
		if err := write(ctx, fp, l); err != nil {
			return fmt.Errorf("backfill %s: %w", fp, err)
		}
	}
	return nil
}

// Statements are a query as a store runs it: the count of the matching
// incidents, then the page (cols, then category, root_cause, attention).
// The page is chosen over narrow rows and then read in full: sorting whole
// rows (samples, templates, timeline) would cost the whole table.
type Statements struct {
	Count, Page         string
	CountArgs, PageArgs []any
}

// PageStatements builds q's statements for a store whose incident
// columns are cols.
func PageStatements(q domain.Query, d Dialect, cols string) Statements {
	where, order, args := Query(q, d)
	n := len(args)
	return Statements{
		Count: `SELECT count(*) FROM incidents` + where, CountArgs: args,
		Page: `SELECT ` + cols + `, category, root_cause, attention FROM incidents WHERE fingerprint IN (SELECT fingerprint FROM incidents` +
			where + ` ORDER BY ` + order + ` LIMIT ` + d.Param(n+1) + ` OFFSET ` + d.Param(n+2) + `) ORDER BY ` + order,
		PageArgs: append(append([]any(nil), args...), q.PageSize(), q.Offset),
	}
}

// ScanPage reads a page's rows; scan reads one row's incident columns and
// then the extra destinations.
func ScanPage(rows Rows, scan func(extra ...any) (*domain.Incident, error)) ([]domain.Listed, error) {
	var out []domain.Listed
	for rows.Next() {
		var l domain.Listed
		in, err := scan(&l.Category, &l.RootCause, &l.Attention)
		if err != nil {
			return nil, err
		}
		l.Incident = *in
		out = append(out, l)
	}
	return out, rows.Err()
}
