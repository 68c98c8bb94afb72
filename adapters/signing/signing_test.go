package signing_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/ncanode"
	"github.com/minfin-kz/kopir/adapters/signing"
	"github.com/minfin-kz/kopir/internal/xmlsig"
)

const pki = "../../mocks/pki/"

var demoKey = xmlsig.KeyConfig{Cert: pki + "kopir.pem", Key: pki + "kopir.key"}

// The local providers are what a block without provider always was: the
// key signs in process, the roots verify in process, and provisioning
// them is a no-op.
func TestLocalIsTheDefault(t *testing.T) {
	s, err := signing.NewSigner(signing.Config{KeyConfig: demoKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := signing.Provision(s, adapters.Resources{}); err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile("../../internal/xmlsig/testdata/shep_sync_sendmessage_gbdfl_request.xml")
	if err != nil {
		t.Fatal(err)
	}
	signed, err := s.SignEnvelope(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	v, err := signing.NewVerifier(signing.TrustConfig{Provider: signing.Local, TrustConfig: xmlsig.TrustConfig{Roots: []string{pki + "ca.pem"}, CRLs: []string{pki + "crl.pem"}, Policy: xmlsig.PolicySigning}}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyEnvelope(context.Background(), signed); err != nil {
		t.Fatal(err)
	}
	if err := signing.Provision(nil, adapters.Resources{}); err != nil {
		t.Fatalf("an unsigned route has nothing to provision: %v", err)
	}
}

// ncanode builds NCANode's signer from a PKCS#12 container, usable once
// provisioned with the core's transport.
func TestNCANodeNeedsProvisioning(t *testing.T) {
	c := signing.Config{Provider: signing.NCANode, KeyConfig: xmlsig.KeyConfig{PKCS12: pki + "kopir.p12", PasswordFile: pki + "kopir.p12.password"},
		SigningOptions: ncanode.SigningOptions{Service: ncanode.Service{URL: "http://127.0.0.1:14579"}}}
	s, err := signing.NewSigner(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*ncanode.Signer); !ok {
		t.Fatalf("provider ncanode built %T", s)
	}
	if err := signing.Provision(s, adapters.Resources{}); err == nil {
		t.Fatal("provisioned without a transport")
	}
	if err := signing.Provision(s, adaptertest.Resources(t)); err != nil {
		t.Fatal(err)
	}
}

func TestRefusals(t *testing.T) {
	ncaURL := ncanode.Service{URL: "http://127.0.0.1:14579"}
	for _, c := range []struct {
		name string
		cfg  signing.Config
		want string
	}{
		{"NCANode settings on a local key", signing.Config{KeyConfig: demoKey, SigningOptions: ncanode.SigningOptions{KeyAlias: "a"}}, "url, keyAlias"},
		{"PEM key for NCANode", signing.Config{Provider: signing.NCANode, KeyConfig: demoKey, SigningOptions: ncanode.SigningOptions{Service: ncaURL}}, "pkcs12: NCANode takes the key as a PKCS#12 container"},
		{"unknown provider", signing.Config{Provider: "hsm", KeyConfig: demoKey}, `provider: unknown signing provider "hsm" (known: local, ncanode)`},
	} {
		if _, err := signing.NewSigner(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
	for _, c := range []struct {
		name string
		cfg  signing.TrustConfig
		want string
	}{
		{"NCANode settings on local trust", signing.TrustConfig{TrustConfig: xmlsig.TrustConfig{Roots: []string{pki + "ca.pem"}}, Service: ncanode.Service{RevocationCheck: []string{"OCSP"}}}, "url, timeout"},
		{"roots for NCANode", signing.TrustConfig{Provider: signing.NCANode, TrustConfig: xmlsig.TrustConfig{CRLs: []string{pki + "crl.pem"}}, Service: ncaURL}, "roots, intermediates, crls: NCANode checks chains"},
		{"unknown provider", signing.TrustConfig{Provider: "hsm"}, `unknown signing provider "hsm"`},
	} {
		if _, err := signing.NewVerifier(c.cfg, time.Now); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
}
