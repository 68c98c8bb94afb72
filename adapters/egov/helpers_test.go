package egov_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/egov"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/internal/xmlsig/testpki"
	"github.com/minfin-kz/kopir/mocks"
	_ "github.com/minfin-kz/kopir/mocks/gbdfl" // the service the tests call behind the gateway
	"github.com/minfin-kz/kopir/mocks/shepgw"
)

// testIntake is a map-backed Intake with the semantics the channel relies
// on: Known by key, Accept/Call de-duplicate by (key, ExternalID) and
// return the stored acknowledgement of a repeat, Reject records, Find
// looks up outbound messages seeded by the test. The real, store-backed
// intake is exercised end to end by the lead's tests.
type testIntake struct {
	mu        sync.Mutex
	routes    map[string]bool // key → sync
	seen      map[string]*adapters.Receipt
	acks      map[string][]byte
	accepted  []*adapters.Inbound
	called    []*adapters.Inbound
	rejected  []rejection
	outbound  map[string]string // route + "\x00" + externalID → message id
	notes     map[string][]adapters.Event
	reply     func(m *adapters.Inbound) (*adapters.Response, error)
	storeDown bool
	n         int
}

type rejection struct {
	m      adapters.Inbound
	reason error
	id     string
}

func newIntake(routes map[string]bool) *testIntake {
	return &testIntake{routes: routes, seen: map[string]*adapters.Receipt{}, acks: map[string][]byte{},
		outbound: map[string]string{}, notes: map[string][]adapters.Event{},
		reply: func(*adapters.Inbound) (*adapters.Response, error) {
			return &adapters.Response{Body: json.RawMessage(`{"ok":true}`)}, nil
		}}
}

func (in *testIntake) Known(channel, key string) (bool, bool) {
	if channel != egov.ChannelName {
		return false, false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	sync, ok := in.routes[key]
	return ok, sync
}

func (in *testIntake) dup(m *adapters.Inbound) *adapters.Receipt {
	rc := in.seen[m.Key+"\x00"+m.ExternalID]
	if rc == nil {
		return nil
	}
	return &adapters.Receipt{MessageID: rc.MessageID, Status: rc.Status, Duplicate: true, Ack: in.acks[rc.MessageID]}
}

func (in *testIntake) Accept(_ context.Context, m *adapters.Inbound) (*adapters.Receipt, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.storeDown {
		return nil, errors.New("store is down")
	}
	if _, ok := in.routes[m.Key]; !ok {
		return nil, &adapters.RejectError{Code: "UNKNOWN_KEY", Reason: "no route"}
	}
	if rc := in.dup(m); rc != nil {
		return rc, nil
	}
	in.n++
	rc := &adapters.Receipt{MessageID: fmt.Sprintf("bus-%d", in.n), Status: "QUEUED"}
	in.seen[m.Key+"\x00"+m.ExternalID] = rc
	in.accepted = append(in.accepted, m)
	return rc, nil
}

func (in *testIntake) Acknowledge(_ context.Context, id string, ack []byte) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.acks[id] = bytes.Clone(ack)
	return nil
}

func (in *testIntake) Call(_ context.Context, m *adapters.Inbound) (*adapters.Response, *adapters.Receipt, error) {
	in.mu.Lock()
	if rc := in.dup(m); rc != nil {
		in.mu.Unlock()
		return nil, rc, nil
	}
	in.n++
	rc := &adapters.Receipt{MessageID: fmt.Sprintf("bus-%d", in.n), Status: "DELIVERED"}
	in.seen[m.Key+"\x00"+m.ExternalID] = rc
	in.called = append(in.called, m)
	reply := in.reply
	in.mu.Unlock()
	resp, err := reply(m)
	if err != nil {
		rc.Status = "FAILED"
	}
	return resp, rc, err
}

func (in *testIntake) Reject(_ context.Context, m *adapters.Inbound, reason error) string {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.n++
	id := fmt.Sprintf("rej-%d", in.n)
	in.rejected = append(in.rejected, rejection{*m, reason, id})
	return id
}

func (in *testIntake) Find(_ context.Context, route, ext string) (*adapters.Found, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	id, ok := in.outbound[route+"\x00"+ext]
	if !ok {
		return nil, errors.New("not found")
	}
	return &adapters.Found{MessageID: id, Route: route, ExternalID: ext, Status: "DELIVERED"}, nil
}

func (in *testIntake) Annotate(_ context.Context, id, action, detail string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.notes[id] = append(in.notes[id], adapters.Event{At: time.Now(), Actor: "agency", Action: action, Detail: detail})
	return nil
}

func (in *testIntake) History(_ context.Context, id string) ([]adapters.Event, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.notes[id], nil
}

func (in *testIntake) lastRejection(t *testing.T) rejection {
	t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.rejected) == 0 {
		t.Fatal("nothing was recorded as REJECTED")
	}
	return in.rejected[len(in.rejected)-1]
}

func (in *testIntake) counts() (accepted, called, rejected int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.accepted), len(in.called), len(in.rejected)
}

// httpTransport is the core's Transport minus retries, breakers and
// attempt recording: one POST to the endpoint per exchange.
type httpTransport struct {
	url   string
	mu    sync.Mutex
	calls []string // operation element of each exchange, in order
}

func (h *httpTransport) Do(ctx context.Context, w *adapters.WireRequest) (*adapters.WireResponse, error) {
	h.mu.Lock()
	h.calls = append(h.calls, opOf(w.Body))
	h.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, w.Method, h.url+w.Path, bytes.NewReader(w.Body))
	if err != nil {
		return nil, err
	}
	req.Header = w.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return &adapters.WireResponse{Endpoint: h.url, StatusCode: resp.StatusCode, Header: resp.Header, Body: body}, err
}

func opOf(env []byte) string {
	s := string(env)
	i := strings.Index(s, "<ns2:")
	if i < 0 {
		return ""
	}
	s = s[i+5:]
	return s[:strings.IndexAny(s, " >")]
}

// pkiFixture is one CA with the certificates the signature tests need.
type pkiFixture struct {
	ca, other                  *testpki.CA
	sender, gateway            xmlsig.Signer
	expired, untrusted, revoke xmlsig.Signer
	noPolicy                   xmlsig.Signer
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
		f.sender = leaf(f.ca, "kopir", valid)
		f.gateway = leaf(f.ca, "shep-gateway", valid)
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
