// Package signing chooses the signing and verification provider of a route
// or a channel from its config block: "local" (the default: Köpir signs
// and verifies in process with internal/xmlsig, RSA keys) or "ncanode"
// (NCANode does the cryptography, which GOST keys need; adapters/ncanode).
// The blocks keep the shape they had before providers existed — a local
// block reads as it always did — and add provider plus the NCANode
// settings:
//
//	signing: {pkcs12: /etc/kopir/key.p12, passwordFile: /run/secrets/p12}                   # local
//	signing: {provider: ncanode, url: http://127.0.0.1:14579, pkcs12: …, passwordFile: …}  # NCANode
//	trust:   {provider: ncanode, url: http://127.0.0.1:14579, revocationCheck: [OCSP]}
//
// Providers are built in two steps, as components are: from the config
// (files read, options checked, a refusal naming the field), then given
// the core's resources (Provision), where a remote provider gets its
// layered transport.
package signing

import (
	"errors"
	"fmt"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/ncanode"
	"github.com/minfin-kz/kopir/internal/xmlsig"
)

// Provider names.
const (
	Local   = "local"
	NCANode = "ncanode"
)

// Config is a route's signing block: the key, and who signs with it.
type Config struct {
	// Provider is local (default) or ncanode.
	Provider string `yaml:"provider" json:"provider"`
	// The key: PEM cert+key or a PKCS#12 container (local); a PKCS#12
	// container (ncanode). Passwords from passwordEnv or passwordFile.
	xmlsig.KeyConfig `yaml:",inline"`
	// NCANode's URL, call policy, key alias and certificate check.
	ncanode.SigningOptions `yaml:",inline"`
}

// TrustConfig is a channel's trust block: what signatures must chain to,
// and who checks them.
type TrustConfig struct {
	// Provider is local (default) or ncanode.
	Provider string `yaml:"provider" json:"provider"`
	// Roots, intermediates and CRLs (local only: NCANode decides chains
	// and revocation with its own CA store); policy (both).
	xmlsig.TrustConfig `yaml:",inline"`
	// NCANode's URL, call policy and revocation sources.
	ncanode.Service `yaml:",inline"`
	// OnRevocationUnknown is what a channel does with a signature whose
	// certificate's revocation status is unknown (a CRL past its
	// nextUpdate, or never read from its URL): refuse (the default,
	// CERT_REVOCATION_UNKNOWN) or flag (accept, and say so in the
	// message's audit trail). Local provider only.
	OnRevocationUnknown string `yaml:"onRevocationUnknown" json:"onRevocationUnknown"`
}

// Provisioner is a provider that needs the core's resources before use.
type Provisioner interface {
	Provision(res adapters.Resources) error
}

// Provision hands res to p if p needs them (a remote provider); the local
// providers need nothing.
func Provision(p any, res adapters.Resources) error {
	if pp, ok := p.(Provisioner); ok {
		return pp.Provision(res)
	}
	return nil
}

// NewSigner builds the provider c names. Errors name the field at fault,
// relative to the signing block.
func NewSigner(c Config) (xmlsig.EnvelopeSigner, error) {
	switch c.Provider {
	case "", Local:
		if c.SigningOptions.Known() {
			return nil, errors.New("url, keyAlias, certCheck, timeout, retry, breaker and revocationCheck are NCANode's settings: add provider: ncanode, or remove them")
		}
		s, err := xmlsig.LoadSigner(c.KeyConfig)
		if err != nil {
			return nil, err
		}
		return xmlsig.LocalSigner{S: s}, nil
	case NCANode:
		if c.Cert != "" || c.Key != "" || c.PKCS12 == "" {
			return nil, errors.New("pkcs12: NCANode takes the key as a PKCS#12 container (pkcs12 with passwordFile or passwordEnv), not as PEM cert and key")
		}
		container, password, err := c.PKCS12Material()
		if err != nil {
			return nil, err
		}
		return ncanode.NewSigner(c.SigningOptions, container, password)
	}
	return nil, unknown(c.Provider)
}

// NewVerifier builds the provider c names. now is the local provider's
// clock (certificate validity); a remote provider takes the core's at
// provisioning.
func NewVerifier(c TrustConfig, now func() time.Time) (xmlsig.EnvelopeVerifier, error) {
	switch c.Provider {
	case "", Local:
		if c.Service.Known() {
			return nil, errors.New("url, timeout, retry, breaker and revocationCheck are NCANode's settings: add provider: ncanode, or remove them")
		}
		policy, err := xmlsig.ParseRevocationPolicy(c.OnRevocationUnknown)
		if err != nil {
			return nil, fmt.Errorf("onRevocationUnknown: %w", err)
		}
		t, err := xmlsig.LoadTrust(c.TrustConfig)
		if err != nil {
			return nil, err
		}
		lv := &LocalVerifier{LocalVerifier: xmlsig.LocalVerifier{Trust: t, Now: now, OnRevocationUnknown: policy}}
		if c.TrustConfig.OCSP != nil {
			lv.ocspTimeout = c.TrustConfig.OCSP.Timeout.D()
		}
		return lv, nil
	case NCANode:
		if len(c.Roots)+len(c.Intermediates)+len(c.CRLs) > 0 {
			return nil, errors.New("roots, intermediates, crls: NCANode checks chains and revocation against its own CA store and CRLs; configure them in NCANode (NCANODE_CA_URL, NCANODE_CRL_URL), keep only policy here")
		}
		if c.TrustConfig.OCSP != nil {
			return nil, errors.New("ocsp: NCANode asks OCSP responders itself (revocationCheck: [OCSP])")
		}
		if len(c.CRLURLs) > 0 || c.Refresh != 0 {
			return nil, errors.New("crlURLs, refresh: NCANode reads its CRLs itself (NCANODE_CRL_URL)")
		}
		if c.OnRevocationUnknown != "" {
			return nil, errors.New("onRevocationUnknown: NCANode decides revocation itself (revocationCheck); the policy applies to the local provider")
		}
		return ncanode.NewVerifier(c.Service, c.Policy)
	}
	return nil, unknown(c.Provider)
}

func unknown(p string) error {
	return fmt.Errorf("provider: unknown signing provider %q (known: %s, %s)", p, Local, NCANode)
}
