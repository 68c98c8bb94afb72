// Command demopki writes the demo PKI (root, Köpir and mock-gateway signing
// certificates, empty CRL) the mocks and the `make run` config use. The
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
	flag.Parse()
	if err := testpki.WriteDemo(*dir, time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, "demopki:", err)
		os.Exit(1)
	}
}
