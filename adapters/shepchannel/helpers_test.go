package shepchannel_test

import (
	"crypto/x509"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/shepchannel"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/internal/xmlsig/testpki"
	"github.com/minfin-kz/kopir/mocks"
	_ "github.com/minfin-kz/kopir/mocks/gbdfl"
	"github.com/minfin-kz/kopir/mocks/shepgw"
)

// newIntake is the kit's in-memory intake for the shep channel, knowing
// the routes given (serviceId → answered synchronously).
func newIntake(routes map[string]bool) *adaptertest.Intake {
	in := adaptertest.NewIntake(shepchannel.ChannelName)
	for key, sync := range routes {
		in.Route(key, sync)
	}
	return in
}

func counts(in *adaptertest.Intake) (accepted, called, rejected int) {
	return len(in.Accepted()), len(in.Called()), len(in.Rejected())
}

func lastRejection(t *testing.T, in *adaptertest.Intake) adaptertest.Message {
	t.Helper()
	rj := in.Rejected()
	if len(rj) == 0 {
		t.Fatal("nothing was recorded as REJECTED")
	}
	return rj[len(rj)-1]
}

// BINs and an IIN the fixture's certificates carry: the demo agency's,
// the gateway's (it signs what it pushes for the agency), and another
// organisation's, trusted but bound to no sender here.
const (
	agencyBIN   = "160140007775"
	gatewayBIN  = "151240001235"
	otherBIN    = "200340005558"
	employeeIIN = "880501300124"
)

// pkiFixture is one CA with the certificates the signature tests need.
type pkiFixture struct {
	ca, other                  *testpki.CA
	sender, gateway            xmlsig.Signer
	expired, untrusted, revoke xmlsig.Signer
	noPolicy                   xmlsig.Signer
	otherOrg, employee, person xmlsig.Signer
	trust                      *xmlsig.Trust
}

var (
	pkiOnce sync.Once
	pkiFix  pkiFixture
	pkiErr  error
)

func fixture(t testing.TB) *pkiFixture {
	t.Helper()
	pkiOnce.Do(func() {
		f := &pkiFix
		now := time.Now()
		valid := testpki.Leaf{NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), Policies: []string{xmlsig.PolicySigning}}
		leaf := func(ca *testpki.CA, cn string, l testpki.Leaf) xmlsig.Signer {
			if pkiErr != nil {
				return nil
			}
			l.CommonName = cn
			var s xmlsig.Signer
			s, _, pkiErr = ca.Signer(l)
			return s
		}
		if f.ca, pkiErr = testpki.NewCA("Test NCA", now.AddDate(-1, 0, 0), now.AddDate(5, 0, 0)); pkiErr != nil {
			return
		}
		if f.other, pkiErr = testpki.NewCA("Other CA", now.AddDate(-1, 0, 0), now.AddDate(5, 0, 0)); pkiErr != nil {
			return
		}
		org := func(bin string) testpki.Leaf { l := valid; l.SerialNumber = "BIN" + bin; return l }
		f.sender = leaf(f.ca, "kopir", org(agencyBIN))
		f.gateway = leaf(f.ca, "shep-gateway", org(gatewayBIN))
		f.otherOrg = leaf(f.ca, "another organisation", org(otherBIN))
		emp := valid
		emp.SerialNumber, emp.OrganizationalUnit = "IIN"+employeeIIN, "BIN"+agencyBIN
		f.employee = leaf(f.ca, "agency employee", emp)
		person := valid
		person.SerialNumber = "IIN" + employeeIIN
		f.person = leaf(f.ca, "a person", person)
		expired := valid
		expired.NotBefore, expired.NotAfter = now.AddDate(-2, 0, 0), now.AddDate(-1, 0, 0)
		f.expired = leaf(f.ca, "expired", expired)
		f.untrusted = leaf(f.other, "untrusted", valid)
		f.revoke = leaf(f.ca, "revoked", valid)
		noPolicy := valid
		noPolicy.Policies = []string{xmlsig.PolicyAuth}
		f.noPolicy = leaf(f.ca, "auth-only", noPolicy)
		if pkiErr != nil {
			return
		}
		crl, _, err := f.ca.CRL([]*x509.Certificate{f.revoke.Certificate()}, now.Add(-time.Minute), now.AddDate(0, 0, 7))
		if err != nil {
			pkiErr = err
			return
		}
		f.trust, pkiErr = xmlsig.NewTrust([]*x509.Certificate{f.ca.Cert}, nil, []*x509.RevocationList{crl}, xmlsig.PolicySigning)
	})
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return &pkiFix
}

// mockServer runs the mock agencies trusting the fixture's CA.
func mockServer(t testing.TB, o shepgw.Options) *httptest.Server {
	t.Helper()
	if o.Trust == nil {
		o.Trust = fixture(t).trust
	}
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}, o))
	t.Cleanup(srv.Close)
	return srv
}
