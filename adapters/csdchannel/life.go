package csdchannel

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/csd"
	"github.com/minfin-kz/kopir/contracts/securities"
)

// DefaultPlacementRoutes are the routes whose messages announce a
// placement of an issue at the exchange (deploy/local.yaml's).
var DefaultPlacementRoutes = []string{"securities.announce-placement"}

// Events the exchange's channel writes on an announcement's trail
// (adapters/kasechannel); read here by name, since the two channels share
// nothing but the store's record.
const (
	eventDemandSummary = "KASE_DEMAND_SUMMARY"
	eventAuctionResult = "KASE_AUCTION_RESULT"
)

// Life is an issue's whole life as the bus recorded it: its
// registration, its placements, what settled, the coupons paid and due,
// and every message about it with its audit trail.
type Life struct {
	ISIN         string        `json:"isin"`
	TradeCode    string        `json:"tradeCode,omitempty"`
	Registration *Registration `json:"registration,omitempty"`
	Placements   []Placement   `json:"placements"`
	Settlements  []Settlement  `json:"settlements"`
	// Coupons are the schedule of the registered terms with what the
	// depository notified and paid of each; without the terms, what it
	// notified and paid.
	Coupons    []Coupon      `json:"coupons"`
	Redemption *Coupon       `json:"redemption,omitempty"`
	Messages   []LifeMessage `json:"messages"`
}

// Registration is the request that registered the issue and the
// depository's advice on it.
type Registration struct {
	RequestMessageID string          `json:"requestMessageId,omitempty"`
	RequestStatus    string          `json:"requestStatus,omitempty"`
	Terms            json.RawMessage `json:"terms,omitempty"`
	AdviceMessageID  string          `json:"adviceMessageId"`
	Status           string          `json:"status"` // the advice's: COMPLETED, REJECTED…
	At               time.Time       `json:"at"`
}

// Placement is one announcement to the exchange and what came of it.
type Placement struct {
	MessageID       string    `json:"messageId"`
	Status          string    `json:"status"` // the announcement's delivery
	TradeDate       string    `json:"tradeDate,omitempty"`
	At              time.Time `json:"at"`
	DemandSummaries int       `json:"demandSummaries"`
	// Outcome is the auction result's: PLACED, FAILED_BY_ISSUER, INVALID.
	Outcome string `json:"outcome,omitempty"`
}

// Settlement is one delivery versus payment of an allocation.
type Settlement struct {
	TradeID        string  `json:"tradeId"`
	Participant    string  `json:"participant,omitempty"`
	Status         string  `json:"status"` // SETTLED, or the pending status and reason
	Quantity       string  `json:"quantity,omitempty"`
	Amount         *Amount `json:"amount,omitempty"`
	SettlementDate string  `json:"settlementDate,omitempty"`
	MessageID      string  `json:"messageId"`
}

// Coupon is one payment to the holders: a coupon (INTR) or the
// redemption (REDM).
type Coupon struct {
	EventID       string        `json:"eventId,omitempty"`
	PaymentDate   string        `json:"paymentDate"`
	RecordDate    string        `json:"recordDate,omitempty"`
	AmountPerUnit *Amount       `json:"amountPerUnit,omitempty"`
	Status        string        `json:"status"` // DUE, NOTIFIED, PAID
	Paid          *Amount       `json:"paid,omitempty"`
	Disagrees     *Disagreement `json:"amountDisagrees,omitempty"`
}

// LifeMessage is one message about the issue and its trail.
type LifeMessage struct {
	MessageID string           `json:"messageId"`
	Route     string           `json:"route"`
	Status    string           `json:"status"`
	At        time.Time        `json:"at"`
	Events    []adapters.Event `json:"events"`
}

// Coupon statuses.
const (
	CouponDue      = "DUE"
	CouponNotified = "NOTIFIED"
	CouponPaid     = "PAID"
)

// lifeHandler serves GET /v1/securities/{isin}.
func (c *Channel) lifeHandler(in adapters.Intake) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isin := r.PathValue("isin")
		if err := securities.ValidateISIN(isin); err != nil {
			adapters.WriteProblem(w, http.StatusBadRequest, "Invalid ISIN", err.Error(), map[string]any{"field": "isin"})
			return
		}
		life, err := c.Life(r.Context(), in, isin)
		if err != nil {
			adapters.WriteProblem(w, http.StatusServiceUnavailable, "Store unavailable", "the issue's record could not be read; try again", nil)
			return
		}
		if life == nil {
			adapters.WriteProblem(w, http.StatusNotFound, "Issue not found", "no message about "+isin+" is recorded", nil)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(life)
	})
}

// Life gathers the issue's life from the messages about isin and their
// trails; nil when the bus holds none.
func (c *Channel) Life(ctx context.Context, in adapters.Intake, isin string) (*Life, error) {
	found, err := in.About(ctx, isin)
	if err != nil || len(found) == 0 {
		return nil, err
	}
	life := &Life{ISIN: isin, Placements: []Placement{}, Settlements: []Settlement{}, Coupons: []Coupon{}}
	notified := map[string]Coupon{} // by payment date
	paid := map[string]*Amount{}    // by event id, or payment date when it names none
	pending := map[string]Settlement{}
	for _, f := range found {
		hist, err := in.History(ctx, f.MessageID)
		if err != nil {
			return nil, err
		}
		if hist == nil {
			hist = []adapters.Event{}
		}
		life.Messages = append(life.Messages, LifeMessage{MessageID: f.MessageID, Route: f.Route, Status: f.Status, At: f.At, Events: hist})
		var body map[string]any
		_ = json.Unmarshal(f.Request, &body)
		if slices.Contains(c.opts.PlacementRoutes, f.Route) {
			life.Placements = append(life.Placements, placement(f, body, hist))
			continue
		}
		switch def, _ := body["messageDefinition"].(string); {
		case strings.HasPrefix(def, "reda.008"):
			if err := c.registration(ctx, in, life, f, body); err != nil {
				return nil, err
			}
		case strings.HasPrefix(def, "sese.024"):
			s := settlement(f, body)
			s.Status = strings.TrimSpace(str(body, "settlementStatus") + " " + str(body, "settlementReason"))
			if s.Status == "" {
				s.Status = "PENDING"
			}
			pending[s.TradeID] = s
		case strings.HasPrefix(def, "sese.025"):
			s := settlement(f, body)
			s.Status = "SETTLED"
			delete(pending, s.TradeID)
			life.Settlements = append(life.Settlements, s)
		case strings.HasPrefix(def, "seev.031"):
			cp := Coupon{EventID: str(body, "eventId"), PaymentDate: str(body, "paymentDate"), RecordDate: str(body, "recordDate"),
				AmountPerUnit: amount(body["amountPerUnit"]), Status: CouponNotified}
			if d, ok := body["amountDisagrees"]; ok {
				b, _ := json.Marshal(d)
				cp.Disagrees = &Disagreement{}
				_ = json.Unmarshal(b, cp.Disagrees)
			}
			if str(body, "eventType") == "REDM" {
				cp.PaymentDate = "REDM " + cp.PaymentDate
			}
			notified[cp.PaymentDate] = cp
		case strings.HasPrefix(def, "seev.036"):
			// A confirmation names its event; the date is the fallback
			// for one that does not.
			key := str(body, "eventId")
			if key == "" {
				key = cmp.Or(str(body, "paymentDate"), str(body, "postingDate"))
				if str(body, "eventType") == "REDM" {
					key = "REDM " + key
				}
			}
			paid[key] = amount(body["amount"])
		}
	}
	for _, s := range pending {
		life.Settlements = append(life.Settlements, s)
	}
	c.coupons(life, notified, paid)
	return life, nil
}

// registration reads the advice and the request it answers.
func (c *Channel) registration(ctx context.Context, in adapters.Intake, life *Life, f adapters.Found, body map[string]any) error {
	reg := &Registration{AdviceMessageID: f.MessageID, Status: str(body, "status"), At: f.At}
	life.TradeCode = str(body, "tradeCode")
	if ref := str(body, "requestMsgId"); ref != "" {
		req, err := in.Find(ctx, c.opts.RegisterRoute, ref)
		switch {
		case err == nil:
			reg.RequestMessageID, reg.RequestStatus, reg.Terms = req.MessageID, req.Status, req.Request
		case !errors.Is(err, adapters.ErrNotFound):
			return err
		}
	}
	life.Registration = reg
	return nil
}

// coupons lays what the depository notified and paid over the schedule of
// the registered terms, when they are known.
func (c *Channel) coupons(life *Life, notified map[string]Coupon, paid map[string]*Amount) {
	var terms csd.Issue
	if life.Registration != nil && len(life.Registration.Terms) > 0 {
		_ = json.Unmarshal(life.Registration.Terms, &terms)
	}
	start, err1 := securities.ParseDate(terms.CirculationStart)
	maturity, err2 := securities.ParseDate(terms.Maturity)
	if err1 == nil && err2 == nil && terms.CouponFrequency > 0 {
		if sched, err := securities.Schedule(start, maturity, terms.CouponFrequency, c.cal); err == nil {
			for _, s := range sched {
				d := s.Payment.Format(time.DateOnly)
				if _, ok := notified[d]; !ok {
					notified[d] = Coupon{PaymentDate: d, RecordDate: s.Record.Format(time.DateOnly), Status: CouponDue}
				}
			}
		}
	}
	if err1 == nil && err2 == nil {
		redeem := "REDM " + c.cal.Following(maturity).Format(time.DateOnly)
		if _, ok := notified[redeem]; !ok {
			notified[redeem] = Coupon{EventID: "REDM", PaymentDate: redeem, RecordDate: c.cal.PreviousBusinessDay(c.cal.Following(maturity)).Format(time.DateOnly), Status: CouponDue}
		}
	}
	keys := make([]string, 0, len(notified))
	for k := range notified {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cp := notified[k]
		if a, ok := paid[cp.EventID]; ok && cp.EventID != "" {
			cp.Status, cp.Paid = CouponPaid, a
		} else if a, ok := paid[k]; ok {
			cp.Status, cp.Paid = CouponPaid, a
		}
		if after, ok := strings.CutPrefix(k, "REDM "); ok {
			cp.PaymentDate = after
			life.Redemption = &cp
			continue
		}
		life.Coupons = append(life.Coupons, cp)
	}
}

func placement(f adapters.Found, body map[string]any, hist []adapters.Event) Placement {
	p := Placement{MessageID: f.MessageID, Status: f.Status, TradeDate: str(body, "tradeDate"), At: f.At}
	for _, e := range hist {
		switch e.Action {
		case eventDemandSummary:
			p.DemandSummaries++
		case eventAuctionResult:
			p.Outcome, _, _ = strings.Cut(e.Detail, " ")
		}
	}
	return p
}

func settlement(f adapters.Found, body map[string]any) Settlement {
	return Settlement{TradeID: str(body, "tradeId"), Participant: str(body, "participant"), Quantity: str(body, "quantity"),
		Amount: amount(body["amount"]), SettlementDate: str(body, "settlementDate"), MessageID: f.MessageID}
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func amount(v any) *Amount {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	return &Amount{Value: str(m, "value"), Currency: str(m, "currency")}
}
