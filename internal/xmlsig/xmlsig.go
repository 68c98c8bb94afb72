// Package xmlsig signs and verifies SOAP 1.1 envelopes the way the
// e-Government gateway (SHEP) expects: a WS-Security header holding one
// XML Signature over the soap:Body only.
//
// The layout is fixed by the gateway (contracts/README, "SHEP signing"):
//
//	<soap:Header>
//	  <wsse:Security soap:mustUnderstand="1">
//	    <ds:Signature>
//	      <ds:SignedInfo> exc-c14n, one Reference to #<Body wsu:Id>, exc-c14n transform
//	      <ds:SignatureValue>
//	      <ds:KeyInfo><wsse:SecurityTokenReference><wsse:KeyIdentifier X509v3 Base64Binary>cert
//	<soap:Body wsu:Id="…">
//
// goxmldsig cannot produce this directly: its SigningContext builds an
// enveloped signature with ds:X509Data and references the signed element's
// own Id attribute, while WS-Security puts the signature in a sibling
// header and the certificate in a SecurityTokenReference. So this package
// assembles the elements itself. Every byte that is digested or verified
// is the exclusive C14N of an etree element as goxmldsig's transform gives
// it, written by this package's canonical in one walk (c14n.go; tests hold
// it to goxmldsig's output byte for byte). The SignedInfo this package
// builds when signing is not even walked: its canonical form is fixed by
// the layout, so it is written out directly (signedInfoC14N, held equal to
// the canonicalized element by a test).
// Software RSA keys sign through OpenSSL's libcrypto (internal/libcrypto).
//
// The signature suite is pluggable (Algorithm, Signer) so GOST can be added
// by a package that has a GOST implementation; only RSA-SHA256 is built in.
// Whole signing and verification are pluggable too (EnvelopeSigner,
// EnvelopeVerifier, provider.go): LocalSigner and LocalVerifier do it in
// process, and a provider that is a service of its own (adapters/ncanode,
// for GOST keys) does the cryptography remotely while Inspect holds it to
// the same layout.
package xmlsig

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/minfin-kz/kopir/internal/libcrypto"
)

// Namespaces and algorithm identifiers of the WS-Security layout.
const (
	NSSOAP = "http://schemas.xmlsoap.org/soap/envelope/"
	NSWSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	NSWSU  = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	NSDS   = "http://www.w3.org/2000/09/xmldsig#"

	ExcC14N         = "http://www.w3.org/2001/10/xml-exc-c14n#"
	ValueTypeX509v3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
	EncodingBase64  = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
	RSASHA256       = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	DigestSHA256    = "http://www.w3.org/2001/04/xmlenc#sha256"
	GOST34310       = "http://www.w3.org/2001/04/xmldsig-more#gost34310-gost34311"
	GOST2015_256    = "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34102015-gostr34112015-256"
	GOST2015_512    = "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34102015-gostr34112015-512"
)

// Algorithm is one signature suite as named in ds:SignatureMethod, with the
// digest the gateway pairs it with in ds:DigestMethod. Verification looks
// the suite up by the SignatureMethod the sender used.
type Algorithm interface {
	SignatureMethod() string
	DigestMethod() string
	// Digest hashes data with the suite's digest (the Reference digest).
	Digest(data []byte) []byte
	// Verify checks sig over data (the canonical SignedInfo) with the
	// certificate's public key.
	Verify(cert *x509.Certificate, data, sig []byte) error
}

// Signer is a signing identity: a key, its certificate and its suite. A
// GOST signer (a KalkanCrypt or HSM binding) implements this outside the
// package; NewRSASigner covers RSA keys.
type Signer interface {
	Algorithm() Algorithm
	Certificate() *x509.Certificate
	// Sign signs data (the canonical SignedInfo), hashing it itself.
	Sign(data []byte) ([]byte, error)
}

var (
	regMu      sync.RWMutex
	algorithms = map[string]Algorithm{}
)

// Register makes a suite available for verification under its
// SignatureMethod. Call it at init; a duplicate is a programming error.
func Register(a Algorithm) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := algorithms[a.SignatureMethod()]; dup {
		panic("xmlsig: Register called twice for " + a.SignatureMethod())
	}
	algorithms[a.SignatureMethod()] = a
}

// Lookup returns the suite registered for a SignatureMethod URI.
func Lookup(signatureMethod string) (Algorithm, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	a, ok := algorithms[signatureMethod]
	return a, ok
}

// Supported lists the registered SignatureMethod URIs, sorted.
func Supported() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(algorithms))
	for k := range algorithms {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func init() { Register(RSA256) }

// RSA256 is rsa-sha256 with the sha256 digest, the suite of NCA RSA
// certificates.
var RSA256 Algorithm = rsaSHA256{}

type rsaSHA256 struct{}

func (rsaSHA256) SignatureMethod() string { return RSASHA256 }
func (rsaSHA256) DigestMethod() string    { return DigestSHA256 }
func (rsaSHA256) Digest(data []byte) []byte {
	s := sha256.Sum256(data)
	return s[:]
}

func (rsaSHA256) Verify(cert *x509.Certificate, data, sig []byte) error {
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("rsa-sha256 signature but the certificate's key is %T", cert.PublicKey)
	}
	h := sha256.Sum256(data)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig)
}

// NewRSASigner signs with an RSA key (a crypto.Signer, so an HSM-backed key
// works too) and the certificate that carries its public key. A software
// key (*rsa.PrivateKey, as ParsePrivateKey and a PKCS#12 container give
// it) is handed to libcrypto, whose private-key operation is several times
// cheaper than crypto/rsa's (internal/libcrypto); any other crypto.Signer
// is used as it is.
func NewRSASigner(key crypto.Signer, cert *x509.Certificate) (Signer, error) {
	if cert == nil {
		return nil, errors.New("xmlsig: signer needs a certificate")
	}
	pub, ok := key.Public().(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("xmlsig: key is %T, only RSA is built in (GOST needs an external Signer)", key.Public())
	}
	cpub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !cpub.Equal(pub) {
		return nil, errors.New("xmlsig: the certificate does not hold the key's public key")
	}
	if sw, ok := key.(*rsa.PrivateKey); ok {
		lk, err := libcrypto.NewRSAKey(sw)
		if err != nil {
			return nil, fmt.Errorf("xmlsig: %w", err)
		}
		key = lk
	}
	return &rsaSigner{key: key, cert: cert}, nil
}

type rsaSigner struct {
	key  crypto.Signer
	cert *x509.Certificate
}

func (s *rsaSigner) Algorithm() Algorithm           { return RSA256 }
func (s *rsaSigner) Certificate() *x509.Certificate { return s.cert }
func (s *rsaSigner) Sign(data []byte) ([]byte, error) {
	h := sha256.Sum256(data)
	return s.key.Sign(rand.Reader, h[:], crypto.SHA256)
}

// Reason classifies why an envelope's signature was refused; channels map
// it to their fault codes and operators search the store by it.
type Reason string

const (
	ReasonMissing     Reason = "SIGNATURE_MISSING"     // no wsse:Security/ds:Signature
	ReasonMalformed   Reason = "SIGNATURE_MALFORMED"   // not the gateway's layout
	ReasonUnsupported Reason = "SIGNATURE_UNSUPPORTED" // algorithm not registered
	ReasonInvalid     Reason = "SIGNATURE_INVALID"     // digest or value does not match: tampered
	// ReasonWrapping: the signature does not cover the Body that is
	// processed (a Reference elsewhere, a Body without its Id, an Id carried
	// twice, a second or displaced Body): the XML signature wrapping family.
	ReasonWrapping  Reason = "SIGNATURE_WRAPPING"
	ReasonUntrusted Reason = "CERT_UNTRUSTED" // no chain to a trusted root
	ReasonExpired   Reason = "CERT_EXPIRED"   // outside its validity period
	ReasonRevoked   Reason = "CERT_REVOKED"   // on the CRL
	ReasonCRL       Reason = "CERT_REVOCATION_UNKNOWN"
	ReasonKeyUsage  Reason = "CERT_KEY_USAGE" // not for digitalSignature/nonRepudiation
	ReasonPolicy    Reason = "CERT_POLICY"    // required policy OID absent
)

// Error is a refused signature.
type Error struct {
	Reason Reason
	Detail string
	// Unavailable marks a signature that could not be checked because the
	// provider verifying it did not answer (see Unavailable).
	Unavailable bool
}

func (e *Error) Error() string { return string(e.Reason) + ": " + e.Detail }

func fail(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}
