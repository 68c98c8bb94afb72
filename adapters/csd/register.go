package csd

import (
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/contracts/iso20022/components"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/reda006"
	"github.com/minfin-kz/kopir/contracts/securities"
	"github.com/minfin-kz/kopir/internal/xsd"
)

// Issue is the internal JSON of securities.register-issue.
type Issue struct {
	Type             string `json:"type"`      // MEKKAM, MEOKAM, MEUKAM, MEUZHKAM, MEIKAM
	FaceValue        string `json:"faceValue"` // tenge, the type's
	Volume           int64  `json:"volume"`    // number of securities
	Currency         string `json:"currency"`  // KZT
	CirculationStart string `json:"circulationStart"`
	Maturity         string `json:"maturity"`
	CouponRate       string `json:"couponRate"`      // % a year, at most 4 decimals; none for MEKKAM
	CouponFrequency  int    `json:"couponFrequency"` // 1, 2, 4 or 12; none for MEKKAM
	DayBasis         string `json:"dayBasis"`        // actual/actual, 30/360, actual/365
	IssueNumber      int    `json:"issueNumber,omitempty"`
	TermMonths       int    `json:"termMonths,omitempty"`
	// CouponDates, when given, must be the schedule the terms give (each
	// the coupon date or its business-day payment date).
	CouponDates []string `json:"couponDates,omitempty"`
}

// issue is an Issue that passed the rules.
type issue struct {
	Issue
	typ             securities.Type
	face            securities.Amount
	start, maturity time.Time
	rate            securities.Percent
	basis           securities.Basis
	coupons         []securities.Coupon
	tradeCode       string
}

func (a *Adapter) checkIssue(req *adapters.Request) (*issue, error) {
	var in Issue
	if err := adapters.DecodeStrict(req.Body, &in); err != nil {
		return nil, err
	}
	c := &issue{Issue: in}
	var err error
	if c.typ, err = securities.ParseType(in.Type); err != nil {
		return nil, adapters.Invalid("type", "%v", err)
	}
	if c.face, err = securities.ParseAmount(in.FaceValue); err != nil {
		return nil, adapters.Invalid("faceValue", "%v", err)
	}
	if c.face != c.typ.FaceValue() {
		return nil, adapters.Invalid("faceValue", "a %v has a face value of %s tenge, not %s", c.typ, c.typ.FaceValue(), c.face)
	}
	if in.Volume <= 0 {
		return nil, adapters.Invalid("volume", "the number of securities must be positive, not %d", in.Volume)
	}
	if _, err := c.face.Total(in.Volume); err != nil {
		return nil, adapters.Invalid("volume", "%d securities of %s tenge: %v", in.Volume, c.face, err)
	}
	if in.Currency != "KZT" {
		return nil, adapters.Invalid("currency", "government securities are issued in tenge (KZT), not %q", in.Currency)
	}
	if c.start, err = securities.ParseDate(in.CirculationStart); err != nil {
		return nil, adapters.Invalid("circulationStart", "%v", err)
	}
	if c.maturity, err = securities.ParseDate(in.Maturity); err != nil {
		return nil, adapters.Invalid("maturity", "%v", err)
	}
	if !c.start.Before(c.maturity) {
		return nil, adapters.Invalid("maturity", "maturity %s is not after the circulation start %s", in.Maturity, in.CirculationStart)
	}
	if in.IssueNumber != 0 || in.TermMonths != 0 {
		if in.IssueNumber < 1 || in.IssueNumber > 9999 {
			return nil, adapters.Invalid("issueNumber", "the issue number must be within 1..9999, not %d", in.IssueNumber)
		}
		term := securities.TermMonths(c.start, c.maturity)
		if in.TermMonths != 0 && in.TermMonths != term {
			return nil, adapters.Invalid("termMonths", "%d months is not the issue's term: %s to %s is %d whole months", in.TermMonths, in.CirculationStart, in.Maturity, term)
		}
		code := securities.TradeCode{Type: c.typ, TermMonths: term, IssueNumber: in.IssueNumber}.String()
		if err := securities.CheckTradeCode(code, c.typ, term); err != nil {
			return nil, adapters.Invalid("termMonths", "%v", err)
		}
		c.tradeCode = code
	}
	if c.typ == securities.MEKKAM {
		// Treasury notes are sold at a discount and pay no coupon.
		if in.CouponRate != "" && in.CouponRate != "0" {
			return nil, adapters.Invalid("couponRate", "a MEKKAM is a discount note and has no coupon rate")
		}
		if in.CouponFrequency != 0 {
			return nil, adapters.Invalid("couponFrequency", "a MEKKAM is a discount note and pays no coupons")
		}
		if in.DayBasis != "" {
			if c.basis, err = securities.ParseBasis(in.DayBasis); err != nil {
				return nil, adapters.Invalid("dayBasis", "%v", err)
			}
		}
		return c, nil
	}
	if in.CouponRate == "" {
		return nil, adapters.Invalid("couponRate", "a %v pays a coupon: the rate is required", c.typ)
	}
	if c.rate, err = securities.ParsePercent(in.CouponRate); err != nil {
		return nil, adapters.Invalid("couponRate", "%v", err)
	}
	if c.rate == 0 {
		return nil, adapters.Invalid("couponRate", "a %v pays a coupon: the rate must be positive", c.typ)
	}
	switch in.CouponFrequency {
	case 1, 2, 4, 12:
	default:
		return nil, adapters.Invalid("couponFrequency", "coupons are paid 1, 2, 4 or 12 times a year, not %d", in.CouponFrequency)
	}
	if c.basis, err = securities.ParseBasis(in.DayBasis); err != nil {
		return nil, adapters.Invalid("dayBasis", "%v", err)
	}
	if c.coupons, err = securities.Schedule(c.start, c.maturity, in.CouponFrequency, a.cal); err != nil {
		return nil, adapters.Invalid("couponFrequency", "no coupon schedule: %v", err)
	}
	if len(in.CouponDates) > 0 {
		dates := make([]time.Time, len(in.CouponDates))
		for i, s := range in.CouponDates {
			if dates[i], err = securities.ParseDate(s); err != nil {
				return nil, adapters.Invalid(fmt.Sprintf("couponDates/%d", i), "%v", err)
			}
		}
		if err := securities.CheckSchedule(c.start, c.maturity, in.CouponFrequency, a.cal, dates); err != nil {
			return nil, adapters.Invalid("couponDates", "%v", err)
		}
	}
	return c, nil
}

// Where the issue's terms go in reda.006 (docs/adapters/csd.md):
//
//	type, term, issue  Scty/FinInstrmId/OthrId[Tp/Prtry=KASE]/Id (trade code), Desc
//	face value         Scty/FinInstrmTp/Debt/FaceAmt
//	maturity           Scty/FinInstrmTp/Debt/MtrtyDt
//	circulation start  Scty/FinInstrmTp/Debt/DtdDt and .../Issnc/IsseDt
//	coupon rate        Scty/FinInstrmTp/Debt/IntrstRate
//	frequency          Scty/FinInstrmTp/Debt/PmtFrqcy/Cd (YEAR, MIAN, QURT, MNTH)
//	first coupon       Scty/FinInstrmTp/Debt/FrstPmtDt
//	day basis          Scty/FinInstrmTp/Debt/IntrstClctnMtd ("30/360"…)
//	volume             Scty/FinInstrmAttrbts/Issnc/IsseSz (securities) and FullIssdAmt
//	issuer             Scty/FinInstrmAttrbts/Issnc/IssrOrg (MFRK)
const (
	issuerCode = "MFRK"
	issuerName = "Ministry of Finance of the Republic of Kazakhstan"
)

var frequencyCode = map[int]string{1: "YEAR", 2: "MIAN", 4: "QURT", 12: "MNTH"}

func (a *Adapter) registerIssue(req *adapters.Request) ([]byte, error) {
	c, err := a.checkIssue(req)
	if err != nil {
		return nil, err
	}
	id := MsgID(req.MessageID)
	total, _ := c.face.Total(c.Volume)
	astana := func(d time.Time) *components.ISODateTime {
		return isodoc.P[components.ISODateTime](d.Format("2006-01-02T15:04:05-07:00"))
	}
	tenge := func(v securities.Amount) *components.ActiveCurrencyAndAmount {
		return &components.ActiveCurrencyAndAmount{Value: isodoc.P[components.ActiveCurrencyAndAmount_SimpleType](v.String()), Ccy: isodoc.P[components.ActiveCurrencyCode](c.Currency)}
	}
	debt := &components.Debt5{
		PmtCcy:  isodoc.P[components.ActiveCurrencyCode](c.Currency),
		FaceAmt: tenge(c.face),
		DtdDt:   astana(c.start),
		MtrtyDt: astana(c.maturity),
	}
	if c.basis != 0 {
		debt.IntrstClctnMtd = isodoc.P[components.Max70Text](c.basis.String())
	}
	if len(c.coupons) > 0 {
		debt.IntrstRate = isodoc.P[components.PercentageRate](c.rate.String())
		debt.PmtFrqcy = &components.Frequency35Choice{Cd: isodoc.P[components.Frequency5Code](frequencyCode[c.CouponFrequency])}
		debt.FrstPmtDt = astana(c.coupons[0].Payment)
	}
	desc := fmt.Sprintf("%v issue", c.typ)
	instrID := &components.SecurityIdentification39{}
	if c.tradeCode != "" {
		desc = fmt.Sprintf("%v-%d issue %d", c.typ, c.TermMonths, c.IssueNumber)
		instrID.OthrId = []*components.OtherIdentification1{{Id: isodoc.P[components.Max35Text](c.tradeCode), Tp: &components.IdentificationSource3Choice{Prtry: isodoc.P[components.Max35Text]("KASE")}}}
	}
	instrID.Desc = isodoc.P[components.Max140Text](desc)
	shortName := issuerCode + " " + c.typ.String()
	if c.tradeCode != "" {
		shortName = issuerCode + " " + c.tradeCode
	}
	doc := &reda006.Document{SctyCreReq: &components.SecurityCreationRequestV01{
		MsgHdr: &components.MessageHeader1{MsgId: isodoc.P[components.Max35Text](id), CreDtTm: astana(a.now().In(securities.Astana))},
		Scty: &components.SecurityAttributes10{
			FinInstrmId: instrID,
			FinInstrmTp: []*components.FinancialInstrument97{{Debt: debt}},
			FinInstrmAttrbts: []*components.CommonFinancialInstrumentAttributes10{{
				ISOSctyShrtNm: isodoc.P[components.Max35Text](shortName),
				DnmtnCcy:      isodoc.P[components.ActiveOrHistoricCurrencyCode](c.Currency),
				Issnc: &components.Issuance5{
					CtryOfIsse:  isodoc.P[components.CountryCode]("KZ"),
					IsseDt:      isodoc.P[components.ISODate](c.start.Format(time.DateOnly)),
					IssrOrg:     issuer(),
					FullIssdAmt: tenge(total),
					IsseSz:      isodoc.P[components.Number](fmt.Sprint(c.Volume)),
				}}},
		}}}
	hdr := isodoc.NewHeaderV03(a.opts.MinistryBIC, a.opts.DepositoryBIC, id, isodoc.Reda006, a.opts.BusinessService, a.now())
	out, err := isodoc.MarshalV03(a.env, hdr, isodoc.Reda006, doc)
	if xe, ok := err.(*xsd.Error); ok {
		// The rules above let through something the XSD does not: the
		// caller's 422 on the offending element, never sent.
		return nil, &adapters.Error{Status: http.StatusUnprocessableEntity, Field: xe.Violations[0].Path, Code: "SCHEMA_INVALID",
			Detail: "the reda.006 built from this request fails its XSD: " + xe.Error()}
	}
	return out, err
}

// issuer is the ministry as reda.006 names it: by its issuer code, with
// the registered address the schema requires of an organisation.
func issuer() *components.Organisation38 {
	yes := components.YesNoIndicator(true)
	return &components.Organisation38{
		Nm: isodoc.P[components.Max140Text](issuerName),
		Id: &components.PartyIdentification177Choice{PrtryId: &components.GenericIdentification1{Id: isodoc.P[components.Max35Text](issuerCode), Issr: isodoc.P[components.Max35Text]("KASE")}},
		PstlAdr: []*components.PostalAddress3{{
			AdrTp: isodoc.P[components.AddressType1Code]("BIZZ"), MlngInd: &yes, RegnAdrInd: &yes,
			NmAndAdr: &components.NameAndAddress4{Adr: &components.PostalAddress1{
				StrtNm: isodoc.P[components.Max70Text]("Mangilik El"), BldgNb: isodoc.P[components.Max16Text]("8"),
				TwnNm: isodoc.P[components.Max35Text]("Astana"), Ctry: isodoc.P[components.CountryCode]("KZ")}}}},
	}
}

func jsonResponse(v any) (*adapters.Response, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &adapters.Response{Body: b}, nil
}

// sumDecimals adds decimal strings exactly; ok is false if one is not a
// plain decimal.
func sumDecimals(vs []string) (string, bool) {
	total := new(big.Rat)
	for _, v := range vs {
		r, ok := new(big.Rat).SetString(v)
		if !ok {
			return "", false
		}
		total.Add(total, r)
	}
	return formatRat(total), true
}

// formatRat writes an exact decimal with no more fraction digits than it
// needs (the sums here are of decimals, so the expansion is finite).
func formatRat(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	prec, _ := r.FloatPrec()
	return r.FloatString(prec)
}
