// Package quarantine is the local dead-letter destination: messages that
// are not log messages are appended, with why, to a JSON-lines file that
// is synced to disk before the message is acknowledged.
package quarantine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/source"
)

// File appends dead letters to a file. It is safe for concurrent use.
type File struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

// Open opens (creating) the quarantine file.
func Open(path string) (*File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create quarantine directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open quarantine: %w", err)
	}
	return &File{f: f, path: path}, nil
}

// Entry is one quarantined message.
type Entry struct {
	Time       time.Time         `json:"time"`
	Reason     string            `json:"reason"`
	Detail     string            `json:"detail"`
	MessageID  string            `json:"message_id"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Data       []byte            `json:"data"` // base64 in the file
}

// Name implements source.DeadLetter.
func (q *File) Name() string { return "file:" + q.path }

// Put appends and syncs one entry.
func (q *File) Put(_ context.Context, m source.Message, reason, detail string) error {
	b, err := json.Marshal(Entry{Time: time.Now().UTC(), Reason: reason, Detail: detail, MessageID: m.ID, Attributes: m.Attributes, Data: m.Data})
	if err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, err := q.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write quarantine: %w", err)
	}
	if err := q.f.Sync(); err != nil {
		return fmt.Errorf("sync quarantine: %w", err)
	}
	return nil
}

// Close closes the file.
func (q *File) Close() error { return q.f.Close() }
