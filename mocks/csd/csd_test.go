package csd_test

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/contracts/iso20022/components"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/reda006"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/reda008"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/seev031"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/seev036"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/semt002"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/sese024"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/sese025"
	"github.com/minfin-kz/kopir/contracts/securities"
	"github.com/minfin-kz/kopir/internal/safexml"
	"github.com/minfin-kz/kopir/mocks"
	"github.com/minfin-kz/kopir/mocks/csd"
	"github.com/minfin-kz/kopir/mocks/internal/mocktest"
)

var received = []string{isodoc.Reda008, isodoc.Sese024, isodoc.Sese025, isodoc.Semt002, isodoc.Seev031, isodoc.Seev036}

// start serves the mocks with the depository pushing to a receiver.
func start(t *testing.T) (*httptest.Server, *mocks.Server, *mocktest.Receiver) {
	t.Helper()
	rx := mocktest.NewReceiver(t)
	s := mocks.New(mocks.Options{Seed: 1}, csd.Options{CallbackURL: rx.URL})
	t.Cleanup(s.Close)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, s, rx
}

func setClock(t *testing.T, url, now string) {
	t.Helper()
	if status, body := mocktest.Do(t, "PUT", url+"/_control/clock", []byte(`{"now":"`+now+`"}`)); status != 200 {
		t.Fatalf("clock: %d %s", status, body)
	}
}

// parse checks that a pushed document is a valid message of one of the
// depository's types and decodes its Document.
func parse(t *testing.T, raw []byte, want string, doc any) *isodoc.Message {
	t.Helper()
	m, err := isodoc.Parse(raw, received, safexml.Limits{})
	if err != nil {
		t.Fatalf("pushed document not valid: %v\n%s", err, raw)
	}
	if m.MsgDefIdr != want || m.HeaderV03 == nil {
		t.Fatalf("pushed %s (header v03 %v), want %s", m.MsgDefIdr, m.HeaderV03 != nil, want)
	}
	if err := m.Decode(doc); err != nil {
		t.Fatal(err)
	}
	return m
}

func p[T ~string](s string) *T { return isodoc.P[T](s) }

func registration(t *testing.T, msgID, tradeCode, description string) []byte {
	t.Helper()
	yes := components.YesNoIndicator(true)
	scty := &components.SecurityAttributes10{
		FinInstrmId: &components.SecurityIdentification39{Desc: p[components.Max140Text](description)},
		FinInstrmTp: []*components.FinancialInstrument97{{Debt: &components.Debt5{
			FaceAmt: &components.ActiveCurrencyAndAmount{Value: p[components.ActiveCurrencyAndAmount_SimpleType]("1000"), Ccy: p[components.ActiveCurrencyCode]("KZT")},
			MtrtyDt: p[components.ISODateTime]("2036-12-03T00:00:00+05:00"), IntrstRate: p[components.PercentageRate]("12.5")}}},
		FinInstrmAttrbts: []*components.CommonFinancialInstrumentAttributes10{{
			ISOSctyShrtNm: p[components.Max35Text]("MFRK"),
			DnmtnCcy:      p[components.ActiveOrHistoricCurrencyCode]("KZT"),
			Issnc: &components.Issuance5{CtryOfIsse: p[components.CountryCode]("KZ"), IssrOrg: &components.Organisation38{
				Nm: p[components.Max140Text]("Ministry of Finance of the Republic of Kazakhstan"),
				Id: &components.PartyIdentification177Choice{PrtryId: &components.GenericIdentification1{Id: p[components.Max35Text]("MFRK"), Issr: p[components.Max35Text]("KASE")}},
				PstlAdr: []*components.PostalAddress3{{
					AdrTp: p[components.AddressType1Code]("BIZZ"), MlngInd: &yes, RegnAdrInd: &yes,
					NmAndAdr: &components.NameAndAddress4{Adr: &components.PostalAddress1{
						StrtNm: p[components.Max70Text]("Mangilik El"), BldgNb: p[components.Max16Text]("8"), TwnNm: p[components.Max35Text]("Astana"), Ctry: p[components.CountryCode]("KZ")}}}}}}}},
	}
	if tradeCode != "" {
		scty.FinInstrmId.OthrId = []*components.OtherIdentification1{{Id: p[components.Max35Text](tradeCode), Tp: &components.IdentificationSource3Choice{Prtry: p[components.Max35Text]("KASE")}}}
	}
	doc := &reda006.Document{SctyCreReq: &components.SecurityCreationRequestV01{
		MsgHdr: &components.MessageHeader1{MsgId: p[components.Max35Text](msgID), CreDtTm: p[components.ISODateTime]("2026-12-01T09:00:00+05:00")},
		Scty:   scty,
	}}
	raw, err := isodoc.MarshalV03(xml.Name{Local: "message"}, isodoc.NewHeaderV03("KKMFKZ2A", "CEDUKZKA", msgID, isodoc.Reda006, "", time.Now()), isodoc.Reda006, doc)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// A reda.006 is acknowledged with 202 and answered with a reda.008 that
// refers to it and carries a valid ISIN for the type; a resend is
// acknowledged again and answered once; a request naming no type is
// rejected in its reda.008, an invalid one with 400.
func TestRegistrationAssignsISIN(t *testing.T) {
	srv, s, rx := start(t)
	for _, c := range []struct {
		id, tradeCode, desc string
	}{
		{"MFRK-REG-0001", "MUM120_0001", "ten-year issue"},
		{"MFRK-REG-0001", "MUM120_0001", "ten-year issue"}, // the resend
		{"MFRK-REG-0002", "", "MEKKAM-12 issue 7"},
		{"MFRK-REG-0003", "", "a bond"},
	} {
		if status, body := mocktest.Do(t, "POST", srv.URL+"/csd/iso20022", registration(t, c.id, c.tradeCode, c.desc)); status != http.StatusAccepted || len(body) != 0 {
			t.Fatalf("%s: %d %q", c.id, status, body)
		}
	}
	bad := strings.Replace(string(registration(t, "MFRK-REG-0004", "", "x")), "<DnmtnCcy>KZT</DnmtnCcy>", "<DnmtnCcy>tenge</DnmtnCcy>", 1)
	if status, body := mocktest.Do(t, "POST", srv.URL+"/csd/iso20022", []byte(bad)); status != http.StatusBadRequest || !strings.Contains(string(body), "DnmtnCcy") {
		t.Fatalf("invalid reda.006: %d %s", status, body)
	}
	bodies := rx.Wait(t, 3)
	want := []struct {
		request, prefix string
		completed       bool
	}{{"MFRK-REG-0001", "KZKD", true}, {"MFRK-REG-0002", "KZK1", true}, {"MFRK-REG-0003", "", false}}
	for i, w := range want {
		var doc reda008.Document
		m := parse(t, bodies[i], isodoc.Reda008, &doc)
		adv := doc.SctyCreStsAdvc
		if got := isodoc.S(adv.MsgHdr.OrgnlBizInstr.MsgId); got != w.request {
			t.Errorf("advice %d refers to %q, want %s", i, got, w.request)
		}
		if len(m.HeaderV03.Rltd) != 1 || isodoc.S(m.HeaderV03.Rltd[0].BizMsgIdr) != w.request {
			t.Errorf("advice %d: AppHdr/Rltd does not name %s", i, w.request)
		}
		isin := isodoc.S(adv.FinInstrmId.ISIN)
		if !w.completed {
			if adv.PrcgSts.Rjctd == nil || isin != "" || !strings.Contains(isodoc.S(adv.PrcgSts.Rjctd.Rsn[0].AddtlRsnInf), "type") {
				t.Errorf("advice %d: want a rejection naming the missing type, got ISIN %q", i, isin)
			}
			continue
		}
		if adv.PrcgSts.Cmpltd == nil || !strings.HasPrefix(isin, w.prefix) || securities.ValidateISIN(isin) != nil {
			t.Errorf("advice %d: ISIN %q (completed %v), want a valid %s… ISIN", i, isin, adv.PrcgSts.Cmpltd != nil, w.prefix)
		}
	}
	// Answers are queued before the 202, so once the queue is empty a
	// second answer to the resend would have arrived.
	s.Shared(csd.Name).(*csd.Mock).Drain()
	if n := len(rx.Bodies()); n != 3 {
		t.Fatalf("%d advices for 3 distinct requests", n)
	}
	if r := mocktest.Received(t, srv.URL, "csd"); r.Total != 4 || r.Unique != 3 {
		t.Fatalf("received log: total %d unique %d", r.Total, r.Unique)
	}
}

// placement is a one-year issue paying twice a year, placed with two
// participants; BANK02's settlement pends once.
func placement() csd.Placement {
	return csd.Placement{
		AnnouncementID: "MFRK-ANN-0001", ISIN: "KZK200000125", Type: securities.MEOKAM, FaceValue: 1000_00, Currency: "KZT",
		CirculationStart: securities.Date(2026, 12, 10), Maturity: securities.Date(2027, 12, 10),
		CouponRate: 12_5000, CouponFrequency: 2, Basis: securities.Thirty360,
		TradeDate: securities.Date(2026, 12, 8), SettlementDate: securities.Date(2026, 12, 10),
		Allocations: []csd.Allocation{
			{Participant: "BANK01", Units: 300, Price: 99_5000, Amount: 298500_00},
			{Participant: "BANK02", Units: 200, Price: 99_0000, Amount: 198000_00},
		},
	}
}

func holders(t *testing.T, url, isin, date string) map[string]string {
	t.Helper()
	status, body := mocktest.Do(t, "GET", url+"/csd/holdings?isin="+isin+"&date="+date, nil)
	if status != 200 {
		t.Fatalf("holdings %s %s: %d %s", isin, date, status, body)
	}
	var doc semt002.Document
	parse(t, body, isodoc.Semt002, &doc)
	out := map[string]string{}
	r := doc.SctiesBalCtdyRpt
	out["total"] = isodoc.S(r.BalForAcct[0].AggtBal.Qty.Qty.Qty.Unit)
	for _, s := range r.SubAcctDtls {
		out[isodoc.S(s.AcctOwnr.Id.PrtryId.Id)] = isodoc.S(s.BalForSubAcct[0].AggtBal.Qty.Qty.Qty.Unit)
	}
	return out
}

// A placement settles on its settlement date, one sese.025 per
// allocation, the pending participant's after a sese.024 LACK; the
// register then holds the allocations; the coupons and the redemption are
// notified and confirmed with the amounts the securities rules give.
func TestSettlementAndServicing(t *testing.T) {
	srv, s, rx := start(t)
	setClock(t, srv.URL, "2026-12-08T16:00:00+05:00")
	if status, body := mocktest.Do(t, "PUT", srv.URL+"/csd/_control/settlement", []byte(`{"pending":["BANK02"]}`)); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	depository := s.Shared(csd.Name).(*csd.Mock)
	if err := depository.Settle(placement()); err != nil {
		t.Fatal(err)
	}
	if status, _ := mocktest.Do(t, "GET", srv.URL+"/csd/holdings?isin=KZKD00000345&date=2026-12-10", nil); status != http.StatusNotFound {
		t.Fatalf("unknown ISIN: %d", status)
	}
	if h := holders(t, srv.URL, "KZK200000125", "2026-12-09"); len(h) != 1 || h["total"] != "0" {
		t.Fatalf("holders before settlement: %v", h)
	}

	setClock(t, srv.URL, "2026-12-10T10:00:00+05:00")
	bodies := rx.Wait(t, 2)
	var confirmed sese025.Document
	parse(t, bodies[0], isodoc.Sese025, &confirmed)
	c := confirmed.SctiesSttlmTxConf
	if got := [5]string{isodoc.S(c.TradDtls.TradId[0]), isodoc.S(c.FinInstrmId.ISIN), isodoc.S(c.QtyAndAcctDtls.SttldQty.Qty.Unit), isodoc.S(c.SttldAmt.Amt.Value), isodoc.S(c.QtyAndAcctDtls.AcctOwnr.Id.PrtryId.Id)}; got != [5]string{"MFRK-ANN-0001/BANK01", "KZK200000125", "300", "298500.00", "BANK01"} {
		t.Errorf("sese.025: %v", got)
	}
	var pending sese024.Document
	parse(t, bodies[1], isodoc.Sese024, &pending)
	if a := pending.SctiesSttlmTxStsAdvc; isodoc.S(a.TxDtls.TradId[0]) != "MFRK-ANN-0001/BANK02" || isodoc.S(a.SttlmSts.Pdg.Rsn[0].Cd.Cd) != "LACK" {
		t.Errorf("sese.024 for %s reason %s", isodoc.S(a.TxDtls.TradId[0]), isodoc.S(a.SttlmSts.Pdg.Rsn[0].Cd.Cd))
	}
	setClock(t, srv.URL, "2026-12-10T11:00:00+05:00")
	bodies = rx.Wait(t, 3)
	parse(t, bodies[2], isodoc.Sese025, &confirmed)
	if id := isodoc.S(confirmed.SctiesSttlmTxConf.TxIdDtls.AcctOwnrTxId); id != "MFRK-ANN-0001/BANK02" {
		t.Errorf("second confirmation is for %s", id)
	}
	if h := holders(t, srv.URL, "KZK200000125", "2026-12-10"); h["total"] != "500" || h["BANK01"] != "300" || h["BANK02"] != "200" {
		t.Fatalf("holders after settlement: %v", h)
	}

	// The whole life at once: every event falls due, in time order.
	setClock(t, srv.URL, "2028-01-10T12:00:00+05:00")
	bodies = rx.Wait(t, 9)[3:]
	for _, p := range depository.Pushed() {
		if p.Error != "" || p.Status != 200 {
			t.Errorf("push %s %s: %d %s", p.Type, p.ID, p.Status, p.Error)
		}
	}
	type event struct{ doc, id, record, paid, perUnit, paidTotal string }
	want := []event{
		{doc: isodoc.Seev031, id: "INTR-KZK200000125-01", record: "2027-06-09", paid: "2027-06-10", perUnit: "62.50"},
		{doc: isodoc.Seev036, id: "INTR-KZK200000125-01", paid: "2027-06-10", paidTotal: "31250.00"},
		{doc: isodoc.Seev031, id: "INTR-KZK200000125-02", record: "2027-12-09", paid: "2027-12-10", perUnit: "62.50"},
		{doc: isodoc.Seev031, id: "REDM-KZK200000125", record: "2027-12-09", paid: "2027-12-10", perUnit: "1000.00"},
		{doc: isodoc.Seev036, id: "INTR-KZK200000125-02", paid: "2027-12-10", paidTotal: "31250.00"},
		{doc: isodoc.Seev036, id: "REDM-KZK200000125", paid: "2027-12-10", paidTotal: "500000.00"},
	}
	for i, w := range want {
		var got event
		switch w.doc {
		case isodoc.Seev031:
			var doc seev031.Document
			parse(t, bodies[i], w.doc, &doc)
			n := doc.CorpActnNtfctn
			cash := n.CorpActnOptnDtls[0].CshMvmntDtls[0]
			got = event{doc: w.doc, id: isodoc.S(n.CorpActnGnlInf.CorpActnEvtId), record: isodoc.S(n.CorpActnDtls.DtDtls.RcrdDt.Dt),
				paid: isodoc.S(n.CorpActnDtls.DtDtls.PmtDt.Dt), perUnit: isodoc.S(cash.RateAndAmtDtls.GrssDvddRate[0].Amt.Value)}
			if rate := isodoc.S(n.CorpActnDtls.RateAndAmtDtls.IntrstRate.Rate); rate != "12.5000" {
				t.Errorf("%s: rate %s", got.id, rate)
			}
		case isodoc.Seev036:
			var doc seev036.Document
			parse(t, bodies[i], w.doc, &doc)
			c := doc.CorpActnMvmntConf
			cash := c.CorpActnConfDtls.CshMvmntDtls[0]
			got = event{doc: w.doc, id: isodoc.S(c.CorpActnGnlInf.CorpActnEvtId), paid: isodoc.S(cash.DtDtls.PstngDt.Dt), paidTotal: isodoc.S(cash.AmtDtls.PstngAmt.Value)}
		}
		if got != w {
			t.Errorf("push %d: %+v\nwant %+v", i+4, got, w)
		}
	}
	if h := holders(t, srv.URL, "KZK200000125", "2027-12-10"); h["total"] != "0" {
		t.Fatalf("holders after redemption: %v", h)
	}
}

// The settlement control and the clock refuse what they cannot apply.
func TestControlRefusals(t *testing.T) {
	srv, _, _ := start(t)
	for _, c := range []struct{ method, path, body string }{
		{"PUT", "/csd/_control/settlement", `{"pending":"BANK01"}`},
		{"PUT", "/csd/_control/settlement", `{"pendng":["BANK01"]}`},
		{"PUT", "/_control/clock", `{"now":"tomorrow"}`},
		{"PUT", "/_control/clock", `{"advance":"-1h"}`},
		{"PUT", "/_control/clock", `{"now":"2026-12-08T09:00:00+05:00","advance":"1h"}`},
		{"GET", "/csd/holdings?isin=KZK200000125&date=08.12.2026", ""},
	} {
		if status, body := mocktest.Do(t, c.method, srv.URL+c.path, []byte(c.body)); status != http.StatusBadRequest {
			t.Errorf("%s %s %s: %d %s", c.method, c.path, c.body, status, body)
		}
	}
}
