package httpguard

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/minfin-kz/kopir/internal/problem"
)

// ErrBodyTimeout is what reading a body returns once its deadline passed.
var ErrBodyTimeout = errors.New("the request body was not received within the listener's body read timeout")

// BodyDeadline bounds reading the body: bodyReadTimeout after the handler
// first reads it, a body still arriving (one byte every few seconds holds
// a connection as well as a fast one) is cut off. Whatever the handler then
// answers, in whatever contract's words, is replaced by 408 problem+json,
// recorded. The clock starts at the first read, not at the headers, so a
// large document waiting for its turn (limits.largeWait) is not cut off for
// waiting; and it stops once the body is read to its end, so a long call
// after it is bounded by the route's deadline and writeTimeout alone.
func (l *Listener) BodyDeadline(next http.Handler) http.Handler {
	d := l.Limits.BodyReadTimeout.D()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(r.Context())
		if st == nil || st.body == nil { // no body, or nothing to bound it on (track)
			next.ServeHTTP(w, r)
			return
		}
		tw := &takeover{ResponseWriter: w, st: st, answer: func(w http.ResponseWriter) {
			l.count("body-timeout")
			w.Header().Set("Connection", "close")
			l.Refuse(w, r, Refusal{}, problem.New(http.StatusRequestTimeout, "Request body too slow",
				fmt.Sprintf("the body was not received within %s; send it at once", d)))
		}}
		next.ServeHTTP(tw, r)
		tw.finish()
	})
}

type deadlineBody struct {
	io.ReadCloser
	st      *state
	set     func(time.Time) // the connection's read deadline
	d       time.Duration
	started bool
}

// start starts the clock, unless it runs already or the body was read to
// its end.
func (b *deadlineBody) start() {
	if !b.started {
		b.started = true
		b.set(time.Now().Add(b.d))
	}
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	b.start()
	n, err := b.ReadCloser.Read(p)
	var ne net.Error
	switch {
	case err == io.EOF:
		b.set(time.Time{})
	case errors.As(err, &ne) && ne.Timeout():
		b.st.bodyTimedOut.Store(true)
		err = ErrBodyTimeout
	}
	return n, err
}

// takeover passes a handler's answer through, unless the body timed out
// before the handler wrote anything: then the guard's answer replaces it.
type takeover struct {
	http.ResponseWriter
	st      *state
	answer  func(http.ResponseWriter)
	wrote   bool // the handler's answer went out
	guarded bool // the guard's did
}

func (t *takeover) claim() bool {
	if !t.wrote && !t.guarded && t.st.bodyTimedOut.Load() {
		t.guarded = true
		h := t.ResponseWriter.Header()
		for k := range h {
			delete(h, k)
		}
		t.answer(t.ResponseWriter)
	}
	if t.guarded {
		return false
	}
	t.wrote = true
	return true
}

func (t *takeover) WriteHeader(code int) {
	if t.claim() {
		t.ResponseWriter.WriteHeader(code)
	}
}

func (t *takeover) Write(b []byte) (int, error) {
	if t.claim() {
		return t.ResponseWriter.Write(b)
	}
	return len(b), nil
}

// finish answers a timed-out request whose handler wrote nothing.
func (t *takeover) finish() {
	if !t.wrote && !t.guarded && t.st.bodyTimedOut.Load() {
		t.claim()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (t *takeover) Unwrap() http.ResponseWriter { return t.ResponseWriter }
