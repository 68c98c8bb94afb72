package payments

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/contracts/iso20022/components"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/camt053"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/pacs002"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/pacs008"
	"github.com/minfin-kz/kopir/internal/safexml"
)

// sink is the participant side: it parses every pushed message against
// the official schemas and keeps them.
type sink struct {
	mu   sync.Mutex
	msgs []*isodoc.Message
	bad  []string
	fail int // answer 503 to this many pushes first
}

func (k *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fail > 0 {
		k.fail--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	m, err := isodoc.Parse(raw, []string{isodoc.Pacs002, isodoc.Pacs004, isodoc.Camt053, isodoc.Camt054}, safexml.Limits{})
	if err != nil {
		k.bad = append(k.bad, err.Error())
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	k.msgs = append(k.msgs, m)
}

func (k *sink) wait(t *testing.T, n int) []*isodoc.Message {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		k.mu.Lock()
		got, bad := len(k.msgs), len(k.bad)
		k.mu.Unlock()
		if bad > 0 {
			t.Fatalf("mock pushed an invalid message: %v", k.bad)
		}
		if got >= n {
			k.mu.Lock()
			defer k.mu.Unlock()
			return append([]*isodoc.Message(nil), k.msgs...)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("wanted %d pushed messages, got %d", n, len(k.msgs))
	return nil
}

func start(t *testing.T, k *sink) (*Mock, *httptest.Server) {
	t.Helper()
	cb := httptest.NewServer(k)
	t.Cleanup(cb.Close)
	m := New(Options{CallbackURL: cb.URL, Delay: time.Millisecond, PendingFor: 20 * time.Millisecond})
	srv := httptest.NewServer(m)
	t.Cleanup(func() { srv.Close(); m.Close() })
	return m, srv
}

// pacs008Msg is a minimal valid credit transfer (the adapter's own output
// is tested against the mock by the round trip in adapters/iso20022channel).
func pacs008Msg(t *testing.T, msgID, e2e, creditorIBAN, amount string) []byte {
	t.Helper()
	agent := func(bic string) *components.BranchAndFinancialInstitutionIdentification6 {
		return &components.BranchAndFinancialInstitutionIdentification6{FinInstnId: &components.FinancialInstitutionIdentification18{BICFI: isodoc.P[components.BICFIDec2014Identifier](bic)}}
	}
	acct := func(iban string) *components.CashAccount38 {
		return &components.CashAccount38{Id: &components.AccountIdentification4Choice{IBAN: isodoc.P[components.IBAN2007Identifier](iban)}}
	}
	doc := &pacs008.Document{FIToFICstmrCdtTrf: &components.FIToFICustomerCreditTransferV08{
		GrpHdr: &components.GroupHeader93{MsgId: isodoc.P[components.Max35Text](msgID), CreDtTm: isodoc.P[components.ISODateTime]("2025-03-10T14:00:00+05:00"),
			NbOfTxs: isodoc.P[components.Max15NumericText]("1"), IntrBkSttlmDt: isodoc.P[components.ISODate]("2025-03-10"),
			SttlmInf: &components.SettlementInstruction7{SttlmMtd: isodoc.P[components.SettlementMethod1Code]("CLRG")}},
		CdtTrfTxInf: []*components.CreditTransferTransaction39{{
			PmtId:          &components.PaymentIdentification7{EndToEndId: isodoc.P[components.Max35Text](e2e)},
			IntrBkSttlmAmt: &components.ActiveCurrencyAndAmount{Value: isodoc.P[components.ActiveCurrencyAndAmount_SimpleType](amount), Ccy: isodoc.P[components.ActiveCurrencyCode]("KZT")},
			ChrgBr:         isodoc.P[components.ChargeBearerType1Code]("SLEV"),
			Dbtr:           &components.PartyIdentification135{Nm: isodoc.P[components.Max140Text]("Treasury")},
			DbtrAcct:       acct("KZ77070105KZT0000001"),
			DbtrAgt:        agent("KKMFKZ2A"),
			CdtrAgt:        agent("HSBKKZKX"),
			Cdtr:           &components.PartyIdentification135{Nm: isodoc.P[components.Max140Text]("Creditor")},
			CdtrAcct:       acct(creditorIBAN),
		}},
	}}
	out, err := isodoc.Marshal(xml.Name{Local: "message"}, isodoc.NewHeader("KKMFKZ2A", "NBRKKZKX", msgID, isodoc.Pacs008, "", time.Now()), isodoc.Pacs008, doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func submit(t *testing.T, url string, body []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/xml", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func statusOf(t *testing.T, m *isodoc.Message) (e2e, status, reason string) {
	t.Helper()
	var doc pacs002.Document
	if err := m.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	tx := doc.FIToFIPmtStsRpt.TxInfAndSts[0]
	if len(tx.StsRsnInf) > 0 && tx.StsRsnInf[0].Rsn != nil {
		reason = isodoc.S(tx.StsRsnInf[0].Rsn.Cd)
	}
	return isodoc.S(tx.OrgnlEndToEndId), isodoc.S(tx.TxSts), reason
}

func TestAcceptsAndAnswersAsynchronously(t *testing.T) {
	k := &sink{fail: 2} // the participant is briefly down: the push is retried
	_, srv := start(t, k)
	if code, body := submit(t, srv.URL+"/", pacs008Msg(t, "M1", "E2E-1", "KZ42601KZT0000123456", "100.00")); code != http.StatusAccepted {
		t.Fatalf("%d %s", code, body)
	}
	msgs := k.wait(t, 1)
	if e2e, st, _ := statusOf(t, msgs[0]); e2e != "E2E-1" || st != "ACSC" {
		t.Fatalf("%s %s", e2e, st)
	}
	if msgs[0].Header == nil || isodoc.S(msgs[0].Header.MsgDefIdr) != isodoc.Pacs002 {
		t.Fatal("pushed without its business application header")
	}
}

func TestRejectionRulesAndPending(t *testing.T) {
	k := &sink{}
	_, srv := start(t, k)
	bank998 := "KZ85998KZT0000000777"
	submit(t, srv.URL, pacs008Msg(t, "M1", "E2E-UNKNOWN-ACCT", bank998, "100.00"))
	k.wait(t, 1)
	submit(t, srv.URL, pacs008Msg(t, "M2", "PDNG-1", "KZ42601KZT0000123456", "5.00"))
	msgs := k.wait(t, 3)
	got := map[string][]string{}
	for _, m := range msgs {
		e2e, st, rsn := statusOf(t, m)
		got[e2e] = append(got[e2e], strings.TrimSpace(st+" "+rsn))
	}
	if strings.Join(got["E2E-UNKNOWN-ACCT"], ",") != "RJCT AC01" || strings.Join(got["PDNG-1"], ",") != "PDNG,ACSC" {
		t.Fatalf("statuses %v", got)
	}
}

func TestInvalidAndDuplicateSubmissions(t *testing.T) {
	k := &sink{}
	m, srv := start(t, k)
	bad := strings.Replace(string(pacs008Msg(t, "M1", "E", "KZ42601KZT0000123456", "1.00")), "<ChrgBr>SLEV</ChrgBr>", "<ChrgBr>NONE</ChrgBr>", 1)
	if code, body := submit(t, srv.URL, []byte(bad)); code != 400 || !strings.Contains(body, "ChrgBr") {
		t.Fatalf("invalid pacs.008: %d %s", code, body)
	}
	good := pacs008Msg(t, "M2", "E2E-D", "KZ42601KZT0000123456", "1.00")
	submit(t, srv.URL, good)
	if code, _ := submit(t, srv.URL, good); code != http.StatusAccepted {
		t.Fatal("resend not acknowledged")
	}
	k.wait(t, 1)
	time.Sleep(30 * time.Millisecond)
	if st := m.Snapshot(); len(st.Payments) != 1 || len(st.Pushed) != 1 || st.Invalid != 1 {
		t.Fatalf("resend processed again: %+v", st)
	}
	// Same end-to-end id in a new message: a duplicate payment, refused.
	submit(t, srv.URL, pacs008Msg(t, "M3", "E2E-D", "KZ42601KZT0000123456", "1.00"))
	msgs := k.wait(t, 2)
	if _, st, rsn := statusOf(t, msgs[1]); st != "RJCT" || rsn != "AM05" {
		t.Fatalf("duplicate e2e answered %s %s", st, rsn)
	}
}

func TestControlAPI(t *testing.T) {
	k := &sink{}
	_, srv := start(t, k)
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := do("PUT", "/_control/rules", `[{"creditorIban":"KZ42601KZT0000123456","reason":"AG01","text":"forbidden"}]`); code != 200 {
		t.Fatal(code)
	}
	for _, bad := range []string{`[{"status":"ACSC"}]`, `[{"minAmount":"1e3"}]`, `[{"reason":"TOOLONG"}]`, `{"x":1}`} {
		if code, _ := do("PUT", "/_control/rules", bad); code != 400 {
			t.Errorf("rules %s accepted", bad)
		}
	}
	submit(t, srv.URL, pacs008Msg(t, "M1", "E2E-C", "KZ42601KZT0000123456", "1.00"))
	if _, st, rsn := statusOf(t, k.wait(t, 1)[0]); st != "RJCT" || rsn != "AG01" {
		t.Fatalf("%s %s", st, rsn)
	}
	if code, _ := do("POST", "/_control/return", `{"endToEndId":"E2E-C"}`); code != http.StatusConflict {
		t.Fatal("return of a rejected payment issued")
	}
	if code, _ := do("PUT", "/_control/callback", `{"url":"ftp://x"}`); code != 400 {
		t.Fatal("bad callback accepted")
	}
	if code, _ := do("POST", "/_control/statement", `{"type":"camt.052"}`); code != 400 {
		t.Fatal("bad statement type accepted")
	}
	code, body := do("GET", "/_control/state", "")
	var st State
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil || len(st.Payments) != 1 || st.Payments[0].Status != "RJCT" {
		t.Fatalf("state %d %s", code, body)
	}
	if code, _ := do("DELETE", "/_control/state", ""); code != 204 {
		t.Fatal(code)
	}
}

func TestStatementOfSettledPaymentsIsValidCamt053(t *testing.T) {
	k := &sink{}
	m, srv := start(t, k)
	submit(t, srv.URL, pacs008Msg(t, "M1", "E2E-S1", "KZ42601KZT0000123456", "100.00"))
	submit(t, srv.URL, pacs008Msg(t, "M2", "E2E-S2", "KZ85998KZT0000000777", "50.00")) // rejected: not on the statement
	k.wait(t, 2)
	ids, err := m.SendStatement(isodoc.Camt053, "", []ExtraEntry{{CreditDebit: "CRDT", Amount: "7.00", Info: "incoming"}})
	if err != nil || len(ids) != 1 {
		t.Fatalf("%v %v", ids, err)
	}
	msgs := k.wait(t, 3)
	var doc camt053.Document
	if err := msgs[2].Decode(&doc); err != nil {
		t.Fatal(err)
	}
	st := doc.BkToCstmrStmt.Stmt[0]
	if len(st.Ntry) != 2 || isodoc.S(st.Ntry[0].NtryDtls[0].TxDtls[0].Refs.EndToEndId) != "E2E-S1" || isodoc.S(st.Ntry[1].CdtDbtInd) != "CRDT" {
		t.Fatalf("entries %d", len(st.Ntry))
	}
	// Opening 1,000,000,000.00, minus 100.00, plus 7.00.
	if cl := st.Bal[1]; isodoc.S(cl.Tp.CdOrPrtry.Cd) != "CLBD" || isodoc.S(cl.Amt.Value) != "999999907.00" {
		t.Fatalf("closing balance %s", isodoc.S(cl.Amt.Value))
	}
}
