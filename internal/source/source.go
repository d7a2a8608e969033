// Package source is the port log messages arrive by: a Receiver hands
// over Messages until its context ends, and a DeadLetter keeps the ones
// that are not log messages. The transports (Pub/Sub, the Go CDK's
// brokers) and the quarantine file live in the packages under it.
package source

import "context"

// Message is one delivery from a message transport. Exactly one of Ack and
// Nack is called for it, by the agent alone (internal/agent/messages.go),
// and Ack only once the store holds what the message carried:
//
//   - a log message: after the commit that holds its events (in an
//     incident, a bound's summary or a held template, all saved with the
//     source's share) and its key;
//   - a redelivery of a message whose key is committed: at once; of one
//     still in the batch being built: with that batch, after its commit;
//   - a message that is not a log message: after it is kept (dead-letter
//     topic or quarantine file) and audited;
//   - a control message (carries no event): at once.
//
// Anything else is nacked, or left to the transport's redelivery.
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
