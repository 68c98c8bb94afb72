package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/minfin-kz/kopir/internal/console"
	"github.com/minfin-kz/kopir/internal/delivery"
	"github.com/minfin-kz/kopir/internal/lease"
	"github.com/nats-io/nats.go/jetstream"
)

// replayJobsKept is how long a bulk replay job stays readable after its
// last progress: long enough for an operator to look at last month's.
const replayJobsKept = 31 * 24 * time.Hour

// recoverEvery is how often the holder of delivery.recover looks for
// queued messages no broker holds.
const recoverEvery = 30 * time.Second

// openCluster opens what the nodes of a cluster share besides the store:
// the lease bucket singletons run under and the bucket bulk replay jobs
// are kept in, both in the broker's JetStream.
func (a *App) openCluster(ctx context.Context) error {
	kv, err := a.Broker.KeyValue(ctx, lease.Bucket, lease.DefaultTTL)
	if err != nil {
		return fmt.Errorf("leases: %w", err)
	}
	a.Leases = lease.New(kv, lease.DefaultTTL, a.Metrics.LeaseHeld, a.Log.With("component", "lease"))
	if kv, err = a.Broker.KeyValue(ctx, "REPLAY_JOBS", replayJobsKept); err != nil {
		return fmt.Errorf("replay jobs: %w", err)
	}
	a.Replayer.Jobs = kvRecords{kv, delivery.ErrNoJob}
	return nil
}

// consoleSessions opens the bucket console sessions are kept in, so that
// an operator signed in on one node is signed in on every node; an entry
// outlives its last write by the longest session.
func (a *App) consoleSessions(ctx context.Context, max time.Duration) (console.SessionStore, error) {
	kv, err := a.Broker.KeyValue(ctx, "CONSOLE_SESSIONS", max)
	if err != nil {
		return nil, fmt.Errorf("console sessions: %w", err)
	}
	return kvRecords{kv, console.ErrNoSession}, nil
}

// single runs fn on one node of the cluster at a time, under the lease
// name, until ctx ends; without leases (an app that only checks a config)
// it runs fn here.
func (a *App) single(ctx context.Context, name string, fn func(context.Context) error) {
	var err error
	if a.Leases == nil {
		err = fn(ctx)
	} else {
		err = a.Leases.Run(ctx, name, fn)
	}
	if err != nil && ctx.Err() == nil {
		a.Log.Error("singleton stopped", "lease", name, "err", err)
	}
}

// kvRecords keeps records every node reads in a JetStream key-value
// bucket: bulk replay jobs, console sessions. missing is the error its
// user expects for an absent key.
type kvRecords struct {
	kv      jetstream.KeyValue
	missing error
}

func (k kvRecords) Put(ctx context.Context, id string, record []byte) error {
	_, err := k.kv.Put(ctx, id, record)
	return err
}

func (k kvRecords) Get(ctx context.Context, id string) ([]byte, error) {
	e, err := k.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return nil, k.missing
	}
	if err != nil {
		return nil, err
	}
	return e.Value(), nil
}

func (k kvRecords) Delete(ctx context.Context, id string) error {
	err := k.kv.Delete(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	return err
}

func (k kvRecords) IDs(ctx context.Context) ([]string, error) {
	ids, err := k.kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	return ids, err
}
