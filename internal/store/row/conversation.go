package row

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// EncodeConversation is a conversation's body column.
func EncodeConversation(n domain.Conversation) (string, error) {
	b, err := json.Marshal(n)
	if err != nil {
		return "", fmt.Errorf("encode conversation %s/%s: %w", n.Fingerprint, n.Receiver, err)
	}
	return string(b), nil
}

// DecodeConversation reads a body column; the empty body is a new conversation. The
// fingerprint and receiver come from the row's key.
func DecodeConversation(fp domain.Fingerprint, receiver, body string) (domain.Conversation, error) {
	var n domain.Conversation
	if body != "" {
		if err := json.Unmarshal([]byte(body), &n); err != nil {
			return n, fmt.Errorf("conversation %s/%s: %w", fp, receiver, err)
		}
	}
	n.Fingerprint, n.Receiver = fp, receiver
	return n, nil
}

// Holder names one open store among others on the same database: the
// host, the process and a random part.
func Holder() string {
	host, _ := os.Hostname()
	var b [6]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Rows is what both stores' query results offer.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ScanConversations reads (receiver, body) rows of one incident.
func ScanConversations(fp domain.Fingerprint, rows Rows) ([]domain.Conversation, error) {
	var out []domain.Conversation
	for rows.Next() {
		var receiver, body string
		if err := rows.Scan(&receiver, &body); err != nil {
			return nil, err
		}
		c, err := DecodeConversation(fp, receiver, body)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
