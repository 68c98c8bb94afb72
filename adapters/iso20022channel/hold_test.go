package iso20022channel

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
)

// With holdUnmatched, a statement with an entry that matches no sent
// payment is held, one reason per such entry naming it, and the payment
// system is told it was accepted. Without it, the same statement goes on.
func TestUnmatchedEntriesHoldTheStatement(t *testing.T) {
	doc := func(id string) []byte {
		return camt053Doc(t, id,
			line{"E2E-A", "DBIT", "150000.00", "N1"},
			line{"E2E-TYPO", "DBIT", "20.50", "N2"},
			line{"", "DBIT", "150.00", "N3"},
		)
	}
	in := newIntake("camt.053")
	sentOrder(t, in, "E2E-A", "150000.00")
	srv := serve(t, newChannel(t, "holdUnmatched: [camt.053]"), in)
	code, ack := post(t, srv.URL+"/iso20022", doc("STMT-H"))
	if code != 200 || ack.Status != "ACCEPTED" || ack.Unmatched != 2 {
		t.Fatalf("%d %+v", code, ack)
	}
	m := in.Accepted()[0]
	if m.Status != "HELD" || len(m.Hold) != 2 {
		t.Fatalf("status %s, reasons %+v", m.Status, m.Hold)
	}
	if r := m.Hold[0]; r.Field != "statements[0].entries[1].endToEndId" || !strings.Contains(r.Reason, "entry N2 (DBIT 20.50 KZT)") ||
		!strings.Contains(r.Reason, "no sent payment with end-to-end id E2E-TYPO") {
		t.Errorf("first reason %+v", r)
	}
	if r := m.Hold[1]; r.Field != "statements[0].entries[2].endToEndId" || !strings.Contains(r.Reason, "no end-to-end or payment information id") {
		t.Errorf("second reason %+v", r)
	}

	plain := newIntake("camt.053")
	sentOrder(t, plain, "E2E-A", "150000.00")
	srv = serve(t, newChannel(t, "holdUnmatched: [camt.054]"), plain)
	if code, _ := post(t, srv.URL+"/iso20022", doc("STMT-P")); code != 200 || plain.Accepted()[0].Status != "QUEUED" || plain.Accepted()[0].Hold != nil {
		t.Errorf("a camt.053 held although only camt.054 holds: %d %+v", code, plain.Accepted()[0])
	}
	if _, err := NewChannel(adapters.ChannelConfig{Options: yamlOpts("holdUnmatched: [camt.999]")}, adaptertest.Resources(t)); err == nil || !strings.Contains(err.Error(), "options.holdUnmatched[0]") {
		t.Errorf("unknown message type: %v", err)
	}
}

// Recheck re-runs the contract's checks and the matching on an edited
// body, changing nothing: a corrected end-to-end id matches, the summary
// follows, and a field the subscriber could not read is named.
func TestRecheckOfAnEditedStatement(t *testing.T) {
	in := newIntake("camt.053")
	pay := sentOrder(t, in, "E2E-A", "150000.00")
	sentOrder(t, in, "E2E-B", "20.50")
	ch := newChannel(t, "holdUnmatched: [camt.053]")
	srv := serve(t, ch, in)
	post(t, srv.URL+"/iso20022", camt053Doc(t, "STMT-R", line{"E2E-A", "DBIT", "150000.00", "N1"}, line{"E2E-TYPO", "DBIT", "20.50", "N2"}))
	held := in.Accepted()[0].Body
	ctx := context.Background()
	before := len(in.Actions(pay, ActionBooked))

	rc, err := ch.Recheck(ctx, in, "camt.053", held)
	if err != nil || len(rc.Invalid) != 0 || len(rc.Hold) != 1 || rc.Hold[0].Field != "statements[0].entries[1].endToEndId" {
		t.Fatalf("as held: %+v %v", rc, err)
	}
	fixed := strings.Replace(string(held), "E2E-TYPO", "E2E-B", 1)
	rc, err = ch.Recheck(ctx, in, "camt.053", json.RawMessage(fixed))
	if err != nil || len(rc.Invalid) != 0 || len(rc.Hold) != 0 {
		t.Fatalf("fixed: %+v %v", rc, err)
	}
	var b Body
	if err := json.Unmarshal(rc.Body, &b); err != nil {
		t.Fatal(err)
	}
	if e := b.Statements[0].Entries[1]; !e.Matched || e.Unmatched != "" || e.PaymentMessageID == "" {
		t.Errorf("corrected entry: %+v", e)
	}
	if b.Summary.Matched != 2 || b.Summary.Unmatched != 0 || b.Summary.Items != 2 {
		t.Errorf("summary %+v", b.Summary)
	}
	if after := len(in.Actions(pay, ActionBooked)); after != before {
		t.Error("a recheck annotated a payment")
	}

	bad := strings.Replace(fixed, `"DBIT"`, `"DEBIT"`, 1)
	bad = strings.Replace(bad, `"KZT"`, `"kzt"`, 1)
	rc, _ = ch.Recheck(ctx, in, "camt.053", json.RawMessage(bad))
	if len(rc.Invalid) != 2 || rc.Invalid[0].Field != "statements[0].entries[0].creditDebit" || rc.Invalid[1].Field != "statements[0].entries[0].amount.currency" {
		t.Errorf("invalid edit: %+v", rc.Invalid)
	}
	rc, _ = ch.Recheck(ctx, in, "camt.053", json.RawMessage(`{"messageDefinition":"camt.053.001.08","msgId":"X","statements":[],"summary":{},"extra":1}`))
	if len(rc.Invalid) != 1 || !strings.Contains(rc.Invalid[0].Field+rc.Invalid[0].Reason, "extra") {
		t.Errorf("unknown field: %+v", rc.Invalid)
	}
	rc, _ = ch.Recheck(ctx, in, "camt.053", json.RawMessage(`{"messageDefinition":"pacs.002.001.10","msgId":"X","summary":{}}`))
	if len(rc.Invalid) != 1 || rc.Invalid[0].Field != "messageDefinition" {
		t.Errorf("another message type: %+v", rc.Invalid)
	}
}
