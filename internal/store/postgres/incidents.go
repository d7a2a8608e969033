package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/ingest/detect"
	"github.com/cloud-sre-agent/sre-agent/internal/store/row"
)

// Writes is how many row-changing statements this store has sent.
func (s *Store) Writes() int64 { return s.writes.Load() }

func (s *Store) exec(ctx context.Context, tx pgx.Tx, q string, args ...any) (int64, error) {
	tag, err := tx.Exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	s.writes.Add(1)
	return tag.RowsAffected(), nil
}

const pgDetector = `INSERT INTO detector_state (source, service, template_id, state) VALUES ($1, $2, $3, $4)
	ON CONFLICT (source, service, template_id) DO UPDATE SET state = excluded.state`

// DetectorState reads what source's detector last saved.
func (s *Store) DetectorState(ctx context.Context, source string) ([]domain.DetectorState, error) {
	rows, err := s.pool.Query(ctx, `SELECT service, template_id, state FROM detector_state WHERE source = $1 ORDER BY service, template_id`, source)
	if err != nil {
		return nil, fmt.Errorf("load detector state: %w", err)
	}
	defer rows.Close()
	return row.ScanDetector(rows)
}

// Held reads the templates held by the shares whose names start with
// prefix (the earlier runs of a message source), by share.
func (s *Store) Held(ctx context.Context, prefix string) (map[string][]domain.HeldTemplate, error) {
	rows, err := s.pool.Query(ctx, `SELECT share, service, template_id, events, dropped FROM held
		WHERE starts_with(share, $1) ORDER BY share, service, template_id`, prefix)
	if err != nil {
		return nil, fmt.Errorf("load held templates: %w", err)
	}
	defer rows.Close()
	return row.ScanHeld(rows)
}

const renewShare = `INSERT INTO shares (share, alive_until) VALUES ($1, now() + $2::interval)
	ON CONFLICT (share) DO UPDATE SET alive_until = excluded.alive_until`

// RenewShare says the replica writing share is alive for the lease TTL:
// its held templates are not adopted meanwhile.
func (s *Store) RenewShare(ctx context.Context, share string) error {
	if _, err := s.pool.Exec(ctx, renewShare, share, s.LeaseTTL.String()); err != nil {
		return fmt.Errorf("renew share %s: %w", share, err)
	}
	return nil
}

// AdoptHeld moves to own the held templates of every share of prefix whose
// replica has not said it is alive for a lease TTL (it died, or stopped),
// and returns them by their new share name (own|old): own replays them
// and deletes those rows in the commit that writes its own. Replicas
// adopting at once never take the same row: the update locks it.
func (s *Store) AdoptHeld(ctx context.Context, prefix, own string) (map[string][]domain.HeldTemplate, error) {
	var out map[string][]domain.HeldTemplate
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The adopter says it is alive first, in the same commit: what it
		// takes is never orphaned again before its own save.
		if _, err := tx.Exec(ctx, renewShare, own, s.LeaseTTL.String()); err != nil {
			return err
		}
		// Shares dead a day that hold nothing are forgotten.
		if _, err := tx.Exec(ctx, `DELETE FROM shares a WHERE a.alive_until < now() - interval '1 day'
			AND NOT EXISTS (SELECT 1 FROM held h WHERE split_part(h.share, '|', 1) = a.share)`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `UPDATE held h SET share = $2 || '|' || h.share, at = now()
		WHERE starts_with(h.share, $1) AND split_part(h.share, '|', 1) <> $2
			AND NOT EXISTS (SELECT 1 FROM shares a WHERE a.share = split_part(h.share, '|', 1) AND a.alive_until > now())
		RETURNING h.share, h.service, h.template_id, h.events, h.dropped`, prefix, own)
		if err != nil {
			return err
		}
		defer rows.Close()
		out, err = row.ScanHeld(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("adopt held templates: %w", err)
	}
	return out, nil
}

// Save records one source's incidents, their templates and the baselines.
func (s *Store) Save(ctx context.Context, source string, baselines []domain.Baseline, incidents []domain.Incident) error {
	return s.SaveSeen(ctx, source, baselines, incidents, nil)
}

// SaveSeen records a source's incidents with the keys of the messages
// whose events they include, in one transaction.
func (s *Store) SaveSeen(ctx context.Context, source string, baselines []domain.Baseline, incidents []domain.Incident, seen []string) error {
	return s.Commit(ctx, domain.Save{Source: source, Baselines: baselines, Incidents: incidents, Seen: seen})
}

var pgHeld = row.HeldStatements{
	Put: `INSERT INTO held (share, service, template_id, events, dropped, at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (share, service, template_id) DO UPDATE SET events = excluded.events, dropped = excluded.dropped, at = excluded.at`,
	Gone:  `DELETE FROM held WHERE share = $1 AND service = $2 AND template_id = $3`,
	Adopt: `DELETE FROM held WHERE share = $1`,
}

// Commit writes one flush of a source in one transaction: its share of
// the incidents, the baselines, its held templates (and deletes those of
// the earlier shares it adopted) and the message keys.
func (s *Store) Commit(ctx context.Context, sv domain.Save) error {
	source, baselines, incidents, seen := sv.Source, sv.Baselines, sv.Incidents, sv.Seen
	return s.inTx(ctx, func(tx pgx.Tx) error {
		exec := func(ctx context.Context, q string, args ...any) error {
			_, err := s.exec(ctx, tx, q, args...)
			return err
		}
		if err := row.SaveHeld(ctx, exec, source, sv.Held, time.Now(), pgHeld); err != nil {
			return err
		}
		if err := row.SaveDetector(ctx, exec, sv.DetectorSource, sv.Detector, pgDetector); err != nil {
			return err
		}
		for _, b := range baselines {
			if _, err := s.exec(ctx, tx, `INSERT INTO baselines (service, template_id, first_seen, baseline, has_base) VALUES ($1, $2, $3, $4, true)
				ON CONFLICT (service, template_id) DO UPDATE SET first_seen = LEAST(baselines.first_seen, excluded.first_seen), baseline = excluded.baseline, has_base = true`,
				b.Service, string(b.Template), b.FirstSeen, b.PerWindow); err != nil {
				return fmt.Errorf("save baseline: %w", err)
			}
		}
		return s.saveIncidents(ctx, tx, source, incidents, seen)
	})
}

// SaveShared is a replica's flush: its window counts are added to every
// replica's, the templates it saw get their shared first sighting, decide
// judges the merged counts, and what it returns is saved with the message
// keys, all in one transaction. Rows are locked in one order (counts,
// baselines, incidents, each sorted) so concurrent flushes never deadlock.
//
// held, when not nil, is asked after decide what changed in the replica's
// held templates; they are written in the same transaction, and the
// share's heartbeat renewed.
func (s *Store) SaveShared(ctx context.Context, source string, counts []domain.WindowCount, keys []domain.WindowKey, decide detect.Decider, held func() domain.HeldChanges, seen []string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if len(counts) > 0 {
			svc, series, bucket, n := make([]string, len(counts)), make([]string, len(counts)), make([]int64, len(counts)), make([]int64, len(counts))
			for i, c := range counts {
				svc[i], series[i], bucket[i], n[i] = c.Service, c.Series, c.Bucket, c.N
			}
			if _, err := s.exec(ctx, tx, `INSERT INTO window_counts (service, series, bucket, n)
				SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) ORDER BY 1, 2, 3
				ON CONFLICT (service, series, bucket) DO UPDATE SET n = window_counts.n + excluded.n`, svc, series, bucket, n); err != nil {
				return fmt.Errorf("add window counts: %w", err)
			}
		}
		merged, err := s.merged(ctx, tx, keys)
		if err != nil {
			return err
		}
		bases, incidents := decide(merged)
		if held != nil {
			exec := func(ctx context.Context, q string, args ...any) error {
				_, err := s.exec(ctx, tx, q, args...)
				return err
			}
			if err := row.SaveHeld(ctx, exec, source, held(), time.Now(), pgHeld); err != nil {
				return err
			}
			if err := exec(ctx, renewShare, source, s.LeaseTTL.String()); err != nil {
				return fmt.Errorf("renew share %s: %w", source, err)
			}
		}
		for _, b := range bases {
			if _, err := s.exec(ctx, tx, `UPDATE baselines SET baseline = $3, has_base = $4, through_bucket = $5
				WHERE service = $1 AND template_id = $2 AND through_bucket <= $5`,
				b.Service, string(b.Template), b.PerWindow, b.HasBase, b.Through); err != nil {
				return fmt.Errorf("save baseline: %w", err)
			}
		}
		return s.saveIncidents(ctx, tx, source, incidents, seen)
	})
	if err != nil {
		return err
	}
	return s.maybePrune(ctx, counts)
}

// pruneEvery is how often a replica forgets window counts no decision or
// baseline can need: older than the baseline's reach behind the newest
// bucket it flushed.
const pruneEvery = time.Minute

func (s *Store) maybePrune(ctx context.Context, counts []domain.WindowCount) error {
	var newest int64
	for _, c := range counts {
		newest = max(newest, c.Bucket)
	}
	s.pruneMu.Lock()
	due := newest > 0 && time.Since(s.lastPrune) >= pruneEvery
	if due {
		s.lastPrune = time.Now()
	}
	s.pruneMu.Unlock()
	if !due {
		return nil
	}
	// Forgetting old counts is housekeeping: a failure is retried at the
	// next prune and never stops a flush that has committed.
	s.PruneCounts(ctx, newest-(detect.MaxFoldWindows+2)*detect.BucketsPerWindow)
	return nil
}

// merged registers each key's first sighting and reads every replica's
// counts for the windows the decision and the baseline need.
func (s *Store) merged(ctx context.Context, tx pgx.Tx, keys []domain.WindowKey) (map[domain.WindowID]detect.Merged, error) {
	out := make(map[domain.WindowID]detect.Merged, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	svc, tmpl, first := make([]string, len(keys)), make([]string, len(keys)), make([]time.Time, len(keys))
	for i, k := range keys {
		svc[i], tmpl[i], first[i] = k.Service, string(k.Template), k.Earliest
	}
	rows, err := tx.Query(ctx, `INSERT INTO baselines (service, template_id, first_seen)
		SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]) ORDER BY 1, 2
		ON CONFLICT (service, template_id) DO UPDATE SET first_seen = LEAST(baselines.first_seen, excluded.first_seen)
		RETURNING service, template_id, first_seen, baseline, has_base, through_bucket`, svc, tmpl, first)
	if err != nil {
		return nil, fmt.Errorf("register first sightings: %w", err)
	}
	for rows.Next() {
		var id domain.WindowID
		var tid string
		var m detect.Merged
		if err := rows.Scan(&id.Service, &tid, &m.FirstSeen, &m.Baseline.PerWindow, &m.Baseline.HasBase, &m.Baseline.Through); err != nil {
			rows.Close()
			return nil, err
		}
		id.Template = domain.TemplateID(tid)
		m.Errors, m.SvcErrors, m.SvcAll = map[int64]int64{}, map[int64]int64{}, map[int64]int64{}
		out[id] = m
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("register first sightings: %w", err)
	}
	s.writes.Add(1)
	fps := make([]string, 0, len(out))
	byFP := map[string]domain.WindowID{}
	for id := range out {
		fp := string(domain.NewFingerprint(id.Service, id.Template))
		fps = append(fps, fp)
		byFP[fp] = id
	}
	rows, err = tx.Query(ctx, `SELECT fingerprint FROM incidents WHERE fingerprint = ANY($1)`, fps)
	if err != nil {
		return nil, fmt.Errorf("look up open incidents: %w", err)
	}
	open, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("look up open incidents: %w", err)
	}
	for _, fp := range open {
		m := out[byFP[fp]]
		m.Open = true
		out[byFP[fp]] = m
	}
	// The ranges to read: each window ending in a bucket the replica saw,
	// and the closed windows the baseline still has to fold.
	var qsvc, qseries []string
	var lo, hi []int64
	for _, k := range keys {
		id := domain.WindowID{Service: k.Service, Template: k.Template}
		from := k.From - detect.BucketsPerWindow + 1
		from = min(from, detect.FoldFrom(out[id].Baseline, k.To))
		qsvc, qseries, lo, hi = append(qsvc, k.Service), append(qseries, string(k.Template)), append(lo, from), append(hi, k.To)
		for _, series := range []string{detect.SeriesAll, detect.SeriesErrors} {
			qsvc, qseries, lo, hi = append(qsvc, k.Service), append(qseries, series), append(lo, k.From-detect.BucketsPerWindow+1), append(hi, k.To)
		}
	}
	rows, err = tx.Query(ctx, `SELECT DISTINCT w.service, w.series, w.bucket, w.n FROM window_counts w
		JOIN unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS q(service, series, lo, hi)
		ON w.service = q.service AND w.series = q.series AND w.bucket BETWEEN q.lo AND q.hi`, qsvc, qseries, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("read merged counts: %w", err)
	}
	defer rows.Close()
	bySvc := map[string][]domain.WindowID{}
	for id := range out {
		bySvc[id.Service] = append(bySvc[id.Service], id)
	}
	for rows.Next() {
		var service, series string
		var b, n int64
		if err := rows.Scan(&service, &series, &b, &n); err != nil {
			return nil, err
		}
		switch series {
		case detect.SeriesAll, detect.SeriesErrors:
			for _, id := range bySvc[service] {
				m := out[id]
				if series == detect.SeriesAll {
					m.SvcAll[b] = n
				} else {
					m.SvcErrors[b] = n
				}
			}
		default:
			if m, ok := out[domain.WindowID{Service: service, Template: domain.TemplateID(series)}]; ok {
				m.Errors[b] = n
			}
		}
	}
	return out, rows.Err()
}

// saveIncidents writes templates, incidents (sorted, so replicas lock them
// in one order) and message keys.
func (s *Store) saveIncidents(ctx context.Context, tx pgx.Tx, source string, incidents []domain.Incident, seen []string) error {
	now := time.Now().UTC()
	if len(seen) > 0 {
		sources := make([]string, len(seen))
		for i := range sources {
			sources[i] = source
		}
		if _, err := s.exec(ctx, tx, `INSERT INTO seen (key, source, at) SELECT k, s, $3 FROM unnest($1::text[], $2::text[]) AS u(k, s)
			ON CONFLICT (key) DO NOTHING`, seen, sources, now); err != nil {
			return fmt.Errorf("save seen keys: %w", err)
		}
	}
	incidents = append([]domain.Incident(nil), incidents...)
	sort.Slice(incidents, func(i, j int) bool { return incidents[i].Fingerprint < incidents[j].Fingerprint })
	type tpl struct {
		text        string
		first, last time.Time
	}
	templates := map[domain.TemplateID]*tpl{}
	for _, in := range incidents {
		for _, t := range in.Templates {
			if have := templates[t.ID]; have != nil {
				have.text = t.Text
				have.first, have.last = minTime(have.first, in.FirstSeen), maxTime(have.last, in.LastSeen)
				continue
			}
			templates[t.ID] = &tpl{t.Text, in.FirstSeen, in.LastSeen}
		}
	}
	if len(templates) > 0 {
		ids := make([]string, 0, len(templates))
		for id := range templates {
			ids = append(ids, string(id))
		}
		sort.Strings(ids)
		texts, firsts, lasts := make([]string, len(ids)), make([]time.Time, len(ids)), make([]time.Time, len(ids))
		for i, id := range ids {
			t := templates[domain.TemplateID(id)]
			texts[i], firsts[i], lasts[i] = t.text, t.first, t.last
		}
		if _, err := s.exec(ctx, tx, `INSERT INTO templates (id, text, first_seen, last_seen)
			SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) ORDER BY 1
			ON CONFLICT (id) DO UPDATE SET text = excluded.text,
				first_seen = LEAST(templates.first_seen, excluded.first_seen),
				last_seen = GREATEST(templates.last_seen, excluded.last_seen)`, ids, texts, firsts, lasts); err != nil {
			return fmt.Errorf("save templates: %w", err)
		}
	}
	for _, in := range incidents {
		if err := s.upsertIncident(ctx, tx, source, in, now); err != nil {
			return fmt.Errorf("save incident %s: %w", in.Fingerprint, err)
		}
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

const incidentCols = `fingerprint, service, severity, state, first_seen, last_seen, count, reasons, templates, samples, stack, source_location, labels, timeline, detection`

// upsertIncident writes this source's share of an incident and rebuilds the
// incident from every share, holding the incident's row lock so that
// replicas saving the same incident take turns.
func (s *Store) upsertIncident(ctx context.Context, tx pgx.Tx, source string, in domain.Incident, now time.Time) error {
	fp := string(in.Fingerprint)
	// Make the row if there is none (readers never see it before the
	// commit fills it), then lock it.
	var made bool
	err := tx.QueryRow(ctx, `INSERT INTO incidents (`+incidentCols+`, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, 0, '[]', '[]', '[]', '', '', '', '', '', $7) ON CONFLICT (fingerprint) DO NOTHING RETURNING true`,
		fp, in.Service, int(in.Severity), string(domain.StateNew), in.FirstSeen, in.LastSeen, now).Scan(&made)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	s.writes.Add(1)
	var closed *time.Time
	var runJSON string
	existing, err := scanIncident(tx.QueryRow(ctx, `SELECT `+incidentCols+`, closed_last_seen, run FROM incidents WHERE fingerprint = $1 FOR UPDATE`, fp), &closed, &runJSON)
	if err != nil {
		return err
	}
	if made {
		existing = nil
	}
	var shares []domain.Incident
	rows, err := tx.Query(ctx, `SELECT count, templates, first_seen, last_seen, timeline FROM incident_sources WHERE fingerprint = $1 AND source <> $2 ORDER BY source`, fp, source)
	if err != nil {
		return err
	}
	for rows.Next() {
		var sh domain.Incident
		var tj, tl string
		if err := rows.Scan(&sh.Count, &tj, &sh.FirstSeen, &sh.LastSeen, &tl); err != nil {
			rows.Close()
			return err
		}
		if err := row.DecodeShare(tj, tl, &sh); err != nil {
			rows.Close()
			return err
		}
		shares = append(shares, sh)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	share := domain.ShareOf(in)
	shares = append(shares, share)
	var closedAt time.Time
	if closed != nil {
		closedAt = *closed
	}
	reopen := domain.Reopens(existing, closedAt, in, s.ReopenAfter)
	m := domain.Combine(in, existing, shares)
	c := row.Encode(m)
	if _, err := s.exec(ctx, tx, `UPDATE incidents SET severity = $2, first_seen = $3, last_seen = $4, count = $5, reasons = $6, templates = $7,
		samples = $8, stack = $9, source_location = $10, labels = $11, updated_at = $12, timeline = $13, detection = $14, search = $15 WHERE fingerprint = $1`,
		fp, int(m.Severity), m.FirstSeen, m.LastSeen, m.Count, c.Reasons, c.Templates, c.Samples, m.Stack,
		c.SourceLocation, c.Labels, now, c.Timeline, c.Detection, domain.SearchText(m)); err != nil {
		return err
	}
	if reopen {
		if _, err := s.exec(ctx, tx, `UPDATE incidents SET state = $2, run = $3, closed_last_seen = NULL, lease_owner = NULL, lease_until = NULL,
			category = '', root_cause = '', attention = false, run_search = '' WHERE fingerprint = $1`,
			fp, string(domain.StateNew), row.NewRun(row.RunNumber(runJSON))); err != nil {
			return err
		}
	}
	shareTemplates, shareTimeline := row.EncodeShare(share)
	_, err = s.exec(ctx, tx, `INSERT INTO incident_sources (fingerprint, source, count, templates, first_seen, last_seen, timeline) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (fingerprint, source) DO UPDATE SET count = excluded.count, templates = excluded.templates,
			first_seen = excluded.first_seen, last_seen = excluded.last_seen, timeline = excluded.timeline`,
		fp, source, share.Count, shareTemplates, share.FirstSeen, share.LastSeen, shareTimeline)
	return err
}

func scanIncident(r pgx.Row, extra ...any) (*domain.Incident, error) {
	var in domain.Incident
	var c row.Columns
	var fp, state string
	var sev int
	dest := append([]any{&fp, &in.Service, &sev, &state, &in.FirstSeen, &in.LastSeen, &in.Count, &c.Reasons, &c.Templates, &c.Samples, &in.Stack,
		&c.SourceLocation, &c.Labels, &c.Timeline, &c.Detection}, extra...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	in.Fingerprint, in.Severity, in.State = domain.Fingerprint(fp), domain.Severity(sev), domain.State(state)
	in.FirstSeen, in.LastSeen = in.FirstSeen.UTC(), in.LastSeen.UTC()
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	return &in, nil
}

func (s *Store) query(ctx context.Context, q string, args ...any) ([]domain.Incident, error) {
	rows, err := s.pool.Query(ctx, q, args...)
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

// Incident reads one incident.
func (s *Store) Incident(ctx context.Context, fp domain.Fingerprint) (*domain.Incident, error) {
	in, err := scanIncident(s.pool.QueryRow(ctx, `SELECT `+incidentCols+` FROM incidents WHERE fingerprint = $1`, string(fp)))
	if err != nil {
		return nil, fmt.Errorf("read incident %s: %w", fp, err)
	}
	return in, nil
}

// Incidents lists every incident, most severe first.
func (s *Store) Incidents(ctx context.Context) ([]domain.Incident, error) {
	return s.query(ctx, `SELECT `+incidentCols+` FROM incidents ORDER BY severity DESC, count DESC, first_seen, fingerprint`)
}

// Pending lists incidents the pipeline has not finished, most severe first.
func (s *Store) Pending(ctx context.Context, limit int) ([]domain.Incident, error) {
	return s.query(ctx, `SELECT `+incidentCols+` FROM incidents WHERE state IN ('new', 'triaged', 'analyzed', 'proposed')
		ORDER BY severity DESC, first_seen, fingerprint LIMIT $1`, limit)
}

// LoadRun reads the pipeline's record of an incident; empty before its
// first stage.
func (s *Store) LoadRun(ctx context.Context, fp domain.Fingerprint) (json.RawMessage, error) {
	var run string
	if err := s.pool.QueryRow(ctx, `SELECT run FROM incidents WHERE fingerprint = $1`, string(fp)).Scan(&run); err != nil {
		return nil, fmt.Errorf("load run of %s: %w", fp, err)
	}
	if run == "" {
		return nil, nil
	}
	return json.RawMessage(run), nil
}

// Baselines loads per-service template baselines.
func (s *Store) Baselines(ctx context.Context) ([]domain.Baseline, error) {
	rows, err := s.pool.Query(ctx, `SELECT service, template_id, first_seen, baseline FROM baselines ORDER BY service, template_id`)
	if err != nil {
		return nil, fmt.Errorf("load baselines: %w", err)
	}
	defer rows.Close()
	var out []domain.Baseline
	for rows.Next() {
		var b domain.Baseline
		var id string
		if err := rows.Scan(&b.Service, &id, &b.FirstSeen, &b.PerWindow); err != nil {
			return nil, fmt.Errorf("load baselines: %w", err)
		}
		b.Template, b.FirstSeen = domain.TemplateID(id), b.FirstSeen.UTC()
		out = append(out, b)
	}
	return out, rows.Err()
}

// Templates loads every registered template, most recently seen first.
func (s *Store) Templates(ctx context.Context) ([]domain.Template, error) {
	ts, _, err := s.TemplatesSince(ctx, 0)
	return ts, err
}

// TemplatesSince returns the templates registered after mark and the mark
// to pass next time, so a replica picks up what others registered.
func (s *Store) TemplatesSince(ctx context.Context, mark int64) ([]domain.Template, int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, text, seq FROM templates WHERE seq > $1 ORDER BY last_seen DESC, id`, mark)
	if err != nil {
		return nil, mark, fmt.Errorf("load templates: %w", err)
	}
	defer rows.Close()
	var out []domain.Template
	next := mark
	for rows.Next() {
		var t domain.Template
		var id string
		var seq int64
		if err := rows.Scan(&id, &t.Text, &seq); err != nil {
			return nil, mark, fmt.Errorf("load templates: %w", err)
		}
		t.ID = domain.TemplateID(id)
		next = max(next, seq)
		out = append(out, t)
	}
	return out, next, rows.Err()
}

// CountByState counts incidents in each state.
func (s *Store) CountByState(ctx context.Context) (map[domain.State]int, error) {
	return countBy[domain.State](ctx, s, `SELECT state, count(*) FROM incidents GROUP BY state`)
}

// countBy reads a "SELECT key, count(*) ... GROUP BY key" into a map.
func countBy[K ~string](ctx context.Context, s *Store, q string) (map[K]int, error) {
	rows, err := s.pool.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("count: %w", err)
	}
	defer rows.Close()
	out := map[K]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[K(k)] = n
	}
	return out, rows.Err()
}

// Find resolves an incident id given in full or as a unique prefix.
func (s *Store) Find(ctx context.Context, id string) (*domain.Incident, json.RawMessage, error) {
	if err := row.CheckID(id); err != nil {
		return nil, nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT fingerprint FROM incidents WHERE fingerprint LIKE $1 LIMIT 2`, id+"%")
	if err != nil {
		return nil, nil, fmt.Errorf("find incident %s: %w", id, err)
	}
	fps, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
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
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT key FROM seen WHERE key = ANY($1)`, keys)
	if err != nil {
		return nil, fmt.Errorf("look up seen keys: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("look up seen keys: %w", err)
	}
	for _, k := range found {
		out[k] = true
	}
	return out, nil
}

// PruneSeen forgets keys saved before t, and window counts no decision
// or baseline needs any more.
func (s *Store) PruneSeen(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM seen WHERE at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("prune seen keys: %w", err)
	}
	return tag.RowsAffected(), nil
}

// PruneCounts forgets window counts of buckets before bucket.
func (s *Store) PruneCounts(ctx context.Context, bucket int64) (int64, error) {
	// Rows a flush holds are skipped, never waited for: a prune cannot
	// deadlock with the flushes of other replicas.
	tag, err := s.pool.Exec(ctx, `DELETE FROM window_counts WHERE ctid IN (
		SELECT ctid FROM window_counts WHERE bucket < $1 FOR UPDATE SKIP LOCKED)`, bucket)
	if err != nil {
		return 0, fmt.Errorf("prune window counts: %w", err)
	}
	return tag.RowsAffected(), nil
}
