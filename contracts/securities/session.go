package securities

import (
	"fmt"
	"time"
)

// Settlement is how many business days after the trade a placement is
// paid for. The zero value is T+2, the usual term.
type Settlement int

const (
	T2 Settlement = iota // paid two business days after the trade date
	T0                   // paid on the trade date
)

func (s Settlement) businessDays() (int, error) {
	switch s {
	case T2:
		return 2, nil
	case T0:
		return 0, nil
	}
	return 0, fmt.Errorf("settlement %d is neither T+2 nor T+0", int(s))
}

// Session is one special trading session placing an issue at the
// exchange: the main session, or the additional one the same afternoon.
// Times are Astana's; every method takes the current time from its
// caller so tests and the mock exchange choose the clock.
type Session struct {
	TradeDate  time.Time
	Additional bool
	Settlement Settlement
}

type clock struct{ hour, minute int }

var (
	mainOpen        = clock{9, 0}
	mainClose       = clock{12, 0}
	mainCutoff      = clock{15, 0}
	additionalOpen  = clock{15, 30}
	additionalClose = clock{16, 15}
	additionalCut   = clock{17, 0}
)

func (s Session) at(c clock) time.Time {
	y, m, d := s.TradeDate.Date()
	return time.Date(y, m, d, c.hour, c.minute, 0, 0, Astana)
}

// OrderWindow is when orders are accepted: from open, inclusive, to close,
// exclusive (09:00–12:00, or 15:30–16:15 for the additional session).
func (s Session) OrderWindow() (open, close time.Time) {
	if s.Additional {
		return s.at(additionalOpen), s.at(additionalClose)
	}
	return s.at(mainOpen), s.at(mainClose)
}

// CutoffDeadline is the latest moment the issuer may announce the cut-off
// (15:00, or 17:00 for the additional session), inclusive.
func (s Session) CutoffDeadline() time.Time {
	if s.Additional {
		return s.at(additionalCut)
	}
	return s.at(mainCutoff)
}

// OrderWindowOpen reports whether an order arriving at now is in time.
func (s Session) OrderWindowOpen(now time.Time) bool {
	open, close := s.OrderWindow()
	return !now.Before(open) && now.Before(close)
}

// CutoffAllowed says whether the issuer may set the cut-off at now: not
// while orders are still accepted, and not after the deadline.
func (s Session) CutoffAllowed(now time.Time) error {
	open, close := s.OrderWindow()
	deadline := s.CutoffDeadline()
	local := now.In(Astana)
	switch {
	case now.Before(close):
		return fmt.Errorf("cut-off at %s Astana time (UTC+5) is too early: orders are accepted %s–%s on %s",
			local.Format("15:04:05"), open.Format("15:04"), close.Format("15:04"), formatDate(deadline))
	case now.After(deadline):
		return fmt.Errorf("cut-off at %s Astana time (UTC+5) on %s is too late: the deadline was %s Astana time (UTC+5) on %s",
			local.Format("15:04:05"), formatDate(local), deadline.Format("15:04"), formatDate(deadline))
	}
	return nil
}

// SettlementDate is the day the placement is paid for: the trade date
// moved forward by the settlement's business days. A trade date that is
// not a business day is refused rather than rolled, since the exchange
// does not trade on it.
func (s Session) SettlementDate(cal *Calendar) (time.Time, error) {
	n, err := s.Settlement.businessDays()
	if err != nil {
		return time.Time{}, err
	}
	if !cal.IsBusinessDay(s.TradeDate) {
		return time.Time{}, fmt.Errorf("trade date %s is not a business day", formatDate(s.TradeDate))
	}
	return cal.AddBusinessDays(s.TradeDate, n), nil
}
