package kase_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/sese025"
	"github.com/minfin-kz/kopir/contracts/kase"
	"github.com/minfin-kz/kopir/contracts/kase/kasetypes"
	"github.com/minfin-kz/kopir/contracts/securities"
	"github.com/minfin-kz/kopir/internal/safexml"
	"github.com/minfin-kz/kopir/mocks"
	"github.com/minfin-kz/kopir/mocks/csd"
	"github.com/minfin-kz/kopir/mocks/internal/mocktest"
	mockkase "github.com/minfin-kz/kopir/mocks/kase"
)

type exchange struct {
	url       string
	kase, csd *mocktest.Receiver
}

// start serves the exchange and the depository mocks, each pushing to a
// receiver of its own.
func start(t *testing.T, session mockkase.SessionControl) exchange {
	t.Helper()
	e := exchange{kase: mocktest.NewReceiver(t), csd: mocktest.NewReceiver(t)}
	s := mocks.New(mocks.Options{Seed: 1}, mockkase.Options{CallbackURL: e.kase.URL, Session: session}, csd.Options{CallbackURL: e.csd.URL})
	t.Cleanup(s.Close)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

func (e exchange) clock(t *testing.T, now string) {
	t.Helper()
	if status, body := mocktest.Do(t, "PUT", e.url+"/_control/clock", []byte(`{"now":"`+now+`"}`), "Content-Type", "application/json"); status != 200 {
		t.Fatalf("clock: %d %s", status, body)
	}
}

func s[T ~string](v string) *T { x := T(v); return &x }

// announcement is a ten-year MEUKAM of a million securities offered by
// price in the main session of Tuesday 8 December 2026.
func announcement(id string) *kasetypes.PlacementAnnouncement {
	units, freq, held := kasetypes.Quantity(1_000_000), kasetypes.CouponFrequency(2), kasetypes.Indicator(false)
	issue := kasetypes.IssueNumber(1)
	return &kasetypes.PlacementAnnouncement{
		MessageId: s[kasetypes.MessageId](id), CreationDateTime: s[kasetypes.DateTimeWithOffset]("2026-12-07T10:00:00+05:00"),
		Issuer: s[kasetypes.IssuerCode]("MFRK"),
		Security: &kasetypes.SecurityTerms{
			SecurityType: s[kasetypes.SecurityType]("MEUKAM"), ISIN: s[kasetypes.ISIN]("KZKD00000345"), IssueNumber: &issue,
			TradeCode: s[kasetypes.TradeCode]("MUM120_0001"), FaceValue: s[kasetypes.Amount]("1000.00"), Currency: s[kasetypes.Currency]("KZT"),
			DeclaredVolume:   &kasetypes.DeclaredVolume{Units: &units, MillionTenge: s[kasetypes.MillionTenge]("1000")},
			CirculationStart: s[kasetypes.ISODate]("2026-12-10"), LastCirculationDay: s[kasetypes.ISODate]("2036-12-09"), Maturity: s[kasetypes.ISODate]("2036-12-10"),
			CouponRate: s[kasetypes.Percent4]("12.5000"), CouponFrequency: &freq, DayBasis: s[kasetypes.DayBasis]("30/360"),
		},
		Auction: &kasetypes.AuctionTerms{
			TradeDate: s[kasetypes.ISODate]("2026-12-08"), Subject: s[kasetypes.AuctionSubject]("PRICE"),
			OrderWindowStart: s[kasetypes.DateTimeWithOffset]("2026-12-08T09:00:00+05:00"), OrderWindowEnd: s[kasetypes.DateTimeWithOffset]("2026-12-08T12:00:00+05:00"),
			CutoffDeadline: s[kasetypes.DateTimeWithOffset]("2026-12-08T15:00:00+05:00"), MarketOrderShareLimit: s[kasetypes.SharePercent]("70"),
			Settlement: s[kasetypes.Settlement]("T2"), AdditionalSession: &kasetypes.AdditionalSession{Held: &held}, PricingMode: s[kasetypes.PricingMode]("OWN_PRICE"),
		},
	}
}

func post(t *testing.T, url string, msg any) (int, []byte) {
	t.Helper()
	doc, err := kase.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	return mocktest.Do(t, "POST", url, doc, "Content-Type", "application/xml")
}

func (e exchange) announce(t *testing.T, a *kasetypes.PlacementAnnouncement) (*kasetypes.PlacementAck, []byte) {
	t.Helper()
	status, body := post(t, e.url+"/kase/placements", a)
	var ack kasetypes.PlacementAck
	if err := kase.Unmarshal(body, &ack); status != 200 || err != nil {
		t.Fatalf("announcement: %d %v %s", status, err, body)
	}
	if string(*ack.AnnouncementId) != string(*a.MessageId) {
		t.Fatalf("ack answers %s", *ack.AnnouncementId)
	}
	return &ack, body
}

func decision(id, announcementID string, cutoff string) *kasetypes.CutoffDecision {
	d := &kasetypes.CutoffDecision{
		MessageId: s[kasetypes.MessageId](id), CreationDateTime: s[kasetypes.DateTimeWithOffset]("2026-12-08T14:00:00+05:00"),
		AnnouncementId: s[kasetypes.MessageId](announcementID), Session: s[kasetypes.SessionKind]("MAIN"),
		DecisionDateTime: s[kasetypes.DateTimeWithOffset]("2026-12-08T14:00:00+05:00"),
	}
	switch {
	case cutoff == "failed":
		d.Failed = &kasetypes.FailureDeclaration{Reason: s[kasetypes.Text]("prices below the acceptable level")}
	case strings.HasPrefix(cutoff, "rate "):
		d.CutoffRate = s[kasetypes.Percent4](strings.TrimPrefix(cutoff, "rate "))
	default:
		d.CutoffPrice = s[kasetypes.Percent4](cutoff)
	}
	return d
}

func (e exchange) decide(t *testing.T, d *kasetypes.CutoffDecision) (status, code string) {
	t.Helper()
	st, body := post(t, e.url+"/kase/cutoffs", d)
	var ack kasetypes.CutoffAck
	if err := kase.Unmarshal(body, &ack); st != 200 || err != nil {
		t.Fatalf("decision: %d %v %s", st, err, body)
	}
	if string(*ack.DecisionId) != string(*d.MessageId) {
		t.Fatalf("ack answers decision %s", *ack.DecisionId)
	}
	if ack.Refusal != nil {
		return string(*ack.Status), string(*ack.Refusal.Code)
	}
	return string(*ack.Status), ""
}

func (e exchange) state(t *testing.T) mockkase.State {
	t.Helper()
	_, body := mocktest.Do(t, "GET", e.url+"/kase/_control/state", nil)
	var st mockkase.State
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return st
}

// pushed parses the n-th push as a KASE message.
func pushed(t *testing.T, raw []byte, want string) any {
	t.Helper()
	msg, name, err := kase.Parse(raw)
	if err != nil || name != want {
		t.Fatalf("pushed %s (%v), want %s:\n%s", name, err, want, raw)
	}
	return msg
}

// Each term the exchange's listing rules check refuses the announcement
// with its code; a valid one is accepted, and a resend gets the same ack.
func TestAnnouncementRefusals(t *testing.T) {
	e := start(t, mockkase.SessionControl{})
	e.clock(t, "2026-12-07T10:00:00+05:00")
	ack, first := e.announce(t, announcement("ANN-OK"))
	if *ack.Status != kasetypes.AckStatusACCEPTED {
		t.Fatalf("valid announcement refused: %s %s", *ack.Refusal.Code, *ack.Refusal.Reason)
	}
	if _, again := e.announce(t, announcement("ANN-OK")); string(again) != string(first) {
		t.Fatalf("a resend got another ack:\n%s\n%s", again, first)
	}
	for i, c := range []struct {
		name, code string
		change     func(a *kasetypes.PlacementAnnouncement)
	}{
		{"check digit", "INVALID_ISIN", func(a *kasetypes.PlacementAnnouncement) { a.Security.ISIN = s[kasetypes.ISIN]("KZKD00000344") }},
		{"another type's ISIN", "INVALID_ISIN", func(a *kasetypes.PlacementAnnouncement) { a.Security.ISIN = s[kasetypes.ISIN]("KZK200000125") }},
		{"trade code term", "INVALID_TRADE_CODE", func(a *kasetypes.PlacementAnnouncement) { a.Security.TradeCode = s[kasetypes.TradeCode]("MUM060_0001") }},
		{"trade code type", "INVALID_TRADE_CODE", func(a *kasetypes.PlacementAnnouncement) { a.Security.TradeCode = s[kasetypes.TradeCode]("MOM120_0001") }},
		{"face value", "WRONG_FACE_VALUE", func(a *kasetypes.PlacementAnnouncement) { a.Security.FaceValue = s[kasetypes.Amount]("100.00") }},
		{"window end", "INVALID_WINDOW", func(a *kasetypes.PlacementAnnouncement) {
			a.Auction.OrderWindowEnd = s[kasetypes.DateTimeWithOffset]("2026-12-08T12:30:00+05:00")
		}},
		{"deadline", "INVALID_WINDOW", func(a *kasetypes.PlacementAnnouncement) {
			a.Auction.CutoffDeadline = s[kasetypes.DateTimeWithOffset]("2026-12-08T16:00:00+05:00")
		}},
		{"Saturday", "NOT_A_TRADING_DAY", func(a *kasetypes.PlacementAnnouncement) { a.Auction.TradeDate = s[kasetypes.ISODate]("2026-12-12") }},
		{"window passed", "WINDOW_CLOSED", func(a *kasetypes.PlacementAnnouncement) {
			a.Auction.TradeDate = s[kasetypes.ISODate]("2026-12-04")
			a.Auction.OrderWindowStart = s[kasetypes.DateTimeWithOffset]("2026-12-04T09:00:00+05:00")
			a.Auction.OrderWindowEnd = s[kasetypes.DateTimeWithOffset]("2026-12-04T12:00:00+05:00")
			a.Auction.CutoffDeadline = s[kasetypes.DateTimeWithOffset]("2026-12-04T15:00:00+05:00")
		}},
		{"same session again", "SESSION_ALREADY_ANNOUNCED", func(*kasetypes.PlacementAnnouncement) {}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := announcement(fmt.Sprintf("ANN-R%d", i))
			c.change(a)
			ack, _ := e.announce(t, a)
			if *ack.Status != kasetypes.AckStatusREFUSED || string(*ack.Refusal.Code) != c.code {
				t.Fatalf("status %s refusal %+v, want %s", *ack.Status, ack.Refusal, c.code)
			}
		})
	}
	doc, _ := kase.Marshal(announcement("ANN-BAD"))
	bad := strings.Replace(string(doc), "<Issuer>MFRK</Issuer>", "<Issuer>Ministry</Issuer>", 1)
	if status, body := mocktest.Do(t, "POST", e.url+"/kase/placements", []byte(bad)); status != http.StatusBadRequest || !strings.Contains(string(body), "Issuer") {
		t.Fatalf("invalid announcement: %d %s", status, body)
	}
	if st := e.state(t); len(st.Placements) != 1 || st.Placements[0].AnnouncementID != "ANN-OK" {
		t.Fatalf("accepted placements: %+v", st.Placements)
	}
}

// A whole session: the window closes at 12:00 by the mocks' clock and the
// demand is reported; a cut-off is refused before that and after 15:00;
// the accepted one is allocated by securities.Allocate, and the depository
// settles each allocation two business days later.
func TestPlacedAuction(t *testing.T) {
	e := start(t, mockkase.SessionControl{Seed: 7})
	e.clock(t, "2026-12-08T08:00:00+05:00")
	e.announce(t, announcement("ANN-1"))
	e.announce(t, otherIssue(announcement("ANN-2")))
	e.clock(t, "2026-12-08T11:59:59+05:00")
	if status, code := e.decide(t, decision("CUT-EARLY", "ANN-1", "99.0000")); status != "REFUSED" || code != "WINDOW_NOT_CLOSED" {
		t.Fatalf("early cut-off: %s %s", status, code)
	}
	if n := len(e.kase.Bodies()); n != 0 {
		t.Fatalf("%d pushes before the window closed", n)
	}
	e.clock(t, "2026-12-08T12:00:00+05:00")
	// Both sessions' windows closed: a summary each, in announcement order.
	sum := pushed(t, e.kase.Wait(t, 2)[0], kase.DemandSummary).(*kasetypes.DemandSummary)
	st := e.state(t)
	var orders []securities.Order
	var units, limitUnits int64
	for i, o := range st.Placements[0].Orders {
		order := securities.Order{ID: string(rune('a' + i)), Participant: o.Participant, Type: securities.MarketOrder, Units: o.Units}
		if o.Type == "LIMIT" {
			order.Type = securities.LimitOrder
			order.Value, _ = securities.ParsePercent(o.Value)
			limitUnits += o.Units
		}
		units += o.Units
		orders = append(orders, order)
	}
	if string(*sum.AnnouncementId) != "ANN-1" || int(*sum.Participants) != 12 || int(*sum.Orders.Total) != 12 ||
		int64(*sum.Volumes.Total.Units) != units || int64(*sum.Volumes.Limit.Units) != limitUnits {
		t.Fatalf("summary: participants %d orders %d units %d (limit %d), state has %d units (limit %d)",
			*sum.Participants, *sum.Orders.Total, *sum.Volumes.Total.Units, *sum.Volumes.Limit.Units, units, limitUnits)
	}

	e.clock(t, "2026-12-08T14:00:00+05:00")
	for _, c := range []struct {
		d            *kasetypes.CutoffDecision
		status, code string
	}{
		{decision("CUT-X", "ANN-NONE", "99.0000"), "REFUSED", "UNKNOWN_ANNOUNCEMENT"},
		{decision("CUT-RATE", "ANN-1", "rate 12.0000"), "REFUSED", "WRONG_SUBJECT"},
		{decision("CUT-1", "ANN-1", "99.0000"), "ACCEPTED", ""},
		{decision("CUT-1", "ANN-1", "99.0000"), "ACCEPTED", ""}, // the resend
		{decision("CUT-2", "ANN-1", "98.0000"), "REFUSED", "ALREADY_DECIDED"},
	} {
		if status, code := e.decide(t, c.d); status != c.status || code != c.code {
			t.Fatalf("decision %s on %s: %s %s, want %s %s", *c.d.MessageId, *c.d.AnnouncementId, status, code, c.status, c.code)
		}
	}
	res := pushed(t, e.kase.Wait(t, 3)[2], kase.AuctionResult).(*kasetypes.AuctionResult)
	want, err := securities.Allocate(securities.Auction{Subject: securities.SubjectPrice, Offered: 1_000_000, Cutoff: 99_0000, MarketShare: 70_0000, Pricing: securities.OwnPrice}, orders)
	if err != nil || want.Outcome != securities.Placed {
		t.Fatalf("expected allocation: %v %v", want.Outcome, err)
	}
	if *res.Outcome != kasetypes.OutcomePLACED || int64(*res.PlacedVolume.Units) != want.PlacedUnits() || string(*res.SettlementDate) != "2026-12-10" ||
		string(*res.WeightedAveragePrice) != want.WeightedAverage.String() || string(*res.CutoffPrice) != "99.0000" {
		t.Fatalf("result %s placed %d settles %s average %s, want %d on 2026-12-10 at %s", *res.Outcome, *res.PlacedVolume.Units, *res.SettlementDate, *res.WeightedAveragePrice, want.PlacedUnits(), want.WeightedAverage)
	}
	var k int
	var sum64 int64
	for _, f := range want.Fills {
		if f.Units == 0 {
			continue
		}
		a := res.Allocation[k]
		k++
		amount, _ := securities.Consideration(1000_00, f.Value, f.Units)
		if string(*a.ParticipantCode) != f.Order.Participant || int64(*a.Quantity) != f.Units || string(*a.Price) != f.Value.String() || string(*a.Amount) != amount.String() {
			t.Errorf("allocation %s %d at %s for %s, want %s %d at %s for %s", *a.ParticipantCode, *a.Quantity, *a.Price, *a.Amount, f.Order.Participant, f.Units, f.Value, amount)
		}
		sum64 += int64(*a.Quantity)
	}
	if k != len(res.Allocation) || sum64 != want.PlacedUnits() {
		t.Fatalf("%d allocations for %d securities, want %d for %d", len(res.Allocation), sum64, k, want.PlacedUnits())
	}

	e.clock(t, "2026-12-08T15:00:01+05:00")
	if status, code := e.decide(t, decision("CUT-LATE", "ANN-2", "99.0000")); status != "REFUSED" || code != "DEADLINE_PASSED" {
		t.Fatalf("late cut-off: %s %s", status, code)
	}

	e.clock(t, "2026-12-10T10:00:00+05:00")
	bodies := e.csd.Wait(t, len(res.Allocation))
	for i, a := range res.Allocation {
		m, err := isodoc.Parse(bodies[i], []string{isodoc.Sese025}, safexml.Limits{})
		if err != nil {
			t.Fatalf("confirmation %d: %v", i, err)
		}
		var doc sese025.Document
		if err := m.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		c := doc.SctiesSttlmTxConf
		if got, wantID := isodoc.S(c.TradDtls.TradId[0]), "ANN-1/"+string(*a.ParticipantCode); got != wantID || isodoc.S(c.QtyAndAcctDtls.SttldQty.Qty.Unit) != jsonNumber(int64(*a.Quantity)) || isodoc.S(c.SttldAmt.Amt.Value) != string(*a.Amount) {
			t.Errorf("confirmation %d: trade %s units %s amount %s, want %s %d %s", i, got, isodoc.S(c.QtyAndAcctDtls.SttldQty.Qty.Unit), isodoc.S(c.SttldAmt.Amt.Value), wantID, *a.Quantity, *a.Amount)
		}
	}
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }

// otherIssue makes a the announcement of another issue, so that it may
// share a session with the first.
func otherIssue(a *kasetypes.PlacementAnnouncement) *kasetypes.PlacementAnnouncement {
	a.Security.ISIN = s[kasetypes.ISIN]("KZKD00000238")
	a.Security.TradeCode = s[kasetypes.TradeCode]("MUM120_0023")
	return a
}

// session runs one announcement to its result under the given control
// and decision, and returns the result and the state's orders.
func session(t *testing.T, control mockkase.SessionControl, cutoff string) (*kasetypes.AuctionResult, []mockkase.OrderState) {
	t.Helper()
	e := start(t, control)
	e.clock(t, "2026-12-08T08:00:00+05:00")
	e.announce(t, announcement("ANN-1"))
	e.clock(t, "2026-12-08T13:00:00+05:00")
	if status, code := e.decide(t, decision("CUT-1", "ANN-1", cutoff)); status != "ACCEPTED" {
		t.Fatalf("decision refused: %s", code)
	}
	bodies := e.kase.Wait(t, 2)
	pushed(t, bodies[0], kase.DemandSummary)
	return pushed(t, bodies[1], kase.AuctionResult).(*kasetypes.AuctionResult), e.state(t).Placements[0].Orders
}

// Each outcome the exchange can publish, and what it carries.
func TestOutcomes(t *testing.T) {
	for _, c := range []struct {
		name    string
		control mockkase.SessionControl
		cutoff  string
		want    kasetypes.Outcome
	}{
		{"placed", mockkase.SessionControl{}, "99.0000", kasetypes.OutcomePLACED},
		{"failed by the issuer", mockkase.SessionControl{}, "failed", kasetypes.OutcomeFAILED_BY_ISSUER},
		{"invalid by control", mockkase.SessionControl{Outcome: "INVALID"}, "99.0000", kasetypes.OutcomeINVALID},
		{"no limit order at the cut-off", mockkase.SessionControl{}, "150.0000", kasetypes.OutcomeINVALID},
		{"only market orders", mockkase.SessionControl{LimitShare: 0.000001}, "99.0000", kasetypes.OutcomeINVALID},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, _ := session(t, c.control, c.cutoff)
			if *res.Outcome != c.want {
				t.Fatalf("outcome %s, want %s", *res.Outcome, c.want)
			}
			placed := c.want == kasetypes.OutcomePLACED
			if placed != (len(res.Allocation) > 0) || placed != (res.SettlementDate != nil) || placed != (*res.ActiveVolume.Units > 0) {
				t.Fatalf("%s with %d allocations, settlement %v, active %d", *res.Outcome, len(res.Allocation), res.SettlementDate, *res.ActiveVolume.Units)
			}
		})
	}
}

// The simulated orders, and so the allocations, follow from the seed.
func TestOrdersFollowTheSeed(t *testing.T) {
	first, orders1 := session(t, mockkase.SessionControl{Seed: 42}, "99.0000")
	again, orders2 := session(t, mockkase.SessionControl{Seed: 42}, "99.0000")
	_, other := session(t, mockkase.SessionControl{Seed: 43}, "99.0000")
	if !equalOrders(orders1, orders2) {
		t.Fatal("the same seed dealt different orders")
	}
	if equalOrders(orders1, other) {
		t.Fatal("another seed dealt the same orders")
	}
	if len(first.Allocation) != len(again.Allocation) {
		t.Fatalf("%d allocations, then %d", len(first.Allocation), len(again.Allocation))
	}
	for i := range first.Allocation {
		a, b := first.Allocation[i], again.Allocation[i]
		if *a.ParticipantCode != *b.ParticipantCode || *a.Quantity != *b.Quantity || *a.Price != *b.Price {
			t.Fatalf("allocation %d differs: %s %d %s vs %s %d %s", i, *a.ParticipantCode, *a.Quantity, *a.Price, *b.ParticipantCode, *b.Quantity, *b.Price)
		}
	}
	kinds := map[string]bool{}
	for _, o := range orders1 {
		kinds[strings.TrimRight(o.Participant, "0123456789")] = true
	}
	for _, k := range []string{"BANK", "PF", "BD", "IC", "NR"} {
		if !kinds[k] {
			t.Errorf("no %s participant among %v", k, orders1)
		}
	}
}

func equalOrders(a, b []mockkase.OrderState) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The session control refuses what it cannot apply.
func TestSessionControl(t *testing.T) {
	e := start(t, mockkase.SessionControl{})
	for body, want := range map[string]int{
		`{"outcome":"PLACED","seed":9,"participants":20,"limitShare":0.5}`: 200,
		`{"outcome":"FAILED_BY_ISSUER"}`:                                   400,
		`{"limitShare":1.5}`:                                               400,
		`{"participants":-1}`:                                              400,
		`{"seed":"x"}`:                                                     400,
	} {
		if status, got := mocktest.Do(t, "PUT", e.url+"/kase/_control/session", []byte(body)); status != want {
			t.Errorf("%s: %d %s", body, status, got)
		}
	}
	if st := e.state(t); st.Session.Seed != 9 || st.Session.Participants != 20 {
		t.Fatalf("session control after the valid one: %+v", st.Session)
	}
}

// Faults are injected and calls logged as for the other mocks, under
// "kase".
func TestFaultsAndReceivedLog(t *testing.T) {
	e := start(t, mockkase.SessionControl{})
	e.clock(t, "2026-12-07T10:00:00+05:00")
	mocktest.PutFault(t, e.url, "kase", `{"failRate":1,"status":503}`)
	if status, _ := post(t, e.url+"/kase/placements", announcement("ANN-1")); status != http.StatusServiceUnavailable {
		t.Fatalf("with failRate 1: %d", status)
	}
	if status, _ := mocktest.Do(t, "DELETE", e.url+"/_control/faults/kase", nil); status != http.StatusNoContent {
		t.Fatal(status)
	}
	if ack, _ := e.announce(t, announcement("ANN-1")); *ack.Status != kasetypes.AckStatusACCEPTED {
		t.Fatalf("after the fault: %s", *ack.Status)
	}
	r := mocktest.Received(t, e.url, "kase")
	if r.Total != 1 || r.Rejected != 1 || len(r.Items) != 1 || r.Items[0].Key != "ANN-1" {
		t.Fatalf("received log: %+v", r)
	}
}

// In a rate auction securities sell at par, each accepted order at or
// below the cut-off rate, and the yield quoted is the rate.
func TestRateAuction(t *testing.T) {
	e := start(t, mockkase.SessionControl{})
	e.clock(t, "2026-12-08T08:00:00+05:00")
	a := announcement("ANN-RATE")
	a.Auction.Subject = s[kasetypes.AuctionSubject]("RATE")
	e.announce(t, a)
	e.clock(t, "2026-12-08T13:00:00+05:00")
	if status, code := e.decide(t, decision("CUT-P", "ANN-RATE", "99.0000")); code != "WRONG_SUBJECT" {
		t.Fatalf("a price for a rate auction: %s %s", status, code)
	}
	if status, code := e.decide(t, decision("CUT-R", "ANN-RATE", "rate 12.5000")); status != "ACCEPTED" {
		t.Fatalf("rate cut-off refused: %s", code)
	}
	res := pushed(t, e.kase.Wait(t, 2)[1], kase.AuctionResult).(*kasetypes.AuctionResult)
	if *res.Outcome != kasetypes.OutcomePLACED || len(res.Allocation) == 0 || res.CleanPrice != nil {
		t.Fatalf("outcome %s, %d allocations, clean price range %v", *res.Outcome, len(res.Allocation), res.CleanPrice)
	}
	for _, al := range res.Allocation {
		y, _ := securities.ParsePercent(string(*al.Yield))
		amount, _ := securities.Consideration(1000_00, 100_0000, int64(*al.Quantity))
		if string(*al.Price) != "100.0000" || y > 12_5000 || string(*al.Amount) != amount.String() {
			t.Errorf("%s: price %s yield %s amount %s", *al.ParticipantCode, *al.Price, *al.Yield, *al.Amount)
		}
	}
}
