// Package source is the port log messages arrive by: a Receiver hands
// over Messages until its context ends, and a DeadLetter keeps the ones
// that are not log messages. The transports (Pub/Sub, the Go CDK's
// brokers) and the quarantine file live in the packages under it.
package source

import "context"

// Message is one delivery from a message transport. Exactly one of Ack and
// Nack is called for it.
type Message struct {
	// ID is the transport's message id.
	ID         string
	Data       []byte
	Attributes map[string]string
	Ack        func()
	Nack       func()
}

// Receiver delivers messages until ctx is done, then returns (nil when it
// stopped because ctx was done). deliver may block: that is flow control.
type Receiver interface {
	Receive(ctx context.Context, deliver func(Message)) error
}

// DeadLetter keeps a message that is not a log message, durably, before it
// is acknowledged.
type DeadLetter interface {
	// Name says where dead letters go (a topic, a file), for the audit log.
	Name() string
	Put(ctx context.Context, m Message, reason, detail string) error
}
