package kase

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"time"

	"github.com/minfin-kz/kopir/contracts/kase/kasetypes"
	"github.com/minfin-kz/kopir/contracts/securities"
	"github.com/minfin-kz/kopir/mocks/csd"
)

// placement is one accepted announcement and its session.
type placement struct {
	id               string
	isin             string
	typ              securities.Type
	face             securities.Amount
	currency         string
	offered          int64
	subject          securities.Subject
	pricing          securities.Pricing
	marketShare      securities.Percent
	session          securities.Session
	settlement       time.Time
	couponRate       securities.Percent
	frequency        int
	basis            securities.Basis
	circulationStart time.Time
	maturity         time.Time
	control          SessionControl
	orders           []securities.Order
	kinds            map[string]kasetypes.InvestorType

	summarized    bool
	decision      string
	result        *outcome
	handoverError string
}

// outcome is the decided end of a session.
type outcome struct {
	outcome kasetypes.Outcome
	cutoff  securities.Percent
	alloc   securities.Result
}

func (p *placement) kind() kasetypes.SessionKind {
	if p.session.Additional {
		return kasetypes.SessionKindADDITIONAL
	}
	return kasetypes.SessionKindMAIN
}

func parseDay(s string) (time.Time, error) {
	return time.ParseInLocation(time.DateOnly, s, securities.Astana)
}

func parseInstant(p *kasetypes.DateTimeWithOffset) (time.Time, error) {
	if p == nil {
		return time.Time{}, fmt.Errorf("missing")
	}
	return time.Parse(time.RFC3339, string(*p))
}

var bases = map[kasetypes.DayBasis]securities.Basis{
	kasetypes.DayBasisACTACT: securities.ActualActualICMA,
	kasetypes.DayBasis30360:  securities.Thirty360,
	kasetypes.DayBasisACT365: securities.Actual365Fixed,
}

// termMonths is an issue's term in whole months, to the nearest month:
// the trade code's term is nominal, and circulation may start a few days
// after the nominal issue date.
func termMonths(start, maturity time.Time) int {
	y1, m1, d1 := start.Date()
	y2, m2, d2 := maturity.Date()
	n := (y2-y1)*12 + int(m2) - int(m1)
	switch {
	case d2-d1 >= 15:
		n++
	case d1-d2 >= 15:
		n--
	}
	return n
}

// admit checks an announcement's terms as the exchange's listing rules
// would, and builds its session with the simulated orders. It returns a
// refusal code and reason instead when a term is wrong; called with m.mu
// held.
func (m *Mock) admit(a *kasetypes.PlacementAnnouncement, now time.Time) (*placement, string, string) {
	s, au := a.Security, a.Auction
	p := &placement{id: string(*a.MessageId), isin: string(*s.ISIN), currency: string(*s.Currency), control: m.control}
	var err error
	if p.typ, err = securities.ParseType(string(*s.SecurityType)); err != nil {
		return nil, "INVALID_TYPE", err.Error()
	}
	if err := securities.ValidateISINForType(p.isin, p.typ); err != nil {
		return nil, "INVALID_ISIN", err.Error()
	}
	if p.circulationStart, err = parseDay(string(*s.CirculationStart)); err != nil {
		return nil, "INVALID_DATE", "CirculationStart: " + err.Error()
	}
	if p.maturity, err = parseDay(string(*s.Maturity)); err != nil {
		return nil, "INVALID_DATE", "Maturity: " + err.Error()
	}
	if !p.maturity.After(p.circulationStart) {
		return nil, "INVALID_DATE", fmt.Sprintf("maturity %s is not after circulation start %s", *s.Maturity, *s.CirculationStart)
	}
	if err := securities.CheckTradeCode(string(*s.TradeCode), p.typ, termMonths(p.circulationStart, p.maturity)); err != nil {
		return nil, "INVALID_TRADE_CODE", err.Error()
	}
	if p.face, err = securities.ParseAmount(string(*s.FaceValue)); err != nil || p.face != p.typ.FaceValue() {
		return nil, "WRONG_FACE_VALUE", fmt.Sprintf("face value %s: a %v has a face value of %s tenge", *s.FaceValue, p.typ, p.typ.FaceValue())
	}
	var ok bool
	if p.basis, ok = bases[*s.DayBasis]; !ok {
		return nil, "INVALID_DAY_BASIS", fmt.Sprintf("day basis %q is not ACT/ACT, 30/360 or ACT/365", *s.DayBasis)
	}
	if s.CouponRate != nil {
		if p.couponRate, err = securities.ParsePercent(string(*s.CouponRate)); err != nil {
			return nil, "INVALID_COUPON", "CouponRate: " + err.Error()
		}
	}
	if s.CouponFrequency != nil {
		p.frequency = int(*s.CouponFrequency)
	}
	if s.CouponSchedule != nil {
		var dates []time.Time
		for _, d := range s.CouponSchedule.PaymentDate {
			t, err := parseDay(string(*d))
			if err != nil {
				return nil, "INVALID_SCHEDULE", err.Error()
			}
			dates = append(dates, t)
		}
		if err := securities.CheckSchedule(p.circulationStart, p.maturity, p.frequency, m.cal, dates); err != nil {
			return nil, "INVALID_SCHEDULE", err.Error()
		}
	}
	p.offered = int64(*s.DeclaredVolume.Units)
	if p.offered <= 0 {
		return nil, "INVALID_VOLUME", "the declared volume is no securities"
	}

	tradeDate, err := parseDay(string(*au.TradeDate))
	if err != nil {
		return nil, "INVALID_DATE", "TradeDate: " + err.Error()
	}
	p.session = securities.Session{TradeDate: tradeDate, Additional: au.AdditionalSession != nil && au.AdditionalSession.Held != nil && bool(*au.AdditionalSession.Held)}
	if *au.Settlement == kasetypes.SettlementT0 {
		p.session.Settlement = securities.T0
	}
	if p.settlement, err = p.session.SettlementDate(m.cal); err != nil {
		return nil, "NOT_A_TRADING_DAY", err.Error()
	}
	if code, reason := checkWindow(p.session, a); code != "" {
		return nil, code, reason
	}
	if _, close := p.session.OrderWindow(); !now.Before(close) {
		return nil, "WINDOW_CLOSED", fmt.Sprintf("the order window of %s closed at %s Astana time (UTC+5)", *au.TradeDate, close.Format("15:04"))
	}
	p.subject = securities.SubjectPrice
	if *au.Subject == kasetypes.AuctionSubjectRATE {
		p.subject = securities.SubjectRate
	}
	p.pricing = securities.OwnPrice
	if *au.PricingMode == kasetypes.PricingModeCUTOFF_PRICE {
		p.pricing = securities.CutoffPrice
	}
	if p.marketShare, err = securities.ParsePercent(string(*au.MarketOrderShareLimit)); err != nil {
		return nil, "INVALID_MARKET_SHARE", err.Error()
	}
	for _, id := range m.order {
		q := m.placements[id]
		if q.isin == p.isin && q.session.TradeDate.Equal(p.session.TradeDate) && q.session.Additional == p.session.Additional {
			return nil, "SESSION_ALREADY_ANNOUNCED", fmt.Sprintf("%s is already announced for this session on %s (announcement %s)", p.isin, *au.TradeDate, q.id)
		}
	}
	p.generateOrders()
	return p, "", ""
}

// checkWindow compares the announced times with the exchange's timetable
// for the session.
func checkWindow(s securities.Session, a *kasetypes.PlacementAnnouncement) (string, string) {
	open, close := s.OrderWindow()
	deadline := s.CutoffDeadline()
	au := a.Auction
	starts, ends, cutoff := au.OrderWindowStart, au.OrderWindowEnd, au.CutoffDeadline
	where := "Auction"
	if s.Additional {
		add := au.AdditionalSession
		starts, ends, cutoff = add.OrderWindowStart, add.OrderWindowEnd, add.CutoffDeadline
		where = "Auction/AdditionalSession"
	}
	for _, c := range []struct {
		name string
		got  *kasetypes.DateTimeWithOffset
		want time.Time
	}{{"OrderWindowStart", starts, open}, {"OrderWindowEnd", ends, close}, {"CutoffDeadline", cutoff, deadline}} {
		t, err := parseInstant(c.got)
		if err != nil || !t.Equal(c.want) {
			got := "missing"
			if c.got != nil {
				got = string(*c.got)
			}
			return "INVALID_WINDOW", fmt.Sprintf("%s/%s is %s; the exchange's timetable says %s", where, c.name, got, c.want.Format(time.RFC3339))
		}
	}
	return "", ""
}

// investors are the simulated members, in the order codes are dealt.
var investors = []struct {
	prefix string
	kind   kasetypes.InvestorType
}{
	{"BANK", kasetypes.InvestorTypeBANK},
	{"PF", kasetypes.InvestorTypePENSION_FUND},
	{"BD", kasetypes.InvestorTypeBROKER_DEALER},
	{"IC", kasetypes.InvestorTypeOTHER_INSTITUTIONAL},
	{"NR", kasetypes.InvestorTypeNON_RESIDENT},
}

// generateOrders deals the simulated participants' orders from the
// control's seed: the same seed and terms give the same orders.
func (p *placement) generateOrders() {
	r := rand.New(rand.NewPCG(p.control.Seed, p.control.Seed^0x9e3779b97f4a7c15))
	p.kinds = map[string]kasetypes.InvestorType{}
	base := securities.Percent(12 * 10_000)
	if p.couponRate > 0 {
		base = p.couponRate
	}
	for i := 0; i < p.control.Participants; i++ {
		inv := investors[i%len(investors)]
		code := fmt.Sprintf("%s%02d", inv.prefix, i/len(investors)+1)
		p.kinds[code] = inv.kind
		// Each member asks for 3–20 % of the offer, at least one security.
		units := max(1, p.offered*int64(3+r.IntN(18))/100)
		o := securities.Order{ID: fmt.Sprintf("%s-%03d", code, i+1), Participant: code, Type: securities.MarketOrder, Units: units}
		if r.Float64() < p.control.LimitShare {
			o.Type = securities.LimitOrder
			if p.subject == securities.SubjectRate {
				o.Value = max(100, base+securities.Percent((r.IntN(251)-100)*100))
			} else {
				o.Value = securities.Percent(100*10_000 + (r.IntN(401)-300)*100)
			}
		}
		p.orders = append(p.orders, o)
	}
}

// decide applies the issuer's decision at now: the outcome, or a refusal
// code and reason.
func (p *placement) decide(d *kasetypes.CutoffDecision, now time.Time) (*outcome, string, string) {
	if *d.Session != p.kind() {
		return nil, "SESSION_MISMATCH", fmt.Sprintf("the placement is in the %s session, the decision is for the %s one", p.kind(), *d.Session)
	}
	open, close := p.session.OrderWindow()
	deadline := p.session.CutoffDeadline()
	local := now.In(securities.Astana).Format("2006-01-02 15:04:05")
	switch {
	case now.Before(close):
		return nil, "WINDOW_NOT_CLOSED", fmt.Sprintf("at %s Astana time (UTC+5) orders are still taken (%s–%s): a cut-off comes after %s", local, open.Format("15:04"), close.Format("15:04"), close.Format("2006-01-02 15:04"))
	case now.After(deadline):
		return nil, "DEADLINE_PASSED", fmt.Sprintf("the cut-off deadline was %s Astana time (UTC+5); it is %s", deadline.Format("2006-01-02 15:04"), local)
	case p.decision != "":
		return nil, "ALREADY_DECIDED", fmt.Sprintf("decision %s already ended this session", p.decision)
	}
	if d.Failed != nil {
		return &outcome{outcome: kasetypes.OutcomeFAILED_BY_ISSUER}, "", ""
	}
	value, want := d.CutoffPrice, "CutoffPrice"
	if p.subject == securities.SubjectRate {
		value, want = d.CutoffRate, "CutoffRate"
	}
	if value == nil {
		return nil, "WRONG_SUBJECT", fmt.Sprintf("the auction is by %s: the decision needs %s", map[bool]string{true: "rate", false: "price"}[p.subject == securities.SubjectRate], want)
	}
	cutoff, err := securities.ParsePercent(string(*value))
	if err != nil || cutoff <= 0 {
		return nil, "WRONG_SUBJECT", fmt.Sprintf("%s %s is not a positive percentage", want, *value)
	}
	if p.control.Outcome == string(kasetypes.OutcomeINVALID) {
		return &outcome{outcome: kasetypes.OutcomeINVALID, cutoff: cutoff}, "", ""
	}
	res, err := securities.Allocate(securities.Auction{Subject: p.subject, Offered: p.offered, Cutoff: cutoff, MarketShare: p.marketShare, Pricing: p.pricing}, p.orders)
	if err != nil {
		return nil, "CUTOFF_NOT_ALLOCATABLE", err.Error()
	}
	if res.Outcome == securities.Invalid {
		return &outcome{outcome: kasetypes.OutcomeINVALID, cutoff: cutoff, alloc: res}, "", ""
	}
	return &outcome{outcome: kasetypes.OutcomePLACED, cutoff: cutoff, alloc: res}, "", ""
}

// priceOf is the clean price an order is paid at for value, its price or
// rate: in a rate auction securities sell at par.
func (p *placement) priceOf(value securities.Percent) securities.Percent {
	if p.subject == securities.SubjectRate {
		return 100 * 10_000
	}
	return value
}

// yieldOf is the yield quoted for value (see the package comment).
func (p *placement) yieldOf(value securities.Percent) securities.Percent {
	if p.subject == securities.SubjectRate {
		return value
	}
	if p.couponRate == 0 {
		y, err := securities.DiscountYield(value, p.settlement, p.maturity)
		if err != nil {
			return 0
		}
		return y
	}
	days := p.maturity.Sub(p.settlement).Hours() / 24
	if days <= 0 {
		return 0
	}
	years := new(big.Rat).SetFrac64(int64(days), 365)
	hundred := big.NewRat(100, 1)
	gain := new(big.Rat).Sub(hundred, value.Rat())
	num := new(big.Rat).Add(p.couponRate.Rat(), gain.Quo(gain, years))
	den := new(big.Rat).Quo(new(big.Rat).Add(hundred, value.Rat()), big.NewRat(2, 1))
	y := num.Quo(num, den)
	y.Mul(y, hundred)
	if y.Sign() < 0 {
		return 0
	}
	out, err := securities.RoundPercent(y)
	if err != nil {
		return 0
	}
	return out
}

func pct(v securities.Percent) *kasetypes.Percent4 { x := kasetypes.Percent4(v.String()); return &x }

func amt(a securities.Amount) *kasetypes.Amount { x := kasetypes.Amount(a.String()); return &x }

func count(n int) *kasetypes.Count { x := kasetypes.Count(n); return &x }

func qty(n int64) *kasetypes.Quantity { x := kasetypes.Quantity(n); return &x }

// consideration is what units cost at value; an amount beyond the
// schema's digits cannot arise from a declared volume it accepted.
func (p *placement) consideration(value securities.Percent, units int64) securities.Amount {
	a, err := securities.Consideration(p.face, p.priceOf(value), units)
	if err != nil {
		return 0
	}
	return a
}

// percentRange is the min, max and unit-weighted average of values.
func percentRange(values []securities.Percent, weights []int64) *kasetypes.PercentRange {
	if len(values) == 0 {
		return nil
	}
	lo, hi := values[0], values[0]
	sum, n := new(big.Rat), int64(0)
	for i, v := range values {
		lo, hi = min(lo, v), max(hi, v)
		sum.Add(sum, new(big.Rat).Mul(v.Rat(), big.NewRat(weights[i], 1)))
		n += weights[i]
	}
	avg, err := securities.RoundPercent(sum.Quo(sum, big.NewRat(max(n, 1), 1)))
	if err != nil {
		avg = lo
	}
	return &kasetypes.PercentRange{Min: pct(lo), Max: pct(hi), WeightedAverage: pct(avg)}
}

// priceAndYield are the clean price and yield ranges of the given fills
// (order values, or what the orders were filled at).
func (p *placement) priceAndYield(values []securities.Percent, weights []int64) (price, yield *kasetypes.PercentRange) {
	if len(values) == 0 {
		return nil, nil
	}
	yields := make([]securities.Percent, len(values))
	for i, v := range values {
		yields[i] = p.yieldOf(v)
	}
	if p.subject == securities.SubjectRate {
		return nil, percentRange(yields, weights)
	}
	return percentRange(values, weights), percentRange(yields, weights)
}

type tally struct {
	limit, market             int
	limitUnits, marketUnits   int64
	limitAmount, marketAmount securities.Amount
	values                    []securities.Percent
	weights                   []int64
}

// demand sums the orders; market orders are valued at the limit orders'
// weighted average (par when there are none), as they would be filled.
func (p *placement) demand() tally {
	var t tally
	for _, o := range p.orders {
		if o.Type == securities.LimitOrder {
			t.limit++
			t.limitUnits += o.Units
			t.limitAmount += p.consideration(o.Value, o.Units)
			t.values = append(t.values, o.Value)
			t.weights = append(t.weights, o.Units)
		}
	}
	avg := p.priceOf(0)
	if r := percentRange(t.values, t.weights); r != nil && p.subject == securities.SubjectPrice {
		avg, _ = securities.ParsePercent(string(*r.WeightedAverage))
	}
	for _, o := range p.orders {
		if o.Type == securities.MarketOrder {
			t.market++
			t.marketUnits += o.Units
			a, _ := securities.Consideration(p.face, avg, o.Units)
			t.marketAmount += a
		}
	}
	return t
}

func (p *placement) summary(id string, now time.Time) *kasetypes.DemandSummary {
	t := p.demand()
	kind := p.kind()
	price, yield := p.priceAndYield(t.values, t.weights)
	ratio := kasetypes.RatioPercent(ratio2(t.limitUnits+t.marketUnits, p.offered))
	return &kasetypes.DemandSummary{
		MessageId:        mid(id),
		CreationDateTime: stamp(now),
		AnnouncementId:   mid(p.id),
		Session:          &kind,
		Participants:     count(len(p.kinds)),
		Orders:           &kasetypes.OrderCounts{Total: count(t.limit + t.market), Limit: count(t.limit), Market: count(t.market)},
		Volumes: &kasetypes.OrderVolumes{
			Total:  &kasetypes.Volume{Units: qty(t.limitUnits + t.marketUnits), Amount: amt(t.limitAmount + t.marketAmount)},
			Limit:  &kasetypes.Volume{Units: qty(t.limitUnits), Amount: amt(t.limitAmount)},
			Market: &kasetypes.Volume{Units: qty(t.marketUnits), Amount: amt(t.marketAmount)},
		},
		DemandToOfferPercent: &ratio,
		CleanPrice:           price,
		Yield:                yield,
	}
}

func (p *placement) resultMessage(id string, now time.Time) *kasetypes.AuctionResult {
	t := p.demand()
	kind := p.kind()
	out := p.result.outcome
	trade := kasetypes.ISODate(p.session.TradeDate.Format(time.DateOnly))
	ratio := kasetypes.RatioPercent(ratio2(t.limitUnits+t.marketUnits, p.offered))
	r := &kasetypes.AuctionResult{
		MessageId:            mid(id),
		CreationDateTime:     stamp(now),
		AnnouncementId:       mid(p.id),
		Session:              &kind,
		TradeDate:            &trade,
		Outcome:              &out,
		Participants:         count(len(p.kinds)),
		Orders:               &kasetypes.OrderCounts{Total: count(t.limit + t.market), Limit: count(t.limit), Market: count(t.market)},
		ActiveOrders:         &kasetypes.OrderCounts{Total: count(0), Limit: count(0), Market: count(0)},
		ActiveVolume:         &kasetypes.Volume{Units: qty(0), Amount: amt(0)},
		DemandToOfferPercent: &ratio,
	}
	if out != kasetypes.OutcomePLACED {
		return r
	}
	res := p.result.alloc
	settle := kasetypes.ISODate(p.settlement.Format(time.DateOnly))
	r.SettlementDate = &settle
	var active kasetypes.OrderCounts
	var limits, markets int
	var values []securities.Percent
	var weights []int64
	var total securities.Amount
	shares := map[kasetypes.InvestorType]int64{}
	for _, f := range res.Fills {
		if f.Units == 0 {
			continue
		}
		ot := kasetypes.OrderTypeLIMIT
		if f.Order.Type == securities.MarketOrder {
			ot = kasetypes.OrderTypeMARKET
			markets++
		} else {
			limits++
			values = append(values, f.Value)
			weights = append(weights, f.Units)
		}
		a := p.consideration(f.Value, f.Units)
		total += a
		shares[p.kinds[f.Order.Participant]] += f.Units
		code := kasetypes.ParticipantCode(f.Order.Participant)
		r.Allocation = append(r.Allocation, &kasetypes.Allocation{
			ParticipantCode: &code, OrderType: &ot,
			Price: pct(p.priceOf(f.Value)), Yield: pct(p.yieldOf(f.Value)),
			Quantity: qty(f.Units), Amount: amt(a),
		})
	}
	active.Total, active.Limit, active.Market = count(limits+markets), count(limits), count(markets)
	r.ActiveOrders = &active
	r.ActiveVolume = &kasetypes.Volume{Units: qty(res.PlacedUnits()), Amount: amt(total)}
	r.CleanPrice, r.Yield = p.priceAndYield(values, weights)
	r.PlacedVolume = &kasetypes.Volume{Units: qty(res.PlacedUnits()), Amount: amt(total)}
	r.CutoffPrice, r.CutoffYield = pct(p.priceOf(p.result.cutoff)), pct(p.yieldOf(p.result.cutoff))
	r.WeightedAveragePrice, r.WeightedAverageYield = pct(p.priceOf(res.WeightedAverage)), pct(p.yieldOf(res.WeightedAverage))
	for _, inv := range investors {
		if n := shares[inv.kind]; n > 0 {
			kind := inv.kind
			share := kasetypes.SharePercent(ratio2(n, res.PlacedUnits()))
			r.InvestorShare = append(r.InvestorShare, &kasetypes.InvestorShare{InvestorType: &kind, Percent: &share})
		}
	}
	return r
}

// handover is what the depository settles for a placed session.
func (p *placement) handover() csd.Placement {
	out := csd.Placement{
		AnnouncementID: p.id, ISIN: p.isin, Type: p.typ, FaceValue: p.face, Currency: p.currency,
		CirculationStart: p.circulationStart, Maturity: p.maturity,
		CouponRate: p.couponRate, CouponFrequency: p.frequency, Basis: p.basis,
		TradeDate: p.session.TradeDate, SettlementDate: p.settlement,
	}
	if p.subject == securities.SubjectRate {
		// A rate auction sets the coupon: the cut-off rate.
		out.CouponRate = p.result.cutoff
	}
	for _, f := range p.result.alloc.Fills {
		if f.Units > 0 {
			out.Allocations = append(out.Allocations, csd.Allocation{Participant: f.Order.Participant, Units: f.Units,
				Price: p.priceOf(f.Value), Amount: p.consideration(f.Value, f.Units)})
		}
	}
	return out
}

func (p *placement) state() PlacementState {
	st := PlacementState{AnnouncementID: p.id, ISIN: p.isin, Session: string(p.kind()), Summarized: p.summarized, Decision: p.decision, HandoverError: p.handoverError}
	for _, o := range p.orders {
		os := OrderState{Participant: o.Participant, Type: "LIMIT", Units: o.Units}
		if o.Type == securities.MarketOrder {
			os.Type = "MARKET"
		} else {
			os.Value = o.Value.String()
		}
		st.Orders = append(st.Orders, os)
	}
	if p.result != nil {
		st.Outcome = string(p.result.outcome)
		if p.result.outcome == kasetypes.OutcomePLACED {
			st.Allocations = p.handover().Allocations
		}
	}
	return st
}
