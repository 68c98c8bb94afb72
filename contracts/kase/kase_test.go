package kase_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/contracts/kase"
	"github.com/minfin-kz/kopir/contracts/kase/kasetypes"
	"github.com/minfin-kz/kopir/contracts/securities"
	"github.com/minfin-kz/kopir/internal/safexml"
	"github.com/minfin-kz/kopir/internal/xsd"
)

func p[T any](v T) *T { return &v }

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestSamples: every sample validates, parses as its message, and what it
// parses to is written back as a document that validates and reads back to
// the same value.
func TestSamples(t *testing.T) {
	samples := []struct {
		file, message string
	}{
		{"placement-announcement.xml", kase.PlacementAnnouncement},
		{"placement-ack.xml", kase.PlacementAck},
		{"placement-ack-refused.xml", kase.PlacementAck},
		{"demand-summary.xml", kase.DemandSummary},
		{"cutoff-decision.xml", kase.CutoffDecision},
		{"cutoff-decision-failed.xml", kase.CutoffDecision},
		{"cutoff-ack.xml", kase.CutoffAck},
		{"auction-result.xml", kase.AuctionResult},
	}
	seen := map[string]bool{}
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			doc := readSample(t, s.file)
			if err := kase.Validate(doc); err != nil {
				t.Fatalf("sample does not validate: %v", err)
			}
			msg, name, err := kase.Parse(doc)
			if err != nil {
				t.Fatal(err)
			}
			if name != s.message || kase.NameOf(msg) != s.message {
				t.Fatalf("parsed as %s (%T), want %s", name, msg, s.message)
			}
			out, err := kase.Marshal(msg)
			if err != nil {
				t.Fatalf("marshal of parsed sample: %v", err)
			}
			again := reflect.New(reflect.TypeOf(msg).Elem()).Interface()
			if err := kase.Unmarshal(out, again); err != nil {
				t.Fatalf("re-read: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(msg, again) {
				t.Fatalf("round trip changed the message:\n%s", out)
			}
			seen[name] = true
		})
	}
	for _, m := range kase.Messages {
		if !seen[m] {
			t.Errorf("no valid sample of %s", m)
		}
	}
}

func TestSampleValues(t *testing.T) {
	doc := readSample(t, "placement-announcement.xml")
	var a kasetypes.PlacementAnnouncement
	if err := kase.Unmarshal(doc, &a); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ got, want string }{
		{string(*a.Security.ISIN), "KZKD00000238"},
		{string(*a.Security.TradeCode), "MUM120_0023"},
		{string(*a.Security.DayBasis), string(kasetypes.DayBasis30360)},
		{string(*a.Security.CouponRate), "14.5000"},
		{string(*a.Security.CouponSchedule.PaymentDate[9]), "2036-03-20"},
		{string(*a.Auction.CutoffDeadline), "2026-03-18T15:00:00+05:00"},
		{string(*a.Auction.AdditionalSession.OrderWindowEnd), "2026-03-18T16:15:00+05:00"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if *a.Security.IssueNumber != 23 || *a.Security.DeclaredVolume.Units != 50_000_000 || !bool(*a.Auction.AdditionalSession.Held) {
		t.Errorf("numbers or flag read wrong: issue %d, units %d, held %v",
			*a.Security.IssueNumber, *a.Security.DeclaredVolume.Units, *a.Auction.AdditionalSession.Held)
	}
	if err := securities.ValidateISIN(string(*a.Security.ISIN)); err != nil {
		t.Errorf("sample ISIN: %v", err)
	}
}

func announcement() *kasetypes.PlacementAnnouncement {
	return &kasetypes.PlacementAnnouncement{
		MessageId:        p(kasetypes.MessageId("MFRK-ANN-2026-0161")),
		CreationDateTime: p(kasetypes.DateTimeWithOffset("2026-04-06T11:00:00+05:00")),
		Issuer:           p(kasetypes.IssuerCode("MFRK")),
		Security: &kasetypes.SecurityTerms{
			SecurityType:       p(kasetypes.SecurityTypeMEKKAM),
			ISIN:               p(kasetypes.ISIN("KZK1KY011616")),
			IssueNumber:        p(kasetypes.IssueNumber(161)),
			TradeCode:          p(kasetypes.TradeCode("MKM012_0161")),
			FaceValue:          p(kasetypes.Amount("100")),
			Currency:           p(kasetypes.Currency("KZT")),
			DeclaredVolume:     &kasetypes.DeclaredVolume{Units: p(kasetypes.Quantity(200_000_000)), MillionTenge: p(kasetypes.MillionTenge("20000"))},
			CirculationStart:   p(kasetypes.ISODate("2026-04-08")),
			LastCirculationDay: p(kasetypes.ISODate("2027-04-07")),
			Maturity:           p(kasetypes.ISODate("2027-04-08")),
			DayBasis:           p(kasetypes.DayBasisACT365),
		},
		Auction: &kasetypes.AuctionTerms{
			TradeDate:             p(kasetypes.ISODate("2026-04-08")),
			Subject:               p(kasetypes.AuctionSubjectPRICE),
			OrderWindowStart:      p(kasetypes.DateTimeWithOffset("2026-04-08T09:00:00+05:00")),
			OrderWindowEnd:        p(kasetypes.DateTimeWithOffset("2026-04-08T12:00:00+05:00")),
			CutoffDeadline:        p(kasetypes.DateTimeWithOffset("2026-04-08T15:00:00+05:00")),
			MarketOrderShareLimit: p(kasetypes.SharePercent("0")),
			Settlement:            p(kasetypes.SettlementT0),
			// false must be written: Held is required.
			AdditionalSession: &kasetypes.AdditionalSession{Held: p(kasetypes.Indicator(false))},
			PricingMode:       p(kasetypes.PricingModeCUTOFF_PRICE),
		},
	}
}

func range4(lo, hi, avg string) *kasetypes.PercentRange {
	return &kasetypes.PercentRange{Min: p(kasetypes.Percent4(lo)), Max: p(kasetypes.Percent4(hi)), WeightedAverage: p(kasetypes.Percent4(avg))}
}

func counts(total, limit, market uint32) *kasetypes.OrderCounts {
	return &kasetypes.OrderCounts{Total: p(kasetypes.Count(total)), Limit: p(kasetypes.Count(limit)), Market: p(kasetypes.Count(market))}
}

func volume(units uint64, amount string) *kasetypes.Volume {
	return &kasetypes.Volume{Units: p(kasetypes.Quantity(units)), Amount: p(kasetypes.Amount(amount))}
}

const annID = "MFRK-ANN-2026-0161"

// TestMarshalValues: a Go value of each message is written as a document in
// the schema's namespace that validates, and reads back unchanged.
func TestMarshalValues(t *testing.T) {
	values := []any{
		announcement(),
		&kasetypes.PlacementAck{
			MessageId:        p(kasetypes.MessageId("KASE-ACK-1")),
			CreationDateTime: p(kasetypes.DateTimeWithOffset("2026-04-06T11:02:00+05:00")),
			AnnouncementId:   p(kasetypes.MessageId(annID)),
			Status:           p(kasetypes.AckStatusREFUSED),
			Refusal:          &kasetypes.Refusal{Code: p(kasetypes.RefusalCode("LATE_ANNOUNCEMENT")), Reason: p(kasetypes.Text("Received after the notice period."))},
		},
		&kasetypes.DemandSummary{
			MessageId:            p(kasetypes.MessageId("KASE-DEM-1")),
			CreationDateTime:     p(kasetypes.DateTimeWithOffset("2026-04-08T12:01:00+05:00")),
			AnnouncementId:       p(kasetypes.MessageId(annID)),
			Session:              p(kasetypes.SessionKindMAIN),
			Participants:         p(kasetypes.Count(0)),
			Orders:               counts(0, 0, 0),
			Volumes:              &kasetypes.OrderVolumes{Total: volume(0, "0"), Limit: volume(0, "0"), Market: volume(0, "0")},
			DemandToOfferPercent: p(kasetypes.RatioPercent("0")),
		},
		&kasetypes.CutoffDecision{
			MessageId:        p(kasetypes.MessageId("MFRK-CUT-1")),
			CreationDateTime: p(kasetypes.DateTimeWithOffset("2026-04-08T14:00:00+05:00")),
			AnnouncementId:   p(kasetypes.MessageId(annID)),
			Session:          p(kasetypes.SessionKindMAIN),
			DecisionDateTime: p(kasetypes.DateTimeWithOffset("2026-04-08T13:58:00+05:00")),
			CutoffPrice:      p(kasetypes.Percent4("86.9565")),
		},
		&kasetypes.CutoffAck{
			MessageId:        p(kasetypes.MessageId("KASE-CAK-1")),
			CreationDateTime: p(kasetypes.DateTimeWithOffset("2026-04-08T14:00:10+05:00")),
			AnnouncementId:   p(kasetypes.MessageId(annID)),
			DecisionId:       p(kasetypes.MessageId("MFRK-CUT-1")),
			Status:           p(kasetypes.AckStatusACCEPTED),
		},
		&kasetypes.AuctionResult{
			MessageId:            p(kasetypes.MessageId("KASE-RES-1")),
			CreationDateTime:     p(kasetypes.DateTimeWithOffset("2026-04-08T15:10:00+05:00")),
			AnnouncementId:       p(kasetypes.MessageId(annID)),
			Session:              p(kasetypes.SessionKindMAIN),
			TradeDate:            p(kasetypes.ISODate("2026-04-08")),
			Outcome:              p(kasetypes.OutcomePLACED),
			SettlementDate:       p(kasetypes.ISODate("2026-04-08")),
			Participants:         p(kasetypes.Count(3)),
			Orders:               counts(5, 5, 0),
			ActiveOrders:         counts(2, 2, 0),
			ActiveVolume:         volume(1_000_000, "86956500.00"),
			DemandToOfferPercent: p(kasetypes.RatioPercent("12.50")),
			CleanPrice:           range4("86.0000", "86.9565", "86.9565"),
			Yield:                range4("15.0000", "16.2000", "15.0000"),
			PlacedVolume:         volume(1_000_000, "86956500.00"),
			CutoffPrice:          p(kasetypes.Percent4("86.9565")),
			CutoffYield:          p(kasetypes.Percent4("15.0000")),
			WeightedAveragePrice: p(kasetypes.Percent4("86.9565")),
			WeightedAverageYield: p(kasetypes.Percent4("15.0000")),
			InvestorShare: []*kasetypes.InvestorShare{
				{InvestorType: p(kasetypes.InvestorTypeBANK), Percent: p(kasetypes.SharePercent("100.00"))},
			},
			Allocation: []*kasetypes.Allocation{
				{ParticipantCode: p(kasetypes.ParticipantCode("HSBK")), OrderType: p(kasetypes.OrderTypeLIMIT), Price: p(kasetypes.Percent4("86.9565")),
					Yield: p(kasetypes.Percent4("15.0000")), Quantity: p(kasetypes.Quantity(600_000)), Amount: p(kasetypes.Amount("52173900.00"))},
				{ParticipantCode: p(kasetypes.ParticipantCode("BCCB")), OrderType: p(kasetypes.OrderTypeLIMIT), Price: p(kasetypes.Percent4("86.9565")),
					Yield: p(kasetypes.Percent4("15.0000")), Quantity: p(kasetypes.Quantity(400_000)), Amount: p(kasetypes.Amount("34782600.00"))},
			},
		},
	}
	seen := map[string]bool{}
	for _, v := range values {
		name := kase.NameOf(v)
		t.Run(name, func(t *testing.T) {
			doc, err := kase.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if err := kase.Validate(doc); err != nil {
				t.Fatalf("marshalled document does not validate: %v", err)
			}
			root, err := rootName(doc)
			if err != nil {
				t.Fatal(err)
			}
			if root != (xml.Name{Space: kase.Namespace, Local: name}) {
				t.Fatalf("root element %v, want {%s}%s", root, kase.Namespace, name)
			}
			back := reflect.New(reflect.TypeOf(v).Elem()).Interface()
			if err := kase.Unmarshal(doc, back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(v, back) {
				t.Fatalf("round trip changed the message:\n%s", doc)
			}
			seen[name] = true
		})
	}
	for _, m := range kase.Messages {
		if !seen[m] {
			t.Errorf("no Go value of %s", m)
		}
	}
}

func rootName(doc []byte) (xml.Name, error) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.Name{}, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name, nil
		}
	}
}

// violationAt reports whether err is a schema violation whose path ends at
// element and whose message names it.
func violationAt(err error, element string) bool {
	var xe *xsd.Error
	if !errors.As(err, &xe) {
		return false
	}
	for _, v := range xe.Violations {
		if strings.HasSuffix(v.Path, "/"+element) && strings.Contains(v.Message, element) {
			return true
		}
	}
	return false
}

// TestInvalidDocumentsRefused: a sample broken in one place is refused by
// Validate, Parse and Unmarshal, with a violation naming that element.
func TestInvalidDocumentsRefused(t *testing.T) {
	cases := []struct {
		name, file, from, to, element string
	}{
		{"ISIN not KZ", "placement-announcement.xml", "<ISIN>KZKD00000238</ISIN>", "<ISIN>USKD00000238</ISIN>", "ISIN"},
		{"ISIN check position a letter", "placement-announcement.xml", "<ISIN>KZKD00000238</ISIN>", "<ISIN>KZKD0000023X</ISIN>", "ISIN"},
		{"ISIN too short", "placement-announcement.xml", "<ISIN>KZKD00000238</ISIN>", "<ISIN>KZKD0000238</ISIN>", "ISIN"},
		{"trade code unknown type", "placement-announcement.xml", "MUM120_0023</TradeCode>", "MXM120_0023</TradeCode>", "TradeCode"},
		{"trade code short term", "placement-announcement.xml", "MUM120_0023</TradeCode>", "MUM12_0023</TradeCode>", "TradeCode"},
		{"coupon rate five decimals", "placement-announcement.xml", "<CouponRate>14.5000</CouponRate>", "<CouponRate>14.50001</CouponRate>", "CouponRate"},
		{"face value three decimals", "placement-announcement.xml", "<FaceValue>1000.00</FaceValue>", "<FaceValue>1000.001</FaceValue>", "FaceValue"},
		{"market share over 100", "placement-announcement.xml", "<MarketOrderShareLimit>70</MarketOrderShareLimit>", "<MarketOrderShareLimit>100.01</MarketOrderShareLimit>", "MarketOrderShareLimit"},
		{"time without offset", "placement-announcement.xml", "<CutoffDeadline>2026-03-18T15:00:00+05:00</CutoffDeadline>", "<CutoffDeadline>2026-03-18T15:00:00</CutoffDeadline>", "CutoffDeadline"},
		{"unknown day basis", "placement-announcement.xml", "<DayBasis>30/360</DayBasis>", "<DayBasis>ACT/360</DayBasis>", "DayBasis"},
		{"unknown security type", "placement-announcement.xml", "<SecurityType>MEUKAM</SecurityType>", "<SecurityType>EUROBOND</SecurityType>", "SecurityType"},
		{"coupon every three months a year", "placement-announcement.xml", "<CouponFrequency>1</CouponFrequency>", "<CouponFrequency>3</CouponFrequency>", "CouponFrequency"},
		{"unknown ack status", "placement-ack.xml", "<Status>ACCEPTED</Status>", "<Status>OK</Status>", "Status"},
		{"cut-off price five decimals", "cutoff-decision.xml", "<CutoffPrice>98.1000</CutoffPrice>", "<CutoffPrice>98.10001</CutoffPrice>", "CutoffPrice"},
		{"unknown outcome", "auction-result.xml", "<Outcome>PLACED</Outcome>", "<Outcome>SOLD</Outcome>", "Outcome"},
		{"unknown investor type", "auction-result.xml", "<InvestorType>BANK</InvestorType>", "<InvestorType>STATE</InvestorType>", "InvestorType"},
		{"negative quantity", "auction-result.xml", "<Quantity>10000000</Quantity>", "<Quantity>-10000000</Quantity>", "Quantity"},
		{"unknown session", "demand-summary.xml", "<Session>MAIN</Session>", "<Session>EVENING</Session>", "Session"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			good := readSample(t, c.file)
			if !bytes.Contains(good, []byte(c.from)) {
				t.Fatalf("%s has no %q", c.file, c.from)
			}
			bad := bytes.Replace(good, []byte(c.from), []byte(c.to), 1)
			if err := kase.Validate(bad); !violationAt(err, c.element) {
				t.Errorf("Validate: %v, want a violation at %s", err, c.element)
			}
			if _, _, err := kase.Parse(bad); !violationAt(err, c.element) {
				t.Errorf("Parse: %v, want a violation at %s", err, c.element)
			}
			msg, _, err := kase.Parse(good)
			if err != nil {
				t.Fatal(err)
			}
			into := reflect.New(reflect.TypeOf(msg).Elem()).Interface()
			if err := kase.Unmarshal(bad, into); !violationAt(err, c.element) {
				t.Errorf("Unmarshal: %v, want a violation at %s", err, c.element)
			}
		})
	}
}

// TestMarshalRefusesInvalidValues: Marshal returns no document for a value
// the schema refuses, and names the element.
func TestMarshalRefusesInvalidValues(t *testing.T) {
	cases := []struct {
		name    string
		spoil   func(a *kasetypes.PlacementAnnouncement)
		element string
	}{
		{"bad ISIN", func(a *kasetypes.PlacementAnnouncement) { a.Security.ISIN = p(kasetypes.ISIN("KZ-K1KY01161")) }, "ISIN"},
		{"bad trade code", func(a *kasetypes.PlacementAnnouncement) { a.Security.TradeCode = p(kasetypes.TradeCode("MKM012-0161")) }, "TradeCode"},
		{"price with five decimals", func(a *kasetypes.PlacementAnnouncement) { a.Security.CouponRate = p(kasetypes.Percent4("0.00001")) }, "CouponRate"},
		{"time without offset", func(a *kasetypes.PlacementAnnouncement) {
			a.Auction.OrderWindowEnd = p(kasetypes.DateTimeWithOffset("2026-04-08T12:00:00"))
		}, "OrderWindowEnd"},
		{"missing additional session flag", func(a *kasetypes.PlacementAnnouncement) { a.Auction.AdditionalSession.Held = nil }, "AdditionalSession"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := announcement()
			c.spoil(a)
			doc, err := kase.Marshal(a)
			if doc != nil {
				t.Errorf("Marshal returned a document for an invalid value:\n%s", doc)
			}
			var xe *xsd.Error
			if !errors.As(err, &xe) {
				t.Fatalf("err = %v, want *xsd.Error", err)
			}
			if !strings.Contains(err.Error(), c.element) {
				t.Errorf("err = %v, want it to name %s", err, c.element)
			}
		})
	}
}

func TestForeignDocumentsRefused(t *testing.T) {
	result := readSample(t, "auction-result.xml")
	otherVersion := bytes.Replace(result, []byte(kase.Namespace), []byte("urn:kopir:kase:placement:2.0"), 1)
	withDoctype := bytes.Replace(result, []byte("<AuctionResult "), []byte("<!DOCTYPE x [<!ENTITY a \"b\">]>\n<AuctionResult "), 1)

	if _, _, err := kase.Parse(otherVersion); !errors.Is(err, kase.ErrNotAMessage) {
		t.Errorf("another version's namespace: %v, want ErrNotAMessage", err)
	}
	var se *safexml.Error
	if _, _, err := kase.Parse(withDoctype); !errors.As(err, &se) {
		t.Errorf("DOCTYPE: %v, want *safexml.Error", err)
	}
	var ack kasetypes.PlacementAck
	if err := kase.Unmarshal(result, &ack); err == nil || !strings.Contains(err.Error(), "not a PlacementAck") {
		t.Errorf("result read as an ack: %v", err)
	}
	if err := kase.Unmarshal(result, kasetypes.AuctionResult{}); err == nil {
		t.Error("Unmarshal into a non-pointer succeeded")
	}
	if _, err := kase.Marshal(struct{ A string }{"x"}); !errors.Is(err, kase.ErrNotAMessage) {
		t.Errorf("Marshal of a foreign type: %v, want ErrNotAMessage", err)
	}
}

func TestSchemaSource(t *testing.T) {
	src := kase.SchemaSource()
	if !bytes.Contains(src, []byte(`targetNamespace="`+kase.Namespace+`"`)) {
		t.Fatal("embedded schema does not declare Namespace")
	}
	for _, m := range kase.Messages {
		if !bytes.Contains(src, []byte(`<xs:element name="`+m+`" type="`+m+`"/>`)) {
			t.Errorf("schema has no root element %s", m)
		}
	}
	src[0] = 'X'
	if kase.SchemaSource()[0] == 'X' {
		t.Error("SchemaSource hands out the embedded bytes themselves")
	}
}
