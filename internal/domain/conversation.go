package domain

import "time"

// Conversation is what one receiver (a chat channel, a pager, a webhook) has
// been told about one incident: the conversation to continue, the
// idempotency keys of the changes already told, and the state of the
// retries when telling failed. Stores keep one per incident and receiver.
type Conversation struct {
	Fingerprint Fingerprint `json:"fingerprint"`
	Receiver    string      `json:"receiver"`
	// Thread is where the incident's conversation is in the receiver's
	// terms (a Slack channel and message, a Chat thread, a dedup key).
	Thread string `json:"thread,omitempty"`
	// Done are the keys of the changes told (or folded into a later
	// message), the latest MaxConversationKeys.
	Done []string `json:"done,omitempty"`
	// Last is the last change told, and when.
	Last   string    `json:"last,omitempty"`
	LastAt time.Time `json:"last_at,omitzero"`
	Sent   int       `json:"sent,omitempty"` // messages sent
	// Failures counts failed attempts in a row; the next waits until
	// RetryAt. Error is the last failure, redacted.
	Failures int       `json:"failures,omitempty"`
	RetryAt  time.Time `json:"retry_at,omitzero"`
	Error    string    `json:"error,omitempty"`
}

// MaxConversationKeys bounds the keys a conversation keeps.
const MaxConversationKeys = 64

// Told reports whether the change with key was told.
func (n *Conversation) Told(key string) bool {
	for _, k := range n.Done {
		if k == key {
			return true
		}
	}
	return false
}

// Tell records keys as told.
func (n *Conversation) Tell(keys ...string) {
	for _, k := range keys {
		if !n.Told(k) {
			n.Done = append(n.Done, k)
		}
	}
	if len(n.Done) > MaxConversationKeys {
		n.Done = n.Done[len(n.Done)-MaxConversationKeys:]
	}
}
