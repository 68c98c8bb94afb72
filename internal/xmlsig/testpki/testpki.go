// Package testpki issues throw-away certificates shaped like NCA's (key
// usage digitalSignature+nonRepudiation, a certificate policy OID) for
// tests and for the demo PKI the mocks and `make run` use. Nothing here is
// for production: keys are generated in memory and written unencrypted.
package testpki

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/minfin-kz/kopir/internal/xmlsig"
)

// KeyBits is the RSA size; NCA issues 2048-bit RSA keys.
var KeyBits = 2048

var serial atomic.Int64

// CA is a certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *rsa.PrivateKey
}

// NewCA creates a self-signed root valid from notBefore to notAfter.
func NewCA(name string, notBefore, notAfter time.Time) (*CA, error) {
	key, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return nil, err
	}
	tpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1000 + serial.Add(1)),
		Subject:               pkix.Name{CommonName: name, Country: []string{"KZ"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return &CA{Cert: cert, Key: key}, err
}

// Leaf describes a certificate to issue. Zero KeyUsage means
// digitalSignature+nonRepudiation, as NCA signing certificates have.
type Leaf struct {
	CommonName string
	NotBefore  time.Time
	NotAfter   time.Time
	KeyUsage   x509.KeyUsage
	Policies   []string // OIDs, e.g. xmlsig.PolicySigning
	// SerialNumber is the subject serialNumber, where NCA puts
	// "BIN<12 digits>" or "IIN<12 digits>".
	SerialNumber string
	// OrganizationalUnit is where NCA puts the employer's "BIN…" in an
	// employee's certificate.
	OrganizationalUnit string
	// IPAddresses and DNSNames make a TLS server's certificate; such a
	// certificate is issued for serverAuth, any other for clientAuth.
	IPAddresses []net.IP
	DNSNames    []string
	// OCSPServer is the responder named in the certificate's
	// authorityInfoAccess.
	OCSPServer []string
	// OCSPSigning issues a responder's certificate: the CA delegates
	// signing its OCSP answers to it.
	OCSPSigning bool
}

// Issue signs a new key's certificate.
func (ca *CA) Issue(l Leaf) (*x509.Certificate, *rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return nil, nil, err
	}
	ku := l.KeyUsage
	if ku == 0 {
		ku = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1000 + serial.Add(1)),
		Subject:      pkix.Name{CommonName: l.CommonName, Country: []string{"KZ"}, SerialNumber: l.SerialNumber},
		NotBefore:    l.NotBefore,
		NotAfter:     l.NotAfter,
		KeyUsage:     ku,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		IPAddresses:  l.IPAddresses,
		DNSNames:     l.DNSNames,
		OCSPServer:   l.OCSPServer,
	}
	if len(l.IPAddresses)+len(l.DNSNames) > 0 {
		tpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	if l.OCSPSigning {
		tpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
	}
	if l.OrganizationalUnit != "" {
		tpl.Subject.OrganizationalUnit = []string{l.OrganizationalUnit}
	}
	for _, p := range l.Policies {
		oid, err := x509.ParseOID(p)
		if err != nil {
			return nil, nil, err
		}
		tpl.Policies = append(tpl.Policies, oid)
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// Signer issues a certificate and returns it wrapped as an xmlsig.Signer.
func (ca *CA) Signer(l Leaf) (xmlsig.Signer, *x509.Certificate, error) {
	cert, key, err := ca.Issue(l)
	if err != nil {
		return nil, nil, err
	}
	s, err := xmlsig.NewRSASigner(key, cert)
	return s, cert, err
}

// CRL issues a revocation list naming revoked.
func (ca *CA) CRL(revoked []*x509.Certificate, thisUpdate, nextUpdate time.Time) (*x509.RevocationList, []byte, error) {
	tpl := &x509.RevocationList{
		Number:     big.NewInt(serial.Add(1)),
		ThisUpdate: thisUpdate,
		NextUpdate: nextUpdate,
	}
	for _, c := range revoked {
		tpl.RevokedCertificateEntries = append(tpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: c.SerialNumber, RevocationTime: thisUpdate,
		})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tpl, ca.Cert, ca.Key)
	if err != nil {
		return nil, nil, err
	}
	crl, err := x509.ParseRevocationList(der)
	return crl, der, err
}

// Demo file names written by WriteDemo.
const (
	DemoCA         = "ca.pem"
	DemoCRL        = "crl.pem"
	DemoKopirCert  = "kopir.pem"
	DemoKopirKey   = "kopir.key"
	DemoGatewayCrt = "gateway.pem"
	DemoGatewayKey = "gateway.key"
	// Köpir's key and certificate again as a PKCS#12 container, the form
	// NCANode takes keys in, and the file holding its password.
	DemoKopirP12     = "kopir.p12"
	DemoKopirP12Pass = "kopir.p12.password"
)

// BINs the demo certificates carry in their subject serialNumber, as NCA
// organisation certificates do: the ministry's for Köpir, and a made-up
// one (valid check digit) for the mock gateway, which signs the messages
// it pushes on behalf of the demo agency.
const (
	DemoKopirBIN   = "000740000728"
	DemoGatewayBIN = "151240001235"
)

// DemoP12Password is the password of the demo PKCS#12 container; it is as
// public as the key inside.
const DemoP12Password = "demo-p12-password"

// WriteDemo writes a demo PKI into dir: a root, a certificate for Köpir
// (what it signs outbound envelopes with) and one for the mock gateway
// (what it signs pushes with), both with the NCA signing policy and a BIN
// in the subject serialNumber, and an empty CRL. Everything is valid for
// years so a committed copy keeps working; it is a demo, and its keys are
// public.
func WriteDemo(dir string, now time.Time) error {
	nb, na := now.Add(-24*time.Hour), now.AddDate(10, 0, 0)
	ca, err := NewCA("Köpir DEMO root CA (not for production)", nb, na)
	if err != nil {
		return err
	}
	files := map[string][]byte{DemoCA: pemBlock("CERTIFICATE", ca.Cert.Raw)}
	for _, who := range []struct{ cn, bin, cert, key string }{
		{"Köpir DEMO sender", DemoKopirBIN, DemoKopirCert, DemoKopirKey},
		{"SHEP mock gateway DEMO", DemoGatewayBIN, DemoGatewayCrt, DemoGatewayKey},
	} {
		cert, key, err := ca.Issue(Leaf{CommonName: who.cn, SerialNumber: "BIN" + who.bin, NotBefore: nb, NotAfter: na.Add(-time.Hour), Policies: []string{xmlsig.PolicySigning}})
		if err != nil {
			return err
		}
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		files[who.cert] = pemBlock("CERTIFICATE", cert.Raw)
		files[who.key] = pemBlock("PRIVATE KEY", kder)
	}
	_, crl, err := ca.CRL(nil, nb, na.Add(-time.Hour))
	if err != nil {
		return err
	}
	files[DemoCRL] = pemBlock("X509 CRL", crl)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("testpki: %w", err)
		}
	}
	return WriteDemoPKCS12(dir)
}

// WriteDemoPKCS12 packs the Köpir key and certificate already in dir into
// kopir.p12 (password DemoP12Password, also written to kopir.p12.password),
// so the demo can hand NCANode its key the way NCA issues keys.
func WriteDemoPKCS12(dir string) error {
	certs, err := readCertFile(filepath.Join(dir, DemoKopirCert))
	if err != nil {
		return err
	}
	kb, err := os.ReadFile(filepath.Join(dir, DemoKopirKey))
	if err != nil {
		return fmt.Errorf("testpki: %w", err)
	}
	key, err := xmlsig.ParsePrivateKey(kb)
	if err != nil {
		return fmt.Errorf("testpki: %s: %w", DemoKopirKey, err)
	}
	p12, err := pkcs12.Modern.Encode(key, certs[0], nil, DemoP12Password)
	if err != nil {
		return fmt.Errorf("testpki: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, DemoKopirP12), p12, 0o644); err != nil {
		return fmt.Errorf("testpki: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, DemoKopirP12Pass), []byte(DemoP12Password+"\n"), 0o644)
}

func readCertFile(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("testpki: %w", err)
	}
	return xmlsig.ParseCertificates(b)
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// WritePEM writes cert (and key, when given) as PEM files name.pem and
// name.key under dir, and returns their paths.
func WritePEM(dir, name string, cert *x509.Certificate, key *rsa.PrivateKey) (certPath, keyPath string, err error) {
	certPath = filepath.Join(dir, name+".pem")
	if err := os.WriteFile(certPath, pemBlock("CERTIFICATE", cert.Raw), 0o644); err != nil {
		return "", "", fmt.Errorf("testpki: %w", err)
	}
	if key == nil {
		return certPath, "", nil
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	keyPath = filepath.Join(dir, name+".key")
	if err := os.WriteFile(keyPath, pemBlock("PRIVATE KEY", kder), 0o600); err != nil {
		return "", "", fmt.Errorf("testpki: %w", err)
	}
	return certPath, keyPath, nil
}

// WriteCRL writes a CRL as PEM and returns its path.
func WriteCRL(dir, name string, der []byte) (string, error) {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pemBlock("X509 CRL", der), 0o644); err != nil {
		return "", fmt.Errorf("testpki: %w", err)
	}
	return p, nil
}
