package adapters

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/minfin-kz/kopir/internal/kzid"
	"github.com/minfin-kz/kopir/internal/xmlsig"
)

// CertBinding names who a certificate may speak for, as NCA certificates
// name their holder (xmlsig.IdentityOf): an organisation by its BIN
// (subject serialNumber "BIN…", or organizationalUnit "BIN…" in an
// employee's certificate), a person by their IIN (serialNumber "IIN…"), or
// a whole subject as Köpir prints it. A channel binds its senders with it
// twice over: to the certificates that may sign for them, and to the TLS
// client certificates they may connect with.
type CertBinding struct {
	BINs     []string `yaml:"bins"`
	IINs     []string `yaml:"iins"`
	Subjects []string `yaml:"subjects"`
}

// CertMatcher is a checked CertBinding, ready to match.
type CertMatcher struct {
	bins, iins, subjects map[string]bool
}

// Compile checks every BIN and IIN (their check digit included) and that
// the binding names someone.
func (b *CertBinding) Compile() (*CertMatcher, error) {
	if len(b.BINs)+len(b.IINs)+len(b.Subjects) == 0 {
		return nil, errors.New("names no bins, iins or subjects")
	}
	out := &CertMatcher{bins: map[string]bool{}, iins: map[string]bool{}, subjects: map[string]bool{}}
	for i, v := range b.BINs {
		if err := kzid.ValidateBIN(v); err != nil {
			return nil, fmt.Errorf("bins[%d]: %v", i, err)
		}
		out.bins[v] = true
	}
	for i, v := range b.IINs {
		if err := kzid.ValidateIIN(v); err != nil {
			return nil, fmt.Errorf("iins[%d]: %v", i, err)
		}
		out.iins[v] = true
	}
	for i, v := range b.Subjects {
		if strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("subjects[%d] is empty", i)
		}
		out.subjects[v] = true
	}
	return out, nil
}

// Allows reports whether cert names one of the bound organisations or
// people.
func (m *CertMatcher) Allows(cert *x509.Certificate) bool {
	if m == nil || cert == nil {
		return false
	}
	id := xmlsig.IdentityOf(cert)
	return id.BIN != "" && m.bins[id.BIN] || id.IIN != "" && m.iins[id.IIN] || m.subjects[cert.Subject.String()]
}

type peerKey struct{}

// WithPeerCertificate is how the core hands a channel the TLS client
// certificate of a request, once it has verified it against the channel's
// clientCerts trust.
func WithPeerCertificate(ctx context.Context, cert *x509.Certificate) context.Context {
	return context.WithValue(ctx, peerKey{}, cert)
}

// PeerCertificate is the request's verified TLS client certificate; nil
// when the client presented none or the channel asks for none. A
// certificate the core could not verify never gets this far: the request
// is refused before the channel sees it.
func PeerCertificate(ctx context.Context) *x509.Certificate {
	c, _ := ctx.Value(peerKey{}).(*x509.Certificate)
	return c
}
