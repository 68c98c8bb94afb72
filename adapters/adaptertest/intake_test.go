package adaptertest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
)

func TestIntakeDeduplicatesLikeTheCore(t *testing.T) {
	ctx := context.Background()
	in := adaptertest.NewIntake("ch").Route("async", false).Route("sync", true)
	if ok, sync := in.Known("ch", "sync"); !ok || !sync {
		t.Fatal("sync route unknown")
	}
	if ok, _ := in.Known("other", "async"); ok {
		t.Fatal("a key of another channel is known")
	}
	m := &adapters.Inbound{Channel: "ch", Key: "async", ExternalID: "x-1", Body: []byte(`{}`)}
	first, err := in.Accept(ctx, m)
	if err != nil || first.Duplicate || first.Status != "QUEUED" {
		t.Fatalf("%+v %v", first, err)
	}
	if err := in.Acknowledge(ctx, first.MessageID, []byte("ack-1")); err != nil {
		t.Fatal(err)
	}
	in.Acknowledge(ctx, first.MessageID, []byte("ack-2"))
	again, err := in.Accept(ctx, m)
	if err != nil || !again.Duplicate || again.MessageID != first.MessageID || string(again.Ack) != "ack-1" {
		t.Fatalf("%+v %v", again, err)
	}
	if n := len(in.Accepted()); n != 1 {
		t.Fatalf("accepted %d", n)
	}
	if f, err := in.Find(ctx, "inbound.async", "x-1"); err != nil || f.MessageID != first.MessageID {
		t.Fatalf("%+v %v", f, err)
	}
	var rj *adapters.RejectError
	if _, err := in.Accept(ctx, &adapters.Inbound{Channel: "ch", Key: "nope"}); !errors.As(err, &rj) || rj.Code != "UNKNOWN_KEY" {
		t.Fatal(err)
	}

	in.Reply = func(*adapters.Inbound) (*adapters.Response, error) { return nil, errors.New("down") }
	call := &adapters.Inbound{Channel: "ch", Key: "sync", ExternalID: "s-1"}
	if _, rc, err := in.Call(ctx, call); err == nil || rc.Status != "FAILED" {
		t.Fatalf("%+v %v", rc, err)
	}
	// The sender got a fault, not an answer: its repeat is delivered again.
	if _, rc, err := in.Call(ctx, call); err == nil || rc.Duplicate || len(in.Called()) != 2 {
		t.Fatalf("%+v %v", rc, err)
	}
	in.Reply = nil
	if _, rc, err := in.Call(ctx, call); err != nil || rc.Duplicate || rc.Status != "DELIVERED" || len(in.Called()) != 3 {
		t.Fatalf("%+v %v", rc, err)
	}
	if _, rc, err := in.Call(ctx, call); err != nil || !rc.Duplicate || len(in.Called()) != 3 {
		t.Fatalf("%+v %v", rc, err)
	}

	id := in.Reject(ctx, &adapters.Inbound{Channel: "ch", Key: "async", ExternalID: "bad"}, errors.New("BAD: reason"))
	if r := in.Rejected(); len(r) != 1 || r[0].ID != id || r[0].ExternalID != "bad" || r[0].Reason.Error() != "BAD: reason" {
		t.Fatalf("%+v", r)
	}

	out := in.Sent("payments.transfer", "e2e-1", []byte(`{"amount":1}`))
	if err := in.Annotate(ctx, out, "STATUS", "ACSC"); err != nil {
		t.Fatal(err)
	}
	if got := in.Actions(out, "STATUS"); len(got) != 1 || got[0] != "ACSC" {
		t.Fatalf("%v", got)
	}
	if f, err := in.Find(ctx, "payments.transfer", "e2e-1"); err != nil || f.MessageID != out || string(f.Request) != `{"amount":1}` {
		t.Fatalf("%+v %v", f, err)
	}
	if _, err := in.Find(ctx, "payments.transfer", "e2e-2"); !errors.Is(err, adapters.ErrNotFound) {
		t.Fatal(err)
	}

	in.Fail(errors.New("store is down"))
	if _, err := in.Accept(ctx, &adapters.Inbound{Channel: "ch", Key: "async", ExternalID: "x-2"}); err == nil {
		t.Fatal("accepted while the store is down")
	}
	if _, err := in.Find(ctx, "payments.transfer", "e2e-1"); err == nil {
		t.Fatal("found while the store is down")
	}
}
