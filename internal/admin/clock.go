package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/minfin-kz/kopir/internal/httpguard"
	"github.com/minfin-kz/kopir/internal/problem"
)

// ClockRequest sets a simulated clock: now (RFC 3339) or advance (a
// duration such as 90m or 26h), not both.
type ClockRequest struct {
	Now     string `json:"now"`
	Advance string `json:"advance"`
}

// ClockAnswer is the bus's time and whether it is simulated.
type ClockAnswer struct {
	Now       time.Time `json:"now"`
	Simulated bool      `json:"simulated"`
}

func (s *Server) clockNow() ClockAnswer {
	if s.Clock != nil {
		return ClockAnswer{Now: s.Clock.Now(), Simulated: true}
	}
	return ClockAnswer{Now: time.Now()}
}

func (s *Server) showClock(w http.ResponseWriter, _ *http.Request, _ string) {
	writeJSON(w, http.StatusOK, s.clockNow())
}

// setClock moves a simulated clock; the system's cannot be moved.
func (s *Server) setClock(w http.ResponseWriter, r *http.Request, op string) {
	if s.Clock == nil {
		p := problem.New(http.StatusConflict, "Clock not simulated", "the bus runs on the system clock; a simulated one is configured with clock: {simulated: true} in a demo config")
		s.Guard.Refuse(w, r, httpguard.Refusal{Caller: op}, p)
		return
	}
	var req ClockRequest
	if err := decodeBody(w, r, &req); err != nil {
		if !errors.Is(err, httpguard.ErrBodyTimeout) {
			s.badRequest(w, r, op, err)
		}
		return
	}
	switch {
	case req.Now != "" && req.Advance != "":
		s.badRequest(w, r, op, paramErr("now", "give now or advance, not both"))
		return
	case req.Now != "":
		t, err := time.Parse(time.RFC3339, req.Now)
		if err != nil {
			s.badRequest(w, r, op, paramErr("now", "%q is not an RFC 3339 time (e.g. 2026-12-01T09:00:00+05:00)", req.Now))
			return
		}
		s.Clock.Set(t)
	case req.Advance != "":
		d, err := time.ParseDuration(req.Advance)
		if err != nil {
			s.badRequest(w, r, op, paramErr("advance", "%q is not a duration (e.g. 90m, 26h)", req.Advance))
			return
		}
		if _, err := s.Clock.Advance(d); err != nil {
			s.badRequest(w, r, op, paramErr("advance", "%v", err))
			return
		}
	default:
		s.badRequest(w, r, op, paramErr("now", "give now or advance"))
		return
	}
	s.Log.Info("simulated clock moved", "admin", op, "now", s.Clock.Now())
	writeJSON(w, http.StatusOK, s.clockNow())
}
