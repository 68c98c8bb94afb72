package iso20022channel

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
)

// FuzzInbound feeds arbitrary bytes to the inbound channel as the payment
// system would post them. Whatever comes in, the channel must not panic,
// must refuse with a *isodoc.ParseError (never another error: the store
// works here) and deliver nothing it refused; what it accepts it delivers
// once, as JSON.
func FuzzInbound(f *testing.F) {
	f.Add(pacs002Doc(f, "S1", txStatus{e2e: "E2E-1", orig: "X", status: "RJCT", reason: "AC01", text: "unknown"}))
	f.Add(bareStatus(f))
	f.Add(wrap(f, isodoc.Pacs004, "R1", pacs004Doc("R1", "E2E-1", "X", "1.00")))
	f.Add(camt053Doc(f, "ST1", line{"E2E-1", "DBIT", "1.00", "N1"}, line{"", "CRDT", "2", "N2"}))
	s := string(pacs002Doc(f, "S2", txStatus{e2e: "E2E-1", status: "ACSC"}))
	f.Add([]byte(s[strings.Index(s, "<AppHdr"):strings.Index(s, "</message>")])) // concatenated
	f.Add([]byte(`<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>`))
	if samples, _ := filepath.Glob("../../../shared/samples/iso20022_*.xml"); len(samples) > 0 {
		for _, p := range samples {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	ch := newChannel(f, "")
	f.Fuzz(func(t *testing.T, raw []byte) {
		in := newIntake("pacs.002", "pacs.004", "camt.053", "camt.054")
		in.Sent(ctRoute, "E2E-1", []byte(`{"endToEndId":"E2E-1","amount":{"value":"1.00","currency":"KZT"}}`))
		res, err := ch.Process(t.Context(), in, raw, "")
		if err != nil {
			var pe *isodoc.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("not a refusal: %v", err)
			}
			if n := len(in.Accepted()); n != 0 {
				t.Fatalf("refused message delivered %d times", n)
			}
			return
		}
		if d := in.Accepted(); len(d) != 1 || !json.Valid(d[0].Body) || d[0].ExternalID != res.MsgID || res.MsgID == "" {
			t.Fatalf("accepted message delivered as %+v", d)
		}
	})
}
