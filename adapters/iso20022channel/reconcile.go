package iso20022channel

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/iso20022"
	"github.com/minfin-kz/kopir/contracts/iso20022/components"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/camt053"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/camt054"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/pacs002"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/pacs004"
)

// Match says which sent payment an inbound item concerns, or why none.
type Match struct {
	Matched          bool   `json:"matched"`
	Route            string `json:"route,omitempty"`
	PaymentMessageID string `json:"paymentMessageId,omitempty"` // Köpir's id of the sent payment
	// Mismatch explains an item that names a payment but disagrees with it
	// (another original message id, another amount); Unmatched why no
	// payment was found.
	Mismatch  string `json:"mismatch,omitempty"`
	Unmatched string `json:"unmatchedReason,omitempty"`
}

// Status is one transaction status of a pacs.002, as delivered.
type Status struct {
	EndToEndID    string `json:"endToEndId,omitempty"`
	OriginalMsgID string `json:"originalMsgId,omitempty"`
	Status        string `json:"status"` // ACSC, ACSP, PDNG, RJCT, ACTC…
	Reason        string `json:"reason,omitempty"`
	ReasonText    string `json:"reasonText,omitempty"`
	Match
}

// Return is one returned transaction of a pacs.004.
type Return struct {
	ReturnID      string          `json:"returnId,omitempty"`
	EndToEndID    string          `json:"endToEndId,omitempty"`
	OriginalMsgID string          `json:"originalMsgId,omitempty"`
	Amount        *iso20022.Money `json:"amount,omitempty"`
	Reason        string          `json:"reason,omitempty"`
	ReasonText    string          `json:"reasonText,omitempty"`
	Match
}

// Entry is one booked transaction of a statement or notification.
type Entry struct {
	EntryRef        string         `json:"entryRef,omitempty"`
	AccountSvcrRef  string         `json:"accountServicerRef,omitempty"`
	CreditDebit     string         `json:"creditDebit"` // CRDT or DBIT
	Amount          iso20022.Money `json:"amount"`
	Status          string         `json:"status,omitempty"` // BOOK, PDNG, INFO
	BookingDate     string         `json:"bookingDate,omitempty"`
	ValueDate       string         `json:"valueDate,omitempty"`
	EndToEndID      string         `json:"endToEndId,omitempty"`
	MsgID           string         `json:"msgId,omitempty"`
	PaymentInfoID   string         `json:"paymentInformationId,omitempty"`
	CounterpartIBAN string         `json:"counterpartyIban,omitempty"`
	Match
}

// Statement is one account's statement (camt.053) or notification
// (camt.054).
type Statement struct {
	ID      string  `json:"id"`
	Account string  `json:"account,omitempty"`
	Entries []Entry `json:"entries"`
}

// Summary counts what a message matched.
type Summary struct {
	Items     int `json:"items"`
	Matched   int `json:"matched"`
	Unmatched int `json:"unmatched"`
	Mismatch  int `json:"mismatched"`
}

// Body is what the internal subscriber of a channel route receives.
type Body struct {
	MessageDefinition string      `json:"messageDefinition"`
	MsgID             string      `json:"msgId"`
	CreatedAt         string      `json:"createdAt,omitempty"`
	From              string      `json:"from,omitempty"`
	Statuses          []Status    `json:"statuses,omitempty"`
	Returns           []Return    `json:"returns,omitempty"`
	Statements        []Statement `json:"statements,omitempty"`
	Summary           Summary     `json:"summary"` // of the whole message, on every page
	Page              *Page       `json:"page,omitempty"`
}

// Page says which part of a message too large for one delivery a body is:
// its entries are those of Statements; Number runs from 1 to Of.
type Page struct {
	Number int `json:"number"`
	Of     int `json:"of"`
}

// pages splits the body so that no page carries more than max statement
// entries; a statement larger than that spans pages, each with its id and
// account. A body within max is one page with no Page.
func (b *Body) pages(max int) []*Body {
	total := 0
	for _, st := range b.Statements {
		total += len(st.Entries)
	}
	if total <= max {
		return []*Body{b}
	}
	var out []*Body
	next := func() *Body {
		p := *b
		p.Statements = nil
		out = append(out, &p)
		return &p
	}
	cur, n := next(), 0
	for _, st := range b.Statements {
		if len(st.Entries) == 0 {
			cur.Statements = append(cur.Statements, st)
		}
		for from := 0; from < len(st.Entries); {
			if n == max {
				cur, n = next(), 0
			}
			to := min(len(st.Entries), from+max-n)
			part := st
			part.Entries = st.Entries[from:to]
			cur.Statements = append(cur.Statements, part)
			n += to - from
			from = to
		}
	}
	for i, p := range out {
		p.Page = &Page{Number: i + 1, Of: len(out)}
	}
	return out
}

type note struct{ messageID, action, detail string }

type report struct {
	*Body
	notes              []note
	matched, unmatched int
}

func newReport(msgID, created string) *report {
	return &report{Body: &Body{MsgID: msgID, CreatedAt: created}}
}

func (r *report) count(m Match) {
	r.Summary.Items++
	if !m.Matched {
		r.Summary.Unmatched++
		r.unmatched++
		return
	}
	r.Summary.Matched++
	r.matched++
	if m.Mismatch != "" {
		r.Summary.Mismatch++
	}
}

// finder is the one Intake call matching needs.
type finder interface {
	Find(ctx context.Context, route, externalID string) (*adapters.Found, error)
}

type matcher struct {
	in     finder
	routes []string
}

// find looks ids up, in order, on every payment route; the first found
// wins. Not found is (nil, "", nil).
func (m *matcher) find(ctx context.Context, ids ...string) (*adapters.Found, string, error) {
	for _, id := range ids {
		if id == "" {
			continue
		}
		f, err := adapters.FindOnAny(ctx, m.in, m.routes, id)
		if err != nil {
			return nil, "", err
		}
		if f != nil {
			return f, id, nil
		}
	}
	return nil, "", nil
}

// matchPayment finds the payment of e2e and checks that the original
// message id, when the report gives one, is the one Köpir sent it in.
func (m *matcher) matchPayment(ctx context.Context, e2e, origMsgID string) (Match, *adapters.Found, error) {
	if e2e == "" {
		return Match{Unmatched: "no original end-to-end id"}, nil, nil
	}
	f, _, err := m.find(ctx, e2e)
	if err != nil || f == nil {
		return Match{Unmatched: "no payment with end-to-end id " + e2e}, nil, err
	}
	mt := Match{Route: f.Route, PaymentMessageID: f.MessageID}
	if origMsgID != "" && origMsgID != iso20022.MsgID(f.MessageID) {
		// Same end-to-end id, another message: a status of something
		// Köpir did not send as this payment. It must not change it.
		mt.Unmatched = fmt.Sprintf("end-to-end id %s was sent in message %s, not %s", e2e, iso20022.MsgID(f.MessageID), origMsgID)
		return mt, nil, nil
	}
	mt.Matched = true
	return mt, f, nil
}

func (m *matcher) statusReport(ctx context.Context, msg *isodoc.Message) (*report, error) {
	var doc pacs002.Document
	if err := msg.Decode(&doc); err != nil {
		return nil, &isodoc.ParseError{Code: isodoc.CodeSchemaInvalid, Reason: err.Error()}
	}
	rpt := doc.FIToFIPmtStsRpt
	rep := newReport(isodoc.S(rpt.GrpHdr.MsgId), isodoc.S(rpt.GrpHdr.CreDtTm))
	grpMsg, grpSts := "", ""
	if len(rpt.OrgnlGrpInfAndSts) > 0 {
		g := rpt.OrgnlGrpInfAndSts[0]
		grpMsg, grpSts = isodoc.S(g.OrgnlMsgId), isodoc.S(g.GrpSts)
	}
	for _, tx := range rpt.TxInfAndSts {
		st := Status{EndToEndID: isodoc.S(tx.OrgnlEndToEndId), Status: isodoc.S(tx.TxSts), OriginalMsgID: grpMsg}
		if tx.OrgnlGrpInf != nil {
			st.OriginalMsgID = isodoc.S(tx.OrgnlGrpInf.OrgnlMsgId)
		}
		if st.Status == "" {
			st.Status = grpSts
		}
		if len(tx.StsRsnInf) > 0 && tx.StsRsnInf[0] != nil {
			ri := tx.StsRsnInf[0]
			if ri.Rsn != nil {
				st.Reason = isodoc.S(ri.Rsn.Cd)
				if st.Reason == "" {
					st.Reason = isodoc.S(ri.Rsn.Prtry)
				}
			}
			var texts []string
			for _, t := range ri.AddtlInf {
				texts = append(texts, isodoc.S(t))
			}
			st.ReasonText = strings.Join(texts, " ")
		}
		mt, f, err := m.matchPayment(ctx, st.EndToEndID, st.OriginalMsgID)
		if err != nil {
			return nil, err
		}
		st.Match = mt
		rep.count(mt)
		if f != nil && st.Status != "" {
			detail := statusDetail(st.Status, st.Reason, st.ReasonText)
			rep.notes = append(rep.notes, note{f.MessageID, ActionStatus, trimDetail(fmt.Sprintf("%s (pacs.002 %s)", detail, rep.MsgID))})
		}
		rep.Statuses = append(rep.Statuses, st)
	}
	if len(rpt.TxInfAndSts) == 0 && grpSts != "" {
		// A group status names only the original message, and payments are
		// found by end-to-end id: reported, not applied.
		st := Status{OriginalMsgID: grpMsg, Status: grpSts, Match: Match{Unmatched: "group status without transaction details"}}
		rep.count(st.Match)
		rep.Statuses = append(rep.Statuses, st)
	}
	return rep, nil
}

func (m *matcher) paymentReturn(ctx context.Context, msg *isodoc.Message) (*report, error) {
	var doc pacs004.Document
	if err := msg.Decode(&doc); err != nil {
		return nil, &isodoc.ParseError{Code: isodoc.CodeSchemaInvalid, Reason: err.Error()}
	}
	pr := doc.PmtRtr
	rep := newReport(isodoc.S(pr.GrpHdr.MsgId), isodoc.S(pr.GrpHdr.CreDtTm))
	grpMsg := ""
	if pr.OrgnlGrpInf != nil {
		grpMsg = isodoc.S(pr.OrgnlGrpInf.OrgnlMsgId)
	}
	for _, tx := range pr.TxInf {
		rt := Return{ReturnID: isodoc.S(tx.RtrId), EndToEndID: isodoc.S(tx.OrgnlEndToEndId), OriginalMsgID: grpMsg}
		if tx.OrgnlGrpInf != nil {
			rt.OriginalMsgID = isodoc.S(tx.OrgnlGrpInf.OrgnlMsgId)
		}
		if a := tx.RtrdIntrBkSttlmAmt; a != nil {
			rt.Amount = &iso20022.Money{Value: iso20022.Decimal(isodoc.S(a.Value)), Currency: isodoc.S(a.Ccy)}
		}
		if len(tx.RtrRsnInf) > 0 && tx.RtrRsnInf[0] != nil {
			ri := tx.RtrRsnInf[0]
			if ri.Rsn != nil {
				rt.Reason = isodoc.S(ri.Rsn.Cd)
				if rt.Reason == "" {
					rt.Reason = isodoc.S(ri.Rsn.Prtry)
				}
			}
			var texts []string
			for _, t := range ri.AddtlInf {
				texts = append(texts, isodoc.S(t))
			}
			rt.ReasonText = strings.Join(texts, " ")
		}
		mt, f, err := m.matchPayment(ctx, rt.EndToEndID, rt.OriginalMsgID)
		if err != nil {
			return nil, err
		}
		rt.Match = mt
		rep.count(mt)
		if f != nil {
			reason := rt.Reason
			if rt.Amount != nil {
				reason = strings.TrimSpace(reason + " " + string(rt.Amount.Value) + " " + rt.Amount.Currency)
			}
			detail := statusDetail("RETURNED", reason, rt.ReasonText)
			rep.notes = append(rep.notes, note{f.MessageID, ActionStatus, trimDetail(fmt.Sprintf("%s (pacs.004 %s return %s)", detail, rep.MsgID, rt.ReturnID))})
		}
		rep.Returns = append(rep.Returns, rt)
	}
	return rep, nil
}

func (m *matcher) statement(ctx context.Context, msg *isodoc.Message) (*report, error) {
	var doc camt053.Document
	if err := msg.Decode(&doc); err != nil {
		return nil, &isodoc.ParseError{Code: isodoc.CodeSchemaInvalid, Reason: err.Error()}
	}
	s := doc.BkToCstmrStmt
	rep := newReport(isodoc.S(s.GrpHdr.MsgId), isodoc.S(s.GrpHdr.CreDtTm))
	for _, st := range s.Stmt {
		if err := m.account(ctx, rep, "camt.053", st.Id, st.Acct, st.Ntry); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

func (m *matcher) notification(ctx context.Context, msg *isodoc.Message) (*report, error) {
	var doc camt054.Document
	if err := msg.Decode(&doc); err != nil {
		return nil, &isodoc.ParseError{Code: isodoc.CodeSchemaInvalid, Reason: err.Error()}
	}
	s := doc.BkToCstmrDbtCdtNtfctn
	rep := newReport(isodoc.S(s.GrpHdr.MsgId), isodoc.S(s.GrpHdr.CreDtTm))
	for _, nt := range s.Ntfctn {
		if err := m.account(ctx, rep, "camt.054", nt.Id, nt.Acct, nt.Ntry); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// account reconciles one account's statement or notification: camt.053
// and camt.054 are built of the same components.
func (m *matcher) account(ctx context.Context, rep *report, kind string, id *components.Max35Text, acct *components.CashAccount39, ntry []*components.ReportEntry10) error {
	out := Statement{ID: isodoc.S(id), Account: accountOf(acct)}
	for _, n := range ntry {
		out.Entries = append(out.Entries, entries(n)...)
	}
	if err := m.reconcile(ctx, rep, kind, &out); err != nil {
		return err
	}
	rep.Statements = append(rep.Statements, out)
	return nil
}

// reconcile matches every entry to a sent payment: by end-to-end id, then
// by payment information id (a pain.001 batch), and compares the booked
// amount and currency with what was sent.
func (m *matcher) reconcile(ctx context.Context, rep *report, kind string, st *Statement) error {
	for i := range st.Entries {
		e := &st.Entries[i]
		if e.EndToEndID == "" && e.PaymentInfoID == "" {
			e.Match = Match{Unmatched: "entry carries no end-to-end or payment information id"}
			rep.count(e.Match)
			continue
		}
		f, _, err := m.find(ctx, e.EndToEndID, e.PaymentInfoID)
		if err != nil {
			return err
		}
		if f == nil {
			e.Match = Match{Unmatched: "no sent payment with end-to-end id " + orNone(e.EndToEndID)}
			rep.count(e.Match)
			continue
		}
		e.Match = Match{Matched: true, Route: f.Route, PaymentMessageID: f.MessageID}
		if sent, ok := sentAmount(f, e.EndToEndID); ok {
			got, err1 := isodoc.ParseAmount(string(e.Amount.Value))
			want, err2 := isodoc.ParseAmount(string(sent.Value))
			if err1 != nil || err2 != nil || got != want || sent.Currency != e.Amount.Currency {
				e.Mismatch = fmt.Sprintf("sent %s %s, booked %s %s", sent.Value, sent.Currency, e.Amount.Value, e.Amount.Currency)
			}
		}
		rep.count(e.Match)
		detail := fmt.Sprintf("%s %s %s %s", e.CreditDebit, e.Amount.Value, e.Amount.Currency, orNone(e.Status))
		if e.BookingDate != "" {
			detail += " on " + e.BookingDate
		}
		if e.Mismatch != "" {
			detail += " AMOUNT MISMATCH: " + e.Mismatch
		}
		ref := e.AccountSvcrRef
		if ref == "" {
			ref = e.EntryRef
		}
		rep.notes = append(rep.notes, note{f.MessageID, ActionBooked,
			trimDetail(fmt.Sprintf("%s (%s %s statement %s entry %s e2e %s)", detail, kind, rep.MsgID, st.ID, orNone(ref), orNone(e.EndToEndID)))})
	}
	return nil
}

// sentAmount reads the amount of e2e from the stored request: the order's
// amount, or the batch transaction's.
func sentAmount(f *adapters.Found, e2e string) (iso20022.Money, bool) {
	var req struct {
		EndToEndID   string          `json:"endToEndId"`
		Amount       *iso20022.Money `json:"amount"`
		Transactions []struct {
			EndToEndID string          `json:"endToEndId"`
			Amount     *iso20022.Money `json:"amount"`
		} `json:"transactions"`
	}
	if json.Unmarshal(f.Request, &req) != nil {
		return iso20022.Money{}, false
	}
	if req.Amount != nil && (e2e == "" || req.EndToEndID == e2e) {
		return *req.Amount, true
	}
	for _, t := range req.Transactions {
		if t.EndToEndID == e2e && t.Amount != nil {
			return *t.Amount, true
		}
	}
	return iso20022.Money{}, false
}

// statusDetail writes a PAYMENT_STATUS detail: the status, the reason code
// when there is one, and the payment system's words after " - ", so the
// first two words can be read back (paymentStatus) whatever the text says.
func statusDetail(status, reason, text string) string {
	d := status
	if reason != "" {
		d += " " + reason
	}
	if text = strings.Join(strings.Fields(text), " "); text != "" {
		d += " - " + text
	}
	return d
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func accountOf(a *components.CashAccount39) string {
	if a == nil || a.Id == nil {
		return ""
	}
	if s := isodoc.S(a.Id.IBAN); s != "" {
		return s
	}
	if a.Id.Othr != nil {
		return isodoc.S(a.Id.Othr.Id)
	}
	return ""
}

// entries flattens one entry into its transactions; an entry without
// transaction details is one item.
func entries(n *components.ReportEntry10) []Entry {
	base := Entry{EntryRef: isodoc.S(n.NtryRef), AccountSvcrRef: isodoc.S(n.AcctSvcrRef), CreditDebit: isodoc.S(n.CdtDbtInd)}
	if n.Amt != nil {
		base.Amount = iso20022.Money{Value: iso20022.Decimal(isodoc.S(n.Amt.Value)), Currency: isodoc.S(n.Amt.Ccy)}
	}
	if n.Sts != nil {
		base.Status = isodoc.S(n.Sts.Cd) + isodoc.S(n.Sts.Prtry)
	}
	if n.BookgDt != nil {
		base.BookingDate = isodoc.S(n.BookgDt.Dt) + isodoc.S(n.BookgDt.DtTm)
	}
	if n.ValDt != nil {
		base.ValueDate = isodoc.S(n.ValDt.Dt) + isodoc.S(n.ValDt.DtTm)
	}
	var out []Entry
	for _, d := range n.NtryDtls {
		for _, tx := range d.TxDtls {
			e := base
			if tx.Amt != nil {
				e.Amount = iso20022.Money{Value: iso20022.Decimal(isodoc.S(tx.Amt.Value)), Currency: isodoc.S(tx.Amt.Ccy)}
			}
			if tx.CdtDbtInd != nil {
				e.CreditDebit = isodoc.S(tx.CdtDbtInd)
			}
			if r := tx.Refs; r != nil {
				e.EndToEndID, e.MsgID, e.PaymentInfoID = isodoc.S(r.EndToEndId), isodoc.S(r.MsgId), isodoc.S(r.PmtInfId)
			}
			if p := tx.RltdPties; p != nil {
				acct := p.CdtrAcct
				if e.CreditDebit == "CRDT" {
					acct = p.DbtrAcct
				}
				if acct != nil && acct.Id != nil {
					e.CounterpartIBAN = isodoc.S(acct.Id.IBAN)
				}
			}
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		out = append(out, base)
	}
	return out
}
