package iso20022channel

import (
	"context"
	"fmt"
	"testing"

	"github.com/minfin-kz/kopir/adapters/iso20022"
)

// BenchmarkInboundStatusReport is the channel's share of a pacs.002:
// limits, framing, XSD validation of header and document, decoding,
// matching the payment and annotating it (in-memory Intake).
func BenchmarkInboundStatusReport(b *testing.B) {
	in := newIntake("pacs.002")
	id := sentOrder(b, in, "E2E-1", "1.00")
	ch := newChannel(b, "")
	ctx := context.Background()
	order, err := in.Find(ctx, ctRoute, "E2E-1")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		doc := pacs002Doc(b, fmt.Sprintf("S%d", i), txStatus{e2e: "E2E-1", orig: iso20022.MsgID(id), status: "ACSP"})
		if _, err := ch.Process(ctx, in, doc, ""); err != nil {
			b.Fatal(err)
		}
		in.SentAs(id, ctRoute, "E2E-1", order.Request) // keep the trail short: measure one status, not a growing history
	}
}
