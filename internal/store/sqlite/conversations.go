package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/cloud-sre-agent/sre-agent/internal/store/row"
)

// ClaimConversation takes the incident's conversation for receiver for lease (an
// empty one the first time). ok is false while another holder's claim is
// live: that holder is telling the receiver now.
func (s *Store) ClaimConversation(ctx context.Context, fp domain.Fingerprint, receiver string, lease time.Duration) (domain.Conversation, bool, error) {
	now := time.Now()
	var body string
	err := s.db.QueryRowContext(ctx, `INSERT INTO conversations (fingerprint, receiver, body, holder, held_until) VALUES (?, ?, '', ?, ?)
		ON CONFLICT (fingerprint, receiver) DO UPDATE SET holder = excluded.holder, held_until = excluded.held_until
		WHERE conversations.holder = '' OR conversations.holder = excluded.holder OR conversations.held_until < ?
		RETURNING body`, string(fp), receiver, s.holder, ts(now.Add(lease)), ts(now)).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Conversation{}, false, nil
	}
	if err != nil {
		return domain.Conversation{}, false, fmt.Errorf("claim conversation %s/%s: %w", fp, receiver, err)
	}
	n, err := row.DecodeConversation(fp, receiver, body)
	return n, err == nil, err
}

// ReleaseConversation stores the conversation and ends this store's claim on it;
// domain.ErrLeaseLost when another holder took it over meanwhile.
func (s *Store) ReleaseConversation(ctx context.Context, n domain.Conversation) error {
	body, err := row.EncodeConversation(n)
	if err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `UPDATE conversations SET body = ?, holder = '', held_until = '' WHERE fingerprint = ? AND receiver = ? AND holder = ?`,
		body, string(n.Fingerprint), n.Receiver, s.holder)
	if err != nil {
		return fmt.Errorf("release conversation %s/%s: %w", n.Fingerprint, n.Receiver, err)
	}
	if k, _ := res.RowsAffected(); k != 1 {
		return fmt.Errorf("release conversation %s/%s: %w", n.Fingerprint, n.Receiver, domain.ErrLeaseLost)
	}
	return nil
}

// Conversations lists what each receiver was told about the incident, by
// receiver.
func (s *Store) Conversations(ctx context.Context, fp domain.Fingerprint) ([]domain.Conversation, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT receiver, body FROM conversations WHERE fingerprint = ? ORDER BY receiver`, string(fp))
	if err != nil {
		return nil, fmt.Errorf("conversations of %s: %w", fp, err)
	}
	defer rows.Close()
	return row.ScanConversations(fp, rows)
}
