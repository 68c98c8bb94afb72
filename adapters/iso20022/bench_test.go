package iso20022

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/mocks/payments"
)

// BenchmarkCreditTransferEncode is the adapter's share of a payment:
// strict JSON, field checks (IBAN, BIC, amounts, KZ codes), building the
// pacs.008 with its header, and validating it against the official XSDs.
func BenchmarkCreditTransferEncode(b *testing.B) {
	a := newAdapter(b, OpCreditTransfer, testOpts)
	body := orderJSON(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		req := &adapters.Request{MessageID: testMessageID, Body: body}
		if err := a.Validate(ctx, req); err != nil {
			b.Fatal(err)
		}
		if _, err := a.Encode(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreditTransferRoundTrip is JSON → validated pacs.008 → the
// payment-system mock over loopback HTTP (which validates it again and
// queues its pacs.002) → the acknowledgement decoded to the internal
// answer. The mock's pushes go to a sink, so they load the same cores.
func BenchmarkCreditTransferRoundTrip(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer sink.Close()
	mock := payments.New(payments.Options{CallbackURL: sink.URL, Delay: time.Millisecond})
	srv := httptest.NewServer(mock)
	defer func() { srv.Close(); mock.Close() }()
	a := newAdapter(b, OpCreditTransfer, testOpts)
	client := srv.Client()
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		body := edit(b, orderJSON(b), func(m map[string]any) { m["endToEndId"] = fmt.Sprintf("BENCH-%d", i) })
		req := &adapters.Request{MessageID: fmt.Sprintf("0195c0de-0000-7000-8000-%012d", i), Body: body}
		if err := a.Validate(ctx, req); err != nil {
			b.Fatal(err)
		}
		w, err := a.Encode(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := client.Post(srv.URL, "application/xml", bytes.NewReader(w.Body))
		if err != nil {
			b.Fatal(err)
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if _, err := a.Decode(ctx, req, &adapters.WireResponse{StatusCode: resp.StatusCode, Body: rb}); err != nil {
			b.Fatal(err)
		}
	}
}
