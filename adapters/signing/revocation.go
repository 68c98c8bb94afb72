package signing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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
	fetch xmlsig.Fetch
}

// Provision gives the CRL downloads the core's layered transport, one per
// URL so that one distribution point's breaker never stops another's.
func (l *LocalVerifier) Provision(res adapters.Resources) error {
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

// Refreshing implements Refresher.
func (l *LocalVerifier) Refreshing() bool { return l.Trust.Refreshing() }

// RunRefresh implements Refresher.
func (l *LocalVerifier) RunRefresh(ctx context.Context, report func(error)) {
	l.Trust.RunRefresh(ctx, l.fetch, report)
}
