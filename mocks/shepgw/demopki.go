package shepgw

import (
	"sync"

	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/internal/xmlsig/testpki"
	"github.com/minfin-kz/kopir/mocks/pki"
)

// The demo PKI is read once from the embedded copy in mocks/pki. A broken
// copy is a build-time mistake, so it panics rather than quietly turning
// signature checks off.
var (
	demoOnce   sync.Once
	demoTrustV *xmlsig.Trust
	demoSignV  xmlsig.Signer
)

func loadDemo() {
	read := func(name string) []byte {
		b, err := pki.Files.ReadFile(name)
		if err != nil {
			panic("mocks: demo PKI: " + err.Error())
		}
		return b
	}
	roots, err := xmlsig.ParseCertificates(read(testpki.DemoCA))
	if err != nil {
		panic("mocks: demo PKI root: " + err.Error())
	}
	if demoTrustV, err = xmlsig.NewTrust(roots, nil, nil, xmlsig.PolicySigning); err != nil {
		panic("mocks: demo PKI trust: " + err.Error())
	}
	certs, err := xmlsig.ParseCertificates(read(testpki.DemoGatewayCrt))
	if err != nil {
		panic("mocks: demo PKI gateway certificate: " + err.Error())
	}
	key, err := xmlsig.ParsePrivateKey(read(testpki.DemoGatewayKey))
	if err != nil {
		panic("mocks: demo PKI gateway key: " + err.Error())
	}
	if demoSignV, err = xmlsig.NewRSASigner(key, certs[0]); err != nil {
		panic("mocks: demo PKI gateway signer: " + err.Error())
	}
}

func demoTrust() *xmlsig.Trust { demoOnce.Do(loadDemo); return demoTrustV }

func demoSigner() xmlsig.Signer { demoOnce.Do(loadDemo); return demoSignV }
