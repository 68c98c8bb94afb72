package securities

import (
	"fmt"
	"strconv"
	"time"
)

// Type is the kind of government security the Ministry of Finance issues.
type Type int

// The zero Type is not an instrument, so a forgotten field is caught by
// Valid rather than read as the first kind.
const (
	MEKKAM   Type = iota + 1 // short-term treasury notes, sold at a discount
	MEOKAM                   // medium-term treasury bonds
	MEUKAM                   // long-term treasury bonds
	MEUZHKAM                 // long-term savings treasury bonds
	MEIKAM                   // indexed treasury bonds
)

var allTypes = []Type{MEKKAM, MEOKAM, MEUKAM, MEUZHKAM, MEIKAM}

// Types lists every instrument, for callers that check or print them all;
// the slice is the caller's own.
func Types() []Type { return append([]Type(nil), allTypes...) }

type typeFacts struct {
	name        string
	isinPrefix  string
	tradePrefix string
	faceTiyn    int64
	minMonths   int
	maxMonths   int
}

// facts holds one row per instrument; which entries are public and which
// are Köpir's assumption is written in the package documentation.
var facts = map[Type]typeFacts{
	MEKKAM:   {"MEKKAM", "KZK1", "MKM", 100_00, 1, 12},
	MEOKAM:   {"MEOKAM", "KZK2", "MOM", 1000_00, 13, 60},
	MEUKAM:   {"MEUKAM", "KZKD", "MUM", 1000_00, 61, 360},
	MEUZHKAM: {"MEUZHKAM", "KZKA", "MUJ", 1000_00, 61, 360},
	MEIKAM:   {"MEIKAM", "KZKB", "MIM", 1000_00, 13, 360},
}

// Valid reports whether t is one of the five instruments.
func (t Type) Valid() bool { _, ok := facts[t]; return ok }

func (t Type) String() string {
	if f, ok := facts[t]; ok {
		return f.name
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// ParseType reads an instrument name as written in the ministry's and the
// exchange's notices (Latin letters, upper case), e.g. "MEUKAM".
func ParseType(s string) (Type, error) {
	for _, t := range allTypes {
		if facts[t].name == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown government security type %q (want one of MEKKAM, MEOKAM, MEUKAM, MEUZHKAM, MEIKAM)", s)
}

// FaceValue is the face value of one security: 100 tenge for MEKKAM,
// 1,000 tenge for the others.
func (t Type) FaceValue() Amount { return Amount(facts[t].faceTiyn) }

// ISINPrefix is the first four characters of every ISIN of the type.
func (t Type) ISINPrefix() string { return facts[t].isinPrefix }

// TradeCodePrefix is the three letters the exchange's trade codes start with.
func (t Type) TradeCodePrefix() string { return facts[t].tradePrefix }

// TermRange is the range of terms, in months, an issue of the type may have.
func (t Type) TermRange() (minMonths, maxMonths int) {
	f := facts[t]
	return f.minMonths, f.maxMonths
}

// TradeCode is an exchange trade code taken apart: MUM240_0001 is a
// 240-month MEUKAM, issue 1.
type TradeCode struct {
	Type        Type
	TermMonths  int
	IssueNumber int
}

// String writes the code back in the exchange's form.
func (c TradeCode) String() string {
	return fmt.Sprintf("%s%03d_%04d", c.Type.TradeCodePrefix(), c.TermMonths, c.IssueNumber)
}

// ParseTradeCode reads a code of the form PPPTTT_NNNN: a type prefix, the
// term in months in three digits, an underscore and the issue number in
// four digits. Only ASCII letters are accepted: some of the exchange's
// notices spell the prefix with a Cyrillic letter that looks Latin, and a
// code compared byte by byte with the depository's must not carry one.
func ParseTradeCode(s string) (TradeCode, error) {
	if len(s) != 11 {
		return TradeCode{}, fmt.Errorf("trade code %q has %d bytes, want 11 (e.g. MUM240_0001)", s, len(s))
	}
	var t Type
	for _, candidate := range allTypes {
		if s[:3] == facts[candidate].tradePrefix {
			t = candidate
		}
	}
	if t == 0 {
		return TradeCode{}, fmt.Errorf("trade code %q: prefix %q is not MKM, MOM, MUM, MUJ or MIM", s, s[:3])
	}
	if s[6] != '_' {
		return TradeCode{}, fmt.Errorf("trade code %q: character 7 is %q, want '_'", s, s[6])
	}
	term, err := digits(s, 3, 6)
	if err != nil {
		return TradeCode{}, err
	}
	issue, err := digits(s, 7, 11)
	if err != nil {
		return TradeCode{}, err
	}
	if term == 0 {
		return TradeCode{}, fmt.Errorf("trade code %q: term is zero months", s)
	}
	if issue == 0 {
		return TradeCode{}, fmt.Errorf("trade code %q: issue number is zero", s)
	}
	return TradeCode{Type: t, TermMonths: term, IssueNumber: issue}, nil
}

func digits(s string, from, to int) (int, error) {
	n := 0
	for i := from; i < to; i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("trade code %q: character %d is %q, want a digit", s, i+1, s[i])
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, nil
}

// CheckTradeCode parses code and checks it against the issue's type and
// term: the prefix must be the type's, the term the one announced, and the
// term within the type's range.
func CheckTradeCode(code string, t Type, termMonths int) error {
	if !t.Valid() {
		return fmt.Errorf("trade code %q checked against %v, which is not a government security type", code, t)
	}
	c, err := ParseTradeCode(code)
	if err != nil {
		return err
	}
	if c.Type != t {
		return fmt.Errorf("trade code %q is a %v code (prefix %s), the issue is %v (prefix %s)", code, c.Type, c.Type.TradeCodePrefix(), t, t.TradeCodePrefix())
	}
	if c.TermMonths != termMonths {
		return fmt.Errorf("trade code %q has a term of %d months, the issue's term is %d months", code, c.TermMonths, termMonths)
	}
	lo, hi := t.TermRange()
	if termMonths < lo || termMonths > hi {
		return fmt.Errorf("trade code %q: a %v has a term of %d to %d months, not %d", code, t, lo, hi, termMonths)
	}
	return nil
}

// TermMonths is an issue's term in whole months from its circulation start
// to its maturity, as trade codes count it (a ten-year issue is 120).
func TermMonths(start, maturity time.Time) int {
	months := (maturity.Year()-start.Year())*12 + int(maturity.Month()-start.Month())
	if maturity.Day() < start.Day() {
		months--
	}
	return months
}
