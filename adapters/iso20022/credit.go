package iso20022

import (
	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/contracts/iso20022/components"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	p8 "github.com/minfin-kz/kopir/contracts/iso20022/msg/pacs008"
)

// Where Kazakhstan's payment codes go in pacs.008 and pain.001 (decided
// once; docs/adapters/iso20022.md gives the reasons):
//
//	KNP  CdtTrfTxInf/Purp/Prtry
//	KOd  CdtTrfTxInf/RgltryRptg[DbtCdtRptgInd=DEBT]/Dtls[Tp=KOD]/Cd
//	KBe  CdtTrfTxInf/RgltryRptg[DbtCdtRptgInd=CRED]/Dtls[Tp=KBE]/Cd
//	KBK  CdtTrfTxInf/RgltryRptg[DbtCdtRptgInd=CRED]/Dtls[Tp=KBK]/Cd
//
// Both RgltryRptg name the National Bank of Kazakhstan, country KZ, as
// the authority.
const (
	RegTypeKOd = "KOD"
	RegTypeKBe = "KBE"
	RegTypeKBK = "KBK"
	// Authority is the regulator named in RgltryRptg/Authrty/Nm.
	Authority = "National Bank of Kazakhstan"
)

func (a *Adapter) buildCreditTransfer(req *adapters.Request, marshal bool) ([]byte, error) {
	var ct CreditTransfer
	if err := adapters.DecodeStrict(req.Body, &ct); err != nil {
		return nil, err
	}
	c, err := a.checkCreditTransfer(&ct)
	if err != nil {
		return nil, err
	}
	req.ExternalID = ct.EndToEndID
	if !marshal {
		return nil, nil
	}
	return a.marshal(req, isodoc.Pacs008, a.pacs008(req, &ct, c))
}

func (a *Adapter) pacs008(req *adapters.Request, ct *CreditTransfer, c *checked) *p8.Document {
	id := MsgID(req.MessageID)
	amt := c.amount.Format(c.digits)
	settle := func() *components.ActiveCurrencyAndAmount {
		return &components.ActiveCurrencyAndAmount{Value: isodoc.P[components.ActiveCurrencyAndAmount_SimpleType](amt), Ccy: isodoc.P[components.ActiveCurrencyCode](ct.Amount.Currency)}
	}
	sttlm := &components.SettlementInstruction7{SttlmMtd: isodoc.P[components.SettlementMethod1Code]("CLRG")}
	if a.opts.ClearingSystem != "" {
		sttlm.ClrSys = &components.ClearingSystemIdentification3Choice{Prtry: isodoc.P[components.Max35Text](a.opts.ClearingSystem)}
	}
	tx := &components.CreditTransferTransaction39{
		PmtId: &components.PaymentIdentification7{
			EndToEndId: isodoc.P[components.Max35Text](ct.EndToEndID),
			TxId:       isodoc.P[components.Max35Text](id),
		},
		IntrBkSttlmAmt: settle(),
		ChrgBr:         isodoc.P[components.ChargeBearerType1Code]("SLEV"),
		InstgAgt:       agent(a.opts.SenderBIC),
		InstdAgt:       agent(ct.Creditor.BIC),
		Dbtr:           party(ct.Debtor),
		DbtrAcct:       account(ct.Debtor.IBAN),
		DbtrAgt:        agent(ct.Debtor.BIC),
		CdtrAgt:        agent(ct.Creditor.BIC),
		Cdtr:           party(ct.Creditor),
		CdtrAcct:       account(ct.Creditor.IBAN),
		Purp:           &components.Purpose2Choice{Prtry: isodoc.P[components.Max35Text](ct.KNP)},
		RgltryRptg:     reporting(ct.KOd, ct.KBe, ct.KBK),
	}
	if ct.InstructionID != "" {
		tx.PmtId.InstrId = isodoc.P[components.Max35Text](ct.InstructionID)
	}
	if ct.Remittance != "" {
		tx.RmtInf = &components.RemittanceInformation16{Ustrd: []*components.Max140Text{isodoc.P[components.Max140Text](ct.Remittance)}}
	}
	return &p8.Document{FIToFICstmrCdtTrf: &components.FIToFICustomerCreditTransferV08{
		GrpHdr: &components.GroupHeader93{
			MsgId:   isodoc.P[components.Max35Text](id),
			CreDtTm: isodoc.P[components.ISODateTime](a.now().In(almaty).Format("2006-01-02T15:04:05-07:00")),
			NbOfTxs: isodoc.P[components.Max15NumericText]("1"),
			// The control sum and the total settlement amount are the one
			// transaction's amount: the payment system checks both against
			// the sum of the transactions.
			CtrlSum:           isodoc.P[components.DecimalNumber](amt),
			TtlIntrBkSttlmAmt: settle(),
			IntrBkSttlmDt:     isodoc.P[components.ISODate](c.date),
			SttlmInf:          sttlm,
		},
		CdtTrfTxInf: []*components.CreditTransferTransaction39{tx},
	}}
}

func agent(bic string) *components.BranchAndFinancialInstitutionIdentification6 {
	return &components.BranchAndFinancialInstitutionIdentification6{FinInstnId: &components.FinancialInstitutionIdentification18{BICFI: isodoc.P[components.BICFIDec2014Identifier](bic)}}
}

func account(ib string) *components.CashAccount38 {
	return &components.CashAccount38{Id: &components.AccountIdentification4Choice{IBAN: isodoc.P[components.IBAN2007Identifier](ib)}}
}

// party identifies a legal entity by BIN as a tax id (TXID: the BIN is
// Kazakhstan's taxpayer number) and an individual by IIN as national
// identity number (NIDN).
func party(p Party) *components.PartyIdentification135 {
	out := &components.PartyIdentification135{Nm: isodoc.P[components.Max140Text](p.Name)}
	switch {
	case p.BIN != "":
		out.Id = &components.Party38Choice{OrgId: &components.OrganisationIdentification29{Othr: []*components.GenericOrganisationIdentification1{{
			Id: isodoc.P[components.Max35Text](p.BIN), SchmeNm: &components.OrganisationIdentificationSchemeName1Choice{Cd: isodoc.P[components.ExternalOrganisationIdentification1Code]("TXID")}}}}}
	case p.IIN != "":
		out.Id = &components.Party38Choice{PrvtId: &components.PersonIdentification13{Othr: []*components.GenericPersonIdentification1{{
			Id: isodoc.P[components.Max35Text](p.IIN), SchmeNm: &components.PersonIdentificationSchemeName1Choice{Cd: isodoc.P[components.ExternalPersonIdentification1Code]("NIDN")}}}}}
	}
	return out
}

func reporting(kod, kbe, kbk string) []*components.RegulatoryReporting3 {
	auth := func() *components.RegulatoryAuthority2 {
		return &components.RegulatoryAuthority2{Nm: isodoc.P[components.Max140Text](Authority), Ctry: isodoc.P[components.CountryCode]("KZ")}
	}
	dtl := func(tp, cd string) *components.StructuredRegulatoryReporting3 {
		return &components.StructuredRegulatoryReporting3{Tp: isodoc.P[components.Max35Text](tp), Ctry: isodoc.P[components.CountryCode]("KZ"), Cd: isodoc.P[components.Max10Text](cd)}
	}
	cred := &components.RegulatoryReporting3{DbtCdtRptgInd: isodoc.P[components.RegulatoryReportingType1Code]("CRED"), Authrty: auth(),
		Dtls: []*components.StructuredRegulatoryReporting3{dtl(RegTypeKBe, kbe)}}
	if kbk != "" {
		cred.Dtls = append(cred.Dtls, dtl(RegTypeKBK, kbk))
	}
	return []*components.RegulatoryReporting3{
		{DbtCdtRptgInd: isodoc.P[components.RegulatoryReportingType1Code]("DEBT"), Authrty: auth(), Dtls: []*components.StructuredRegulatoryReporting3{dtl(RegTypeKOd, kod)}},
		cred,
	}
}
