package csdchannel_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/csdchannel"
	c "github.com/minfin-kz/kopir/contracts/iso20022/components"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/reda008"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/seev031"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/seev036"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/sese024"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/sese025"
)

const (
	ministry   = "KKMFKZ2A"
	depository = "CEDUKZKA"
	isin       = "KZKD00000345"
	// A MEUKAM paying 12.5 % twice a year on 30/360: 62.50 tenge a coupon.
	channelOpts = "senders: [" + depository + "]\ninstruments:\n  - {prefix: KZKD, dayBasis: 30/360, frequency: 2}\n"
)

var keys = []string{"reda.008", "sese.024", "sese.025", "seev.031", "seev.036"}

func p[T ~string](s string) *T { return isodoc.P[T](s) }

func date(d string) *c.DateAndDateTime2Choice { return &c.DateAndDateTime2Choice{Dt: p[c.ISODate](d)} }

func tenge(v string) *c.ActiveCurrencyAndAmount {
	return &c.ActiveCurrencyAndAmount{Value: p[c.ActiveCurrencyAndAmount_SimpleType](v), Ccy: p[c.ActiveCurrencyCode]("KZT")}
}

func units(n string) *c.FinancialInstrumentQuantity33Choice {
	return &c.FinancialInstrumentQuantity33Choice{Unit: p[c.DecimalNumber](n)}
}

func security(id string) *c.SecurityIdentification19 {
	return &c.SecurityIdentification19{ISIN: p[c.ISINOct2015Identifier](id)}
}

func message(t testing.TB, docID, bizMsgIdr string, doc any) []byte {
	t.Helper()
	hdr := isodoc.NewHeaderV03(depository, ministry, bizMsgIdr, docID, "", time.Date(2027, 6, 1, 4, 0, 0, 0, time.UTC))
	out, err := isodoc.MarshalV03(xml.Name{Local: "message"}, hdr, docID, doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func reda008Doc(request string) *reda008.Document {
	return &reda008.Document{SctyCreStsAdvc: &c.SecurityCreationStatusAdviceV01{
		MsgHdr: &c.MessageHeader12{MsgId: p[c.Max35Text]("CSD-ADV-0001"), CreDtTm: p[c.ISODateTime]("2026-12-01T11:00:00+05:00"),
			OrgnlBizInstr: &c.OriginalBusinessInstruction1{MsgId: p[c.Max35Text](request)}},
		FinInstrmId: &c.SecurityIdentification39{ISIN: p[c.ISIN2021Identifier](isin),
			OthrId: []*c.OtherIdentification1{{Id: p[c.Max35Text]("MUM120_0001"), Tp: &c.IdentificationSource3Choice{Prtry: p[c.Max35Text]("KASE")}}}},
		PrcgSts: &c.ProcessingStatus72Choice{Cmpltd: &c.Reason4{}},
	}}
}

func sese024Doc() *sese024.Document {
	return &sese024.Document{SctiesSttlmTxStsAdvc: &c.SecuritiesSettlementTransactionStatusAdviceV12{
		TxId:    &c.TransactionIdentifications47{AcctOwnrTxId: p[c.Max35Text]("ANN-1/HSBK"), AcctSvcrTxId: p[c.Max35Text]("CSD-TX-1")},
		PrcgSts: &c.ProcessingStatus88Choice{AckdAccptd: &c.AcknowledgedAcceptedStatus21Choice{NoSpcfdRsn: p[c.NoReasonCode]("NORE")}},
		SttlmSts: &c.SettlementStatus30Choice{Pdg: &c.PendingStatus67Choice{Rsn: []*c.PendingReason30{{
			Cd: &c.PendingReason63Choice{Cd: p[c.PendingReason24Code]("LACK")}, AddtlRsnInf: p[c.Max210Text]("lack of funds")}}}},
		TxDtls: &c.TransactionDetails148{
			TradId:        []*c.Max52Text{p[c.Max52Text]("ANN-1/HSBK")},
			FinInstrmId:   security(isin),
			SttlmQty:      &c.Quantity51Choice{Qty: units("600")},
			SttlmAmt:      &c.AmountAndDirection51{Amt: tenge("597000.00"), CdtDbtInd: p[c.CreditDebitCode]("CRDT")},
			SttlmDt:       &c.SettlementDate19Choice{Dt: date("2026-12-10")},
			TradDt:        &c.TradeDate8Choice{Dt: date("2026-12-08")},
			SctiesMvmntTp: p[c.ReceiveDelivery1Code]("DELI"),
			Pmt:           p[c.DeliveryReceiptType2Code]("APMT"),
			SttlmParams:   &c.SettlementDetails202{SctiesTxTp: &c.SecuritiesTransactionType44Choice{Cd: p[c.SecuritiesTransactionType26Code]("TRAD")}},
		},
	}}
}

func sese025Doc() *sese025.Document {
	return &sese025.Document{SctiesSttlmTxConf: &c.SecuritiesSettlementTransactionConfirmationV11{
		TxIdDtls: &c.SettlementTypeAndIdentification27{AcctOwnrTxId: p[c.Max35Text]("ANN-1/HSBK"),
			SctiesMvmntTp: p[c.ReceiveDelivery1Code]("DELI"), Pmt: p[c.DeliveryReceiptType2Code]("APMT")},
		TradDtls: &c.SecuritiesTradeDetails118{TradId: []*c.Max52Text{p[c.Max52Text]("ANN-1/HSBK")},
			TradDt: &c.TradeDate8Choice{Dt: date("2026-12-08")}, FctvSttlmDt: &c.SettlementDate18Choice{Dt: date("2026-12-10")}},
		FinInstrmId:    security(isin),
		QtyAndAcctDtls: &c.QuantityAndAccount96{SttldQty: &c.Quantity51Choice{Qty: units("600")}},
		SttlmParams:    &c.SettlementDetails203{SctiesTxTp: &c.SecuritiesTransactionType43Choice{Cd: p[c.SecuritiesTransactionType25Code]("TRAD")}},
		SttldAmt:       &c.AmountAndDirection94{Amt: tenge("597000.10"), CdtDbtInd: p[c.CreditDebitCode]("CRDT")},
	}}
}

// seev031Doc announces the coupon paid on 3 June 2027 with the given
// amount per unit.
func seev031Doc(event, perUnit string) *seev031.Document {
	return &seev031.Document{CorpActnNtfctn: &c.CorporateActionNotificationV14{
		NtfctnGnlInf: &c.CorporateActionNotification9{NtfctnTp: p[c.CorporateActionNotificationType1Code]("NEWM"),
			PrcgSts: &c.CorporateActionProcessingStatus5Choice{Cd: &c.CorporateActionEventStatus1{
				EvtCmpltnsSts: p[c.EventCompletenessStatus1Code]("COMP"), EvtConfSts: p[c.EventConfirmationStatus1Code]("CONF")}}},
		CorpActnGnlInf: &c.CorporateActionGeneralInformation165{
			CorpActnEvtId:     p[c.Max35Text](event + "-" + isin + "-01"),
			EvtTp:             &c.CorporateActionEventType84Choice{Cd: p[c.CorporateActionEventType31Code](event)},
			MndtryVlntryEvtTp: &c.CorporateActionMandatoryVoluntary3Choice{Cd: p[c.CorporateActionMandatoryVoluntary1Code]("MAND")},
			UndrlygScty: &c.FinancialInstrumentAttributes108{FinInstrmId: security(isin),
				DnmtnCcy: p[c.ActiveOrHistoricCurrencyCode]("KZT"), MtrtyDt: p[c.ISODate]("2036-12-03")}},
		AcctDtls: &c.AccountIdentification56Choice{ForAllAccts: &c.AccountIdentification10{IdCd: p[c.SafekeepingAccountIdentification1Code]("GENR")}},
		CorpActnDtls: &c.CorporateAction80{DtDtls: &c.CorporateActionDate83{
			RcrdDt: &c.DateFormat30Choice{Dt: p[c.ISODate]("2027-06-02")},
			PmtDt:  &c.DateFormat30Choice{Dt: p[c.ISODate]("2027-06-03")}}},
		CorpActnOptnDtls: []*c.CorporateActionOption224{{
			OptnNb:             p[c.Exact3NumericText]("001"),
			OptnTp:             &c.CorporateActionOption37Choice{Cd: p[c.CorporateActionOption15Code]("CASH")},
			DfltPrcgOrStgInstr: &c.DefaultProcessingOrStandingInstruction1Choice{DfltOptnInd: ptrYes()},
			CshMvmntDtls: []*c.CashOption96{{
				CdtDbtInd: p[c.CreditDebitCode]("CRDT"),
				DtDtls:    &c.CorporateActionDate84{PmtDt: &c.DateFormat30Choice{Dt: p[c.ISODate]("2027-06-03")}},
				RateAndAmtDtls: &c.Rate36{IntrstRateUsdForPmt: []*c.InterestRateUsedForPaymentFormat8Choice{
					{Rate: p[c.PercentageRate]("12.5")},
					{Amt: &c.ActiveCurrencyAnd13DecimalAmount{Value: p[c.ActiveCurrencyAnd13DecimalAmount_SimpleType](perUnit), Ccy: p[c.ActiveCurrencyCode]("KZT")}},
				}},
			}},
		}},
		Issr: &c.PartyIdentification129Choice{PrtryId: &c.GenericIdentification36{Id: p[c.Max35Text]("MFRK"), Issr: p[c.Max35Text]("KASE")}},
	}}
}

func ptrYes() *c.YesNoIndicator { v := c.YesNoIndicator(true); return &v }

func seev036Doc() *seev036.Document {
	return &seev036.Document{CorpActnMvmntConf: &c.CorporateActionMovementConfirmationV15{
		CorpActnGnlInf: &c.CorporateActionGeneralInformation162{
			CorpActnEvtId: p[c.Max35Text]("INTR-" + isin + "-01"),
			EvtTp:         &c.CorporateActionEventType87Choice{Cd: p[c.CorporateActionEventType30Code]("INTR")},
			FinInstrmId:   security(isin)},
		AcctDtls: &c.AccountAndBalance49{SfkpgAcct: p[c.Max35Text]("KZ-CSD-0001"),
			Bal: &c.CorporateActionBalanceDetails41{ConfdBal: &c.BalanceFormat11Choice{Bal: &c.SignedQuantityFormat11{
				ShrtLngPos: p[c.ShortLong1Code]("LONG"), QtyChc: &c.Quantity48Choice{Qty: units("600")}}}}},
		CorpActnConfDtls: &c.CorporateActionOption222{
			OptnNb: &c.OptionNumber1Choice{Nb: p[c.Exact3NumericText]("001")},
			OptnTp: &c.CorporateActionOption33Choice{Cd: p[c.CorporateActionOption12Code]("CASH")},
			CshMvmntDtls: []*c.CashOption95{{
				CdtDbtInd: p[c.CreditDebitCode]("CRDT"),
				AmtDtls:   &c.CorporateActionAmounts66{PstngAmt: tenge("37500.00")},
				DtDtls:    &c.CorporateActionDate99{PstngDt: date("2027-06-03")}}}},
	}}
}

func newChannel(t testing.TB, opts string) adapters.Channel {
	t.Helper()
	ch, err := adaptertest.BuildChannel(t, csdchannel.ChannelName, opts)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// serve mounts the channel the way the core does: under /csd.
func serve(t *testing.T, ch adapters.Channel, in adapters.Intake) string {
	t.Helper()
	mux := http.NewServeMux()
	for pattern, h := range ch.Routes(in) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.Handle(strings.TrimSpace(method+" /csd"+path), h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/csd"
}

func newIntake() *adaptertest.Intake {
	in := adaptertest.NewIntake(csdchannel.ChannelName)
	for _, k := range keys {
		in.Route(k, false)
	}
	return in
}

func post(t *testing.T, url string, body []byte) (int, string, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/xml", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var problem map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &problem); err != nil {
			t.Fatalf("answer is not JSON: %s", b)
		}
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), problem
}

func TestEachMessageTypeIsAcceptedWithItsKeyAndFields(t *testing.T) {
	for name, tc := range map[string]struct {
		docID string
		doc   any
		key   string
		want  map[string]any
	}{
		"reda.008": {isodoc.Reda008, reda008Doc("REQ1"), "reda.008", map[string]any{
			"isin": isin, "tradeCode": "MUM120_0001", "status": "COMPLETED", "requestMsgId": "REQ1", "request": "UNMATCHED"}},
		"sese.024": {isodoc.Sese024, sese024Doc(), "sese.024", map[string]any{
			"isin": isin, "tradeId": "ANN-1/HSBK", "processingStatus": "ACCEPTED", "processingReason": "NORE",
			"settlementStatus": "PENDING", "settlementReason": "LACK", "reasonText": "lack of funds", "quantity": "600",
			"amount": map[string]any{"value": "597000.00", "currency": "KZT"}, "tradeDate": "2026-12-08", "settlementDate": "2026-12-10"}},
		"sese.025": {isodoc.Sese025, sese025Doc(), "sese.025", map[string]any{
			"isin": isin, "tradeId": "ANN-1/HSBK", "participant": "HSBK", "quantity": "600", "movement": "DELI", "payment": "APMT",
			"amount": map[string]any{"value": "597000.10", "currency": "KZT"}, "tradeDate": "2026-12-08", "settlementDate": "2026-12-10"}},
		"seev.031": {isodoc.Seev031, seev031Doc("INTR", "62.50"), "seev.031", map[string]any{
			"isin": isin, "eventType": "INTR", "eventId": "INTR-" + isin + "-01", "recordDate": "2027-06-02", "paymentDate": "2027-06-03",
			"rate": "12.5", "amountPerUnit": map[string]any{"value": "62.50", "currency": "KZT"}, "maturityDate": "2036-12-03"}},
		"seev.036": {isodoc.Seev036, seev036Doc(), "seev.036", map[string]any{
			"isin": isin, "eventType": "INTR", "account": "KZ-CSD-0001", "quantity": "600",
			"amount": map[string]any{"value": "37500.00", "currency": "KZT"}, "postingDate": "2027-06-03"}},
	} {
		t.Run(name, func(t *testing.T) {
			in := newIntake()
			url := serve(t, newChannel(t, channelOpts), in)
			status, _, body := post(t, url, message(t, tc.docID, "CSD-"+tc.key, tc.doc))
			if status != http.StatusOK || body != nil {
				t.Fatalf("answer %d %v, want 200 with no body", status, body)
			}
			acc := in.Accepted()
			if len(acc) != 1 {
				t.Fatalf("%d accepted", len(acc))
			}
			m := acc[0]
			if m.Key != tc.key || m.ExternalID != "CSD-"+tc.key || m.Sender != depository || len(m.Raw) == 0 {
				t.Fatalf("accepted key %q external id %q sender %q", m.Key, m.ExternalID, m.Sender)
			}
			var got map[string]any
			if err := json.Unmarshal(m.Body, &got); err != nil {
				t.Fatal(err)
			}
			if got["messageDefinition"] != tc.docID || got["bizMsgIdr"] != "CSD-"+tc.key {
				t.Errorf("header fields: %v", got)
			}
			for k, v := range tc.want {
				gb, _ := json.Marshal(got[k])
				wb, _ := json.Marshal(v)
				if string(gb) != string(wb) {
					t.Errorf("%s = %s, want %s", k, gb, wb)
				}
			}
			if _, flagged := got["amountDisagrees"]; flagged {
				t.Errorf("flagged: %v", got["amountDisagrees"])
			}
		})
	}
}

func TestInvalidDocumentIsRefusedNamingTheElement(t *testing.T) {
	in := newIntake()
	url := serve(t, newChannel(t, channelOpts), in)
	valid := string(message(t, isodoc.Sese025, "CSD-BAD-1", sese025Doc()))
	for name, tc := range map[string]struct {
		raw, code, element string
	}{
		"schema violation": {strings.Replace(valid, "<SctiesMvmntTp>DELI</SctiesMvmntTp>", "<SctiesMvmntTp>SELL</SctiesMvmntTp>", 1),
			isodoc.CodeSchemaInvalid, "/message/Document/SctiesSttlmTxConf/TxIdDtls/SctiesMvmntTp"},
		"not XML":      {"<message><AppHdr>", isodoc.CodeXMLRefused, ""},
		"not accepted": {strings.ReplaceAll(valid, "sese.025.001.11", "sese.023.001.11"), isodoc.CodeUnknownMessage, "Document"},
		"no header":    {string(mustBare(t)), "NO_HEADER", "AppHdr"},
		"wrong sender": {strings.Replace(valid, "<BICFI>"+depository, "<BICFI>HSBKKZKX", 1), "SENDER_NOT_ALLOWED", "AppHdr"},
	} {
		t.Run(name, func(t *testing.T) {
			before := len(in.Rejected())
			status, ctype, problem := post(t, url, []byte(tc.raw))
			if status != http.StatusBadRequest || ctype != "application/problem+json" || problem["code"] != tc.code {
				t.Fatalf("answer %d %s %v, want 400 %s", status, ctype, problem, tc.code)
			}
			if tc.element != "" && problem["element"] != tc.element {
				t.Errorf("element %v, want %s", problem["element"], tc.element)
			}
			rej := in.Rejected()
			if len(rej) != before+1 || rej[len(rej)-1].Status != "REJECTED" || problem["messageId"] != rej[len(rej)-1].ID {
				t.Fatalf("not stored as REJECTED: %+v", rej)
			}
		})
	}
	if len(in.Accepted()) != 0 {
		t.Fatal("a refused message was accepted")
	}
}

func mustBare(t *testing.T) []byte {
	out, err := isodoc.MarshalV03(xml.Name{}, nil, isodoc.Sese025, sese025Doc())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDuplicateIsTakenOnce(t *testing.T) {
	in := newIntake()
	url := serve(t, newChannel(t, channelOpts), in)
	raw := message(t, isodoc.Sese025, "CSD-DUP-1", sese025Doc())
	for i := 0; i < 2; i++ {
		if status, _, body := post(t, url, raw); status != http.StatusOK || body != nil {
			t.Fatalf("attempt %d: %d %v", i+1, status, body)
		}
	}
	acc := in.Accepted()
	if len(acc) != 1 {
		t.Fatalf("%d accepted, want 1", len(acc))
	}
	if dups := in.Actions(acc[0].ID, "DUPLICATE"); len(dups) != 1 {
		t.Fatalf("duplicate events %v", dups)
	}
}

func TestCouponAmountIsCheckedAgainstTheTerms(t *testing.T) {
	for name, tc := range map[string]struct {
		opts, perUnit string
		event         string
		disagrees     bool
		computed      string
	}{
		"agrees":                   {channelOpts, "62.50", "INTR", false, ""},
		"agrees written otherwise": {channelOpts, "62.5000000", "INTR", false, ""},
		"disagrees by a tiyn":      {channelOpts, "62.49", "INTR", true, "62.50"},
		// 182 actual days of 365: 62.328…, half up to 62.33.
		"actual/365 disagrees":         {"instruments: [{prefix: KZKD00000345, dayBasis: actual/365, frequency: 2}, {prefix: KZKD, dayBasis: 30/360, frequency: 2}]", "62.50", "INTR", true, "62.33"},
		"actual/actual agrees":         {"instruments: [{prefix: KZKD, dayBasis: actual/actual, frequency: 2}]", "62.50", "INTR", false, ""},
		"redemption is not recomputed": {channelOpts, "1000", "REDM", false, ""},
	} {
		t.Run(name, func(t *testing.T) {
			in := newIntake()
			url := serve(t, newChannel(t, tc.opts), in)
			if status, _, body := post(t, url, message(t, isodoc.Seev031, "CSD-CPN-1", seev031Doc(tc.event, tc.perUnit))); status != http.StatusOK {
				t.Fatalf("%d %v", status, body)
			}
			m := in.Accepted()[0]
			var got struct {
				Disagrees  *csdchannel.Disagreement `json:"amountDisagrees"`
				NotChecked string                   `json:"amountNotChecked"`
			}
			if err := json.Unmarshal(m.Body, &got); err != nil {
				t.Fatal(err)
			}
			if got.NotChecked != "" {
				t.Fatalf("not checked: %s", got.NotChecked)
			}
			notes := in.Actions(m.ID, csdchannel.ActionCouponDisagrees)
			if !tc.disagrees {
				if got.Disagrees != nil || len(notes) != 0 {
					t.Fatalf("flagged %+v, trail %v", got.Disagrees, notes)
				}
				return
			}
			if got.Disagrees == nil || got.Disagrees.Notice != tc.perUnit || got.Disagrees.Computed != tc.computed {
				t.Fatalf("amountDisagrees %+v, want notice %s computed %s", got.Disagrees, tc.perUnit, tc.computed)
			}
			if len(notes) != 1 || !strings.Contains(notes[0], "notice "+tc.perUnit+", computed "+tc.computed) || !strings.Contains(notes[0], "CSD-CPN-1") {
				t.Fatalf("trail %v", notes)
			}
		})
	}
}

func TestCouponWithoutTermsIsNotCheckedAndSaysWhy(t *testing.T) {
	in := newIntake()
	url := serve(t, newChannel(t, ""), in)
	if status, _, _ := post(t, url, message(t, isodoc.Seev031, "CSD-CPN-2", seev031Doc("INTR", "1.00"))); status != http.StatusOK {
		t.Fatal(status)
	}
	var got map[string]any
	_ = json.Unmarshal(in.Accepted()[0].Body, &got)
	if why, _ := got["amountNotChecked"].(string); !strings.Contains(why, "day basis") || got["amountDisagrees"] != nil {
		t.Fatalf("body %v", got)
	}
}

func TestIssueStatusIsRecordedOnTheRegisterRequest(t *testing.T) {
	in := newIntake()
	request := in.Sent(csdchannel.DefaultRegisterRoute, "0191f0a27b3c7d4e8f90a1b2c3d4e5f6", []byte(`{"type":"MEUKAM"}`))
	url := serve(t, newChannel(t, channelOpts), in)
	raw := message(t, isodoc.Reda008, "CSD-ADV-1", reda008Doc("0191f0a27b3c7d4e8f90a1b2c3d4e5f6"))
	for i := 0; i < 2; i++ {
		if status, _, body := post(t, url, raw); status != http.StatusOK {
			t.Fatalf("%d %v", status, body)
		}
	}
	notes := in.Actions(request, csdchannel.ActionIssueStatus)
	if len(notes) != 1 || notes[0] != "COMPLETED "+isin+" (reda.008 CSD-ADV-1)" {
		t.Fatalf("register request's trail: %v", notes)
	}
	var got map[string]any
	_ = json.Unmarshal(in.Accepted()[0].Body, &got)
	if got["requestMessageId"] != request {
		t.Fatalf("body %v", got)
	}
}

// A settlement is tied to the placement its trade id names: the
// announcement's trail shows the allocation settled (once, however often
// the depository sends it); one for a placement the bus does not hold is
// still taken and says so.
func TestSettlementIsRecordedOnItsPlacement(t *testing.T) {
	in := newIntake()
	announcement := in.Sent(csdchannel.DefaultPlacementRoutes[0], "ANN-1", []byte(`{"isin":"`+isin+`"}`))
	url := serve(t, newChannel(t, channelOpts), in)
	raw := message(t, isodoc.Sese025, "CSD-STL-1", sese025Doc())
	for i := 0; i < 2; i++ {
		if status, _, body := post(t, url, raw); status != http.StatusOK {
			t.Fatalf("%d %v", status, body)
		}
	}
	if notes := in.Actions(announcement, csdchannel.ActionSettled); len(notes) != 1 || notes[0] != "HSBK 600 (sese.025 CSD-STL-1)" {
		t.Fatalf("the placement's trail: %v", notes)
	}
	var got map[string]any
	_ = json.Unmarshal(in.Accepted()[0].Body, &got)
	if got["placementMessageId"] != announcement || got["allocation"] != nil {
		t.Fatalf("body %v", got)
	}

	other := sese025Doc()
	other.SctiesSttlmTxConf.TradDtls.TradId[0] = p[c.Max52Text]("ANN-9/HSBK")
	if status, _, body := post(t, url, message(t, isodoc.Sese025, "CSD-STL-2", other)); status != http.StatusOK {
		t.Fatalf("%d %v", status, body)
	}
	acc := in.Accepted()
	_ = json.Unmarshal(acc[len(acc)-1].Body, &got)
	if got["allocation"] != "UNMATCHED" {
		t.Fatalf("a settlement of no known placement: %v", got)
	}
}

func TestOptionsAreChecked(t *testing.T) {
	for name, o := range map[string]string{
		"sender":    "senders: [CSD]",
		"basis":     "instruments: [{prefix: KZKD, dayBasis: actual/360}]",
		"frequency": "instruments: [{prefix: KZKD, frequency: 3}]",
		"prefix":    "instruments: [{prefix: K}]",
		"face":      "instruments: [{prefix: KZKD, faceValue: 1e3}]",
		"holiday":   "holidays: [tomorrow]",
		"unknown":   "sender: [CEDUKZKA]",
	} {
		if _, err := adaptertest.BuildChannel(t, csdchannel.ChannelName, o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
