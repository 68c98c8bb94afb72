package iso20022channel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/iso20022"
	"github.com/minfin-kz/kopir/mocks/payments"
)

// world is Köpir's ISO 20022 side (adapters, channel, a test Intake) wired
// to the payment-system mock over HTTP, as make run wires them.
type world struct {
	t     testing.TB
	in    *adaptertest.Intake
	mock  *payments.Mock
	mockU string
	n     int
}

func newWorld(t testing.TB, pendingFor time.Duration) *world {
	in := newIntake("pacs.002", "pacs.004", "camt.053", "camt.054")
	chSrv := serve(t, newChannel(t, "senders: [NBRKKZKX]\n"), in)
	mock := payments.New(payments.Options{CallbackURL: chSrv.URL + "/iso20022", Delay: time.Millisecond, PendingFor: pendingFor})
	srv := httptest.NewServer(mock)
	t.Cleanup(func() { srv.Close(); mock.Close() })
	return &world{t: t, in: in, mock: mock, mockU: srv.URL}
}

// send is one call of an iso20022 route: validate, store (as an async
// route does before delivery), encode, post, decode.
func (w *world) send(op, route string, body []byte) (*adapters.Request, *iso20022.Sent) {
	w.t.Helper()
	a := newAdapter(w.t, op, adaptertest.Resources(w.t))
	w.n++
	req := &adapters.Request{MessageID: fmt.Sprintf("0195c0de-0000-7000-8000-%012d", 1000+w.n), Body: body}
	if err := a.Validate(context.Background(), req); err != nil {
		w.t.Fatal(err)
	}
	if op != iso20022.OpCancel {
		w.in.SentAs(req.MessageID, route, req.ExternalID, body)
	}
	wire, err := a.Encode(context.Background(), req)
	if err != nil {
		w.t.Fatal(err)
	}
	resp, err := http.Post(w.mockU, wire.Header.Get("Content-Type"), bytes.NewReader(wire.Body))
	if err != nil {
		w.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	out, err := a.Decode(context.Background(), req, &adapters.WireResponse{StatusCode: resp.StatusCode, Body: b})
	if err != nil {
		w.t.Fatalf("payment system refused %s: %v", op, err)
	}
	var s iso20022.Sent
	json.Unmarshal(out.Body, &s)
	return req, &s
}

func (w *world) order(e2e, creditorIBAN, amount string) []byte {
	return sample(w.t, "credit-transfer.json", func(m map[string]any) {
		m["endToEndId"] = e2e
		m["amount"] = map[string]any{"value": amount, "currency": "KZT"}
		delete(m, "settlementDate")
		if creditorIBAN != "" {
			m["creditor"].(map[string]any)["iban"] = creditorIBAN
		}
	})
}

// await polls a payment's trail until it has n events of action.
func (w *world) await(id, action string, n int) []string {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := w.in.Actions(id, action)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("payment %s: wanted %d %s events, have %q; mock state %+v", id, n, action, got, w.mock.Snapshot().Pushed)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func words(ds []string) string {
	var out []string
	for _, d := range ds {
		out = append(out, d[:strings.Index(d, " (")])
	}
	return strings.Join(out, " | ")
}

func TestRoundTripThroughPaymentSystemMock(t *testing.T) {
	w := newWorld(t, 500*time.Millisecond)

	ok, sent := w.send(iso20022.OpCreditTransfer, ctRoute, w.order("RT-OK", "", "150000.00"))
	if sent.Status != "SENT" || sent.MsgID != iso20022.MsgID(ok.MessageID) {
		t.Fatalf("answer %+v", sent)
	}
	rejected, _ := w.send(iso20022.OpCreditTransfer, ctRoute, w.order("RT-AC01", "KZ85998KZT0000000777", "10.00"))
	pending, _ := w.send(iso20022.OpCreditTransfer, ctRoute, w.order("PDNG-RT", "", "20.00"))
	cancelled, _ := w.send(iso20022.OpCreditTransfer, ctRoute, w.order("PDNG-CXL", "", "30.00"))

	if got := words(w.await(ok.MessageID, ActionStatus, 1)); got != "ACSC" {
		t.Errorf("accepted: %s", got)
	}
	if got := words(w.await(rejected.MessageID, ActionStatus, 1)); got != "RJCT AC01 - unknown creditor account" {
		t.Errorf("rejected: %s", got)
	}
	// Cancel the second pending payment while it is queued.
	w.await(cancelled.MessageID, ActionStatus, 1)
	w.send(iso20022.OpCancel, "payments.cancel", []byte(fmt.Sprintf(`{"endToEndId":"PDNG-CXL","originalMessageId":%q,"reason":"DUPL"}`, cancelled.MessageID)))
	if got := words(w.await(cancelled.MessageID, ActionStatus, 2)); got != "PDNG - queued: insufficient liquidity | RJCT DUPL - cancelled on the participant's request" {
		t.Errorf("cancelled: %s", got)
	}
	if got := words(w.await(pending.MessageID, ActionStatus, 2)); got != "PDNG - queued: insufficient liquidity | ACSC" {
		t.Errorf("pending: %s", got)
	}

	// The creditor's bank sends the first payment back.
	resp, err := http.Post(w.mockU+"/_control/return", "application/json", strings.NewReader(`{"endToEndId":"RT-OK","reason":"AC04","text":"account closed"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("return: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	if got := words(w.await(ok.MessageID, ActionStatus, 2)); got != "ACSC | RETURNED AC04 150000.00 KZT - account closed" {
		t.Errorf("returned: %s", got)
	}

	// A salary batch, settled, then the day's statement with a line that
	// is not Köpir's.
	batch, _ := w.send(iso20022.OpCustomerTransfer, "payments.customer-transfer", sample(t, "customer-transfer.json", func(m map[string]any) { delete(m, "requestedExecutionDate") }))
	deadline := time.Now().Add(5 * time.Second)
	for settled := 0; settled < 2 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		settled = 0
		for _, p := range w.mock.Snapshot().Payments {
			if strings.HasPrefix(p.EndToEndID, "SAL-") && p.Status == "ACSC" {
				settled++
			}
		}
	}
	resp, err = http.Post(w.mockU+"/_control/statement", "application/json",
		strings.NewReader(`{"type":"camt.053","extraEntries":[{"creditDebit":"DBIT","amount":"99.00","endToEndId":"SOMEONE-ELSE","info":"not ours"}]}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("statement: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	// RT-OK: debit and its return's credit; PDNG-RT: debit; the batch: two
	// debits, matched by payment information id.
	if got := w.await(ok.MessageID, ActionBooked, 2); !strings.HasPrefix(got[0], "DBIT 150000.00 KZT BOOK") || !strings.HasPrefix(got[1], "CRDT 150000.00 KZT BOOK") {
		t.Errorf("RT-OK bookings %q", got)
	}
	w.await(pending.MessageID, ActionBooked, 1)
	if got := w.await(batch.MessageID, ActionBooked, 2); strings.Contains(strings.Join(got, ""), "MISMATCH") {
		t.Errorf("batch bookings %q", got)
	}
	for _, id := range []string{rejected.MessageID, cancelled.MessageID} {
		if got := w.in.Actions(id, ActionBooked); len(got) != 0 {
			t.Errorf("a payment that never settled was booked: %q", got)
		}
	}
	var stmt *Body
	for _, d := range w.in.Accepted() {
		if d.Key == "camt.053" {
			stmt = &Body{}
			json.Unmarshal(d.Body, stmt)
		}
	}
	if stmt == nil || stmt.Summary != (Summary{Items: 6, Matched: 5, Unmatched: 1}) {
		t.Fatalf("statement reconciliation %+v", stmt)
	}
	last := stmt.Statements[0].Entries[len(stmt.Statements[0].Entries)-1]
	if last.Matched || last.EndToEndID != "SOMEONE-ELSE" {
		t.Errorf("foreign entry %+v", last)
	}

	// Every message the mock pushed was accepted by the channel.
	for _, p := range w.mock.Snapshot().Pushed {
		if p.Status != http.StatusOK || p.Error != "" {
			t.Errorf("push %+v", p)
		}
	}
}
