package kase

import (
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/contracts/kase"
	"github.com/minfin-kz/kopir/contracts/kase/kasetypes"
	"github.com/minfin-kz/kopir/contracts/securities"
)

// Announcement is the internal JSON of operation "announce": one placement
// of an issue at a special trading session. Decimals are strings, read
// exactly (amounts to 2 decimals, percentages to 4), never floats.
type Announcement struct {
	ISIN        string `json:"isin"`
	Type        string `json:"type"` // MEKKAM, MEOKAM, MEUKAM, MEUZHKAM, MEIKAM
	IssueNumber int    `json:"issueNumber"`
	TradeCode   string `json:"tradeCode"` // e.g. MUM120_0001
	// TermMonths is the issue's term the trade code must carry; when
	// omitted, the whole months from circulation start to maturity.
	TermMonths int    `json:"termMonths,omitempty"`
	FaceValue  string `json:"faceValue"`
	// Currency defaults to the first of the route's currencies (KZT).
	Currency string `json:"currency,omitempty"`
	// Volume is the issue's whole volume in units, when the caller sends
	// the issue's terms along; the placement may not exceed it.
	Volume         *int64 `json:"volume,omitempty"`
	DeclaredVolume int64  `json:"declaredVolume"` // units offered at this session
	// Dates are YYYY-MM-DD. LastCirculationDay defaults to the day before
	// maturity.
	CirculationStart   string `json:"circulationStart"`
	LastCirculationDay string `json:"lastCirculationDay,omitempty"`
	Maturity           string `json:"maturity"`
	// Coupon terms: none for MEKKAM (discount notes); couponRate only when
	// the auction's subject is the price. CouponSchedule, when given, is
	// checked against the frequency; when omitted it is computed.
	CouponRate      string   `json:"couponRate,omitempty"`
	CouponFrequency int      `json:"couponFrequency,omitempty"`
	CouponSchedule  []string `json:"couponSchedule,omitempty"`
	DayBasis        string   `json:"dayBasis"` // actual/actual, 30/360, actual/365 (or ACT/ACT, ACT/365)

	TradeDate        string `json:"tradeDate"`
	Subject          string `json:"subject"`              // PRICE or RATE
	MarketOrderShare string `json:"marketOrderShare"`     // % of the volume market orders may take, 0–100
	Settlement       string `json:"settlement,omitempty"` // T2 (default) or T0
	Pricing          string `json:"pricing,omitempty"`    // OWN_PRICE (default) or CUTOFF_PRICE
	// AdditionalSession: the additional session 15:30–16:15 may be held
	// the same day, with its cut-off by 17:00.
	AdditionalSession bool `json:"additionalSession"`
}

// Answer is the internal answer of both operations once the exchange took
// the document.
type Answer struct {
	Status         string `json:"status"` // ACCEPTED
	AnnouncementID string `json:"announcementId"`
	DecisionID     string `json:"decisionId,omitempty"`
	AckID          string `json:"ackId"`
	Session        string `json:"session,omitempty"` // MAIN or ADDITIONAL, for a decision
}

func parseDate(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, adapters.Invalid(field, "is required (YYYY-MM-DD)")
	}
	d, err := securities.ParseDate(s)
	if err != nil {
		return time.Time{}, adapters.Invalid(field, "%v", err)
	}
	return d, nil
}

func (a *Adapter) buildAnnouncement(req *adapters.Request) (*kasetypes.PlacementAnnouncement, error) {
	var in Announcement
	if err := adapters.DecodeStrict(req.Body, &in); err != nil {
		return nil, err
	}
	typ, err := securities.ParseType(in.Type)
	if err != nil {
		return nil, adapters.Invalid("type", "%v", err)
	}
	if err := securities.ValidateISINForType(in.ISIN, typ); err != nil {
		return nil, adapters.Invalid("isin", "%v", err)
	}
	req.Subject = in.ISIN
	if in.IssueNumber < 1 || in.IssueNumber > 9999 {
		return nil, adapters.Invalid("issueNumber", "%d is not an issue number (1 to 9999)", in.IssueNumber)
	}
	start, err := parseDate("circulationStart", in.CirculationStart)
	if err != nil {
		return nil, err
	}
	maturity, err := parseDate("maturity", in.Maturity)
	if err != nil {
		return nil, err
	}
	if !start.Before(maturity) {
		return nil, adapters.Invalid("maturity", "%s is not after circulation start %s", in.Maturity, in.CirculationStart)
	}
	lastDay := maturity.AddDate(0, 0, -1)
	if in.LastCirculationDay != "" {
		if lastDay, err = parseDate("lastCirculationDay", in.LastCirculationDay); err != nil {
			return nil, err
		}
		if lastDay.Before(start) || !lastDay.Before(maturity) {
			return nil, adapters.Invalid("lastCirculationDay", "%s is not within circulation start %s and the day before maturity %s", in.LastCirculationDay, in.CirculationStart, in.Maturity)
		}
	}
	term := securities.TermMonths(start, maturity)
	if in.TermMonths != 0 && in.TermMonths != term {
		return nil, adapters.Invalid("termMonths", "%d months is not the issue's term: %s to %s is %d whole months", in.TermMonths, in.CirculationStart, in.Maturity, term)
	}
	if err := securities.CheckTradeCode(in.TradeCode, typ, term); err != nil {
		return nil, adapters.Invalid("tradeCode", "%v", err)
	}
	if code, _ := securities.ParseTradeCode(in.TradeCode); code.IssueNumber != in.IssueNumber {
		return nil, adapters.Invalid("tradeCode", "trade code %q names issue %d, the announcement issue %d", in.TradeCode, code.IssueNumber, in.IssueNumber)
	}
	face, err := securities.ParseAmount(in.FaceValue)
	if err != nil {
		return nil, adapters.Invalid("faceValue", "%v", err)
	}
	if face != typ.FaceValue() {
		return nil, adapters.Invalid("faceValue", "%s tenge is not the face value of a %v, which is %s", face, typ, typ.FaceValue())
	}
	currency := in.Currency
	if currency == "" {
		currency = a.currencies[0]
	}
	if !slices.Contains(a.currencies, currency) {
		return nil, adapters.Invalid("currency", "%q is not a currency of this route (%s)", currency, strings.Join(a.currencies, ", "))
	}
	if in.DeclaredVolume < 1 {
		return nil, adapters.Invalid("declaredVolume", "must be at least one security, got %d", in.DeclaredVolume)
	}
	if in.Volume != nil && in.DeclaredVolume > *in.Volume {
		return nil, adapters.Invalid("declaredVolume", "%d securities is more than the issue's volume of %d", in.DeclaredVolume, *in.Volume)
	}
	million, err := millionTenge(face, in.DeclaredVolume)
	if err != nil {
		return nil, adapters.Invalid("declaredVolume", "%v", err)
	}
	basis, err := parseBasis(in.DayBasis)
	if err != nil {
		return nil, adapters.Invalid("dayBasis", "%v", err)
	}
	subject, err := oneOf("subject", in.Subject, "", "PRICE", "RATE")
	if err != nil {
		return nil, err
	}
	security := &kasetypes.SecurityTerms{
		SecurityType:       p(kasetypes.SecurityType(typ.String())),
		ISIN:               p(kasetypes.ISIN(in.ISIN)),
		IssueNumber:        p(kasetypes.IssueNumber(in.IssueNumber)),
		TradeCode:          p(kasetypes.TradeCode(in.TradeCode)),
		FaceValue:          p(kasetypes.Amount(face.String())),
		Currency:           p(kasetypes.Currency(currency)),
		DeclaredVolume:     &kasetypes.DeclaredVolume{Units: p(kasetypes.Quantity(in.DeclaredVolume)), MillionTenge: p(kasetypes.MillionTenge(million))},
		CirculationStart:   p(kasetypes.ISODate(start.Format(time.DateOnly))),
		LastCirculationDay: p(kasetypes.ISODate(lastDay.Format(time.DateOnly))),
		Maturity:           p(kasetypes.ISODate(maturity.Format(time.DateOnly))),
		DayBasis:           p(basis),
	}
	if err := a.coupons(&in, typ, subject, start, maturity, security); err != nil {
		return nil, err
	}
	tradeDate, err := parseDate("tradeDate", in.TradeDate)
	if err != nil {
		return nil, err
	}
	if !a.cal.IsBusinessDay(tradeDate) {
		return nil, adapters.Invalid("tradeDate", "%s (%s) is not a business day: the exchange does not trade on weekends or public holidays", in.TradeDate, tradeDate.Weekday())
	}
	if today := securities.Date(a.now().In(securities.Astana).Date()); tradeDate.Before(today) {
		return nil, adapters.Invalid("tradeDate", "%s is in the past: today is %s in Astana", in.TradeDate, today.Format(time.DateOnly))
	}
	share, err := sharePercent(in.MarketOrderShare)
	if err != nil {
		return nil, adapters.Invalid("marketOrderShare", "%v", err)
	}
	settlement, err := oneOf("settlement", in.Settlement, "T2", "T2", "T0")
	if err != nil {
		return nil, err
	}
	pricing, err := oneOf("pricing", in.Pricing, "OWN_PRICE", "OWN_PRICE", "CUTOFF_PRICE")
	if err != nil {
		return nil, err
	}
	main := securities.Session{TradeDate: tradeDate}
	open, closing := main.OrderWindow()
	additional := &kasetypes.AdditionalSession{Held: p(kasetypes.Indicator(in.AdditionalSession))}
	if in.AdditionalSession {
		extra := securities.Session{TradeDate: tradeDate, Additional: true}
		xo, xc := extra.OrderWindow()
		additional.OrderWindowStart, additional.OrderWindowEnd, additional.CutoffDeadline = stamp(xo), stamp(xc), stamp(extra.CutoffDeadline())
	}
	req.ExternalID = MsgID(req.MessageID)
	return &kasetypes.PlacementAnnouncement{
		MessageId:        p(kasetypes.MessageId(req.ExternalID)),
		CreationDateTime: p(kasetypes.DateTimeWithOffset(a.timestamp())),
		Issuer:           p(kasetypes.IssuerCode(a.issuer)),
		Security:         security,
		Auction: &kasetypes.AuctionTerms{
			TradeDate:             p(kasetypes.ISODate(tradeDate.Format(time.DateOnly))),
			Subject:               p(kasetypes.AuctionSubject(subject)),
			OrderWindowStart:      stamp(open),
			OrderWindowEnd:        stamp(closing),
			CutoffDeadline:        stamp(main.CutoffDeadline()),
			MarketOrderShareLimit: p(kasetypes.SharePercent(share)),
			Settlement:            p(kasetypes.Settlement(settlement)),
			AdditionalSession:     additional,
			PricingMode:           p(kasetypes.PricingMode(pricing)),
		},
	}, nil
}

// coupons checks the coupon terms against the type and the subject and
// fills them in: the schedule as announced (each date checked against the
// frequency and the calendar) or, when none is given, as the terms give it.
func (a *Adapter) coupons(in *Announcement, typ securities.Type, subject string, start, maturity time.Time, s *kasetypes.SecurityTerms) error {
	if typ == securities.MEKKAM {
		switch {
		case subject != "PRICE":
			return adapters.Invalid("subject", "a MEKKAM is a discount note, placed by price only")
		case in.CouponRate != "":
			return adapters.Invalid("couponRate", "a MEKKAM is a discount note and pays no coupon")
		case in.CouponFrequency != 0:
			return adapters.Invalid("couponFrequency", "a MEKKAM is a discount note and pays no coupon")
		case len(in.CouponSchedule) > 0:
			return adapters.Invalid("couponSchedule", "a MEKKAM is a discount note and pays no coupon")
		}
		return nil
	}
	switch in.CouponFrequency {
	case 1, 2, 4, 12:
	case 0:
		return adapters.Invalid("couponFrequency", "is required for a %v: coupons a year (1, 2, 4 or 12)", typ)
	default:
		return adapters.Invalid("couponFrequency", "%d is not 1, 2, 4 or 12 coupons a year", in.CouponFrequency)
	}
	switch {
	case subject == "RATE" && in.CouponRate != "":
		return adapters.Invalid("couponRate", "is what the auction sets when its subject is RATE; leave it out")
	case subject == "PRICE" && in.CouponRate == "":
		return adapters.Invalid("couponRate", "is required when the auction's subject is PRICE (%% a year, up to 4 decimals)")
	case subject == "PRICE":
		rate, err := securities.ParsePercent(in.CouponRate)
		if err != nil {
			return adapters.Invalid("couponRate", "%v", err)
		}
		if rate == 0 || rate > maxPercent4 {
			return adapters.Invalid("couponRate", "%s %% is not a coupon rate", rate)
		}
		s.CouponRate = p(kasetypes.Percent4(rate.String()))
	}
	want, err := securities.Schedule(start, maturity, in.CouponFrequency, a.cal)
	if err != nil {
		return adapters.Invalid("couponFrequency", "%v", err)
	}
	dates := make([]*kasetypes.ISODate, 0, len(want))
	if len(in.CouponSchedule) == 0 {
		for _, c := range want {
			dates = append(dates, p(kasetypes.ISODate(c.Payment.Format(time.DateOnly))))
		}
	} else {
		announced := make([]time.Time, len(in.CouponSchedule))
		for i, s := range in.CouponSchedule {
			d, err := parseDate(fmt.Sprintf("couponSchedule[%d]", i), s)
			if err != nil {
				return err
			}
			if !a.cal.IsBusinessDay(d) {
				return adapters.Invalid(fmt.Sprintf("couponSchedule[%d]", i), "%s (%s) is not a business day; the coupon is paid on %s",
					s, d.Weekday(), a.cal.Following(d).Format(time.DateOnly))
			}
			announced[i] = d
			dates = append(dates, p(kasetypes.ISODate(d.Format(time.DateOnly))))
		}
		if err := securities.CheckSchedule(start, maturity, in.CouponFrequency, a.cal, announced); err != nil {
			return adapters.Invalid("couponSchedule", "%v", err)
		}
	}
	s.CouponFrequency = p(kasetypes.CouponFrequency(in.CouponFrequency))
	s.CouponSchedule = &kasetypes.CouponSchedule{PaymentDate: dates}
	return nil
}

// millionTenge is the declared volume in million tenge at face value,
// exact, with at most the six decimals the contract allows.
func millionTenge(face securities.Amount, units int64) (string, error) {
	total, err := face.Total(units)
	if err != nil {
		return "", err
	}
	r := new(big.Rat).Quo(total.Rat(), big.NewRat(1_000_000, 1))
	scaled := new(big.Rat).Mul(r, big.NewRat(1_000_000, 1))
	if !scaled.IsInt() {
		return "", fmt.Errorf("%s tenge in million tenge needs more than 6 decimals", total)
	}
	if r.IsInt() {
		return r.Num().String(), nil
	}
	return strings.TrimRight(r.FloatString(6), "0"), nil
}

// sharePercent reads a share of 0–100 % with at most 2 decimals, written
// back with exactly two.
func sharePercent(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("is required: the share of the volume market orders may take, 0 to 100 %%")
	}
	v, err := securities.ParsePercent(s)
	if err != nil {
		return "", err
	}
	if v%100 != 0 {
		return "", fmt.Errorf("%q has more than 2 decimals", s)
	}
	if v > 100*10_000 {
		return "", fmt.Errorf("%s %% is more than 100 %%", s)
	}
	full := v.String()
	return full[:len(full)-2], nil
}

// parseBasis reads the day basis as the exchange writes it in notices or as
// the contract abbreviates it, and gives the contract's form.
func parseBasis(s string) (kasetypes.DayBasis, error) {
	switch strings.ToUpper(strings.ReplaceAll(s, " ", "")) {
	case "ACT/ACT":
		s = "actual/actual"
	case "ACT/365":
		s = "actual/365"
	}
	b, err := securities.ParseBasis(strings.ToLower(s))
	if err != nil {
		return "", err
	}
	switch b {
	case securities.ActualActualICMA:
		return kasetypes.DayBasisACTACT, nil
	case securities.Actual365Fixed:
		return kasetypes.DayBasisACT365, nil
	}
	return kasetypes.DayBasis30360, nil
}

// oneOf checks an enumerated field; empty takes def, or is refused when
// def is empty.
func oneOf(field, v, def string, allowed ...string) (string, error) {
	if v == "" && def != "" {
		return def, nil
	}
	if !slices.Contains(allowed, v) {
		if v == "" {
			return "", adapters.Invalid(field, "is required (one of %s)", strings.Join(allowed, ", "))
		}
		return "", adapters.Invalid(field, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	return v, nil
}

func stamp(t time.Time) *kasetypes.DateTimeWithOffset {
	return p(kasetypes.DateTimeWithOffset(t.In(securities.Astana).Format("2006-01-02T15:04:05-07:00")))
}

func (a *Adapter) decodePlacementAck(req *adapters.Request, body []byte) (*adapters.Response, error) {
	var ack kasetypes.PlacementAck
	if err := kase.Unmarshal(body, &ack); err != nil {
		return nil, badAck(kase.PlacementAck, err)
	}
	id := MsgID(req.MessageID)
	if got := string(*ack.AnnouncementId); got != id {
		return nil, badAck(kase.PlacementAck, fmt.Errorf("it acknowledges announcement %s, this is %s", got, id))
	}
	if *ack.Status != kasetypes.AckStatusACCEPTED {
		return nil, refused("announcement", ack.Refusal)
	}
	return answer(Answer{Status: string(*ack.Status), AnnouncementID: id, AckID: string(*ack.MessageId)})
}
