// Package mocks simulates the agencies Köpir talks to, so the bus can be
// run, tested and load-tested without SHEP credentials: the SHEP
// SyncChannel gateway with a fake GBD FL behind it, and a generic internal
// subscriber for asynchronous deliveries. All of them share one listener and
// a control API for fault injection and for counting what arrived.
//
// They imitate the agencies' contracts, not Köpir: nothing here knows how
// the bus is built, so a test against the mocks checks the bus from the
// outside.
package mocks

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/minfin-kz/kopir/internal/xmlsig"
)

// DefaultAddr is where `kopir mocks` listens unless told otherwise.
const DefaultAddr = "127.0.0.1:8090"

// Mock names used by the control API.
const (
	SHEP       = "shep"
	GBDFL      = "gbdfl"
	GBDUL      = "gbdul"
	Subscriber = "subscriber"
)

// Options configure the mocks. The zero value is a working setup.
type Options struct {
	// Senders are the SHEP senderId → password pairs the gateway accepts.
	// Default: kopir / kopir-secret.
	Senders map[string]string
	// NotFound reports the IINs GBD FL has no person for; it is asked only
	// about valid IINs (invalid ones are never found). Default: a 4-digit
	// serial (digits 8-11) of 0000.
	NotFound func(iin string) bool
	// Seed makes fault injection reproducible: the n-th call to a mock
	// always draws the same number. 0 picks a seed from the clock.
	Seed uint64
	// MaxHang bounds a simulated timeout when the client never gives up.
	// Default 60s. The listener's WriteTimeout must be longer.
	MaxHang time.Duration
	// Now stamps responses; nil means time.Now.
	Now func() time.Time

	// Trust verifies the WS-Security signatures callers put on envelopes.
	// nil: the demo PKI of mocks/pki. A signed envelope is always verified;
	// RequireSignature also refuses unsigned ones.
	Trust            *xmlsig.Trust
	RequireSignature bool
	// Signer signs what the gateway pushes to a recipient. nil: the demo
	// gateway key of mocks/pki. NoPushSignature sends pushes unsigned.
	Signer          xmlsig.Signer
	NoPushSignature bool
	// PushURL is the recipient's SHEP endpoint prefix the control API
	// pushes to: <PushURL>/sync and <PushURL>/async. Default
	// http://127.0.0.1:8081/shep, Köpir's agency listener.
	PushURL string
	// PushSender is the senderId/password put in pushed messages.
	// Default demo-agency / demo-secret.
	PushSender [2]string
	// AsyncPolls is how many getMessageStatus calls see ON_DELIVERY before
	// a message is DELIVERED. Default 1.
	AsyncPolls int
	// ULNotFound reports the BINs GBD UL has no entity for (asked about
	// valid BINs only). Default: a 5-digit serial of 00000.
	ULNotFound func(bin string) bool
}

type server struct {
	opts  Options
	mocks map[string]*mock
	mux   *http.ServeMux
	async *asyncStore
}

// New returns the handler serving every mock and the control API:
//
//	POST /shep/sync                     SHEP SyncChannel SendMessage (GBD FL, GBD UL)
//	GET  /shep/sync?wsdl                its WSDL (imports as ?file=…)
//	POST /shep/async                    SHEP AsyncChannel: sendMessage, getMessageStatus,
//	                                    getMessages, sendDeliveryNotification
//	GET  /shep/async?wsdl               its WSDL
//	POST /_control/shep/push            the gateway pushes a message to a recipient
//	POST /_control/shep/notify          … or a changeMassageStatusNotification
//	GET  /_control/shep/messages        async messages the gateway holds
//	POST /subscriber[/…]                JSON sink, answers {"ok":true}
//	PUT|DELETE /_control/faults/{mock}  set or clear fault injection
//	GET  /_control/faults               list it
//	GET|DELETE /_control/received/{mock}[?key=…]  what arrived, or reset
func New(opts Options) http.Handler {
	if opts.Senders == nil {
		opts.Senders = map[string]string{"kopir": "kopir-secret"}
	}
	if opts.NotFound == nil {
		opts.NotFound = defaultNotFound
	}
	if opts.Seed == 0 {
		opts.Seed = uint64(time.Now().UnixNano())
	}
	if opts.MaxHang <= 0 {
		opts.MaxHang = 60 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Trust == nil {
		opts.Trust = demoTrust()
	}
	if opts.Signer == nil && !opts.NoPushSignature {
		opts.Signer = demoSigner()
	}
	if opts.PushURL == "" {
		opts.PushURL = "http://127.0.0.1:8081/shep"
	}
	if opts.PushSender[0] == "" {
		opts.PushSender = [2]string{"demo-agency", "demo-secret"}
	}
	if opts.AsyncPolls <= 0 {
		opts.AsyncPolls = 1
	}
	if opts.ULNotFound == nil {
		opts.ULNotFound = defaultULNotFound
	}
	s := &server{opts: opts, mocks: map[string]*mock{}, mux: http.NewServeMux(), async: newAsyncStore()}
	for i, name := range []string{SHEP, GBDFL, Subscriber, GBDUL} {
		// Each mock draws from its own sequence so that faults on one do not
		// shift the outcomes of another.
		s.mocks[name] = newMock(name, opts.Seed+uint64(i)*0x9e3779b97f4a7c15)
	}
	s.mux.HandleFunc("POST /shep/sync", s.shepSync)
	s.mux.HandleFunc("GET /shep/sync", s.shepWSDL)
	s.mux.HandleFunc("POST /shep/async", s.shepAsync)
	s.mux.HandleFunc("GET /shep/async", s.shepAsyncWSDL)
	s.mux.HandleFunc("POST /_control/shep/push", s.push)
	s.mux.HandleFunc("POST /_control/shep/notify", s.notify)
	s.mux.HandleFunc("GET /_control/shep/messages", s.listAsync)
	s.mux.HandleFunc("POST /subscriber", s.subscriber)
	s.mux.HandleFunc("POST /subscriber/{rest...}", s.subscriber)
	s.mux.HandleFunc("GET /_control/faults", s.listFaults)
	s.mux.HandleFunc("PUT /_control/faults/{mock}", s.putFault)
	s.mux.HandleFunc("DELETE /_control/faults/{mock}", s.deleteFault)
	s.mux.HandleFunc("GET /_control/received/{mock}", s.getReceived)
	s.mux.HandleFunc("DELETE /_control/received/{mock}", s.resetReceived)
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *server) mock(w http.ResponseWriter, r *http.Request) *mock {
	m := s.mocks[r.PathValue("mock")]
	if m == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown mock " + r.PathValue("mock") + " (known: shep, gbdfl, gbdul, subscriber)"})
	}
	return m
}

func (s *server) listFaults(w http.ResponseWriter, _ *http.Request) {
	out := map[string]*Fault{}
	for name, m := range s.mocks {
		if f := m.fault.Load(); f != nil {
			out[name] = f
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) putFault(w http.ResponseWriter, r *http.Request) {
	m := s.mock(w, r)
	if m == nil {
		return
	}
	f, err := parseFault(http.MaxBytesReader(w, r.Body, 4096))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	m.fault.Store(f)
	writeJSON(w, http.StatusOK, f)
}

func (s *server) deleteFault(w http.ResponseWriter, r *http.Request) {
	if m := s.mock(w, r); m != nil {
		m.fault.Store(nil)
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *server) getReceived(w http.ResponseWriter, r *http.Request) {
	if m := s.mock(w, r); m != nil {
		writeJSON(w, http.StatusOK, m.rec.Load().report(r.URL.Query().Get("key")))
	}
}

func (s *server) resetReceived(w http.ResponseWriter, r *http.Request) {
	if m := s.mock(w, r); m != nil {
		m.rec.Store(newRecord())
		w.WriteHeader(http.StatusNoContent)
	}
}

// mock is the state one simulated agency keeps.
type mock struct {
	name  string
	seed  uint64
	calls atomic.Uint64
	fault atomic.Pointer[Fault]
	rec   atomic.Pointer[record]
}

func newMock(name string, seed uint64) *mock {
	m := &mock{name: name, seed: seed}
	m.rec.Store(newRecord())
	return m
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // pushed envelopes stay readable in curl output
	_ = enc.Encode(v)
}
