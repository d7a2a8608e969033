// Package gocloud reads other clouds' messaging through gocloud.dev/pubsub
// URLs: awssqs:// (CloudWatch Logs subscriptions delivered to SQS),
// azuresb:// (Azure Service Bus), kafka:// and nats://. Credentials come
// from each platform's default chain (the AWS default credential chain,
// Azure's environment, the KAFKA_BROKERS and NATS_SERVER_URL variables).
package gocloud

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/cloud-sre-agent/sre-agent/internal/source"
	"gocloud.dev/pubsub"
	_ "gocloud.dev/pubsub/awssnssqs" // awssqs://, awssns://
	_ "gocloud.dev/pubsub/azuresb"   // azuresb://
	_ "gocloud.dev/pubsub/kafkapubsub"
	_ "gocloud.dev/pubsub/mempubsub" // mem://, for tests and local wiring
	_ "gocloud.dev/pubsub/natspubsub"
)

// Schemes are the URL schemes this build reads: the drivers imported
// above.
var Schemes = []string{"awssqs", "azuresb", "kafka", "nats", "mem"}

// CheckURL refuses a URL this build cannot open.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("subscription url: %w", err)
	}
	for _, s := range Schemes {
		if u.Scheme == s {
			return nil
		}
	}
	return fmt.Errorf("subscription url scheme %q: want one of %v", u.Scheme, Schemes)
}

// Receiver reads one subscription URL.
type Receiver struct {
	sub *pubsub.Subscription
	url string
}

// Open opens the subscription.
func Open(ctx context.Context, raw string) (*Receiver, error) {
	if err := CheckURL(raw); err != nil {
		return nil, err
	}
	sub, err := pubsub.OpenSubscription(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("open subscription %s: %w", Redact(raw), err)
	}
	return &Receiver{sub: sub, url: raw}, nil
}

// Receive implements source.Receiver: one message at a time, acknowledged
// (or nacked, where the transport can) by the agent.
func (r *Receiver) Receive(ctx context.Context, deliver func(source.Message)) error {
	defer r.sub.Shutdown(context.WithoutCancel(ctx))
	for {
		m, err := r.sub.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("receive from %s: %w", Redact(r.url), err)
		}
		nack := func() {
			if m.Nackable() {
				m.Nack()
			}
			// A transport without nack redelivers after its visibility
			// timeout, or not at all (core NATS: at most once).
		}
		deliver(source.Message{ID: m.LoggableID, Data: m.Body, Attributes: m.Metadata, Ack: m.Ack, Nack: nack})
	}
}

// Topic is a gocloud topic used as a dead-letter destination.
type Topic struct {
	t   *pubsub.Topic
	url string
}

// OpenTopic opens a topic URL.
func OpenTopic(ctx context.Context, raw string) (*Topic, error) {
	t, err := pubsub.OpenTopic(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("open topic %s: %w", Redact(raw), err)
	}
	return &Topic{t: t, url: raw}, nil
}

// Name implements source.DeadLetter.
func (t *Topic) Name() string { return Redact(t.url) }

// Put sends the message with why in its metadata.
func (t *Topic) Put(ctx context.Context, m source.Message, reason, detail string) error {
	md := map[string]string{"sre_agent_reason": reason, "sre_agent_detail": detail, "sre_agent_message_id": m.ID}
	return t.t.Send(ctx, &pubsub.Message{Body: m.Data, Metadata: md})
}

// Shutdown flushes the topic.
func (t *Topic) Shutdown(ctx context.Context) error { return t.t.Shutdown(ctx) }

// Redact drops credentials and the query (which can carry keys) from a
// URL before it is logged.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable url>"
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}
