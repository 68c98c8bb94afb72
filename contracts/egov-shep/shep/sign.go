package shep

import (
	"context"

	"github.com/minfin-kz/kopir/internal/xmlsig"
)

// EnvelopeSigner signs a finished envelope (WS-Security over soap:Body,
// see docs/adapters/egov.md). Envelopes are built unsigned and signed
// last, so the signature covers exactly the bytes that are sent.
type EnvelopeSigner interface {
	SignEnvelope(ctx context.Context, envelope []byte) ([]byte, error)
}

// XMLSigner signs with an xmlsig.Signer in the gateway's layout.
type XMLSigner struct{ S xmlsig.Signer }

// SignEnvelope implements EnvelopeSigner.
func (x XMLSigner) SignEnvelope(_ context.Context, envelope []byte) ([]byte, error) {
	return xmlsig.Sign(envelope, x.S)
}
