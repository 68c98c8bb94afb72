package mocks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Fault is the misbehaviour injected into one mock.
type Fault struct {
	// FailRate is the fraction of calls answered with Status (or, with
	// SOAPFault, a SOAP Fault) instead of the real answer.
	FailRate float64 `json:"failRate"`
	// Status of a failed call; default 503.
	Status int `json:"status"`
	// LatencyMs is added to every call.
	LatencyMs int `json:"latencyMs"`
	// TimeoutRate is the fraction of calls that never answer: they hang
	// until the client gives up (or MaxHang, then 504).
	TimeoutRate float64 `json:"timeoutRate"`
	// SOAPFault makes the failures of mocks that speak SOAP (the SHEP
	// gateway and the registries behind it) SOAP Faults (HTTP 500, errorCode
	// MOCK_INJECTED_FAULT) rather than a bare HTTP status.
	SOAPFault bool `json:"soapFault"`
}

func parseFault(r io.Reader) (*Fault, error) {
	var f Fault
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("fault: %w", err)
	}
	switch {
	case f.FailRate < 0 || f.FailRate > 1:
		return nil, errors.New("fault: failRate must be within 0..1")
	case f.TimeoutRate < 0 || f.TimeoutRate > 1:
		return nil, errors.New("fault: timeoutRate must be within 0..1")
	case f.FailRate+f.TimeoutRate > 1:
		return nil, errors.New("fault: failRate + timeoutRate must not exceed 1")
	case f.LatencyMs < 0 || f.LatencyMs > 600_000:
		return nil, errors.New("fault: latencyMs must be within 0..600000")
	case f.Status != 0 && (f.Status < 400 || f.Status > 599):
		return nil, errors.New("fault: status must be a 4xx or 5xx code")
	}
	if f.Status == 0 {
		f.Status = http.StatusServiceUnavailable
	}
	return &f, nil
}

// Outcome is what fault injection decided for one call.
type Outcome int

const (
	Pass Outcome = iota // answer normally
	Fail                // answer with the fault's status
	Hung                // never answered; the client gave up or MaxHang passed
)

// Inject applies the mock's fault to one call: it waits the latency and
// decides the outcome. A hang is served here, so the caller only has to
// answer 504 (WriteHung).
func (m *Mock) Inject(ctx context.Context) (Outcome, *Fault) {
	f := m.fault.Load()
	if f == nil {
		return Pass, nil
	}
	if f.LatencyMs > 0 && !sleep(ctx, time.Duration(f.LatencyMs)*time.Millisecond) {
		return Hung, f
	}
	if f.FailRate == 0 && f.TimeoutRate == 0 {
		return Pass, f
	}
	u := m.draw()
	switch {
	case u < f.TimeoutRate:
		sleep(ctx, m.srv.opts.MaxHang)
		return Hung, f
	case u < f.TimeoutRate+f.FailRate:
		return Fail, f
	}
	return Pass, f
}

// Admit applies the mock's fault to the call r and records it under key
// as failed or passed: true means the call is to be answered normally. A
// hang is answered by WriteHung, a failure by fail, which answers in the
// agency's own words with the fault's status (nil: a plain-text
// "mock: injected failure"). A nil *Mock, a mock served
// alone without the control API, admits every call.
func (m *Mock) Admit(w http.ResponseWriter, r *http.Request, key string, fail func(w http.ResponseWriter, f *Fault)) bool {
	if m == nil {
		return true
	}
	o, f := m.Inject(r.Context())
	m.Record(key, o == Pass)
	switch o {
	case Hung:
		WriteHung(w, r)
		return false
	case Fail:
		if fail == nil {
			http.Error(w, "mock: injected failure", f.Status)
		} else {
			fail(w, f)
		}
		return false
	}
	return true
}

// draw returns the call's number in [0,1) from a counter hashed with the
// seed: reproducible for a given seed and call order, and lock-free.
func (m *Mock) draw() float64 {
	return float64(splitmix64(m.seed+m.calls.Add(1)*0x9e3779b97f4a7c15)>>11) / (1 << 53)
}

func splitmix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// WriteHung answers a call that hung for MaxHang; if the client is gone
// there is nobody to answer.
func WriteHung(w http.ResponseWriter, r *http.Request) {
	if r.Context().Err() == nil {
		http.Error(w, "mock: simulated timeout", http.StatusGatewayTimeout)
	}
}

// MaxBody is the most of a request body a mock reads.
const MaxBody = 1 << 20

// ReadBody reads at most limit bytes of the request body into a buffer
// sized from Content-Length.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= limit {
		buf.Grow(int(n) + 1)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	return buf.Bytes(), err
}
