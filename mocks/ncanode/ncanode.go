// Package ncanode simulates NCANode 3.x, the signing service that holds
// NCA keys for Kazakh integrations, in the shape of its HTTP API
// (contracts/ncanode). It signs and verifies with RSA underneath
// (internal/xmlsig), since Go has no GOST: the key containers handed to it
// must hold RSA keys (the demo one is mocks/pki/kopir.p12), and its "CA
// store" is the demo root and CRL of mocks/pki unless Options.Trust says
// otherwise. Like NCANode it checks dates, issuer and, when asked,
// revocation, but neither key usage nor certificate policies.
//
// Served on the mocks listener:
//
//	POST /ncanode/wsse/sign     sign a SOAP envelope (WS-Security over the Body)
//	POST /ncanode/wsse/verify   verify one and its certificate
//	POST /ncanode/x509/info     report on certificates
//
// Its faults and log are the control API's mock "ncanode". The log keys
// say what it was asked and what it answered: "sign <SignatureValue it
// produced>", "verify <SignatureValue it checked>", "x509 <serial, hex>";
// a call answered with an injected failure is logged under the operation
// alone.
package ncanode

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	"software.sslmate.com/src/go-pkcs12"

	contract "github.com/minfin-kz/kopir/contracts/ncanode"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/internal/xmlsig/testpki"
	"github.com/minfin-kz/kopir/mocks"
	"github.com/minfin-kz/kopir/mocks/pki"
)

// Name is the mock's name in the control API; Prefix is where its API is
// mounted, the base URL a route's signing block names.
const (
	Name   = "ncanode"
	Prefix = "/ncanode"
)

// Options configure the mock; hand them to mocks.New. The zero value is a
// working setup.
type Options struct {
	// Trust is NCANode's CA store and CRLs. nil: the demo root and CRL of
	// mocks/pki. Its policy, if any, is not applied (NCANode checks none).
	Trust *xmlsig.Trust
}

func init() { mocks.Register(Name, newServer) }

type server struct {
	trust *xmlsig.Trust
	mock  *mocks.Mock
	now   func() time.Time
}

func newServer(core *mocks.Server) {
	s := &server{trust: mocks.ConfigOf[Options](core).Trust, mock: core.Mock(Name), now: core.Now}
	if s.trust == nil {
		s.trust = demoStore()
	}
	core.HandleFunc("POST "+Prefix+contract.PathWSSESign, s.sign)
	core.HandleFunc("POST "+Prefix+contract.PathWSSEVerify, s.verify)
	core.HandleFunc("POST "+Prefix+contract.PathX509Info, s.info)
}

var (
	demoOnce  sync.Once
	demoTrust *xmlsig.Trust
)

// demoStore is the demo root with its CRL. A broken embedded copy is a
// build mistake, so it panics rather than trusting nothing quietly.
func demoStore() *xmlsig.Trust {
	demoOnce.Do(func() {
		ca, err := pki.Files.ReadFile(testpki.DemoCA)
		if err != nil {
			panic("mocks/ncanode: demo root: " + err.Error())
		}
		roots, err := xmlsig.ParseCertificates(ca)
		if err != nil {
			panic("mocks/ncanode: demo root: " + err.Error())
		}
		crlPEM, err := pki.Files.ReadFile(testpki.DemoCRL)
		if err != nil {
			panic("mocks/ncanode: demo CRL: " + err.Error())
		}
		crl, err := parseCRL(crlPEM)
		if err != nil {
			panic("mocks/ncanode: demo CRL: " + err.Error())
		}
		if demoTrust, err = xmlsig.NewTrust(roots, nil, []*x509.RevocationList{crl}, ""); err != nil {
			panic("mocks/ncanode: demo trust: " + err.Error())
		}
	})
	return demoTrust
}

func parseCRL(b []byte) (*x509.RevocationList, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	return x509.ParseRevocationList(b)
}

// maxRequest bounds one request: an envelope and a key container, base64.
const maxRequest = 4 << 20

// call reads the JSON request into in and applies the mock's faults; false
// means the call has been answered already.
func (s *server) call(w http.ResponseWriter, r *http.Request, op string, in any) bool {
	body, err := mocks.ReadBody(w, r, maxRequest)
	if err != nil {
		answerError(w, http.StatusBadRequest, "request body: "+err.Error())
		return false
	}
	if err := json.Unmarshal(body, in); err != nil {
		answerError(w, http.StatusBadRequest, "the request is not JSON of the expected shape: "+err.Error())
		return false
	}
	o, f := s.mock.Inject(r.Context())
	switch o {
	case mocks.Hung:
		s.mock.Record(op, false)
		mocks.WriteHung(w, r)
		return false
	case mocks.Fail:
		s.mock.Record(op, false)
		answerError(w, f.Status, "injected failure of mock "+Name)
		return false
	}
	return true
}

// answerError is NCANode's error answer: status and message, the HTTP
// status repeated.
func answerError(w http.ResponseWriter, status int, msg string) {
	mocks.WriteJSON(w, status, contract.Status{Status: status, Message: msg})
}

func (s *server) sign(w http.ResponseWriter, r *http.Request) {
	var in contract.WSSESignRequest
	if !s.call(w, r, "sign", &in) {
		return
	}
	if in.XML == "" || in.Key == "" || in.Password == "" {
		answerError(w, http.StatusBadRequest, "xml, key and password are required")
		return
	}
	signer, err := readKey(in.Key, in.Password)
	if err != nil {
		answerError(w, http.StatusBadRequest, "the key cannot be read: "+err.Error())
		return
	}
	signed, err := xmlsig.Sign([]byte(in.XML), signer)
	if err != nil {
		answerError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.mock.Record("sign "+SignatureValue(signed), true)
	mocks.WriteJSON(w, http.StatusOK, contract.SignResponse{Status: ok(), XML: string(signed)})
}

// readKey opens a PKCS#12 container, base64, as NCANode's KeyStore would;
// only RSA keys can sign here.
func readKey(b64, password string) (xmlsig.Signer, error) {
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(b64), ""))
	if err != nil {
		return nil, errors.New("not base64")
	}
	key, cert, _, err := pkcs12.DecodeChain(der, password)
	if err != nil {
		return nil, err
	}
	cs, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("the key cannot sign")
	}
	return xmlsig.NewRSASigner(cs, cert)
}

func (s *server) verify(w http.ResponseWriter, r *http.Request) {
	var in contract.VerifyRequest
	if !s.call(w, r, "verify", &in) {
		return
	}
	env := []byte(in.XML)
	ins, err := xmlsig.Inspect(env)
	var xe *xmlsig.Error
	switch {
	case errors.As(err, &xe) && xe.Reason == xmlsig.ReasonMissing:
		// NCANode answers an envelope without a signature as not valid,
		// naming no signer.
		s.mock.Record("verify", true)
		mocks.WriteJSON(w, http.StatusOK, contract.VerificationResponse{Status: ok(), Signers: []contract.CertificateInfo{}})
		return
	case err != nil:
		answerError(w, http.StatusInternalServerError, err.Error())
		return
	}
	_, sigErr := xmlsig.Verify(env)
	ci := s.describe(r.Context(), ins.Certificate, in.RevocationCheck)
	s.mock.Record("verify "+SignatureValue(env), true)
	mocks.WriteJSON(w, http.StatusOK, contract.VerificationResponse{Status: ok(), Valid: sigErr == nil && ci.Valid, Signers: []contract.CertificateInfo{ci}})
}

func (s *server) info(w http.ResponseWriter, r *http.Request) {
	var in contract.VerifyRequest
	if !s.call(w, r, "x509", &in) {
		return
	}
	if len(in.Certs) == 0 {
		answerError(w, http.StatusBadRequest, "certs is required")
		return
	}
	out := contract.VerificationResponse{Status: ok(), Valid: true}
	for _, c := range in.Certs {
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c), ""))
		var certs []*x509.Certificate
		if err == nil {
			certs, err = xmlsig.ParseCertificates(der)
		}
		if err != nil {
			answerError(w, http.StatusBadRequest, "a certificate cannot be read: "+err.Error())
			return
		}
		ci := s.describe(r.Context(), certs[0], in.RevocationCheck)
		out.Valid = out.Valid && ci.Valid
		out.Signers = append(out.Signers, ci)
		s.mock.Record("x509 "+ci.SerialNumber, true)
	}
	mocks.WriteJSON(w, http.StatusOK, out)
}

// describe is NCANode's CertificateInfo of cert: valid when within its
// dates, issued under the store's root and, for the sources asked about,
// not revoked. Revocation is answered from the store's CRLs whichever
// source is asked.
func (s *server) describe(ctx context.Context, cert *x509.Certificate, asked []string) contract.CertificateInfo {
	now := s.now()
	err := s.trust.Check(ctx, cert, now)
	var xe *xmlsig.Error
	reason := xmlsig.Reason("")
	if errors.As(err, &xe) {
		reason = xe.Reason
	}
	revoked := reason == xmlsig.ReasonRevoked
	valid := err == nil
	switch reason {
	case xmlsig.ReasonKeyUsage, xmlsig.ReasonPolicy:
		valid = true // NCANode checks neither
	case xmlsig.ReasonRevoked, xmlsig.ReasonCRL:
		valid = len(asked) == 0 // revocation is only checked when asked for
	}
	ci := contract.CertificateInfo{
		Valid:        valid,
		NotBefore:    contract.Time{Time: cert.NotBefore},
		NotAfter:     contract.Time{Time: cert.NotAfter},
		KeyUsage:     keyUsage(cert.KeyUsage),
		SerialNumber: cert.SerialNumber.Text(16),
		SignAlg:      cert.SignatureAlgorithm.String(),
		PublicKey:    base64.StdEncoding.EncodeToString(cert.RawSubjectPublicKeyInfo),
		Signature:    base64.StdEncoding.EncodeToString(cert.Signature),
		Subject:      subjectOf(cert.Subject.String(), cert.Subject.CommonName, cert.Subject.SerialNumber, cert.Subject.Country, cert.Subject.Organization),
		Issuer:       subjectOf(cert.Issuer.String(), cert.Issuer.CommonName, cert.Issuer.SerialNumber, cert.Issuer.Country, cert.Issuer.Organization),
	}
	for _, src := range asked {
		rv := contract.Revocation{Revoked: revoked, By: src}
		if revoked {
			rv.RevocationTime, rv.Reason = &contract.Time{Time: now}, xe.Detail
		}
		if reason != xmlsig.ReasonCRL {
			ci.Revocations = append(ci.Revocations, rv)
		}
	}
	return ci
}

func keyUsage(ku x509.KeyUsage) string {
	switch {
	case ku&x509.KeyUsageDigitalSignature != 0 && ku&x509.KeyUsageContentCommitment != 0:
		return contract.KeyUsageSign
	case ku&x509.KeyUsageDigitalSignature != 0 && ku&x509.KeyUsageKeyEncipherment != 0:
		return contract.KeyUsageAuth
	}
	return contract.KeyUsageUnknown
}

// subjectOf reads a name as NCANode does: IIN or BIN from SERIALNUMBER.
func subjectOf(dn, cn, serial string, country, org []string) *contract.Subject {
	sub := &contract.Subject{CommonName: cn, DN: dn}
	switch {
	case strings.HasPrefix(serial, "BIN"):
		sub.BIN = strings.TrimPrefix(serial, "BIN")
	case strings.HasPrefix(serial, "IIN"):
		sub.IIN = strings.TrimPrefix(serial, "IIN")
	}
	if len(country) > 0 {
		sub.Country = country[0]
	}
	if len(org) > 0 {
		sub.Organization = org[0]
	}
	return sub
}

func ok() contract.Status { return contract.Status{Status: http.StatusOK, Message: "OK"} }

// SignatureValue is the text of an envelope's first ds:SignatureValue,
// whitespace removed: what the mock's log keys its signatures by, so a
// test can find the signature of an envelope it holds.
func SignatureValue(envelope []byte) string {
	doc := etree.NewDocument()
	if doc.ReadFromBytes(envelope) != nil {
		return ""
	}
	for _, el := range doc.FindElements("//SignatureValue") {
		if el.NamespaceURI() == xmlsig.NSDS {
			return strings.Join(strings.Fields(el.Text()), "")
		}
	}
	return ""
}
