package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cloud-sre-agent/sre-agent/internal/audit"
)

// auditBackend keeps one replica's audit chain in audit_log, its head in
// audit_heads. A head moves only from the sequence this process last
// wrote, so two processes sharing a replica name cannot fork the chain
// unnoticed: the second one's write fails.
type auditBackend struct {
	s   *Store
	seq int64
}

// OpenAudit continues this replica's audit chain in the store.
func (s *Store) OpenAudit(ctx context.Context) (*audit.Log, error) {
	var h audit.Head
	err := s.pool.QueryRow(ctx, `SELECT seq, line_hash FROM audit_heads WHERE replica = $1`, s.replica).Scan(&h.Seq, &h.Hash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("open audit chain of %s: %w", s.replica, err)
	}
	return audit.New(&auditBackend{s: s, seq: h.Seq}, h, s.replica), nil
}

// auditWriteTimeout bounds one audit write. The write outlives the
// caller's cancellation (the action it records has happened: a stop
// signal must not lose its record) but not a database that hangs.
const auditWriteTimeout = 15 * time.Second

func (b *auditBackend) Write(ctx context.Context, seq int64, line []byte, lineHash string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditWriteTimeout)
	defer cancel()
	err := pgx.BeginFunc(ctx, b.s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO audit_log (replica, seq, line) VALUES ($1, $2, $3)`, b.s.replica, seq, string(line)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO audit_heads (replica, seq, line_hash) VALUES ($1, $2, $3)
			ON CONFLICT (replica) DO UPDATE SET seq = excluded.seq, line_hash = excluded.line_hash WHERE audit_heads.seq = $4`,
			b.s.replica, seq, lineHash, b.seq)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("the chain of replica %s moved under this process (two processes share the name)", b.s.replica)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write audit record: %w", err)
	}
	b.s.writes.Add(2)
	b.seq = seq
	return nil
}

func (b *auditBackend) Close() error { return nil }

// VerifyAudit checks every replica's chain: each record's hash, sequence
// and link to the one before, and that the chain ends at its head.
func (s *Store) VerifyAudit(ctx context.Context) ([]audit.ChainResult, error) {
	// One snapshot for heads and chains: records other replicas append
	// while this reads are not half seen (a false "cut" or a false break).
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("verify audit: %w", err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `SELECT replica, seq, line_hash FROM audit_heads ORDER BY replica`)
	if err != nil {
		return nil, fmt.Errorf("read audit heads: %w", err)
	}
	heads := map[string]audit.Head{}
	for rows.Next() {
		var r string
		var h audit.Head
		if err := rows.Scan(&r, &h.Seq, &h.Hash); err != nil {
			rows.Close()
			return nil, err
		}
		heads[r] = h
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// A replica with records and no head is checked too (its head was
	// deleted): it fails against an empty head.
	rows, err = tx.Query(ctx, `SELECT DISTINCT replica FROM audit_log`)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	headless := map[string]bool{}
	for _, n := range names {
		if _, ok := heads[n]; !ok {
			heads[n], headless[n] = audit.Head{}, true
		}
	}
	var out []audit.ChainResult
	for r, h := range heads {
		var buf bytes.Buffer
		rows, err := tx.Query(ctx, `SELECT line FROM audit_log WHERE replica = $1 ORDER BY seq`, r)
		if err != nil {
			return nil, err
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			buf.WriteString(l)
			buf.WriteByte('\n')
		}
		sum, verr := audit.VerifyHead(&buf, h)
		if verr == nil && headless[r] && sum.Records > 0 {
			verr = &audit.Problem{Reason: fmt.Sprintf("replica %s has %d records and no head (the head was deleted, perhaps with records cut)", r, sum.Records)}
		}
		out = append(out, audit.ChainResult{Replica: r, Summary: sum, Err: verr})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Replica < out[j].Replica })
	return out, nil
}

// AuditRecords returns every replica's records, oldest first.
func (s *Store) AuditRecords(ctx context.Context) ([]audit.Record, error) {
	return s.AuditRecordsOf(ctx, "")
}

// AuditRecordsOf reads the records naming the incident fingerprint (all
// when it is empty), every replica's, in time order.
func (s *Store) AuditRecordsOf(ctx context.Context, fingerprint string) ([]audit.Record, error) {
	rows, err := s.pool.Query(ctx, `SELECT line FROM audit_log WHERE $1 = '' OR line::jsonb->>'fingerprint' = $1
		ORDER BY (line::jsonb->>'time')::timestamptz, replica, seq`, fingerprint)
	if err != nil {
		return nil, fmt.Errorf("read audit records: %w", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read audit records: %w", err)
	}
	var buf bytes.Buffer
	for _, l := range lines {
		buf.WriteString(l)
		buf.WriteByte('\n')
	}
	return audit.ReadRecords(&buf)
}

// Verdict folds chain results into one: the records verified, or the first
// broken chain.
func Verdict(res []audit.ChainResult) (int, error) {
	n := 0
	for _, r := range res {
		if r.Err != nil {
			return n, fmt.Errorf("replica %s: %w", r.Replica, r.Err)
		}
		n += r.Summary.Records
	}
	return n, nil
}
