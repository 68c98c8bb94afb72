package isodoc

import (
	"encoding/xml"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/contracts/iso20022/components"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/pacs002"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/pacs008"
	"github.com/minfin-kz/kopir/internal/safexml"
	"github.com/minfin-kz/kopir/internal/xsd"
)

func TestParseAmount(t *testing.T) {
	for in, want := range map[string]string{
		"150000.00": "150000", "0.01": "0.01", "1000000": "1000000", "007.50": "7.5",
		"9999999999999.99999": "9999999999999.99999", "0.10000": "0.1",
	} {
		a, err := ParseAmount(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if a.String() != want {
			t.Errorf("%s: String() = %s, want %s", in, a, want)
		}
	}
	for _, bad := range []string{"", "-1", "+1", "1e6", "1,5", " 1", "1.", ".5", "1.000001", "10000000000000", "0x10", "1.2.3"} {
		if _, err := ParseAmount(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestAmountFormatAndAdd(t *testing.T) {
	a, _ := ParseAmount("0.1")
	b, _ := ParseAmount("0.2")
	c, _ := ParseAmount("0.3")
	sum, err := a.Add(b)
	if err != nil || sum != c {
		t.Fatalf("0.1 + 0.2 = %s, %v", sum, err)
	}
	m, _ := ParseAmount("1000000")
	if got := m.Format(2); got != "1000000.00" {
		t.Errorf("Format(2) = %s", got)
	}
	if got := m.Format(0); got != "1000000" {
		t.Errorf("Format(0) = %s", got)
	}
	if a.Decimals() != 1 || m.Decimals() != 0 {
		t.Errorf("Decimals: %d %d", a.Decimals(), m.Decimals())
	}
	big, _ := ParseAmount("9999999999999")
	if _, err := big.Add(big); err == nil {
		t.Error("sum over 18 digits accepted")
	}
	defer func() {
		if recover() == nil {
			t.Error("Format with too few digits did not panic")
		}
	}()
	x, _ := ParseAmount("1.005")
	x.Format(2)
}

func TestMinorUnits(t *testing.T) {
	if MinorUnits("KZT") != 2 || MinorUnits("JPY") != 0 || MinorUnits("KWD") != 3 {
		t.Fatal("minor units")
	}
	if !ValidCurrency("KZT") || ValidCurrency("kzt") || ValidCurrency("KZ") {
		t.Fatal("ValidCurrency")
	}
}

func TestKeyAndNamespace(t *testing.T) {
	if Key(Pacs002) != "pacs.002" || Key("camt.053.001.08") != "camt.053" {
		t.Fatal("Key")
	}
	if id, ok := IDFromNS(NS(Camt054)); !ok || id != Camt054 {
		t.Fatal("IDFromNS")
	}
	if _, ok := IDFromNS("urn:example"); ok {
		t.Fatal("foreign namespace taken for ISO 20022")
	}
}

// The published Fedwire pacs.008.001.08 sample goes through the generated
// types and back out valid: every element Köpir reads it also writes, in
// schema order, amounts and dates unchanged.
func TestGeneratedTypesRoundTripPublishedSample(t *testing.T) {
	raw, err := os.ReadFile("../../../../shared/samples/iso20022_pacs008_001_08_fedwire_sample.xml")
	if err != nil {
		t.Skipf("shared sample not available: %v", err)
	}
	m, err := Parse(raw, []string{Pacs008}, safexml.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var doc pacs008.Document
	if err := m.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	tx := doc.FIToFICstmrCdtTrf.CdtTrfTxInf[0]
	if S(tx.IntrBkSttlmAmt.Value) != "510000.74" || S(tx.IntrBkSttlmAmt.Ccy) != "USD" || S(tx.IntrBkSttlmDt) != "2025-03-10" {
		t.Fatalf("amount/date read as %q %q %q", S(tx.IntrBkSttlmAmt.Value), S(tx.IntrBkSttlmAmt.Ccy), S(tx.IntrBkSttlmDt))
	}
	out, err := Marshal(xml.Name{}, nil, Pacs008, &doc)
	if err != nil {
		t.Fatalf("re-encoded sample invalid (%s): %v", Validator(), err)
	}
	for _, want := range []string{`<IntrBkSttlmAmt Ccy="USD">510000.74</IntrBkSttlmAmt>`, `<RltdDt>2025-03-01</RltdDt>`, `<UETR>8a562c67-ca16-48ba-b074-65581be6f011</UETR>`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("re-encoded sample lacks %s", want)
		}
	}
}

func statusDoc(msgID string) *pacs002.Document {
	return &pacs002.Document{FIToFIPmtStsRpt: &components.FIToFIPaymentStatusReportV10{
		GrpHdr: &components.GroupHeader91{MsgId: P[components.Max35Text](msgID), CreDtTm: P[components.ISODateTime]("2025-03-10T09:00:02Z")},
		TxInfAndSts: []*components.PaymentTransaction110{{
			OrgnlEndToEndId: P[components.Max35Text]("E2E-1"), TxSts: P[components.ExternalPaymentTransactionStatus1Code]("ACSC")}},
	}}
}

func TestMarshalRefusesInvalid(t *testing.T) {
	doc := statusDoc("STS-1")
	doc.FIToFIPmtStsRpt.TxInfAndSts[0].TxSts = P[components.ExternalPaymentTransactionStatus1Code]("ACCEPTED")
	out, err := Marshal(xml.Name{Local: "message"}, NewHeader("NBRKKZKX", "KKMFKZ2A", "STS-1", Pacs002, "", time.Now()), Pacs002, doc)
	var xe *xsd.Error
	if !errors.As(err, &xe) || out != nil {
		t.Fatalf("invalid status written: %v", err)
	}
	if !strings.HasSuffix(xe.Violations[0].Path, "/Document/FIToFIPmtStsRpt/TxInfAndSts/TxSts") {
		t.Fatalf("violation path %q", xe.Violations[0].Path)
	}
}

func TestParseFrames(t *testing.T) {
	hdr := NewHeader("NBRKKZKX", "KKMFKZ2A", "STS-1", Pacs002, "", time.Date(2025, 3, 10, 4, 0, 2, 0, time.UTC))
	env, err := Marshal(xml.Name{Local: "message"}, hdr, Pacs002, statusDoc("STS-1"))
	if err != nil {
		t.Fatal(err)
	}
	bare, err := Marshal(xml.Name{}, nil, Pacs002, statusDoc("STS-1"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(env)
	appHdr := s[strings.Index(s, "<AppHdr") : strings.Index(s, "</AppHdr>")+len("</AppHdr>")]
	document := s[strings.Index(s, "<Document") : strings.Index(s, "</Document>")+len("</Document>")]
	for name, c := range map[string]struct {
		raw  string
		form string
		hdr  bool
	}{
		"envelope":            {s, "envelope", true},
		"bare document":       {string(bare), "document", false},
		"concatenated":        {xml.Header + appHdr + "\n" + document + "\n", "concatenated", true},
		"other envelope name": {"<Envelope xmlns=\"urn:example:transport\">" + document + "</Envelope>", "envelope", false},
	} {
		m, err := Parse([]byte(c.raw), []string{Pacs002}, safexml.Limits{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if m.Form != c.form || (m.Header != nil) != c.hdr || m.MsgDefIdr != Pacs002 || m.Key() != "pacs.002" {
			t.Errorf("%s: form %q header %v id %s", name, m.Form, m.Header != nil, m.MsgDefIdr)
		}
		var doc pacs002.Document
		if err := m.Decode(&doc); err != nil || S(doc.FIToFIPmtStsRpt.GrpHdr.MsgId) != "STS-1" {
			t.Errorf("%s: decode %v", name, err)
		}
		if c.hdr && (S(m.Header.BizMsgIdr) != "STS-1" || PartyBIC(m.Header.Fr) != "NBRKKZKX" || PartyBIC(m.Header.To) != "KKMFKZ2A") {
			t.Errorf("%s: header not read", name)
		}
	}
}

func TestParseRefusals(t *testing.T) {
	hdr := NewHeader("NBRKKZKX", "KKMFKZ2A", "STS-1", Pacs002, "", time.Now())
	env, _ := Marshal(xml.Name{Local: "message"}, hdr, Pacs002, statusDoc("STS-1"))
	s := string(env)
	appHdr := s[strings.Index(s, "<AppHdr") : strings.Index(s, "</AppHdr>")+len("</AppHdr>")]
	for name, c := range map[string]struct {
		raw, code, detail string
	}{
		"doctype":        {`<!DOCTYPE x [<!ENTITY a "b">]>` + s[len(xml.Header):], CodeXMLRefused, "doctype"},
		"not xml":        {"{\"json\": true}", CodeXMLRefused, "syntax"},
		"header alone":   {appHdr, CodeBadEnvelope, "without a Document"},
		"not accepted":   {strings.ReplaceAll(s, "pacs.002.001.10", "pacs.008.001.08"), CodeUnknownMessage, "not accepted here"},
		"foreign":        {`<Document xmlns="urn:example"/>`, CodeUnknownMessage, "not an ISO 20022 message"},
		"old header":     {strings.Replace(s, "head.001.001.02", "head.001.001.01", 1), CodeUnknownMessage, "header"},
		"schema invalid": {strings.Replace(s, "<TxSts>ACSC</TxSts>", "<TxSts>ACCEPTED</TxSts>", 1), CodeSchemaInvalid, "pacs.002.001.10.xsd"},
		"mismatch":       {strings.Replace(s, "<MsgDefIdr>pacs.002.001.10</MsgDefIdr>", "<MsgDefIdr>pacs.002.001.09</MsgDefIdr>", 1), CodeHeaderMismatch, "pacs.002.001.09"},
		"stray element":  {strings.Replace(s, "</message>", "<Signature/></message>", 1), CodeBadEnvelope, "Signature"},
		"doc before hdr": {"<message>" + s[strings.Index(s, "<Document"):strings.Index(s, "</message>")] + appHdr + "</message>", CodeBadEnvelope, "before the Document"},
		"empty envelope": {"<message></message>", CodeBadEnvelope, "no Document"},
	} {
		_, err := Parse([]byte(c.raw), []string{Pacs002}, safexml.Limits{})
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: err = %v", name, err)
			continue
		}
		if pe.Code != c.code || !strings.Contains(pe.Error(), c.detail) {
			t.Errorf("%s: %s, want %s mentioning %q", name, pe.Error(), c.code, c.detail)
		}
	}
}

func TestSchemaViolationsCarryLineAndPath(t *testing.T) {
	hdr := NewHeader("NBRKKZKX", "KKMFKZ2A", "STS-1", Pacs002, "", time.Now())
	env, _ := Marshal(xml.Name{Local: "message"}, hdr, Pacs002, statusDoc("STS-1"))
	bad := strings.Replace(string(env), "<TxSts>ACSC</TxSts>", "<TxSts>ACCEPTED</TxSts>", 1)
	line := 1 + strings.Count(bad[:strings.Index(bad, "ACCEPTED")], "\n")
	_, err := Parse([]byte(bad), []string{Pacs002}, safexml.Limits{})
	var pe *ParseError
	if !errors.As(err, &pe) || len(pe.Violations) != 1 {
		t.Fatalf("err = %v", err)
	}
	v := pe.Violations[0]
	if v.Line != line || v.Path != "/message/Document/FIToFIPmtStsRpt/TxInfAndSts/TxSts" {
		t.Fatalf("violation %+v, want line %d", v, line)
	}
}

func TestConcatenatedKeepsLineNumbers(t *testing.T) {
	hdr := NewHeader("NBRKKZKX", "KKMFKZ2A", "STS-1", Pacs002, "", time.Now())
	env, _ := Marshal(xml.Name{Local: "message"}, hdr, Pacs002, statusDoc("STS-1"))
	s := string(env)
	concat := xml.Header + s[strings.Index(s, "<AppHdr"):strings.Index(s, "</message>")]
	bad := strings.Replace(concat, "<TxSts>ACSC</TxSts>", "<TxSts>ACCEPTED</TxSts>", 1)
	line := 1 + strings.Count(bad[:strings.Index(bad, "ACCEPTED")], "\n")
	_, err := Parse([]byte(bad), []string{Pacs002}, safexml.Limits{})
	var pe *ParseError
	if !errors.As(err, &pe) || len(pe.Violations) == 0 || pe.Violations[0].Line != line {
		t.Fatalf("err = %v, want line %d", err, line)
	}
}

// FuzzParseAmount: whatever ParseAmount accepts prints back to a string
// that parses to the same amount, with no more than 5 fraction digits.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"150000.00", "0.01", "1e6", "-1", "9999999999999.99999", "00.100", "1.", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAmount(s)
		if err != nil {
			return
		}
		if a < 0 || a > maxAmount || a.Decimals() > 5 {
			t.Fatalf("%q parsed out of range: %d", s, a)
		}
		b, err := ParseAmount(a.String())
		if err != nil || b != a {
			t.Fatalf("%q → %s → %v, %v", s, a, b, err)
		}
	})
}

// The adapters compile their schemas on first use, not at start-up, so a
// broken or missing embedded schema has to be caught here.
func TestEverySchemaCompiles(t *testing.T) {
	for _, id := range []string{Head001, Pacs002, Pacs004, Pacs008, Camt053, Camt054, Camt056, Pain001,
		Head001v03, Reda006, Reda008, Sese024, Sese025, Semt002, Seev031, Seev036, Pacs009} {
		s, err := Schema(id)
		if err != nil {
			t.Errorf("%s: %v", id, err)
			continue
		}
		if s.Name() != id+".xsd" {
			t.Errorf("%s: compiled as %q", id, s.Name())
		}
	}
	if _, err := Schema("pacs.999.001.01"); err == nil {
		t.Error("a message definition without an embedded schema compiled")
	}
}
