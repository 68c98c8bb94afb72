package problem

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/resilience"
	"github.com/minfin-kz/kopir/routes"
)

// pipelineProblems gives each refusal of the route pipeline its status and
// title; its type is urn:kopir:problem:<kind>.
var pipelineProblems = map[routes.Kind]struct {
	status int
	title  string
}{
	routes.KindInProgress:        {http.StatusConflict, "Idempotency-Key in progress"},
	routes.KindKeyReused:         {http.StatusUnprocessableEntity, "Idempotency-Key reused"},
	routes.KindKeyTaken:          {http.StatusConflict, "Idempotency-Key in use"},
	routes.KindEarlierFailed:     {http.StatusConflict, "Earlier call with this Idempotency-Key failed"},
	routes.KindResultExpired:     {http.StatusConflict, "Idempotent result no longer held"},
	routes.KindBusy:              {http.StatusServiceUnavailable, "Route busy"},
	routes.KindRateLimited:       {http.StatusServiceUnavailable, "Rate limit reached"},
	routes.KindStoreUnavailable:  {http.StatusServiceUnavailable, "Message store unavailable"},
	routes.KindBrokerUnavailable: {http.StatusServiceUnavailable, "Broker unavailable"},
}

// From explains err to the internal caller of route: the status and the
// words every failure maps to, in one place.
func From(route string, err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var re *routes.Error
	if errors.As(err, &re) {
		def, ok := pipelineProblems[re.Kind]
		if !ok {
			def.status, def.title = http.StatusInternalServerError, "Internal error"
		}
		return &Problem{Type: "urn:kopir:problem:" + string(re.Kind), Title: def.title, Status: def.status,
			Detail: re.Error(), Field: re.Field, MessageID: re.MessageID, RetryAfter: re.RetryAfter, Differs: re.Differs}
	}
	var ae *adapters.Error
	if errors.As(err, &ae) {
		title := http.StatusText(ae.Status)
		switch {
		case ae.Field != "":
			title = "Invalid request field"
		case ae.Code != "":
			title = "Agency error"
		}
		p := New(ae.Status, title, ae.Detail)
		p.Field, p.Code = ae.Field, ae.Code
		return p
	}
	var open *resilience.BreakerOpenError
	if errors.As(err, &open) {
		p := New(http.StatusServiceUnavailable, "Circuit breaker open",
			fmt.Sprintf("route %s: endpoint %s is failing and its circuit breaker is open; not calling it", route, open.Endpoint))
		p.RetryAfter = open.RetryAfter
		if p.RetryAfter <= 0 {
			p.RetryAfter = time.Second
		}
		return p
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return New(http.StatusGatewayTimeout, "Agency timeout", fmt.Sprintf("route %s: %v", route, err))
	}
	return New(http.StatusBadGateway, "Agency unreachable", fmt.Sprintf("route %s: %v", route, err))
}

// StoreUnavailable answers a request whose message the store could not
// read or write: the message id, and nothing of the store's own words,
// which belong in the log.
func StoreUnavailable(messageID string) *Problem {
	return &Problem{Type: "urn:kopir:problem:" + string(routes.KindStoreUnavailable), Title: pipelineProblems[routes.KindStoreUnavailable].title,
		Status: http.StatusServiceUnavailable, Detail: "the message store could not be reached; repeat the request later",
		MessageID: messageID, RetryAfter: time.Second}
}
