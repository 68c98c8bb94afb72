// Command demopki writes the demo PKI (root, Köpir and mock-gateway signing
// certificates, empty CRL, Köpir's key as PKCS#12) the mocks and the
// `make run` config use. The
// committed copy lives in mocks/pki; regenerate it with
// `go generate ./mocks/pki` when it nears expiry (it is valid ten years).
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/minfin-kz/kopir/internal/xmlsig/testpki"
)

func main() {
	dir := flag.String("dir", ".", "directory to write the PEM files into")
	p12Only := flag.Bool("p12-only", false, "only pack the kopir.pem and kopir.key already in -dir into kopir.p12")
	flag.Parse()
	write := func() error { return testpki.WriteDemo(*dir, time.Now()) }
	if *p12Only {
		write = func() error { return testpki.WriteDemoPKCS12(*dir) }
	}
	if err := write(); err != nil {
		fmt.Fprintln(os.Stderr, "demopki:", err)
		os.Exit(1)
	}
}
