package egov

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/egov/shepsync"
)

// EnvelopeSigner signs a finished SendMessage envelope (WS-Security over
// soap:Body, see contracts/README). Signing comes in a later issue; the hook
// is here so that adding it does not change how adapters build envelopes.
type EnvelopeSigner interface {
	SignEnvelope(ctx context.Context, envelope []byte) ([]byte, error)
}

// Options is the route options block shared by SHEP-based adapters.
type Options struct {
	ServiceID string `yaml:"serviceId" json:"serviceId"`
	SenderID  string `yaml:"senderId" json:"senderId"`
	Password  string `yaml:"password" json:"password"`
}

// Sender is the SHEP identity and service one route sends as.
type Sender struct {
	ServiceID string
	SenderID  string
	Password  string
	Signer    EnvelopeSigner   // nil: unsigned
	Now       func() time.Time // nil: time.Now
}

// NewSender checks the options a SHEP call cannot go without, so a bad
// route fails at start-up rather than on its first call.
func NewSender(o Options) (*Sender, error) {
	switch {
	case strings.TrimSpace(o.ServiceID) == "":
		return nil, errors.New("options.serviceId is required")
	case strings.TrimSpace(o.SenderID) == "":
		return nil, errors.New("options.senderId is required")
	}
	return &Sender{ServiceID: o.ServiceID, SenderID: o.SenderID, Password: o.Password}, nil
}

// Wire builds the HTTP request for one call. The SHEP messageId is the bus's
// MessageID, so a retried attempt carries the same id and the gateway (or a
// mock) can tell a repeat from a new message.
func (s *Sender) Wire(ctx context.Context, req *adapters.Request, data Payload) (*adapters.WireRequest, error) {
	id := req.MessageID
	if id == "" {
		id = uuid.NewString()
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	body, err := MarshalSendMessage(&Request{
		Info: NewInfo(id, req.CorrelationID, s.ServiceID, s.SenderID, s.Password, now()),
		Data: data,
	})
	if err != nil {
		return nil, fmt.Errorf("egov: building SendMessage: %w", err)
	}
	if s.Signer != nil {
		if body, err = s.Signer.SignEnvelope(ctx, body); err != nil {
			return nil, fmt.Errorf("egov: signing SendMessage: %w", err)
		}
	}
	return &adapters.WireRequest{
		Method: http.MethodPost,
		Header: http.Header{"Content-Type": {"text/xml; charset=utf-8"}, "Soapaction": {`""`}},
		Body:   body,
	}, nil
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
// ParseSendMessage), and turns anything but a successful SendMessageResponse
// into *adapters.Error.
func Decode(resp *adapters.WireResponse, data any) (*shepsync.SyncMessageInfoResponse, error) {
	info, err := ParseResponse(resp.Body, data)
	if err != nil {
		return nil, wireError(resp.StatusCode, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, httpError(resp.StatusCode, "with a SendMessageResponse")
	}
	if info.Status == nil || info.Status.Code != StatusSuccess {
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
func FaultError(f *Fault) *adapters.Error {
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
	e.Retryable = RetryableFaults[e.Code]
	return e
}

func wireError(status int, err error) error {
	var f *Fault
	if errors.As(err, &f) {
		return FaultError(f)
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
