package payments

import (
	"fmt"
	"strings"
	"time"

	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/camt053"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/camt054"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/pacs002"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/pacs004"
)

// The builders below write what the payment system sends; every document
// goes through isodoc.Marshal, which refuses anything its XSD does not
// accept, so the mock cannot push an invalid message.

func (s *server) stamp() string { return s.now().UTC().Format("2006-01-02T15:04:05Z") }

func (s *server) marshal(docID, id string, doc any) ([]byte, string, error) {
	hdr := isodoc.NewHeader(s.opts.BIC, s.opts.ParticipantBIC, id, docID, "", s.now())
	out, err := isodoc.Marshal(s.env, hdr, docID, doc)
	return out, id, err
}

// statusReport answers one payment: pacs.002 with its transaction status.
func (s *server) statusReport(p *payment, status, reason, text string) ([]byte, string, error) {
	id := s.nextID(isodoc.Pacs002)
	tx := &pacs002.PaymentTransaction110{
		OrgnlGrpInf:     &pacs002.OriginalGroupInformation29{OrgnlMsgId: isodoc.P[pacs002.Max35Text](p.MsgID), OrgnlMsgNmId: isodoc.P[pacs002.Max35Text](p.MsgDef)},
		OrgnlEndToEndId: isodoc.P[pacs002.Max35Text](p.EndToEndID),
		TxSts:           isodoc.P[pacs002.ExternalPaymentTransactionStatus1Code](status),
	}
	if p.TxID != "" {
		tx.OrgnlTxId = isodoc.P[pacs002.Max35Text](p.TxID)
	}
	if reason != "" || text != "" {
		ri := &pacs002.StatusReasonInformation12{}
		if reason != "" {
			ri.Rsn = &pacs002.StatusReason6Choice{Cd: isodoc.P[pacs002.ExternalStatusReason1Code](reason)}
		}
		if text != "" {
			ri.AddtlInf = []*pacs002.Max105Text{isodoc.P[pacs002.Max105Text](cut(text, 105))}
		}
		tx.StsRsnInf = []*pacs002.StatusReasonInformation12{ri}
	}
	if status == "ACSC" {
		tx.AccptncDtTm = isodoc.P[pacs002.ISODateTime](s.stamp())
		tx.FctvIntrBkSttlmDt = &pacs002.DateAndDateTime2Choice{Dt: isodoc.P[pacs002.ISODate](p.SettlementDate)}
	}
	return s.marshal(isodoc.Pacs002, id, &pacs002.Document{FIToFIPmtStsRpt: &pacs002.FIToFIPaymentStatusReportV10{
		GrpHdr:      &pacs002.GroupHeader91{MsgId: isodoc.P[pacs002.Max35Text](id), CreDtTm: isodoc.P[pacs002.ISODateTime](s.stamp())},
		TxInfAndSts: []*pacs002.PaymentTransaction110{tx},
	}})
}

// paymentReturn returns a settled payment: pacs.004.
func (s *server) paymentReturn(p *payment, reason, text string) ([]byte, string, error) {
	id := s.nextID(isodoc.Pacs004)
	amt := func() *pacs004.ActiveCurrencyAndAmount {
		return &pacs004.ActiveCurrencyAndAmount{Value: isodoc.P[pacs004.ActiveCurrencyAndAmount_SimpleType](p.Amount), Ccy: isodoc.P[pacs004.ActiveCurrencyCode](p.Currency)}
	}
	ri := &pacs004.PaymentReturnReason6{Rsn: &pacs004.ReturnReason5Choice{Cd: isodoc.P[pacs004.ExternalReturnReason1Code](reason)}}
	if text != "" {
		ri.AddtlInf = []*pacs004.Max105Text{isodoc.P[pacs004.Max105Text](cut(text, 105))}
	}
	return s.marshal(isodoc.Pacs004, id, &pacs004.Document{PmtRtr: &pacs004.PaymentReturnV09{
		GrpHdr: &pacs004.GroupHeader90{
			MsgId:                 isodoc.P[pacs004.Max35Text](id),
			CreDtTm:               isodoc.P[pacs004.ISODateTime](s.stamp()),
			NbOfTxs:               isodoc.P[pacs004.Max15NumericText]("1"),
			TtlRtrdIntrBkSttlmAmt: amt(),
			IntrBkSttlmDt:         isodoc.P[pacs004.ISODate](s.today()),
			SttlmInf:              &pacs004.SettlementInstruction7{SttlmMtd: isodoc.P[pacs004.SettlementMethod1Code]("CLRG")},
		},
		TxInf: []*pacs004.PaymentTransaction112{{
			RtrId:               isodoc.P[pacs004.Max35Text](id),
			OrgnlGrpInf:         &pacs004.OriginalGroupInformation29{OrgnlMsgId: isodoc.P[pacs004.Max35Text](p.MsgID), OrgnlMsgNmId: isodoc.P[pacs004.Max35Text](p.MsgDef)},
			OrgnlEndToEndId:     isodoc.P[pacs004.Max35Text](p.EndToEndID),
			OrgnlIntrBkSttlmAmt: &pacs004.ActiveOrHistoricCurrencyAndAmount{Value: isodoc.P[pacs004.ActiveOrHistoricCurrencyAndAmount_SimpleType](p.Amount), Ccy: isodoc.P[pacs004.ActiveOrHistoricCurrencyCode](p.Currency)},
			OrgnlIntrBkSttlmDt:  isodoc.P[pacs004.ISODate](p.SettlementDate),
			RtrdIntrBkSttlmAmt:  amt(),
			ChrgBr:              isodoc.P[pacs004.ChargeBearerType1Code]("SLEV"),
			RtrRsnInf:           []*pacs004.PaymentReturnReason6{ri},
		}},
	}})
}

// booking is one line of a statement: a settled payment (DBIT), its return
// (CRDT), or an entry the caller asked for that matches nothing of Köpir's.
type booking struct {
	Ref           string
	CreditDebit   string
	Amount        string
	Currency      string
	Date          string
	EndToEndID    string
	MsgID         string
	PaymentInfoID string
	Debtor        string // IBAN
	Creditor      string // IBAN
	Info          string
}

// statement writes camt.053 (withBalances) or camt.054 for one account.
func (s *server) statement(docID, account, ccy string, opening isodoc.Amount, books []booking) ([]byte, string, error) {
	if docID == isodoc.Camt054 {
		return s.notification(account, ccy, books)
	}
	closing := int64(opening)
	entries := make([]*camt053.ReportEntry10, 0, len(books))
	for _, b := range books {
		a, _ := isodoc.ParseAmount(b.Amount)
		if b.CreditDebit == "DBIT" {
			closing -= int64(a)
		} else {
			closing += int64(a)
		}
		entries = append(entries, entry053(b))
	}
	bal := func(tp string, v int64) *camt053.CashBalance8 {
		ind := "CRDT"
		if v < 0 {
			ind, v = "DBIT", -v
		}
		return &camt053.CashBalance8{
			Tp:        &camt053.BalanceType13{CdOrPrtry: &camt053.BalanceType10Choice{Cd: isodoc.P[camt053.ExternalBalanceType1Code](tp)}},
			Amt:       &camt053.ActiveOrHistoricCurrencyAndAmount{Value: isodoc.P[camt053.ActiveOrHistoricCurrencyAndAmount_SimpleType](isodoc.Amount(v).Format(isodoc.MinorUnits(ccy))), Ccy: isodoc.P[camt053.ActiveOrHistoricCurrencyCode](ccy)},
			CdtDbtInd: isodoc.P[camt053.CreditDebitCode](ind),
			Dt:        &camt053.DateAndDateTime2Choice{Dt: isodoc.P[camt053.ISODate](s.today())},
		}
	}
	id := s.nextID(docID)
	stmt := &camt053.AccountStatement9{
		Id:      isodoc.P[camt053.Max35Text](id),
		CreDtTm: isodoc.P[camt053.ISODateTime](s.stamp()),
		Acct: &camt053.CashAccount39{Id: &camt053.AccountIdentification4Choice{IBAN: isodoc.P[camt053.IBAN2007Identifier](account)},
			Ccy: isodoc.P[camt053.ActiveOrHistoricCurrencyCode](ccy)},
		Bal:  []*camt053.CashBalance8{bal("OPBD", int64(opening)), bal("CLBD", closing)},
		Ntry: entries,
	}
	doc := &camt053.Document{BkToCstmrStmt: &camt053.BankToCustomerStatementV08{
		GrpHdr: &camt053.GroupHeader81{MsgId: isodoc.P[camt053.Max35Text](id), CreDtTm: isodoc.P[camt053.ISODateTime](s.stamp())},
		Stmt:   []*camt053.AccountStatement9{stmt},
	}}
	return s.marshal(docID, id, doc)
}

func (s *server) notification(account, ccy string, books []booking) ([]byte, string, error) {
	entries := make([]*camt054.ReportEntry10, 0, len(books))
	for _, b := range books {
		entries = append(entries, entry054(b))
	}
	id := s.nextID(isodoc.Camt054)
	doc := &camt054.Document{BkToCstmrDbtCdtNtfctn: &camt054.BankToCustomerDebitCreditNotificationV08{
		GrpHdr: &camt054.GroupHeader81{MsgId: isodoc.P[camt054.Max35Text](id), CreDtTm: isodoc.P[camt054.ISODateTime](s.stamp())},
		Ntfctn: []*camt054.AccountNotification17{{
			Id:      isodoc.P[camt054.Max35Text](id),
			CreDtTm: isodoc.P[camt054.ISODateTime](s.stamp()),
			Acct: &camt054.CashAccount39{Id: &camt054.AccountIdentification4Choice{IBAN: isodoc.P[camt054.IBAN2007Identifier](account)},
				Ccy: isodoc.P[camt054.ActiveOrHistoricCurrencyCode](ccy)},
			Ntry: entries,
		}},
	}}
	return s.marshal(isodoc.Camt054, id, doc)
}

func entry053(b booking) *camt053.ReportEntry10 {
	amt := func() *camt053.ActiveOrHistoricCurrencyAndAmount {
		return &camt053.ActiveOrHistoricCurrencyAndAmount{Value: isodoc.P[camt053.ActiveOrHistoricCurrencyAndAmount_SimpleType](b.Amount), Ccy: isodoc.P[camt053.ActiveOrHistoricCurrencyCode](b.Currency)}
	}
	sub := "ESCT"
	if b.CreditDebit == "CRDT" && b.EndToEndID != "" {
		sub = "RRTN" // a returned transfer
	}
	e := &camt053.ReportEntry10{
		NtryRef:     isodoc.P[camt053.Max35Text](b.Ref),
		Amt:         amt(),
		CdtDbtInd:   isodoc.P[camt053.CreditDebitCode](b.CreditDebit),
		Sts:         &camt053.EntryStatus1Choice{Cd: isodoc.P[camt053.ExternalEntryStatus1Code]("BOOK")},
		BookgDt:     &camt053.DateAndDateTime2Choice{Dt: isodoc.P[camt053.ISODate](b.Date)},
		ValDt:       &camt053.DateAndDateTime2Choice{Dt: isodoc.P[camt053.ISODate](b.Date)},
		AcctSvcrRef: isodoc.P[camt053.Max35Text](b.Ref),
		BkTxCd: &camt053.BankTransactionCodeStructure4{Domn: &camt053.BankTransactionCodeStructure5{Cd: isodoc.P[camt053.ExternalBankTransactionDomain1Code]("PMNT"),
			Fmly: &camt053.BankTransactionCodeStructure6{Cd: isodoc.P[camt053.ExternalBankTransactionFamily1Code]("ICDT"), SubFmlyCd: isodoc.P[camt053.ExternalBankTransactionSubFamily1Code](sub)}}},
	}
	if b.Info != "" {
		e.AddtlNtryInf = isodoc.P[camt053.Max500Text](cut(b.Info, 500))
	}
	refs := &camt053.TransactionReferences6{}
	if b.MsgID != "" {
		refs.MsgId = isodoc.P[camt053.Max35Text](b.MsgID)
	}
	if b.PaymentInfoID != "" {
		refs.PmtInfId = isodoc.P[camt053.Max35Text](b.PaymentInfoID)
	}
	if b.EndToEndID != "" {
		refs.EndToEndId = isodoc.P[camt053.Max35Text](b.EndToEndID)
	}
	tx := &camt053.EntryTransaction10{Refs: refs, Amt: amt(), CdtDbtInd: isodoc.P[camt053.CreditDebitCode](b.CreditDebit)}
	if b.Debtor != "" || b.Creditor != "" {
		tx.RltdPties = &camt053.TransactionParties6{}
		if b.Debtor != "" {
			tx.RltdPties.DbtrAcct = &camt053.CashAccount38{Id: &camt053.AccountIdentification4Choice{IBAN: isodoc.P[camt053.IBAN2007Identifier](b.Debtor)}}
		}
		if b.Creditor != "" {
			tx.RltdPties.CdtrAcct = &camt053.CashAccount38{Id: &camt053.AccountIdentification4Choice{IBAN: isodoc.P[camt053.IBAN2007Identifier](b.Creditor)}}
		}
	}
	if b.EndToEndID != "" || b.MsgID != "" || b.PaymentInfoID != "" || tx.RltdPties != nil {
		e.NtryDtls = []*camt053.EntryDetails9{{TxDtls: []*camt053.EntryTransaction10{tx}}}
	}
	return e
}

func entry054(b booking) *camt054.ReportEntry10 {
	amt := func() *camt054.ActiveOrHistoricCurrencyAndAmount {
		return &camt054.ActiveOrHistoricCurrencyAndAmount{Value: isodoc.P[camt054.ActiveOrHistoricCurrencyAndAmount_SimpleType](b.Amount), Ccy: isodoc.P[camt054.ActiveOrHistoricCurrencyCode](b.Currency)}
	}
	sub := "ESCT"
	if b.CreditDebit == "CRDT" && b.EndToEndID != "" {
		sub = "RRTN"
	}
	e := &camt054.ReportEntry10{
		NtryRef:     isodoc.P[camt054.Max35Text](b.Ref),
		Amt:         amt(),
		CdtDbtInd:   isodoc.P[camt054.CreditDebitCode](b.CreditDebit),
		Sts:         &camt054.EntryStatus1Choice{Cd: isodoc.P[camt054.ExternalEntryStatus1Code]("BOOK")},
		BookgDt:     &camt054.DateAndDateTime2Choice{Dt: isodoc.P[camt054.ISODate](b.Date)},
		ValDt:       &camt054.DateAndDateTime2Choice{Dt: isodoc.P[camt054.ISODate](b.Date)},
		AcctSvcrRef: isodoc.P[camt054.Max35Text](b.Ref),
		BkTxCd: &camt054.BankTransactionCodeStructure4{Domn: &camt054.BankTransactionCodeStructure5{Cd: isodoc.P[camt054.ExternalBankTransactionDomain1Code]("PMNT"),
			Fmly: &camt054.BankTransactionCodeStructure6{Cd: isodoc.P[camt054.ExternalBankTransactionFamily1Code]("ICDT"), SubFmlyCd: isodoc.P[camt054.ExternalBankTransactionSubFamily1Code](sub)}}},
	}
	if b.Info != "" {
		e.AddtlNtryInf = isodoc.P[camt054.Max500Text](cut(b.Info, 500))
	}
	refs := &camt054.TransactionReferences6{}
	if b.MsgID != "" {
		refs.MsgId = isodoc.P[camt054.Max35Text](b.MsgID)
	}
	if b.PaymentInfoID != "" {
		refs.PmtInfId = isodoc.P[camt054.Max35Text](b.PaymentInfoID)
	}
	if b.EndToEndID != "" {
		refs.EndToEndId = isodoc.P[camt054.Max35Text](b.EndToEndID)
	}
	tx := &camt054.EntryTransaction10{Refs: refs, Amt: amt(), CdtDbtInd: isodoc.P[camt054.CreditDebitCode](b.CreditDebit)}
	if b.Debtor != "" || b.Creditor != "" {
		tx.RltdPties = &camt054.TransactionParties6{}
		if b.Debtor != "" {
			tx.RltdPties.DbtrAcct = &camt054.CashAccount38{Id: &camt054.AccountIdentification4Choice{IBAN: isodoc.P[camt054.IBAN2007Identifier](b.Debtor)}}
		}
		if b.Creditor != "" {
			tx.RltdPties.CdtrAcct = &camt054.CashAccount38{Id: &camt054.AccountIdentification4Choice{IBAN: isodoc.P[camt054.IBAN2007Identifier](b.Creditor)}}
		}
	}
	if b.EndToEndID != "" || b.MsgID != "" || b.PaymentInfoID != "" || tx.RltdPties != nil {
		e.NtryDtls = []*camt054.EntryDetails9{{TxDtls: []*camt054.EntryTransaction10{tx}}}
	}
	return e
}

func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

func (s *server) today() string {
	return s.now().In(time.FixedZone("Asia/Almaty", 5*3600)).Format(time.DateOnly)
}

// nextID gives each pushed message its own MsgId: the message type, the
// mock's start time and a sequence number (30 characters; Max35Text).
func (s *server) nextID(docID string) string {
	return fmt.Sprintf("NBK%s%s%06d", strings.ReplaceAll(isodoc.Key(docID), ".", ""), s.epoch, s.seq.Add(1))
}
