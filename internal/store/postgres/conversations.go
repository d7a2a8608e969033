package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/store/row"
)

// ClaimConversation takes the incident's conversation for receiver for lease, for
// this replica (an empty one the first time). ok is false while another
// replica's claim is live: it is telling the receiver now. A replica that
// restarts under its name takes its own claims back at once.
func (s *Store) ClaimConversation(ctx context.Context, fp domain.Fingerprint, receiver string, lease time.Duration) (domain.Conversation, bool, error) {
	var body string
	err := s.pool.QueryRow(ctx, `INSERT INTO conversations (fingerprint, receiver, body, holder, held_until) VALUES ($1, $2, '', $3, now() + $4::interval)
		ON CONFLICT (fingerprint, receiver) DO UPDATE SET holder = excluded.holder, held_until = excluded.held_until
		WHERE conversations.holder = '' OR conversations.holder = excluded.holder OR conversations.held_until < now()
		RETURNING body`, string(fp), receiver, s.replica, lease.String()).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Conversation{}, false, nil
	}
	if err != nil {
		return domain.Conversation{}, false, fmt.Errorf("claim conversation %s/%s: %w", fp, receiver, err)
	}
	s.writes.Add(1)
	n, err := row.DecodeConversation(fp, receiver, body)
	return n, err == nil, err
}

// ReleaseConversation stores the conversation and ends this replica's claim on it;
// domain.ErrLeaseLost when another replica took it over meanwhile.
func (s *Store) ReleaseConversation(ctx context.Context, n domain.Conversation) error {
	body, err := row.EncodeConversation(n)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE conversations SET body = $1, holder = '', held_until = NULL WHERE fingerprint = $2 AND receiver = $3 AND holder = $4`,
		body, string(n.Fingerprint), n.Receiver, s.replica)
	if err != nil {
		return fmt.Errorf("release conversation %s/%s: %w", n.Fingerprint, n.Receiver, err)
	}
	s.writes.Add(1)
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("release conversation %s/%s: %w", n.Fingerprint, n.Receiver, domain.ErrLeaseLost)
	}
	return nil
}

// Conversations lists what each receiver was told about the incident, by
// receiver.
func (s *Store) Conversations(ctx context.Context, fp domain.Fingerprint) ([]domain.Conversation, error) {
	rows, err := s.pool.Query(ctx, `SELECT receiver, body FROM conversations WHERE fingerprint = $1 ORDER BY receiver`, string(fp))
	if err != nil {
		return nil, fmt.Errorf("conversations of %s: %w", fp, err)
	}
	defer rows.Close()
	return row.ScanConversations(fp, rows)
}
