package xmlsig

import (
	"fmt"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// BenchmarkBodyDigest is the part of a signature that is not the RSA
// operation: exclusive C14N of a 2 KB soap:Body and its SHA-256 digest,
// as Sign does it. make bench sets it beside openssl speed's RSA-2048
// signs per second, the ceiling of issue 14's signed-route target.
func BenchmarkBodyDigest(b *testing.B) { benchBodyDigest(b, canonical) }

// BenchmarkGoxmldsigBodyDigest is the same with goxmldsig's canonicalizer,
// which Sign used before canonical: the figure canonical is set against.
func BenchmarkGoxmldsigBodyDigest(b *testing.B) { benchBodyDigest(b, canonicalGoxmldsig) }

func benchBodyDigest(b *testing.B, canonical func(*etree.Element, string) ([]byte, error)) {
	var items strings.Builder
	for i := 0; items.Len() < 1900; i++ {
		fmt.Fprintf(&items, `<d:item n="%d"><d:name>Person %d</d:name><d:iin>88050130012%d</d:iin></d:item>`, i, i, i%10)
	}
	env := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` +
		`<d:data xmlns:d="http://message.persistence.interactive.nat">` + items.String() + `</d:data></soap:Body></soap:Envelope>`
	_, root, err := parse([]byte(env))
	if err != nil {
		b.Fatal(err)
	}
	_, body, err := parts(root)
	if err != nil {
		b.Fatal(err)
	}
	c14n, err := canonical(body, "")
	if err != nil {
		b.Fatal(err)
	}
	if len(c14n) < 2048 {
		b.Fatalf("the canonical Body is %d bytes, under the 2 KB the benchmark is for", len(c14n))
	}
	b.SetBytes(int64(len(c14n)))
	b.ReportAllocs()
	for b.Loop() {
		c, err := canonical(body, "")
		if err != nil {
			b.Fatal(err)
		}
		RSA256.Digest(c)
	}
}
