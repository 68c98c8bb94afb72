// Package broker is Köpir's durable message broker for asynchronous delivery.
//
// It is a thin layer over NATS JetStream driven through watermill, so that the
// rest of the bus only sees watermill's message.Publisher / message.Subscriber
// and can run handlers in a message.Router. The package owns the decisions
// that watermill-nats leaves open and that matter for a bus:
//
//   - one stream for all topics, with work-queue retention, so disk usage is
//     bounded by what is still undelivered rather than by throughput × MaxAge;
//   - consumers are provisioned here (not by the watermill client) so that
//     changed settings such as AckWait are applied on restart instead of
//     failing the subscription with a config mismatch;
//   - publishes wait for the JetStream ack, so the caller may answer
//     "accepted" only once the message is on disk on the server;
//   - either an embedded server (single binary, data under DataDir) or an
//     external JetStream server, with the same semantics.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults. They are exported so that operators' documentation and the
// callers' own config defaults can refer to the same numbers.
const (
	DefaultStream          = "KOPIR"
	DefaultSubjectPrefix   = "kopir"
	DefaultMaxAge          = 7 * 24 * time.Hour
	DefaultDuplicateWindow = 2 * time.Minute
)

// Config selects and shapes the JetStream server the broker talks to.
type Config struct {
	// URL of an external NATS server with JetStream (e.g. nats://127.0.0.1:4222).
	// Empty means: run an embedded server in this process, so a single-node
	// deployment needs no extra daemon.
	URL string

	// DataDir is where the embedded server keeps its file store (DataDir/nats).
	// Required in embedded mode, ignored otherwise.
	DataDir string

	// Logger receives broker, watermill and embedded-server logs. Nil means slog.Default().
	Logger *slog.Logger

	// Stream is the JetStream stream name. Several buses (or test runs) can
	// share one NATS server as long as Stream and SubjectPrefix differ.
	// Default DefaultStream.
	Stream string

	// SubjectPrefix is prepended to every topic ("<prefix>.<topic>"); the
	// stream captures "<prefix>.>". Default DefaultSubjectPrefix.
	SubjectPrefix string

	// MaxAge is a safety net against messages stuck forever: JetStream drops
	// messages older than this even if never acked. It must exceed the bus's
	// own retry horizon, otherwise messages vanish before the bus declares
	// them dead. Default DefaultMaxAge.
	MaxAge time.Duration

	// DuplicateWindow is how long JetStream remembers message IDs (watermill
	// UUIDs) to drop re-publishes of the same message, e.g. after a client
	// retry on a lost ack. Default DefaultDuplicateWindow.
	DuplicateWindow time.Duration

	// Replicas for the stream and the key-value buckets on a clustered
	// external server. Default 1. An existing stream that has more keeps
	// them.
	Replicas int
}

// Broker owns the NATS connections (and the embedded server, if any) behind
// the watermill publisher and subscribers it hands out.
type Broker struct {
	cfg    Config
	log    *slog.Logger
	wmLog  watermill.LoggerAdapter
	srv    *server.Server // nil when connected to an external server
	nc     *nats.Conn     // management + publishing
	js     jetstream.JetStream
	pub    *wmnats.Publisher
	closed bool
	// attemptTimeout bounds each call of untilAvailable's op: a cluster
	// without a leader leaves requests unanswered.
	attemptTimeout time.Duration

	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

// ErrClosed is returned by operations on a closed Broker.
var ErrClosed = errors.New("broker: closed")

// Open connects to (or starts) JetStream and ensures the stream exists.
// It blocks until the server accepts JetStream requests or ctx ends, so an
// external server that is still starting up is waited for; pass a ctx with a
// deadline to bound that wait.
func Open(ctx context.Context, cfg Config) (*Broker, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	b := &Broker{
		cfg:            cfg,
		log:            cfg.Logger,
		subs:           map[*subscriber]struct{}{},
		attemptTimeout: 10 * time.Second,
	}
	b.wmLog = watermill.NewSlogLogger(b.log.With("component", "watermill"))

	if cfg.URL == "" {
		srv, err := startEmbedded(cfg.DataDir, b.log)
		if err != nil {
			return nil, err
		}
		b.srv = srv
	}

	if err := b.connectAndProvision(ctx); err != nil {
		b.shutdown()
		return nil, err
	}

	pub, err := wmnats.NewPublisherWithNatsConn(b.nc, wmnats.PublisherPublishConfig{
		Marshaler:         &subjectMarshaler{prefix: cfg.SubjectPrefix},
		SubjectCalculator: b.subjectDetail,
		JetStream: wmnats.JetStreamConfig{
			// Publisher waits for the PubAck (AckAsync only affects consumers,
			// but keep it explicit): HTTP 202 must mean "stored".
			AckAsync: false,
			// Send the watermill UUID as Nats-Msg-Id so the stream's
			// duplicate window drops re-publishes of the same message.
			TrackMsgId: true,
		},
	}, b.wmLog)
	if err != nil {
		b.shutdown()
		return nil, fmt.Errorf("broker: create publisher: %w", err)
	}
	b.pub = pub
	return b, nil
}

func (c *Config) normalize() error {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.DuplicateWindow > c.MaxAge {
		c.DuplicateWindow = c.MaxAge
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.URL == "" && c.DataDir == "" {
		return errors.New("broker: DataDir is required for the embedded server")
	}
	if !validTokens(c.Stream) || strings.Contains(c.Stream, ".") { // one token
		return fmt.Errorf("broker: invalid stream name %q", c.Stream)
	}
	if !validTokens(c.SubjectPrefix) {
		return fmt.Errorf("broker: invalid subject prefix %q", c.SubjectPrefix)
	}
	return nil
}

// connectAndProvision retries until JetStream answers, because both an
// external server that is starting and JetStream recovering its store
// report transient errors for a while.
func (b *Broker) connectAndProvision(ctx context.Context) error {
	return b.untilAvailable(ctx, "JetStream not ready", func(ctx context.Context) error {
		if b.nc == nil {
			nc, _, err := b.connect("kopir-broker")
			if err != nil {
				return err
			}
			b.nc = nc
		}
		if b.js == nil {
			js, err := jetstream.New(b.nc)
			if err != nil {
				return err
			}
			b.js = js
		}
		return b.ensureStream(ctx)
	})
}

// untilAvailable calls op, each time with attemptTimeout to answer, until
// it succeeds, fails for a reason that will not fix itself, or ctx ends.
// A JetStream cluster that has lost a server
// answers "unavailable" (503), times out or has no responders until it has
// elected new leaders, which takes seconds; a node starting meanwhile waits
// for it instead of exiting.
func (b *Broker) untilAvailable(ctx context.Context, what string, op func(context.Context) error) error {
	wait := 100 * time.Millisecond
	for tries := 1; ; tries++ {
		attempt, cancel := context.WithTimeout(ctx, b.attemptTimeout)
		err := op(attempt)
		cancel()
		if err == nil {
			return nil
		}
		if !worthWaiting(err) {
			return fmt.Errorf("broker: %w", err)
		}
		if tries == 1 {
			b.log.Debug("broker: "+what+", retrying", "err", err)
		} else {
			b.log.Warn("broker: "+what+", retrying", "tries", tries, "err", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("broker: %s: %w (last error: %v)", what, ctx.Err(), err)
		case <-time.After(wait):
		}
		if wait < 2*time.Second {
			wait *= 2
		}
	}
}

// worthWaiting tells whether untilAvailable tries again after err. A
// refused configuration (e.g. an existing stream with another retention
// policy, a consumer deleted by hand) will not fix itself, nor will a
// closed broker; only "unavailable" (503) and transport errors are worth
// waiting for. JetStream's refusals come as jetstream.APIError from the
// current client and as nats.JetStreamError from the one watermill-nats
// binds with.
func worthWaiting(err error) bool {
	if errors.Is(err, ErrClosed) {
		return false
	}
	refused := func(code int) bool { return code != 0 && code != 503 }
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && refused(apiErr.Code) {
		return false
	}
	var legacy nats.JetStreamError
	if errors.As(err, &legacy) && legacy.APIError() != nil && refused(legacy.APIError().Code) {
		return false
	}
	return true
}

// connect returns the connection and a channel closed once the connection
// is fully closed, so that shutdown can wait for a Drain to finish before
// the embedded server goes away (a drain cut short by the server's exit
// would otherwise leave the client reconnecting in the background).
func (b *Broker) connect(name string) (*nats.Conn, <-chan struct{}, error) {
	closed := make(chan struct{})
	opts := []nats.Option{
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
		nats.Name(name),
		// The bus must survive a NATS restart without being restarted itself.
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			b.log.Warn("broker: NATS async error", "conn", name, "subject", subj, "err", err)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.log.Warn("broker: NATS disconnected", "conn", name, "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			b.log.Info("broker: NATS reconnected", "conn", name)
		}),
	}
	url := b.cfg.URL
	if b.srv != nil {
		opts = append(opts, nats.InProcessServer(b.srv))
		url = ""
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("broker: connect to NATS: %w", err)
	}
	return nc, closed, nil
}

func (b *Broker) ensureStream(ctx context.Context) error {
	replicas, _, err := b.replicasFor(ctx, b.cfg.Stream)
	if err != nil {
		return fmt.Errorf("ensure stream %s: %w", b.cfg.Stream, err)
	}
	_, err = b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        b.cfg.Stream,
		Description: "Köpir async delivery queue",
		Subjects:    []string{b.cfg.SubjectPrefix + ".>"},
		// Work-queue retention deletes a message once its consumer acks it:
		// the stream holds exactly the backlog, and redelivery after restart
		// can never resurrect an acked message.
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		MaxAge:     b.cfg.MaxAge,
		Duplicates: b.cfg.DuplicateWindow,
		Discard:    jetstream.DiscardOld,
		Replicas:   replicas,
	})
	if err != nil {
		return fmt.Errorf("ensure stream %s with %d replicas: %w", b.cfg.Stream, replicas, replicasHint(err))
	}
	return nil
}

// replicasFor is the replica count to give stream: the configured one,
// or the stream's own when it already has more. A node started with an
// old or default config must not shrink a stream an operator grew (one
// node's start would take two copies of every queued message away). It
// also returns the stream's settings as they are, nil when it does not
// exist yet.
func (b *Broker) replicasFor(ctx context.Context, stream string) (int, *jetstream.StreamConfig, error) {
	s, err := b.js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return b.cfg.Replicas, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	have := s.CachedInfo().Config
	if have.Replicas > b.cfg.Replicas {
		b.log.Warn("broker: keeping the stream's replicas, which are more than configured",
			"stream", stream, "replicas", have.Replicas, "natsReplicas", b.cfg.Replicas)
		return have.Replicas, &have, nil
	}
	return b.cfg.Replicas, &have, nil
}

// replicasHint says what to do when JetStream has fewer servers than the
// replicas asked for: a single server refuses more than one replica, a
// cluster finds no peers to place them on, and no wait will change that.
func replicasHint(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case errNoPeers, errInsufficientResources, errReplicasNotSupported:
			return fmt.Errorf("%w (natsReplicas is more than the JetStream servers that can hold a copy: lower it or add servers)", err)
		}
	}
	return err
}

// JetStream's error codes for a replica count the servers cannot hold
// (nats-server's JSClusterNoPeersErrF, JSInsufficientResourcesErr,
// JSStreamReplicasNotSupportedErr; the client does not name them).
const (
	errNoPeers               jetstream.ErrorCode = 10005
	errInsufficientResources jetstream.ErrorCode = 10023
	errReplicasNotSupported  jetstream.ErrorCode = 10074
)

// Replicas is the replica count the broker gives new streams and buckets.
func (b *Broker) Replicas() int { return b.cfg.Replicas }

// KeyValue opens the key-value bucket name (created when missing), whose
// entries expire ttl after their last write (0: never), replicated like
// the stream. Bucket names are prefixed with the stream's, so that buses
// sharing a NATS server keep apart.
func (b *Broker) KeyValue(ctx context.Context, name string, ttl time.Duration) (jetstream.KeyValue, error) {
	if b.js == nil {
		return nil, ErrClosed
	}
	bucket := b.cfg.Stream + "_" + name
	var kv jetstream.KeyValue
	err := b.untilAvailable(ctx, "key-value bucket "+bucket+" not ready", func(ctx context.Context) (err error) {
		kv, err = b.keyValue(ctx, bucket, ttl)
		return err
	})
	return kv, err
}

func (b *Broker) keyValue(ctx context.Context, bucket string, ttl time.Duration) (jetstream.KeyValue, error) {
	stream := "KV_" + bucket // where JetStream keeps the bucket
	replicas, have, err := b.replicasFor(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", bucket, err)
	}
	want := jetstream.KeyValueConfig{Bucket: bucket, TTL: ttl, Storage: jetstream.FileStorage, Replicas: replicas, History: 1}
	// A bucket that already has these settings is used as it is: creating
	// it "again" would turn its direct reads back on (below) for a moment
	// in which another node may open it.
	if have != nil && !have.AllowDirect && have.MaxAge == want.TTL && have.Replicas == want.Replicas &&
		have.MaxMsgsPerSubject == int64(want.History) && have.Storage == want.Storage {
		return b.js.KeyValue(ctx, bucket)
	}
	if _, err := b.js.CreateOrUpdateKeyValue(ctx, want); err != nil {
		return nil, fmt.Errorf("key-value bucket %s with %d replicas: %w", bucket, replicas, replicasHint(err))
	}
	// Reads go to the stream's leader. With direct reads, which buckets
	// have by default, any replica answers a Get, and one that has not yet
	// applied a write answers with what it had: a console session signed
	// out on one node was still served by another for a moment. A bucket
	// opened here decides how it reads from the stream's settings when it
	// is opened, so it is opened after they are changed.
	s, err := b.js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", bucket, err)
	}
	if c := s.CachedInfo().Config; c.AllowDirect {
		c.AllowDirect = false
		if _, err := b.js.UpdateStream(ctx, c); err != nil {
			return nil, fmt.Errorf("key-value bucket %s: reading from its leader only: %w", bucket, err)
		}
	}
	return b.js.KeyValue(ctx, bucket)
}

// Publisher returns the shared publisher. Publish returns only after
// JetStream has acknowledged (stored) every message, in order; concurrent
// callers overlap their round-trips on one connection. The topic is the
// logical topic name, without SubjectPrefix.
//
// Its Close is a no-op: the Broker owns the connection, so a router that
// closes its publishers cannot break other users.
func (b *Broker) Publisher() message.Publisher {
	return sharedPublisher{b.pub}
}

type sharedPublisher struct{ *wmnats.Publisher }

func (sharedPublisher) Close() error { return nil }

// Close stops all subscribers handed out, then the connection, then the
// embedded server. Unacked in-flight messages are redelivered after the
// consumer's AckWait once a subscriber comes back.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	subs := make([]*subscriber, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()

	var errs []error
	for _, s := range subs {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	b.shutdown()
	return errors.Join(errs...)
}

func (b *Broker) shutdown() {
	if b.nc != nil {
		// Flush pending acks/publishes before going away.
		if err := b.nc.FlushTimeout(2 * time.Second); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			b.log.Debug("broker: flush on close", "err", err)
		}
		b.nc.Close()
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}

// subject maps a logical topic to its NATS subject.
func (b *Broker) subject(topic string) string {
	return b.cfg.SubjectPrefix + "." + topic
}

func validTopic(topic string) error {
	if !validTokens(topic) {
		return fmt.Errorf("broker: invalid topic %q (want dot-separated [A-Za-z0-9_-] tokens)", topic)
	}
	return nil
}

// validTokens: s is dot-separated tokens of [A-Za-z0-9_-], none empty. It
// runs on every publish, where a regular expression cost 2 µs.
func validTokens(s string) bool {
	token := 0 // length of the token so far
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
			token++
		case c == '.' && token > 0:
			token = 0
		default:
			return false
		}
	}
	return token > 0
}
