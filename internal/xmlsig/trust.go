package xmlsig

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
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
	crls          []*x509.RevocationList
	policy        x509.OID
	hasPolicy     bool
}

// TrustConfig names the files a Trust is loaded from. Paths are PEM; a
// CRL may also be DER.
type TrustConfig struct {
	Roots         []string `yaml:"roots" json:"roots"`
	Intermediates []string `yaml:"intermediates" json:"intermediates"`
	CRLs          []string `yaml:"crls" json:"crls"`
	// Policy is a certificate policy OID the signer must carry, e.g.
	// 1.2.398.5.19.1.2.2.1.2 (NCA signing). Empty: not checked.
	Policy string `yaml:"policy" json:"policy"`
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
		if blk, _ := pem.Decode(b); blk != nil {
			b = blk.Bytes
		}
		crl, err := x509.ParseRevocationList(b)
		if err != nil {
			return nil, fmt.Errorf("xmlsig: CRL %s: %w", p, err)
		}
		crls = append(crls, crl)
	}
	return NewTrust(roots, inter, crls, c.Policy)
}

// NewTrust builds a Trust from parsed material.
func NewTrust(roots, intermediates []*x509.Certificate, crls []*x509.RevocationList, policy string) (*Trust, error) {
	if len(roots) == 0 {
		return nil, errors.New("xmlsig: trust needs at least one root certificate")
	}
	t := &Trust{roots: x509.NewCertPool(), intermediates: x509.NewCertPool()}
	cas := append(append([]*x509.Certificate{}, roots...), intermediates...)
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
	t.crls = crls
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

// Check applies the trust rules to cert at time now.
func (t *Trust) Check(cert *x509.Certificate, now time.Time) error {
	switch {
	case now.Before(cert.NotBefore):
		return fail(ReasonExpired, "certificate of %q is not valid before %s", cert.Subject.String(), cert.NotBefore.UTC().Format(time.RFC3339))
	case now.After(cert.NotAfter):
		return fail(ReasonExpired, "certificate of %q expired at %s", cert.Subject.String(), cert.NotAfter.UTC().Format(time.RFC3339))
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots: t.roots, Intermediates: t.intermediates, CurrentTime: now,
		// NCA certificates carry their own extended key usages (e.g.
		// 1.2.398.3.3.4.1.1); what matters here is the key usage bits.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return fail(ReasonExpired, "a certificate in the chain of %q is outside its validity: %v", cert.Subject.String(), err)
		}
		return fail(ReasonUntrusted, "certificate of %q does not chain to a trusted root: %v", cert.Subject.String(), err)
	}
	if err := t.revoked(chains[0], now); err != nil {
		return err
	}
	return checkUse(cert, t.policy, t.hasPolicy)
}

// revoked looks every certificate of the chain up in the CRL its issuer
// signed. A CRL past its nextUpdate no longer says anything, so it fails
// closed rather than letting a revoked key through.
func (t *Trust) revoked(chain []*x509.Certificate, now time.Time) error {
	for i := 0; i+1 < len(chain); i++ {
		c, issuer := chain[i], chain[i+1]
		for _, crl := range t.crls {
			if crl.CheckSignatureFrom(issuer) != nil {
				continue
			}
			if !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate) {
				return fail(ReasonCRL, "the CRL of %q was due for renewal at %s", issuer.Subject.String(), crl.NextUpdate.UTC().Format(time.RFC3339))
			}
			for _, e := range crl.RevokedCertificateEntries {
				if e.SerialNumber.Cmp(c.SerialNumber) == 0 && !e.RevocationTime.After(now) {
					return fail(ReasonRevoked, "certificate of %q (serial %s) was revoked at %s", c.Subject.String(), c.SerialNumber.Text(16), e.RevocationTime.UTC().Format(time.RFC3339))
				}
			}
		}
	}
	return nil
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
