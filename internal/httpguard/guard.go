// Package httpguard is what the three listeners (internal API, agency
// inbound, admin API) put in front of their handlers, one concern per
// middleware: caps on requests in flight per listener and per client
// address, limits on the request head, a deadline on reading the body, and
// problem+json answers for the mux's own 404 and 405. It also builds the
// listener's http.Server with its timeouts, so the three are configured
// the same way from limits.http.
//
// Every refusal of a request is recorded as REJECTED through the ledger,
// bounded, with the message id in the answer — except the 503s past a cap:
// those are counted and logged, so that a flood is never turned into store
// writes.
package httpguard

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/minfin-kz/kopir/internal/config"
	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/routes"
	"github.com/prometheus/client_golang/prometheus"
)

// Recorder keeps refusals; *ledger.Ledger is one.
type Recorder interface {
	Refused(ctx context.Context, r ledger.Refusal) error
}

// Listener is one listener's guard and the recorder of its refusals. A nil
// *Listener guards nothing and records nothing: what a test of one
// handler, without a listener in front of it, gets.
type Listener struct {
	// Name labels the listener in metrics and in what a refusal the guard
	// makes itself is recorded under: "<name>:<path>".
	Name    string
	Inbound bool // refusals are of agencies' messages
	Limits  config.HTTPLimits
	Ledger  Recorder
	Log     *slog.Logger
	Refused *prometheus.CounterVec // listener, reason; may be nil
	// Route names the route a refusal of r is recorded under, when the
	// listener can tell it from the request (the internal API's
	// /v1/routes/{route}); "" falls back to "<name>:<path>".
	Route func(r *http.Request) string

	inFlight atomic.Int64
	clients  clientCounts
}

// Server is an http.Server for h with the listener's timeouts. The request
// head the server reads at all is config.MaxRequestHead, larger than the
// limits, so that a head over them reaches Head and is refused on record.
func (l *Listener) Server(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: l.Limits.ReadHeaderTimeout.D(),
		WriteTimeout:      l.Limits.WriteTimeout.D(),
		IdleTimeout:       l.Limits.IdleTimeout.D(),
		MaxHeaderBytes:    config.MaxRequestHead,
		ErrorLog:          slog.NewLogLogger(l.Log.Handler(), slog.LevelWarn),
	}
}

// Handler puts the guard's middlewares in front of mux, outermost first.
func (l *Listener) Handler(mux Mux, notFound func(*http.Request) string) http.Handler {
	if l == nil {
		return mux
	}
	return Chain(l.Fallback(mux, notFound), l.track, l.LimitListener, l.LimitClient, l.Head, l.BodyDeadline)
}

// Chain wraps h so that mws[0] is the outermost layer.
func Chain(h http.Handler, mws ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// state is what the guard knows of one request, in its context.
type state struct {
	started      time.Time
	bodyTimedOut atomic.Bool
	body         *deadlineBody // nil without a body or a connection to bound
}

type stateKey struct{}

// track is the outermost layer: it gives the request its state and puts
// the body read deadline (deadline.go) on its body, so that the deadline
// also covers a body no handler read. Whoever answers without reading it
// (a cap, the head limits, a handler refusing early), net/http reads what
// is left of it before writing the answer; without a deadline a client
// that never sends it held the answer and the connection for ever. The
// clock starts when the handler returns instead: by then the rest has
// come, and the connection is kept, or the answer goes out with the
// connection closed.
func (l *Listener) track(next http.Handler) http.Handler {
	d := l.Limits.BodyReadTimeout.D()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &state{started: time.Now()}
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			// Not a connection (a test recorder): nothing to bound.
			if rc.SetReadDeadline(time.Time{}) == nil {
				st.body = &deadlineBody{ReadCloser: r.Body, st: st, set: func(t time.Time) { _ = rc.SetReadDeadline(t) }, d: d}
				r.Body = st.body
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
		if st.body != nil {
			st.body.start()
		}
	})
}

func stateOf(ctx context.Context) *state {
	st, _ := ctx.Value(stateKey{}).(*state)
	return st
}

// BodyTimedOut reports whether the request of ctx ran out of time reading
// its body. The guard answers it with 408 and records it; a handler that
// sees the read fail must not record a refusal of its own.
func BodyTimedOut(ctx context.Context) bool {
	st := stateOf(ctx)
	return st != nil && st.bodyTimedOut.Load()
}

// Refusal is what a handler knows of a request it refuses.
type Refusal struct {
	Route         string // as the client named it; "" = the listener's name and the path
	Caller        string // "" = anonymous
	CorrelationID string
	Body          []byte // kept as a digest only
}

// Refuse records the refusal p of r as REJECTED and answers with p, its
// message id in the answer. It returns the id.
func (l *Listener) Refuse(w http.ResponseWriter, r *http.Request, rf Refusal, p *problem.Problem) string {
	p.MessageID = l.Record(r, rf, p.Status, p.Error())
	problem.Write(w, p)
	return p.MessageID
}

// Record records the refusal of r as REJECTED with status and reason and
// returns its message id; a request whose body ran out of time is the
// guard's to record (BodyTimedOut), and only gets its id.
func (l *Listener) Record(r *http.Request, rf Refusal, status int, reason string) string {
	id := routes.NewMessageID()
	st := stateOf(r.Context())
	if l == nil || st != nil && st.bodyTimedOut.Load() && status != http.StatusRequestTimeout {
		return id
	}
	started := time.Now()
	if st != nil {
		started = st.started
	}
	if rf.Route == "" && l.Route != nil {
		rf.Route = l.Route(r)
	}
	if rf.Route == "" {
		rf.Route = l.Name + ":" + r.URL.Path
	}
	if rf.Caller == "" {
		rf.Caller = "anonymous"
	}
	err := l.Ledger.Refused(r.Context(), ledger.Refusal{ID: id, Route: rf.Route, Caller: rf.Caller, CorrelationID: rf.CorrelationID,
		Inbound: l.Inbound, Started: started, HTTPStatus: status, Reason: reason, Body: rf.Body,
		Received: l.Name + " " + r.Method + " " + r.URL.Path})
	if err != nil {
		l.Log.Error("recording a refused request", "listener", l.Name, "messageId", id, "status", status, "err", err)
	}
	return id
}

// count notes a refusal the guard made itself.
func (l *Listener) count(reason string) {
	if l.Refused != nil {
		l.Refused.WithLabelValues(l.Name, reason).Inc()
	}
}
