package csdchannel

import (
	"strings"

	"github.com/minfin-kz/kopir/adapters/csd"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
)

// translated is a message's JSON for the subscriber and the events it adds
// to audit trails.
type translated struct {
	body  map[string]any
	notes []note
}

// note is an event for a trail: the message's own when messageID is "".
type note struct{ messageID, action, detail string }

// Amount is a sum of money as the document states it: the decimal exactly
// as written (never through a float) and its currency.
type Amount struct {
	Value    string `json:"value"`
	Currency string `json:"currency,omitempty"`
}

func amountOf(n *csd.Node) *Amount {
	if n == nil || strings.TrimSpace(n.Text) == "" {
		return nil
	}
	return &Amount{Value: strings.TrimSpace(n.Text), Currency: n.Attr("Ccy")}
}

// set adds a field unless it is empty, so the JSON carries what the
// document said and nothing it did not.
func set(m map[string]any, key string, v any) {
	switch x := v.(type) {
	case string:
		if x == "" {
			return
		}
	case *Amount:
		if x == nil {
			return
		}
	case *csd.Node:
		panic("csdchannel: a node is not a JSON value")
	}
	m[key] = v
}

// Field paths of each message, relative to its Document; docs/adapters/csd.md
// lists them for the depository's side.
func (c *Channel) translate(msg *isodoc.Message, doc *csd.Node) *translated {
	h := msg.HeaderV03
	t := &translated{body: map[string]any{
		"messageDefinition": msg.MsgDefIdr,
		"bizMsgIdr":         isodoc.S(h.BizMsgIdr),
	}}
	set(t.body, "from", msg.SenderBIC())
	set(t.body, "createdAt", isodoc.S(h.CreDt))
	switch msg.Key() {
	case "reda.008":
		c.reda008(t, msg, doc.Get("SctyCreStsAdvc"))
	case "sese.024":
		sese024(t, doc.Get("SctiesSttlmTxStsAdvc"))
	case "sese.025":
		sese025(t, doc.Get("SctiesSttlmTxConf"))
	case "seev.031":
		c.seev031(t, doc.Get("CorpActnNtfctn"))
	case "seev.036":
		seev036(t, doc.Get("CorpActnMvmntConf"))
	}
	return t
}

// statusWords name the choices of the status elements the way the
// subscriber reads them.
var statusWords = map[string]string{
	"AckdAccptd": "ACCEPTED", "PdgPrcg": "PENDING", "Rjctd": "REJECTED", "Cmpltd": "COMPLETED", "Rpr": "REPAIR",
	"Canc": "CANCELLED", "PdgCxl": "PENDING_CANCELLATION", "Pdg": "PENDING", "Flng": "FAILING",
}

// status reads a status choice: its word, and the first reason's code and
// text (a code, a proprietary reason id, or NORE when none is given).
func status(n *csd.Node) (word, reason, info string) {
	if n == nil {
		return "", "", ""
	}
	choice := n.ChildName()
	word = statusWords[choice]
	c := n.Get(choice)
	if choice == "Prtry" {
		word = c.Value("PrtrySts/Id")
	}
	reason = c.First("Rsn/Cd/Cd", "Rsn/Cd/Prtry/Id", "Rsn/Rsn/Id", "PrtryRsn/Rsn/Id", "NoSpcfdRsn", "Rsn/NoSpcfdRsn")
	info = c.First("Rsn/AddtlRsnInf", "PrtryRsn/AddtlRsnInf")
	return word, reason, info
}

func (c *Channel) reda008(t *translated, msg *isodoc.Message, a *csd.Node) {
	b := t.body
	set(b, "isin", a.Value("FinInstrmId/ISIN"))
	set(b, "tradeCode", a.Value("FinInstrmId/OthrId/Id"))
	word, reason, info := status(a.Get("PrcgSts"))
	set(b, "status", word)
	set(b, "reason", reason)
	set(b, "reasonText", info)
	// The request the advice answers: the document's own reference, or
	// else the header's related message.
	ref := a.Value("MsgHdr/OrgnlBizInstr/MsgId")
	if ref == "" && len(msg.HeaderV03.Rltd) > 0 && msg.HeaderV03.Rltd[0] != nil {
		ref = isodoc.S(msg.HeaderV03.Rltd[0].BizMsgIdr)
	}
	set(b, "requestMsgId", ref)
}

func sese024(t *translated, a *csd.Node) {
	b := t.body
	tx := a.Get("TxDtls")
	tradeID := tx.Value("TradId")
	if tradeID == "" {
		tradeID = a.Value("TxId/AcctOwnrTxId")
	}
	set(b, "tradeId", tradeID)
	set(b, "accountOwnerTxId", a.Value("TxId/AcctOwnrTxId"))
	set(b, "accountServicerTxId", a.Value("TxId/AcctSvcrTxId"))
	set(b, "isin", tx.Value("FinInstrmId/ISIN"))
	set(b, "quantity", tx.Get("SttlmQty/Qty").First("Unit", "FaceAmt", "AmtsdVal"))
	set(b, "amount", amountOf(tx.Get("SttlmAmt/Amt")))
	set(b, "tradeDate", tx.Get("TradDt").First("Dt/Dt", "Dt/DtTm"))
	set(b, "settlementDate", tx.Get("SttlmDt").First("Dt/Dt", "Dt/DtTm"))
	set(b, "participant", party(tx.Get("AcctOwnr")))
	set(b, "account", tx.Value("SfkpgAcct/Id"))
	word, reason, info := status(a.Get("PrcgSts"))
	set(b, "processingStatus", word)
	set(b, "processingReason", reason)
	sword, sreason, sinfo := status(a.Get("SttlmSts"))
	set(b, "settlementStatus", sword)
	set(b, "settlementReason", sreason)
	if sinfo != "" {
		info = sinfo
	}
	set(b, "reasonText", info)
}

func sese025(t *translated, a *csd.Node) {
	b := t.body
	td := a.Get("TradDtls")
	tradeID := td.Value("TradId")
	if tradeID == "" {
		tradeID = a.Value("TxIdDtls/AcctOwnrTxId")
	}
	set(b, "tradeId", tradeID)
	set(b, "accountOwnerTxId", a.Value("TxIdDtls/AcctOwnrTxId"))
	set(b, "accountServicerTxId", a.Value("TxIdDtls/AcctSvcrTxId"))
	set(b, "movement", a.Value("TxIdDtls/SctiesMvmntTp"))
	set(b, "payment", a.Value("TxIdDtls/Pmt"))
	set(b, "isin", a.Value("FinInstrmId/ISIN"))
	set(b, "quantity", a.Get("QtyAndAcctDtls/SttldQty/Qty").First("Unit", "FaceAmt", "AmtsdVal"))
	set(b, "amount", amountOf(a.Get("SttldAmt/Amt")))
	set(b, "creditDebit", a.Value("SttldAmt/CdtDbtInd"))
	set(b, "tradeDate", td.Get("TradDt").First("Dt/Dt", "Dt/DtTm"))
	set(b, "settlementDate", td.Get("FctvSttlmDt").First("Dt/Dt", "Dt/DtTm"))
	if b["settlementDate"] == nil {
		set(b, "settlementDate", td.Get("SttlmDt").First("Dt/Dt", "Dt/DtTm"))
	}
	participant := party(a.Get("QtyAndAcctDtls/AcctOwnr"))
	if participant == "" {
		// The trade id is "<announcement>/<participant code>".
		if i := strings.LastIndexByte(tradeID, '/'); i >= 0 {
			participant = tradeID[i+1:]
		}
	}
	set(b, "participant", participant)
	set(b, "account", a.Value("QtyAndAcctDtls/SfkpgAcct/Id"))
}

func seev036(t *translated, a *csd.Node) {
	b := t.body
	gi := a.Get("CorpActnGnlInf")
	set(b, "eventId", gi.Value("CorpActnEvtId"))
	set(b, "eventType", gi.First("EvtTp/Cd", "EvtTp/Prtry/Id"))
	set(b, "isin", gi.Value("FinInstrmId/ISIN"))
	set(b, "account", a.Value("AcctDtls/SfkpgAcct"))
	set(b, "quantity", a.Get("AcctDtls/Bal/ConfdBal").Find("Qty").First("Unit", "FaceAmt", "AmtsdVal"))
	cash := a.Get("CorpActnConfDtls/CshMvmntDtls")
	set(b, "amount", amountOf(cash.Get("AmtDtls/PstngAmt")))
	set(b, "creditDebit", cash.Value("CdtDbtInd"))
	set(b, "postingDate", cash.Get("DtDtls/PstngDt").First("Dt", "DtTm"))
	set(b, "valueDate", cash.Get("DtDtls/ValDt").First("Dt", "DtTm"))
	set(b, "paymentDate", cash.Get("DtDtls/PmtDt").First("Dt", "DtTm"))
	set(b, "amountPerUnit", amountOf(cash.Find("IntrstRateUsdForPmt").Get("Amt")))
}

// party identifies an account owner: a BIC, the depository's participant
// code, or an LEI.
func party(p *csd.Node) string {
	return p.First("Id/AnyBIC", "Id/PrtryId/Id", "LEI", "Id/NmAndAdr/Nm")
}
