package broker

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// cluster starts three clustered JetStream servers in this process, on
// loopback ports, and returns the client URL of all three.
func cluster(t *testing.T) string {
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
	var routes, urls []string
	for i := range 3 {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3+i]))
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	for i := range 3 {
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: ports[i], NoSigs: true,
			JetStream: true, StoreDir: t.TempDir(),
			Cluster: server.ClusterOpts{Name: "kopirtest", Host: "127.0.0.1", Port: ports[3+i]},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
		}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		t.Cleanup(s.Shutdown)
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("server %d not ready", i)
		}
	}
	return strings.Join(urls, ",")
}

// TestReplicasNeverLowered: a node started with natsReplicas 1 against a
// stream (and a bucket) an operator gave three replicas keeps the three.
func TestReplicasNeverLowered(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster")
	}
	url := cluster(t)
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
