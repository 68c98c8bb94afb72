package xmlsig

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"time"
)

// EnvelopeSigner is a signing provider: it returns a finished SOAP envelope
// signed in the gateway's layout. LocalSigner holds the key in this
// process; a provider that is a service of its own (NCANode, which holds
// GOST keys Go cannot use) implements it over HTTP. The context bounds a
// remote provider's call by the exchange it serves.
type EnvelopeSigner interface {
	SignEnvelope(ctx context.Context, envelope []byte) ([]byte, error)
}

// EnvelopeVerifier is a verification provider: it checks an envelope's
// signature and decides whether its certificate is to be trusted. A
// refusal is an *Error whose Reason is the code a channel answers with.
type EnvelopeVerifier interface {
	VerifyEnvelope(ctx context.Context, envelope []byte) (*Verified, error)
}

// LocalSigner signs in process with a Signer (an RSA key, or any other
// suite registered here).
type LocalSigner struct{ S Signer }

// SignEnvelope implements EnvelopeSigner.
func (l LocalSigner) SignEnvelope(_ context.Context, envelope []byte) ([]byte, error) {
	return Sign(envelope, l.S)
}

// LocalVerifier verifies in process (Verify) and applies a Trust at the
// time Now gives (nil: the wall clock). OnRevocationUnknown is
// RevocationRefuse ("" too) or RevocationFlag.
type LocalVerifier struct {
	Trust               *Trust
	Now                 func() time.Time
	OnRevocationUnknown string
}

// VerifyEnvelope implements EnvelopeVerifier.
func (l LocalVerifier) VerifyEnvelope(ctx context.Context, envelope []byte) (*Verified, error) {
	v, err := Verify(envelope)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	unknown, err := l.Trust.Evaluate(ctx, v.Certificate, now)
	if err != nil {
		return nil, err
	}
	if unknown != nil {
		if l.OnRevocationUnknown != RevocationFlag {
			return nil, unknown
		}
		v.RevocationUnknown = unknown.Detail
	}
	return v, nil
}

// Unavailable reports a signature that could not be checked at all because
// the provider verifying it did not answer: reason is the provider's code
// for why. It is not the sender's fault, and sending again may succeed.
func Unavailable(reason Reason, format string, args ...any) *Error {
	e := fail(reason, format, args...)
	e.Unavailable = true
	return e
}

// CheckUse applies the rules of Trust.Check that need no chain: the key
// may sign (digitalSignature or nonRepudiation) and, when policy is given,
// the certificate carries that policy OID. A remote provider that decides
// on chain and revocation itself (NCANode) leaves these to Köpir, because
// the certificate's extensions parse in Go whatever its key algorithm.
func CheckUse(cert *x509.Certificate, policy string) error {
	var oid x509.OID
	if policy = strings.TrimSpace(policy); policy != "" {
		var err error
		if oid, err = x509.ParseOID(policy); err != nil {
			return fmt.Errorf("xmlsig: policy %q: %w", policy, err)
		}
	}
	return checkUse(cert, oid, policy != "")
}

func checkUse(cert *x509.Certificate, policy x509.OID, checkPolicy bool) error {
	if cert.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return fail(ReasonKeyUsage, "certificate of %q is not for digitalSignature or nonRepudiation", cert.Subject.String())
	}
	if checkPolicy && !hasPolicy(cert, policy) {
		return fail(ReasonPolicy, "certificate of %q lacks policy %s", cert.Subject.String(), policy.String())
	}
	return nil
}
