package ncanode

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/units"
	"github.com/minfin-kz/kopir/internal/xmlsig"
)

// DefaultCertCheck is how long NCANode's word that the signing certificate
// is good is taken before it is asked again.
const DefaultCertCheck = time.Hour

// SigningOptions are the NCANode settings of a route's signing block
// (adapters/signing); the key container and its password are the block's
// pkcs12 and password* fields, as for a local key.
type SigningOptions struct {
	Service `yaml:",inline"`
	// KeyAlias picks the key in a container that holds several.
	KeyAlias string `yaml:"keyAlias" json:"keyAlias"`
	// CertCheck is how long a good answer about the signing certificate
	// (POST /x509/info) is kept, within the certificate's validity
	// (default 1h). An envelope signed with a certificate NCANode holds
	// expired, revoked or unknown is not sent.
	CertCheck units.Duration `yaml:"certCheck" json:"certCheck"`
}

// Known reports whether any NCANode signing field is set.
func (o SigningOptions) Known() bool {
	return o.Service.Known() || o.KeyAlias != "" || o.CertCheck != 0
}

// Signer signs envelopes through NCANode with a PKCS#12 container. It is
// built from the config first (NewSigner: files read, options checked) and
// gets the core's transport when provisioned.
type Signer struct {
	opts      SigningOptions
	key       string // the container, base64, as NCANode takes it
	password  string
	certCheck time.Duration

	client *Client
	now    func() time.Time

	mu   sync.Mutex
	good map[[32]byte]time.Time // certificate fingerprint → trusted until
}

// NewSigner checks the options and keeps the container and its password.
// Nothing is sent until the first envelope.
func NewSigner(o SigningOptions, container []byte, password string) (*Signer, error) {
	if err := o.Service.Check(); err != nil {
		return nil, err
	}
	if len(container) == 0 {
		return nil, errors.New("pkcs12: the key container is empty")
	}
	s := &Signer{opts: o, key: base64.StdEncoding.EncodeToString(container), password: password,
		certCheck: o.CertCheck.D(), good: map[[32]byte]time.Time{}}
	if s.certCheck <= 0 {
		s.certCheck = DefaultCertCheck
	}
	return s, nil
}

// Provision gives the signer the core's transport to NCANode and clock.
func (s *Signer) Provision(res adapters.Resources) error {
	c, err := NewClient(s.opts.Service, res)
	if err != nil {
		return err
	}
	s.client, s.now = c, res.Now
	return nil
}

// SignEnvelope implements xmlsig.EnvelopeSigner. NCANode's envelope is
// held to the gateway's layout (xmlsig.Inspect), and its certificate must
// be one NCANode holds valid; failures are *adapters.Error with the code
// saying which (NCANODE_…, or the CERT_… reason).
func (s *Signer) SignEnvelope(ctx context.Context, envelope []byte) ([]byte, error) {
	if s.client == nil {
		return nil, errors.New("ncanode: the signer was used before it was provisioned")
	}
	signed, f := s.client.SignWSSE(ctx, envelope, s.key, s.password, s.opts.KeyAlias)
	if f != nil {
		return nil, outbound(f)
	}
	v, err := xmlsig.Inspect(signed)
	if err != nil {
		return nil, &adapters.Error{Status: http.StatusBadGateway, Code: CodeBadAnswer,
			Detail: "NCANode's signed envelope is not in the gateway's signing profile: " + err.Error()}
	}
	if err := s.checkCertificate(ctx, v); err != nil {
		return nil, err
	}
	return signed, nil
}

// checkCertificate asks NCANode about the signing certificate unless a
// good answer about it is still fresh.
func (s *Signer) checkCertificate(ctx context.Context, v *xmlsig.Verified) error {
	fp := sha256.Sum256(v.Certificate.Raw)
	now := s.now()
	s.mu.Lock()
	until, ok := s.good[fp]
	s.mu.Unlock()
	if ok && now.Before(until) {
		return nil
	}
	info, f := s.client.CertificateInfo(ctx, v.Certificate.Raw)
	if f != nil {
		return outbound(f)
	}
	ci := &info.Signers[0]
	if !sameCertificate(ci, v.Certificate) {
		return &adapters.Error{Status: http.StatusBadGateway, Code: CodeBadAnswer,
			Detail: fmt.Sprintf("NCANode described certificate serial %s, asked about serial %s", ci.SerialNumber, v.Certificate.SerialNumber.Text(16))}
	}
	if reason, detail := refusal(ci, s.client.revocation, now); reason != "" || !info.Valid {
		if reason == "" {
			reason, detail = xmlsig.ReasonUntrusted, "NCANode does not hold the signing certificate valid"
		}
		return &adapters.Error{Status: http.StatusBadGateway, Code: string(reason), Detail: "the signing certificate is refused; " + detail}
	}
	until = now.Add(s.certCheck)
	if na := v.Certificate.NotAfter; na.Before(until) {
		until = na
	}
	s.mu.Lock()
	s.good[fp] = until
	s.mu.Unlock()
	return nil
}

// outbound is how a route's caller hears of a failed call to NCANode: an
// upstream failure (502, 504 when the exchange's deadline ended it),
// worth another delivery attempt when NCANode may answer next time.
func outbound(f *Failure) *adapters.Error {
	status := http.StatusBadGateway
	if f.Timeout {
		status = http.StatusGatewayTimeout
	}
	return &adapters.Error{Status: status, Code: f.Code, Detail: "signing through NCANode: " + f.Detail, Retryable: f.Transient}
}
