// Package egov is Köpir's SHEP client and its two generic adapters. Sender
// turns a bus request into a SendMessage or AsyncChannel envelope, signed
// when the route has a key, and the gateway's answer or fault into the
// bus's response or *adapters.Error. The "egov" adapter passes any
// SyncChannel service through; "egov-async" runs an AsyncChannel
// conversation. Registry adapters (gbdfl, gbdul) use Sender and only
// produce and consume what travels inside requestData/data and
// responseData/data; the wire format itself is contracts/egov-shep/shep.
package egov

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/signing"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepsync"
)

// Options is the route options block shared by SHEP-based adapters.
type Options struct {
	ServiceID string `yaml:"serviceId" json:"serviceId"`
	SenderID  string `yaml:"senderId" json:"senderId"`
	// Password is the SHEP sender password; PasswordEnv names an
	// environment variable holding it instead, so it stays out of the YAML.
	Password    string `yaml:"password" json:"password"`
	PasswordEnv string `yaml:"passwordEnv" json:"passwordEnv"`
	// Properties are sent in every requestInfo (key ≤30, value ≤500 chars),
	// e.g. what the provider agreed with the ministry.
	Properties map[string]string `yaml:"properties" json:"properties"`
	// Signing is the key the envelopes are signed with, and who signs
	// with it (provider local or ncanode, see adapters/signing); absent:
	// unsigned.
	Signing *signing.Config `yaml:"signing" json:"signing"`
	// RetryableFaults are SHEP errorCodes this route retries, on top of
	// RetryableFaults; every other SOAP fault is final.
	RetryableFaults []string `yaml:"retryableFaults" json:"retryableFaults"`
}

// Sender is the SHEP identity and service one route sends as.
type Sender struct {
	ServiceID  string
	SenderID   string
	Password   string
	Properties []*shepsync.Property // sorted by key
	Signer     shep.EnvelopeSigner  // nil: unsigned
	Now        func() time.Time     // nil: time.Now
	// Retryable adds route-specific transient errorCodes.
	Retryable map[string]bool
}

// NewSender checks the options a SHEP call cannot go without and loads
// the signing key, so a bad route fails at start-up rather than on its
// first call.
func NewSender(o Options) (*Sender, error) {
	switch {
	case strings.TrimSpace(o.ServiceID) == "":
		return nil, errors.New("options.serviceId is required")
	case strings.TrimSpace(o.SenderID) == "":
		return nil, errors.New("options.senderId is required")
	case o.Password != "" && o.PasswordEnv != "":
		return nil, errors.New("options: give password or passwordEnv, not both")
	}
	s := &Sender{ServiceID: o.ServiceID, SenderID: o.SenderID, Password: o.Password}
	if o.PasswordEnv != "" {
		v, ok := os.LookupEnv(o.PasswordEnv)
		if !ok {
			return nil, fmt.Errorf("options.passwordEnv: environment variable %s is not set", o.PasswordEnv)
		}
		s.Password = v
	}
	props, err := Properties(o.Properties)
	if err != nil {
		return nil, fmt.Errorf("options.properties: %w", err)
	}
	s.Properties = props
	for _, c := range o.RetryableFaults {
		if s.Retryable == nil {
			s.Retryable = map[string]bool{}
		}
		s.Retryable[c] = true
	}
	if o.Signing != nil {
		signer, err := signing.NewSigner(*o.Signing)
		if err != nil {
			return nil, fmt.Errorf("options.signing: %w", err)
		}
		s.Signer = signer
	}
	return s, nil
}

// Provision gives the signing provider the core's resources: a provider
// that is a service of its own (NCANode) gets its layered transport here.
// Every factory that builds a Sender calls it.
func (s *Sender) Provision(res adapters.Resources) error {
	if err := signing.Provision(s.Signer, res); err != nil {
		return fmt.Errorf("options.signing: %w", err)
	}
	s.Signer = signing.Traced(s.Signer, res.Trace())
	return nil
}

// Properties turns a key/value map into requestInfo properties, checking
// the schema's lengths (key ≤30, value ≤500 characters).
func Properties(m map[string]string) ([]*shepsync.Property, error) {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		switch {
		case k == "" || utf8.RuneCountInString(k) > 30:
			return nil, fmt.Errorf("property key %q must be 1-30 characters", k)
		case utf8.RuneCountInString(v) > 500:
			return nil, fmt.Errorf("property %q: value longer than 500 characters", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*shepsync.Property, len(keys))
	for i, k := range keys {
		out[i] = &shepsync.Property{Key: k, Value: m[k]}
	}
	return out, nil
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// sign applies the route's signer, if any.
func (s *Sender) sign(ctx context.Context, env []byte) ([]byte, error) {
	if s.Signer == nil {
		return env, nil
	}
	b, err := s.Signer.SignEnvelope(ctx, env)
	if err != nil {
		return nil, fmt.Errorf("egov: signing: %w", err)
	}
	return b, nil
}

// soapRequest wraps an envelope for the core's transport. The serviceId
// keys the breaker: every service behind the gateway shares its URL, and
// one registry's outage must not cut the others off.
func (s *Sender) soapRequest(body []byte) *adapters.WireRequest {
	return &adapters.WireRequest{
		Method:  http.MethodPost,
		Header:  http.Header{"Content-Type": {"text/xml; charset=utf-8"}, "Soapaction": {`""`}},
		Body:    body,
		Service: s.ServiceID,
	}
}

// Send signs a finished envelope, when the route has a key, and posts it
// through t, for exchanges that are not one SendMessage (AsyncChannel
// operations, a poller's calls).
func (s *Sender) Send(ctx context.Context, t adapters.Transport, env []byte) (*adapters.WireResponse, error) {
	env, err := s.sign(ctx, env)
	if err != nil {
		return nil, err
	}
	return t.Do(ctx, s.soapRequest(env))
}

// Wire builds the HTTP request for one call. The SHEP messageId is the bus's
// MessageID, so a retried attempt carries the same id and the gateway (or a
// mock) can tell a repeat from a new message.
func (s *Sender) Wire(ctx context.Context, req *adapters.Request, data shep.Payload) (*adapters.WireRequest, error) {
	return s.WireProps(ctx, req, data, nil)
}

// WireProps is Wire with per-call properties added to the route's.
func (s *Sender) WireProps(ctx context.Context, req *adapters.Request, data shep.Payload, extra []*shepsync.Property) (*adapters.WireRequest, error) {
	id := req.MessageID
	if id == "" {
		id = uuid.NewString()
	}
	info := shep.NewInfo(id, req.CorrelationID, s.ServiceID, s.SenderID, s.Password, s.now())
	if len(s.Properties)+len(extra) > 0 {
		info.Properties = append(append(make([]*shepsync.Property, 0, len(s.Properties)+len(extra)), s.Properties...), extra...)
	}
	body, err := shep.MarshalSendMessage(&shep.Request{Info: info, Data: data})
	if err != nil {
		return nil, fmt.Errorf("egov: building SendMessage: %w", err)
	}
	if body, err = s.sign(ctx, body); err != nil {
		return nil, err
	}
	return s.soapRequest(body), nil
}

// RetryableFaults lists SHEP errorCodes worth another attempt. It is empty:
// SHEP publishes no error codes, and a fault is a deliberate answer from the
// gateway or the provider, so retrying blindly could repeat a call that was
// acted on, while a fault on a bad request would only fail again. Add a code
// here (at init, before serving) once operators have seen it to be transient.
// Transport failures (HTTP 429 or 5xx without a SOAP envelope) are retryable
// regardless.
var RetryableFaults = map[string]bool{}

// Decode unwraps a SHEP answer, decoding responseData/data into data (see
// shep.ParseSendMessage), and turns anything but a successful SendMessageResponse
// into *adapters.Error.
func Decode(resp *adapters.WireResponse, data any) (*shepsync.SyncMessageInfoResponse, error) {
	return decode(resp, data, nil)
}

// Decode is the package Decode with the route's own transient codes.
func (s *Sender) Decode(resp *adapters.WireResponse, data any) (*shepsync.SyncMessageInfoResponse, error) {
	return decode(resp, data, s.Retryable)
}

func decode(resp *adapters.WireResponse, data any, retryable map[string]bool) (*shepsync.SyncMessageInfoResponse, error) {
	info, err := shep.ParseResponse(resp.Body, data)
	if err != nil {
		return nil, wireError(resp.StatusCode, err, retryable)
	}
	if resp.StatusCode/100 != 2 {
		return nil, httpError(resp.StatusCode, "with a SendMessageResponse")
	}
	if info.Status == nil || info.Status.Code != shep.StatusSuccess {
		code, msg := "", ""
		if info.Status != nil {
			code, msg = info.Status.Code, info.Status.Message
		}
		return nil, &adapters.Error{Status: http.StatusBadGateway, Code: code,
			Detail: fmt.Sprintf("SHEP response status %q: %s", code, msg)}
	}
	return info, nil
}

// FaultError maps a SOAP Fault to the bus's error. The SHEP errorCode is
// kept as Code so callers and operators can search for it.
func FaultError(f *shep.Fault) *adapters.Error { return faultError(f, nil) }

func faultError(f *shep.Fault, retryable map[string]bool) *adapters.Error {
	e := &adapters.Error{Status: http.StatusBadGateway}
	if i := f.Detail.Info; i != nil && i.ErrorCode != "" {
		e.Code = i.ErrorCode
		var b strings.Builder
		b.WriteString(i.ErrorMessage)
		// subError carries the provider's own reason behind SHEP's; the
		// depth cap guards against a pathological chain.
		for sub, n := i.SubError, 0; sub != nil && n < 4; sub, n = sub.SubError, n+1 {
			fmt.Fprintf(&b, "; %s: %s", sub.ErrorCode, sub.ErrorMessage)
		}
		e.Detail = b.String()
	} else {
		e.Code = "SOAP_FAULT"
		e.Detail = strings.TrimSpace(f.Code + ": " + f.String)
	}
	e.Retryable = RetryableFaults[e.Code] || retryable[e.Code]
	return e
}

func wireError(status int, err error, retryable map[string]bool) error {
	var f *shep.Fault
	if errors.As(err, &f) {
		return faultError(f, retryable)
	}
	if status/100 != 2 {
		return httpError(status, "without a SOAP envelope")
	}
	return &adapters.Error{Status: http.StatusBadGateway, Code: "SHEP_BAD_RESPONSE",
		Detail: "unreadable SHEP response: " + err.Error()}
}

// httpError is a failure below SOAP: proxies, overload, a gateway restart.
// Those are the transient ones.
func httpError(status int, what string) *adapters.Error {
	return &adapters.Error{
		Status:    http.StatusBadGateway,
		Code:      fmt.Sprintf("HTTP_%d", status),
		Detail:    fmt.Sprintf("SHEP answered HTTP %d %s", status, what),
		Retryable: status == http.StatusTooManyRequests || status >= 500,
	}
}
