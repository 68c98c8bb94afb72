// Package adapters defines the one small interface every agency adapter
// implements and the registry adapters add themselves to. The bus core only
// ever talks to this package; it never imports a concrete adapter (the
// binary pulls them in through adapters/all, like Caddy's standard modules).
//
// A component is built once, by its factory, from its config block and the
// Resources the core gives it; if it holds anything open it implements
// io.Closer and the core closes it on shutdown.
package adapters

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Request is one internal call as the adapter sees it: the caller's JSON and
// the identifiers the bus assigned to it.
type Request struct {
	Route          string
	Operation      string
	MessageID      string // the bus's id for the exchange (UUID)
	CorrelationID  string
	IdempotencyKey string
	Body           json.RawMessage
	// ExternalID may be set by Validate or Encode to the business id the
	// agency will refer back to (an ISO 20022 end-to-end id, a SHEP
	// messageId); the store indexes it so later messages can be matched.
	ExternalID string
	// Subject may be set by Validate or Encode to the business object the
	// call is about (a security's ISIN): the store indexes it, so that
	// every message about one object, whichever route carried it, can be
	// listed (Intake.About, the admin API's subject filter).
	Subject string
	// Parsed may be set by Validate to what it made of Body, so that
	// Encode and Decode of the same call need not parse it again. It is
	// the adapter's own: nil when Validate did not run (a replay, a held
	// message resubmitted), so an adapter that reads it checks its type
	// and parses Body otherwise.
	Parsed any
}

// WireRequest is what goes to the agency. Endpoint is filled in by the core
// (from the route's endpoints) unless the adapter sets a path to append.
type WireRequest struct {
	Method string // POST when empty
	Path   string // appended to the endpoint URL
	Header http.Header
	Body   []byte
	// Service names the service behind a shared endpoint the request is
	// for (a SHEP serviceId behind the gateway URL); see Transport.
	Service string
}

// WireResponse is what came back from the agency.
type WireResponse struct {
	Endpoint   string
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Response is the internal JSON answer.
type Response struct {
	Body json.RawMessage
	// CacheTTL, when positive, shortens how long a route with a cacheTTL
	// keeps this answer: an answer about today may change within minutes
	// where one about a past day does not. It never lengthens the route's
	// cacheTTL.
	CacheTTL time.Duration
}

// Adapter translates an internal call onto one agency contract and back.
// The call in between is made by the core, through its retry, breaker and
// audit layers, so adapters never make HTTP calls of their own.
type Adapter interface {
	Encode(ctx context.Context, req *Request) (*WireRequest, error)
	Decode(ctx context.Context, req *Request, resp *WireResponse) (*Response, error)
}

// Conversation is implemented by adapters whose operation is more than one
// request and one response. The core then hands the whole exchange over,
// still through its layered Transport.
type Conversation interface {
	Converse(ctx context.Context, req *Request, t Transport) (*Response, error)
}

// Validator is implemented by adapters that can reject a request before it
// leaves the bus (bad IIN, missing field). Errors should be *Error with
// Status 400 or 422 and Field set. Validate may replace req.Body by the
// request's canonical form (defaults filled in, keys in one order): the
// layers after it — the response cache keys on the body — and the record
// then see one body for requests that mean the same.
type Validator interface {
	Validate(ctx context.Context, req *Request) error
}

// Error is a failure an adapter can explain: a field the caller got wrong,
// or what the agency answered. The core turns it into problem+json.
type Error struct {
	Status    int    // HTTP status for the internal caller: 400, 422, 502, 504…
	Field     string // JSON pointer-ish name of the offending field, if any
	Code      string // agency or validation code, e.g. SHEP errorCode
	Detail    string
	Retryable bool // a transient agency failure worth another attempt
	// Configuration marks a failure no message can get past until an
	// operator changes the deployment (a receiver that refuses bodies of
	// this size, say): not retried, and reported as a configuration error.
	Configuration bool
}

func (e *Error) Error() string {
	switch {
	case e.Field != "":
		return fmt.Sprintf("%s: %s", e.Field, e.Detail)
	case e.Code != "":
		return fmt.Sprintf("agency error %s: %s", e.Code, e.Detail)
	}
	return e.Detail
}

// Invalid returns a 422 naming the field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Field: field, Detail: fmt.Sprintf(format, args...)}
}

// SchemaProvider is implemented by adapters whose internal JSON is derived
// from a published schema: the internal API serves what Schemas returns
// (JSON Schema documents of the request and the response) at
// GET /v1/routes/{route}/schema.
type SchemaProvider interface {
	Schemas() (request, response json.RawMessage)
}

// HTTPFailure is an agency's answer with a failing HTTP status as the
// caller's error, for an adapter that has decided the status is one: a
// 5xx may pass and is retried; any other is the agency refusing this
// message, which a resend would not change. what names the message ("the
// message", "the document"); the detail carries the start of the agency's
// own words.
func HTTPFailure(agency, what string, resp *WireResponse) *Error {
	detail := strings.TrimSpace(string(resp.Body))
	if len(detail) > 500 {
		detail = detail[:500] + "…"
	}
	code := fmt.Sprintf("HTTP_%d", resp.StatusCode)
	if resp.StatusCode >= 500 {
		return &Error{Status: http.StatusBadGateway, Code: code, Detail: agency + ": " + detail, Retryable: true}
	}
	return &Error{Status: http.StatusBadGateway, Code: code, Detail: agency + " refused " + what + ": " + detail}
}
