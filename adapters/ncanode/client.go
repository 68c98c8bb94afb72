// Package ncanode is the NCANode signing provider: Köpir's client of the
// NCANode 3.x HTTP API (contracts/ncanode), a Signer and a Verifier that
// implement internal/xmlsig's provider interfaces with it. NCANode holds
// the cryptography Go lacks (GOST 34.310-2004 and 34.10-2015 keys issued
// by the NCA); Köpir keeps the rest: the WS-Security layout is checked
// here with xmlsig.Inspect before and after NCANode's part, so a wrapped
// or doubled signature is refused whoever computes it.
//
// It lives in adapters/ because it is called like an agency: through the
// core's layered transport (retries, per-attempt timeout, a breaker on
// NCANode's URL), which a component only gets from adapters.Resources.
// adapters/signing chooses between it and the in-process provider.
package ncanode

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/minfin-kz/kopir/adapters"
	contract "github.com/minfin-kz/kopir/contracts/ncanode"
	"github.com/minfin-kz/kopir/internal/units"
)

// Codes NCANode's failures are reported with: the problem's code on an
// outbound route, the SOAP fault's errorCode on an inbound channel.
const (
	// CodeUnreachable: no HTTP answer (connection refused, every attempt
	// timed out, NCANode's breaker open).
	CodeUnreachable = "NCANODE_UNREACHABLE"
	// CodeError: NCANode answered 5xx.
	CodeError = "NCANODE_ERROR"
	// CodeRejected: NCANode answered 4xx: the key container, its password
	// or alias, or the request itself refused.
	CodeRejected = "NCANODE_REJECTED"
	// CodeBadAnswer: an answer not of the documented shape, or a signed
	// envelope outside the gateway's signing profile.
	CodeBadAnswer = "NCANODE_BAD_ANSWER"
)

// Defaults for the calls to NCANode. Signing a SOAP envelope takes it
// milliseconds; the retries cover a restart, not a slow service.
const (
	DefaultTimeout  = 10 * time.Second
	DefaultAttempts = 2
	DefaultBackoff  = 100 * time.Millisecond
	DefaultCap      = time.Second
)

// Service says where NCANode is and how to call it: the block shared by a
// route's signing and a channel's trust when their provider is ncanode.
type Service struct {
	// URL is NCANode's base URL, e.g. http://127.0.0.1:14579; the API paths
	// are appended to it.
	URL string `yaml:"url" json:"url"`
	// Timeout bounds one attempt (default 10s); the exchange's own deadline
	// bounds them all.
	Timeout units.Duration       `yaml:"timeout" json:"timeout"`
	Retry   adapters.RetrySpec   `yaml:"retry" json:"retry"`
	Breaker adapters.BreakerSpec `yaml:"breaker" json:"breaker"`
	// RevocationCheck asks NCANode to consult OCSP and/or CRL about the
	// certificate (its revocationCheck). Empty: dates and issuer only.
	RevocationCheck []string `yaml:"revocationCheck" json:"revocationCheck"`
}

// Check refuses what cannot work, naming the field.
func (s Service) Check() error {
	u, err := url.Parse(s.URL)
	switch {
	case s.URL == "":
		return errors.New("url: NCANode's base URL is required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("url: %q is not an absolute http(s) URL", s.URL)
	}
	for i, r := range s.RevocationCheck {
		if r != contract.RevocationOCSP && r != contract.RevocationCRL {
			return fmt.Errorf("revocationCheck[%d]: %q is neither %s nor %s", i, r, contract.RevocationOCSP, contract.RevocationCRL)
		}
	}
	return nil
}

// Known reports whether any NCANode field is set, so that a block naming
// another provider can be told it carries NCANode's settings.
func (s Service) Known() bool {
	return s.URL != "" || s.Timeout != 0 || s.Retry != (adapters.RetrySpec{}) || s.Breaker != (adapters.BreakerSpec{}) || len(s.RevocationCheck) > 0
}

func (s Service) spec() adapters.TransportSpec {
	spec := adapters.TransportSpec{Endpoints: []string{s.URL}, Timeout: s.Timeout, Retry: s.Retry, Breaker: s.Breaker, Name: "ncanode"}
	if spec.Timeout <= 0 {
		spec.Timeout = units.Duration(DefaultTimeout)
	}
	if spec.Retry.Attempts <= 0 {
		spec.Retry.Attempts = DefaultAttempts
	}
	if spec.Retry.Backoff <= 0 {
		spec.Retry.Backoff = units.Duration(DefaultBackoff)
	}
	if spec.Retry.Cap <= 0 {
		spec.Retry.Cap = units.Duration(DefaultCap)
	}
	return spec
}

// Client calls NCANode's API through the core's layered transport.
type Client struct {
	t          adapters.Transport
	revocation []string
}

// NewClient builds the client with the core's transport to s.URL. Plain
// HTTP to another host is logged as a warning: a signing request carries
// the key container and its password, and an answer about a signature is
// only as trustworthy as the path it came back on.
func NewClient(s Service, res adapters.Resources) (*Client, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	if res.NewTransport == nil {
		return nil, errors.New("the core gave no outbound transport to reach NCANode with")
	}
	t, err := res.NewTransport(s.spec())
	if err != nil {
		return nil, err
	}
	if u, _ := url.Parse(s.URL); u.Scheme == "http" && !loopback(u.Hostname()) {
		res.Log().Warn("NCANode is reached over plain HTTP on another host: key containers, passwords and verdicts cross the network in clear; use https", "url", s.URL)
	}
	return &Client{t: t, revocation: slices.Clone(s.RevocationCheck)}, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Failure is a call to NCANode that gave no usable answer.
type Failure struct {
	Code   string
	Status int // NCANode's HTTP status; 0 when there was no answer
	Detail string
	// Transient failures (no answer, 5xx) may pass on another try.
	Transient bool
	// Timeout: the exchange's deadline ended the call.
	Timeout bool
}

func (f *Failure) Error() string { return f.Code + ": " + f.Detail }

// maxMessage bounds what of NCANode's error message is repeated to a
// caller or a sender.
const maxMessage = 300

// post sends in as JSON to path and decodes the answer into out.
func (c *Client) post(ctx context.Context, path string, in, out any) *Failure {
	body, err := json.Marshal(in)
	if err != nil {
		return &Failure{Code: CodeBadAnswer, Detail: "encoding the request: " + err.Error()}
	}
	// The request may carry a key container and its password: no attempt
	// of it is reported to the observer of the exchange it serves, which
	// would store the bodies with the exchange.
	ctx = adapters.WithAttemptObserver(ctx, nil)
	resp, err := c.t.Do(ctx, &adapters.WireRequest{
		Method: http.MethodPost, Path: path, Body: body,
		Header: http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}},
	})
	if err != nil {
		return &Failure{Code: CodeUnreachable, Transient: true, Timeout: errors.Is(err, context.DeadlineExceeded),
			Detail: fmt.Sprintf("NCANode did not answer POST %s: %v", path, err)}
	}
	if resp.StatusCode != http.StatusOK {
		f := &Failure{Code: CodeBadAnswer, Status: resp.StatusCode}
		switch {
		case resp.StatusCode >= 500:
			f.Code, f.Transient = CodeError, true
		case resp.StatusCode >= 400:
			f.Code = CodeRejected
		}
		f.Detail = fmt.Sprintf("NCANode answered POST %s with HTTP %d: %s", path, resp.StatusCode, message(resp.Body))
		return f
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return &Failure{Code: CodeBadAnswer, Status: resp.StatusCode, Detail: fmt.Sprintf("NCANode's answer to POST %s is not the documented JSON: %v", path, err)}
	}
	return nil
}

// message is NCANode's own explanation of an error answer, bounded.
func message(body []byte) string {
	var st contract.Status
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &st) == nil && st.Message != "" {
		msg = st.Message
		if st.Details != "" {
			msg += " (" + st.Details + ")"
		}
	}
	if msg == "" {
		return "no message"
	}
	if len(msg) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// SignWSSE signs envelope with the PKCS#12 container key (base64).
func (c *Client) SignWSSE(ctx context.Context, envelope []byte, key, password, alias string) ([]byte, *Failure) {
	var out contract.SignResponse
	if f := c.post(ctx, contract.PathWSSESign, contract.WSSESignRequest{XML: string(envelope), Key: key, Password: password, KeyAlias: alias}, &out); f != nil {
		return nil, f
	}
	if out.XML == "" {
		return nil, &Failure{Code: CodeBadAnswer, Status: http.StatusOK, Detail: "NCANode's answer to POST " + contract.PathWSSESign + " has no xml"}
	}
	return []byte(out.XML), nil
}

// VerifyWSSE verifies a signed envelope, with the revocation sources the
// service was configured to consult.
func (c *Client) VerifyWSSE(ctx context.Context, envelope []byte) (*contract.VerificationResponse, *Failure) {
	var out contract.VerificationResponse
	if f := c.post(ctx, contract.PathWSSEVerify, contract.VerifyRequest{XML: string(envelope), RevocationCheck: c.revocation}, &out); f != nil {
		return nil, f
	}
	return &out, nil
}

// CertificateInfo reports on one certificate (DER).
func (c *Client) CertificateInfo(ctx context.Context, der []byte) (*contract.VerificationResponse, *Failure) {
	var out contract.VerificationResponse
	if f := c.post(ctx, contract.PathX509Info, contract.VerifyRequest{Certs: []string{base64.StdEncoding.EncodeToString(der)}, RevocationCheck: c.revocation}, &out); f != nil {
		return nil, f
	}
	if len(out.Signers) != 1 {
		return nil, &Failure{Code: CodeBadAnswer, Status: http.StatusOK, Detail: fmt.Sprintf("NCANode described %d certificates, asked about one", len(out.Signers))}
	}
	return &out, nil
}
