package iso20022channel

import (
	"context"
	"net/http"
	"path"
	"strings"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/iso20022"
)

// Lookup is the part of the core's Intake the payment history needs.
type Lookup interface {
	Find(ctx context.Context, route, externalID string) (*adapters.Found, error)
	History(ctx context.Context, messageID string) ([]adapters.Event, error)
}

// PaymentHistory is the answer of GET /v1/payments/{endToEndId}.
type PaymentHistory struct {
	EndToEndID string `json:"endToEndId"`
	Route      string `json:"route"`
	MessageID  string `json:"messageId"` // Köpir's id of the payment message
	MsgID      string `json:"msgId"`     // the GrpHdr/MsgId it was sent with
	// DeliveryStatus is the bus's status of the message (QUEUED,
	// DELIVERED…); PaymentStatus the payment system's latest word: SENT
	// until a status report arrives, then ACSC, ACSP, PDNG, RJCT,
	// RETURNED; BOOKED once a statement booked it with no status before.
	DeliveryStatus string           `json:"deliveryStatus"`
	PaymentStatus  string           `json:"paymentStatus"`
	Reason         string           `json:"reason,omitempty"`
	History        []adapters.Event `json:"history"`
}

// NewHistoryHandler serves a payment's status history, found by its
// end-to-end id (or a batch's payment information id) on routes (default
// DefaultPaymentRoutes). The status history is the payment message's audit
// trail: the bus's own events and the PAYMENT_STATUS and PAYMENT_BOOKED
// events the channel appended. Mount it with caller authentication; the
// path value is {endToEndId}, or else the last path segment.
func NewHistoryHandler(in Lookup, routes ...string) http.Handler {
	if len(routes) == 0 {
		routes = DefaultPaymentRoutes
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("endToEndId")
		if id == "" {
			id = path.Base(r.URL.Path)
		}
		if err := iso20022.CheckEndToEndID(id); err != nil {
			adapters.WriteProblem(w, http.StatusBadRequest, "Invalid end-to-end id", err.Error(), nil)
			return
		}
		m := &matcher{in: in, routes: routes}
		f, _, err := m.find(r.Context(), id)
		if err != nil {
			adapters.WriteProblem(w, http.StatusServiceUnavailable, "Store unavailable", err.Error(), nil)
			return
		}
		if f == nil {
			adapters.WriteProblem(w, http.StatusNotFound, "Payment not found", "no payment with end-to-end id "+id+" on "+strings.Join(routes, ", "), nil)
			return
		}
		hist, err := in.History(r.Context(), f.MessageID)
		if err != nil {
			adapters.WriteProblem(w, http.StatusServiceUnavailable, "Store unavailable", err.Error(), nil)
			return
		}
		out := PaymentHistory{EndToEndID: id, Route: f.Route, MessageID: f.MessageID, MsgID: iso20022.MsgID(f.MessageID),
			DeliveryStatus: f.Status, History: hist}
		out.PaymentStatus, out.Reason = paymentStatus(f.Status, hist)
		if out.History == nil {
			out.History = []adapters.Event{}
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// paymentStatus is the latest PAYMENT_STATUS (its first word, the reason
// the second), or what the bus knows when the payment system has not
// spoken yet.
func paymentStatus(delivery string, hist []adapters.Event) (status, reason string) {
	booked := false
	for i := len(hist) - 1; i >= 0; i-- {
		e := hist[i]
		switch e.Action {
		case ActionStatus:
			f := strings.Fields(e.Detail)
			if len(f) == 0 {
				continue
			}
			if len(f) > 1 && f[1] != "-" && !strings.HasPrefix(f[1], "(") {
				reason = f[1]
			}
			return f[0], reason
		case ActionBooked:
			booked = true
		}
	}
	switch {
	case booked:
		return "BOOKED", ""
	case delivery == "DELIVERED":
		return "SENT", ""
	}
	return delivery, ""
}
