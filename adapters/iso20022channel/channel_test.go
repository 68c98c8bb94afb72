package iso20022channel

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/iso20022"
	"github.com/minfin-kz/kopir/contracts/iso20022/components"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/camt053"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/camt054"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/pacs002"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/pacs004"
)

const ctRoute = "payments.credit-transfer"

func newChannel(t testing.TB, opts string) *Channel {
	t.Helper()
	ch, err := NewChannel(adapters.ChannelConfig{Options: yamlOpts(opts)}, adaptertest.Resources(t))
	if err != nil {
		t.Fatal(err)
	}
	return ch.(*Channel)
}

// server mounts the channel the way the core does: under /iso20022.
func serve(t testing.TB, ch *Channel, in adapters.Intake) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for pattern, h := range ch.Routes(in) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.Handle(strings.TrimSpace(method+" /iso20022"+path), h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func post(t testing.TB, url string, body []byte) (int, Ack) {
	t.Helper()
	resp, err := http.Post(url, "application/xml", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ack Ack
	if err := json.NewDecoder(resp.Body).Decode(&ack); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return resp.StatusCode, ack
}

func wrap(t testing.TB, docID, msgID string, doc any) []byte {
	t.Helper()
	hdr := isodoc.NewHeader("NBRKKZKX", "KKMFKZ2A", msgID, docID, "", time.Now())
	out, err := isodoc.Marshal(xml.Name{Local: "message"}, hdr, docID, doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type txStatus struct{ e2e, orig, status, reason, text string }

func pacs002Doc(t testing.TB, msgID string, txs ...txStatus) []byte {
	t.Helper()
	rpt := &components.FIToFIPaymentStatusReportV10{GrpHdr: &components.GroupHeader91{
		MsgId: isodoc.P[components.Max35Text](msgID), CreDtTm: isodoc.P[components.ISODateTime]("2025-03-10T09:00:02Z")}}
	for _, s := range txs {
		tx := &components.PaymentTransaction110{TxSts: isodoc.P[components.ExternalPaymentTransactionStatus1Code](s.status)}
		if s.e2e != "" {
			tx.OrgnlEndToEndId = isodoc.P[components.Max35Text](s.e2e)
		}
		if s.orig != "" {
			tx.OrgnlGrpInf = &components.OriginalGroupInformation29{OrgnlMsgId: isodoc.P[components.Max35Text](s.orig), OrgnlMsgNmId: isodoc.P[components.Max35Text](isodoc.Pacs008)}
		}
		if s.reason != "" {
			ri := &components.StatusReasonInformation12{Rsn: &components.StatusReason6Choice{Cd: isodoc.P[components.ExternalStatusReason1Code](s.reason)}}
			if s.text != "" {
				ri.AddtlInf = []*components.Max105Text{isodoc.P[components.Max105Text](s.text)}
			}
			tx.StsRsnInf = []*components.StatusReasonInformation12{ri}
		}
		rpt.TxInfAndSts = append(rpt.TxInfAndSts, tx)
	}
	return wrap(t, isodoc.Pacs002, msgID, &pacs002.Document{FIToFIPmtStsRpt: rpt})
}

func sentOrder(t testing.TB, in *adaptertest.Intake, e2e, amount string) (id string) {
	t.Helper()
	body := sample(t, "credit-transfer.json", func(m map[string]any) {
		m["endToEndId"] = e2e
		m["amount"] = map[string]any{"value": amount, "currency": "KZT"}
	})
	return in.Sent(ctRoute, e2e, body)
}

func TestStatusReportUpdatesThePayment(t *testing.T) {
	in := newIntake("pacs.002")
	ok := sentOrder(t, in, "E2E-OK", "150000.00")
	bad := sentOrder(t, in, "E2E-BAD", "10.00")
	srv := serve(t, newChannel(t, ""), in)
	doc := pacs002Doc(t, "STS-1",
		txStatus{e2e: "E2E-OK", orig: iso20022.MsgID(ok), status: "ACSC"},
		txStatus{e2e: "E2E-BAD", orig: iso20022.MsgID(bad), status: "RJCT", reason: "AC01", text: "unknown creditor account"},
		txStatus{e2e: "E2E-UNKNOWN", orig: "X", status: "ACSC"},
	)
	code, ack := post(t, srv.URL+"/iso20022", doc)
	if code != http.StatusOK || ack.Status != "ACCEPTED" || ack.Matched != 2 || ack.Unmatched != 1 || ack.MsgID != "STS-1" {
		t.Fatalf("%d %+v", code, ack)
	}
	if got := in.Actions(ok, ActionStatus); len(got) != 1 || got[0] != "ACSC (pacs.002 STS-1)" {
		t.Errorf("accepted payment trail: %q", got)
	}
	if got := in.Actions(bad, ActionStatus); len(got) != 1 || got[0] != "RJCT AC01 - unknown creditor account (pacs.002 STS-1)" {
		t.Errorf("rejected payment trail: %q", got)
	}
	d := in.Accepted()
	if len(d) != 1 || d[0].Key != "pacs.002" || d[0].ExternalID != "STS-1" || d[0].Sender != "NBRKKZKX" {
		t.Fatalf("deliveries %+v", d)
	}
	var body Body
	if err := json.Unmarshal(d[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Statuses) != 3 || !body.Statuses[1].Matched || body.Statuses[1].PaymentMessageID != bad || body.Statuses[1].Reason != "AC01" ||
		body.Statuses[2].Matched || !strings.Contains(body.Statuses[2].Unmatched, "E2E-UNKNOWN") || body.Summary != (Summary{Items: 3, Matched: 2, Unmatched: 1}) {
		t.Errorf("subscriber body %s", d[0].Body)
	}
}

func TestStatusForAnotherMessageIsNotApplied(t *testing.T) {
	in := newIntake("pacs.002")
	id := sentOrder(t, in, "E2E-1", "1.00")
	srv := serve(t, newChannel(t, ""), in)
	_, ack := post(t, srv.URL+"/iso20022", pacs002Doc(t, "STS-2", txStatus{e2e: "E2E-1", orig: "SOMEONEELSE", status: "RJCT", reason: "AM05"}))
	if ack.Matched != 0 || ack.Unmatched != 1 {
		t.Fatalf("%+v", ack)
	}
	if got := in.Actions(id, ActionStatus); len(got) != 0 {
		t.Fatalf("status of another message applied: %q", got)
	}
}

func TestDuplicateIsAcknowledgedNotDeliveredTwice(t *testing.T) {
	in := newIntake("pacs.002")
	id := sentOrder(t, in, "E2E-1", "1.00")
	srv := serve(t, newChannel(t, ""), in)
	doc := pacs002Doc(t, "STS-3", txStatus{e2e: "E2E-1", orig: iso20022.MsgID(id), status: "ACSC"})
	_, first := post(t, srv.URL+"/iso20022/", doc) // trailing slash works too
	code, second := post(t, srv.URL+"/iso20022", doc)
	if code != http.StatusOK || fmt.Sprint(second) != fmt.Sprint(first) || first.Status != "ACCEPTED" {
		t.Fatalf("repeat answered %d %+v, first was %+v", code, second, first)
	}
	if n := len(in.Accepted()); n != 1 {
		t.Fatalf("delivered %d times", n)
	}
	if got := in.Actions(id, ActionStatus); len(got) != 1 {
		t.Fatalf("status annotated %d times: %q", len(got), got)
	}
}

// A crash between storing a message and annotating its payments is healed
// by the payment system's resend: the duplicate completes the trail.
func TestDuplicateCompletesMissingAnnotations(t *testing.T) {
	in := newIntake("pacs.002")
	id := sentOrder(t, in, "E2E-1", "1.00")
	ch := newChannel(t, "")
	doc := pacs002Doc(t, "STS-4", txStatus{e2e: "E2E-1", orig: iso20022.MsgID(id), status: "ACSC"})
	if _, err := in.Accept(t.Context(), &adapters.Inbound{Channel: ChannelName, Key: "pacs.002", ExternalID: "STS-4"}); err != nil {
		t.Fatal(err)
	}
	res, err := ch.Process(t.Context(), in, doc, "")
	if err != nil || !res.Duplicate {
		t.Fatalf("%+v %v", res, err)
	}
	if got := in.Actions(id, ActionStatus); len(got) != 1 {
		t.Fatalf("trail %q", got)
	}
}

func TestInvalidDocumentIsRejectedWithSchemaErrors(t *testing.T) {
	in := newIntake("pacs.002")
	srv := serve(t, newChannel(t, ""), in)
	doc := strings.Replace(string(pacs002Doc(t, "STS-5", txStatus{e2e: "E", status: "ACSC"})), "<TxSts>ACSC</TxSts>", "<TxSts>DONE!</TxSts>", 1)
	code, ack := post(t, srv.URL+"/iso20022", []byte(doc))
	if code != http.StatusBadRequest || ack.Status != "REJECTED" || ack.Code != isodoc.CodeSchemaInvalid || ack.MessageID == "" {
		t.Fatalf("%d %+v", code, ack)
	}
	if len(ack.Violations) == 0 || ack.Violations[0].Path != "/message/Document/FIToFIPmtStsRpt/TxInfAndSts/TxSts" || ack.Violations[0].Line == 0 {
		t.Fatalf("violations %+v", ack.Violations)
	}
	if len(in.Accepted()) != 0 || len(in.Rejected()) != 1 || !strings.Contains(in.Rejected()[0].Reason.Error(), "TxSts") {
		t.Fatalf("delivered %d, rejected %+v", len(in.Accepted()), in.Rejected())
	}
}

func TestRefusals(t *testing.T) {
	in := newIntake("pacs.002")
	srv := serve(t, newChannel(t, "senders: [NBRKKZKX]\n"), in)
	for name, c := range map[string]struct {
		body []byte
		code string
	}{
		"unknown key":    {wrap(t, isodoc.Pacs004, "R1", pacs004Doc("R1", "E", "X", "1.00")), "UNKNOWN_KEY"},
		"not accepted":   {orderXML(t), isodoc.CodeUnknownMessage},
		"doctype":        {[]byte(`<!DOCTYPE d [<!ENTITY x "y">]><Document/>`), isodoc.CodeXMLRefused},
		"other sender":   {bytes.Replace(pacs002Doc(t, "S9", txStatus{e2e: "E", status: "ACSC"}), []byte("<BICFI>NBRKKZKX</BICFI>"), []byte("<BICFI>EVILKZKA</BICFI>"), 1), "SENDER_NOT_ALLOWED"},
		"without header": {bareStatus(t), "SENDER_NOT_ALLOWED"},
	} {
		code, ack := post(t, srv.URL+"/iso20022", c.body)
		if code != http.StatusBadRequest || ack.Code != c.code {
			t.Errorf("%s: %d %+v", name, code, ack)
		}
	}
	if len(in.Accepted()) != 0 || len(in.Rejected()) != 5 {
		t.Fatalf("delivered %d, rejected %d", len(in.Accepted()), len(in.Rejected()))
	}
}

func bareStatus(t testing.TB) []byte {
	doc := pacs002Doc(t, "S8", txStatus{e2e: "E", status: "ACSC"})
	s := string(doc)
	return []byte(s[strings.Index(s, "<Document"):strings.Index(s, "</message>")])
}

// orderXML is a pacs.008 as the adapter sends it: a valid message the
// channel does not take in.
func orderXML(t testing.TB) []byte {
	t.Helper()
	a := newAdapter(t, iso20022.OpCreditTransfer, adaptertest.At(t, sampleDay))
	w, err := a.Encode(t.Context(), &adapters.Request{MessageID: "0195c0de-0000-7000-8000-000000000001", Body: sample(t, "credit-transfer.json", nil)})
	if err != nil {
		t.Fatal(err)
	}
	return w.Body
}

func TestOversizedMessageIs413(t *testing.T) {
	in := newIntake("pacs.002")
	ch := newChannel(t, "")
	h := ch.Routes(in)["POST "]
	req := httptest.NewRequest(http.MethodPost, "/iso20022", bytes.NewReader(pacs002Doc(t, "S1", txStatus{e2e: "E", status: "ACSC"})))
	rec := httptest.NewRecorder()
	req.Body = http.MaxBytesReader(rec, req.Body, 100)
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || len(in.Rejected()) != 1 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

func TestStoreFailureAsksForResend(t *testing.T) {
	in := newIntake("pacs.002")
	in.Fail(errors.New("database is locked"))
	srv := serve(t, newChannel(t, ""), in)
	resp, err := http.Post(srv.URL+"/iso20022", "application/xml", bytes.NewReader(pacs002Doc(t, "S1", txStatus{e2e: "E", status: "ACSC"})))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || len(in.Accepted()) != 0 || len(in.Rejected()) != 0 {
		t.Fatalf("%d", resp.StatusCode)
	}
}

func pacs004Doc(msgID, e2e, orig, amount string) *pacs004.Document {
	return &pacs004.Document{PmtRtr: &components.PaymentReturnV09{
		GrpHdr: &components.GroupHeader90{MsgId: isodoc.P[components.Max35Text](msgID), CreDtTm: isodoc.P[components.ISODateTime]("2025-03-11T10:00:00Z"),
			NbOfTxs: isodoc.P[components.Max15NumericText]("1"), SttlmInf: &components.SettlementInstruction7{SttlmMtd: isodoc.P[components.SettlementMethod1Code]("CLRG")}},
		TxInf: []*components.PaymentTransaction112{{
			RtrId:              isodoc.P[components.Max35Text]("RTR-" + msgID),
			OrgnlGrpInf:        &components.OriginalGroupInformation29{OrgnlMsgId: isodoc.P[components.Max35Text](orig), OrgnlMsgNmId: isodoc.P[components.Max35Text](isodoc.Pacs008)},
			OrgnlEndToEndId:    isodoc.P[components.Max35Text](e2e),
			RtrdIntrBkSttlmAmt: &components.ActiveCurrencyAndAmount{Value: isodoc.P[components.ActiveCurrencyAndAmount_SimpleType](amount), Ccy: isodoc.P[components.ActiveCurrencyCode]("KZT")},
			RtrRsnInf:          []*components.PaymentReturnReason6{{Rsn: &components.ReturnReason5Choice{Cd: isodoc.P[components.ExternalReturnReason1Code]("AC04")}}},
		}},
	}}
}

func TestReturnMarksThePaymentReturned(t *testing.T) {
	in := newIntake("pacs.004")
	id := sentOrder(t, in, "E2E-R", "500.00")
	srv := serve(t, newChannel(t, ""), in)
	_, ack := post(t, srv.URL+"/iso20022", wrap(t, isodoc.Pacs004, "RTR1", pacs004Doc("RTR1", "E2E-R", iso20022.MsgID(id), "500.00")))
	if ack.Matched != 1 {
		t.Fatalf("%+v", ack)
	}
	got := in.Actions(id, ActionStatus)
	if len(got) != 1 || got[0] != "RETURNED AC04 500.00 KZT (pacs.004 RTR1 return RTR-RTR1)" {
		t.Fatalf("trail %q", got)
	}
	var body Body
	json.Unmarshal(in.Accepted()[0].Body, &body)
	if len(body.Returns) != 1 || body.Returns[0].Reason != "AC04" || string(body.Returns[0].Amount.Value) != "500.00" {
		t.Fatalf("body %s", in.Accepted()[0].Body)
	}
}

type line struct{ e2e, cd, amount, ref string }

func camt053Doc(t testing.TB, msgID string, lines ...line) []byte {
	t.Helper()
	var entries []*components.ReportEntry10
	for _, l := range lines {
		e := &components.ReportEntry10{
			NtryRef:   isodoc.P[components.Max35Text](l.ref),
			Amt:       &components.ActiveOrHistoricCurrencyAndAmount{Value: isodoc.P[components.ActiveOrHistoricCurrencyAndAmount_SimpleType](l.amount), Ccy: isodoc.P[components.ActiveOrHistoricCurrencyCode]("KZT")},
			CdtDbtInd: isodoc.P[components.CreditDebitCode](l.cd),
			Sts:       &components.EntryStatus1Choice{Cd: isodoc.P[components.ExternalEntryStatus1Code]("BOOK")},
			BookgDt:   &components.DateAndDateTime2Choice{Dt: isodoc.P[components.ISODate]("2025-03-10")},
			BkTxCd:    &components.BankTransactionCodeStructure4{Prtry: &components.ProprietaryBankTransactionCodeStructure1{Cd: isodoc.P[components.Max35Text]("TRF")}},
		}
		if l.e2e != "" {
			e.NtryDtls = []*components.EntryDetails9{{TxDtls: []*components.EntryTransaction10{{Refs: &components.TransactionReferences6{EndToEndId: isodoc.P[components.Max35Text](l.e2e)}}}}}
		}
		entries = append(entries, e)
	}
	bal := func(tp string) *components.CashBalance8 {
		return &components.CashBalance8{Tp: &components.BalanceType13{CdOrPrtry: &components.BalanceType10Choice{Cd: isodoc.P[components.ExternalBalanceType1Code](tp)}},
			Amt:       &components.ActiveOrHistoricCurrencyAndAmount{Value: isodoc.P[components.ActiveOrHistoricCurrencyAndAmount_SimpleType]("1000000.00"), Ccy: isodoc.P[components.ActiveOrHistoricCurrencyCode]("KZT")},
			CdtDbtInd: isodoc.P[components.CreditDebitCode]("CRDT"), Dt: &components.DateAndDateTime2Choice{Dt: isodoc.P[components.ISODate]("2025-03-10")}}
	}
	return wrap(t, isodoc.Camt053, msgID, &camt053.Document{BkToCstmrStmt: &components.BankToCustomerStatementV08{
		GrpHdr: &components.GroupHeader81{MsgId: isodoc.P[components.Max35Text](msgID), CreDtTm: isodoc.P[components.ISODateTime]("2025-03-10T18:00:00Z")},
		Stmt: []*components.AccountStatement9{{Id: isodoc.P[components.Max35Text]("ST-" + msgID),
			Acct: &components.CashAccount39{Id: &components.AccountIdentification4Choice{IBAN: isodoc.P[components.IBAN2007Identifier]("KZ77070105KZT0000001")}},
			Bal:  []*components.CashBalance8{bal("OPBD"), bal("CLBD")}, Ntry: entries}},
	}})
}

// Reconciliation of a statement with what was sent: exact matches, a
// booked amount that differs, an entry naming no payment Köpir sent, and
// one without any reference.
func TestStatementReconciliation(t *testing.T) {
	in := newIntake("camt.053")
	a := sentOrder(t, in, "E2E-A", "150000.00")
	b := sentOrder(t, in, "E2E-B", "20.5")
	batch := in.Sent("payments.customer-transfer", "PMTINF-1", sample(t, "customer-transfer.json", nil))
	_ = batch
	srv := serve(t, newChannel(t, ""), in)
	doc := camt053Doc(t, "STMT-1",
		line{"E2E-A", "DBIT", "150000", "N1"},      // same amount written differently: a match
		line{"E2E-B", "DBIT", "25.00", "N2"},       // amount differs
		line{"E2E-NOT-OURS", "DBIT", "7.00", "N3"}, // not sent by Köpir
		line{"", "DBIT", "150.00", "N4"},           // a fee: no reference
	)
	code, ack := post(t, srv.URL+"/iso20022", doc)
	if code != 200 || ack.Matched != 2 || ack.Unmatched != 2 {
		t.Fatalf("%d %+v", code, ack)
	}
	if got := in.Actions(a, ActionBooked); len(got) != 1 || !strings.HasPrefix(got[0], "DBIT 150000 KZT BOOK on 2025-03-10 (camt.053 STMT-1") || strings.Contains(got[0], "MISMATCH") {
		t.Errorf("A: %q", got)
	}
	if got := in.Actions(b, ActionBooked); len(got) != 1 || !strings.Contains(got[0], "AMOUNT MISMATCH: sent 20.5 KZT, booked 25.00 KZT") {
		t.Errorf("B: %q", got)
	}
	var body Body
	if err := json.Unmarshal(in.Accepted()[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	es := body.Statements[0].Entries
	if len(es) != 4 || body.Statements[0].Account != "KZ77070105KZT0000001" {
		t.Fatalf("entries %+v", body.Statements)
	}
	want := []struct {
		matched  bool
		mismatch bool
		why      string
	}{{true, false, ""}, {true, true, ""}, {false, false, "E2E-NOT-OURS"}, {false, false, "no end-to-end"}}
	for i, w := range want {
		e := es[i]
		if e.Matched != w.matched || (e.Mismatch != "") != w.mismatch || !strings.Contains(e.Unmatched, w.why) {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	if body.Summary != (Summary{Items: 4, Matched: 2, Unmatched: 2, Mismatch: 1}) {
		t.Errorf("summary %+v", body.Summary)
	}
}

func TestNotificationMatchesBatchByPaymentInformationID(t *testing.T) {
	in := newIntake("camt.054")
	batch := in.Sent("payments.customer-transfer", "PMTINF-2025-03-10-01", sample(t, "customer-transfer.json", nil))
	srv := serve(t, newChannel(t, ""), in)
	n := &camt054.Document{BkToCstmrDbtCdtNtfctn: &components.BankToCustomerDebitCreditNotificationV08{
		GrpHdr: &components.GroupHeader81{MsgId: isodoc.P[components.Max35Text]("NTF-1"), CreDtTm: isodoc.P[components.ISODateTime]("2025-03-10T18:00:00Z")},
		Ntfctn: []*components.AccountNotification17{{Id: isodoc.P[components.Max35Text]("N-1"),
			Acct: &components.CashAccount39{Id: &components.AccountIdentification4Choice{IBAN: isodoc.P[components.IBAN2007Identifier]("KZ77070105KZT0000001")}},
			Ntry: []*components.ReportEntry10{{
				Amt:       &components.ActiveOrHistoricCurrencyAndAmount{Value: isodoc.P[components.ActiveOrHistoricCurrencyAndAmount_SimpleType]("150000.50"), Ccy: isodoc.P[components.ActiveOrHistoricCurrencyCode]("KZT")},
				CdtDbtInd: isodoc.P[components.CreditDebitCode]("DBIT"),
				Sts:       &components.EntryStatus1Choice{Cd: isodoc.P[components.ExternalEntryStatus1Code]("BOOK")},
				BkTxCd:    &components.BankTransactionCodeStructure4{Prtry: &components.ProprietaryBankTransactionCodeStructure1{Cd: isodoc.P[components.Max35Text]("TRF")}},
				NtryDtls: []*components.EntryDetails9{{TxDtls: []*components.EntryTransaction10{{Refs: &components.TransactionReferences6{
					PmtInfId: isodoc.P[components.Max35Text]("PMTINF-2025-03-10-01"), EndToEndId: isodoc.P[components.Max35Text]("SAL-2025-03-0002")}}}}},
			}},
		}},
	}}
	_, ack := post(t, srv.URL+"/iso20022", wrap(t, isodoc.Camt054, "NTF-1", n))
	if ack.Matched != 1 {
		t.Fatalf("%+v", ack)
	}
	if got := in.Actions(batch, ActionBooked); len(got) != 1 || strings.Contains(got[0], "MISMATCH") || !strings.Contains(got[0], "e2e SAL-2025-03-0002") {
		t.Fatalf("trail %q", got)
	}
}

func TestHistoryHandler(t *testing.T) {
	in := newIntake("pacs.002")
	id := sentOrder(t, in, "E2E-H", "1.00")
	ch := newChannel(t, "")
	if _, err := ch.Process(t.Context(), in, pacs002Doc(t, "S1", txStatus{e2e: "E2E-H", orig: iso20022.MsgID(id), status: "PDNG"}), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Process(t.Context(), in, pacs002Doc(t, "S2", txStatus{e2e: "E2E-H", orig: iso20022.MsgID(id), status: "RJCT", reason: "AM04"}), ""); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /v1/payments/{endToEndId}", NewHistoryHandler(in))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1/payments/E2E-H")
	if err != nil {
		t.Fatal(err)
	}
	var h PaymentHistory
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if resp.StatusCode != 200 || h.PaymentStatus != "RJCT" || h.Reason != "AM04" || h.MessageID != id || h.MsgID != iso20022.MsgID(id) || h.Route != ctRoute || h.DeliveryStatus != "DELIVERED" {
		t.Fatalf("%d %+v", resp.StatusCode, h)
	}
	var actions []string
	for _, e := range h.History {
		actions = append(actions, e.Action+" "+e.Detail)
	}
	if got := strings.Join(actions, "|"); got != "RECEIVED |DELIVERED |PAYMENT_STATUS PDNG (pacs.002 S1)|PAYMENT_STATUS RJCT AM04 (pacs.002 S2)" {
		t.Fatalf("history %s", got)
	}
	for path, code := range map[string]int{"/v1/payments/NOPE": 404, "/v1/payments/" + strings.Repeat("x", 40): 400} {
		resp, _ := http.Get(srv.URL + path)
		resp.Body.Close()
		if resp.StatusCode != code || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

func TestPaymentStatusFromHistory(t *testing.T) {
	ev := func(a, d string) adapters.Event { return adapters.Event{Action: a, Detail: d} }
	for _, c := range []struct {
		delivery string
		hist     []adapters.Event
		want     string
	}{
		{"QUEUED", nil, "QUEUED"},
		{"DELIVERED", nil, "SENT"},
		{"DELIVERED", []adapters.Event{ev(ActionStatus, "ACSC (pacs.002 S)"), ev(ActionBooked, "DBIT …")}, "ACSC"},
		{"DELIVERED", []adapters.Event{ev(ActionBooked, "DBIT …")}, "BOOKED"},
		{"DELIVERED", []adapters.Event{ev(ActionStatus, "ACSC (pacs.002 S)"), ev(ActionStatus, "RETURNED AC04 1 KZT (pacs.004 R)")}, "RETURNED AC04"},
	} {
		s, r := paymentStatus(c.delivery, c.hist)
		if strings.TrimSpace(s+" "+r) != c.want {
			t.Errorf("%v: %s %s, want %s", c.hist, s, r, c.want)
		}
	}
}

func TestChannelOptions(t *testing.T) {
	for opts, want := range map[string]string{
		"senders: [bad]\n": "senders[0]",
		"maxDepth: 1000\n": "maxDepth",
		"nope: 1\n":        "nope",
	} {
		if _, err := NewChannel(adapters.ChannelConfig{Options: yamlOpts(opts)}, adaptertest.Resources(t)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v", opts, err)
		}
	}
	ch := newChannel(t, "paymentRoutes: [a.b]\n")
	if fmt.Sprint(ch.opts.PaymentRoutes) != "[a.b]" {
		t.Fatal(ch.opts.PaymentRoutes)
	}
}

// A statement with more entries than a page holds reaches the subscriber
// as pages, each with the whole message's summary; a repeat of the
// statement delivers no page twice.
func TestLargeStatementIsDeliveredInPages(t *testing.T) {
	in := newIntake("camt.053")
	srv := serve(t, newChannel(t, "pageEntries: 2"), in)
	lines := make([]line, 5)
	for i := range lines {
		lines[i] = line{e2e: fmt.Sprintf("E2E-P%d", i), cd: "CRDT", amount: "10.00", ref: fmt.Sprintf("R%d", i)}
	}
	doc := camt053Doc(t, "STMT-PAGES", lines...)
	code, ack := post(t, srv.URL+"/iso20022", doc)
	if code != http.StatusOK || ack.Status != "ACCEPTED" || ack.Unmatched != 5 {
		t.Fatalf("%d %+v", code, ack)
	}
	got := in.Accepted()
	if len(got) != 3 || got[0].ID != ack.MessageID || got[0].ExternalID != "STMT-PAGES" || got[2].ExternalID != "STMT-PAGES/page-3" {
		t.Fatalf("accepted %d messages: %+v", len(got), got)
	}
	var entries []string
	for i, m := range got {
		var b Body
		if err := json.Unmarshal(m.Body, &b); err != nil {
			t.Fatal(err)
		}
		if b.Page == nil || b.Page.Number != i+1 || b.Page.Of != 3 || b.Summary.Items != 5 || b.MsgID != "STMT-PAGES" {
			t.Fatalf("page %d: %s", i+1, m.Body)
		}
		for _, st := range b.Statements {
			for _, e := range st.Entries {
				entries = append(entries, e.EndToEndID)
			}
		}
		if (i == 0) != (m.Raw != nil) {
			t.Fatalf("page %d carries the raw document: %v", i+1, m.Raw != nil)
		}
	}
	if strings.Join(entries, ",") != "E2E-P0,E2E-P1,E2E-P2,E2E-P3,E2E-P4" {
		t.Fatalf("entries across pages: %v", entries)
	}
	if code, again := post(t, srv.URL+"/iso20022", doc); code != http.StatusOK || again.MessageID != ack.MessageID || len(in.Accepted()) != 3 {
		t.Fatalf("repeat: %d %+v, %d accepted", code, again, len(in.Accepted()))
	}
}
