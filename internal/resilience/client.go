package resilience

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/minfin-kz/kopir/adapters"
)

// NewTransport returns the keep-alive pool tuned for the bus: many
// concurrent calls to few agency hosts, so the per-host idle pool is large
// (the stdlib default of 2 would make most calls open a new connection).
func NewTransport() *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// sharedTransport is used by every Client that brings no transport of its
// own, so all routes to one agency host share one connection pool.
var sharedTransport = sync.OnceValue(NewTransport)

// Hooks report what the metrics need and the observer does not show.
type Hooks struct {
	// OnRetry is called before each retry; attempt is the number of the
	// try about to be made at endpoint (2 for the first retry).
	OnRetry func(endpoint string, attempt int)
}

// Options is what a route says about reaching its agency.
type Options struct {
	Endpoints []string // tried in order; at least one
	Retry     adapters.RetrySpec
	Breaker   adapters.BreakerSpec
	// AttemptTimeout bounds each attempt, reading the answer included; the
	// caller's context bounds the whole call. 0: only the context.
	AttemptTimeout time.Duration
	// MaxResponseBytes bounds one buffered answer; 0 means
	// DefaultMaxResponse.
	MaxResponseBytes int64
	// Breakers is the process-wide registry; nil gives the Client a
	// private one (tests, tools).
	Breakers *Breakers
	// Transport is the base transport; nil means a pool shared by all
	// Clients, from NewTransport.
	Transport http.RoundTripper
	Hooks     Hooks
}

// Client reaches one route's agency. It is safe for concurrent use and
// meant to be built once per route and kept.
type Client struct {
	endpoints []string
	breakers  *Breakers
	breaker   adapters.BreakerSpec
	retry     adapters.RetrySpec
	cap       time.Duration
	hooks     Hooks
	rc        *retryablehttp.Client
}

var _ adapters.Transport = (*Client)(nil)

// NewClient builds the layered client for one route. Attempts below 1
// mean a single attempt: the async delivery worker wants exactly that,
// because it retries through broker redeliveries instead.
func NewClient(cfg Options) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("resilience: no endpoints")
	}
	bs := cfg.Breakers
	if bs == nil {
		bs = NewBreakers(nil)
	}
	c := &Client{retry: cfg.Retry, hooks: cfg.Hooks, breakers: bs, breaker: cfg.Breaker}
	_, c.cap = retryBounds(cfg.Retry)
	for _, e := range cfg.Endpoints {
		u, err := url.Parse(e)
		if err != nil {
			return nil, fmt.Errorf("resilience: endpoint %q: %w", e, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("resilience: endpoint %q: want an absolute http(s) URL", e)
		}
		c.endpoints = append(c.endpoints, e)
	}
	base := cfg.Transport
	if base == nil {
		base = sharedTransport()
	}
	// The outermost RoundTripper deliberately has no CloseIdleConnections:
	// retryablehttp calls it after every failed call, which would tear down
	// the whole shared pool each time one agency has a bad moment.
	rt := &BreakerTransport{
		Breakers: bs,
		Spec:     cfg.Breaker,
		Next:     &TraceTransport{Next: &AttemptTransport{Next: base, Timeout: cfg.AttemptTimeout, MaxBody: cfg.MaxResponseBytes}},
	}
	retries := cfg.Retry.Attempts - 1
	if retries < 0 {
		retries = 0
	}
	c.rc = &retryablehttp.Client{
		HTTPClient: &http.Client{
			Transport: rt,
			// An agency redirect is returned, not followed: following it
			// would re-send a request body to a host nobody configured.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		RetryMax:       retries,
		CheckRetry:     c.checkRetry,
		Backoff:        c.backoff,
		ErrorHandler:   retryablehttp.PassthroughErrorHandler,
		RequestLogHook: c.beforeAttempt,
	}
	return c, nil
}

// retryableStatus is a status worth another try: the agency or a gateway in
// front of it is briefly unable to answer. 500 is not among them: SOAP
// faults arrive as 500 and only the adapter can tell a transient one.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// transient is a transport error worth another try, at this endpoint or
// the next one. err is as http.Client returns it (a *url.Error).
func transient(err error) bool {
	if errors.Is(err, ErrBreakerOpen) || errors.Is(err, ErrResponseTooLarge) {
		return false
	}
	// retryablehttp's own list of permanent errors: bad scheme, bad
	// header, redirect loops, untrusted certificates.
	ok, _ := retryablehttp.DefaultRetryPolicy(context.Background(), nil, err)
	return ok
}

func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, nil
	}
	if err != nil {
		if !transient(err) {
			return false, nil
		}
	} else if !retryableStatus(resp.StatusCode) {
		return false, nil
	}
	// Fail fast: a retry into an open breaker would only be refused after
	// the backoff, and the next endpoint may be healthy.
	if st := stateFrom(ctx); st != nil && st.breaker.isOpen() {
		return false, nil
	}
	return true, nil
}

func (c *Client) backoff(_, _ time.Duration, n int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := retryAfter(resp.Header, time.Now()); ok {
			return min(d, c.cap)
		}
	}
	return Backoff(c.retry, n+1)
}

func (c *Client) beforeAttempt(_ retryablehttp.Logger, req *http.Request, i int) {
	if i > 0 && c.hooks.OnRetry != nil {
		if st := stateFrom(req.Context()); st != nil {
			c.hooks.OnRetry(st.endpoint, i+1)
		}
	}
}

// EndpointFailure is why one endpoint gave no usable answer.
type EndpointFailure struct {
	Endpoint string
	Attempts int // physical attempts made; 0 when the breaker refused
	Err      error
}

// CallError is a call that got no HTTP answer from any endpoint. It names
// every endpoint tried because an operator reading "connection refused"
// needs to know where. It unwraps to the last cause, so errors.Is finds
// context.DeadlineExceeded, ErrBreakerOpen or a syscall error.
type CallError struct {
	Method   string
	Failures []EndpointFailure
	Err      error
}

func (e *CallError) Error() string {
	var b strings.Builder
	b.WriteString(e.Method)
	if len(e.Failures) == 0 {
		b.WriteString(": no endpoint tried: ")
		b.WriteString(e.Err.Error())
		return b.String()
	}
	for i, f := range e.Failures {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %s", f.Endpoint)
		if f.Attempts > 1 {
			fmt.Fprintf(&b, " (%d attempts)", f.Attempts)
		}
		fmt.Fprintf(&b, ": %v", f.Err)
	}
	if last := e.Failures[len(e.Failures)-1].Err; e.Err != last {
		fmt.Fprintf(&b, "; %v", e.Err)
	}
	return b.String()
}

func (e *CallError) Unwrap() error { return e.Err }

func joinURL(endpoint, path string) string {
	switch {
	case path == "":
		return endpoint
	case strings.HasSuffix(endpoint, "/") && strings.HasPrefix(path, "/"):
		return endpoint + path[1:]
	case !strings.HasSuffix(endpoint, "/") && !strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "?"):
		return endpoint + "/" + path
	}
	return endpoint + path
}

// Do makes the call: each endpoint in turn, with retries, until one gives an
// answer that is not a retryable failure. Any HTTP status comes back as a
// response, because whether a 500 is a SOAP fault or an outage is the
// adapter's call; if every endpoint ended on a retryable status, the last
// such response is returned. Errors are *BreakerOpenError when every
// endpoint was refused by its breaker, otherwise *CallError.
func (c *Client) Do(ctx context.Context, w *adapters.WireRequest) (*adapters.WireResponse, error) {
	method := w.Method
	if method == "" {
		method = http.MethodPost
	}
	st := &callState{body: w.Body, obs: adapters.AttemptObserver(ctx)}
	cctx := context.WithValue(ctx, stateKey{}, st)

	var (
		last     *adapters.WireResponse
		failures []EndpointFailure
		refused  *BreakerOpenError
		nRefused int
	)
	for i := range c.endpoints {
		if ctx.Err() != nil {
			break
		}
		ep := c.endpoints[i]
		st.endpoint, st.breaker, st.attempts = ep, c.breakers.get(ep, w.Service, c.breaker), 0
		resp, err := c.try(cctx, ep, method, w)
		if err == nil {
			if !retryableStatus(resp.StatusCode) {
				return resp, nil
			}
			last = resp
			continue
		}
		cause := err
		var ue *url.Error
		if errors.As(err, &ue) {
			cause = ue.Err
		}
		failures = append(failures, EndpointFailure{Endpoint: ep, Attempts: st.attempts, Err: cause})
		var boe *BreakerOpenError
		if errors.As(cause, &boe) {
			if st.attempts == 0 {
				nRefused++
				if refused == nil || boe.RetryAfter < refused.RetryAfter {
					refused = boe
				}
			}
			continue
		}
		if ctx.Err() != nil || !transient(err) {
			break
		}
	}
	if last != nil {
		return last, nil
	}
	if nRefused > 0 && nRefused == len(failures) && ctx.Err() == nil {
		return nil, refused
	}
	ce := &CallError{Method: method, Failures: failures}
	if len(failures) > 0 {
		ce.Err = failures[len(failures)-1].Err
	}
	if err := ctx.Err(); err != nil && !errors.Is(ce.Err, err) {
		ce.Err = err
	}
	return nil, ce
}

func (c *Client) try(ctx context.Context, ep, method string, w *adapters.WireRequest) (*adapters.WireResponse, error) {
	var body any
	if len(w.Body) > 0 {
		body = w.Body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, joinURL(ep, w.Path), body)
	if err != nil {
		return nil, err
	}
	if w.Header != nil {
		// Sent as is: nothing below writes to the request's header map.
		req.Header = w.Header
	}
	resp, err := c.rc.Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, err
	}
	var b []byte
	if mb, ok := resp.Body.(*memBody); ok {
		b = mb.b
	} else {
		b, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	return &adapters.WireResponse{Endpoint: ep, StatusCode: resp.StatusCode, Header: resp.Header, Body: b}, nil
}
