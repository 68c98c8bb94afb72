package signing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/units"
	"github.com/minfin-kz/kopir/internal/xmlsig"
)

// crlFetchTimeout bounds one CRL download. A CA's CRL is at most a few
// megabytes; a distribution point slower than this is as good as down,
// and the last good CRL stays in use meanwhile.
const crlFetchTimeout = 30 * time.Second

// Refresher is a verification provider whose revocation data is read
// again in the background: the channel runs RunRefresh under its own
// lifecycle, and verification never waits for it.
type Refresher interface {
	// Refreshing reports whether there is anything to refresh.
	Refreshing() bool
	// RunRefresh refreshes at once and then on schedule until ctx ends,
	// reporting each round's outcome (nil: every source read).
	RunRefresh(ctx context.Context, report func(error))
}

// LocalVerifier is the local provider: xmlsig in process, with its CRLs
// refreshed from files and URLs once provisioned.
type LocalVerifier struct {
	xmlsig.LocalVerifier
	fetch       xmlsig.Fetch
	ocspTimeout time.Duration
}

// Provision gives the CRL downloads and the OCSP queries the core's
// layered transport, one per URL so that one distribution point's or
// responder's breaker never stops another's.
func (l *LocalVerifier) Provision(res adapters.Resources) error {
	if err := l.provisionOCSP(res); err != nil {
		return err
	}
	urls := l.Trust.CRLURLs()
	if len(urls) == 0 {
		return nil
	}
	if res.NewTransport == nil {
		return errors.New("crlURLs: the core gave no outbound transport")
	}
	transports := map[string]adapters.Transport{}
	for _, u := range urls {
		// Two tries per round: the next round is the real retry.
		t, err := res.NewTransport(adapters.TransportSpec{Endpoints: []string{u}, Timeout: units.Duration(crlFetchTimeout),
			Retry: adapters.RetrySpec{Attempts: 2}, Name: "crl"})
		if err != nil {
			return fmt.Errorf("crlURLs: %s: %w", u, err)
		}
		transports[u] = t
	}
	l.fetch = func(ctx context.Context, url string) ([]byte, error) {
		t, ok := transports[url]
		if !ok {
			return nil, fmt.Errorf("%s is not a configured CRL URL", url)
		}
		resp, err := t.Do(ctx, &adapters.WireRequest{Method: http.MethodGet})
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("answered HTTP %d", resp.StatusCode)
		}
		return resp.Body, nil
	}
	return nil
}

// provisionOCSP hands the Trust its way to OCSP responders: a transport
// per responder, made when the responder is first asked (a certificate
// names its own), with one try per query — a message waits at most the
// timeout, and the failure is remembered for a while rather than retried
// — and a breaker, so a responder that is down costs nothing while open.
func (l *LocalVerifier) provisionOCSP(res adapters.Resources) error {
	if !l.Trust.UsesOCSP() {
		return nil
	}
	if res.NewTransport == nil {
		return errors.New("ocsp: the core gave no outbound transport")
	}
	timeout := l.ocspTimeout
	if timeout <= 0 {
		timeout = xmlsig.DefaultOCSPTimeout
	}
	queries, err := newOCSPMetrics(res)
	if err != nil {
		return fmt.Errorf("ocsp: metrics: %w", err)
	}
	var (
		mu         sync.Mutex
		transports = map[string]adapters.Transport{}
	)
	transport := func(url string) (adapters.Transport, error) {
		mu.Lock()
		defer mu.Unlock()
		if t, ok := transports[url]; ok {
			return t, nil
		}
		if len(transports) >= maxOCSPResponders {
			return nil, fmt.Errorf("more than %d OCSP responders named by certificates", maxOCSPResponders)
		}
		t, err := res.NewTransport(adapters.TransportSpec{Endpoints: []string{url}, Timeout: units.Duration(timeout),
			Retry: adapters.RetrySpec{Attempts: 1}, Name: "ocsp"})
		if err != nil {
			return nil, err
		}
		transports[url] = t
		return t, nil
	}
	for _, u := range l.Trust.OCSPResponders() {
		if _, err := transport(u); err != nil {
			return fmt.Errorf("ocsp.url: %s: %w", u, err)
		}
	}
	l.Trust.SetOCSPQuery(func(ctx context.Context, url string, req []byte) ([]byte, error) {
		t, err := transport(url)
		if err == nil {
			var resp *adapters.WireResponse
			resp, err = t.Do(ctx, &adapters.WireRequest{Method: http.MethodPost, Body: req,
				Header: http.Header{"Content-Type": {"application/ocsp-request"}, "Accept": {"application/ocsp-response"}}})
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("answered HTTP %d", resp.StatusCode)
			}
			if err == nil {
				queries.count(url, "answered")
				return resp.Body, nil
			}
		}
		queries.count(url, "failed")
		return nil, err
	})
	return nil
}

// maxOCSPResponders bounds the transports made for responders that
// certificates name: each is a breaker and a connection pool, and only a
// CA decides what its certificates name.
const maxOCSPResponders = 64

// Refreshing implements Refresher.
func (l *LocalVerifier) Refreshing() bool { return l.Trust.Refreshing() }

// RunRefresh implements Refresher.
func (l *LocalVerifier) RunRefresh(ctx context.Context, report func(error)) {
	l.Trust.RunRefresh(ctx, l.fetch, report)
}
