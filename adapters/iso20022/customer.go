package iso20022

import (
	"fmt"
	"strconv"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/contracts/iso20022/components"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	p1 "github.com/minfin-kz/kopir/contracts/iso20022/msg/pain001"
)

// CustomerTransfer is the internal JSON of operation "customer-transfer": a
// batch of transfers from one debtor account, sent to the debtor's bank as
// one pain.001 payment information block.
type CustomerTransfer struct {
	PaymentInfoID string `json:"paymentInformationId"`
	ExecutionDate string `json:"requestedExecutionDate,omitempty"` // default today in Kazakhstan
	Debtor        Party  `json:"debtor"`
	KOd           string `json:"kod"`
	// ControlSum is the sum of the transactions' amounts as the caller
	// counted it; a batch whose amounts do not add up to it is refused, so
	// a lost or doubled line cannot go out unnoticed.
	ControlSum   Decimal               `json:"controlSum"`
	Transactions []CustomerTransaction `json:"transactions"`
}

// CustomerTransaction is one transfer of a CustomerTransfer.
type CustomerTransaction struct {
	EndToEndID    string `json:"endToEndId"`
	InstructionID string `json:"instructionId,omitempty"`
	Amount        Money  `json:"amount"`
	Creditor      Party  `json:"creditor"`
	Remittance    string `json:"remittanceInformation,omitempty"`
	KNP           string `json:"knp"`
	KBe           string `json:"kbe"`
	KBK           string `json:"kbk,omitempty"`
}

// MaxBatch bounds a customer transfer batch; larger ones are split by the
// caller, so one refusal does not hold up thousands of payments.
const MaxBatch = 1000

type checkedBatch struct {
	date    string
	total   isodoc.Amount
	digits  int
	amounts []isodoc.Amount
}

func (a *Adapter) checkCustomerTransfer(ct *CustomerTransfer) (*checkedBatch, error) {
	if err := checkID("paymentInformationId", ct.PaymentInfoID, true); err != nil {
		return nil, err
	}
	date, err := a.checkDate("requestedExecutionDate", ct.ExecutionDate)
	if err != nil {
		return nil, err
	}
	if err := checkParty("debtor", ct.Debtor); err != nil {
		return nil, err
	}
	if err := checkSector("kod", ct.KOd); err != nil {
		return nil, err
	}
	switch n := len(ct.Transactions); {
	case n == 0:
		return nil, adapters.Invalid("transactions", "at least one transaction is required")
	case n > MaxBatch:
		return nil, adapters.Invalid("transactions", "at most %d transactions per batch, got %d", MaxBatch, n)
	}
	out := &checkedBatch{date: date, amounts: make([]isodoc.Amount, len(ct.Transactions))}
	seen := map[string]int{}
	ccy := ""
	for i, tx := range ct.Transactions {
		f := fmt.Sprintf("transactions[%d].", i)
		if err := checkID(f+"endToEndId", tx.EndToEndID, true); err != nil {
			return nil, err
		}
		if j, dup := seen[tx.EndToEndID]; dup {
			return nil, adapters.Invalid(f+"endToEndId", "%s is also the end-to-end id of transactions[%d]", tx.EndToEndID, j)
		}
		seen[tx.EndToEndID] = i
		if err := checkID(f+"instructionId", tx.InstructionID, false); err != nil {
			return nil, err
		}
		amt, digits, err := a.checkMoney(f+"amount", tx.Amount)
		if err != nil {
			return nil, err
		}
		if ccy == "" {
			ccy, out.digits = tx.Amount.Currency, digits
		} else if tx.Amount.Currency != ccy {
			return nil, adapters.Invalid(f+"amount.currency", "is %s but the batch is in %s: one batch, one currency", tx.Amount.Currency, ccy)
		}
		out.amounts[i] = amt
		if out.total, err = out.total.Add(amt); err != nil {
			return nil, adapters.Invalid(f+"amount.value", "%s", err)
		}
		if err := checkParty(f+"creditor", tx.Creditor); err != nil {
			return nil, err
		}
		if tx.Creditor.IBAN == ct.Debtor.IBAN {
			return nil, adapters.Invalid(f+"creditor.iban", "is the debtor's own account")
		}
		if err := checkText(f+"remittanceInformation", tx.Remittance, 140, false); err != nil {
			return nil, err
		}
		if err := checkKNP(f, tx.KNP); err != nil {
			return nil, err
		}
		if err := checkSector(f+"kbe", tx.KBe); err != nil {
			return nil, err
		}
		if err := checkKBK(f, tx.KBK); err != nil {
			return nil, err
		}
	}
	if ct.ControlSum == "" {
		return nil, adapters.Invalid("controlSum", "is required: the sum of the transactions' amounts")
	}
	cs, err := isodoc.ParseAmount(string(ct.ControlSum))
	if err != nil {
		return nil, adapters.Invalid("controlSum", "%s", err)
	}
	if cs != out.total {
		return nil, adapters.Invalid("controlSum", "is %s but the transactions add up to %s", cs, out.total.Format(out.digits))
	}
	return out, nil
}

func (a *Adapter) buildCustomerTransfer(req *adapters.Request, marshal bool) ([]byte, error) {
	var ct CustomerTransfer
	if err := adapters.DecodeStrict(req.Body, &ct); err != nil {
		return nil, err
	}
	c, err := a.checkCustomerTransfer(&ct)
	if err != nil {
		return nil, err
	}
	// A single transfer is found by its end-to-end id like a pacs.008; a
	// batch by its payment information id (statements name both).
	req.ExternalID = ct.PaymentInfoID
	if len(ct.Transactions) == 1 {
		req.ExternalID = ct.Transactions[0].EndToEndID
	}
	if !marshal {
		return nil, nil
	}
	return a.marshal(req, isodoc.Pain001, a.pain001(req, &ct, c))
}

func (a *Adapter) pain001(req *adapters.Request, ct *CustomerTransfer, c *checkedBatch) *p1.Document {
	id := MsgID(req.MessageID)
	n := strconv.Itoa(len(ct.Transactions))
	total := c.total.Format(c.digits)
	pmt := &components.PaymentInstruction30{
		PmtInfId:    isodoc.P[components.Max35Text](ct.PaymentInfoID),
		PmtMtd:      isodoc.P[components.PaymentMethod3Code]("TRF"),
		NbOfTxs:     isodoc.P[components.Max15NumericText](n),
		CtrlSum:     isodoc.P[components.DecimalNumber](total),
		ReqdExctnDt: &components.DateAndDateTime2Choice{Dt: isodoc.P[components.ISODate](c.date)},
		Dbtr:        party(ct.Debtor),
		DbtrAcct:    account(ct.Debtor.IBAN),
		DbtrAgt:     agent(ct.Debtor.BIC),
		ChrgBr:      isodoc.P[components.ChargeBearerType1Code]("SLEV"),
	}
	for i, tx := range ct.Transactions {
		t := &components.CreditTransferTransaction34{
			PmtId: &components.PaymentIdentification6{EndToEndId: isodoc.P[components.Max35Text](tx.EndToEndID)},
			Amt: &components.AmountType4Choice{InstdAmt: &components.ActiveOrHistoricCurrencyAndAmount{
				Value: isodoc.P[components.ActiveOrHistoricCurrencyAndAmount_SimpleType](c.amounts[i].Format(c.digits)),
				Ccy:   isodoc.P[components.ActiveOrHistoricCurrencyCode](tx.Amount.Currency)}},
			CdtrAgt:    agent(tx.Creditor.BIC),
			Cdtr:       party(tx.Creditor),
			CdtrAcct:   account(tx.Creditor.IBAN),
			Purp:       &components.Purpose2Choice{Prtry: isodoc.P[components.Max35Text](tx.KNP)},
			RgltryRptg: reporting(ct.KOd, tx.KBe, tx.KBK),
		}
		if tx.InstructionID != "" {
			t.PmtId.InstrId = isodoc.P[components.Max35Text](tx.InstructionID)
		}
		if tx.Remittance != "" {
			t.RmtInf = &components.RemittanceInformation16{Ustrd: []*components.Max140Text{isodoc.P[components.Max140Text](tx.Remittance)}}
		}
		pmt.CdtTrfTxInf = append(pmt.CdtTrfTxInf, t)
	}
	return &p1.Document{CstmrCdtTrfInitn: &components.CustomerCreditTransferInitiationV09{
		GrpHdr: &components.GroupHeader85{
			MsgId:    isodoc.P[components.Max35Text](id),
			CreDtTm:  isodoc.P[components.ISODateTime](a.now().In(almaty).Format("2006-01-02T15:04:05-07:00")),
			NbOfTxs:  isodoc.P[components.Max15NumericText](n),
			CtrlSum:  isodoc.P[components.DecimalNumber](total),
			InitgPty: party(ct.Debtor),
		},
		PmtInf: []*components.PaymentInstruction30{pmt},
	}}
}
