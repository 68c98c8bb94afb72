// Package lease runs singletons: work that must run on exactly one node of
// a cluster at a time (an inbound poller, a scheduled job, bulk replays).
//
// A lease is a key in a JetStream key-value bucket whose entries expire
// TTL after their last write. A node takes a lease by creating its key
// (which fails while another node's entry lives), keeps it by updating the
// key at the revision it last wrote, and gives it up by deleting it. A
// node that dies stops renewing, its entry expires, and the next node to
// try creates the key: the work moves within TTL plus one try interval.
//
// The bucket is the broker's, so the lease is as available as the queue
// the bus already depends on, replicated like the stream (natsReplicas),
// and works the same with the embedded server of a single node, where the
// one node holds every lease.
package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultTTL is how long a lease outlives its holder's last renewal. With
// renewals every TTL/5 and tries every TTL/5, a dead holder's work moves
// to another node within TTL + TTL/5 = 6 s.
const DefaultTTL = 5 * time.Second

// Bucket is the name of the key-value bucket leases are kept in (the
// broker prefixes it with the stream's name).
const Bucket = "LEASES"

// Manager takes, keeps and gives up this node's leases.
type Manager struct {
	kv   jetstream.KeyValue
	node string
	ttl  time.Duration
	held *prometheus.GaugeVec
	log  *slog.Logger
}

// New is a manager keeping leases in kv, whose entries must expire after
// ttl (the bucket's TTL). held is kopir_lease_held; nil: not reported.
func New(kv jetstream.KeyValue, ttl time.Duration, held *prometheus.GaugeVec, log *slog.Logger) *Manager {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	host, _ := os.Hostname()
	return &Manager{kv: kv, ttl: ttl, held: held, log: log,
		node: fmt.Sprintf("%s/%d/%08x", host, os.Getpid(), rand.Uint32())}
}

// Node is this process's name in the leases it holds.
func (m *Manager) Node() string { return m.node }

// holder is a lease's value: who holds it, since when.
type holder struct {
	Node  string    `json:"node"`
	Since time.Time `json:"since"`
}

// Run runs fn whenever this node holds lease name, until ctx ends. fn's
// context ends when the lease is lost (another node took it after this
// one failed to renew for a TTL) or ctx ends; Run gives the lease up only
// after fn has returned, so two nodes never run it at once. When fn
// returns on its own the work is done: the lease is given up and Run
// returns fn's error.
func (m *Manager) Run(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	gauge := func(v float64) {
		if m.held != nil {
			m.held.WithLabelValues(name).Set(v)
		}
	}
	gauge(0)
	tries := m.ttl / 5
	for {
		rev, err := m.take(ctx, name)
		if err == nil {
			gauge(1)
			m.log.Info("lease taken", "lease", name, "node", m.node)
			done, ferr := m.hold(ctx, name, rev, fn)
			gauge(0)
			if done {
				return ferr
			}
		} else if !errors.Is(err, jetstream.ErrKeyExists) && ctx.Err() == nil {
			m.log.Warn("lease: cannot reach the lease bucket; trying again", "lease", name, "err", err)
		}
		// Jitter keeps the nodes from trying in step.
		wait := tries/2 + rand.N(tries)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// take creates the lease's key; jetstream.ErrKeyExists: another holds it.
func (m *Manager) take(ctx context.Context, name string) (uint64, error) {
	val, _ := json.Marshal(holder{Node: m.node, Since: time.Now().UTC()})
	rctx, cancel := context.WithTimeout(ctx, m.ttl/2)
	defer cancel()
	return m.kv.Create(rctx, name, val)
}

// hold runs fn while renewing the lease. done is true when fn returned on
// its own (with ferr); false when the lease was lost or ctx ended.
func (m *Manager) hold(ctx context.Context, name string, rev uint64, fn func(context.Context) error) (done bool, ferr error) {
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	returned := make(chan struct{})
	wg.Go(func() {
		defer close(returned)
		ferr = fn(wctx)
	})
	val, _ := json.Marshal(holder{Node: m.node, Since: time.Now().UTC()})
	tick := time.NewTicker(m.ttl / 5)
	defer tick.Stop()
	renewed := time.Now()
	for {
		select {
		case <-returned:
			m.give(ctx, name, rev)
			return ctx.Err() == nil, ferr
		case <-ctx.Done():
			stop()
			wg.Wait()
			m.give(ctx, name, rev)
			return false, nil
		case <-tick.C:
		}
		rctx, cancel := context.WithTimeout(ctx, m.ttl/5)
		next, err := m.kv.Update(rctx, name, val, rev)
		cancel()
		switch {
		case err == nil:
			rev, renewed = next, time.Now()
			continue
		case errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound):
			// Another node's revision, or an expired entry: it is gone.
			m.log.Warn("lease lost: another node holds it now", "lease", name, "node", m.node)
		case time.Since(renewed) < m.ttl-m.ttl/5:
			continue // the bucket is unreachable for now; the entry still lives
		default:
			// Stop before the entry can expire, so that the next holder
			// never overlaps with this one.
			m.log.Warn("lease given up: not renewed within its TTL", "lease", name, "node", m.node, "err", err)
		}
		stop()
		wg.Wait()
		return false, nil
	}
}

// give deletes the lease at the revision this node wrote, so that another
// node takes it at its next try instead of after the TTL.
func (m *Manager) give(ctx context.Context, name string, rev uint64) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := m.kv.Delete(rctx, name, jetstream.LastRevision(rev)); err != nil {
		m.log.Debug("lease: giving up", "lease", name, "err", err)
		return
	}
	m.log.Info("lease given up", "lease", name, "node", m.node)
}
