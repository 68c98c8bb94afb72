package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/minfin-kz/kopir/internal/testenv"
	"github.com/nats-io/nats.go/jetstream"
)

func testLogger() *slog.Logger {
	if os.Getenv("KOPIR_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// uniq gives each test its own stream and subject space so tests never see
// each other's messages, even on a shared external server.
func uniq(t testing.TB) (stream, prefix string) {
	s := strconv.FormatInt(time.Now().UnixNano(), 36)
	return "KOPIRTEST_" + s, "kopirtest_" + s
}

func openEmbedded(t testing.TB, dir, stream, prefix string) *Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Open(ctx, Config{DataDir: dir, Logger: testLogger(), Stream: stream, SubjectPrefix: prefix})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func publishN(t testing.TB, b *Broker, topic string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		m := message.NewMessage(watermill.NewUUID(), []byte(fmt.Sprintf("payload-%d", i)))
		m.Metadata.Set("i", strconv.Itoa(i))
		if err := b.Publisher().Publish(topic, m); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func depth(t testing.TB, b *Broker, topic string) uint64 {
	t.Helper()
	d, err := b.Depth(t.Context(), topic)
	if err != nil {
		t.Fatalf("Depth: %v", err)
	}
	return d
}

func runRouter(t testing.TB, sub message.Subscriber, topic string, h message.NoPublishHandlerFunc) *message.Router {
	t.Helper()
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, watermill.NewSlogLogger(testLogger()))
	if err != nil {
		t.Fatal(err)
	}
	r.AddConsumerHandler("test", topic, sub, h)
	go func() {
		if err := r.Run(context.Background()); err != nil {
			t.Errorf("router: %v", err)
		}
	}()
	<-r.Running()
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// consumeAll publishes 100 messages and consumes them through a router,
// failing every 10th message on its first attempt. It checks that exactly
// the failed ones are redelivered, not earlier than the backoff says, and
// that the backoff policy sees the delivery count.
func consumeAll(t *testing.T, b *Broker, topic string) {
	const n = 100
	const backoff = 300 * time.Millisecond

	var mu sync.Mutex
	retryNums := map[uint64]int{}
	sub, err := b.Subscriber(t.Context(), topic, SubOpts{
		Concurrency: 8,
		Backoff: func(retryNum uint64) time.Duration {
			mu.Lock()
			retryNums[retryNum]++
			mu.Unlock()
			return backoff
		},
	})
	if err != nil {
		t.Fatalf("Subscriber: %v", err)
	}
	if d := depth(t, b, topic); d != 0 {
		t.Fatalf("depth before publish = %d, want 0", d)
	}

	publishN(t, b, topic, 0, n)
	// Publish returned after the stream stored each message; the consumer's
	// pending count follows a moment later on the server, so it is awaited
	// (bounded) rather than read once.
	d := depth(t, b, topic)
	for deadline := time.Now().Add(5 * time.Second); d != n && time.Now().Before(deadline); d = depth(t, b, topic) {
		time.Sleep(10 * time.Millisecond)
	}
	if d != n {
		t.Fatalf("depth after publish = %d, want %d", d, n)
	}

	failedAt := map[int]time.Time{}
	redeliveredAfter := map[int]time.Duration{}
	okCount := map[int]int{}
	done := make(chan struct{})
	runRouter(t, sub, topic, func(msg *message.Message) error {
		i, err := strconv.Atoi(msg.Metadata.Get("i"))
		if err != nil {
			t.Errorf("bad metadata: %v", msg.Metadata)
			return nil
		}
		if string(msg.Payload) != fmt.Sprintf("payload-%d", i) {
			t.Errorf("payload mismatch for %d: %q", i, msg.Payload)
		}
		mu.Lock()
		defer mu.Unlock()
		deliveries := "1"
		if _, failed := failedAt[i]; failed {
			deliveries = "2"
		}
		if got := msg.Metadata.Get(MetaDeliveries); got != deliveries {
			t.Errorf("message %d: %s = %q, want %q", i, MetaDeliveries, got, deliveries)
		}
		if i%10 == 0 {
			if t0, failed := failedAt[i]; !failed {
				failedAt[i] = time.Now()
				return errors.New("first attempt fails")
			} else if _, seen := redeliveredAfter[i]; !seen {
				redeliveredAfter[i] = time.Since(t0)
			}
		}
		okCount[i]++
		if len(okCount) == n && okCount[i] == 1 {
			close(done)
		}
		return nil
	})

	select {
	case <-done:
	case <-time.After(60 * time.Second):
		mu.Lock()
		t.Fatalf("consumed %d/%d distinct messages", len(okCount), n)
	}
	waitFor(t, 10*time.Second, "depth 0 after consuming", func() bool { return depth(t, b, topic) == 0 })

	mu.Lock()
	defer mu.Unlock()
	if len(redeliveredAfter) != n/10 {
		t.Fatalf("redelivered %d messages, want %d", len(redeliveredAfter), n/10)
	}
	for i, d := range redeliveredAfter {
		if d < backoff {
			t.Errorf("message %d redelivered after %v, before backoff %v", i, d, backoff)
		}
	}
	if retryNums[1] != n/10 || len(retryNums) != 1 {
		t.Errorf("backoff retryNums = %v, want {1:%d}", retryNums, n/10)
	}
	for i, c := range okCount {
		if c != 1 {
			t.Errorf("message %d handled successfully %d times", i, c)
		}
	}
	t.Logf("redelivery delays (backoff %v): %v", backoff, redeliveredAfter)
}

func TestEmbeddedPublishConsumeRedelivery(t *testing.T) {
	stream, prefix := uniq(t)
	b := openEmbedded(t, t.TempDir(), stream, prefix)
	defer b.Close()
	consumeAll(t, b, "orders.outbound")
}

// TestEmbeddedRestartDurability simulates a process restart: acked messages
// must be gone for good, unacked ones (in flight at shutdown, or never
// delivered) must come back on the same DataDir.
func TestEmbeddedRestartDurability(t *testing.T) {
	const n, acked = 50, 20
	dir := t.TempDir()
	stream, prefix := uniq(t)
	topic := "deliveries"
	opts := SubOpts{Concurrency: 64, AckWait: 2 * time.Second, CloseTimeout: 2 * time.Second}

	b := openEmbedded(t, dir, stream, prefix)
	publishN(t, b, topic, 0, n)
	sub, err := b.Subscriber(t.Context(), topic, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := sub.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	// Ack the first `acked` by index and leave the rest unacked. Messages
	// left alone come back every AckWait, so count distinct indexes.
	seen := map[int]bool{}
	for len(seen) < n {
		select {
		case msg := <-ch:
			i, _ := strconv.Atoi(msg.Metadata.Get("i"))
			seen[i] = true
			if i < acked {
				msg.Ack()
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("timed out receiving first deliveries, saw %d/%d", len(seen), n)
		}
	}
	waitFor(t, 10*time.Second, "acks to be stored", func() bool { return depth(t, b, topic) == n-acked })
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	b = openEmbedded(t, dir, stream, prefix)
	defer b.Close()
	if d := depth(t, b, topic); d != n-acked {
		t.Fatalf("depth after restart = %d, want %d", d, n-acked)
	}
	sub, err = b.Subscriber(t.Context(), topic, opts)
	if err != nil {
		t.Fatal(err)
	}
	ch, err = sub.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]int{}
	deadline := time.After(30 * time.Second)
	for len(got) < n-acked {
		select {
		case msg := <-ch:
			i, _ := strconv.Atoi(msg.Metadata.Get("i"))
			got[i]++
			msg.Ack()
		case <-deadline:
			t.Fatalf("after restart got %d/%d unacked messages: %v", len(got), n-acked, got)
		}
	}
	// Give a wrongly kept acked message time (> AckWait) to show up.
	extra := time.After(3 * time.Second)
loop:
	for {
		select {
		case msg := <-ch:
			i, _ := strconv.Atoi(msg.Metadata.Get("i"))
			got[i]++
			msg.Ack()
		case <-extra:
			break loop
		}
	}
	for i := range n {
		if i < acked && got[i] != 0 {
			t.Errorf("acked message %d redelivered after restart", i)
		}
		if i >= acked && got[i] != 1 {
			t.Errorf("unacked message %d delivered %d times after restart, want 1", i, got[i])
		}
	}
	waitFor(t, 10*time.Second, "depth 0", func() bool { return depth(t, b, topic) == 0 })
}

// TestPublishDeduplicates checks that the watermill UUID is used as
// Nats-Msg-Id, so a retried publish of the same message is stored once.
func TestPublishDeduplicates(t *testing.T) {
	stream, prefix := uniq(t)
	b := openEmbedded(t, t.TempDir(), stream, prefix)
	defer b.Close()
	m := message.NewMessage(watermill.NewUUID(), []byte("x"))
	for range 3 {
		if err := b.Publisher().Publish("dedup", m); err != nil {
			t.Fatal(err)
		}
	}
	// No consumer yet: Depth falls back to the stream's subject count.
	if d := depth(t, b, "dedup"); d != 1 {
		t.Fatalf("depth = %d, want 1", d)
	}
}

func TestInvalidTopic(t *testing.T) {
	stream, prefix := uniq(t)
	b := openEmbedded(t, t.TempDir(), stream, prefix)
	defer b.Close()
	for _, topic := range []string{"", "a b", "a.>", "*", "a..b"} {
		if err := b.Publisher().Publish(topic, message.NewMessage(watermill.NewUUID(), nil)); err == nil {
			t.Errorf("Publish(%q) succeeded", topic)
		}
		if _, err := b.Subscriber(t.Context(), topic, SubOpts{}); err == nil {
			t.Errorf("Subscriber(%q) succeeded", topic)
		}
	}
	sub, err := b.Subscriber(t.Context(), "good", SubOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Subscribe(context.Background(), "other"); err == nil {
		t.Error("Subscribe on a different topic succeeded")
	}
}

// validTokens accepts what the pattern it replaced,
// ^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$, accepts, and nothing else.
func TestValidTokensIsThePattern(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
	for _, s := range []string{"", ".", "a", "a.", ".a", "a..b", "a.b", "deliver.subscriber.deliver", "A-b_c.9",
		"a b", "a.>", "*", "a.*", "é", "a\x00", "kopir", "kopir.x-y_z", "a.b.", "-", "_.-"} {
		if got, want := validTokens(s), pattern.MatchString(s); got != want {
			t.Errorf("validTokens(%q) = %v, want %v", s, got, want)
		}
	}
}

// A stream name is one token: what the pattern it was checked with,
// ^[A-Za-z0-9_-]+$, accepts, and nothing else.
func TestStreamNameIsOneToken(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	for _, name := range []string{"KOPIR", "kopir_test-1", "a.b", ".", "a.", "a b", "*", ">", "é", "K\x00"} {
		c := Config{DataDir: t.TempDir(), Stream: name}
		if got, want := c.normalize() == nil, pattern.MatchString(name); got != want {
			t.Errorf("stream %q accepted: %v, want %v", name, got, want)
		}
	}
}

func TestDurableNameDistinct(t *testing.T) {
	if durableName("a.b") == durableName("a_b") {
		t.Fatal("a.b and a_b share a consumer")
	}
	if durableName("plain") != "plain" {
		t.Fatal("dot-free topic should keep its name")
	}
}

func externalURL() string {
	if u := os.Getenv("KOPIR_TEST_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

func openExternal(t *testing.T) *Broker {
	t.Helper()
	url := externalURL()
	testenv.RequireTCP(t, "external NATS", strings.TrimPrefix(url, "nats://"))
	stream, prefix := uniq(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	b, err := Open(ctx, Config{URL: url, Logger: testLogger(), Stream: stream, SubjectPrefix: prefix})
	if err != nil {
		t.Fatalf("Open external: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := b.js.DeleteStream(ctx, stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("delete stream %s: %v", stream, err)
		}
		_ = b.Close()
	})
	return b
}

func TestExternalPublishConsumeRedelivery(t *testing.T) {
	b := openExternal(t)
	consumeAll(t, b, "orders.outbound")
}

// TestHandlerExceedingAckWaitIsRedelivered guards against losing messages
// whose handler outlives AckWait: watermill-nats stops waiting without
// Ack/Nak, and the message must then be redelivered, not auto-acked.
func TestHandlerExceedingAckWaitIsRedelivered(t *testing.T) {
	stream, prefix := uniq(t)
	b := openEmbedded(t, t.TempDir(), stream, prefix)
	const topic = "slow"
	sub, err := b.Subscriber(t.Context(), topic, SubOpts{Concurrency: 2, AckWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, b, topic, 0, 1)
	var mu sync.Mutex
	attempts := 0
	runRouter(t, sub, topic, func(msg *message.Message) error {
		mu.Lock()
		attempts++
		first := attempts == 1
		mu.Unlock()
		if first {
			time.Sleep(1500 * time.Millisecond) // "hung" past AckWait
		}
		return nil
	})
	waitFor(t, 20*time.Second, "redelivery and ack", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return attempts >= 2 && depth(t, b, topic) == 0
	})
}

// TestConcurrencyIsHandlersAtOnce: a subscriber with Concurrency n has n
// messages in its handlers at the same time, more than the default. The
// messages are published once every subscription is made: a backlog
// waiting before then goes to the first one made, up to MaxAckPending.
func TestConcurrencyIsHandlersAtOnce(t *testing.T) {
	stream, prefix := uniq(t)
	b := openEmbedded(t, t.TempDir(), stream, prefix)
	const topic, n = "wide", DefaultConcurrency + 4
	sub, err := b.Subscriber(t.Context(), topic, SubOpts{Concurrency: n})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	inFlight, most := 0, 0
	// Until n are in hand at once, or 5 s after the messages are
	// published, each handler holds its message.
	all := make(chan struct{})
	var release sync.Once
	runRouter(t, sub, topic, func(*message.Message) error {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		if inFlight == n {
			release.Do(func() { close(all) })
		}
		mu.Unlock()
		<-all
		mu.Lock()
		inFlight--
		mu.Unlock()
		return nil
	})
	// Each message goes to one subscription at random: with 20 a
	// subscription, every one of them gets some.
	publishN(t, b, topic, 0, 20*n)
	time.AfterFunc(5*time.Second, func() { release.Do(func() { close(all) }) })
	waitFor(t, 30*time.Second, "every message handled", func() bool { return depth(t, b, topic) == 0 })
	mu.Lock()
	defer mu.Unlock()
	if most != n {
		t.Errorf("%d messages in handlers at once at most, want %d (Concurrency)", most, n)
	}
}

// BenchmarkPublishParallel measures the durable publish path: 32 concurrent
// publishers, embedded server, file storage, 1 KiB payloads, each Publish
// waiting for its JetStream ack.
func BenchmarkPublishParallel(b *testing.B) {
	stream, prefix := uniq(b)
	br := openEmbedded(b, b.TempDir(), stream, prefix)
	pub := br.Publisher()
	payload := make([]byte, 1024)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((32 + procs - 1) / procs)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := pub.Publish("bench", message.NewMessage(watermill.NewUUID(), payload)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// TestOpenFailsFastOnConflictingStream: a stream that exists with another
// retention policy is a configuration error, not something to wait out.
func TestOpenFailsFastOnConflictingStream(t *testing.T) {
	dir := t.TempDir()
	own, ownPrefix := uniq(t)
	b := openEmbedded(t, dir, own, ownPrefix)
	ctx := context.Background()
	// A second stream under another name, rather than deleting and
	// recreating the broker's own: a file store removed and created again at
	// once under the same name fails now and then on a loaded machine.
	stream, prefix := own+"_LIMITS", ownPrefix+"_limits"
	if _, err := b.js.CreateStream(ctx, jetstream.StreamConfig{
		Name: stream, Subjects: []string{prefix + ".>"}, Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage,
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	start := time.Now()
	b2, err := Open(ctx, Config{DataDir: dir, Logger: testLogger(), Stream: stream, SubjectPrefix: prefix})
	if err == nil {
		b2.Close()
		t.Fatal("Open succeeded on a stream with limits retention")
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("Open took %v to fail; should fail fast", time.Since(start))
	}
	t.Logf("Open error: %v", err)
}

func TestGoroutinesReleasedOnClose(t *testing.T) {
	before := runtime.NumGoroutine()
	stream, prefix := uniq(t)
	b := openEmbedded(t, t.TempDir(), stream, prefix)
	sub, err := b.Subscriber(t.Context(), "g", SubOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Subscribe(context.Background(), "g"); err != nil {
		t.Fatal(err)
	}
	publishN(t, b, "g", 0, 5)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before+2 })
}
