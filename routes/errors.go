package routes

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/internal/resilience"
	"github.com/minfin-kz/kopir/internal/store"
)

// Problem explains err to the internal caller of route: the status and the
// words every failure maps to, in one place.
func Problem(route string, err error) *problem.Problem {
	var p *problem.Problem
	if errors.As(err, &p) {
		return p
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
		p := problem.New(ae.Status, title, ae.Detail)
		p.Field, p.Code = ae.Field, ae.Code
		return p
	}
	if errors.Is(err, store.ErrDuplicateKey) {
		// Another bus process stored the same caller and key first.
		return problem.New(http.StatusConflict, "Idempotency-Key in use", fmt.Sprintf("route %s: another call with this Idempotency-Key was stored first; repeat the call to get its result", route))
	}
	var open *resilience.BreakerOpenError
	if errors.As(err, &open) {
		p := problem.New(http.StatusServiceUnavailable, "Circuit breaker open",
			fmt.Sprintf("route %s: endpoint %s is failing and its circuit breaker is open; not calling it", route, open.Endpoint))
		p.RetryAfter = open.RetryAfter
		if p.RetryAfter <= 0 {
			p.RetryAfter = time.Second
		}
		return p
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return problem.New(http.StatusGatewayTimeout, "Agency timeout", fmt.Sprintf("route %s: %v", route, err))
	}
	return problem.New(http.StatusBadGateway, "Agency unreachable", fmt.Sprintf("route %s: %v", route, err))
}

// HTTPStatus is the status Problem would answer with; 200 for nil.
func HTTPStatus(err error) int {
	if err == nil {
		return http.StatusOK
	}
	return Problem("", err).Status
}
