// Package csd simulates the Central Securities Depository of Kazakhstan as
// the Ministry of Finance sees it for government securities: the national
// numbering agency that assigns an issue its ISIN, the register of
// holders fed by the exchange's placements, delivery-versus-payment
// settlement, and the servicing of an issue (coupon and redemption
// notices, payment confirmations). It speaks official ISO 20022 messages
// in the `<message>` wrapper with a head.001.001.03 AppHdr; everything it
// receives is validated against the official XSDs and everything it
// produces is built from the generated types with isodoc.MarshalV03, so
// it cannot push an invalid document.
//
// Time is the mocks' simulated clock (mocks.Clock): settlement, notices
// and confirmations are produced when the clock passes their time.
//
// It registers itself with the mocks server, which mounts it under /csd;
// New serves it alone. Its paths:
//
//	POST /iso20022                  reda.006 SecurityCreationRequest: 202, empty body (400 with the
//	                                violations as text); reda.008 follows on the callback
//	GET  /holdings?isin=&date=      semt.002 statement of holdings at the close of date (YYYY-MM-DD);
//	                                404 text/plain for an unknown ISIN
//	PUT  /_control/settlement       {"pending": ["BANK01", …]}: those participants' allocations pend
//	                                once (sese.024, reason LACK) before they settle
//	GET  /_control/state            issues, holders, scheduled events, pushes
//	PUT  /_control/callback         {"url": "..."} where messages are pushed
//
// Pushed to the callback (default DefaultCallback), in this order for one
// placement and issue:
//
//   - reda.008 for each reda.006: completed with the new ISIN (the type's
//     prefix, a running number, the ISO 6166 check digit), or rejected
//     with a reason. Its MsgHdr/OrgnlBizInstr/MsgId and its
//     AppHdr/Rltd/BizMsgIdr carry the reda.006's MsgHdr/MsgId.
//   - On the settlement date of a placement handed over by the exchange
//     (Settle): at 10:00 Astana time a sese.025 per allocation, or first a
//     sese.024 pending LACK for a participant named in the settlement
//     control, then its sese.025 at 11:00. The trade id
//     "<announcement MessageId>/<participant code>" is TradDtls/TradId of
//     sese.025 (TxDtls/TradId of sese.024) and, when it fits 35
//     characters, TxIdDtls/AcctOwnrTxId; the participant is the account
//     owner (QtyAndAcctDtls/AcctOwnr/Id/PrtryId/Id) and its safekeeping
//     account; quantities are numbers of securities (Unit).
//   - For each coupon of Schedule: seev.031 event INTR at 10:00 Astana
//     time NoticeDays business days (default 5) before the record date,
//     with the record date (one business day before payment), the payment
//     date, the annual rate and the coupon per security
//     (securities.CouponAmount); the same for the redemption (REDM, the
//     face value per security) at maturity. Five business days is the
//     mock's choice: enough for the ministry to ask for the holders and
//     pay before the record date passes.
//   - seev.036 at 09:00 Astana time on the business day after each payment
//     date: the amount paid to all holders on record (per-security amount
//     × securities held at the record date), with the same event id
//     (INTR-<ISIN>-<coupon number>, REDM-<ISIN>) as the notice.
//
// The holdings request is Köpir's assumption: ISO's own request for a
// statement, semt.021, is not among the schemas shared with the bus. The
// statement lists the issue's register: SfkpgAcct is the register of the
// ISIN, BalForAcct the total in circulation, one SubAcctDtls per holder
// (account owner = participant code).
package csd

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minfin-kz/kopir/contracts/iso20022/components"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/reda006"
	"github.com/minfin-kz/kopir/contracts/securities"
	"github.com/minfin-kz/kopir/internal/safexml"
	"github.com/minfin-kz/kopir/mocks"
)

// Name is the mock's name on the mocks server.
const Name = "csd"

// DefaultCallback is Köpir's depository inbound channel under make run.
const DefaultCallback = "http://127.0.0.1:8081/csd"

// Options configure the mock. The zero value is a working setup.
type Options struct {
	// CallbackURL is where messages are pushed; default DefaultCallback.
	CallbackURL string
	// BIC is the depository's (AppHdr Fr of what it sends); default
	// CEDUKZKA. MinistryBIC is the AppHdr To; default KKMFKZ2A.
	BIC, MinistryBIC string
	// FirstNumber is the running number of the first ISIN assigned (seven
	// digits after the type's prefix); default 901, clear of the numbers
	// of issues already published.
	FirstNumber int
	// ISINDelay is the simulated time between a reda.006 and its reda.008;
	// 0 answers at once.
	ISINDelay time.Duration
	// NoticeDays is how many business days before the record date a
	// seev.031 is sent; default 5.
	NoticeDays int
	// Holidays are the public holidays the calendar skips besides
	// weekends.
	Holidays []time.Time
	// Client pushes; default a 10-second client. Push is how many times a
	// push is tried; default 5.
	Client *http.Client
	Push   int
}

// Clock is the time the mock lives by: the mocks' simulated clock.
type Clock interface {
	Now() time.Time
	Watch(func(now time.Time))
	Kick()
}

// Placement is what the exchange hands over for one placed auction: the
// issue's terms and the allocations to settle.
type Placement struct {
	AnnouncementID   string
	ISIN             string
	Type             securities.Type
	FaceValue        securities.Amount
	Currency         string
	CirculationStart time.Time
	Maturity         time.Time
	// CouponRate and CouponFrequency are zero for a discount note.
	CouponRate      securities.Percent
	CouponFrequency int
	Basis           securities.Basis
	TradeDate       time.Time
	SettlementDate  time.Time
	Allocations     []Allocation
}

// Allocation is one participant's share of a placement.
type Allocation struct {
	Participant string
	Units       int64
	Price       securities.Percent
	Amount      securities.Amount
}

// TradeID names a placement's trade with one participant, as the exchange
// and the depository both quote it.
func TradeID(announcementID, participant string) string {
	return announcementID + "/" + participant
}

type issue struct {
	ISIN      string          `json:"isin"`
	Type      string          `json:"type"`
	RequestID string          `json:"requestId,omitempty"`
	Terms     *Placement      `json:"-"`
	Holdings  []holding       `json:"holdings"`
	typ       securities.Type // parsed Type
}

type holding struct {
	Participant string `json:"participant"`
	Units       int64  `json:"units"`
	// Settles is the settlement date: the holding counts at the close of
	// that day and later.
	Settles time.Time `json:"settles"`
	TradeID string    `json:"tradeId"`
}

type event struct {
	At   time.Time `json:"at"`
	What string    `json:"what"`
	seq  int
	run  func()
}

// Mock is the depository mock.
type Mock struct {
	opts   Options
	clock  Clock
	cal    *securities.Calendar
	mux    *http.ServeMux
	push   *mocks.Pusher
	faults *mocks.Mock // nil when served alone
	epoch  string
	seq    atomic.Uint64

	mu       sync.Mutex
	issues   map[string]*issue // by ISIN
	requests map[string]bool   // reda.006 MsgIds taken
	next     int               // next running number
	pending  map[string]bool   // participants whose settlement pends once
	events   []*event
	evSeq    int
	invalid  int
}

// New returns the mock on clock; see the package comment for its paths.
func New(opts Options, clock Clock) *Mock {
	if opts.CallbackURL == "" {
		opts.CallbackURL = DefaultCallback
	}
	if opts.BIC == "" {
		opts.BIC = "CEDUKZKA"
	}
	if opts.MinistryBIC == "" {
		opts.MinistryBIC = "KKMFKZ2A"
	}
	if opts.FirstNumber <= 0 {
		opts.FirstNumber = 901
	}
	if opts.NoticeDays <= 0 {
		opts.NoticeDays = 5
	}
	m := &Mock{opts: opts, clock: clock, cal: securities.NewCalendar(opts.Holidays), mux: http.NewServeMux(),
		push:  mocks.NewPusher(opts.CallbackURL, "application/xml; charset=utf-8", opts.Client, opts.Push),
		epoch: strconv.FormatInt(time.Now().Unix(), 36), issues: map[string]*issue{}, requests: map[string]bool{},
		next: opts.FirstNumber, pending: map[string]bool{}}
	m.mux.HandleFunc("POST /iso20022", m.submit)
	m.mux.HandleFunc("GET /holdings", m.holdings)
	m.mux.HandleFunc("PUT /_control/settlement", m.putSettlement)
	m.mux.HandleFunc("GET /_control/state", m.getState)
	m.mux.HandleFunc("PUT /_control/callback", m.push.PutCallback)
	clock.Watch(m.tick)
	return m
}

// On the mocks server the mock takes the csd.Options handed to mocks.New,
// lives by the server's clock, keeps its faults and received log under
// "csd", and is shared under Name for the exchange to hand placements to.
func init() {
	mocks.Register(Name, func(s *mocks.Server) {
		m := New(mocks.ConfigOf[Options](s), s.Clock())
		m.faults = s.Mock(Name)
		s.Handle("/csd/", http.StripPrefix("/csd", m))
		s.Share(Name, m)
		s.OnClose(m.Close)
	})
}

func (m *Mock) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.mux.ServeHTTP(w, r) }

// Close abandons pushes still queued.
func (m *Mock) Close() { m.push.Close() }

// Drain waits until every message queued so far has been pushed.
func (m *Mock) Drain() { m.push.Drain() }

// Pushed lists the messages pushed (or given up on) so far.
func (m *Mock) Pushed() []mocks.Push {
	p, _ := m.push.Pushed()
	return p
}

func (m *Mock) nextID(kind string) string {
	return fmt.Sprintf("CSD-%s-%s-%d", kind, m.epoch, m.seq.Add(1))
}

// submit takes a reda.006. The answer is only the transport
// acknowledgement; the ISIN comes with the reda.008.
func (m *Mock) submit(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, mocks.MaxBody))
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	msg, err := isodoc.Parse(raw, []string{isodoc.Reda006}, safexml.Limits{MaxBytes: mocks.MaxBody})
	if err != nil {
		m.mu.Lock()
		m.invalid++
		m.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var doc reda006.Document
	if err := msg.Decode(&doc); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := doc.SctyCreReq
	id := isodoc.S(req.MsgHdr.MsgId)
	if !m.faults.Admit(w, r, id, nil) {
		return
	}
	m.mu.Lock()
	seen := m.requests[id]
	m.requests[id] = true
	m.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	if seen {
		return // a resend: acknowledged again, answered once
	}
	cr := creation{requestID: id, requestCreated: isodoc.S(req.MsgHdr.CreDtTm), tradeCode: otherID(req.Scty)}
	t, err := instrumentType(req.Scty, raw)
	if err != nil {
		cr.rejection = err.Error()
	} else {
		m.mu.Lock()
		cr.isin, err = m.assign(t)
		m.mu.Unlock()
		if err != nil {
			cr.rejection = err.Error()
		}
	}
	if m.opts.ISINDelay <= 0 {
		m.pushCreation(cr)
		return
	}
	m.mu.Lock()
	m.schedule(m.clock.Now().Add(m.opts.ISINDelay), "reda.008 "+id, func() { m.pushCreation(cr) })
	m.mu.Unlock()
	m.clock.Kick()
}

// creation is one reda.006's answer.
type creation struct {
	requestID, requestCreated, tradeCode string
	isin                                 string // assigned, or "" when rejected
	rejection                            string
}

// assign numbers a new issue of type t; called with m.mu held.
func (m *Mock) assign(t securities.Type) (string, error) {
	if m.next > 9_999_999 {
		return "", fmt.Errorf("the running numbers of ISINs are exhausted")
	}
	body := fmt.Sprintf("%s%07d", t.ISINPrefix(), m.next)
	check, err := securities.ISINCheckDigit(body)
	if err != nil {
		return "", err
	}
	m.next++
	isin := body + string(check)
	m.issues[isin] = &issue{ISIN: isin, Type: t.String(), typ: t}
	return isin, nil
}

var typeWord = regexp.MustCompile(`\b(MEKKAM|MEOKAM|MEUKAM|MEUZHKAM|MEIKAM)\b`)

// instrumentType finds which government security a reda.006 registers:
// reda.006 has no element for a national instrument type, so the mock
// reads it where a request writes it, in this order: a trade code among
// the other identifications, a type name anywhere in the document (a
// description, a short name, a classification), or the face value of 100
// tenge that only MEKKAM has.
func instrumentType(s *components.SecurityAttributes10, raw []byte) (securities.Type, error) {
	if s != nil && s.FinInstrmId != nil {
		for _, o := range s.FinInstrmId.OthrId {
			if c, err := securities.ParseTradeCode(isodoc.S(o.Id)); err == nil {
				return c.Type, nil
			}
		}
	}
	if w := typeWord.Find(raw); w != nil {
		return securities.ParseType(string(w))
	}
	if s != nil {
		for _, tp := range s.FinInstrmTp {
			if tp.Debt != nil && tp.Debt.FaceAmt != nil {
				if a, err := securities.ParseAmount(isodoc.S(tp.Debt.FaceAmt.Value)); err == nil && a == securities.MEKKAM.FaceValue() {
					return securities.MEKKAM, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("the request names no government security type (a trade code such as MUM120_0001 in FinInstrmId/OthrId, or MEKKAM/MEOKAM/MEUKAM/MEUZHKAM/MEIKAM)")
}

func otherID(s *components.SecurityAttributes10) string {
	if s == nil || s.FinInstrmId == nil || len(s.FinInstrmId.OthrId) == 0 {
		return ""
	}
	return isodoc.S(s.FinInstrmId.OthrId[0].Id)
}

func (m *Mock) pushCreation(cr creation) {
	id := m.nextID("ADV")
	doc, err := m.statusAdvice(id, cr)
	m.send(isodoc.Reda008, id, doc, err)
}

func (m *Mock) send(docID, id string, doc []byte, err error) {
	if err != nil {
		// A builder bug, not a participant's fault: the push is recorded
		// as failed rather than sent invalid.
		m.push.Fail(docID, id, err)
		return
	}
	m.push.Send(docID, id, doc)
}

// schedule adds an event; called with m.mu held.
func (m *Mock) schedule(at time.Time, what string, run func()) {
	m.evSeq++
	m.events = append(m.events, &event{At: at, What: what, seq: m.evSeq, run: run})
}

// tick runs the events the clock has passed, in time order; events
// scheduled at the same time run in the order they were scheduled.
func (m *Mock) tick(now time.Time) {
	m.mu.Lock()
	var due []*event
	kept := m.events[:0]
	for _, e := range m.events {
		if !e.At.After(now) {
			due = append(due, e)
		} else {
			kept = append(kept, e)
		}
	}
	m.events = kept
	m.mu.Unlock()
	sort.SliceStable(due, func(i, j int) bool {
		if !due[i].At.Equal(due[j].At) {
			return due[i].At.Before(due[j].At)
		}
		return due[i].seq < due[j].seq
	})
	for _, e := range due {
		e.run()
	}
}

// Settle takes a placed auction from the exchange: the holders register
// gains its allocations on the settlement date, and the issue's
// settlement, coupon and redemption messages are scheduled. An ISIN the
// mock did not assign is registered as it comes.
func (m *Mock) Settle(p Placement) error {
	if err := securities.ValidateISINForType(p.ISIN, p.Type); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	is := m.issues[p.ISIN]
	if is == nil {
		is = &issue{ISIN: p.ISIN, Type: p.Type.String(), typ: p.Type}
		m.issues[p.ISIN] = is
	}
	firstPlacement := is.Terms == nil
	terms := p
	is.Terms = &terms
	at := func(day time.Time, hour int) time.Time {
		y, mo, d := day.Date()
		return time.Date(y, mo, d, hour, 0, 0, 0, securities.Astana)
	}
	for _, a := range p.Allocations {
		a := a
		h := holding{Participant: a.Participant, Units: a.Units, Settles: securities.Date(p.SettlementDate.Date()), TradeID: TradeID(p.AnnouncementID, a.Participant)}
		is.Holdings = append(is.Holdings, h)
		settleAt := at(p.SettlementDate, 10)
		if m.pending[a.Participant] {
			delete(m.pending, a.Participant)
			m.schedule(settleAt, "sese.024 "+h.TradeID, func() {
				id := m.nextID("STS")
				doc, err := m.pendingAdvice(id, &terms, a)
				m.send(isodoc.Sese024, id, doc, err)
			})
			settleAt = at(p.SettlementDate, 11)
		}
		m.schedule(settleAt, "sese.025 "+h.TradeID, func() {
			id := m.nextID("CNF")
			doc, err := m.confirmation(id, &terms, a)
			m.send(isodoc.Sese025, id, doc, err)
		})
	}
	if firstPlacement {
		if err := m.scheduleServicing(is, &terms, at); err != nil {
			return err
		}
	}
	m.clock.Kick()
	return nil
}

// payment is one coupon or the redemption of an issue.
type payment struct {
	event          string // INTR or REDM
	id             string // corporate action event id
	record, paid   time.Time
	perUnit        securities.Amount
	rate           securities.Percent
	currency, isin string
	// start and end are the interest period a coupon pays (zero for the
	// redemption); maturity the issue's.
	start, end, maturity time.Time
}

// scheduleServicing schedules the notices and confirmations of every
// coupon after the first settlement and of the redemption; called with
// m.mu held.
func (m *Mock) scheduleServicing(is *issue, p *Placement, at func(time.Time, int) time.Time) error {
	var pays []payment
	if p.CouponFrequency > 0 && p.CouponRate > 0 {
		coupons, err := securities.Schedule(p.CirculationStart, p.Maturity, p.CouponFrequency, m.cal)
		if err != nil {
			return err
		}
		for _, c := range coupons {
			if !c.Payment.After(p.SettlementDate) {
				continue
			}
			frac, err := p.Basis.Fraction(c.Start, c.End, c.Period(p.CouponFrequency))
			if err != nil {
				return err
			}
			amt, err := securities.CouponAmount(p.FaceValue, p.CouponRate, frac)
			if err != nil {
				return err
			}
			pays = append(pays, payment{event: "INTR", id: fmt.Sprintf("INTR-%s-%02d", p.ISIN, c.Number), record: c.Record, paid: c.Payment,
				perUnit: amt, rate: p.CouponRate, currency: p.Currency, isin: p.ISIN, start: c.Start, end: c.End, maturity: p.Maturity})
		}
	}
	redeem := m.cal.Following(p.Maturity)
	pays = append(pays, payment{event: "REDM", id: "REDM-" + p.ISIN, record: m.cal.PreviousBusinessDay(redeem), paid: redeem,
		perUnit: p.FaceValue, rate: p.CouponRate, currency: p.Currency, isin: p.ISIN, maturity: p.Maturity})
	earliest := at(p.SettlementDate, 12)
	for _, pay := range pays {
		pay := pay
		notice := at(m.cal.AddBusinessDays(pay.record, -m.opts.NoticeDays), 10)
		if notice.Before(earliest) {
			notice = earliest
		}
		m.schedule(notice, "seev.031 "+pay.id, func() {
			id := m.nextID("NTF")
			doc, err := m.notification(id, pay)
			m.send(isodoc.Seev031, id, doc, err)
		})
		m.schedule(at(m.cal.NextBusinessDay(pay.paid), 9), "seev.036 "+pay.id, func() {
			m.mu.Lock()
			units := m.heldAt(is, pay.record)
			m.mu.Unlock()
			id := m.nextID("MVT")
			doc, err := m.movement(id, pay, units)
			m.send(isodoc.Seev036, id, doc, err)
		})
	}
	return nil
}

// holders is who holds how many of the issue at the close of day, by
// participant; called with m.mu held. Securities leave the register when
// they are redeemed.
func (m *Mock) holders(is *issue, day time.Time) map[string]int64 {
	out := map[string]int64{}
	d := securities.Date(day.Date())
	if is.Terms != nil && !d.Before(m.cal.Following(is.Terms.Maturity)) {
		return out
	}
	for _, h := range is.Holdings {
		if !h.Settles.After(d) {
			out[h.Participant] += h.Units
		}
	}
	return out
}

func (m *Mock) heldAt(is *issue, day time.Time) int64 {
	var n int64
	for _, u := range m.holders(is, day) {
		n += u
	}
	return n
}

// holdings answers the statement of holders of an ISIN at a date.
func (m *Mock) holdings(w http.ResponseWriter, r *http.Request) {
	isin, date := r.URL.Query().Get("isin"), r.URL.Query().Get("date")
	if !m.faults.Admit(w, r, "holdings:"+isin+"@"+date, nil) {
		return
	}
	day, err := securities.ParseDate(date)
	if err != nil {
		http.Error(w, "date "+err.Error(), http.StatusBadRequest)
		return
	}
	m.mu.Lock()
	is := m.issues[isin]
	var held map[string]int64
	if is != nil {
		held = m.holders(is, day)
	}
	m.mu.Unlock()
	if is == nil {
		http.Error(w, fmt.Sprintf("ISIN %q is not registered with the depository", isin), http.StatusNotFound)
		return
	}
	id := m.nextID("STM")
	doc, err := m.statement(id, isin, day, held)
	if err != nil {
		http.Error(w, "mock: statement not built: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Write(doc)
}

// SettlementControl is the body of PUT /_control/settlement.
type SettlementControl struct {
	// Pending names participants whose next allocation pends once (a
	// sese.024 with reason LACK, lack of funds) before it settles.
	Pending []string `json:"pending"`
}

func (m *Mock) putSettlement(w http.ResponseWriter, r *http.Request) {
	var c SettlementControl
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		mocks.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "settlement: " + err.Error()})
		return
	}
	m.mu.Lock()
	m.pending = map[string]bool{}
	for _, p := range c.Pending {
		m.pending[p] = true
	}
	m.mu.Unlock()
	mocks.WriteJSON(w, http.StatusOK, c)
}

// State is what GET /_control/state shows.
type State struct {
	Now      time.Time    `json:"now"`
	Callback string       `json:"callback"`
	Issues   []*issue     `json:"issues"`
	Pending  []string     `json:"pendingParticipants"`
	Events   []event      `json:"scheduled"`
	Pushed   []mocks.Push `json:"pushed"`
	Queued   int          `json:"queued"`
	Invalid  int          `json:"invalidReceived"`
}

func (m *Mock) getState(w http.ResponseWriter, _ *http.Request) {
	pushed, queued := m.push.Pushed()
	m.mu.Lock()
	st := State{Now: m.clock.Now(), Callback: m.push.URL(), Pushed: pushed, Queued: queued, Invalid: m.invalid, Pending: []string{}, Issues: []*issue{}}
	for _, is := range m.issues {
		cp := *is
		cp.Holdings = slices.Clone(is.Holdings)
		st.Issues = append(st.Issues, &cp)
	}
	for p := range m.pending {
		st.Pending = append(st.Pending, p)
	}
	for _, e := range m.events {
		st.Events = append(st.Events, *e)
	}
	m.mu.Unlock()
	sort.Slice(st.Issues, func(i, j int) bool { return st.Issues[i].ISIN < st.Issues[j].ISIN })
	sort.Strings(st.Pending)
	sort.Slice(st.Events, func(i, j int) bool { return st.Events[i].At.Before(st.Events[j].At) })
	mocks.WriteJSON(w, http.StatusOK, st)
}

var envelope = xml.Name{Local: "message"}
