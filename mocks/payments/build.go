package payments

import (
	"fmt"
	"strings"
	"time"

	"github.com/minfin-kz/kopir/contracts/iso20022/components"
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
	tx := &components.PaymentTransaction110{
		OrgnlGrpInf:     &components.OriginalGroupInformation29{OrgnlMsgId: isodoc.P[components.Max35Text](p.MsgID), OrgnlMsgNmId: isodoc.P[components.Max35Text](p.MsgDef)},
		OrgnlEndToEndId: isodoc.P[components.Max35Text](p.EndToEndID),
		TxSts:           isodoc.P[components.ExternalPaymentTransactionStatus1Code](status),
	}
	if p.TxID != "" {
		tx.OrgnlTxId = isodoc.P[components.Max35Text](p.TxID)
	}
	if reason != "" || text != "" {
		ri := &components.StatusReasonInformation12{}
		if reason != "" {
			ri.Rsn = &components.StatusReason6Choice{Cd: isodoc.P[components.ExternalStatusReason1Code](reason)}
		}
		if text != "" {
			ri.AddtlInf = []*components.Max105Text{isodoc.P[components.Max105Text](cut(text, 105))}
		}
		tx.StsRsnInf = []*components.StatusReasonInformation12{ri}
	}
	if status == "ACSC" {
		tx.AccptncDtTm = isodoc.P[components.ISODateTime](s.stamp())
		tx.FctvIntrBkSttlmDt = &components.DateAndDateTime2Choice{Dt: isodoc.P[components.ISODate](p.SettlementDate)}
	}
	return s.marshal(isodoc.Pacs002, id, &pacs002.Document{FIToFIPmtStsRpt: &components.FIToFIPaymentStatusReportV10{
		GrpHdr:      &components.GroupHeader91{MsgId: isodoc.P[components.Max35Text](id), CreDtTm: isodoc.P[components.ISODateTime](s.stamp())},
		TxInfAndSts: []*components.PaymentTransaction110{tx},
	}})
}

// paymentReturn returns a settled payment: pacs.004.
func (s *server) paymentReturn(p *payment, reason, text string) ([]byte, string, error) {
	id := s.nextID(isodoc.Pacs004)
	amt := func() *components.ActiveCurrencyAndAmount {
		return &components.ActiveCurrencyAndAmount{Value: isodoc.P[components.ActiveCurrencyAndAmount_SimpleType](p.Amount), Ccy: isodoc.P[components.ActiveCurrencyCode](p.Currency)}
	}
	ri := &components.PaymentReturnReason6{Rsn: &components.ReturnReason5Choice{Cd: isodoc.P[components.ExternalReturnReason1Code](reason)}}
	if text != "" {
		ri.AddtlInf = []*components.Max105Text{isodoc.P[components.Max105Text](cut(text, 105))}
	}
	return s.marshal(isodoc.Pacs004, id, &pacs004.Document{PmtRtr: &components.PaymentReturnV09{
		GrpHdr: &components.GroupHeader90{
			MsgId:                 isodoc.P[components.Max35Text](id),
			CreDtTm:               isodoc.P[components.ISODateTime](s.stamp()),
			NbOfTxs:               isodoc.P[components.Max15NumericText]("1"),
			TtlRtrdIntrBkSttlmAmt: amt(),
			IntrBkSttlmDt:         isodoc.P[components.ISODate](s.today()),
			SttlmInf:              &components.SettlementInstruction7{SttlmMtd: isodoc.P[components.SettlementMethod1Code]("CLRG")},
		},
		TxInf: []*components.PaymentTransaction112{{
			RtrId:               isodoc.P[components.Max35Text](id),
			OrgnlGrpInf:         &components.OriginalGroupInformation29{OrgnlMsgId: isodoc.P[components.Max35Text](p.MsgID), OrgnlMsgNmId: isodoc.P[components.Max35Text](p.MsgDef)},
			OrgnlEndToEndId:     isodoc.P[components.Max35Text](p.EndToEndID),
			OrgnlIntrBkSttlmAmt: &components.ActiveOrHistoricCurrencyAndAmount{Value: isodoc.P[components.ActiveOrHistoricCurrencyAndAmount_SimpleType](p.Amount), Ccy: isodoc.P[components.ActiveOrHistoricCurrencyCode](p.Currency)},
			OrgnlIntrBkSttlmDt:  isodoc.P[components.ISODate](p.SettlementDate),
			RtrdIntrBkSttlmAmt:  amt(),
			ChrgBr:              isodoc.P[components.ChargeBearerType1Code]("SLEV"),
			RtrRsnInf:           []*components.PaymentReturnReason6{ri},
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
	entries := make([]*components.ReportEntry10, 0, len(books))
	for _, b := range books {
		a, _ := isodoc.ParseAmount(b.Amount)
		if b.CreditDebit == "DBIT" {
			closing -= int64(a)
		} else {
			closing += int64(a)
		}
		entries = append(entries, entry(b))
	}
	bal := func(tp string, v int64) *components.CashBalance8 {
		ind := "CRDT"
		if v < 0 {
			ind, v = "DBIT", -v
		}
		return &components.CashBalance8{
			Tp:        &components.BalanceType13{CdOrPrtry: &components.BalanceType10Choice{Cd: isodoc.P[components.ExternalBalanceType1Code](tp)}},
			Amt:       &components.ActiveOrHistoricCurrencyAndAmount{Value: isodoc.P[components.ActiveOrHistoricCurrencyAndAmount_SimpleType](isodoc.Amount(v).Format(isodoc.MinorUnits(ccy))), Ccy: isodoc.P[components.ActiveOrHistoricCurrencyCode](ccy)},
			CdtDbtInd: isodoc.P[components.CreditDebitCode](ind),
			Dt:        &components.DateAndDateTime2Choice{Dt: isodoc.P[components.ISODate](s.today())},
		}
	}
	id := s.nextID(docID)
	stmt := &components.AccountStatement9{
		Id:      isodoc.P[components.Max35Text](id),
		CreDtTm: isodoc.P[components.ISODateTime](s.stamp()),
		Acct: &components.CashAccount39{Id: &components.AccountIdentification4Choice{IBAN: isodoc.P[components.IBAN2007Identifier](account)},
			Ccy: isodoc.P[components.ActiveOrHistoricCurrencyCode](ccy)},
		Bal:  []*components.CashBalance8{bal("OPBD", int64(opening)), bal("CLBD", closing)},
		Ntry: entries,
	}
	doc := &camt053.Document{BkToCstmrStmt: &components.BankToCustomerStatementV08{
		GrpHdr: &components.GroupHeader81{MsgId: isodoc.P[components.Max35Text](id), CreDtTm: isodoc.P[components.ISODateTime](s.stamp())},
		Stmt:   []*components.AccountStatement9{stmt},
	}}
	return s.marshal(docID, id, doc)
}

func (s *server) notification(account, ccy string, books []booking) ([]byte, string, error) {
	entries := make([]*components.ReportEntry10, 0, len(books))
	for _, b := range books {
		entries = append(entries, entry(b))
	}
	id := s.nextID(isodoc.Camt054)
	doc := &camt054.Document{BkToCstmrDbtCdtNtfctn: &components.BankToCustomerDebitCreditNotificationV08{
		GrpHdr: &components.GroupHeader81{MsgId: isodoc.P[components.Max35Text](id), CreDtTm: isodoc.P[components.ISODateTime](s.stamp())},
		Ntfctn: []*components.AccountNotification17{{
			Id:      isodoc.P[components.Max35Text](id),
			CreDtTm: isodoc.P[components.ISODateTime](s.stamp()),
			Acct: &components.CashAccount39{Id: &components.AccountIdentification4Choice{IBAN: isodoc.P[components.IBAN2007Identifier](account)},
				Ccy: isodoc.P[components.ActiveOrHistoricCurrencyCode](ccy)},
			Ntry: entries,
		}},
	}}
	return s.marshal(isodoc.Camt054, id, doc)
}

func entry(b booking) *components.ReportEntry10 {
	amt := func() *components.ActiveOrHistoricCurrencyAndAmount {
		return &components.ActiveOrHistoricCurrencyAndAmount{Value: isodoc.P[components.ActiveOrHistoricCurrencyAndAmount_SimpleType](b.Amount), Ccy: isodoc.P[components.ActiveOrHistoricCurrencyCode](b.Currency)}
	}
	sub := "ESCT"
	if b.CreditDebit == "CRDT" && b.EndToEndID != "" {
		sub = "RRTN" // a returned transfer
	}
	e := &components.ReportEntry10{
		NtryRef:     isodoc.P[components.Max35Text](b.Ref),
		Amt:         amt(),
		CdtDbtInd:   isodoc.P[components.CreditDebitCode](b.CreditDebit),
		Sts:         &components.EntryStatus1Choice{Cd: isodoc.P[components.ExternalEntryStatus1Code]("BOOK")},
		BookgDt:     &components.DateAndDateTime2Choice{Dt: isodoc.P[components.ISODate](b.Date)},
		ValDt:       &components.DateAndDateTime2Choice{Dt: isodoc.P[components.ISODate](b.Date)},
		AcctSvcrRef: isodoc.P[components.Max35Text](b.Ref),
		BkTxCd: &components.BankTransactionCodeStructure4{Domn: &components.BankTransactionCodeStructure5{Cd: isodoc.P[components.ExternalBankTransactionDomain1Code]("PMNT"),
			Fmly: &components.BankTransactionCodeStructure6{Cd: isodoc.P[components.ExternalBankTransactionFamily1Code]("ICDT"), SubFmlyCd: isodoc.P[components.ExternalBankTransactionSubFamily1Code](sub)}}},
	}
	if b.Info != "" {
		e.AddtlNtryInf = isodoc.P[components.Max500Text](cut(b.Info, 500))
	}
	refs := &components.TransactionReferences6{}
	if b.MsgID != "" {
		refs.MsgId = isodoc.P[components.Max35Text](b.MsgID)
	}
	if b.PaymentInfoID != "" {
		refs.PmtInfId = isodoc.P[components.Max35Text](b.PaymentInfoID)
	}
	if b.EndToEndID != "" {
		refs.EndToEndId = isodoc.P[components.Max35Text](b.EndToEndID)
	}
	tx := &components.EntryTransaction10{Refs: refs, Amt: amt(), CdtDbtInd: isodoc.P[components.CreditDebitCode](b.CreditDebit)}
	if b.Debtor != "" || b.Creditor != "" {
		tx.RltdPties = &components.TransactionParties6{}
		if b.Debtor != "" {
			tx.RltdPties.DbtrAcct = &components.CashAccount38{Id: &components.AccountIdentification4Choice{IBAN: isodoc.P[components.IBAN2007Identifier](b.Debtor)}}
		}
		if b.Creditor != "" {
			tx.RltdPties.CdtrAcct = &components.CashAccount38{Id: &components.AccountIdentification4Choice{IBAN: isodoc.P[components.IBAN2007Identifier](b.Creditor)}}
		}
	}
	if b.EndToEndID != "" || b.MsgID != "" || b.PaymentInfoID != "" || tx.RltdPties != nil {
		e.NtryDtls = []*components.EntryDetails9{{TxDtls: []*components.EntryTransaction10{tx}}}
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
