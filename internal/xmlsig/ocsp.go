package xmlsig

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/minfin-kz/kopir/internal/units"
)

// OCSPConfig asks an OCSP responder (RFC 6960) for the signing
// certificate's status, next to or instead of CRLs. Answers are cached
// until the responder's nextUpdate (at most Cache); a responder that does
// not answer makes the status unknown, and the channel's
// onRevocationUnknown decides, as for a stale CRL.
type OCSPConfig struct {
	// URL is the responder; empty: the one each certificate names in its
	// authorityInfoAccess (a certificate naming none is of unknown status).
	URL string `yaml:"url" json:"url"`
	// Timeout bounds one request (default 5s): a responder slower than
	// that is as good as down, and only this channel's messages wait.
	Timeout units.Duration `yaml:"timeout" json:"timeout"`
	// Cache is the longest an answer is used (default 1h); an answer whose
	// nextUpdate comes sooner is used until then.
	Cache units.Duration `yaml:"cache" json:"cache"`
}

// OCSP defaults, and how long a failed query is remembered so that a
// responder that is down is asked again at most this often per
// certificate, not once per message.
const (
	DefaultOCSPTimeout = 5 * time.Second
	DefaultOCSPCache   = time.Hour
	ocspFailureTTL     = 30 * time.Second
	// ocspSkew is how far a responder's clock may be ahead of ours.
	ocspSkew = 5 * time.Minute
	// ocspMaxEntries bounds the cache: past it, expired entries go first,
	// then the oldest.
	ocspMaxEntries = 10000
)

// OCSPQuery posts a DER OCSP request to a responder URL and returns the
// DER answer. xmlsig makes no connections of its own: the caller hands it
// one built on the core's layered transport, with the timeout.
type OCSPQuery func(ctx context.Context, url string, request []byte) ([]byte, error)

// ocspChecker is a Trust's OCSP client and its cache.
type ocspChecker struct {
	url   string
	cache time.Duration
	query OCSPQuery

	mu      sync.Mutex
	entries map[string]*ocspEntry
}

// ocspEntry is one certificate's last answer, or a query in flight
// (done open) that later askers wait for instead of asking again.
type ocspEntry struct {
	done     chan struct{}
	status   int // ocsp.Good, Revoked, Unknown
	revoked  time.Time
	err      error // the query failed: status unknown
	expires  time.Time
	fetched  time.Time
	producer string // the responder asked
}

func newOCSPChecker(c *OCSPConfig) (*ocspChecker, error) {
	if c == nil {
		return nil, nil
	}
	if c.URL != "" && !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
		return nil, fmt.Errorf("xmlsig: ocsp.url: %q is not an http(s) URL", c.URL)
	}
	if c.Timeout < 0 || c.Cache < 0 {
		return nil, errors.New("xmlsig: ocsp: timeout and cache must not be negative")
	}
	cache := time.Duration(c.Cache)
	if cache == 0 {
		cache = DefaultOCSPCache
	}
	return &ocspChecker{url: c.URL, cache: cache, entries: map[string]*ocspEntry{}}, nil
}

// OCSPResponders are the responders a Trust asks: the configured URL,
// or nil when each certificate's own is asked.
func (t *Trust) OCSPResponders() []string {
	if t.ocsp == nil || t.ocsp.url == "" {
		return nil
	}
	return []string{t.ocsp.url}
}

// UsesOCSP reports whether the Trust asks OCSP responders.
func (t *Trust) UsesOCSP() bool { return t.ocsp != nil }

// SetOCSPQuery gives the Trust its way to reach responders. Until it is
// given, OCSP statuses are unknown.
func (t *Trust) SetOCSPQuery(q OCSPQuery) {
	if t.ocsp != nil {
		t.ocsp.mu.Lock()
		t.ocsp.query = q
		t.ocsp.mu.Unlock()
	}
}

// ocspStatus is cert's status as its issuer's responder gives it at now:
// revoked (refuse), unknown (the policy decides) or neither (good).
func (o *ocspChecker) status(ctx context.Context, cert, issuer *x509.Certificate, now time.Time) (unknown *Error, err error) {
	e := o.lookup(ctx, cert, issuer, now)
	switch {
	case e.err != nil:
		return fail(ReasonCRL, "OCSP status of %q unknown: %v", cert.Subject.String(), e.err), nil
	case e.status == ocsp.Revoked && !e.revoked.After(now):
		return nil, fail(ReasonRevoked, "certificate of %q (serial %s) was revoked at %s (OCSP, %s)", cert.Subject.String(), cert.SerialNumber.Text(16), e.revoked.UTC().Format(time.RFC3339), e.producer)
	case e.status == ocsp.Unknown:
		return fail(ReasonCRL, "the OCSP responder %s does not know the certificate of %q", e.producer, cert.Subject.String()), nil
	}
	return nil, nil
}

// lookup answers from the cache, or asks the responder once for all who
// ask meanwhile.
func (o *ocspChecker) lookup(ctx context.Context, cert, issuer *x509.Certificate, now time.Time) *ocspEntry {
	key := string(issuer.RawSubjectPublicKeyInfo) + "\x00" + string(cert.SerialNumber.Bytes())
	o.mu.Lock()
	e, ok := o.entries[key]
	if ok {
		select {
		case <-e.done:
			if time.Now().Before(e.expires) {
				o.mu.Unlock()
				return e
			}
		default:
			o.mu.Unlock()
			select {
			case <-e.done:
				return e
			case <-ctx.Done():
				return &ocspEntry{err: ctx.Err()}
			}
		}
	}
	e = &ocspEntry{done: make(chan struct{})}
	o.prune()
	o.entries[key] = e
	query := o.query
	o.mu.Unlock()
	o.fill(ctx, e, query, cert, issuer, now)
	close(e.done)
	return e
}

// fill asks the responder and checks its answer: signed by the issuer or
// by a responder certificate the issuer delegated OCSP signing to, about
// this certificate, and current.
func (o *ocspChecker) fill(ctx context.Context, e *ocspEntry, query OCSPQuery, cert, issuer *x509.Certificate, now time.Time) {
	e.fetched = time.Now()
	e.expires = e.fetched.Add(ocspFailureTTL)
	url := o.url
	if url == "" && len(cert.OCSPServer) > 0 {
		url = cert.OCSPServer[0]
	}
	e.producer = url
	switch {
	case url == "":
		e.err = errors.New("the certificate names no OCSP responder and none is configured")
		return
	case query == nil:
		e.err = errors.New("no way to reach the OCSP responder was given")
		return
	}
	req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		e.err = err
		return
	}
	der, err := query(ctx, url, req)
	if err != nil {
		e.err = fmt.Errorf("responder %s: %w", url, err)
		return
	}
	resp, err := ocsp.ParseResponseForCert(der, cert, issuer)
	if err != nil {
		e.err = fmt.Errorf("responder %s: %w", url, err)
		return
	}
	if rc := resp.Certificate; rc != nil && !slices.Contains(rc.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
		// Any certificate the CA issued would otherwise do, a signer's own
		// among them (RFC 6960 4.2.2.2).
		e.err = fmt.Errorf("responder %s: answer signed by %q, which the issuer did not delegate OCSP signing to", url, rc.Subject.String())
		return
	}
	switch {
	case resp.ThisUpdate.After(now.Add(ocspSkew)):
		e.err = fmt.Errorf("responder %s: answer dated %s, in the future", url, resp.ThisUpdate.UTC().Format(time.RFC3339))
		return
	case !resp.NextUpdate.IsZero() && now.After(resp.NextUpdate):
		e.err = fmt.Errorf("responder %s: answer expired at %s", url, resp.NextUpdate.UTC().Format(time.RFC3339))
		return
	}
	e.status, e.revoked = resp.Status, resp.RevokedAt
	e.expires = e.fetched.Add(o.cache)
	if !resp.NextUpdate.IsZero() {
		if until := e.fetched.Add(resp.NextUpdate.Sub(now)); until.Before(e.expires) {
			e.expires = until
		}
	}
}

// prune makes room for one more entry; the caller holds o.mu.
func (o *ocspChecker) prune() {
	if len(o.entries) < ocspMaxEntries {
		return
	}
	now := time.Now()
	var oldest string
	var oldestAt time.Time
	for k, e := range o.entries {
		select {
		case <-e.done:
		default:
			continue
		}
		if now.After(e.expires) {
			delete(o.entries, k)
			continue
		}
		if oldest == "" || e.fetched.Before(oldestAt) {
			oldest, oldestAt = k, e.fetched
		}
	}
	if len(o.entries) >= ocspMaxEntries && oldest != "" {
		delete(o.entries, oldest)
	}
}
