package kase

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/contracts/kase"
	"github.com/minfin-kz/kopir/contracts/kase/kasetypes"
	"github.com/minfin-kz/kopir/contracts/securities"
)

// maxPercent4 is the largest value of the contract's Percent4 (8 digits,
// 4 of them decimals), in securities.Percent units.
const maxPercent4 = 9999_9999

// Decision is the internal JSON of operation "cutoff": the ministry's
// decision on one session, exactly one of cutoffPrice (the auction's
// subject is the price), cutoffRate (the rate) or failed.
//
// The adapter keeps no record of announcements: the caller names the
// session again (tradeDate and additionalSession, as announced), and the
// bus checks the decision window against its clock from those. The
// exchange, which holds the announcement, refuses a decision that does
// not match it (UNKNOWN_ANNOUNCEMENT).
type Decision struct {
	// AnnouncementID is the announcement's MessageId: the id the bus
	// answered the announce call with (hyphens or not), as the demand
	// summary's announcementId also carries it.
	AnnouncementID string `json:"announcementId"`
	// ISIN is the security's, optional: given, the decision is listed in
	// the life of the issue (GET /v1/securities/{isin}).
	ISIN              string `json:"isin,omitempty"`
	TradeDate         string `json:"tradeDate"`
	AdditionalSession bool   `json:"additionalSession"`
	CutoffPrice       string `json:"cutoffPrice,omitempty"` // clean price, % of par, up to 4 decimals
	CutoffRate        string `json:"cutoffRate,omitempty"`  // coupon rate, % a year, up to 4 decimals
	Failed            bool   `json:"failed,omitempty"`      // the auction declared failed by the issuer
	Reason            string `json:"reason,omitempty"`      // why it failed, told to the exchange
}

// Refusal codes of a decision outside its window; the exchange uses the
// same ones, so a caller sees one code whoever refused.
const (
	CodeWindowNotClosed = "WINDOW_NOT_CLOSED"
	CodeDeadlinePassed  = "DEADLINE_PASSED"
)

// AnnouncementID is the announcement's MessageId for an id as a caller
// may give it: the bus's message id (a UUID, hyphens dropped as MsgID
// drops them) or the MessageId itself.
func AnnouncementID(s string) string {
	if u, err := uuid.Parse(s); err == nil && len(s) == 36 {
		return MsgID(u.String())
	}
	return s
}

func (a *Adapter) buildCutoff(req *adapters.Request) (*kasetypes.CutoffDecision, error) {
	var in Decision
	if err := adapters.DecodeStrict(req.Body, &in); err != nil {
		return nil, err
	}
	if in.AnnouncementID == "" {
		return nil, adapters.Invalid("announcementId", "is required: the id the announce call was answered with")
	}
	ann := AnnouncementID(strings.TrimSpace(in.AnnouncementID))
	if !messageID.MatchString(ann) {
		return nil, adapters.Invalid("announcementId", "%q is not an announcement id (letters, digits, _ . : -, at most 35)", in.AnnouncementID)
	}
	tradeDate, err := parseDate("tradeDate", in.TradeDate)
	if err != nil {
		return nil, err
	}
	if in.ISIN != "" {
		if err := securities.ValidateISIN(in.ISIN); err != nil {
			return nil, adapters.Invalid("isin", "%v", err)
		}
		req.Subject = in.ISIN
	}
	out := &kasetypes.CutoffDecision{AnnouncementId: p(kasetypes.MessageId(ann))}
	given := 0
	if in.CutoffPrice != "" {
		given++
		v, err := percent4("cutoffPrice", in.CutoffPrice)
		if err != nil {
			return nil, err
		}
		out.CutoffPrice = v
	}
	if in.CutoffRate != "" {
		given++
		v, err := percent4("cutoffRate", in.CutoffRate)
		if err != nil {
			return nil, err
		}
		out.CutoffRate = v
	}
	if in.Failed {
		given++
		f := &kasetypes.FailureDeclaration{}
		if r := strings.TrimSpace(in.Reason); r != "" {
			if len([]rune(r)) > 500 {
				return nil, adapters.Invalid("reason", "has %d characters, at most 500", len([]rune(r)))
			}
			f.Reason = p(kasetypes.Text(r))
		}
		out.Failed = f
	} else if in.Reason != "" {
		return nil, adapters.Invalid("reason", "is only for a decision declaring the auction failed")
	}
	switch {
	case given == 0:
		return nil, adapters.Invalid("cutoffPrice", "the decision needs one of cutoffPrice, cutoffRate or failed")
	case given > 1:
		return nil, adapters.Invalid("cutoffPrice", "the decision is one of cutoffPrice, cutoffRate or failed, not several")
	}
	session := securities.Session{TradeDate: tradeDate, Additional: in.AdditionalSession}
	now := a.now()
	if err := session.CutoffAllowed(now); err != nil {
		_, closing := session.OrderWindow()
		deadline := session.CutoffDeadline()
		code := CodeDeadlinePassed
		if now.Before(closing) {
			code = CodeWindowNotClosed
		}
		// The session the caller named is the field the clock measures.
		return nil, &adapters.Error{Status: http.StatusUnprocessableEntity, Field: "tradeDate", Code: code,
			Detail: fmt.Sprintf("%v (the %s session's decision window is %s–%s Astana time (UTC+5) on %s)", err, sessionName(in.AdditionalSession),
				closing.Format("15:04"), deadline.Format("15:04"), deadline.Format(time.DateOnly))}
	}
	kind := kasetypes.SessionKindMAIN
	if in.AdditionalSession {
		kind = kasetypes.SessionKindADDITIONAL
	}
	req.ExternalID = MsgID(req.MessageID)
	out.MessageId = p(kasetypes.MessageId(req.ExternalID))
	out.CreationDateTime = p(kasetypes.DateTimeWithOffset(a.timestamp()))
	out.Session = p(kind)
	out.DecisionDateTime = stamp(now)
	return out, nil
}

func sessionName(additional bool) string {
	if additional {
		return "additional"
	}
	return "main"
}

// percent4 reads a price or rate with at most 4 decimals, written back with
// exactly four.
func percent4(field, s string) (*kasetypes.Percent4, error) {
	v, err := securities.ParsePercent(s)
	if err != nil {
		return nil, adapters.Invalid(field, "%v", err)
	}
	if v == 0 || v > maxPercent4 {
		return nil, adapters.Invalid(field, "%s %% is outside 0 (exclusive) to 9999.9999", v)
	}
	return p(kasetypes.Percent4(v.String())), nil
}

func (a *Adapter) decodeCutoffAck(req *adapters.Request, body []byte) (*adapters.Response, error) {
	var ack kasetypes.CutoffAck
	if err := kase.Unmarshal(body, &ack); err != nil {
		return nil, badAck(kase.CutoffAck, err)
	}
	id := MsgID(req.MessageID)
	if got := string(*ack.DecisionId); got != id {
		return nil, badAck(kase.CutoffAck, fmt.Errorf("it acknowledges decision %s, this is %s", got, id))
	}
	if *ack.Status != kasetypes.AckStatusACCEPTED {
		return nil, refused("cut-off decision", ack.Refusal)
	}
	var in Decision
	_ = json.Unmarshal(req.Body, &in)
	return answer(Answer{Status: string(*ack.Status), AnnouncementID: string(*ack.AnnouncementId), DecisionID: id,
		AckID: string(*ack.MessageId), Session: sessionKind(in.AdditionalSession)})
}

func sessionKind(additional bool) string {
	if additional {
		return string(kasetypes.SessionKindADDITIONAL)
	}
	return string(kasetypes.SessionKindMAIN)
}

func answer(v Answer) (*adapters.Response, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, errors.Join(errors.New("kase: encoding the answer"), err)
	}
	return &adapters.Response{Body: b}, nil
}
