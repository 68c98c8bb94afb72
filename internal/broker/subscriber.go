package broker

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Subscriber defaults.
const (
	DefaultConcurrency  = 8
	DefaultAckWait      = 30 * time.Second
	DefaultCloseTimeout = 10 * time.Second
	// Per unit of Concurrency; see SubOpts.MaxAckPending.
	defaultAckPendingPerWorker = 32
)

// SubOpts tunes the durable consumer behind one topic.
type SubOpts struct {
	// Concurrency is how many messages are handled at the same time
	// (watermill-nats SubscribersCount: each NATS subscription hands over one
	// message and waits for its Ack/Nack). Default DefaultConcurrency.
	Concurrency int

	// AckWait: a message delivered but neither acked nor nacked within this
	// time (handler hung, process killed) is redelivered. It is also the
	// client-side limit after which watermill gives up waiting for the
	// handler. Default DefaultAckWait.
	AckWait time.Duration

	// MaxAckPending caps messages delivered-but-not-acked. It is a trade-off
	// the caller should know about:
	//   - messages NAKed with a delay keep their slot until redelivered, so if
	//     MaxAckPending messages are all waiting out a backoff, the whole
	//     topic stalls until the first delay expires (head-of-line blocking);
	//   - slots not used by backoff are filled with messages that wait in the
	//     client buffer behind Concurrency busy handlers, and their AckWait is
	//     already running there; too large a value redelivers duplicates when
	//     handlers are slow (buffer/Concurrency × handler time > AckWait).
	// Default 32 × Concurrency.
	MaxAckPending int

	// Backoff gives the delay before a NACKed message (handler returned an
	// error) is redelivered. retryNum is the number of deliveries so far
	// (1 after the first failed attempt). A zero or negative result means
	// "redeliver now". Messages are never dropped or terminated by the
	// broker: the bus decides when a message is dead and acks it itself.
	// Default DefaultBackoff.
	Backoff func(retryNum uint64) time.Duration

	// CloseTimeout bounds how long Close waits for messages still being handed to their handlers.
	// Default DefaultCloseTimeout.
	CloseTimeout time.Duration
}

// DefaultBackoff is exponential from 1s, doubling, capped at 5 minutes.
// It exists so a caller that forgets to set a policy does not hot-loop a
// failing message.
func DefaultBackoff(retryNum uint64) time.Duration {
	const maxDelay = 5 * time.Minute
	if retryNum == 0 {
		retryNum = 1
	}
	if retryNum > 10 {
		return maxDelay
	}
	return min(time.Second<<(retryNum-1), maxDelay)
}

func (o *SubOpts) normalize() {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.AckWait <= 0 {
		o.AckWait = DefaultAckWait
	}
	if o.MaxAckPending <= 0 {
		o.MaxAckPending = defaultAckPendingPerWorker * o.Concurrency
	}
	if o.MaxAckPending < o.Concurrency {
		o.MaxAckPending = o.Concurrency
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = DefaultCloseTimeout
	}
}

// delayFunc adapts a plain policy function to watermill-nats' Delay. It
// never yields wmnats.TermSignal: terminating is the bus's decision, not
// the broker's.
type delayFunc func(retryNum uint64) time.Duration

func (f delayFunc) WaitTime(retryNum uint64) time.Duration {
	if d := f(retryNum); d > 0 {
		return d
	}
	return 0
}

// Subscriber returns a watermill subscriber for one topic, backed by a
// durable JetStream consumer named after the topic. All subscribers of the
// same topic, in this process or in other processes sharing the stream,
// form one queue group: each message goes to one of them, and progress
// survives restarts.
//
// The consumer is created or updated here, before any Subscribe, so that
// Depth works immediately and changed options apply to an existing consumer.
// While JetStream is unavailable (a cluster electing leaders) it waits, until
// ctx ends.
// The returned subscriber only accepts Subscribe calls for this topic.
// It is closed by Broker.Close if not closed before (a message.Router closes
// it when the router stops).
func (b *Broker) Subscriber(ctx context.Context, topic string, opts SubOpts) (message.Subscriber, error) {
	if err := validTopic(topic); err != nil {
		return nil, err
	}
	opts.normalize()

	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}

	durable := durableName(topic)
	consumer := jetstream.ConsumerConfig{
		Durable:     durable,
		Description: "Köpir topic " + topic,
		// Push delivery is what watermill-nats consumes; a deliver subject
		// outside the stream's subjects avoids a feedback loop, and the
		// deliver group lets several processes share the work.
		DeliverSubject: "_KOPIR_DLV." + b.cfg.Stream + "." + durable,
		DeliverGroup:   durable,
		FilterSubject:  b.subject(topic),
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        opts.AckWait,
		MaxDeliver:     -1,
		MaxAckPending:  opts.MaxAckPending,
	}
	what := fmt.Sprintf("consumer %s for topic %q", durable, topic)
	if err := b.untilAvailable(ctx, what+" not ready", func(ctx context.Context) error {
		if _, err := b.js.CreateOrUpdatePushConsumer(ctx, b.cfg.Stream, consumer); err != nil {
			return fmt.Errorf("ensure %s: %w", what, err)
		}
		return nil
	}); err != nil {
		return nil, err
	}

	s := &subscriber{b: b, topic: topic, what: what, closeTimeout: opts.CloseTimeout,
		config: wmnats.SubscriberSubscriptionConfig{
			Unmarshaler:       &subjectMarshaler{prefix: b.cfg.SubjectPrefix},
			SubscribersCount:  opts.Concurrency,
			AckWaitTimeout:    opts.AckWait,
			CloseTimeout:      opts.CloseTimeout,
			SubscribeTimeout:  10 * time.Second,
			SubjectCalculator: b.subjectDetail,
			NakDelay:          delayFunc(opts.Backoff),
			JetStream: wmnats.JetStreamConfig{
				// Binding looks the consumer up; an attempt that gets no
				// answer ends as untilAvailable's attempts do.
				ConnectOptions: []nats.JSOpt{nats.MaxWait(b.attemptTimeout)},
				SubscribeOptions: []nats.SubOpt{
					// Bind to the consumer provisioned above instead of letting
					// the client create one from its own (stale-prone) options.
					nats.Bind(b.cfg.Stream, durable),
					// Without ManualAck, nats.go acks every message when the
					// callback returns. watermill-nats returns without Ack/Nak
					// when the handler exceeds AckWait or the subscriber closes,
					// so that auto-ack would silently drop in-flight messages
					// instead of letting them be redelivered.
					nats.ManualAck(),
				},
				// AckSync: the ack is confirmed by the server before the handler
				// slot is released, so an acked message is really gone.
				AckAsync:          false,
				DurableCalculator: func(string, string) string { return durable },
			},
		}}
	if err := s.dial(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		_ = s.Close()
		return nil, ErrClosed
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s, nil
}

// subscriber is one topic's watermill-nats subscriber on a connection of
// its own (it drains and closes the connection on Close). Subscribe binds
// its NATS subscriptions to the topic's consumer, which asks JetStream
// about the consumer once per subscription: a cluster electing leaders
// does not answer, and then Subscribe waits for it as Subscriber does,
// on a new connection each try (see Subscribe).
type subscriber struct {
	b            *Broker
	topic        string
	what         string // the consumer and topic, for errors and logs
	config       wmnats.SubscriberSubscriptionConfig
	closeTimeout time.Duration

	mu       sync.Mutex
	closed   bool
	wsub     *wmnats.Subscriber // nil after a failed Subscribe, until the next try dials
	nc       *nats.Conn
	ncClosed <-chan struct{}
}

// dial connects and sets up a watermill-nats subscriber on the connection.
func (s *subscriber) dial() error {
	nc, ncClosed, err := s.b.connect("kopir-sub-" + durableName(s.topic))
	if err != nil {
		return err
	}
	wsub, err := wmnats.NewSubscriberWithNatsConn(nc, s.config, s.b.wmLog)
	if err != nil {
		nc.Close()
		return fmt.Errorf("broker: create subscriber for topic %q: %w", s.topic, err)
	}
	s.wsub, s.nc, s.ncClosed = wsub, nc, ncClosed
	return nil
}

// Subscribe starts the topic's NATS subscriptions, waiting while JetStream
// does not answer (untilAvailable) until ctx ends. A try that fails drops
// its connection, and with it the subscriptions the try had already made:
// watermill-nats returns at the first subscription that fails and keeps
// the others, whose messages nobody would read (they would wait out
// AckWait to be delivered again). Messages such a subscription took before
// the drop are not acknowledged, so JetStream delivers them again.
func (s *subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if topic != s.topic {
		return nil, fmt.Errorf("broker: subscriber was created for topic %q, not %q", s.topic, topic)
	}
	var out <-chan *message.Message
	err := s.b.untilAvailable(ctx, "bind to "+s.what, func(context.Context) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			return fmt.Errorf("bind to %s: %w", s.what, ErrClosed)
		}
		if s.wsub == nil {
			if err := s.dial(); err != nil {
				return err
			}
		}
		// The subscriptions live as long as ctx, not as the try.
		ch, err := s.wsub.Subscribe(ctx, topic)
		if err != nil {
			s.drop()
			return fmt.Errorf("bind to %s: %w", s.what, err)
		}
		out = ch
		return nil
	})
	return out, err
}

// drop closes a failed try's connection at once. Its watermill-nats
// subscriber is closed apart: its Close releases the try's goroutines but
// then waits out CloseTimeout for the subscription that failed.
func (s *subscriber) drop() {
	wsub, nc := s.wsub, s.nc
	s.wsub, s.nc, s.ncClosed = nil, nil, nil
	nc.Close()
	go func() { _ = wsub.Close() }()
}

func (s *subscriber) Close() error {
	s.b.mu.Lock()
	delete(s.b.subs, s)
	s.b.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.wsub == nil {
		return nil
	}
	err := s.wsub.Close() // starts draining the connection
	select {
	case <-s.ncClosed:
	case <-time.After(s.closeTimeout):
		s.nc.Close()
	}
	return err
}

// subjectDetail tells watermill-nats which subject and queue group a topic
// maps to; the queue group must equal the consumer's DeliverGroup.
func (b *Broker) subjectDetail(_ string, topic string) *wmnats.SubjectDetail {
	return &wmnats.SubjectDetail{
		Primary:    b.subject(topic),
		QueueGroup: durableName(topic),
	}
}

// durableName derives a consumer name from a topic. Consumer names cannot
// contain '.', so dots are replaced; a hash of the original topic keeps
// "a.b" and "a_b" from sharing a consumer.
func durableName(topic string) string {
	if !strings.Contains(topic, ".") {
		return topic
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(topic))
	return fmt.Sprintf("%s-%08x", strings.ReplaceAll(topic, ".", "_"), h.Sum32())
}

// Depth returns how many messages of the topic are not yet acked: waiting
// for delivery plus delivered-but-unacked (including those waiting out a
// backoff). Meant for a queue-depth gauge.
func (b *Broker) Depth(ctx context.Context, topic string) (uint64, error) {
	if err := validTopic(topic); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cons, err := b.js.PushConsumer(ctx, b.cfg.Stream, durableName(topic))
	if err == nil {
		info := cons.CachedInfo()
		return info.NumPending + uint64(info.NumAckPending), nil
	}
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return 0, fmt.Errorf("broker: depth of %q: %w", topic, err)
	}
	// Nobody subscribed yet: with work-queue retention every stored message
	// of the subject is still waiting.
	st, err := b.js.Stream(ctx, b.cfg.Stream)
	if err != nil {
		return 0, fmt.Errorf("broker: depth of %q: %w", topic, err)
	}
	subj := b.subject(topic)
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		return 0, fmt.Errorf("broker: depth of %q: %w", topic, err)
	}
	return info.State.Subjects[subj], nil
}
