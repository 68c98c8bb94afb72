// Package pki is the demo PKI of the mocks and of `make run`: a root CA,
// Köpir's signing certificate and the mock gateway's, and an empty CRL;
// Köpir's key also as kopir.p12 (password in kopir.p12.password), the form
// a route signing through NCANode hands its key over in.
// The keys are committed and therefore public; they exist so signed SHEP
// traffic can be demonstrated without NCA test certificates. Regenerate
// with `go generate ./mocks/pki` (valid ten years from generation).
package pki

import "embed"

//go:generate go run ../../internal/xmlsig/cmd/demopki -dir .

// Files holds ca.pem, crl.pem, kopir.pem, kopir.key, gateway.pem and
// gateway.key.
//
//go:embed *.pem *.key
var Files embed.FS
