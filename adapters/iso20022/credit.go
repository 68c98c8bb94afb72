package iso20022

import (
	"github.com/minfin-kz/kopir/adapters"
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
	settle := func() *p8.ActiveCurrencyAndAmount {
		return &p8.ActiveCurrencyAndAmount{Value: isodoc.P[p8.ActiveCurrencyAndAmount_SimpleType](amt), Ccy: isodoc.P[p8.ActiveCurrencyCode](ct.Amount.Currency)}
	}
	sttlm := &p8.SettlementInstruction7{SttlmMtd: isodoc.P[p8.SettlementMethod1Code]("CLRG")}
	if a.opts.ClearingSystem != "" {
		sttlm.ClrSys = &p8.ClearingSystemIdentification3Choice{Prtry: isodoc.P[p8.Max35Text](a.opts.ClearingSystem)}
	}
	tx := &p8.CreditTransferTransaction39{
		PmtId: &p8.PaymentIdentification7{
			EndToEndId: isodoc.P[p8.Max35Text](ct.EndToEndID),
			TxId:       isodoc.P[p8.Max35Text](id),
		},
		IntrBkSttlmAmt: settle(),
		ChrgBr:         isodoc.P[p8.ChargeBearerType1Code]("SLEV"),
		InstgAgt:       agent8(a.opts.SenderBIC),
		InstdAgt:       agent8(ct.Creditor.BIC),
		Dbtr:           party8(ct.Debtor),
		DbtrAcct:       account8(ct.Debtor.IBAN),
		DbtrAgt:        agent8(ct.Debtor.BIC),
		CdtrAgt:        agent8(ct.Creditor.BIC),
		Cdtr:           party8(ct.Creditor),
		CdtrAcct:       account8(ct.Creditor.IBAN),
		Purp:           &p8.Purpose2Choice{Prtry: isodoc.P[p8.Max35Text](ct.KNP)},
		RgltryRptg:     reporting8(ct.KOd, ct.KBe, ct.KBK),
	}
	if ct.InstructionID != "" {
		tx.PmtId.InstrId = isodoc.P[p8.Max35Text](ct.InstructionID)
	}
	if ct.Remittance != "" {
		tx.RmtInf = &p8.RemittanceInformation16{Ustrd: []*p8.Max140Text{isodoc.P[p8.Max140Text](ct.Remittance)}}
	}
	return &p8.Document{FIToFICstmrCdtTrf: &p8.FIToFICustomerCreditTransferV08{
		GrpHdr: &p8.GroupHeader93{
			MsgId:   isodoc.P[p8.Max35Text](id),
			CreDtTm: isodoc.P[p8.ISODateTime](a.now().In(almaty).Format("2006-01-02T15:04:05-07:00")),
			NbOfTxs: isodoc.P[p8.Max15NumericText]("1"),
			// The control sum and the total settlement amount are the one
			// transaction's amount: the payment system checks both against
			// the sum of the transactions.
			CtrlSum:           isodoc.P[p8.DecimalNumber](amt),
			TtlIntrBkSttlmAmt: settle(),
			IntrBkSttlmDt:     isodoc.P[p8.ISODate](c.date),
			SttlmInf:          sttlm,
		},
		CdtTrfTxInf: []*p8.CreditTransferTransaction39{tx},
	}}
}

func agent8(bic string) *p8.BranchAndFinancialInstitutionIdentification6 {
	return &p8.BranchAndFinancialInstitutionIdentification6{FinInstnId: &p8.FinancialInstitutionIdentification18{BICFI: isodoc.P[p8.BICFIDec2014Identifier](bic)}}
}

func account8(ib string) *p8.CashAccount38 {
	return &p8.CashAccount38{Id: &p8.AccountIdentification4Choice{IBAN: isodoc.P[p8.IBAN2007Identifier](ib)}}
}

// party8 identifies a legal entity by BIN as a tax id (TXID: the BIN is
// Kazakhstan's taxpayer number) and an individual by IIN as national
// identity number (NIDN).
func party8(p Party) *p8.PartyIdentification135 {
	out := &p8.PartyIdentification135{Nm: isodoc.P[p8.Max140Text](p.Name)}
	switch {
	case p.BIN != "":
		out.Id = &p8.Party38Choice{OrgId: &p8.OrganisationIdentification29{Othr: []*p8.GenericOrganisationIdentification1{{
			Id: isodoc.P[p8.Max35Text](p.BIN), SchmeNm: &p8.OrganisationIdentificationSchemeName1Choice{Cd: isodoc.P[p8.ExternalOrganisationIdentification1Code]("TXID")}}}}}
	case p.IIN != "":
		out.Id = &p8.Party38Choice{PrvtId: &p8.PersonIdentification13{Othr: []*p8.GenericPersonIdentification1{{
			Id: isodoc.P[p8.Max35Text](p.IIN), SchmeNm: &p8.PersonIdentificationSchemeName1Choice{Cd: isodoc.P[p8.ExternalPersonIdentification1Code]("NIDN")}}}}}
	}
	return out
}

func reporting8(kod, kbe, kbk string) []*p8.RegulatoryReporting3 {
	auth := func() *p8.RegulatoryAuthority2 {
		return &p8.RegulatoryAuthority2{Nm: isodoc.P[p8.Max140Text](Authority), Ctry: isodoc.P[p8.CountryCode]("KZ")}
	}
	dtl := func(tp, cd string) *p8.StructuredRegulatoryReporting3 {
		return &p8.StructuredRegulatoryReporting3{Tp: isodoc.P[p8.Max35Text](tp), Ctry: isodoc.P[p8.CountryCode]("KZ"), Cd: isodoc.P[p8.Max10Text](cd)}
	}
	cred := &p8.RegulatoryReporting3{DbtCdtRptgInd: isodoc.P[p8.RegulatoryReportingType1Code]("CRED"), Authrty: auth(),
		Dtls: []*p8.StructuredRegulatoryReporting3{dtl(RegTypeKBe, kbe)}}
	if kbk != "" {
		cred.Dtls = append(cred.Dtls, dtl(RegTypeKBK, kbk))
	}
	return []*p8.RegulatoryReporting3{
		{DbtCdtRptgInd: isodoc.P[p8.RegulatoryReportingType1Code]("DEBT"), Authrty: auth(), Dtls: []*p8.StructuredRegulatoryReporting3{dtl(RegTypeKOd, kod)}},
		cred,
	}
}
