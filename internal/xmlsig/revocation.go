package xmlsig

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// DefaultRefresh is how often CRLs are read again when URLs are
// configured and no refresh is given: CAs publish about daily, and an
// hour bounds how long a new revocation goes unseen.
const DefaultRefresh = time.Hour

// Fetch reads a CRL from a URL. xmlsig makes no connections of its own:
// the caller hands it one built on the core's layered transport.
type Fetch func(ctx context.Context, url string) ([]byte, error)

// crlSet is one generation of revocation data. missing names the
// configured sources no good CRL has been read from yet.
type crlSet struct {
	lists   []*x509.RevocationList
	missing []string
}

// crlSource is a configured file or URL and the last good CRL read from it.
type crlSource struct {
	name  string
	isURL bool
	last  *x509.RevocationList
}

func (t *Trust) addSources(files, urls []string) error {
	set := t.crls.Load()
	for i, f := range files {
		t.sources = append(t.sources, crlSource{name: f, last: set.lists[i]})
	}
	for _, u := range urls {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return fmt.Errorf("xmlsig: crlURLs: %q is not an http(s) URL", u)
		}
		t.sources = append(t.sources, crlSource{name: u, isURL: true})
	}
	t.publish()
	return nil
}

// CRLURLs are the configured CRL distribution points.
func (t *Trust) CRLURLs() []string {
	var out []string
	for _, s := range t.sources {
		if s.isURL {
			out = append(out, s.name)
		}
	}
	return out
}

// SetRefresh sets how often RunRefresh reads the sources again.
func (t *Trust) SetRefresh(every time.Duration) { t.refresh = every }

// Refreshing reports whether the Trust has CRL sources worth reading again
// on a schedule (RunRefresh): URLs always, files when a refresh is set.
func (t *Trust) Refreshing() bool {
	for _, s := range t.sources {
		if s.isURL {
			return true
		}
	}
	return len(t.sources) > 0 && t.refresh > 0
}

// Refresh reads every CRL source again and swaps in the new set. A CRL
// that cannot be read, does not parse, is not signed by a configured CA
// or is older than the one it would replace is not taken: its source
// keeps its last good CRL. The error names every source that failed.
func (t *Trust) Refresh(ctx context.Context, fetch Fetch) error {
	t.refreshMu.Lock()
	defer t.refreshMu.Unlock()
	var errs []error
	for i := range t.sources {
		s := &t.sources[i]
		crl, err := t.read(ctx, s, fetch)
		if err != nil {
			errs = append(errs, fmt.Errorf("CRL %s: %w", s.name, err))
			continue
		}
		s.last = crl
	}
	t.publish()
	return errors.Join(errs...)
}

func (t *Trust) read(ctx context.Context, s *crlSource, fetch Fetch) (*x509.RevocationList, error) {
	var (
		b   []byte
		err error
	)
	switch {
	case !s.isURL:
		b, err = os.ReadFile(s.name)
	case fetch == nil:
		err = errors.New("no fetch function to read a URL with")
	default:
		b, err = fetch(ctx, s.name)
	}
	if err != nil {
		return nil, err
	}
	crl, err := parseCRL(b)
	if err != nil {
		return nil, err
	}
	if !signedByOneOf(crl, t.cas) {
		return nil, fmt.Errorf("issued by %q, not signed by a configured CA", crl.Issuer.String())
	}
	if s.last != nil && crl.ThisUpdate.Before(s.last.ThisUpdate) {
		return nil, fmt.Errorf("issued %s, older than the one in use (%s)", crl.ThisUpdate.UTC().Format(time.RFC3339), s.last.ThisUpdate.UTC().Format(time.RFC3339))
	}
	return crl, nil
}

func (t *Trust) publish() {
	set := &crlSet{}
	for _, s := range t.sources {
		if s.last == nil {
			set.missing = append(set.missing, s.name)
			continue
		}
		set.lists = append(set.lists, s.last)
	}
	if len(t.sources) == 0 {
		set.lists = t.crls.Load().lists
	}
	t.crls.Store(set)
}

// RunRefresh refreshes at once and then every refresh interval until ctx
// ends, reporting each outcome (nil: every source read) to report. It is
// meant to run in the background: verification reads the last good set
// and never waits for it.
func (t *Trust) RunRefresh(ctx context.Context, fetch Fetch, report func(error)) {
	every := t.refresh
	if every <= 0 {
		every = DefaultRefresh
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		report(t.Refresh(ctx, fetch))
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Revocation policies: what a verifier does with a certificate whose
// revocation status is unknown.
const (
	RevocationRefuse = "refuse" // fail closed: CERT_REVOCATION_UNKNOWN
	RevocationFlag   = "flag"   // accept, and say so in Verified
)

// ParseRevocationPolicy checks a configured policy; "" is refuse.
func ParseRevocationPolicy(v string) (string, error) {
	switch v {
	case "", RevocationRefuse:
		return RevocationRefuse, nil
	case RevocationFlag:
		return RevocationFlag, nil
	}
	return "", fmt.Errorf("%q is not a revocation policy (refuse or flag)", v)
}
