package resilience

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/minfin-kz/kopir/adapters"
)

// DefaultMaxResponse bounds a buffered agency answer when the route sets no
// limit. Every answer is held in memory whole (to audit it and to let the
// adapter decode it), so an agency streaming gigabytes must not be able to
// take the bus down with it.
const DefaultMaxResponse = 10 << 20

// ErrResponseTooLarge is an answer over the size limit. It is not retried
// and does not count against the breaker: the endpoint is up, the answer is
// just unusable.
var ErrResponseTooLarge = errors.New("response body too large")

// callState is what Client.Do tells its layers about the endpoint being
// tried. One per call, reused across endpoints; the retry loop is
// sequential, so it needs no lock.
type callState struct {
	endpoint string
	breaker  *breaker
	body     []byte
	obs      func(adapters.AttemptInfo)
	attempts int
}

type stateKey struct{}

func stateFrom(ctx context.Context) *callState {
	st, _ := ctx.Value(stateKey{}).(*callState)
	return st
}

// AttemptTimeoutError is one attempt that got no complete answer within the
// per-attempt timeout. It unwraps to context.DeadlineExceeded and reports
// Timeout() like net errors do, but the retry layer can still tell it from
// the caller's own deadline, which must end the call instead of retrying.
type AttemptTimeoutError struct {
	Endpoint string
	Limit    time.Duration // the per-attempt timeout that ran out
}

func (e *AttemptTimeoutError) Error() string {
	return fmt.Sprintf("no complete answer from %s within %s", e.Endpoint, e.Limit)
}
func (e *AttemptTimeoutError) Unwrap() error { return context.DeadlineExceeded }
func (e *AttemptTimeoutError) Timeout() bool { return true }

// AttemptTransport makes one physical attempt: it bounds it by Timeout,
// reads the whole answer (at most MaxBody bytes) so the attempt's latency
// and body are known when it is reported, and reports it to the observer
// from the request's context. The response goes on with an in-memory body,
// so the per-attempt timeout can end with the attempt.
type AttemptTransport struct {
	Next    http.RoundTripper
	Timeout time.Duration // 0: bounded only by the request's context
	MaxBody int64         // 0: DefaultMaxResponse
}

func (t *AttemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	st := stateFrom(ctx)
	var endpoint string
	var obs func(adapters.AttemptInfo)
	if st != nil {
		st.attempts++
		endpoint, obs = st.endpoint, st.obs
	} else {
		endpoint, obs = req.URL.Scheme+"://"+req.URL.Host, adapters.AttemptObserver(ctx)
	}

	start := time.Now()
	var actx context.Context
	if t.Timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, t.Timeout)
		defer cancel()
		req = req.WithContext(actx)
	}
	resp, err := t.Next.RoundTrip(req)
	var body []byte
	if err == nil {
		body, err = readBody(resp, t.MaxBody)
		if err != nil {
			resp = nil
		} else {
			resp.Body = newMemBody(body)
		}
	}
	if err != nil && actx != nil && ctx.Err() == nil && actx.Err() == context.DeadlineExceeded {
		err = &AttemptTimeoutError{Endpoint: endpoint, Limit: t.Timeout}
	}

	if obs != nil {
		a := adapters.AttemptInfo{
			Endpoint:     endpoint,
			StartedAt:    start,
			Latency:      time.Since(start),
			Err:          err,
			ResponseBody: body,
		}
		if st != nil {
			a.Attempt, a.RequestBody = st.attempts, st.body
		} else {
			a.Attempt = 1
			if req.GetBody != nil {
				if rc, gerr := req.GetBody(); gerr == nil {
					a.RequestBody, _ = io.ReadAll(rc)
					rc.Close()
				}
			}
		}
		if resp != nil {
			a.StatusCode = resp.StatusCode
		}
		obs(a)
	}
	return resp, err
}

// readBody reads the whole body, closing it, sized from Content-Length when
// the agency sends one so the common case is a single allocation.
func readBody(resp *http.Response, max int64) ([]byte, error) {
	defer resp.Body.Close()
	if max <= 0 {
		max = DefaultMaxResponse
	}
	if resp.Body == http.NoBody {
		return nil, nil
	}
	if n := resp.ContentLength; n >= 0 {
		if n > max {
			return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrResponseTooLarge, n, max)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	// No length (a chunked answer): read into a pooled buffer and keep an
	// exact copy, rather than let io.ReadAll double its way up to the size
	// and keep the last, mostly empty, array.
	buf := unsizedBodies.Get().(*bytes.Buffer)
	defer putUnsized(buf)
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, max+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > max {
		return nil, fmt.Errorf("%w: over %d bytes", ErrResponseTooLarge, max)
	}
	return append(make([]byte, 0, buf.Len()), buf.Bytes()...), nil
}

// unsizedBodies are the buffers readBody reads chunked answers into.
var unsizedBodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody is the largest buffer put back: one large document must not
// stay pinned in the pool for the life of the process.
const maxPooledBody = 256 << 10

func putUnsized(b *bytes.Buffer) {
	if b.Cap() > maxPooledBody {
		return
	}
	b.Reset()
	unsizedBodies.Put(b)
}

// memBody is a response body already in memory. Client.Do takes the bytes
// back from it instead of copying them through the reader.
type memBody struct {
	bytes.Reader
	b []byte
}

func newMemBody(b []byte) *memBody {
	m := &memBody{b: b}
	m.Reset(b)
	return m
}

func (*memBody) Close() error { return nil }
