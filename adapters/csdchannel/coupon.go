package csdchannel

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/minfin-kz/kopir/adapters/csd"
	"github.com/minfin-kz/kopir/contracts/securities"
)

// Where a seev.031 carries what the channel reads, relative to
// CorpActnNtfctn; the first of each list that is present wins.
var (
	ratePaths = []string{
		"CorpActnOptnDtls/RateAndAmtDtls/IntrstRateUsdForPmt/Rate",
		"CorpActnOptnDtls/CshMvmntDtls/RateAndAmtDtls/IntrstRateUsdForPmt/Rate",
		"CorpActnDtls/RateAndAmtDtls/IntrstRate/Rate",
		"CorpActnGnlInf/UndrlygScty/IntrstRate/Rate",
	}
	perUnitPaths = []string{
		"CorpActnOptnDtls/CshMvmntDtls/RateAndAmtDtls/IntrstRateUsdForPmt/Amt",
		"CorpActnOptnDtls/RateAndAmtDtls/IntrstRateUsdForPmt/Amt",
		"CorpActnOptnDtls/CshMvmntDtls/RateAndAmtDtls/GrssDvddRate/Amt",
		"CorpActnOptnDtls/RateAndAmtDtls/GrssDvddRate/Amt",
		"CorpActnOptnDtls/CshMvmntDtls/PricDtls/GncCshPricRcvdPerPdct/AmtPric/PricVal",
		"CorpActnDtls/RateAndAmtDtls/IntrstRate/Amt",
	}
	paymentDatePaths = []string{"CorpActnDtls/DtDtls/PmtDt/Dt", "CorpActnOptnDtls/CshMvmntDtls/DtDtls/PmtDt/Dt"}
)

// dayBasisCodes are the ISO 20022 interest computation methods that are
// the conventions contracts/securities computes: A005 actual/365 fixed,
// A006 actual/actual ICMA, A007 30E/360 and A011 30/360 ICMA (the same
// count for two dates).
var dayBasisCodes = map[string]securities.Basis{
	"A005": securities.Actual365Fixed, "A006": securities.ActualActualICMA,
	"A007": securities.Thirty360, "A011": securities.Thirty360,
}

// Disagreement is what a seev.031's JSON carries when its amount per unit
// is not the bus's own computation.
type Disagreement struct {
	Notice   string `json:"notice"`
	Computed string `json:"computed"`
}

func (c *Channel) seev031(t *translated, n *csd.Node) {
	b := t.body
	gi := n.Get("CorpActnGnlInf")
	sec := gi.Get("UndrlygScty")
	isin := sec.Value("FinInstrmId/ISIN")
	event := gi.First("EvtTp/Cd", "EvtTp/Prtry/Id")
	set(b, "eventId", gi.Value("CorpActnEvtId"))
	set(b, "eventType", event)
	set(b, "notificationType", n.Value("NtfctnGnlInf/NtfctnTp"))
	set(b, "isin", isin)
	set(b, "maturityDate", sec.Value("MtrtyDt"))
	set(b, "currency", sec.Value("DnmtnCcy"))
	set(b, "recordDate", n.Value("CorpActnDtls/DtDtls/RcrdDt/Dt"))
	payment := n.First(paymentDatePaths...)
	set(b, "paymentDate", payment)
	rate := n.First(ratePaths...)
	set(b, "rate", rate)
	var perUnit *Amount
	for _, p := range perUnitPaths {
		if perUnit = amountOf(n.Get(p)); perUnit != nil {
			break
		}
	}
	set(b, "amountPerUnit", perUnit)
	if event != "INTR" || perUnit == nil {
		return
	}
	computed, err := c.couponPerUnit(n, isin, rate, payment)
	if err != nil {
		b["amountNotChecked"] = err.Error()
		return
	}
	notice, ok := new(big.Rat).SetString(perUnit.Value)
	if ok && notice.Cmp(computed.Rat()) == 0 {
		return
	}
	b["amountDisagrees"] = Disagreement{Notice: perUnit.Value, Computed: computed.String()}
	t.notes = append(t.notes, note{action: ActionCouponDisagrees,
		detail: fmt.Sprintf("%s coupon paid %s: notice %s, computed %s per unit (seev.031 %s)", isin, payment, perUnit.Value, computed, b["bizMsgIdr"])})
}

// couponPerUnit is face value × rate × the day-count fraction of the
// coupon period, exactly (securities.CouponAmount). The terms come from
// the notice when it carries them, else from the channel's instruments,
// and the face value at last from the type the ISIN's prefix names. The
// period is the notice's interest period, or else the period of the
// issue's schedule (securities.Schedule, counted back from maturity) that
// pays on the payment date; without the issue date the schedule assumes
// the period is a regular one.
func (c *Channel) couponPerUnit(n *csd.Node, isin, rateText, paymentText string) (securities.Amount, error) {
	sec := n.Get("CorpActnGnlInf/UndrlygScty")
	ins := c.instrumentFor(isin)
	if rateText == "" {
		return 0, fmt.Errorf("the notice gives no interest rate")
	}
	rate, err := securities.ParsePercent(rateText)
	if err != nil {
		return 0, fmt.Errorf("interest rate: %v", err)
	}
	face := ins.face
	if v := sec.Value("MinNmnlQty/FaceAmt"); v != "" {
		if face, err = securities.ParseAmount(v); err != nil {
			return 0, fmt.Errorf("face value: %v", err)
		}
	}
	if face == 0 {
		for _, typ := range securities.Types() {
			if strings.HasPrefix(isin, typ.ISINPrefix()) {
				face = typ.FaceValue()
			}
		}
	}
	if face == 0 {
		return 0, fmt.Errorf("no face value for %s: the notice gives none and no instrument or type matches its prefix", isin)
	}
	basis := ins.basis
	if code := sec.Value("DayCntBsis/Cd"); code != "" {
		if basis = dayBasisCodes[code]; basis == 0 {
			return 0, fmt.Errorf("day basis %s is not one the bus computes", code)
		}
	} else if prtry := sec.Value("DayCntBsis/Prtry/Id"); prtry != "" {
		if basis, err = securities.ParseBasis(prtry); err != nil {
			return 0, err
		}
	}
	if basis == 0 {
		return 0, fmt.Errorf("no day basis for %s: the notice gives none and no instrument matches", isin)
	}
	freq := ins.frequency
	var start, end time.Time
	prd := n.Get("CorpActnDtls/PrdDtls/IntrstPrd/Prd")
	// StartDt/Dt is a choice of a date (Dt) or a date and time (DtTm).
	if s, e := dateOf(prd.Get("StartDt/Dt")), dateOf(prd.Get("EndDt/Dt")); s != "" && e != "" {
		if start, err = securities.ParseDate(s); err != nil {
			return 0, fmt.Errorf("interest period start: %v", err)
		}
		if end, err = securities.ParseDate(e); err != nil {
			return 0, fmt.Errorf("interest period end: %v", err)
		}
		if freq == 0 {
			freq = frequencyOf(start, end)
		}
	}
	if freq == 0 {
		return 0, fmt.Errorf("no coupon frequency for %s: no instrument matches and the notice gives no interest period", isin)
	}
	if start.IsZero() {
		if start, end, err = c.periodPaidOn(sec, freq, paymentText); err != nil {
			return 0, err
		}
	}
	fraction, err := basis.Fraction(start, end, securities.Period{Start: start, End: end, Frequency: freq})
	if err != nil {
		return 0, err
	}
	return securities.CouponAmount(face, rate, fraction)
}

// periodPaidOn finds the schedule's coupon paid on the payment date.
func (c *Channel) periodPaidOn(sec *csd.Node, freq int, paymentText string) (start, end time.Time, err error) {
	if paymentText == "" || sec.Value("MtrtyDt") == "" {
		return start, end, fmt.Errorf("neither an interest period nor a payment date and maturity to find it by")
	}
	payment, err := securities.ParseDate(paymentText)
	if err != nil {
		return start, end, fmt.Errorf("payment date: %v", err)
	}
	maturity, err := securities.ParseDate(sec.Value("MtrtyDt"))
	if err != nil {
		return start, end, fmt.Errorf("maturity: %v", err)
	}
	issued := maturity.AddDate(-100, 0, 0)
	if v := sec.Value("IsseDt"); v != "" {
		if issued, err = securities.ParseDate(v); err != nil {
			return start, end, fmt.Errorf("issue date: %v", err)
		}
	}
	coupons, err := securities.Schedule(issued, maturity, freq, c.cal)
	if err != nil {
		return start, end, err
	}
	for _, cp := range coupons {
		if cp.Payment.Equal(payment) || cp.End.Equal(payment) {
			return cp.Start, cp.End, nil
		}
	}
	return start, end, fmt.Errorf("payment date %s is not a coupon date of the issue's schedule (%d a year to %s)", paymentText, freq, sec.Value("MtrtyDt"))
}

// frequencyOf is the coupons a year a regular period of start–end gives,
// 0 when it is not 1, 3, 6 or 12 months long.
func frequencyOf(start, end time.Time) int {
	months := (end.Year()-start.Year())*12 + int(end.Month()) - int(start.Month())
	switch months {
	case 1, 3, 6, 12:
		return 12 / months
	}
	return 0
}

// instrumentFor is the instrument with the longest prefix of isin, or
// none.
func (c *Channel) instrumentFor(isin string) instrument {
	var best instrument
	for _, in := range c.instruments {
		if strings.HasPrefix(isin, in.prefix) && len(in.prefix) > len(best.prefix) {
			best = in
		}
	}
	return best
}

// dateOf reads an ISO 20022 date-or-date-time choice as a date.
func dateOf(choice *csd.Node) string {
	if d := choice.Value("Dt"); d != "" {
		return d
	}
	if dt := choice.Value("DtTm"); len(dt) >= len("2006-01-02") {
		return dt[:len("2006-01-02")]
	}
	return ""
}
