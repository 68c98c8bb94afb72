package mocks

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// record counts calls per key (SHEP messageId, GBD FL request messageId,
// or a delivery's Idempotency-Key): how often the same message arrived is
// what at-least-once delivery and retry tests look at. It is replaced
// wholesale on reset, so the hot path never takes a global lock.
type record struct {
	keys     sync.Map // string → *entry
	total    atomic.Int64
	rejected atomic.Int64
}

type entry struct {
	count    atomic.Int64 // answered normally
	rejected atomic.Int64 // answered with an injected failure or timeout
	first    int64        // unix nanos, set once
	last     atomic.Int64
}

func newRecord() *record { return new(record) }

// add notes one call; ok says whether it was answered normally.
func (r *record) add(key string, ok bool, now time.Time) {
	ns := now.UnixNano()
	v, found := r.keys.Load(key)
	if !found {
		v, _ = r.keys.LoadOrStore(key, &entry{first: ns})
	}
	e := v.(*entry)
	if ok {
		e.count.Add(1)
		r.total.Add(1)
	} else {
		e.rejected.Add(1)
		r.rejected.Add(1)
	}
	e.last.Store(ns)
}

// Received is the answer of GET /_control/received/{mock}.
type Received struct {
	// Total counts calls answered normally, Unique the keys among them,
	// Rejected the calls answered with an injected failure or timeout.
	Total    int64          `json:"total"`
	Unique   int64          `json:"unique"`
	Rejected int64          `json:"rejected"`
	Items    []ReceivedItem `json:"items"`
}

// ReceivedItem is one key. Count > 1 means the same message came again.
type ReceivedItem struct {
	Key      string    `json:"key"`
	Count    int64     `json:"count"`
	Rejected int64     `json:"rejected,omitempty"`
	FirstAt  time.Time `json:"firstAt"`
	LastAt   time.Time `json:"lastAt"`
}

func (r *record) report(only string) *Received {
	out := &Received{Total: r.total.Load(), Rejected: r.rejected.Load(), Items: []ReceivedItem{}}
	r.keys.Range(func(k, v any) bool {
		e := v.(*entry)
		it := ReceivedItem{
			Key:      k.(string),
			Count:    e.count.Load(),
			Rejected: e.rejected.Load(),
			FirstAt:  time.Unix(0, e.first).UTC(),
			LastAt:   time.Unix(0, e.last.Load()).UTC(),
		}
		if it.Count > 0 {
			out.Unique++
		}
		if only == "" || only == it.Key {
			out.Items = append(out.Items, it)
		}
		return true
	})
	sort.Slice(out.Items, func(i, j int) bool {
		a, b := out.Items[i], out.Items[j]
		if !a.FirstAt.Equal(b.FirstAt) {
			return a.FirstAt.Before(b.FirstAt)
		}
		return a.Key < b.Key
	})
	return out
}
