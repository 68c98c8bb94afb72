// Package payments simulates Kazakhstan's interbank payment system as an
// ISO 20022 participant sees it: it takes pacs.008 credit transfers,
// pain.001 initiations and camt.056 cancellation requests, answers at once
// with a transport acknowledgement, and later pushes its business answers
// to the participant's inbound address: pacs.002 status reports (accepted,
// pending, or rejected by configurable rules such as an unknown creditor
// account), pacs.004 returns, and camt.054/camt.053 for what it settled.
//
// Everything it receives and sends is checked against the official ISO
// 20022 XSDs (package isodoc): a mock that accepted what the real system
// refuses would hide the bus's bugs.
//
// It registers itself with the mocks server, which mounts it under
// /payments; New serves it alone. Its paths:
//
//	POST /                          submit pacs.008, pain.001 or camt.056 (202; 400 with schema errors)
//	GET  /_control/state            payments held, pushes made and failed
//	DELETE /_control/state          forget everything
//	PUT  /_control/callback         {"url": "..."} where answers are pushed
//	GET|PUT /_control/rules         rejection/pending rules (JSON list of Rule)
//	POST /_control/return           {"endToEndId": "...", "reason": "AC04"} pushes a pacs.004
//	POST /_control/statement        {"type": "camt.053"|"camt.054", "account": IBAN?, "extraEntries": [...]}
//	                                pushes a statement of what was settled; answers its MsgIds
package payments

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/camt056"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/pacs008"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/pain001"
	"github.com/minfin-kz/kopir/internal/safexml"
	"github.com/minfin-kz/kopir/mocks"
)

// DefaultCallback is Köpir's ISO 20022 inbound channel under make run.
const DefaultCallback = "http://127.0.0.1:8081/iso20022"

// Options configure the mock. The zero value is a working setup.
type Options struct {
	// CallbackURL is where answers are pushed; default DefaultCallback.
	CallbackURL string
	// BIC is the payment system's (the BAH Fr of what it pushes); default
	// NBRKKZKX. ParticipantBIC is the BAH To; default KKMFKZ2A.
	BIC, ParticipantBIC string
	// Delay before a status report is pushed; default 20ms. PendingFor is
	// how long a payment a rule holds as PDNG stays so; default 200ms.
	Delay, PendingFor time.Duration
	// Rules decide the status of each transaction; the first that matches
	// wins; a transaction no rule matches settles (ACSC). Default:
	// DefaultRules.
	Rules []Rule
	// Push is how many times a push is tried (default 5), with a doubling
	// wait from 50ms.
	Push   int
	Client *http.Client
	Now    func() time.Time
	Log    *slog.Logger
	// Envelope is the element around AppHdr and Document; default
	// "message", as Köpir sends by default.
	Envelope string
	// DefaultAccount is the account a statement is about when nothing was
	// settled yet; default the demo treasury account KZ77070105KZT0000001.
	DefaultAccount string
}

// Rule decides the status of the transactions it matches. Empty match
// fields match anything.
type Rule struct {
	CreditorBank   string `json:"creditorBank,omitempty"` // KZ bank code: characters 5-7 of the creditor IBAN
	CreditorIBAN   string `json:"creditorIban,omitempty"`
	EndToEndPrefix string `json:"endToEndPrefix,omitempty"`
	KNP            string `json:"knp,omitempty"`
	MinAmount      string `json:"minAmount,omitempty"` // amounts at or above
	// Status is RJCT (default) or PDNG (held, then settled after
	// PendingFor unless cancelled).
	Status string `json:"status,omitempty"`
	Reason string `json:"reason,omitempty"` // ISO status reason code, e.g. AC01
	Text   string `json:"text,omitempty"`
}

// DefaultRules: bank code 998 has no accounts (AC01 unknown creditor
// account), IBANs of bank 997 are closed (AC04), amounts from one
// trillion tenge exceed the limit (AM02), and end-to-end ids starting with
// PDNG are queued before they settle, as the system does when the
// participant's liquidity is short.
var DefaultRules = []Rule{
	{CreditorBank: "998", Status: "RJCT", Reason: "AC01", Text: "unknown creditor account"},
	{CreditorBank: "997", Status: "RJCT", Reason: "AC04", Text: "creditor account closed"},
	{MinAmount: "1000000000000", Status: "RJCT", Reason: "AM02", Text: "amount exceeds the allowed maximum"},
	{EndToEndPrefix: "PDNG", Status: "PDNG", Reason: "", Text: "queued: insufficient liquidity"},
}

// payment is one transaction the mock received.
type payment struct {
	EndToEndID     string `json:"endToEndId"`
	MsgID          string `json:"msgId"`
	MsgDef         string `json:"messageDefinition"`
	TxID           string `json:"txId,omitempty"`
	PaymentInfoID  string `json:"paymentInformationId,omitempty"`
	Amount         string `json:"amount"`
	Currency       string `json:"currency"`
	DebtorIBAN     string `json:"debtorIban"`
	CreditorIBAN   string `json:"creditorIban"`
	KNP            string `json:"knp,omitempty"`
	SettlementDate string `json:"settlementDate"`
	Status         string `json:"status"` // ACSC, PDNG, RJCT, CANC, RTND
	Reason         string `json:"reason,omitempty"`
	at             int    // arrival order, for statements
}

type server struct {
	opts   Options
	env    xml.Name
	mux    *http.ServeMux
	seq    atomic.Uint64
	epoch  string
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	callback string
	rules    []Rule
	payments map[string]*payment // by end-to-end id
	msgs     map[string]bool     // MsgIds received
	arrived  int
	pushed   []Push
	invalid  int
}

// Push is one message the mock pushed (or failed to).
type Push struct {
	Type     string `json:"messageDefinition"`
	MsgID    string `json:"msgId"`
	Attempts int    `json:"attempts"`
	Status   int    `json:"httpStatus"`
	Error    string `json:"error,omitempty"`
}

// Mock is the payment-system mock; Close stops pending pushes.
type Mock struct{ *server }

// New returns the mock's handler; see the package comment for its paths.
func New(opts Options) *Mock {
	if opts.CallbackURL == "" {
		opts.CallbackURL = DefaultCallback
	}
	if opts.BIC == "" {
		opts.BIC = "NBRKKZKX"
	}
	if opts.ParticipantBIC == "" {
		opts.ParticipantBIC = "KKMFKZ2A"
	}
	if opts.Delay <= 0 {
		opts.Delay = 20 * time.Millisecond
	}
	if opts.PendingFor <= 0 {
		opts.PendingFor = 200 * time.Millisecond
	}
	if opts.Rules == nil {
		opts.Rules = DefaultRules
	}
	if opts.Push <= 0 {
		opts.Push = 5
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Envelope == "" {
		opts.Envelope = "message"
	}
	if opts.DefaultAccount == "" {
		opts.DefaultAccount = "KZ77070105KZT0000001"
	}
	s := &server{opts: opts, env: xml.Name{Local: opts.Envelope}, mux: http.NewServeMux(), callback: opts.CallbackURL,
		rules: append([]Rule(nil), opts.Rules...), payments: map[string]*payment{}, msgs: map[string]bool{},
		epoch: opts.Now().UTC().Format("20060102150405")}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mux.HandleFunc("POST /", s.submit)
	s.mux.HandleFunc("GET /_control/state", s.getState)
	s.mux.HandleFunc("DELETE /_control/state", s.resetState)
	s.mux.HandleFunc("PUT /_control/callback", s.putCallback)
	s.mux.HandleFunc("GET /_control/rules", s.getRules)
	s.mux.HandleFunc("PUT /_control/rules", s.putRules)
	s.mux.HandleFunc("POST /_control/return", s.postReturn)
	s.mux.HandleFunc("POST /_control/statement", s.postStatement)
	return &Mock{s}
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "" {
		// Mounted with http.StripPrefix("/payments", …): a POST to
		// /payments itself arrives with an empty path, which ServeMux would
		// answer with a redirect.
		r.URL.Path = "/"
	}
	s.mux.ServeHTTP(w, r)
}

// Name is the mock's name on the mocks server.
const Name = "payments"

// On the mocks server the mock takes the payments.Options handed to
// mocks.New; it keeps its own control API rather than the server's.
func init() {
	mocks.Register(Name, func(s *mocks.Server) {
		m := New(mocks.ConfigOf[Options](s))
		s.Handle("/payments/", http.StripPrefix("/payments", m))
		s.Handle("/payments", http.StripPrefix("/payments", m))
		s.OnClose(m.Close)
	})
}

// Close cancels pushes still waiting and waits for those in flight.
func (m *Mock) Close() {
	m.cancel()
	m.wg.Wait()
}

func (s *server) now() time.Time { return s.opts.Now() }

var accepted = []string{isodoc.Pacs008, isodoc.Pain001, isodoc.Camt056}

// submit takes a message from the participant. The HTTP answer is only the
// transport acknowledgement; the business answer is pushed later.
func (s *server) submit(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	msg, err := isodoc.Parse(raw, accepted, safexml.Limits{MaxBytes: 8 << 20})
	if err != nil {
		s.mu.Lock()
		s.invalid++
		s.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var txs []*payment
	var msgID string
	switch msg.MsgDefIdr {
	case isodoc.Pacs008:
		msgID, txs, err = readPacs008(msg)
	case isodoc.Pain001:
		msgID, txs, err = readPain001(msg)
	case isodoc.Camt056:
		msgID, err = s.cancel056(msg)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	if s.msgs[msgID] {
		// A resend of a message already taken (the participant's retry):
		// acknowledged again, processed once.
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		return
	}
	s.msgs[msgID] = true
	var dups []*payment
	for _, p := range txs {
		if prev, dup := s.payments[p.EndToEndID]; dup && prev.Status != "RJCT" {
			dups = append(dups, p)
			continue
		}
		s.arrived++
		p.at = s.arrived
		s.decide(p)
		s.payments[p.EndToEndID] = p
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	for _, p := range txs {
		if contains(dups, p) {
			s.later(s.opts.Delay, func() { s.pushStatus(p, "RJCT", "AM05", "duplicate end-to-end id") })
			continue
		}
		s.answer(p)
	}
}

func contains(list []*payment, p *payment) bool {
	for _, q := range list {
		if q == p {
			return true
		}
	}
	return false
}

// decide applies the rules; called with s.mu held.
func (s *server) decide(p *payment) {
	p.Status = "ACSC"
	amt, _ := isodoc.ParseAmount(p.Amount)
	for _, r := range s.rules {
		if r.CreditorBank != "" && (len(p.CreditorIBAN) < 7 || p.CreditorIBAN[4:7] != r.CreditorBank) {
			continue
		}
		if r.CreditorIBAN != "" && p.CreditorIBAN != r.CreditorIBAN {
			continue
		}
		if r.EndToEndPrefix != "" && !strings.HasPrefix(p.EndToEndID, r.EndToEndPrefix) {
			continue
		}
		if r.KNP != "" && p.KNP != r.KNP {
			continue
		}
		if r.MinAmount != "" {
			min, err := isodoc.ParseAmount(r.MinAmount)
			if err != nil || amt < min {
				continue
			}
		}
		p.Status, p.Reason = r.Status, r.Reason
		if p.Status == "" {
			p.Status = "RJCT"
		}
		return
	}
}

// answer pushes the status decided for p: at once for ACSC and RJCT; PDNG
// first, then ACSC after PendingFor unless it was cancelled meanwhile.
func (s *server) answer(p *payment) {
	s.mu.Lock()
	status, reason := p.Status, p.Reason
	text := s.ruleText(p)
	s.mu.Unlock()
	s.later(s.opts.Delay, func() {
		s.pushStatus(p, status, reason, text)
		if status != "PDNG" {
			return
		}
		s.later(s.opts.PendingFor, func() {
			s.mu.Lock()
			settle := p.Status == "PDNG"
			if settle {
				p.Status, p.Reason = "ACSC", ""
			}
			s.mu.Unlock()
			if settle {
				s.pushStatus(p, "ACSC", "", "")
			}
		})
	})
}

func (s *server) ruleText(p *payment) string {
	for _, r := range s.rules {
		if r.Reason == p.Reason && r.Status == p.Status {
			return r.Text
		}
	}
	return ""
}

func (s *server) pushStatus(p *payment, status, reason, text string) {
	s.mu.Lock()
	cp := *p
	s.mu.Unlock()
	doc, id, err := s.statusReport(&cp, status, reason, text)
	s.deliver(isodoc.Pacs002, id, doc, err)
}

// later runs f after d on its own goroutine, unless the mock is closed.
func (s *server) later(d time.Duration, f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		f()
	}()
}

// deliver pushes a document to the callback, retrying on errors and 5xx
// with a doubling wait; a 4xx is final (the participant refused it).
func (s *server) deliver(docID, msgID string, doc []byte, buildErr error) {
	rec := Push{Type: docID, MsgID: msgID}
	defer func() {
		s.mu.Lock()
		s.pushed = append(s.pushed, rec)
		s.mu.Unlock()
	}()
	if buildErr != nil {
		rec.Error = "not built: " + buildErr.Error()
		s.opts.Log.Error("payments mock: message not built", "type", docID, "err", buildErr)
		return
	}
	s.mu.Lock()
	url := s.callback
	s.mu.Unlock()
	wait := 50 * time.Millisecond
	for rec.Attempts < s.opts.Push {
		rec.Attempts++
		req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, url, bytes.NewReader(doc))
		if err != nil {
			rec.Error = err.Error()
			return
		}
		req.Header.Set("Content-Type", "application/xml; charset=utf-8")
		resp, err := s.opts.Client.Do(req)
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			rec.Status, rec.Error = resp.StatusCode, ""
			if resp.StatusCode < 500 {
				if resp.StatusCode >= 300 {
					rec.Error = fmt.Sprintf("refused with HTTP %d", resp.StatusCode)
				}
				return
			}
			rec.Error = fmt.Sprintf("HTTP %d", resp.StatusCode)
		} else {
			rec.Error = err.Error()
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func readPacs008(msg *isodoc.Message) (string, []*payment, error) {
	var doc pacs008.Document
	if err := msg.Decode(&doc); err != nil {
		return "", nil, err
	}
	ct := doc.FIToFICstmrCdtTrf
	id := isodoc.S(ct.GrpHdr.MsgId)
	date := isodoc.S(ct.GrpHdr.IntrBkSttlmDt)
	var out []*payment
	for _, tx := range ct.CdtTrfTxInf {
		p := &payment{MsgID: id, MsgDef: isodoc.Pacs008, SettlementDate: date}
		if tx.PmtId != nil {
			p.EndToEndID, p.TxID = isodoc.S(tx.PmtId.EndToEndId), isodoc.S(tx.PmtId.TxId)
		}
		if a := tx.IntrBkSttlmAmt; a != nil {
			p.Amount, p.Currency = isodoc.S(a.Value), isodoc.S(a.Ccy)
		}
		if d := isodoc.S(tx.IntrBkSttlmDt); d != "" {
			p.SettlementDate = d
		}
		if a := tx.DbtrAcct; a != nil && a.Id != nil {
			p.DebtorIBAN = isodoc.S(a.Id.IBAN)
		}
		if a := tx.CdtrAcct; a != nil && a.Id != nil {
			p.CreditorIBAN = isodoc.S(a.Id.IBAN)
		}
		if tx.Purp != nil {
			p.KNP = isodoc.S(tx.Purp.Prtry)
		}
		out = append(out, p)
	}
	return id, out, nil
}

func readPain001(msg *isodoc.Message) (string, []*payment, error) {
	var doc pain001.Document
	if err := msg.Decode(&doc); err != nil {
		return "", nil, err
	}
	ct := doc.CstmrCdtTrfInitn
	id := isodoc.S(ct.GrpHdr.MsgId)
	var out []*payment
	for _, pi := range ct.PmtInf {
		date := ""
		if pi.ReqdExctnDt != nil {
			date = isodoc.S(pi.ReqdExctnDt.Dt)
		}
		debtor := ""
		if pi.DbtrAcct != nil && pi.DbtrAcct.Id != nil {
			debtor = isodoc.S(pi.DbtrAcct.Id.IBAN)
		}
		for _, tx := range pi.CdtTrfTxInf {
			p := &payment{MsgID: id, MsgDef: isodoc.Pain001, PaymentInfoID: isodoc.S(pi.PmtInfId), SettlementDate: date, DebtorIBAN: debtor}
			if tx.PmtId != nil {
				p.EndToEndID = isodoc.S(tx.PmtId.EndToEndId)
			}
			if tx.Amt != nil && tx.Amt.InstdAmt != nil {
				p.Amount, p.Currency = isodoc.S(tx.Amt.InstdAmt.Value), isodoc.S(tx.Amt.InstdAmt.Ccy)
			}
			if a := tx.CdtrAcct; a != nil && a.Id != nil {
				p.CreditorIBAN = isodoc.S(a.Id.IBAN)
			}
			if tx.Purp != nil {
				p.KNP = isodoc.S(tx.Purp.Prtry)
			}
			out = append(out, p)
		}
	}
	return id, out, nil
}

// cancel056 handles a cancellation request: a payment still pending is
// cancelled (pacs.002 RJCT with the cancellation reason), one already
// settled is returned (pacs.004, reason FOCR: following cancellation
// request), an unknown one is ignored.
func (s *server) cancel056(msg *isodoc.Message) (string, error) {
	var doc camt056.Document
	if err := msg.Decode(&doc); err != nil {
		return "", err
	}
	req := doc.FIToFIPmtCxlReq
	id := ""
	if req.Assgnmt != nil {
		id = isodoc.S(req.Assgnmt.Id)
	}
	s.mu.Lock()
	seen := s.msgs[id]
	s.mu.Unlock()
	if seen {
		return id, nil
	}
	for _, u := range req.Undrlyg {
		for _, tx := range u.TxInf {
			e2e := isodoc.S(tx.OrgnlEndToEndId)
			reason := ""
			if len(tx.CxlRsnInf) > 0 && tx.CxlRsnInf[0].Rsn != nil {
				reason = isodoc.S(tx.CxlRsnInf[0].Rsn.Cd)
			}
			s.mu.Lock()
			p := s.payments[e2e]
			if p != nil && tx.OrgnlGrpInf != nil && isodoc.S(tx.OrgnlGrpInf.OrgnlMsgId) != p.MsgID {
				p = nil // another message's payment
			}
			var act func()
			switch {
			case p == nil:
			case p.Status == "PDNG":
				p.Status, p.Reason = "CANC", reason
				act = func() { s.pushStatus(p, "RJCT", reason, "cancelled on the participant's request") }
			case p.Status == "ACSC":
				p.Status, p.Reason = "RTND", "FOCR"
				act = func() { s.pushReturn(p, "FOCR", "returned following cancellation request "+reason) }
			}
			s.mu.Unlock()
			if act != nil {
				s.later(s.opts.Delay, act)
			}
		}
	}
	return id, nil
}

func (s *server) pushReturn(p *payment, reason, text string) {
	s.mu.Lock()
	cp := *p
	s.mu.Unlock()
	doc, id, err := s.paymentReturn(&cp, reason, text)
	s.deliver(isodoc.Pacs004, id, doc, err)
}

// State is what GET /_control/state shows.
type State struct {
	Callback string     `json:"callback"`
	Payments []*payment `json:"payments"`
	Pushed   []Push     `json:"pushed"`
	Invalid  int        `json:"invalidReceived"`
}

func (s *server) snapshot() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{Callback: s.callback, Pushed: append([]Push{}, s.pushed...), Invalid: s.invalid}
	for _, p := range s.payments {
		cp := *p
		st.Payments = append(st.Payments, &cp)
	}
	sort.Slice(st.Payments, func(i, j int) bool { return st.Payments[i].at < st.Payments[j].at })
	return st
}

// Snapshot is the mock's state, for tests.
func (m *Mock) Snapshot() State { return m.snapshot() }

func (s *server) getState(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.snapshot())
}

func (s *server) resetState(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	s.payments, s.msgs, s.pushed, s.invalid, s.arrived = map[string]*payment{}, map[string]bool{}, nil, 0, 0
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) putCallback(w http.ResponseWriter, r *http.Request) {
	var in struct {
		URL string `json:"url"`
	}
	if err := decode(r, &in); err != nil || !(strings.HasPrefix(in.URL, "http://") || strings.HasPrefix(in.URL, "https://")) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be {\"url\": \"http(s)://…\"}"})
		return
	}
	s.mu.Lock()
	s.callback = in.URL
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, in)
}

func (s *server) getRules(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.rules)
}

func (s *server) putRules(w http.ResponseWriter, r *http.Request) {
	var rules []Rule
	if err := decode(r, &rules); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	for i, ru := range rules {
		if ru.Status != "" && ru.Status != "RJCT" && ru.Status != "PDNG" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("rules[%d].status must be RJCT or PDNG", i)})
			return
		}
		if ru.MinAmount != "" {
			if _, err := isodoc.ParseAmount(ru.MinAmount); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("rules[%d].minAmount: %v", i, err)})
				return
			}
		}
		if len(ru.Reason) > 4 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("rules[%d].reason must be an ISO status reason code (up to 4 characters)", i)})
			return
		}
	}
	s.mu.Lock()
	s.rules = rules
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, rules)
}

// postReturn issues a pacs.004 for a settled payment at once.
func (s *server) postReturn(w http.ResponseWriter, r *http.Request) {
	var in struct {
		EndToEndID string `json:"endToEndId"`
		Reason     string `json:"reason"`
		Text       string `json:"text"`
	}
	if err := decode(r, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if in.Reason == "" {
		in.Reason = "AC04"
	}
	s.mu.Lock()
	p := s.payments[in.EndToEndID]
	ok := p != nil && p.Status == "ACSC"
	if ok {
		p.Status, p.Reason = "RTND", in.Reason
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "no settled payment with end-to-end id " + in.EndToEndID})
		return
	}
	s.mu.Lock()
	cp := *p
	s.mu.Unlock()
	doc, id, err := s.paymentReturn(&cp, in.Reason, in.Text)
	s.deliver(isodoc.Pacs004, id, doc, err)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"msgId": id})
}

// ExtraEntry is a statement line that matches nothing Köpir sent (fees,
// incoming transfers, someone else's payment), to test reconciliation.
type ExtraEntry struct {
	CreditDebit string `json:"creditDebit"` // CRDT or DBIT
	Amount      string `json:"amount"`
	EndToEndID  string `json:"endToEndId,omitempty"`
	Info        string `json:"info,omitempty"`
}

// postStatement pushes camt.053 (default) or camt.054 for every debtor
// account with settled or returned payments, synchronously, and answers
// the MsgIds pushed.
func (s *server) postStatement(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Type    string       `json:"type"`
		Account string       `json:"account"`
		Extra   []ExtraEntry `json:"extraEntries"`
	}
	if r.ContentLength != 0 {
		if err := decode(r, &in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
	}
	docID := isodoc.Camt053
	switch in.Type {
	case "", "camt.053", isodoc.Camt053:
	case "camt.054", isodoc.Camt054:
		docID = isodoc.Camt054
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "type must be camt.053 or camt.054"})
		return
	}
	for i, e := range in.Extra {
		if _, err := isodoc.ParseAmount(e.Amount); err != nil || (e.CreditDebit != "CRDT" && e.CreditDebit != "DBIT") {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("extraEntries[%d]: creditDebit CRDT|DBIT and a decimal amount are required", i)})
			return
		}
	}
	ids, err := s.SendStatement(docID, in.Account, in.Extra)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string][]string{"msgIds": ids})
}

// SendStatement builds and pushes one statement per account (only account
// when given) of the settled and returned payments, in arrival order;
// extra entries go on the first (or only) account's statement.
func (s *server) SendStatement(docID, account string, extra []ExtraEntry) ([]string, error) {
	st := s.snapshot()
	type acct struct {
		ccy   string
		books []booking
	}
	accts := map[string]*acct{}
	var order []string
	add := func(iban, ccy string, b booking) {
		a := accts[iban]
		if a == nil {
			a = &acct{ccy: ccy}
			accts[iban] = a
			order = append(order, iban)
		}
		a.books = append(a.books, b)
	}
	date := s.today()
	for _, p := range st.Payments {
		if (account != "" && p.DebtorIBAN != account) || (p.Status != "ACSC" && p.Status != "RTND") {
			continue
		}
		b := booking{Ref: fmt.Sprintf("E%s%04d", s.epoch, p.at), CreditDebit: "DBIT", Amount: p.Amount, Currency: p.Currency, Date: p.SettlementDate,
			EndToEndID: p.EndToEndID, MsgID: p.MsgID, PaymentInfoID: p.PaymentInfoID, Creditor: p.CreditorIBAN}
		add(p.DebtorIBAN, p.Currency, b)
		if p.Status == "RTND" {
			b.Ref, b.CreditDebit, b.Date, b.Debtor, b.Creditor, b.Info = fmt.Sprintf("R%s%04d", s.epoch, p.at), "CRDT", date, p.CreditorIBAN, "", "return "+p.Reason
			add(p.DebtorIBAN, p.Currency, b)
		}
	}
	if len(extra) > 0 {
		if len(order) == 0 {
			iban := account
			if iban == "" {
				iban = s.opts.DefaultAccount
			}
			accts[iban] = &acct{ccy: "KZT"}
			order = append(order, iban)
		}
		a := accts[order[0]]
		for i, e := range extra {
			a.books = append(a.books, booking{Ref: fmt.Sprintf("X%s%04d", s.epoch, i+1), CreditDebit: e.CreditDebit, Amount: e.Amount,
				Currency: a.ccy, Date: date, EndToEndID: e.EndToEndID, Info: e.Info})
		}
	}
	var ids []string
	for _, iban := range order {
		a := accts[iban]
		opening, _ := isodoc.ParseAmount("1000000000")
		doc, id, err := s.statement(docID, iban, a.ccy, opening, a.books)
		s.deliver(docID, id, doc, err)
		if err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
