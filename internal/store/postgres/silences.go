package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/store/row"
)

// SaveSilence adds a silence, or replaces the one with its id (expiring
// it).
func (s *Store) SaveSilence(ctx context.Context, sl domain.Silence) error {
	body, err := row.EncodeSilence(sl)
	if err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO silences (id, body, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET body = excluded.body`, sl.ID, body, sl.CreatedAt); err != nil {
		return fmt.Errorf("save silence %s: %w", sl.ID, err)
	}
	s.writes.Add(1)
	return nil
}

// Silences lists every silence, oldest first (expired ones too).
func (s *Store) Silences(ctx context.Context) ([]domain.Silence, error) {
	rows, err := s.pool.Query(ctx, `SELECT body FROM silences ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("silences: %w", err)
	}
	defer rows.Close()
	return row.ScanJSON[domain.Silence]("silence", rows)
}

// AddNote records what a person said of an incident.
func (s *Store) AddNote(ctx context.Context, n domain.Note) error {
	b, err := json.Marshal(n)
	if err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO notes (fingerprint, at, body) VALUES ($1, $2, $3)`, string(n.Fingerprint), n.At, string(b)); err != nil {
		return fmt.Errorf("note on %s: %w", n.Fingerprint, err)
	}
	s.writes.Add(1)
	return nil
}

// Notes lists what people said of an incident, oldest first.
func (s *Store) Notes(ctx context.Context, fp domain.Fingerprint) ([]domain.Note, error) {
	rows, err := s.pool.Query(ctx, `SELECT body FROM notes WHERE fingerprint = $1 ORDER BY at`, string(fp))
	if err != nil {
		return nil, fmt.Errorf("notes of %s: %w", fp, err)
	}
	defer rows.Close()
	return row.ScanJSON[domain.Note]("note", rows)
}
