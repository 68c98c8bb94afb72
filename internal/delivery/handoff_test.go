package delivery

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/broker"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/routes"
)

// readCounter counts the messages the worker reads back from the store.
type readCounter struct {
	store.Store
	gets atomic.Int32
}

func (c *readCounter) Get(ctx context.Context, id string) (*store.Message, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, id)
}

// brokerCopy is a broker's delivery of message id, the deliveries-th time.
func brokerCopy(id, deliveries string) *message.Message {
	msg := message.NewMessage(id+".0", []byte(id))
	msg.Metadata.Set(metaBase, "0")
	if deliveries != "" {
		msg.Metadata.Set(broker.MetaDeliveries, deliveries)
	}
	msg.SetContext(context.Background())
	return msg
}

// The broker's first delivery of a message this process has just queued
// takes it as the ledger wrote it instead of reading it back; any other
// delivery reads the store, so a redelivered copy of a delivered message
// is still skipped and a redelivery counts the attempts already stored.
func TestFirstDeliveryTakesTheQueuedMessageWithoutReadingTheStore(t *testing.T) {
	sub, st, specs := asyncNotice(t)
	b := newBus(t, st, specs)
	reads := &readCounter{Store: st}
	b.w.Store = reads
	r, _ := b.table.Get("budget.notice")
	queue := func(body string) string {
		t.Helper()
		x := &routes.Exchange{Route: r, Caller: "treasury", Started: time.Now(), Request: adapters.Request{
			Route: r.Name, MessageID: routes.NewMessageID(), CorrelationID: "c", Body: json.RawMessage(body)}}
		if err := r.Call(context.Background(), x); err != nil {
			t.Fatal(err)
		}
		return x.Request.MessageID
	}
	status := func(id string) store.Status {
		t.Helper()
		m, err := st.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return m.Status
	}

	first := queue(`{"n":1}`)
	if err := b.w.handle(brokerCopy(first, "1")); err != nil {
		t.Fatal(err)
	}
	if n := reads.gets.Load(); n != 0 || status(first) != store.Delivered || sub.calls() != 1 {
		t.Fatalf("first delivery: %d reads of the store, status %s, %d calls to the subscriber; want 0, DELIVERED, 1", n, status(first), sub.calls())
	}
	// The same copy again, as after a lost ack: read, found delivered, skipped.
	if err := b.w.handle(brokerCopy(first, "1")); err != nil {
		t.Fatal(err)
	}
	if n := reads.gets.Load(); n != 1 || sub.calls() != 1 {
		t.Errorf("a second copy: %d reads, %d calls to the subscriber; want 1 and still 1", n, sub.calls())
	}

	// A redelivery never takes the ledger's copy, and leaves none behind.
	sub.mu.Lock()
	sub.failFirst, sub.seen = true, 0
	sub.mu.Unlock()
	second := queue(`{"n":2}`)
	if err := b.w.handle(brokerCopy(second, "2")); err == nil {
		t.Fatal("the subscriber refused the first try; want an error for the broker to redeliver")
	}
	if err := b.w.handle(brokerCopy(second, "3")); err != nil {
		t.Fatal(err)
	}
	m, err := st.Get(context.Background(), second)
	if err != nil {
		t.Fatal(err)
	}
	if n := reads.gets.Load(); n != 3 || m.Status != store.Delivered || m.Attempts != 2 {
		t.Errorf("redeliveries: %d reads, status %s after %d attempts; want 3, DELIVERED, 2", n, m.Status, m.Attempts)
	}
	if _, ok := b.w.Ledger.TakeQueued(second); ok {
		t.Error("a message written again since it was queued is still handed over")
	}

	// Without the broker's count (another broker) the store is read.
	third := queue(`{"n":3}`)
	if err := b.w.handle(brokerCopy(third, "")); err != nil {
		t.Fatal(err)
	}
	if n := reads.gets.Load(); n != 4 || status(third) != store.Delivered {
		t.Errorf("a copy without its delivery count: %d reads, status %s; want 4, DELIVERED", n, status(third))
	}
}
