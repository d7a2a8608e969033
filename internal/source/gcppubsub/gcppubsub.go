// Package gcppubsub is the Google Cloud Pub/Sub adapter: a streaming-pull
// receiver for the subscription a Cloud Logging sink feeds, and a
// dead-letter publisher. It authenticates by Application Default
// Credentials (a service account, Workload Identity); PUBSUB_EMULATOR_HOST
// points it at an emulator, as the client library does everywhere.
package gcppubsub

import (
	"context"
	"fmt"
	"sync"

	"cloud.google.com/go/pubsub/v2"
	"github.com/cloud-sre-agent/sre-agent/internal/config"
	"github.com/cloud-sre-agent/sre-agent/internal/source"
	"google.golang.org/api/option"
)

// NewClient opens a client with Application Default Credentials; opts are
// for tests (an in-process server).
func NewClient(ctx context.Context, project string, opts ...option.ClientOption) (*pubsub.Client, error) {
	c, err := pubsub.NewClient(ctx, project, opts...)
	if err != nil {
		return nil, fmt.Errorf("pubsub client for project %s: %w", project, err)
	}
	return c, nil
}

// Receiver pulls a subscription.
type Receiver struct {
	sub *pubsub.Subscriber
}

// NewReceiver configures streaming pull with the config's flow control.
func NewReceiver(c *pubsub.Client, cfg config.PubSub) (*Receiver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sub := c.Subscriber(cfg.SubscriptionName())
	if cfg.MaxOutstandingMessages > 0 {
		sub.ReceiveSettings.MaxOutstandingMessages = cfg.MaxOutstandingMessages
	}
	if cfg.MaxOutstandingBytes > 0 {
		sub.ReceiveSettings.MaxOutstandingBytes = cfg.MaxOutstandingBytes
	}
	if cfg.NumGoroutines > 0 {
		sub.ReceiveSettings.NumGoroutines = cfg.NumGoroutines
	}
	if cfg.MaxAckExtension > 0 {
		sub.ReceiveSettings.MaxDurationPerAckExtension = cfg.MaxAckExtension
	}
	return &Receiver{sub: sub}, nil
}

// Receive implements source.Receiver. Each callback waits until the agent
// acknowledges or nacks its message: the client library counts a message
// against MaxOutstandingMessages and MaxOutstandingBytes until its callback
// returns, so this makes those limits bound messages not yet acknowledged,
// which is what an operator sizes them for. The library keeps extending a
// message's ack deadline meanwhile.
func (r *Receiver) Receive(ctx context.Context, deliver func(source.Message)) error {
	err := r.sub.Receive(ctx, func(_ context.Context, m *pubsub.Message) {
		done := make(chan struct{})
		var once sync.Once
		finish := func(f func()) func() {
			return func() { once.Do(func() { f(); close(done) }) }
		}
		deliver(source.Message{ID: m.ID, Data: m.Data, Attributes: m.Attributes, Ack: finish(m.Ack), Nack: finish(m.Nack)})
		<-done
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// DeadLetterTopic publishes bad messages to a topic, with why in the
// attributes.
type DeadLetterTopic struct {
	pub  *pubsub.Publisher
	name string
}

// NewDeadLetterTopic publishes to topic (an id or a full name).
func NewDeadLetterTopic(c *pubsub.Client, topic string) *DeadLetterTopic {
	return &DeadLetterTopic{pub: c.Publisher(topic), name: "pubsub:" + topic}
}

// Name implements source.DeadLetter.
func (d *DeadLetterTopic) Name() string { return d.name }

// Put publishes the message and waits for the server to accept it.
func (d *DeadLetterTopic) Put(ctx context.Context, m source.Message, reason, detail string) error {
	attrs := map[string]string{"sre_agent_reason": reason, "sre_agent_detail": detail, "sre_agent_message_id": m.ID}
	for k, v := range m.Attributes {
		attrs["orig_"+k] = v
	}
	if _, err := d.pub.Publish(ctx, &pubsub.Message{Data: m.Data, Attributes: attrs}).Get(ctx); err != nil {
		return fmt.Errorf("publish dead letter to %s: %w", d.name, err)
	}
	return nil
}

// Stop flushes and stops the publisher.
func (d *DeadLetterTopic) Stop() { d.pub.Stop() }
