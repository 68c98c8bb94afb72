package signing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/xmlsig"
)

// attrProvider names who signed or verified on a span: local or ncanode.
const attrProvider = attribute.Key("kopir.signing.provider")

// Traced makes each signature s makes a "sign" span of the exchange, with
// the provider (local or ncanode) and the error of a refused signature:
// signing is the costliest step of a signed route, and NCANode a remote
// call of its own.
func Traced(s xmlsig.EnvelopeSigner, t trace.Tracer) xmlsig.EnvelopeSigner {
	if s == nil {
		return nil
	}
	return tracedSigner{s: s, t: t, provider: providerOf(s)}
}

type tracedSigner struct {
	s        xmlsig.EnvelopeSigner
	t        trace.Tracer
	provider string
}

func (ts tracedSigner) SignEnvelope(ctx context.Context, envelope []byte) ([]byte, error) {
	ctx, span := ts.t.Start(ctx, "sign", trace.WithAttributes(attrProvider.String(ts.provider)))
	defer span.End()
	b, err := ts.s.SignEnvelope(ctx, envelope)
	adapters.SpanFailed(span, err)
	return b, err
}

// Verify checks envelope with v as a "verify" span of the exchange. It is a
// call, not a wrapper, because channels also ask their verifier what else
// it does (Refresher).
func Verify(ctx context.Context, t trace.Tracer, v xmlsig.EnvelopeVerifier, envelope []byte) (*xmlsig.Verified, error) {
	if t == nil {
		t = adapters.Resources{}.Trace() // a channel built without the core's resources (a test)
	}
	ctx, span := t.Start(ctx, "verify", trace.WithAttributes(attrProvider.String(providerOf(v))))
	defer span.End()
	got, err := v.VerifyEnvelope(ctx, envelope)
	adapters.SpanFailed(span, err)
	return got, err
}

func providerOf(p any) string {
	switch p.(type) {
	case xmlsig.LocalSigner, *LocalVerifier, xmlsig.LocalVerifier, *xmlsig.LocalVerifier:
		return Local
	}
	return NCANode
}
