package iso20022

import (
	"sort"
	"strings"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/contracts/iso20022/components"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	c56 "github.com/minfin-kz/kopir/contracts/iso20022/msg/camt056"
)

// Cancel is the internal JSON of operation "cancel": a request to cancel a
// credit transfer already sent, as camt.056.
type Cancel struct {
	EndToEndID string `json:"endToEndId"`
	// OriginalMessageID is Köpir's message id of the credit transfer (the
	// "id" or X-Kopir-Message-Id its route answered). The pacs.008 MsgId is
	// derived from it, so the payment system can find the original.
	OriginalMessageID      string `json:"originalMessageId"`
	OriginalAmount         *Money `json:"originalAmount,omitempty"`
	OriginalSettlementDate string `json:"originalSettlementDate,omitempty"`
	// Reason is an ISO 20022 cancellation reason code (CancellationReasons).
	Reason                string `json:"reason"`
	AdditionalInformation string `json:"additionalInformation,omitempty"`
}

// CancellationReasons are the ExternalCancellationReason1Code values a
// treasury has a use for.
var CancellationReasons = map[string]string{
	"AGNT": "incorrect agent",
	"AM09": "wrong amount",
	"CURR": "incorrect currency",
	"CUST": "requested by customer",
	"CUTA": "cancel upon unable to apply",
	"DUPL": "duplicate payment",
	"FRAD": "fraudulent origin",
	"TECH": "technical problem",
	"UPAY": "undue payment",
}

func (a *Adapter) buildCancel(req *adapters.Request, marshal bool) ([]byte, error) {
	var c Cancel
	if err := adapters.DecodeStrict(req.Body, &c); err != nil {
		return nil, err
	}
	if err := checkID("endToEndId", c.EndToEndID, true); err != nil {
		return nil, err
	}
	orig := MsgID(strings.TrimSpace(c.OriginalMessageID))
	if c.OriginalMessageID == "" {
		return nil, adapters.Invalid("originalMessageId", "is required: Köpir's message id of the credit transfer to cancel")
	}
	if err := checkID("originalMessageId", orig, true); err != nil {
		return nil, err
	}
	if _, ok := CancellationReasons[c.Reason]; !ok {
		codes := make([]string, 0, len(CancellationReasons))
		for k := range CancellationReasons {
			codes = append(codes, k)
		}
		sort.Strings(codes)
		return nil, adapters.Invalid("reason", "%q is not a cancellation reason code (one of %s)", c.Reason, strings.Join(codes, ", "))
	}
	if err := checkText("additionalInformation", c.AdditionalInformation, 105, false); err != nil {
		return nil, err
	}
	var amt *components.ActiveOrHistoricCurrencyAndAmount
	if c.OriginalAmount != nil {
		v, digits, err := a.checkMoney("originalAmount", *c.OriginalAmount)
		if err != nil {
			return nil, err
		}
		amt = &components.ActiveOrHistoricCurrencyAndAmount{Value: isodoc.P[components.ActiveOrHistoricCurrencyAndAmount_SimpleType](v.Format(digits)),
			Ccy: isodoc.P[components.ActiveOrHistoricCurrencyCode](c.OriginalAmount.Currency)}
	}
	if c.OriginalSettlementDate != "" {
		if err := checkDateShape("originalSettlementDate", c.OriginalSettlementDate); err != nil {
			return nil, err
		}
	}
	req.ExternalID = c.EndToEndID
	if !marshal {
		return nil, nil
	}
	id := MsgID(req.MessageID)
	agt := func(bic string) *components.Party40Choice {
		return &components.Party40Choice{Agt: agent(bic)}
	}
	rsn := &components.PaymentCancellationReason5{Rsn: &components.CancellationReason33Choice{Cd: isodoc.P[components.ExternalCancellationReason1Code](c.Reason)}}
	if c.AdditionalInformation != "" {
		rsn.AddtlInf = []*components.Max105Text{isodoc.P[components.Max105Text](c.AdditionalInformation)}
	}
	tx := &components.PaymentTransaction106{
		CxlId:               isodoc.P[components.Max35Text](id),
		OrgnlGrpInf:         &components.OriginalGroupInformation29{OrgnlMsgId: isodoc.P[components.Max35Text](orig), OrgnlMsgNmId: isodoc.P[components.Max35Text](isodoc.Pacs008)},
		OrgnlEndToEndId:     isodoc.P[components.Max35Text](c.EndToEndID),
		OrgnlIntrBkSttlmAmt: amt,
		CxlRsnInf:           []*components.PaymentCancellationReason5{rsn},
	}
	if c.OriginalSettlementDate != "" {
		tx.OrgnlIntrBkSttlmDt = isodoc.P[components.ISODate](c.OriginalSettlementDate)
	}
	doc := &c56.Document{FIToFIPmtCxlReq: &components.FIToFIPaymentCancellationRequestV08{
		Assgnmt: &components.CaseAssignment5{
			Id:      isodoc.P[components.Max35Text](id),
			Assgnr:  agt(a.opts.SenderBIC),
			Assgne:  agt(a.opts.ReceiverBIC),
			CreDtTm: isodoc.P[components.ISODateTime](a.now().In(almaty).Format("2006-01-02T15:04:05-07:00")),
		},
		Undrlyg: []*components.UnderlyingTransaction23{{TxInf: []*components.PaymentTransaction106{tx}}},
	}}
	return a.marshal(req, isodoc.Camt056, doc)
}
