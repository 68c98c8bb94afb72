package ledger

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/internal/store"
)

func queuedMessage(id string, payload int) *store.Message {
	return &store.Message{ID: id, Status: store.Queued, Payload: bytes.Repeat([]byte("x"), payload)}
}

// A held copy is taken once, and not after handoffMaxAge.
func TestHandoffTakenOnceWhileYoung(t *testing.T) {
	var h handoff
	t0 := time.Now()
	h.put(queuedMessage("a", 10), t0)
	h.put(queuedMessage("b", 10), t0)
	if m, ok := h.take("a", t0.Add(handoffMaxAge-time.Millisecond)); !ok || m.ID != "a" {
		t.Fatalf("take a young message: %v %v", m, ok)
	}
	if _, ok := h.take("a", t0); ok {
		t.Error("taken twice")
	}
	if _, ok := h.take("b", t0.Add(handoffMaxAge)); ok {
		t.Error("taken once older than handoffMaxAge")
	}
	if h.bytes != 0 || len(h.held) != 0 {
		t.Errorf("after both are taken: %d bytes in %d messages held", h.bytes, len(h.held))
	}
}

// What is never taken (another node delivered it) expires oldest first,
// and the held bytes stay under handoffMaxBytes however many are put.
func TestHandoffIsBounded(t *testing.T) {
	var h handoff
	t0 := time.Now()
	size := 1000
	per := size + handoffOverhead + len("m-000000")
	for i := range 3 * handoffMaxBytes / per {
		h.put(queuedMessage(fmt.Sprintf("m-%06d", i), size), t0)
	}
	if h.bytes > handoffMaxBytes || len(h.held) != handoffMaxBytes/per {
		t.Fatalf("%d bytes in %d messages held; want at most %d bytes, %d messages", h.bytes, len(h.held), handoffMaxBytes, handoffMaxBytes/per)
	}
	if _, ok := h.take("m-000000", t0); !ok {
		t.Error("the first message put, within the bound, is not held")
	}
	later := t0.Add(handoffMaxAge)
	h.put(queuedMessage("late", size), later)
	if len(h.held) != 1 || h.bytes != size+handoffOverhead+len("late") || len(h.order) != 1 {
		t.Errorf("after expiry: %d messages, %d bytes, %d in order; want only the late one", len(h.held), h.bytes, len(h.order))
	}
	h.put(queuedMessage("huge", handoffMaxEntry), later)
	if _, ok := h.take("huge", later); ok {
		t.Error("a message over handoffMaxEntry is held")
	}
}

// Any later write of a message drops its held copy: the worker would
// otherwise deliver from a copy the store no longer matches.
func TestHandoffDroppedByALaterWrite(t *testing.T) {
	var h handoff
	t0 := time.Now()
	h.put(queuedMessage("a", 10), t0)
	h.drop("a")
	if _, ok := h.take("a", t0); ok {
		t.Error("taken after it was dropped")
	}
	// Put again after a drop: the order's stale entry must not expire it.
	h.put(queuedMessage("a", 10), t0.Add(handoffMaxAge/2))
	h.expire(t0.Add(handoffMaxAge))
	if _, ok := h.take("a", t0.Add(handoffMaxAge)); !ok {
		t.Error("a message put again was expired by its earlier put")
	}
}

// A body cut out of a larger buffer is copied before it is held: a held
// message must not keep the whole request it came in alive.
func TestHandoffHoldsOnlyWhatItCounts(t *testing.T) {
	var h handoff
	request := make([]byte, 256<<10)
	copy(request, `{"n":1}`)
	m := queuedMessage("a", 0)
	m.Payload, m.RequestBody = request[:7], request[:7]
	h.put(m, time.Now())
	got, ok := h.take("a", time.Now())
	if !ok {
		t.Fatal("not held")
	}
	if cap(got.Payload) > 64 || cap(got.RequestBody) > 64 || string(got.Payload) != `{"n":1}` {
		t.Errorf("held payload %q with capacity %d, request body capacity %d; want the 7 bytes alone", got.Payload, cap(got.Payload), cap(got.RequestBody))
	}
	if cap(m.Payload) != len(request) {
		t.Error("the caller's message was changed")
	}
}

// Messages taken as fast as they are put leave the expiry order no longer
// than the bound compaction keeps, however many pass through.
func TestHandoffOrderKeepsOnlyWhatIsHeld(t *testing.T) {
	var h handoff
	t0 := time.Now()
	h.put(queuedMessage("kept", 10), t0)
	for i := range 100_000 {
		id := fmt.Sprintf("m-%06d", i)
		h.put(queuedMessage(id, 10), t0)
		if _, ok := h.take(id, t0); !ok {
			t.Fatalf("%s not held", id)
		}
	}
	if len(h.order) > 2*len(h.held)+1024 {
		t.Errorf("%d entries in the expiry order for %d messages held", len(h.order), len(h.held))
	}
	if _, ok := h.take("kept", t0); !ok {
		t.Error("compaction lost a message still held")
	}
}
