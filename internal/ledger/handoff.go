package ledger

import (
	"bytes"
	"sync"
	"time"

	"github.com/minfin-kz/kopir/internal/store"
)

// A message the ledger has just recorded as QUEUED is handed to this
// process's delivery worker as it was written, so that the worker does not
// read back from the store what was committed a moment before: that read
// was ~7% of the bus's CPU under async load on SQLite, whose reader
// connections re-read the pages every commit changes.
//
// The copy is right only while nothing but that first delivery can
// have changed the stored message. So it is taken once, by the broker's
// first delivery of the message (the worker's side); any later write of the
// message through this ledger drops it; and it is good for handoffMaxAge,
// longer than deliveries lag acceptance under load but far shorter than a
// message takes to be refused, replayed and queued again on another node of
// a cluster, the one change this process would not see. What is not taken
// (another node delivered the message) expires, oldest first.
const (
	handoffMaxAge = 10 * time.Second
	// handoffMaxEntry and handoffMaxBytes bound what is held: a larger
	// message is read back from the store, as are messages beyond the
	// total while the worker lags.
	handoffMaxEntry = 64 << 10
	handoffMaxBytes = 16 << 20
	// handoffOverhead is what one held message costs besides its bodies.
	handoffOverhead = 256
)

type handoff struct {
	mu    sync.Mutex
	held  map[string]handed
	order []queuedAt // in the order put; expire pops from the front, compact drops the taken
	bytes int
}

type handed struct {
	m    *store.Message
	at   time.Time
	size int
}

type queuedAt struct {
	id string
	at time.Time
}

func (h *handoff) put(m *store.Message, now time.Time) {
	size := len(m.Payload) + len(m.RequestBody) + len(m.ID) + handoffOverhead
	if size > handoffMaxEntry {
		return
	}
	held := *m
	held.Payload, held.RequestBody = own(m.Payload), own(m.RequestBody)
	m = &held
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expire(now)
	if h.bytes+size > handoffMaxBytes {
		return
	}
	if h.held == nil {
		h.held = make(map[string]handed)
	}
	h.remove(m.ID)
	h.held[m.ID] = handed{m: m, at: now, size: size}
	h.order = append(h.order, queuedAt{m.ID, now})
	h.bytes += size
	if len(h.order) > 2*len(h.held)+1024 {
		h.compact()
	}
}

// compact drops the order's entries of messages no longer held (taken,
// dropped, or put again since), which would otherwise stay until they
// expire: at thousands of messages a second, most of them taken within
// milliseconds, that is ten seconds of ids held for nothing. h.mu is held.
func (h *handoff) compact() {
	live := h.order[:0]
	for _, q := range h.order {
		if _, ok := h.current(q); ok {
			live = append(live, q)
		}
	}
	clear(h.order[len(live):])
	h.order = live
}

// expire drops what is older than handoffMaxAge; h.mu is held. An order
// entry whose message was taken, dropped or put again since is skipped.
func (h *handoff) expire(now time.Time) {
	n := 0
	for _, q := range h.order {
		if now.Sub(q.at) < handoffMaxAge {
			break
		}
		if e, ok := h.current(q); ok {
			delete(h.held, q.id)
			h.bytes -= e.size
		}
		n++
	}
	if n > 0 {
		h.order = h.order[n:]
		if len(h.held) == 0 {
			h.order = nil // let the array go once everything is taken
		}
	}
}

// current is the held copy an entry of the expiry order stands for, false
// when its message was taken, dropped or put again since; h.mu is held.
func (h *handoff) current(q queuedAt) (handed, bool) {
	e, ok := h.held[q.id]
	return e, ok && e.at.Equal(q.at)
}

// remove drops id's message; h.mu is held.
func (h *handoff) remove(id string) (handed, bool) {
	e, ok := h.held[id]
	if ok {
		delete(h.held, id)
		h.bytes -= e.size
	}
	return e, ok
}

// own is b, or a copy of it when b keeps a much larger array alive (a body
// cut out of a whole request, a buffer grown while reading): a held message
// must cost what its size says.
func own(b []byte) []byte {
	if cap(b) > 2*len(b)+64 {
		return bytes.Clone(b)
	}
	return b
}

func (h *handoff) take(id string, now time.Time) (*store.Message, bool) {
	h.mu.Lock()
	e, ok := h.remove(id)
	h.mu.Unlock()
	if !ok || now.Sub(e.at) >= handoffMaxAge {
		return nil, false
	}
	return e.m, true
}

func (h *handoff) drop(id string) {
	h.mu.Lock()
	h.remove(id)
	h.mu.Unlock()
}

// TakeQueued is the message id as this ledger recorded it QUEUED, if that
// was less than handoffMaxAge ago, nothing was recorded of it since and it
// was not taken before; otherwise false, and the caller reads the store.
// The message is the caller's to change.
func (l *Ledger) TakeQueued(id string) (*store.Message, bool) {
	return l.queued.take(id, l.now())
}
