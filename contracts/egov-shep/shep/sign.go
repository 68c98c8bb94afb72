package shep

import (
	"github.com/minfin-kz/kopir/internal/xmlsig"
)

// EnvelopeSigner signs a finished envelope (WS-Security over soap:Body,
// see docs/adapters/egov.md). Envelopes are built unsigned and signed
// last, so the signature covers exactly the bytes that are sent. It is
// xmlsig's signing provider interface: a key held in process
// (XMLSigner) and NCANode (adapters/ncanode) both fit.
type EnvelopeSigner = xmlsig.EnvelopeSigner

// XMLSigner signs with an xmlsig.Signer in the gateway's layout, in
// process.
type XMLSigner = xmlsig.LocalSigner
