package xmlsig

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minfin-kz/kopir/internal/units"
)

// Kazakhstan NCA certificate policy OIDs (contracts/README): a certificate
// for signing documents and one for authentication.
const (
	PolicySigning = "1.2.398.5.19.1.2.2.1.2"
	PolicyAuth    = "1.2.398.5.19.1.2.2.1.3"
)

// Trust decides whether a signing certificate is acceptable: it chains to
// a configured root, is within its validity (and so is its chain), is not
// on a configured CRL, may sign (digitalSignature or nonRepudiation), and
// carries the required policy OID when one is configured.
type Trust struct {
	roots         *x509.CertPool
	intermediates *x509.CertPool
	// cas are the certificates a CRL must be signed by to be taken.
	cas []*x509.Certificate
	// crls is the last good revocation set: a refresh swaps it whole, so
	// a verification never waits for a fetch and never sees half a set.
	crls    atomic.Pointer[crlSet]
	sources []crlSource
	refresh time.Duration
	// refreshMu keeps two refreshes from interleaving their bookkeeping
	// of sources; verification never takes it.
	refreshMu sync.Mutex
	policy    x509.OID
	hasPolicy bool
	// ocsp asks the signer's responder; nil: CRLs only.
	ocsp *ocspChecker
}

// TrustConfig names the files a Trust is loaded from. Paths are PEM; a
// CRL may also be DER.
type TrustConfig struct {
	Roots         []string `yaml:"roots" json:"roots"`
	Intermediates []string `yaml:"intermediates" json:"intermediates"`
	CRLs          []string `yaml:"crls" json:"crls"`
	// CRLURLs are fetched by Refresh (through the fetch function the
	// caller gives, the core's layered transport), as are CRLs again.
	CRLURLs []string `yaml:"crlURLs" json:"crlURLs"`
	// Refresh is how often CRLs and CRLURLs are read again (default 1h
	// when CRLURLs are given; 0 with only files: never).
	Refresh units.Duration `yaml:"refresh" json:"refresh"`
	// Policy is a certificate policy OID the signer must carry, e.g.
	// 1.2.398.5.19.1.2.2.1.2 (NCA signing). Empty: not checked.
	Policy string `yaml:"policy" json:"policy"`
	// OCSP asks a responder for the signer's status (the leaf; the rest
	// of the chain is checked against the CRLs).
	OCSP *OCSPConfig `yaml:"ocsp" json:"ocsp"`
}

// LoadTrust reads the roots, intermediates and CRLs. A CRL must be signed
// by one of the configured CA certificates, so a forged CRL cannot be
// slipped in through the file system either.
func LoadTrust(c TrustConfig) (*Trust, error) {
	if len(c.Roots) == 0 {
		return nil, errors.New("xmlsig: trust needs at least one root certificate")
	}
	var roots, inter []*x509.Certificate
	for _, p := range c.Roots {
		cs, err := readCerts(p)
		if err != nil {
			return nil, err
		}
		roots = append(roots, cs...)
	}
	for _, p := range c.Intermediates {
		cs, err := readCerts(p)
		if err != nil {
			return nil, err
		}
		inter = append(inter, cs...)
	}
	var crls []*x509.RevocationList
	for _, p := range c.CRLs {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("xmlsig: CRL: %w", err)
		}
		crl, err := parseCRL(b)
		if err != nil {
			return nil, fmt.Errorf("xmlsig: CRL %s: %w", p, err)
		}
		crls = append(crls, crl)
	}
	t, err := NewTrust(roots, inter, crls, c.Policy)
	if err != nil {
		return nil, err
	}
	if err := t.addSources(c.CRLs, c.CRLURLs); err != nil {
		return nil, err
	}
	if t.ocsp, err = newOCSPChecker(c.OCSP); err != nil {
		return nil, err
	}
	t.refresh = time.Duration(c.Refresh)
	return t, nil
}

func parseCRL(b []byte) (*x509.RevocationList, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	return x509.ParseRevocationList(b)
}

// NewTrust builds a Trust from parsed material.
func NewTrust(roots, intermediates []*x509.Certificate, crls []*x509.RevocationList, policy string) (*Trust, error) {
	if len(roots) == 0 {
		return nil, errors.New("xmlsig: trust needs at least one root certificate")
	}
	t := &Trust{roots: x509.NewCertPool(), intermediates: x509.NewCertPool()}
	cas := append(append([]*x509.Certificate{}, roots...), intermediates...)
	t.cas = cas
	for _, c := range roots {
		t.roots.AddCert(c)
	}
	for _, c := range intermediates {
		t.intermediates.AddCert(c)
	}
	for _, crl := range crls {
		if !signedByOneOf(crl, cas) {
			return nil, fmt.Errorf("xmlsig: CRL issued by %q is not signed by a configured CA", crl.Issuer.String())
		}
	}
	t.crls.Store(&crlSet{lists: crls})
	if policy = strings.TrimSpace(policy); policy != "" {
		oid, err := x509.ParseOID(policy)
		if err != nil {
			return nil, fmt.Errorf("xmlsig: policy %q: %w", policy, err)
		}
		t.policy, t.hasPolicy = oid, true
	}
	return t, nil
}

func signedByOneOf(crl *x509.RevocationList, cas []*x509.Certificate) bool {
	for _, ca := range cas {
		if crl.CheckSignatureFrom(ca) == nil {
			return true
		}
	}
	return false
}

// Check applies the trust rules to cert at time now, and fails closed
// when the revocation status is unknown. ctx bounds an OCSP query.
func (t *Trust) Check(ctx context.Context, cert *x509.Certificate, now time.Time) error {
	unknown, err := t.Evaluate(ctx, cert, now)
	if err != nil {
		return err
	}
	if unknown != nil {
		return unknown
	}
	return nil
}

// Evaluate applies the trust rules to cert at time now, but reports an
// unknown revocation status (a CRL past its nextUpdate, or a CRL source
// never read) apart from the refusal, so that a channel whose policy is
// to accept and flag such a message can: every other rule still holds,
// and a certificate listed on any CRL it has is still refused.
func (t *Trust) Evaluate(ctx context.Context, cert *x509.Certificate, now time.Time) (revocationUnknown *Error, err error) {
	return t.evaluate(ctx, cert, t.intermediates, now)
}

// CheckPresented applies the trust rules to the first of certs, a chain
// as a TLS client presents it (leaf first, then the intermediates it
// sent, which help build the chain but are trusted for nothing), and
// fails closed when the revocation status is unknown.
func (t *Trust) CheckPresented(ctx context.Context, certs []*x509.Certificate, now time.Time) error {
	if len(certs) == 0 {
		return fail(ReasonUntrusted, "no certificate presented")
	}
	pool := t.intermediates
	if len(certs) > 1 {
		pool = t.intermediates.Clone()
		for _, c := range certs[1:] {
			pool.AddCert(c)
		}
	}
	unknown, err := t.evaluate(ctx, certs[0], pool, now)
	if err != nil {
		return err
	}
	if unknown != nil {
		return unknown
	}
	return nil
}

func (t *Trust) evaluate(ctx context.Context, cert *x509.Certificate, intermediates *x509.CertPool, now time.Time) (revocationUnknown *Error, err error) {
	switch {
	case now.Before(cert.NotBefore):
		return nil, fail(ReasonExpired, "certificate of %q is not valid before %s", cert.Subject.String(), cert.NotBefore.UTC().Format(time.RFC3339))
	case now.After(cert.NotAfter):
		return nil, fail(ReasonExpired, "certificate of %q expired at %s", cert.Subject.String(), cert.NotAfter.UTC().Format(time.RFC3339))
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots: t.roots, Intermediates: intermediates, CurrentTime: now,
		// NCA certificates carry their own extended key usages (e.g.
		// 1.2.398.3.3.4.1.1); what matters here is the key usage bits.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return nil, fail(ReasonExpired, "a certificate in the chain of %q is outside its validity: %v", cert.Subject.String(), err)
		}
		return nil, fail(ReasonUntrusted, "certificate of %q does not chain to a trusted root: %v", cert.Subject.String(), err)
	}
	// Key usage and policy first: they need no network, and a certificate
	// that may not sign is refused without asking a responder about it.
	if err := checkUse(cert, t.policy, t.hasPolicy); err != nil {
		return nil, err
	}
	return t.revoked(ctx, chains[0], now)
}

// revoked looks every certificate of the chain up in the CRL its issuer
// signed. A CRL past its nextUpdate no longer vouches for the absent, and
// a configured source never read vouches for nothing: either makes the
// status unknown. A listed serial is revoked whatever the CRL's age,
// since a revocation is never undone. With OCSP, the leaf's responder
// vouches for the leaf instead of its issuer's CRL.
func (t *Trust) revoked(ctx context.Context, chain []*x509.Certificate, now time.Time) (unknown *Error, err error) {
	set := t.crls.Load()
	if len(set.missing) > 0 {
		unknown = fail(ReasonCRL, "no CRL could be read yet from %s", strings.Join(set.missing, ", "))
	}
	for i := 0; i+1 < len(chain); i++ {
		c, issuer := chain[i], chain[i+1]
		for _, crl := range set.lists {
			if crl.CheckSignatureFrom(issuer) != nil {
				continue
			}
			for _, e := range crl.RevokedCertificateEntries {
				if e.SerialNumber.Cmp(c.SerialNumber) == 0 && !e.RevocationTime.After(now) {
					return nil, fail(ReasonRevoked, "certificate of %q (serial %s) was revoked at %s", c.Subject.String(), c.SerialNumber.Text(16), e.RevocationTime.UTC().Format(time.RFC3339))
				}
			}
			if unknown == nil && !(i == 0 && t.ocsp != nil) && !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate) {
				unknown = fail(ReasonCRL, "the CRL of %q was due for renewal at %s", issuer.Subject.String(), crl.NextUpdate.UTC().Format(time.RFC3339))
			}
		}
	}
	if t.ocsp != nil && len(chain) > 1 {
		o, err := t.ocsp.status(ctx, chain[0], chain[1], now)
		if err != nil {
			return nil, err
		}
		if unknown == nil {
			unknown = o
		}
	}
	return unknown, nil
}

func hasPolicy(cert *x509.Certificate, want x509.OID) bool {
	for _, p := range cert.Policies {
		if p.Equal(want) {
			return true
		}
	}
	return false
}

func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("xmlsig: %w", err)
	}
	cs, err := ParseCertificates(b)
	if err != nil {
		return nil, fmt.Errorf("xmlsig: %s: %w", path, err)
	}
	return cs, nil
}

// ParseCertificates reads every CERTIFICATE block of a PEM file, or one
// DER certificate.
func ParseCertificates(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, errors.New("no certificate found (expected PEM CERTIFICATE blocks or DER)")
		}
		out = append(out, c)
	}
	return out, nil
}
