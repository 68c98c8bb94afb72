package csd

import (
	"sort"
	"strconv"
	"time"

	"github.com/minfin-kz/kopir/contracts/iso20022/components"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/head001v03"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/reda008"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/seev031"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/seev036"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/semt002"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/sese024"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/sese025"
	"github.com/minfin-kz/kopir/contracts/securities"
)

// The builders write what the depository sends; every document goes
// through isodoc.MarshalV03, which refuses anything its XSD does not
// accept.

// bizService names the depository's service for government securities in
// the AppHdr.
const bizService = "kz.csd.gs"

func (m *Mock) header(id, docID string) *head001v03.AppHdr {
	return isodoc.NewHeaderV03(m.opts.BIC, m.opts.MinistryBIC, id, docID, bizService, m.clock.Now())
}

func (m *Mock) stamp() string {
	return m.clock.Now().In(securities.Astana).Format("2006-01-02T15:04:05-07:00")
}

func day(t time.Time) string { return t.Format(time.DateOnly) }

func isin19(isin string) *components.SecurityIdentification19 {
	return &components.SecurityIdentification19{ISIN: isodoc.P[components.ISINOct2015Identifier](isin)}
}

func money(a securities.Amount, ccy string) *components.ActiveCurrencyAndAmount {
	return &components.ActiveCurrencyAndAmount{Value: isodoc.P[components.ActiveCurrencyAndAmount_SimpleType](a.String()), Ccy: isodoc.P[components.ActiveCurrencyCode](ccy)}
}

func units(n int64) *components.FinancialInstrumentQuantity33Choice {
	return &components.FinancialInstrumentQuantity33Choice{Unit: isodoc.P[components.DecimalNumber](strconv.FormatInt(n, 10))}
}

// participantID is a participant by its exchange member code.
func participantID(code string) *components.PartyIdentification127Choice {
	return &components.PartyIdentification127Choice{PrtryId: &components.GenericIdentification36{Id: isodoc.P[components.Max35Text](code), Issr: isodoc.P[components.Max35Text]("KASE")}}
}

// accountOf is the participant's safekeeping account with the depository.
func accountOf(code string) string { return "KZCSD-" + code }

func ptr[T any](v T) *T { return &v }

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// statusAdvice answers a reda.006: completed with the ISIN, or rejected.
func (m *Mock) statusAdvice(id string, cr creation) ([]byte, error) {
	adv := &components.SecurityCreationStatusAdviceV01{
		MsgHdr: &components.MessageHeader12{
			MsgId:   isodoc.P[components.Max35Text](id),
			CreDtTm: isodoc.P[components.ISODateTime](m.stamp()),
			OrgnlBizInstr: &components.OriginalBusinessInstruction1{
				MsgId:   isodoc.P[components.Max35Text](cr.requestID),
				MsgNmId: isodoc.P[components.Max35Text](isodoc.Reda006),
			},
		},
		FinInstrmId: &components.SecurityIdentification39{},
	}
	if cr.requestCreated != "" {
		adv.MsgHdr.OrgnlBizInstr.CreDtTm = isodoc.P[components.ISODateTime](cr.requestCreated)
	}
	if cr.tradeCode != "" {
		adv.FinInstrmId.OthrId = []*components.OtherIdentification1{{Id: isodoc.P[components.Max35Text](cr.tradeCode), Tp: &components.IdentificationSource3Choice{Prtry: isodoc.P[components.Max35Text]("KASE")}}}
	}
	if cr.isin != "" {
		adv.FinInstrmId.ISIN = isodoc.P[components.ISIN2021Identifier](cr.isin)
		adv.PrcgSts = &components.ProcessingStatus72Choice{Cmpltd: &components.Reason4{}}
	} else {
		adv.FinInstrmId.Desc = isodoc.P[components.Max140Text]("not registered")
		adv.PrcgSts = &components.ProcessingStatus72Choice{Rjctd: &components.Reason18Choice{Rsn: []*components.ProprietaryReason4{{
			Rsn:         &components.GenericIdentification30{Id: isodoc.P[components.Exact4AlphaNumericText]("INVD"), Issr: isodoc.P[components.Max35Text]("CSD")},
			AddtlRsnInf: isodoc.P[components.Max210Text](cut(cr.rejection, 210)),
		}}}}
	}
	hdr := m.header(id, isodoc.Reda008)
	hdr.Rltd = []*components.BusinessApplicationHeader7{{
		Fr:        hdr.To,
		To:        hdr.Fr,
		BizMsgIdr: isodoc.P[components.Max35Text](cr.requestID),
		MsgDefIdr: isodoc.P[components.Max35Text](isodoc.Reda006),
		CreDt:     hdr.CreDt,
	}}
	return isodoc.MarshalV03(envelope, hdr, isodoc.Reda008, &reda008.Document{SctyCreStsAdvc: adv})
}

// tradeRefs is how a settlement message names the trade: the trade id in
// full where 52 characters are allowed, and as the account owner's
// transaction id when it fits 35.
func tradeRefs(p *Placement, a Allocation) (trade string, ownerTx string) {
	trade = TradeID(p.AnnouncementID, a.Participant)
	ownerTx = trade
	if len(ownerTx) > 35 {
		ownerTx = "NONREF"
	}
	return trade, ownerTx
}

// pendingAdvice is a sese.024: the placement's settlement with one
// participant is pending for lack of funds.
func (m *Mock) pendingAdvice(id string, p *Placement, a Allocation) ([]byte, error) {
	trade, ownerTx := tradeRefs(p, a)
	doc := &sese024.Document{SctiesSttlmTxStsAdvc: &components.SecuritiesSettlementTransactionStatusAdviceV12{
		TxId:    &components.TransactionIdentifications47{AcctOwnrTxId: isodoc.P[components.Max35Text](ownerTx), AcctSvcrTxId: isodoc.P[components.Max35Text](id)},
		PrcgSts: &components.ProcessingStatus88Choice{AckdAccptd: &components.AcknowledgedAcceptedStatus21Choice{NoSpcfdRsn: isodoc.P[components.NoReasonCode]("NORE")}},
		SttlmSts: &components.SettlementStatus30Choice{Pdg: &components.PendingStatus67Choice{Rsn: []*components.PendingReason30{{
			Cd:          &components.PendingReason63Choice{Cd: isodoc.P[components.PendingReason24Code]("LACK")},
			AddtlRsnInf: isodoc.P[components.Max210Text]("lack of funds on the participant's cash account; settlement retried"),
		}}}},
		TxDtls: &components.TransactionDetails148{
			TradId:        []*components.Max52Text{isodoc.P[components.Max52Text](trade)},
			AcctOwnr:      &components.PartyIdentification144{Id: participantID(a.Participant)},
			SfkpgAcct:     &components.SecuritiesAccount19{Id: isodoc.P[components.Max35Text](accountOf(a.Participant))},
			FinInstrmId:   isin19(p.ISIN),
			SttlmQty:      &components.Quantity51Choice{Qty: units(a.Units)},
			SttlmAmt:      &components.AmountAndDirection51{Amt: money(a.Amount, p.Currency), CdtDbtInd: isodoc.P[components.CreditDebitCode]("DBIT")},
			SttlmDt:       &components.SettlementDate19Choice{Dt: &components.DateAndDateTime2Choice{Dt: isodoc.P[components.ISODate](day(p.SettlementDate))}},
			TradDt:        &components.TradeDate8Choice{Dt: &components.DateAndDateTime2Choice{Dt: isodoc.P[components.ISODate](day(p.TradeDate))}},
			SctiesMvmntTp: isodoc.P[components.ReceiveDelivery1Code]("RECE"),
			Pmt:           isodoc.P[components.DeliveryReceiptType2Code]("APMT"),
			SttlmParams:   &components.SettlementDetails202{SctiesTxTp: &components.SecuritiesTransactionType44Choice{Cd: isodoc.P[components.SecuritiesTransactionType26Code]("TRAD")}},
		},
	}}
	return isodoc.MarshalV03(envelope, m.header(id, isodoc.Sese024), isodoc.Sese024, doc)
}

// confirmation is a sese.025: the placement settled delivery versus
// payment with one participant.
func (m *Mock) confirmation(id string, p *Placement, a Allocation) ([]byte, error) {
	trade, ownerTx := tradeRefs(p, a)
	doc := &sese025.Document{SctiesSttlmTxConf: &components.SecuritiesSettlementTransactionConfirmationV11{
		TxIdDtls: &components.SettlementTypeAndIdentification27{AcctOwnrTxId: isodoc.P[components.Max35Text](ownerTx),
			AcctSvcrTxId:  isodoc.P[components.Max35Text](id),
			SctiesMvmntTp: isodoc.P[components.ReceiveDelivery1Code]("RECE"), Pmt: isodoc.P[components.DeliveryReceiptType2Code]("APMT")},
		TradDtls: &components.SecuritiesTradeDetails118{
			TradId:      []*components.Max52Text{isodoc.P[components.Max52Text](trade)},
			TradDt:      &components.TradeDate8Choice{Dt: &components.DateAndDateTime2Choice{Dt: isodoc.P[components.ISODate](day(p.TradeDate))}},
			FctvSttlmDt: &components.SettlementDate18Choice{Dt: &components.DateAndDateTime2Choice{Dt: isodoc.P[components.ISODate](day(p.SettlementDate))}},
		},
		FinInstrmId: isin19(p.ISIN),
		QtyAndAcctDtls: &components.QuantityAndAccount96{
			SttldQty:  &components.Quantity51Choice{Qty: units(a.Units)},
			AcctOwnr:  &components.PartyIdentification144{Id: participantID(a.Participant)},
			SfkpgAcct: &components.SecuritiesAccount19{Id: isodoc.P[components.Max35Text](accountOf(a.Participant))},
		},
		SttlmParams: &components.SettlementDetails203{SctiesTxTp: &components.SecuritiesTransactionType43Choice{Cd: isodoc.P[components.SecuritiesTransactionType25Code]("TRAD")}},
		SttldAmt:    &components.AmountAndDirection94{Amt: money(a.Amount, p.Currency), CdtDbtInd: isodoc.P[components.CreditDebitCode]("DBIT")},
	}}
	return isodoc.MarshalV03(envelope, m.header(id, isodoc.Sese025), isodoc.Sese025, doc)
}

func ministry() *components.PartyIdentification129Choice {
	return &components.PartyIdentification129Choice{PrtryId: &components.GenericIdentification36{Id: isodoc.P[components.Max35Text]("MFRK"), Issr: isodoc.P[components.Max35Text]("KASE")}}
}

// notification is a seev.031 announcing a coupon (INTR) or the redemption
// (REDM).
func (m *Mock) notification(id string, pay payment) ([]byte, error) {
	dates := &components.CorporateActionDate83{
		RcrdDt: &components.DateFormat30Choice{Dt: isodoc.P[components.ISODate](day(pay.record))},
		PmtDt:  &components.DateFormat30Choice{Dt: isodoc.P[components.ISODate](day(pay.paid))},
	}
	details := &components.CorporateAction80{DtDtls: dates}
	if !pay.start.IsZero() {
		// The period the coupon pays for, so that a holder can recompute
		// the amount per unit from the rate and the day basis.
		details.PrdDtls = &components.CorporateActionPeriod15{IntrstPrd: &components.Period6Choice{Prd: &components.Period11{
			StartDt: &components.DateFormat45Choice{Dt: &components.DateAndDateTime2Choice{Dt: isodoc.P[components.ISODate](day(pay.start))}},
			EndDt:   &components.DateFormat45Choice{Dt: &components.DateAndDateTime2Choice{Dt: isodoc.P[components.ISODate](day(pay.end))}},
		}}}
	}
	cash := &components.CashOption96{
		CdtDbtInd: isodoc.P[components.CreditDebitCode]("CRDT"),
		DtDtls:    &components.CorporateActionDate84{PmtDt: &components.DateFormat30Choice{Dt: isodoc.P[components.ISODate](day(pay.paid))}},
		RateAndAmtDtls: &components.Rate36{GrssDvddRate: []*components.GrossDividendRateFormat38Choice{{Amt: &components.ActiveCurrencyAnd13DecimalAmount{
			Value: isodoc.P[components.ActiveCurrencyAnd13DecimalAmount_SimpleType](pay.perUnit.String()), Ccy: isodoc.P[components.ActiveCurrencyCode](pay.currency)}}}},
	}
	if pay.rate > 0 {
		details.RateAndAmtDtls = &components.CorporateActionRate105{IntrstRate: &components.RateAndAmountFormat37Choice{Rate: isodoc.P[components.PercentageRate](pay.rate.String())}}
		cash.RateAndAmtDtls.IntrstRateUsdForPmt = []*components.InterestRateUsedForPaymentFormat8Choice{{Rate: isodoc.P[components.PercentageRate](pay.rate.String())}}
	}
	doc := &seev031.Document{CorpActnNtfctn: &components.CorporateActionNotificationV14{
		NtfctnGnlInf: &components.CorporateActionNotification9{
			NtfctnTp: isodoc.P[components.CorporateActionNotificationType1Code]("NEWM"),
			PrcgSts: &components.CorporateActionProcessingStatus5Choice{Cd: &components.CorporateActionEventStatus1{
				EvtCmpltnsSts: isodoc.P[components.EventCompletenessStatus1Code]("COMP"), EvtConfSts: isodoc.P[components.EventConfirmationStatus1Code]("CONF")}}},
		CorpActnGnlInf: &components.CorporateActionGeneralInformation165{
			CorpActnEvtId:     isodoc.P[components.Max35Text](pay.id),
			EvtTp:             &components.CorporateActionEventType84Choice{Cd: isodoc.P[components.CorporateActionEventType31Code](pay.event)},
			MndtryVlntryEvtTp: &components.CorporateActionMandatoryVoluntary3Choice{Cd: isodoc.P[components.CorporateActionMandatoryVoluntary1Code]("MAND")},
			UndrlygScty: &components.FinancialInstrumentAttributes108{FinInstrmId: isin19(pay.isin), DnmtnCcy: isodoc.P[components.ActiveOrHistoricCurrencyCode](pay.currency),
				MtrtyDt: isodoc.P[components.ISODate](day(pay.maturity))}},
		AcctDtls:     &components.AccountIdentification56Choice{ForAllAccts: &components.AccountIdentification10{IdCd: isodoc.P[components.SafekeepingAccountIdentification1Code]("GENR")}},
		CorpActnDtls: details,
		CorpActnOptnDtls: []*components.CorporateActionOption224{{
			OptnNb:             isodoc.P[components.Exact3NumericText]("001"),
			OptnTp:             &components.CorporateActionOption37Choice{Cd: isodoc.P[components.CorporateActionOption15Code]("CASH")},
			DfltPrcgOrStgInstr: &components.DefaultProcessingOrStandingInstruction1Choice{DfltOptnInd: ptr(components.YesNoIndicator(true))},
			CshMvmntDtls:       []*components.CashOption96{cash},
		}},
		Issr: ministry(),
	}}
	return isodoc.MarshalV03(envelope, m.header(id, isodoc.Seev031), isodoc.Seev031, doc)
}

// movement is a seev.036: what was paid to the holders on record.
func (m *Mock) movement(id string, pay payment, held int64) ([]byte, error) {
	total, err := pay.perUnit.Total(held)
	if err != nil {
		return nil, err
	}
	doc := &seev036.Document{CorpActnMvmntConf: &components.CorporateActionMovementConfirmationV15{
		CorpActnGnlInf: &components.CorporateActionGeneralInformation162{
			CorpActnEvtId: isodoc.P[components.Max35Text](pay.id),
			EvtTp:         &components.CorporateActionEventType87Choice{Cd: isodoc.P[components.CorporateActionEventType30Code](pay.event)},
			FinInstrmId:   isin19(pay.isin)},
		AcctDtls: &components.AccountAndBalance49{SfkpgAcct: isodoc.P[components.Max35Text](registerOf(pay.isin)),
			Bal: &components.CorporateActionBalanceDetails41{ConfdBal: &components.BalanceFormat11Choice{Bal: &components.SignedQuantityFormat11{
				ShrtLngPos: isodoc.P[components.ShortLong1Code]("LONG"), QtyChc: &components.Quantity48Choice{Qty: units(held)}}}}},
		CorpActnConfDtls: &components.CorporateActionOption222{
			OptnNb: &components.OptionNumber1Choice{Nb: isodoc.P[components.Exact3NumericText]("001")},
			OptnTp: &components.CorporateActionOption33Choice{Cd: isodoc.P[components.CorporateActionOption12Code]("CASH")},
			CshMvmntDtls: []*components.CashOption95{{
				CdtDbtInd: isodoc.P[components.CreditDebitCode]("CRDT"),
				AmtDtls:   &components.CorporateActionAmounts66{PstngAmt: money(total, pay.currency)},
				DtDtls:    &components.CorporateActionDate99{PstngDt: &components.DateAndDateTime2Choice{Dt: isodoc.P[components.ISODate](day(pay.paid))}}}}},
	}}
	return isodoc.MarshalV03(envelope, m.header(id, isodoc.Seev036), isodoc.Seev036, doc)
}

// registerOf is the account an issue's register is kept under.
func registerOf(isin string) string { return "REG-" + isin }

// statement is a semt.002: the holders of an issue at the close of a day.
func (m *Mock) statement(id, isin string, at time.Time, held map[string]int64) ([]byte, error) {
	codes := make([]string, 0, len(held))
	var total int64
	for c, n := range held {
		if n > 0 {
			codes = append(codes, c)
			total += n
		}
	}
	sort.Strings(codes)
	balance := func(n int64) []*components.AggregateBalanceInformation42 {
		return []*components.AggregateBalanceInformation42{{
			FinInstrmId: isin19(isin),
			AggtBal:     &components.Balance17{ShrtLngInd: isodoc.P[components.ShortLong1Code]("LONG"), Qty: &components.BalanceQuantity13Choice{Qty: &components.Quantity51Choice{Qty: units(n)}}},
		}}
	}
	rpt := &components.SecuritiesBalanceCustodyReportV11{
		Pgntn: &components.Pagination1{PgNb: isodoc.P[components.Max5NumericText]("1"), LastPgInd: ptr(components.YesNoIndicator(true))},
		StmtGnlDtls: &components.Statement73{
			StmtId:     isodoc.P[components.Max35Text](id),
			StmtDtTm:   &components.DateAndDateTime2Choice{Dt: isodoc.P[components.ISODate](day(at))},
			Frqcy:      &components.Frequency22Choice{Cd: isodoc.P[components.EventFrequency7Code]("ADHO")},
			UpdTp:      &components.UpdateType15Choice{Cd: isodoc.P[components.StatementUpdateType1Code]("COMP")},
			StmtBsis:   &components.StatementBasis7Choice{Cd: isodoc.P[components.StatementBasis1Code]("SETT")},
			ActvtyInd:  ptr(components.YesNoIndicator(total > 0)),
			SubAcctInd: ptr(components.YesNoIndicator(len(codes) > 0))},
		SfkpgAcct:  &components.SecuritiesAccount26{Id: isodoc.P[components.Max35Text](registerOf(isin))},
		BalForAcct: balance(total),
	}
	for _, c := range codes {
		rpt.SubAcctDtls = append(rpt.SubAcctDtls, &components.SubAccountIdentification67{
			AcctOwnr:      &components.PartyIdentification144{Id: participantID(c)},
			SfkpgAcct:     &components.SecuritiesAccount25{Id: isodoc.P[components.Max35Text](accountOf(c))},
			ActvtyInd:     ptr(components.YesNoIndicator(true)),
			BalForSubAcct: balance(held[c]),
		})
	}
	return isodoc.MarshalV03(envelope, m.header(id, isodoc.Semt002), isodoc.Semt002, &semt002.Document{SctiesBalCtdyRpt: rpt})
}
