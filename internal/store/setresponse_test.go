package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// An answer stored after the fact must not undo a status set in between.
func TestSetResponseLeavesStatusAlone(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		ctx := context.Background()
		m := &Message{ID: "m-ack", Route: "r", Direction: Inbound, Caller: "agency", Status: Queued, Payload: []byte(`{}`), CreatedAt: time.Now()}
		record(t, s, Event{Message: m})
		delivered := *m
		delivered.Status = Delivered
		record(t, s, Event{Message: &delivered})
		if err := s.SetResponse(ctx, "m-ack", []byte(`"<ack/>"`)); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "m-ack")
		if err != nil || got.Status != Delivered || string(got.ResponseBody) != `"<ack/>"` {
			t.Fatalf("after SetResponse: %+v %v", got, err)
		}
		if err := s.SetResponse(ctx, "nope", []byte(`1`)); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
	})
}
