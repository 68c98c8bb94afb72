// Package mocks is the server the simulated agencies run in, so that the
// bus can be run, tested and load-tested without SHEP credentials or a
// payment system. Each agency is a package of its own that registers
// itself here when imported, the way adapters register with the bus
// (mocks/all imports them all, for the kopir-mocks binary); this package
// gives them one listener, a control API for fault injection and a log of
// what arrived, so that a test can make any agency misbehave and count
// what reached it.
//
// The agencies imitate their contracts, not Köpir: nothing here knows how
// the bus is built, so a test against the mocks checks the bus from the
// outside.
package mocks

import (
	"encoding/json"
	"hash/fnv"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultAddr is where kopir-mocks listens unless told otherwise.
const DefaultAddr = "127.0.0.1:8090"

// Options configure the server. The zero value is a working setup; each
// agency's own options are a type of its package, handed to New beside
// these.
type Options struct {
	// Seed makes fault injection reproducible: the n-th call to a mock
	// always draws the same number. 0 picks a seed from the clock.
	Seed uint64
	// MaxHang bounds a simulated timeout when the client never gives up.
	// Default 60s. The listener's WriteTimeout must be longer.
	MaxHang time.Duration
	// Now stamps responses; nil means time.Now.
	Now func() time.Time
}

// A Factory adds one registered agency to a server being built: its routes
// (Server.Handle), the mocks its faults and log are kept under
// (Server.Mock), and what to stop on Close (Server.OnClose).
type Factory func(s *Server)

var agencies = NewRegistry[Factory]("mocks.Register")

// Register makes an agency part of every server New builds. It panics on a
// duplicate name, like adapters.Register, because that is a programming
// error.
func Register(name string, f Factory) { agencies.Add(name, f) }

// Registry holds what packages add at init, by name: the agencies here,
// and whatever an agency lets other packages put behind it (the services
// behind a gateway).
type Registry[T any] struct {
	what string
	mu   sync.Mutex
	m    map[string]T
}

// NewRegistry returns an empty registry; what names its Add in panics.
func NewRegistry[T any](what string) *Registry[T] {
	return &Registry[T]{what: what, m: map[string]T{}}
}

// Add puts v under name, panicking on a duplicate name.
func (r *Registry[T]) Add(name string, v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[name]; dup {
		panic(r.what + " called twice for " + name)
	}
	r.m[name] = v
}

// Names lists what was added, sorted: a server is built the same way every
// time.
func (r *Registry[T]) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.m))
}

// Get is what was added under name.
func (r *Registry[T]) Get(name string) T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[name]
}

// Server serves every registered agency and the control API.
type Server struct {
	opts    Options
	configs []any
	mocks   map[string]*Mock
	mux     *http.ServeMux
	closers []func()
	clock   *Clock
	shared  map[string]any
}

// New builds a server with every registered agency. configs are the
// agencies' own options, each of a type its package defines (ConfigOf);
// an agency not given any uses its defaults. The control API:
//
//	PUT|DELETE /_control/faults/{mock}  set or clear fault injection
//	GET  /_control/faults               list it
//	GET|DELETE /_control/received/{mock}[?key=…]  what arrived, or reset
//	GET|PUT /_control/clock             the agencies' simulated time (Clock):
//	                                    {"now": RFC 3339} or {"advance": "90m"}
func New(opts Options, configs ...any) *Server {
	if opts.Seed == 0 {
		opts.Seed = uint64(time.Now().UnixNano())
	}
	if opts.MaxHang <= 0 {
		opts.MaxHang = 60 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, configs: configs, mocks: map[string]*Mock{}, mux: http.NewServeMux(), clock: newClock(), shared: map[string]any{}}
	s.mux.HandleFunc("GET /_control/clock", s.getClock)
	s.mux.HandleFunc("PUT /_control/clock", s.putClock)
	s.mux.HandleFunc("GET /_control/faults", s.listFaults)
	s.mux.HandleFunc("PUT /_control/faults/{mock}", s.putFault)
	s.mux.HandleFunc("DELETE /_control/faults/{mock}", s.deleteFault)
	s.mux.HandleFunc("GET /_control/received/{mock}", s.getReceived)
	s.mux.HandleFunc("DELETE /_control/received/{mock}", s.resetReceived)
	for _, name := range agencies.Names() {
		agencies.Get(name)(s)
	}
	return s
}

// ConfigOf is the T handed to New, or T's zero value: an agency's way to
// find its own options.
func ConfigOf[T any](s *Server) T {
	for _, c := range s.configs {
		if v, ok := c.(T); ok {
			return v
		}
	}
	var zero T
	return zero
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Handle and HandleFunc add an agency's route, as http.ServeMux does.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

func (s *Server) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	s.mux.HandleFunc(pattern, h)
}

// Mock is the mock called name, added on first use: the faults the control
// API injects and the log of what arrived, under /_control/…/{name}.
func (s *Server) Mock(name string) *Mock {
	if m := s.mocks[name]; m != nil {
		return m
	}
	// Each mock draws from its own sequence, seeded by its name, so that
	// faults on one do not shift the outcomes of another, whatever other
	// agencies are linked in.
	h := fnv.New64a()
	h.Write([]byte(name))
	m := &Mock{name: name, seed: s.opts.Seed + h.Sum64()*0x9e3779b97f4a7c15, srv: s}
	m.rec.Store(newRecord())
	s.mocks[name] = m
	return m
}

// OnClose runs f when the server is closed: an agency's pending work.
func (s *Server) OnClose(f func()) { s.closers = append(s.closers, f) }

// Clock is the simulated time the agencies share; see Clock.
func (s *Server) Clock() *Clock { return s.clock }

// Share makes v, one agency's own object, available to the others under
// name: the exchange hands its placements to the depository this way,
// in process, as the real exchange's settlement system does. Agencies are
// built in name order, so a consumer looks its partner up when it needs
// it (Shared), not while being built.
func (s *Server) Share(name string, v any) { s.shared[name] = v }

// Shared is what Share put under name, nil when that agency is not
// linked in.
func (s *Server) Shared(name string) any { return s.shared[name] }

// Close stops the clock, then what the agencies still have under way.
func (s *Server) Close() {
	s.clock.close()
	for _, f := range s.closers {
		f()
	}
}

// Now is the time responses are stamped with.
func (s *Server) Now() time.Time { return s.opts.Now() }

func (s *Server) mock(w http.ResponseWriter, r *http.Request) *Mock {
	m := s.mocks[r.PathValue("mock")]
	if m == nil {
		known := strings.Join(slices.Sorted(maps.Keys(s.mocks)), ", ")
		WriteJSON(w, http.StatusNotFound, map[string]string{"error": "unknown mock " + r.PathValue("mock") + " (known: " + known + ")"})
	}
	return m
}

func (s *Server) listFaults(w http.ResponseWriter, _ *http.Request) {
	out := map[string]*Fault{}
	for name, m := range s.mocks {
		if f := m.fault.Load(); f != nil {
			out[name] = f
		}
	}
	WriteJSON(w, http.StatusOK, out)
}

func (s *Server) putFault(w http.ResponseWriter, r *http.Request) {
	m := s.mock(w, r)
	if m == nil {
		return
	}
	f, err := parseFault(http.MaxBytesReader(w, r.Body, 4096))
	if err != nil {
		WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	m.fault.Store(f)
	WriteJSON(w, http.StatusOK, f)
}

func (s *Server) deleteFault(w http.ResponseWriter, r *http.Request) {
	if m := s.mock(w, r); m != nil {
		m.fault.Store(nil)
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) getReceived(w http.ResponseWriter, r *http.Request) {
	if m := s.mock(w, r); m != nil {
		WriteJSON(w, http.StatusOK, m.rec.Load().report(r.URL.Query().Get("key")))
	}
}

func (s *Server) resetReceived(w http.ResponseWriter, r *http.Request) {
	if m := s.mock(w, r); m != nil {
		m.rec.Store(newRecord())
		w.WriteHeader(http.StatusNoContent)
	}
}

// Mock is the state one simulated agency keeps for the control API.
type Mock struct {
	name  string
	seed  uint64
	srv   *Server
	calls atomic.Uint64
	fault atomic.Pointer[Fault]
	rec   atomic.Pointer[record]
}

// Name is what the control API calls the mock.
func (m *Mock) Name() string { return m.name }

// Record notes one call under key; ok says whether it was answered
// normally rather than with an injected failure or timeout.
func (m *Mock) Record(key string, ok bool) { m.rec.Load().add(key, ok, m.srv.opts.Now()) }

// WriteJSON answers v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // pushed envelopes stay readable in curl output
	_ = enc.Encode(v)
}
