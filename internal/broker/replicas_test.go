package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// testCluster is three clustered JetStream servers in this process, on
// loopback ports, each of which a test can stop and start again.
type testCluster struct {
	t    *testing.T
	urls []string
	opts []*server.Options
	srv  []*server.Server
}

// cluster starts a testCluster, stopped when t ends.
func cluster(t *testing.T) *testCluster {
	t.Helper()
	ports := make([]int, 6)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	c := &testCluster{t: t, srv: make([]*server.Server, 3)}
	var routes []string
	for i := range 3 {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3+i]))
		c.urls = append(c.urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	for i := range 3 {
		c.opts = append(c.opts, &server.Options{
			ServerName: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: ports[i], NoSigs: true,
			JetStream: true, StoreDir: t.TempDir(),
			Cluster: server.ClusterOpts{Name: "kopirtest", Host: "127.0.0.1", Port: ports[3+i]},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
		})
		c.start(i)
	}
	t.Cleanup(func() {
		for _, s := range c.srv {
			if s != nil {
				s.Shutdown()
			}
		}
	})
	return c
}

// url is the client URL of all three servers.
func (c *testCluster) url() string { return strings.Join(c.urls, ",") }

func (c *testCluster) start(i int) {
	c.t.Helper()
	s, err := server.NewServer(c.opts[i])
	if err != nil {
		c.t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		c.t.Fatalf("server %d not ready", i)
	}
	c.srv[i] = s
}

func (c *testCluster) stop(i int) {
	c.srv[i].Shutdown()
	c.srv[i].WaitForShutdown()
	c.srv[i] = nil
}

// openReplicated opens a broker on c's first server with a stream of
// three replicas, whose JetStream calls give up after 500 ms a try, and
// returns it with the stream's name. It is closed when t ends.
func openReplicated(t *testing.T, c *testCluster) (*Broker, string) {
	t.Helper()
	stream, prefix := uniq(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	b, err := Open(ctx, Config{URL: c.urls[0], Logger: testLogger(), Stream: stream, SubjectPrefix: prefix, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	b.attemptTimeout = 500 * time.Millisecond
	return b, stream
}

// publishOnceAvailable publishes payload on topic, trying again for up to
// 30 s: after a quorum comes back, the stream's own leader may be elected
// after the consumer's.
func publishOnceAvailable(t *testing.T, b *Broker, topic, payload string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for err := errors.New("not sent"); err != nil; {
		if time.Now().After(deadline) {
			t.Fatalf("Publish once the quorum came back: %v", err)
		}
		err = b.Publisher().Publish(topic, message.NewMessage(watermill.NewUUID(), []byte(payload)))
	}
}

// restoreQuorum starts the two servers a test stopped again and returns
// what done then yields, failing t if the call it names (what) has not
// returned within 60 s.
func restoreQuorum[R any](t *testing.T, c *testCluster, done <-chan R, what string) R {
	t.Helper()
	c.start(1)
	c.start(2)
	select {
	case r := <-done:
		return r
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not return within 60s of the quorum coming back", what)
		panic("unreachable")
	}
}

// TestReplicasNeverLowered: a node started with natsReplicas 1 against a
// stream (and a bucket) an operator gave three replicas keeps the three.
func TestReplicasNeverLowered(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster")
	}
	url := cluster(t).url()
	stream, prefix := uniq(t)
	open := func(replicas int) *Broker {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		b, err := Open(ctx, Config{URL: url, Logger: testLogger(), Stream: stream, SubjectPrefix: prefix, Replicas: replicas})
		if err != nil {
			t.Fatalf("Open with %d replicas: %v", replicas, err)
		}
		if _, err := b.KeyValue(ctx, "LEASES", time.Second); err != nil {
			t.Fatalf("bucket with %d replicas: %v", replicas, err)
		}
		return b
	}
	replicas := func(b *Broker, name string) int {
		s, err := b.js.Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().Config.Replicas
	}
	b3 := open(3)
	if got := replicas(b3, stream); got != 3 {
		t.Fatalf("stream created with %d replicas, want 3", got)
	}
	b3.Close()
	b1 := open(1)
	defer b1.Close()
	if got := replicas(b1, stream); got != 3 {
		t.Errorf("a start with natsReplicas 1 left the stream %d replicas, want 3", got)
	}
	if got := replicas(b1, "KV_"+stream+"_LEASES"); got != 3 {
		t.Errorf("a start with natsReplicas 1 left the lease bucket %d replicas, want 3", got)
	}
}

// TestReplicasMoreThanServers: more replicas than servers is refused at
// once, naming the setting, rather than waited for.
func TestReplicasMoreThanServers(t *testing.T) {
	stream, prefix := uniq(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err := Open(ctx, Config{DataDir: t.TempDir(), Logger: testLogger(), Stream: stream, SubjectPrefix: prefix, Replicas: 3})
	if err == nil || !strings.Contains(err.Error(), "natsReplicas") || !strings.Contains(err.Error(), "3 replicas") {
		t.Fatalf("three replicas on one server: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("the refusal took %s: it was waited on as if the server were starting", time.Since(start))
	}
}

// TestKeyValueReadsItsOwnDeletes: a key deleted through one server of a
// cluster is gone for a reader on another server at once. Buckets read
// from the stream's leader: with direct reads (the buckets' default) a
// replica that had not yet applied the delete answered with the old value,
// and a console session signed out on one node went on being served by
// another (TestChaos in cmd/kopir saw it). Servers in one process rarely
// leave a window wide enough to hit, so the setting is checked too.
func TestKeyValueReadsItsOwnDeletes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster")
	}
	urls := cluster(t).urls
	stream, prefix := uniq(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	open := func(url string, ttl time.Duration) (*Broker, jetstream.KeyValue) {
		b, err := Open(ctx, Config{URL: url, Logger: testLogger(), Stream: stream, SubjectPrefix: prefix, Replicas: 3})
		if err != nil {
			t.Fatalf("Open on %s: %v", url, err)
		}
		t.Cleanup(func() { b.Close() })
		kv, err := b.KeyValue(ctx, "SESSIONS", ttl)
		if err != nil {
			t.Fatalf("bucket on %s: %v", url, err)
		}
		return b, kv
	}
	direct := func(b *Broker) (bool, time.Duration) {
		s, err := b.js.Stream(ctx, "KV_"+stream+"_SESSIONS")
		if err != nil {
			t.Fatal(err)
		}
		c := s.CachedInfo().Config
		return c.AllowDirect, c.MaxAge
	}
	writer, w := open(urls[0], time.Hour)
	_, r := open(urls[2], time.Hour)
	if d, _ := direct(writer); d {
		t.Fatal("the bucket's stream allows direct reads: a replica may answer with a value already deleted")
	}
	for i := range 300 {
		key := fmt.Sprintf("k%d", i)
		if _, err := w.Put(ctx, key, []byte("session")); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Get(ctx, key); err != nil {
			t.Fatalf("put %s through %s, read through %s: %v", key, urls[0], urls[2], err)
		}
		if err := w.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if e, err := r.Get(ctx, key); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatalf("deleted %s through %s; read through %s at once it is still there (%v, %v)", key, urls[0], urls[2], e, err)
		}
	}
	// Opened again with another TTL, the bucket takes it and still reads
	// from its leader.
	again, _ := open(urls[1], 2*time.Hour)
	if d, ttl := direct(again); d || ttl != 2*time.Hour {
		t.Fatalf("reopened with a TTL of 2h: direct reads %v, TTL %s", d, ttl)
	}
}

// TestSubscriberWaitsForQuorum: a node that starts while its JetStream
// cluster has lost quorum (two of three servers down, as while a cluster
// elects leaders after losing a server) waits for it, not failing at its
// first unanswered request, and gives up only when its context ends.
// TestChaos in cmd/kopir saw a node exit when one NATS server was killed.
func TestSubscriberWaitsForQuorum(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster")
	}
	c := cluster(t)
	b, _ := openReplicated(t, c)
	c.stop(1)
	c.stop(2)

	never, giveUp := context.WithCancel(t.Context())
	gaveUp := make(chan error, 1)
	go func() { _, err := b.Subscriber(never, "never", SubOpts{}); gaveUp <- err }()
	type result struct {
		sub message.Subscriber
		err error
	}
	done := make(chan result, 1)
	go func() { s, err := b.Subscriber(t.Context(), "waits", SubOpts{}); done <- result{s, err} }()

	// Several attempts' worth: one failed attempt is not the end.
	select {
	case r := <-done:
		t.Fatalf("Subscriber returned while the cluster had no quorum: %v", r.err)
	case err := <-gaveUp:
		t.Fatalf("Subscriber returned before its context ended: %v", err)
	case <-time.After(3 * time.Second):
	}
	giveUp()
	select {
	case err := <-gaveUp:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), `topic "never"`) {
			t.Errorf("Subscriber after its context ended: %v, want context.Canceled naming the topic", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Subscriber did not return within 5s of its context ending")
	}

	r := restoreQuorum(t, c, done, "Subscriber")
	if r.err != nil {
		t.Fatalf("Subscriber once the quorum came back: %v", r.err)
	}
	msgs, err := r.sub.Subscribe(t.Context(), "waits")
	if err != nil {
		t.Fatal(err)
	}
	publishOnceAvailable(t, b, "waits", "after")
	select {
	case m := <-msgs:
		m.Ack()
	case <-time.After(30 * time.Second):
		t.Fatal("no message delivered to the subscriber that waited")
	}
}

// TestSubscribeWaitsForQuorum: binding a topic's subscriptions to its
// consumer (what the delivery router does when it starts) while the
// cluster has no quorum waits for the quorum instead of failing, and the
// subscriptions then deliver.
func TestSubscribeWaitsForQuorum(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster")
	}
	c := cluster(t)
	b, stream := openReplicated(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	sub, err := b.Subscriber(ctx, "binds", SubOpts{Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	c.stop(1)
	c.stop(2)
	// The consumer's leader answers for a while after losing its peers.
	for lost := time.Now().Add(30 * time.Second); ; {
		ask, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		_, err := b.js.PushConsumer(ask, stream, durableName("binds"))
		cancel()
		if err != nil {
			break
		}
		if time.Now().After(lost) {
			t.Fatal("the consumer still answered 30s after two of three servers stopped")
		}
		time.Sleep(200 * time.Millisecond)
	}

	type result struct {
		msgs <-chan *message.Message
		err  error
	}
	done := make(chan result, 1)
	go func() { m, err := sub.Subscribe(t.Context(), "binds"); done <- result{m, err} }()
	// Several attempts' worth: one failed attempt is not the end.
	select {
	case r := <-done:
		t.Fatalf("Subscribe returned while the cluster had no quorum: %v", r.err)
	case <-time.After(3 * time.Second):
	}

	r := restoreQuorum(t, c, done, "Subscribe")
	if r.err != nil {
		t.Fatalf("Subscribe once the quorum came back: %v", r.err)
	}
	publishOnceAvailable(t, b, "binds", "after")
	select {
	case m := <-r.msgs:
		if string(m.Payload) != "after" {
			t.Errorf("delivered %q, want %q", m.Payload, "after")
		}
		m.Ack()
	case <-time.After(30 * time.Second):
		t.Fatal("no message delivered to the subscriptions that waited")
	}
}
