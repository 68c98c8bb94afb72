package iso20022

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/contracts/iso20022/components"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/camt056"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/pacs008"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/pain001"
	"github.com/minfin-kz/kopir/internal/safexml"
	"github.com/minfin-kz/kopir/internal/xsd"
)

var testNow = time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC) // 14:00 in Astana

const testMessageID = "0195c0de-0000-7000-8000-000000000001"

func newAdapter(t testing.TB, op, opts string) *Adapter {
	t.Helper()
	ad, err := New(adapters.AdapterConfig{Operation: op, Options: yamlOpts(opts)}, adaptertest.Resources(t))
	if err != nil {
		t.Fatal(err)
	}
	a := ad.(*Adapter)
	a.Now = func() time.Time { return testNow }
	return a
}

func orderJSON(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/credit-transfer.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edit applies a change to the order given as JSON.
func edit(t testing.TB, body []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	return mustJSON(t, m)
}

func encode(t testing.TB, a *Adapter, body []byte) (*adapters.Request, []byte) {
	t.Helper()
	req := &adapters.Request{MessageID: testMessageID, Body: body}
	w, err := a.Encode(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return req, w.Body
}

// assertValid checks an emitted message against the official XSDs on its
// own, independently of the check Marshal already made.
func assertValid(t testing.TB, raw []byte, docID string) *isodoc.Message {
	t.Helper()
	m, err := isodoc.Parse(raw, []string{docID}, safexml.Limits{})
	if err != nil {
		t.Fatalf("emitted %s is not valid per %s: %v", docID, isodoc.Validator(), err)
	}
	if m.Header == nil || isodoc.S(m.Header.MsgDefIdr) != docID {
		t.Fatalf("emitted %s without a matching business application header", docID)
	}
	t.Logf("%s validated by %s", docID, isodoc.Validator())
	return m
}

func TestCreditTransferIsValidPacs008WithHeader(t *testing.T) {
	a := newAdapter(t, OpCreditTransfer, testOpts)
	req, raw := encode(t, a, orderJSON(t))
	if req.ExternalID != "MF-2025-000123" {
		t.Fatalf("ExternalID = %q, want the end-to-end id", req.ExternalID)
	}
	m := assertValid(t, raw, isodoc.Pacs008)
	if got := isodoc.S(m.Header.BizMsgIdr); got != "0195c0de000070008000000000000001" {
		t.Errorf("BizMsgIdr = %s", got)
	}
	if isodoc.PartyBIC(m.Header.Fr) != "KKMFKZ2A" || isodoc.PartyBIC(m.Header.To) != "NBRKKZKX" {
		t.Errorf("header from %s to %s", isodoc.PartyBIC(m.Header.Fr), isodoc.PartyBIC(m.Header.To))
	}
	var doc pacs008.Document
	if err := m.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	g := doc.FIToFICstmrCdtTrf.GrpHdr
	tx := doc.FIToFICstmrCdtTrf.CdtTrfTxInf[0]
	for name, c := range map[string][2]string{
		"MsgId":             {isodoc.S(g.MsgId), "0195c0de000070008000000000000001"},
		"NbOfTxs":           {isodoc.S(g.NbOfTxs), "1"},
		"CtrlSum":           {isodoc.S(g.CtrlSum), "150000.00"},
		"TtlIntrBkSttlmAmt": {isodoc.S(g.TtlIntrBkSttlmAmt.Value) + " " + isodoc.S(g.TtlIntrBkSttlmAmt.Ccy), "150000.00 KZT"},
		"IntrBkSttlmAmt":    {isodoc.S(tx.IntrBkSttlmAmt.Value), "150000.00"},
		"IntrBkSttlmDt":     {isodoc.S(g.IntrBkSttlmDt), "2025-03-10"},
		"EndToEndId":        {isodoc.S(tx.PmtId.EndToEndId), "MF-2025-000123"},
		"DbtrAcct":          {isodoc.S(tx.DbtrAcct.Id.IBAN), "KZ77070105KZT0000001"},
		"CdtrAcct":          {isodoc.S(tx.CdtrAcct.Id.IBAN), "KZ42601KZT0000123456"},
		"CdtrAgt":           {isodoc.S(tx.CdtrAgt.FinInstnId.BICFI), "HSBKKZKX"},
		"Cdtr BIN":          {isodoc.S(tx.Cdtr.Id.OrgId.Othr[0].Id) + " " + isodoc.S(tx.Cdtr.Id.OrgId.Othr[0].SchmeNm.Cd), "050540004455 TXID"},
		"RmtInf":            {isodoc.S(tx.RmtInf.Ustrd[0]), "Оплата по договору №17 от 01.02.2025, без НДС"},
	} {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
}

// The decided places of Kazakhstan's payment codes (docs/adapters/iso20022.md).
func TestKazakhCodesPlacement(t *testing.T) {
	a := newAdapter(t, OpCreditTransfer, testOpts)
	body := edit(t, orderJSON(t), func(m map[string]any) { m["kbk"] = "105102" })
	_, raw := encode(t, a, body)
	m := assertValid(t, raw, isodoc.Pacs008)
	var doc pacs008.Document
	if err := m.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	tx := doc.FIToFICstmrCdtTrf.CdtTrfTxInf[0]
	if isodoc.S(tx.Purp.Prtry) != "911" || tx.Purp.Cd != nil {
		t.Errorf("KNP not in Purp/Prtry: %+v", tx.Purp)
	}
	if len(tx.RgltryRptg) != 2 {
		t.Fatalf("want 2 RgltryRptg (debit, credit side), got %d", len(tx.RgltryRptg))
	}
	got := map[string]string{}
	for _, r := range tx.RgltryRptg {
		if isodoc.S(r.Authrty.Nm) != Authority || isodoc.S(r.Authrty.Ctry) != "KZ" {
			t.Errorf("authority %+v", r.Authrty)
		}
		for _, d := range r.Dtls {
			got[isodoc.S(r.DbtCdtRptgInd)+"/"+isodoc.S(d.Tp)] = isodoc.S(d.Cd)
		}
	}
	want := map[string]string{"DEBT/KOD": "11", "CRED/KBE": "17", "CRED/KBK": "105102"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) != len(want) || tx.SplmtryData != nil || tx.RmtInf.Strd != nil {
		t.Errorf("codes found elsewhere too: %v", got)
	}
}

func TestValidationNamesTheField(t *testing.T) {
	a := newAdapter(t, OpCreditTransfer, testOpts)
	base := orderJSON(t)
	party := func(side, k string, v any) func(m map[string]any) {
		return func(m map[string]any) { m[side].(map[string]any)[k] = v }
	}
	for name, c := range map[string]struct {
		edit  func(m map[string]any)
		field string
		why   string
	}{
		"iban check digits": {party("debtor", "iban", "KZ78070105KZT0000001"), "debtor.iban", "check digits"},
		"iban length":       {party("creditor", "iban", "KZ42601KZT000012345"), "creditor.iban", "20 characters"},
		"bic length":        {party("creditor", "bic", "HSBKKZK"), "creditor.bic", "8 or 11"},
		"bic lower":         {party("debtor", "bic", "kkmfkz2a"), "debtor.bic", "A-Z"},
		"no name":           {party("creditor", "name", " "), "creditor.name", "required"},
		"long name":         {party("creditor", "name", strings.Repeat("Я", 141)), "creditor.name", "140"},
		"bad bin":           {party("creditor", "bin", "050540004456"), "creditor.bin", ""},
		"bin and iin":       {party("creditor", "iin", "880501300124"), "creditor.iin", "either"},
		"same account":      {party("creditor", "iban", "KZ77070105KZT0000001"), "creditor.iban", "own account"},
		"3 decimals KZT":    {func(m map[string]any) { m["amount"] = map[string]any{"value": "100.001", "currency": "KZT"} }, "amount.value", "2 decimal"},
		"zero":              {func(m map[string]any) { m["amount"] = map[string]any{"value": "0.00", "currency": "KZT"} }, "amount.value", "positive"},
		"negative":          {func(m map[string]any) { m["amount"] = map[string]any{"value": "-5", "currency": "KZT"} }, "amount.value", "decimal"},
		"exponent":          {func(m map[string]any) { m["amount"] = map[string]any{"value": "1e6", "currency": "KZT"} }, "amount.value", "decimal"},
		"currency":          {func(m map[string]any) { m["amount"] = map[string]any{"value": "1", "currency": "USD"} }, "amount.currency", "not accepted"},
		"currency shape":    {func(m map[string]any) { m["amount"] = map[string]any{"value": "1", "currency": "tenge"} }, "amount.currency", "ISO 4217"},
		"knp":               {func(m map[string]any) { m["knp"] = "91" }, "knp", "3 digits"},
		"no knp":            {func(m map[string]any) { delete(m, "knp") }, "knp", "required"},
		"kod":               {func(m map[string]any) { m["kod"] = "31" }, "kod", "resident"},
		"kbe":               {func(m map[string]any) { m["kbe"] = "10" }, "kbe", "sector"},
		"kbk":               {func(m map[string]any) { m["kbk"] = "1051" }, "kbk", "6 digits"},
		"e2e missing":       {func(m map[string]any) { delete(m, "endToEndId") }, "endToEndId", "required"},
		"e2e long":          {func(m map[string]any) { m["endToEndId"] = strings.Repeat("A", 36) }, "endToEndId", "35"},
		"e2e slash":         {func(m map[string]any) { m["endToEndId"] = "A/B" }, "endToEndId", "letters"},
		"past date":         {func(m map[string]any) { m["settlementDate"] = "2025-03-09" }, "settlementDate", "past"},
		"bad date":          {func(m map[string]any) { m["settlementDate"] = "10.03.2025" }, "settlementDate", "YYYY-MM-DD"},
		"remittance":        {func(m map[string]any) { m["remittanceInformation"] = strings.Repeat("x", 141) }, "remittanceInformation", "140"},
		"control char":      {func(m map[string]any) { m["remittanceInformation"] = "a\x01b" }, "remittanceInformation", "control"},
		"unknown field":     {func(m map[string]any) { m["priority"] = "HIGH" }, "priority", "not a field"},
		"amount as bool":    {func(m map[string]any) { m["amount"] = map[string]any{"value": true, "currency": "KZT"} }, "amount.value", ""},
	} {
		body := edit(t, base, c.edit)
		req := &adapters.Request{MessageID: testMessageID, Body: body}
		err := a.Validate(context.Background(), req)
		var ae *adapters.Error
		if !errors.As(err, &ae) {
			t.Errorf("%s: err = %v, want *adapters.Error", name, err)
			continue
		}
		if ae.Status != http.StatusUnprocessableEntity || ae.Field != c.field || !strings.Contains(ae.Detail, c.why) {
			t.Errorf("%s: %d %s: %s, want 422 on %s mentioning %q", name, ae.Status, ae.Field, ae.Detail, c.field, c.why)
		}
		if _, err := a.Encode(context.Background(), req); err == nil {
			t.Errorf("%s: Encode accepted what Validate refused", name)
		}
	}
}

func TestAmountAsJSONNumberKeepsItsDigits(t *testing.T) {
	a := newAdapter(t, OpCreditTransfer, testOpts)
	body := []byte(strings.Replace(string(orderJSON(t)), `"value": "150000.00"`, `"value": 1000000.1`, 1))
	_, raw := encode(t, a, body)
	if !strings.Contains(string(raw), `<IntrBkSttlmAmt Ccy="KZT">1000000.10</IntrBkSttlmAmt>`) {
		t.Fatalf("amount not written as 1000000.10:\n%s", raw)
	}
}

func TestDefaultSettlementDateIsTodayInKazakhstan(t *testing.T) {
	a := newAdapter(t, OpCreditTransfer, testOpts)
	a.Now = func() time.Time { return time.Date(2025, 3, 10, 20, 30, 0, 0, time.UTC) } // 01:30 on the 11th in Astana
	body := edit(t, orderJSON(t), func(m map[string]any) { delete(m, "settlementDate") })
	_, raw := encode(t, a, body)
	if !strings.Contains(string(raw), "<IntrBkSttlmDt>2025-03-11</IntrBkSttlmDt>") {
		t.Fatalf("settlement date not the Kazakh today:\n%s", raw)
	}
}

func TestMsgIDStableAcrossRetries(t *testing.T) {
	a := newAdapter(t, OpCreditTransfer, testOpts)
	_, one := encode(t, a, orderJSON(t))
	_, two := encode(t, a, orderJSON(t))
	if string(one) != string(two) {
		t.Fatal("the same stored message encoded twice differs: a retry would not be recognisable as one")
	}
	if MsgID("0195c0de-0000-7000-8000-000000000001") != "0195c0de000070008000000000000001" {
		t.Fatal("MsgID")
	}
}

func TestOptions(t *testing.T) {
	for opts, want := range map[string]string{
		"receiverBIC: NBRKKZKX\n":                                       "senderBIC is required",
		"senderBIC: KKMFKZ2A\n":                                         "receiverBIC is required",
		"senderBIC: KKMF\nreceiverBIC: NBRKKZKX\n":                      "senderBIC",
		testOpts + "envelope: \"a b\"\n":                                "not an XML element name",
		testOpts + "currencies: [tenge]\n":                              "ISO 4217",
		testOpts + "unknownKey: 1\n":                                    "unknownKey",
		testOpts + "businessService: " + strings.Repeat("x", 36) + "\n": "35",
	} {
		if _, err := New(adapters.AdapterConfig{Operation: OpCreditTransfer, Options: yamlOpts(opts)}, adaptertest.Resources(t)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", opts, err, want)
		}
	}
	if _, err := New(adapters.AdapterConfig{Operation: "debit-transfer", Options: yamlOpts(testOpts)}, adaptertest.Resources(t)); err == nil {
		t.Error("unknown operation accepted")
	}
	a := newAdapter(t, OpCreditTransfer, testOpts+"envelope: BizMsg\nenvelopeNamespace: urn:example:env\nbusinessService: kz.mspd\nclearingSystem: MSPD\ncurrencies: [KZT, USD]\n")
	body := edit(t, orderJSON(t), func(m map[string]any) { m["amount"] = map[string]any{"value": "10.5", "currency": "USD"} })
	_, raw := encode(t, a, body)
	s := string(raw)
	for _, want := range []string{`<BizMsg xmlns="urn:example:env">`, "<BizSvc>kz.mspd</BizSvc>", "<ClrSys>", "<Prtry>MSPD</Prtry>", `Ccy="USD">10.50<`} {
		if !strings.Contains(s, want) {
			t.Errorf("options not applied: no %s", want)
		}
	}
	assertValid(t, raw, isodoc.Pacs008)
}

func TestDecodeAcknowledgement(t *testing.T) {
	a := newAdapter(t, OpCreditTransfer, testOpts)
	req := &adapters.Request{MessageID: testMessageID, Body: orderJSON(t)}
	resp, err := a.Decode(context.Background(), req, &adapters.WireResponse{StatusCode: http.StatusAccepted})
	if err != nil {
		t.Fatal(err)
	}
	var s Sent
	if err := json.Unmarshal(resp.Body, &s); err != nil || s.Status != "SENT" || s.EndToEndID != "MF-2025-000123" || s.MsgID != MsgID(testMessageID) || s.MessageDefinition != isodoc.Pacs008 {
		t.Fatalf("answer %s (%v)", resp.Body, err)
	}
	_, err = a.Decode(context.Background(), req, &adapters.WireResponse{StatusCode: 400, Body: []byte("SCHEMA_INVALID: bad")})
	var ae *adapters.Error
	if !errors.As(err, &ae) || ae.Retryable || ae.Status != http.StatusBadGateway || !strings.Contains(ae.Detail, "bad") {
		t.Fatalf("400: %v", err)
	}
	_, err = a.Decode(context.Background(), req, &adapters.WireResponse{StatusCode: 500})
	if !errors.As(err, &ae) || !ae.Retryable {
		t.Fatalf("500 not retryable: %v", err)
	}
}

func customerJSON(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/customer-transfer.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCustomerTransferBatch(t *testing.T) {
	a := newAdapter(t, OpCustomerTransfer, testOpts)
	req, raw := encode(t, a, customerJSON(t))
	if req.ExternalID != "PMTINF-2025-03-10-01" {
		t.Errorf("batch ExternalID = %q, want the payment information id", req.ExternalID)
	}
	m := assertValid(t, raw, isodoc.Pain001)
	var doc pain001.Document
	if err := m.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	g, pi := doc.CstmrCdtTrfInitn.GrpHdr, doc.CstmrCdtTrfInitn.PmtInf[0]
	if isodoc.S(g.NbOfTxs) != "2" || isodoc.S(g.CtrlSum) != "250000.50" || isodoc.S(pi.CtrlSum) != "250000.50" {
		t.Errorf("counts %s %s %s", isodoc.S(g.NbOfTxs), isodoc.S(g.CtrlSum), isodoc.S(pi.CtrlSum))
	}
	if len(pi.CdtTrfTxInf) != 2 || isodoc.S(pi.CdtTrfTxInf[1].Purp.Prtry) != "859" || len(pi.CdtTrfTxInf[1].RgltryRptg) != 2 {
		t.Errorf("transactions not as ordered")
	}
	one := edit(t, customerJSON(t), func(m map[string]any) {
		txs := m["transactions"].([]any)
		m["transactions"] = txs[:1]
		m["controlSum"] = "100000"
	})
	req, _ = encode(t, a, one)
	if req.ExternalID != "SAL-2025-03-0001" {
		t.Errorf("single-transfer ExternalID = %q, want its end-to-end id", req.ExternalID)
	}
}

func TestCustomerTransferChecks(t *testing.T) {
	a := newAdapter(t, OpCustomerTransfer, testOpts)
	tx := func(i int, k string, v any) func(m map[string]any) {
		return func(m map[string]any) { m["transactions"].([]any)[i].(map[string]any)[k] = v }
	}
	for name, c := range map[string]struct {
		edit  func(m map[string]any)
		field string
		why   string
	}{
		"control sum":    {func(m map[string]any) { m["controlSum"] = "250000.51" }, "controlSum", "add up to 250000.50"},
		"no control sum": {func(m map[string]any) { delete(m, "controlSum") }, "controlSum", "required"},
		"duplicate e2e":  {tx(1, "endToEndId", "SAL-2025-03-0001"), "transactions[1].endToEndId", "transactions[0]"},
		"mixed ccy":      {tx(1, "amount", map[string]any{"value": "1", "currency": "USD"}), "transactions[1].amount.currency", "not accepted"},
		"bad kbe":        {tx(0, "kbe", "1"), "transactions[0].kbe", "2 digits"},
		"bad knp":        {tx(1, "knp", ""), "transactions[1].knp", "required"},
		"bad iban":       {tx(1, "creditor", map[string]any{"name": "X", "iban": "KZ00", "bic": "HSBKKZKX"}), "transactions[1].creditor.iban", ""},
		"kod":            {func(m map[string]any) { m["kod"] = "" }, "kod", "required"},
		"empty":          {func(m map[string]any) { m["transactions"] = []any{} }, "transactions", "at least one"},
	} {
		req := &adapters.Request{MessageID: testMessageID, Body: edit(t, customerJSON(t), c.edit)}
		err := a.Validate(context.Background(), req)
		var ae *adapters.Error
		if !errors.As(err, &ae) || ae.Field != c.field || !strings.Contains(ae.Detail, c.why) {
			t.Errorf("%s: %v, want %s mentioning %q", name, err, c.field, c.why)
		}
	}
}

func TestCancelIsValidCamt056(t *testing.T) {
	a := newAdapter(t, OpCancel, testOpts)
	body := []byte(`{"endToEndId":"MF-2025-000123","originalMessageId":"0195c0de-0000-7000-8000-000000000009",
		"originalAmount":{"value":"150000","currency":"KZT"},"originalSettlementDate":"2025-03-10","reason":"DUPL","additionalInformation":"sent twice"}`)
	req, raw := encode(t, a, body)
	if req.ExternalID != "MF-2025-000123" {
		t.Errorf("ExternalID %q", req.ExternalID)
	}
	m := assertValid(t, raw, isodoc.Camt056)
	var doc camt056.Document
	if err := m.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	tx := doc.FIToFIPmtCxlReq.Undrlyg[0].TxInf[0]
	if isodoc.S(tx.OrgnlGrpInf.OrgnlMsgId) != "0195c0de000070008000000000000009" || isodoc.S(tx.OrgnlGrpInf.OrgnlMsgNmId) != isodoc.Pacs008 ||
		isodoc.S(tx.CxlRsnInf[0].Rsn.Cd) != "DUPL" || isodoc.S(tx.OrgnlIntrBkSttlmAmt.Value) != "150000.00" {
		t.Errorf("camt.056 transaction %+v", tx)
	}
	for _, bad := range []struct{ body, field string }{
		{`{"endToEndId":"E","originalMessageId":"X","reason":"WHIM"}`, "reason"},
		{`{"endToEndId":"E","reason":"DUPL"}`, "originalMessageId"},
		{`{"originalMessageId":"X","reason":"DUPL"}`, "endToEndId"},
	} {
		err := a.Validate(context.Background(), &adapters.Request{Body: []byte(bad.body)})
		var ae *adapters.Error
		if !errors.As(err, &ae) || ae.Field != bad.field {
			t.Errorf("%s: %v", bad.body, err)
		}
	}
}

// A check that lets through what the XSD refuses must not produce a
// message: Encode reports the XSD's path, and nothing is sent.
func TestSchemaViolationAtEncodeIs422(t *testing.T) {
	a := newAdapter(t, OpCreditTransfer, testOpts)
	req := &adapters.Request{MessageID: testMessageID}
	doc := &pacs008.Document{FIToFICstmrCdtTrf: &components.FIToFICustomerCreditTransferV08{GrpHdr: &components.GroupHeader93{
		MsgId: isodoc.P[components.Max35Text]("M")}}}
	_, err := a.marshal(req, isodoc.Pacs008, doc)
	var ae *adapters.Error
	if !errors.As(err, &ae) || ae.Status != 422 || ae.Code != "SCHEMA_INVALID" || !strings.Contains(ae.Field, "/Document/FIToFICstmrCdtTrf/GrpHdr") {
		t.Fatalf("err = %v", err)
	}
	var xe *xsd.Error
	if errors.As(err, &xe) {
		t.Fatal("raw xsd error leaked")
	}
}
