package iso20022channel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
)

var _ adapters.Rechecker = (*Channel)(nil)

// holdReasons names every item of a body that matched no sent payment,
// one reason each, with the field an operator would correct.
func holdReasons(b *Body) []adapters.HoldReason {
	var out []adapters.HoldReason
	for i, st := range b.Statuses {
		if !st.Matched {
			out = append(out, adapters.HoldReason{Field: fmt.Sprintf("statuses[%d].endToEndId", i),
				Reason: fmt.Sprintf("status %s of end-to-end id %s: %s", orNone(st.Status), orNone(st.EndToEndID), st.Unmatched)})
		}
	}
	for i, rt := range b.Returns {
		if !rt.Matched {
			out = append(out, adapters.HoldReason{Field: fmt.Sprintf("returns[%d].endToEndId", i),
				Reason: fmt.Sprintf("return %s of end-to-end id %s: %s", orNone(rt.ReturnID), orNone(rt.EndToEndID), rt.Unmatched)})
		}
	}
	for i, st := range b.Statements {
		for j, e := range st.Entries {
			if e.Matched {
				continue
			}
			ref := e.AccountSvcrRef
			if ref == "" {
				ref = e.EntryRef
			}
			out = append(out, adapters.HoldReason{Field: fmt.Sprintf("statements[%d].entries[%d].endToEndId", i, j),
				Reason: fmt.Sprintf("entry %s (%s %s %s) of statement %s: %s", orNone(ref), orNone(e.CreditDebit), e.Amount.Value,
					e.Amount.Currency, orNone(st.ID), e.Unmatched)})
		}
	}
	return out
}

// holds reports whether messages of key are held when an item is
// unmatched.
func (c *Channel) holds(key string) bool { return slices.Contains(c.opts.HoldUnmatched, key) }

var (
	currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)
	// max35 is ISO 20022's Max35Text, which the ids are.
	max35 = 35
)

// Recheck checks an edited body of a message keyed key: the fields the
// subscriber relies on (the contract's types and lengths), then every
// item matched again against the payments sent, as when it came in. The
// body returned carries the new match results and the summary adjusted
// by them.
func (c *Channel) Recheck(ctx context.Context, in adapters.Intake, key string, body json.RawMessage) (*adapters.Recheck, error) {
	var b Body
	if err := adapters.DecodeStrict(body, &b); err != nil {
		field := "payload"
		var ae *adapters.Error
		if errors.As(err, &ae) && ae.Field != "" {
			field = ae.Field
		}
		return &adapters.Recheck{Invalid: []adapters.HoldReason{{Field: field, Reason: err.Error()}}}, nil
	}
	if inv := validBody(&b, key); len(inv) > 0 {
		return &adapters.Recheck{Invalid: inv}, nil
	}
	before := count(&b)
	m := &matcher{in: in, routes: c.opts.PaymentRoutes}
	for i := range b.Statuses {
		st := &b.Statuses[i]
		mt, _, err := m.matchPayment(ctx, st.EndToEndID, st.OriginalMsgID)
		if err != nil {
			return nil, err
		}
		if st.EndToEndID == "" && st.Unmatched != "" {
			mt.Unmatched = st.Unmatched // a group status: nothing to match by
		}
		st.Match = mt
	}
	for i := range b.Returns {
		rt := &b.Returns[i]
		mt, _, err := m.matchPayment(ctx, rt.EndToEndID, rt.OriginalMsgID)
		if err != nil {
			return nil, err
		}
		rt.Match = mt
	}
	rep := &report{Body: &Body{}}
	for i := range b.Statements {
		if err := m.reconcile(ctx, rep, b.MessageDefinition, &b.Statements[i]); err != nil {
			return nil, err
		}
	}
	after := count(&b)
	b.Summary.Matched += after.Matched - before.Matched
	b.Summary.Unmatched += after.Unmatched - before.Unmatched
	b.Summary.Mismatch += after.Mismatch - before.Mismatch
	out, err := json.Marshal(&b)
	if err != nil {
		return nil, err
	}
	return &adapters.Recheck{Body: out, Hold: holdReasons(&b)}, nil
}

// count is the match summary of the items of one body.
func count(b *Body) Summary {
	var s Summary
	add := func(m Match) {
		s.Items++
		switch {
		case !m.Matched:
			s.Unmatched++
		case m.Mismatch != "":
			s.Matched++
			s.Mismatch++
		default:
			s.Matched++
		}
	}
	for _, st := range b.Statuses {
		add(st.Match)
	}
	for _, rt := range b.Returns {
		add(rt.Match)
	}
	for _, st := range b.Statements {
		for _, e := range st.Entries {
			add(e.Match)
		}
	}
	return s
}

// validBody checks what the subscriber relies on in a body an operator
// edited: the message it is, the ids' lengths, the entries' direction,
// amounts and currencies.
func validBody(b *Body, key string) []adapters.HoldReason {
	var out []adapters.HoldReason
	bad := func(field, format string, a ...any) {
		out = append(out, adapters.HoldReason{Field: field, Reason: fmt.Sprintf(format, a...)})
	}
	if isodoc.Key(b.MessageDefinition) != key {
		bad("messageDefinition", "is %q; a message of this route is a %s", b.MessageDefinition, key)
	}
	if b.MsgID == "" || len(b.MsgID) > max35 {
		bad("msgId", "must be 1 to %d characters", max35)
	}
	id := func(field, v string) {
		if len(v) > max35 {
			bad(field, "is %d characters; ISO 20022 allows %d", len(v), max35)
		}
	}
	for i, st := range b.Statuses {
		id(fmt.Sprintf("statuses[%d].endToEndId", i), st.EndToEndID)
		if st.Status == "" {
			bad(fmt.Sprintf("statuses[%d].status", i), "is required")
		}
	}
	for i, rt := range b.Returns {
		id(fmt.Sprintf("returns[%d].endToEndId", i), rt.EndToEndID)
	}
	for i, st := range b.Statements {
		for j, e := range st.Entries {
			at := fmt.Sprintf("statements[%d].entries[%d]", i, j)
			id(at+".endToEndId", e.EndToEndID)
			id(at+".paymentInformationId", e.PaymentInfoID)
			if e.CreditDebit != "CRDT" && e.CreditDebit != "DBIT" {
				bad(at+".creditDebit", "is %q; CRDT or DBIT", e.CreditDebit)
			}
			if _, err := isodoc.ParseAmount(string(e.Amount.Value)); err != nil {
				bad(at+".amount.value", "%v", err)
			}
			if !currencyCode.MatchString(e.Amount.Currency) {
				bad(at+".amount.currency", "is %q; an ISO 4217 code of three capital letters", e.Amount.Currency)
			}
		}
	}
	return out
}
