package iso20022

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/internal/iban"
	"github.com/minfin-kz/kopir/internal/kzid"
)

// Decimal is an amount as the caller wrote it: a JSON string ("150000.00")
// or a JSON number (150000.00), kept as text either way so it never passes
// through float64.
type Decimal string

// UnmarshalJSON keeps the literal.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*d = Decimal(s)
		return nil
	}
	if len(b) == 0 || bytes.Equal(b, []byte("null")) || !json.Valid(b) || bytes.ContainsAny(b, "{[tf\"") {
		return &json.UnmarshalTypeError{Value: "non-number", Type: typeOfDecimal}
	}
	*d = Decimal(b)
	return nil
}

// Money is an amount with its currency.
type Money struct {
	Value    Decimal `json:"value"`
	Currency string  `json:"currency"`
}

// Party is a debtor or creditor: an account holder, the account (IBAN) and
// the bank that services it (BIC). BIN (legal entity) or IIN (individual)
// identifies the holder, as Kazakh payment orders require for residents.
type Party struct {
	Name string `json:"name"`
	IBAN string `json:"iban"`
	BIC  string `json:"bic"`
	BIN  string `json:"bin,omitempty"`
	IIN  string `json:"iin,omitempty"`
}

// CreditTransfer is the internal JSON of operation "credit-transfer": one
// payment order, sent as one pacs.008 with one transaction.
//
// One transaction per message because a payment is tracked by its
// end-to-end id: the store indexes one external id per message, and the
// payment system reports status per message and end-to-end id.
type CreditTransfer struct {
	EndToEndID     string `json:"endToEndId"`
	InstructionID  string `json:"instructionId,omitempty"`
	Amount         Money  `json:"amount"`
	SettlementDate string `json:"settlementDate,omitempty"` // YYYY-MM-DD, default today in Kazakhstan
	Debtor         Party  `json:"debtor"`
	Creditor       Party  `json:"creditor"`
	Remittance     string `json:"remittanceInformation,omitempty"`
	KNP            string `json:"knp"`           // payment purpose code
	KOd            string `json:"kod"`           // originator's residency and sector
	KBe            string `json:"kbe"`           // beneficiary's residency and sector
	KBK            string `json:"kbk,omitempty"` // budget classification code, for payments to or from the budget
}

// checked is what validation found out, for the encoder.
type checked struct {
	amount isodoc.Amount
	digits int // the currency's minor units
	date   string
}

// Kazakhstan's time zone (UTC+5 countrywide since March 2024), fixed so
// the binary does not depend on the host's tzdata.
var almaty = time.FixedZone("Asia/Almaty", 5*3600)

func (a *Adapter) today() string { return a.now().In(almaty).Format(time.DateOnly) }

func (a *Adapter) checkCreditTransfer(ct *CreditTransfer) (*checked, error) {
	if err := checkID("endToEndId", ct.EndToEndID, true); err != nil {
		return nil, err
	}
	if err := checkID("instructionId", ct.InstructionID, false); err != nil {
		return nil, err
	}
	amt, digits, err := a.checkMoney("amount", ct.Amount)
	if err != nil {
		return nil, err
	}
	date, err := a.checkDate("settlementDate", ct.SettlementDate)
	if err != nil {
		return nil, err
	}
	if err := checkParty("debtor", ct.Debtor); err != nil {
		return nil, err
	}
	if err := checkParty("creditor", ct.Creditor); err != nil {
		return nil, err
	}
	if ct.Debtor.IBAN == ct.Creditor.IBAN {
		return nil, adapters.Invalid("creditor.iban", "is the debtor's own account")
	}
	if err := checkText("remittanceInformation", ct.Remittance, 140, false); err != nil {
		return nil, err
	}
	if err := checkCodes("", ct.KNP, ct.KOd, ct.KBe, ct.KBK); err != nil {
		return nil, err
	}
	return &checked{amount: amt, digits: digits, date: date}, nil
}

// checkCodes checks Kazakhstan's payment codes; prefix names the
// transaction for a batch ("transactions[2].").
func checkCodes(prefix, knp, kod, kbe, kbk string) error {
	if err := checkKNP(prefix, knp); err != nil {
		return err
	}
	if err := checkSector(prefix+"kod", kod); err != nil {
		return err
	}
	if err := checkSector(prefix+"kbe", kbe); err != nil {
		return err
	}
	return checkKBK(prefix, kbk)
}

func checkKNP(prefix, knp string) error {
	if knp == "" {
		return adapters.Invalid(prefix+"knp", "is required (3-digit payment purpose code)")
	}
	if err := iban.ValidateKNP(knp); err != nil {
		return adapters.Invalid(prefix+"knp", "%s", err)
	}
	return nil
}

func checkSector(field, v string) error {
	if v == "" {
		return adapters.Invalid(field, "is required (2 digits: residency 1/2 and economic sector 1-9)")
	}
	if err := iban.ValidateSectorCode(v); err != nil {
		return adapters.Invalid(field, "%s", err)
	}
	return nil
}

func checkKBK(prefix, kbk string) error {
	if kbk == "" {
		return nil
	}
	if err := iban.ValidateKBK(kbk); err != nil {
		return adapters.Invalid(prefix+"kbk", "%s", err)
	}
	return nil
}

func (a *Adapter) checkMoney(field string, m Money) (isodoc.Amount, int, error) {
	if m.Currency == "" {
		return 0, 0, adapters.Invalid(field+".currency", "is required")
	}
	if !isodoc.ValidCurrency(m.Currency) {
		return 0, 0, adapters.Invalid(field+".currency", "must be an ISO 4217 code such as KZT, got %q", m.Currency)
	}
	if len(a.opts.Currencies) > 0 && !slices.Contains(a.opts.Currencies, m.Currency) {
		return 0, 0, adapters.Invalid(field+".currency", "%s is not accepted on this route (accepted: %s)", m.Currency, strings.Join(a.opts.Currencies, ", "))
	}
	amt, digits, err := parseMoney(m.Value, m.Currency)
	if err != nil {
		return 0, 0, adapters.Invalid(field+".value", "%s", err)
	}
	return amt, digits, nil
}

func parseMoney(v Decimal, ccy string) (isodoc.Amount, int, error) {
	if v == "" {
		return 0, 0, fmt.Errorf("is required")
	}
	amt, err := isodoc.ParseAmount(string(v))
	if err != nil {
		return 0, 0, err
	}
	if amt <= 0 {
		return 0, 0, fmt.Errorf("must be positive, got %s", v)
	}
	digits := isodoc.MinorUnits(ccy)
	if amt.Decimals() > digits {
		return 0, 0, fmt.Errorf("%s allows at most %d decimal places, got %s", ccy, digits, v)
	}
	return amt, digits, nil
}

func (a *Adapter) checkDate(field, s string) (string, error) {
	today := a.today()
	if s == "" {
		return today, nil
	}
	if err := checkDateShape(field, s); err != nil {
		return "", err
	}
	if s < today {
		return "", adapters.Invalid(field, "%s is in the past (today is %s in Kazakhstan)", s, today)
	}
	return s, nil
}

func checkDateShape(field, s string) error {
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return adapters.Invalid(field, "must be a date YYYY-MM-DD, got %q", s)
	}
	return nil
}

func checkParty(field string, p Party) error {
	if err := checkText(field+".name", p.Name, 140, true); err != nil {
		return err
	}
	if p.IBAN == "" {
		return adapters.Invalid(field+".iban", "is required")
	}
	if err := iban.ValidateIBAN(p.IBAN); err != nil {
		return adapters.Invalid(field+".iban", "%s", err)
	}
	if p.BIC == "" {
		return adapters.Invalid(field+".bic", "is required")
	}
	if err := iban.ValidateBIC(p.BIC); err != nil {
		return adapters.Invalid(field+".bic", "%s", err)
	}
	if p.BIN != "" && p.IIN != "" {
		return adapters.Invalid(field+".iin", "give either bin (legal entity) or iin (individual), not both")
	}
	if p.BIN != "" {
		if err := kzid.ValidateBIN(p.BIN); err != nil {
			return adapters.Invalid(field+".bin", "%s", err)
		}
	}
	if p.IIN != "" {
		if err := kzid.ValidateIIN(p.IIN); err != nil {
			return adapters.Invalid(field+".iin", "%s", err)
		}
	}
	return nil
}

// CheckEndToEndID holds an end-to-end id to the rule an order's is held
// to, so that whoever looks a payment up by it refuses what could never
// have been sent.
func CheckEndToEndID(id string) error { return checkID("endToEndId", id, true) }

// checkID accepts identifiers the payment system and a URL path both carry
// unchanged: 1-35 characters of A-Z a-z 0-9 . _ : -
func checkID(field, s string, required bool) error {
	if s == "" {
		if required {
			return adapters.Invalid(field, "is required")
		}
		return nil
	}
	if len(s) > 35 {
		return adapters.Invalid(field, "must be at most 35 characters, got %d", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return adapters.Invalid(field, "may only contain letters A-Z, digits and . _ : - (got %q)", c)
		}
	}
	return nil
}

// checkText bounds free text by characters, as the schema's MaxNText does,
// and refuses control characters, which XML 1.0 cannot carry.
func checkText(field, s string, max int, required bool) error {
	if strings.TrimSpace(s) == "" {
		if required {
			return adapters.Invalid(field, "is required")
		}
		if s != "" {
			return adapters.Invalid(field, "is blank")
		}
		return nil
	}
	if !utf8.ValidString(s) {
		return adapters.Invalid(field, "is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return adapters.Invalid(field, "must be at most %d characters, got %d", max, n)
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return adapters.Invalid(field, "contains a control character at byte %d", i)
	}
	return nil
}
