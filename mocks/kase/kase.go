// Package kase simulates the Kazakhstan Stock Exchange placing government
// securities for the Ministry of Finance, in Köpir's own placement
// contract (contracts/kase, urn:kopir:kase:placement:1.0): it takes an
// announcement, collects orders from simulated participants during the
// order window, reports the demand when the window closes, takes the
// issuer's cut-off decision and publishes the auction's result, allocated
// by the rules of contracts/securities. Everything it receives is
// validated against the schema and everything it sends is written by
// kase.Marshal, which validates it too.
//
// Time is the mocks' simulated clock (mocks.Clock): the order window
// closes at 12:00 Astana time (16:15 for an additional session) when that
// clock passes it. An announcement whose AdditionalSession/Held is true is
// placed in the additional session (orders 15:30–16:15, cut-off by 17:00);
// otherwise in the main one (09:00–12:00, cut-off by 15:00).
//
// The participants and their orders are generated, deterministically from
// the session control's seed, when an announcement is accepted: one order
// per participant (so an allocation is a participant's, and the trade id
// "<announcement MessageId>/<participant code>" names it), codes such as
// BANK01, PF01 (pension fund), BD01 (broker-dealer), IC01 (insurer), NR01
// (non-resident); limit orders priced around par (97.00–101.00 % for a
// price auction, −1.00/+1.50 points around the coupon rate, or 12 %, for
// a rate auction), the others market orders.
//
// It registers itself with the mocks server, which mounts it under /kase;
// New serves it alone. Its paths:
//
//	POST /placements          PlacementAnnouncement → 200 PlacementAck (ACCEPTED, or REFUSED with
//	                          INVALID_TYPE, INVALID_ISIN, INVALID_DATE, INVALID_TRADE_CODE,
//	                          WRONG_FACE_VALUE, INVALID_DAY_BASIS, INVALID_COUPON, INVALID_SCHEDULE,
//	                          INVALID_VOLUME, NOT_A_TRADING_DAY, INVALID_WINDOW, WINDOW_CLOSED,
//	                          INVALID_MARKET_SHARE, SESSION_ALREADY_ANNOUNCED); the same MessageId
//	                          gets the same ack;
//	                          400 text/plain when not valid against the schema
//	POST /cutoffs             CutoffDecision → 200 CutoffAck (ACCEPTED, or REFUSED with
//	                          UNKNOWN_ANNOUNCEMENT, SESSION_MISMATCH, WINDOW_NOT_CLOSED,
//	                          DEADLINE_PASSED, ALREADY_DECIDED, WRONG_SUBJECT, CUTOFF_NOT_ALLOCATABLE)
//	PUT  /_control/session    {"outcome": "PLACED"|"INVALID", "seed": 42, "participants": 12,
//	                          "limitShare": 0.7}: for announcements accepted from now on
//	GET  /_control/session    the current session control
//	GET  /_control/state      placements, their orders and results, pushes
//	PUT  /_control/callback   {"url": "..."} where messages are pushed
//
// Pushed to the callback (default DefaultCallback): DemandSummary when
// the order window closes, AuctionResult after an accepted cut-off
// decision (PLACED with the allocations; FAILED_BY_ISSUER when the
// decision declares the auction failed; INVALID when the session control
// says so or no limit order is at or better than the cut-off). A PLACED
// result is handed, in process, to the depository mock (mocks/csd), which
// settles it and services the issue.
//
// Yields: for MEKKAM, securities.DiscountYield; for a coupon bond sold by
// price, the mock quotes the textbook approximation of the yield to
// maturity, (C + (100 − P) / n) / ((100 + P) / 2) with n the years to
// maturity, since contracts/securities computes no coupon bond yield; for
// a rate auction the yield is the rate and the price par.
package kase

import (
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minfin-kz/kopir/contracts/kase"
	"github.com/minfin-kz/kopir/contracts/kase/kasetypes"
	"github.com/minfin-kz/kopir/contracts/securities"
	"github.com/minfin-kz/kopir/mocks"
	"github.com/minfin-kz/kopir/mocks/csd"
)

// Name is the mock's name on the mocks server.
const Name = "kase"

// DefaultCallback is Köpir's exchange inbound channel under make run.
const DefaultCallback = "http://127.0.0.1:8081/kase"

// Options configure the mock. The zero value is a working setup.
type Options struct {
	// CallbackURL is where messages are pushed; default DefaultCallback.
	CallbackURL string
	// Session is the session control in force at start; its zero fields
	// take the defaults of SessionControl.
	Session SessionControl
	// Holidays are the public holidays the calendar skips besides
	// weekends.
	Holidays []time.Time
	// Depository settles placed auctions; on the mocks server, the csd
	// mock. Nil: placed auctions are only reported.
	Depository Depository
	// Client pushes; default a 10-second client. Push is how many times a
	// push is tried; default 5.
	Client *http.Client
	Push   int
}

// Depository is where the exchange hands a placed auction for settlement.
type Depository interface {
	Settle(csd.Placement) error
}

// Clock is the time the mock lives by: the mocks' simulated clock.
type Clock interface {
	Now() time.Time
	Watch(func(now time.Time))
	Kick()
}

// SessionControl decides how the simulated participants bid.
type SessionControl struct {
	// Outcome is PLACED (default: the auction is allocated by the rules)
	// or INVALID (the exchange declares the session invalid whatever the
	// orders).
	Outcome string `json:"outcome"`
	// Seed makes the orders reproducible; default 42.
	Seed uint64 `json:"seed"`
	// Participants is how many members bid, one order each; default 12.
	Participants int `json:"participants"`
	// LimitShare is the probability of an order being a limit order;
	// default 0.7.
	LimitShare float64 `json:"limitShare"`
}

func (c SessionControl) withDefaults() (SessionControl, error) {
	switch c.Outcome {
	case "":
		c.Outcome = string(kasetypes.OutcomePLACED)
	case string(kasetypes.OutcomePLACED), string(kasetypes.OutcomeINVALID):
	default:
		return c, fmt.Errorf("session: outcome %q is neither PLACED nor INVALID", c.Outcome)
	}
	if c.Seed == 0 {
		c.Seed = 42
	}
	if c.Participants == 0 {
		c.Participants = 12
	}
	if c.Participants < 0 || c.Participants > 500 {
		return c, fmt.Errorf("session: participants %d is not within 1..500", c.Participants)
	}
	if c.LimitShare == 0 {
		c.LimitShare = 0.7
	}
	if c.LimitShare < 0 || c.LimitShare > 1 {
		return c, fmt.Errorf("session: limitShare %v is not within 0..1", c.LimitShare)
	}
	return c, nil
}

// Mock is the exchange mock.
type Mock struct {
	opts   Options
	clock  Clock
	cal    *securities.Calendar
	mux    *http.ServeMux
	push   *mocks.Pusher
	faults *mocks.Mock
	depo   func() Depository
	epoch  string
	seq    atomic.Uint64

	mu         sync.Mutex
	control    SessionControl
	placements map[string]*placement // accepted, by announcement MessageId
	acks       map[string][]byte     // every ack sent, by the MessageId it answers
	order      []string              // accepted announcements in arrival order
	invalid    int
}

// New returns the mock on clock; see the package comment for its paths.
func New(opts Options, clock Clock) (*Mock, error) {
	if opts.CallbackURL == "" {
		opts.CallbackURL = DefaultCallback
	}
	control, err := opts.Session.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Mock{opts: opts, clock: clock, cal: securities.NewCalendar(opts.Holidays), mux: http.NewServeMux(),
		push:  mocks.NewPusher(opts.CallbackURL, "application/xml; charset=utf-8", opts.Client, opts.Push),
		epoch: strconv.FormatInt(time.Now().Unix(), 36), control: control,
		placements: map[string]*placement{}, acks: map[string][]byte{}}
	m.depo = func() Depository { return opts.Depository }
	m.mux.HandleFunc("POST /placements", m.announce)
	m.mux.HandleFunc("POST /cutoffs", m.decide)
	m.mux.HandleFunc("GET /_control/session", m.getSession)
	m.mux.HandleFunc("PUT /_control/session", m.putSession)
	m.mux.HandleFunc("GET /_control/state", m.getState)
	m.mux.HandleFunc("PUT /_control/callback", m.push.PutCallback)
	clock.Watch(m.tick)
	return m, nil
}

// On the mocks server the mock takes the kase.Options handed to
// mocks.New, lives by the server's clock, keeps its faults and received
// log under "kase", and hands placed auctions to the depository mock when
// it is linked in.
func init() {
	mocks.Register(Name, func(s *mocks.Server) {
		opts := mocks.ConfigOf[Options](s)
		m, err := New(opts, s.Clock())
		if err != nil {
			panic("kase mock: " + err.Error())
		}
		m.faults = s.Mock(Name)
		if opts.Depository == nil {
			m.depo = func() Depository {
				d, _ := s.Shared(csd.Name).(Depository)
				return d
			}
		}
		s.Handle("/kase/", http.StripPrefix("/kase", m))
		s.OnClose(m.Close)
	})
}

func (m *Mock) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.mux.ServeHTTP(w, r) }

// Close abandons pushes still queued.
func (m *Mock) Close() { m.push.Close() }

// Drain waits until every message queued so far has been pushed.
func (m *Mock) Drain() { m.push.Drain() }

func (m *Mock) nextID(kind string) string {
	return fmt.Sprintf("KASE-%s-%s-%d", kind, m.epoch, m.seq.Add(1))
}

func writeXML(w http.ResponseWriter, doc []byte) {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(doc)
}

func (m *Mock) readBody(w http.ResponseWriter, r *http.Request, msg any) bool {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, mocks.MaxBody))
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return false
	}
	if err := kase.Unmarshal(raw, msg); err != nil {
		m.mu.Lock()
		m.invalid++
		m.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

// announce takes a PlacementAnnouncement and answers its PlacementAck.
func (m *Mock) announce(w http.ResponseWriter, r *http.Request) {
	var ann kasetypes.PlacementAnnouncement
	if !m.readBody(w, r, &ann) {
		return
	}
	id := string(*ann.MessageId)
	if !m.faults.Admit(w, r, id, nil) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if ack := m.acks[id]; ack != nil {
		writeXML(w, ack)
		return
	}
	now := m.clock.Now()
	p, code, reason := m.admit(&ann, now)
	status := kasetypes.AckStatusACCEPTED
	if code != "" {
		status = kasetypes.AckStatusREFUSED
	}
	ack := &kasetypes.PlacementAck{
		MessageId:        mid(m.nextID("ACK")),
		CreationDateTime: stamp(now),
		AnnouncementId:   mid(id),
		Status:           &status,
	}
	if code != "" {
		ack.Refusal = refusal(code, reason)
	}
	doc, err := kase.Marshal(ack)
	if err != nil {
		http.Error(w, "mock: ack not built: "+err.Error(), http.StatusInternalServerError)
		return
	}
	m.acks[id] = doc
	if p != nil {
		m.placements[id] = p
		m.order = append(m.order, id)
		m.clock.Kick()
	}
	writeXML(w, doc)
}

// decide takes a CutoffDecision and answers its CutoffAck; an accepted
// decision's result is pushed after the demand summary.
func (m *Mock) decide(w http.ResponseWriter, r *http.Request) {
	var dec kasetypes.CutoffDecision
	if !m.readBody(w, r, &dec) {
		return
	}
	id := string(*dec.MessageId)
	if !m.faults.Admit(w, r, id, nil) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if ack := m.acks["decision:"+id]; ack != nil {
		writeXML(w, ack)
		return
	}
	now := m.clock.Now()
	annID := string(*dec.AnnouncementId)
	p := m.placements[annID]
	var code, reason string
	var res *outcome
	if p == nil {
		code, reason = "UNKNOWN_ANNOUNCEMENT", fmt.Sprintf("no placement announced as %s was accepted", annID)
	} else {
		res, code, reason = p.decide(&dec, now)
	}
	status := kasetypes.AckStatusACCEPTED
	if code != "" {
		status = kasetypes.AckStatusREFUSED
	}
	ack := &kasetypes.CutoffAck{
		MessageId:        mid(m.nextID("CAK")),
		CreationDateTime: stamp(now),
		AnnouncementId:   mid(annID),
		DecisionId:       mid(id),
		Status:           &status,
	}
	if code != "" {
		ack.Refusal = refusal(code, reason)
	}
	doc, err := kase.Marshal(ack)
	if err != nil {
		http.Error(w, "mock: ack not built: "+err.Error(), http.StatusInternalServerError)
		return
	}
	m.acks["decision:"+id] = doc
	if res != nil {
		p.decision, p.result = id, res
		// The summary goes first even when the decision came before the
		// clock's next tick noticed the window had closed.
		m.summarize(p, now)
		m.publish(p, now)
	}
	writeXML(w, doc)
}

// tick pushes the demand summary of every session whose window the clock
// has passed.
func (m *Mock) tick(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range m.order {
		p := m.placements[id]
		if _, close := p.session.OrderWindow(); !now.Before(close) {
			m.summarize(p, now)
		}
	}
}

// summarize pushes p's demand summary once; called with m.mu held.
func (m *Mock) summarize(p *placement, now time.Time) {
	if p.summarized {
		return
	}
	p.summarized = true
	id := m.nextID("DEM")
	doc, err := kase.Marshal(p.summary(id, now))
	if err != nil {
		m.push.Fail(kase.DemandSummary, id, err)
		return
	}
	m.push.Send(kase.DemandSummary, id, doc)
}

// publish pushes p's result and hands a placed auction to the depository;
// called with m.mu held.
func (m *Mock) publish(p *placement, now time.Time) {
	id := m.nextID("RES")
	doc, err := kase.Marshal(p.resultMessage(id, now))
	if err != nil {
		m.push.Fail(kase.AuctionResult, id, err)
		return
	}
	m.push.Send(kase.AuctionResult, id, doc)
	if p.result.outcome != kasetypes.OutcomePLACED {
		return
	}
	if d := m.depo(); d != nil {
		if err := d.Settle(p.handover()); err != nil {
			p.handoverError = err.Error()
		}
	}
}

func (m *Mock) getSession(w http.ResponseWriter, _ *http.Request) {
	m.mu.Lock()
	c := m.control
	m.mu.Unlock()
	mocks.WriteJSON(w, http.StatusOK, c)
}

func (m *Mock) putSession(w http.ResponseWriter, r *http.Request) {
	var c SessionControl
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		mocks.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "session: " + err.Error()})
		return
	}
	c, err := c.withDefaults()
	if err != nil {
		mocks.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	m.mu.Lock()
	m.control = c
	m.mu.Unlock()
	mocks.WriteJSON(w, http.StatusOK, c)
}

// State is what GET /_control/state shows.
type State struct {
	Now        time.Time        `json:"now"`
	Callback   string           `json:"callback"`
	Session    SessionControl   `json:"session"`
	Placements []PlacementState `json:"placements"`
	Pushed     []mocks.Push     `json:"pushed"`
	Queued     int              `json:"queued"`
	Invalid    int              `json:"invalidReceived"`
}

// PlacementState is one accepted announcement as the exchange sees it.
type PlacementState struct {
	AnnouncementID string           `json:"announcementId"`
	ISIN           string           `json:"isin"`
	Session        string           `json:"session"`
	Orders         []OrderState     `json:"orders"`
	Summarized     bool             `json:"summarized"`
	Decision       string           `json:"decision,omitempty"`
	Outcome        string           `json:"outcome,omitempty"`
	Allocations    []csd.Allocation `json:"allocations,omitempty"`
	HandoverError  string           `json:"handoverError,omitempty"`
}

// OrderState is one simulated order.
type OrderState struct {
	Participant string `json:"participant"`
	Type        string `json:"type"`
	Value       string `json:"value,omitempty"`
	Units       int64  `json:"units"`
}

func (m *Mock) getState(w http.ResponseWriter, _ *http.Request) {
	pushed, queued := m.push.Pushed()
	m.mu.Lock()
	st := State{Now: m.clock.Now(), Callback: m.push.URL(), Session: m.control, Pushed: pushed, Queued: queued, Invalid: m.invalid, Placements: []PlacementState{}}
	for _, id := range m.order {
		st.Placements = append(st.Placements, m.placements[id].state())
	}
	m.mu.Unlock()
	mocks.WriteJSON(w, http.StatusOK, st)
}

// Pushed lists the messages pushed (or given up on) so far.
func (m *Mock) Pushed() []mocks.Push {
	p, _ := m.push.Pushed()
	return p
}

func mid(s string) *kasetypes.MessageId { v := kasetypes.MessageId(s); return &v }

func stamp(t time.Time) *kasetypes.DateTimeWithOffset {
	v := kasetypes.DateTimeWithOffset(t.In(securities.Astana).Format("2006-01-02T15:04:05-07:00"))
	return &v
}

func refusal(code, reason string) *kasetypes.Refusal {
	c := kasetypes.RefusalCode(code)
	if len(reason) > 500 {
		reason = reason[:500]
	}
	t := kasetypes.Text(reason)
	return &kasetypes.Refusal{Code: &c, Reason: &t}
}

func ptr[T any](v T) *T { return &v }

// ratio2 is num/den × 100 as a percentage with two decimals, rounded half
// up.
func ratio2(num, den int64) string {
	if den == 0 {
		return "0.00"
	}
	return new(big.Rat).SetFrac(big.NewInt(num*100), big.NewInt(den)).FloatString(2)
}
