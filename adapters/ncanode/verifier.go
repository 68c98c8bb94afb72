package ncanode

import (
	"context"
	"errors"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/xmlsig"
)

// Verifier verifies envelopes through NCANode: Köpir checks the layout
// (xmlsig.Inspect) and, on the certificate the envelope carries, key usage
// and the policy OID; NCANode checks digest, signature value, dates, issuer
// and revocation against its own CA store. Refusals are *xmlsig.Error with
// xmlsig's reasons; an NCANode that gives no usable answer is an
// xmlsig.Unavailable error with the NCANODE_… code.
type Verifier struct {
	svc    Service
	policy string
	client *Client
	now    func() time.Time
}

// NewVerifier checks the options. policy, when given, is a certificate
// policy OID the signer's certificate must carry (NCANode does not check
// policies).
func NewVerifier(s Service, policy string) (*Verifier, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	return &Verifier{svc: s, policy: policy}, nil
}

// Provision gives the verifier the core's transport to NCANode and clock.
func (v *Verifier) Provision(res adapters.Resources) error {
	c, err := NewClient(v.svc, res)
	if err != nil {
		return err
	}
	v.client, v.now = c, res.Now
	return nil
}

// VerifyEnvelope implements xmlsig.EnvelopeVerifier.
func (v *Verifier) VerifyEnvelope(ctx context.Context, envelope []byte) (*xmlsig.Verified, error) {
	if v.client == nil {
		return nil, errors.New("ncanode: the verifier was used before it was provisioned")
	}
	// The layout first: NCANode checks the first ds:Signature it finds and
	// would not notice a second Body or a Reference to another element.
	ins, err := xmlsig.Inspect(envelope)
	if err != nil {
		return nil, err
	}
	res, f := v.client.VerifyWSSE(ctx, envelope)
	if f != nil {
		return nil, xmlsig.Unavailable(xmlsig.Reason(f.Code), "verifying through NCANode: %s", f.Detail)
	}
	if len(res.Signers) == 0 {
		return nil, &xmlsig.Error{Reason: xmlsig.ReasonMalformed,
			Detail: "NCANode found no signature in the envelope (it looks for ds:Signature and wsse:SecurityTokenReference by those prefixes)"}
	}
	ci := &res.Signers[0]
	if !sameCertificate(ci, ins.Certificate) {
		return nil, &xmlsig.Error{Reason: xmlsig.ReasonMalformed,
			Detail: "NCANode verified certificate serial " + ci.SerialNumber + ", the envelope's KeyIdentifier holds serial " + ins.Certificate.SerialNumber.Text(16)}
	}
	if reason, detail := refusal(ci, v.client.revocation, v.now()); reason != "" {
		return nil, &xmlsig.Error{Reason: reason, Detail: detail}
	}
	if !res.Valid {
		return nil, &xmlsig.Error{Reason: xmlsig.ReasonInvalid,
			Detail: "NCANode: the signature does not verify with the certificate of " + subject(ci) + ": the body or SignedInfo was changed after signing, or another key signed"}
	}
	if err := xmlsig.CheckUse(ins.Certificate, v.policy); err != nil {
		return nil, err
	}
	return ins, nil
}
