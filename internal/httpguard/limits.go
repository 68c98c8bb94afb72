package httpguard

import (
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/minfin-kz/kopir/internal/problem"
)

// LimitListener caps the requests in flight on the listener: past
// maxConcurrent a request is answered 503 with Retry-After at once,
// instead of queueing behind the others.
func (l *Listener) LimitListener(next http.Handler) http.Handler {
	limit := int64(l.Limits.MaxConcurrent)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer l.inFlight.Add(-1)
		if l.inFlight.Add(1) > limit {
			l.busy(w, "busy", fmt.Sprintf("the %s listener has %d requests in flight, its limit; repeat the request later", l.Name, limit))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// LimitClient caps the requests in flight from one client address, so that
// one client (a slow one, or a flood) cannot take the whole listener.
// The address is the connection's: a proxy in front of the bus would make
// all its clients one.
func (l *Listener) LimitClient(next http.Handler) http.Handler {
	limit := l.Limits.MaxPerClient
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := clientAddr(r)
		if !l.clients.take(addr, limit) {
			l.busy(w, "client-busy", fmt.Sprintf("your address has %d requests in flight on the %s listener, its limit; repeat the request later", limit, l.Name))
			return
		}
		defer l.clients.give(addr)
		next.ServeHTTP(w, r)
	})
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// busy answers 503 past a cap. It is neither recorded nor logged above
// debug: a flood must not become as many store writes or log lines; the
// metric kopir_http_refused_total counts it.
func (l *Listener) busy(w http.ResponseWriter, reason, detail string) {
	l.count(reason)
	l.Log.Debug("request refused past a listener cap", "listener", l.Name, "reason", reason)
	p := problem.New(http.StatusServiceUnavailable, "Too many requests in flight", detail)
	p.RetryAfter = l.Limits.RetryAfter.D()
	problem.Write(w, p)
}

// clientCounts is the requests in flight per client address.
type clientCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *clientCounts) take(addr string, limit int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	if c.n[addr] >= limit {
		return false
	}
	c.n[addr]++
	return true
}

func (c *clientCounts) give(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[addr]--; c.n[addr] <= 0 {
		delete(c.n, addr)
	}
}

// Head refuses a request whose URI or headers are over the limits before
// any handler reads them: 414 or 431 naming the largest header, recorded
// with what it took bounded.
func (l *Listener) Head(next http.Handler) http.Handler {
	maxURI, maxHeader := int(l.Limits.MaxURIBytes), int(l.Limits.MaxHeaderBytes)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := len(r.RequestURI); n > maxURI {
			l.count("uri-too-long")
			l.Refuse(w, r, Refusal{}, problem.New(http.StatusRequestURITooLong, "URI too long",
				fmt.Sprintf("the request URI is %d bytes; at most %d are accepted", n, maxURI)))
			return
		}
		total, largest, largestSize := 0, "", 0
		for name, values := range r.Header {
			size := 0
			for _, v := range values {
				size += len(name) + len(v) + 4 // ": " and CRLF
			}
			total += size
			if size > largestSize {
				largest, largestSize = name, size
			}
		}
		if total > maxHeader {
			l.count("headers-too-large")
			p := problem.New(http.StatusRequestHeaderFieldsTooLarge, "Request headers too large",
				fmt.Sprintf("the headers are %d bytes (%s alone %d); at most %d are accepted", total, largest, largestSize, maxHeader))
			p.Field = largest
			l.Refuse(w, r, Refusal{}, p)
			return
		}
		next.ServeHTTP(w, r)
	})
}
