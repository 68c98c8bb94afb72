package isodoc

import (
	"encoding/xml"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/contracts/iso20022/components"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/head001v03"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/pacs009"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/reda006"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/reda008"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/seev031"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/seev036"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/semt002"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/sese024"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/sese025"
	"github.com/minfin-kz/kopir/internal/safexml"
	"github.com/minfin-kz/kopir/internal/xsd"
)

// A MEUKAM issue of the ministry (issuer code MFRK) in tenge; the check
// digit is asserted in TestISINCheckDigit, not trusted.
const (
	meukamISIN = "KZKD00000345"
	ministry   = "KKMFKZ2A"
	depository = "CEDUKZKA"
)

func ptr[T any](v T) *T { return &v }

// isinCheckDigit is ISO 6166's: letters become 10..35, then Luhn over the
// digits, doubling from the rightmost.
func isinCheckDigit(base string) string {
	var digits strings.Builder
	for _, c := range base {
		n, _ := strconv.ParseInt(string(c), 36, 0)
		digits.WriteString(strconv.FormatInt(n, 10))
	}
	s, sum := digits.String(), 0
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if (len(s)-1-i)%2 == 0 {
			d *= 2
		}
		sum += d/10 + d%10
	}
	return strconv.Itoa((10 - sum%10) % 10)
}

func TestISINCheckDigit(t *testing.T) {
	for _, isin := range []string{"US0378331005", "AU0000XVGZA3", "GB0002634946", meukamISIN, "KZK200000125", "KZK100000415"} {
		if got := isinCheckDigit(isin[:11]); got != isin[11:] {
			t.Errorf("%s: check digit %s", isin, got)
		}
	}
	if isinCheckDigit("KZKD0000034") == "4" {
		t.Error("a wrong check digit passed")
	}
}

func isinID(isin string) *components.SecurityIdentification19 {
	return &components.SecurityIdentification19{ISIN: P[components.ISINOct2015Identifier](isin)}
}

func tenge(amount string) *components.ActiveCurrencyAndAmount {
	return &components.ActiveCurrencyAndAmount{
		Value: P[components.ActiveCurrencyAndAmount_SimpleType](amount), Ccy: P[components.ActiveCurrencyCode]("KZT")}
}

func faceAmount(amount string) *components.FinancialInstrumentQuantity33Choice {
	return &components.FinancialInstrumentQuantity33Choice{FaceAmt: P[components.ImpliedCurrencyAndAmount](amount)}
}

func onDate(d string) *components.DateAndDateTime2Choice {
	return &components.DateAndDateTime2Choice{Dt: P[components.ISODate](d)}
}

// ministryOrganisation is the issuer as reda.006 names it: by its issuer
// code, with the registered address the schema requires.
func ministryOrganisation() *components.Organisation38 {
	return &components.Organisation38{
		Nm: P[components.Max140Text]("Ministry of Finance of the Republic of Kazakhstan"),
		Id: &components.PartyIdentification177Choice{PrtryId: &components.GenericIdentification1{Id: P[components.Max35Text]("MFRK"), Issr: P[components.Max35Text]("KASE")}},
		PstlAdr: []*components.PostalAddress3{{
			AdrTp: P[components.AddressType1Code]("BIZZ"), MlngInd: ptr(components.YesNoIndicator(true)), RegnAdrInd: ptr(components.YesNoIndicator(true)),
			NmAndAdr: &components.NameAndAddress4{Adr: &components.PostalAddress1{
				StrtNm: P[components.Max70Text]("Mangilik El"), BldgNb: P[components.Max16Text]("8"), TwnNm: P[components.Max35Text]("Astana"), Ctry: P[components.CountryCode]("KZ")}}}},
	}
}

func fiBIC(bic string) *components.BranchAndFinancialInstitutionIdentification8 {
	return &components.BranchAndFinancialInstitutionIdentification8{
		FinInstnId: &components.FinancialInstitutionIdentification23{BICFI: P[components.BICFIDec2014Identifier](bic)}}
}

// securitiesCase is one securities message: a minimal document as Köpir
// would write or receive it, a value that must come back from decoding,
// and a change that breaks the schema at a named element.
type securitiesCase struct {
	id       string
	ns       string // the generated package's NS constant
	doc      any
	decoded  func() any
	readBack func(any) string
	want     string
	bad      [2]string // replace bad[0] by bad[1] in the valid message
	badPath  string    // the violation's path ends with it
}

func securitiesCases() map[string]securitiesCase {
	return map[string]securitiesCase{
		"reda.006 register issue": {
			id: Reda006, ns: reda006.NS,
			doc: &reda006.Document{SctyCreReq: &components.SecurityCreationRequestV01{
				MsgHdr: &components.MessageHeader1{MsgId: P[components.Max35Text]("MFRK-REG-2025-0001"), CreDtTm: P[components.ISODateTime]("2025-03-03T09:00:00+05:00")},
				Scty: &components.SecurityAttributes10{
					FinInstrmId: &components.SecurityIdentification39{
						OthrId: []*components.OtherIdentification1{{Id: P[components.Max35Text]("MUM240_0001"), Tp: &components.IdentificationSource3Choice{Prtry: P[components.Max35Text]("KASE")}}},
						Desc:   P[components.Max140Text]("MEUKAM-240 issue 1")},
					FinInstrmTp: []*components.FinancialInstrument97{{Debt: &components.Debt5{
						FaceAmt: tenge("1000"), MtrtyDt: P[components.ISODateTime]("2045-03-05T00:00:00+05:00"), IntrstRate: P[components.PercentageRate]("12.5")}}},
					FinInstrmAttrbts: []*components.CommonFinancialInstrumentAttributes10{{
						ISOSctyShrtNm: P[components.Max35Text]("MFRK MUM240_0001"),
						DnmtnCcy:      P[components.ActiveOrHistoricCurrencyCode]("KZT"),
						Issnc:         &components.Issuance5{CtryOfIsse: P[components.CountryCode]("KZ"), IssrOrg: ministryOrganisation()}}},
				}}},
			decoded: func() any { return &reda006.Document{} },
			readBack: func(d any) string {
				s := d.(*reda006.Document).SctyCreReq.Scty
				return S(s.FinInstrmId.OthrId[0].Id) + " " + S(s.FinInstrmTp[0].Debt.FaceAmt.Value) + " " + S(s.FinInstrmTp[0].Debt.IntrstRate) + " " + S(s.FinInstrmAttrbts[0].Issnc.IssrOrg.Id.PrtryId.Id)
			},
			want:    "MUM240_0001 1000 12.5 MFRK",
			bad:     [2]string{"<DnmtnCcy>KZT</DnmtnCcy>", "<DnmtnCcy>tenge</DnmtnCcy>"},
			badPath: "/Document/SctyCreReq/Scty/FinInstrmAttrbts/DnmtnCcy",
		},
		"reda.008 ISIN assigned": {
			id: Reda008, ns: reda008.NS,
			doc: &reda008.Document{SctyCreStsAdvc: &components.SecurityCreationStatusAdviceV01{
				MsgHdr: &components.MessageHeader12{MsgId: P[components.Max35Text]("CSD-ADV-0001"), CreDtTm: P[components.ISODateTime]("2025-03-03T11:00:00+05:00")},
				FinInstrmId: &components.SecurityIdentification39{ISIN: P[components.ISIN2021Identifier](meukamISIN),
					OthrId: []*components.OtherIdentification1{{Id: P[components.Max35Text]("MUM240_0001"), Tp: &components.IdentificationSource3Choice{Prtry: P[components.Max35Text]("KASE")}}}},
				PrcgSts: &components.ProcessingStatus72Choice{Cmpltd: &components.Reason4{}},
			}},
			decoded: func() any { return &reda008.Document{} },
			readBack: func(d any) string {
				a := d.(*reda008.Document).SctyCreStsAdvc
				completed := a.PrcgSts.Cmpltd != nil
				return S(a.FinInstrmId.ISIN) + " " + strconv.FormatBool(completed)
			},
			want:    meukamISIN + " true",
			bad:     [2]string{"<ISIN>" + meukamISIN + "</ISIN>", "<ISIN>KZKD0000034</ISIN>"},
			badPath: "/Document/SctyCreStsAdvc/FinInstrmId/ISIN",
		},
		"sese.024 instruction accepted": {
			id: Sese024, ns: sese024.NS,
			doc: &sese024.Document{SctiesSttlmTxStsAdvc: &components.SecuritiesSettlementTransactionStatusAdviceV12{
				TxId:    &components.TransactionIdentifications47{AcctOwnrTxId: P[components.Max35Text]("MFRK-DVP-0001"), AcctSvcrTxId: P[components.Max35Text]("CSD-TX-778")},
				PrcgSts: &components.ProcessingStatus88Choice{AckdAccptd: &components.AcknowledgedAcceptedStatus21Choice{NoSpcfdRsn: P[components.NoReasonCode]("NORE")}},
			}},
			decoded: func() any { return &sese024.Document{} },
			readBack: func(d any) string {
				a := d.(*sese024.Document).SctiesSttlmTxStsAdvc
				return S(a.TxId.AcctOwnrTxId) + " " + S(a.PrcgSts.AckdAccptd.NoSpcfdRsn)
			},
			want:    "MFRK-DVP-0001 NORE",
			bad:     [2]string{"<NoSpcfdRsn>NORE</NoSpcfdRsn>", "<NoSpcfdRsn>NONE</NoSpcfdRsn>"},
			badPath: "/Document/SctiesSttlmTxStsAdvc/PrcgSts/AckdAccptd/NoSpcfdRsn",
		},
		"sese.025 placement settled": {
			id: Sese025, ns: sese025.NS,
			doc: &sese025.Document{SctiesSttlmTxConf: &components.SecuritiesSettlementTransactionConfirmationV11{
				TxIdDtls: &components.SettlementTypeAndIdentification27{AcctOwnrTxId: P[components.Max35Text]("MFRK-DVP-0001"),
					SctiesMvmntTp: P[components.ReceiveDelivery1Code]("DELI"), Pmt: P[components.DeliveryReceiptType2Code]("APMT")},
				TradDtls:       &components.SecuritiesTradeDetails118{FctvSttlmDt: &components.SettlementDate18Choice{Dt: onDate("2025-03-05")}},
				FinInstrmId:    isinID(meukamISIN),
				QtyAndAcctDtls: &components.QuantityAndAccount96{SttldQty: &components.Quantity51Choice{Qty: faceAmount("5000000000")}},
				SttlmParams:    &components.SettlementDetails203{SctiesTxTp: &components.SecuritiesTransactionType43Choice{Cd: P[components.SecuritiesTransactionType25Code]("TRAD")}},
				SttldAmt:       &components.AmountAndDirection94{Amt: tenge("4987500000.00"), CdtDbtInd: P[components.CreditDebitCode]("CRDT")},
			}},
			decoded: func() any { return &sese025.Document{} },
			readBack: func(d any) string {
				c := d.(*sese025.Document).SctiesSttlmTxConf
				return S(c.FinInstrmId.ISIN) + " " + S(c.QtyAndAcctDtls.SttldQty.Qty.FaceAmt) + " " + S(c.SttldAmt.Amt.Value) + " " + S(c.SttldAmt.Amt.Ccy)
			},
			want:    meukamISIN + " 5000000000 4987500000.00 KZT",
			bad:     [2]string{"<SctiesMvmntTp>DELI</SctiesMvmntTp>", "<SctiesMvmntTp>SELL</SctiesMvmntTp>"},
			badPath: "/Document/SctiesSttlmTxConf/TxIdDtls/SctiesMvmntTp",
		},
		"semt.002 holders at record date": {
			id: Semt002, ns: semt002.NS,
			doc: &semt002.Document{SctiesBalCtdyRpt: &components.SecuritiesBalanceCustodyReportV11{
				Pgntn: &components.Pagination1{PgNb: P[components.Max5NumericText]("1"), LastPgInd: ptr(components.YesNoIndicator(true))},
				StmtGnlDtls: &components.Statement73{
					StmtDtTm:   onDate("2025-09-04"),
					Frqcy:      &components.Frequency22Choice{Cd: P[components.EventFrequency7Code]("ADHO")},
					UpdTp:      &components.UpdateType15Choice{Cd: P[components.StatementUpdateType1Code]("COMP")},
					StmtBsis:   &components.StatementBasis7Choice{Cd: P[components.StatementBasis1Code]("SETT")},
					ActvtyInd:  ptr(components.YesNoIndicator(true)),
					SubAcctInd: ptr(components.YesNoIndicator(false))},
				SfkpgAcct: &components.SecuritiesAccount26{Id: P[components.Max35Text]("KZ-CSD-000123")},
				BalForAcct: []*components.AggregateBalanceInformation42{{
					FinInstrmId: isinID(meukamISIN),
					AggtBal:     &components.Balance17{ShrtLngInd: P[components.ShortLong1Code]("LONG"), Qty: &components.BalanceQuantity13Choice{Qty: &components.Quantity51Choice{Qty: faceAmount("250000000")}}}}},
			}},
			decoded: func() any { return &semt002.Document{} },
			readBack: func(d any) string {
				r := d.(*semt002.Document).SctiesBalCtdyRpt
				b := r.BalForAcct[0]
				return S(r.StmtGnlDtls.StmtDtTm.Dt) + " " + S(b.FinInstrmId.ISIN) + " " + S(b.AggtBal.Qty.Qty.Qty.FaceAmt) + " " + strconv.FormatBool(bool(*r.Pgntn.LastPgInd))
			},
			want:    "2025-09-04 " + meukamISIN + " 250000000 true",
			bad:     [2]string{"<PgNb>1</PgNb>", "<PgNb>one</PgNb>"},
			badPath: "/Document/SctiesBalCtdyRpt/Pgntn/PgNb",
		},
		"seev.031 coupon announced": {
			id: Seev031, ns: seev031.NS,
			doc: &seev031.Document{CorpActnNtfctn: &components.CorporateActionNotificationV14{
				NtfctnGnlInf: &components.CorporateActionNotification9{
					NtfctnTp: P[components.CorporateActionNotificationType1Code]("NEWM"),
					PrcgSts: &components.CorporateActionProcessingStatus5Choice{Cd: &components.CorporateActionEventStatus1{
						EvtCmpltnsSts: P[components.EventCompletenessStatus1Code]("COMP"), EvtConfSts: P[components.EventConfirmationStatus1Code]("CONF")}}},
				CorpActnGnlInf: &components.CorporateActionGeneralInformation165{
					CorpActnEvtId:     P[components.Max35Text]("INTR-KZKD00000345-01"),
					EvtTp:             &components.CorporateActionEventType84Choice{Cd: P[components.CorporateActionEventType31Code]("INTR")},
					MndtryVlntryEvtTp: &components.CorporateActionMandatoryVoluntary3Choice{Cd: P[components.CorporateActionMandatoryVoluntary1Code]("MAND")},
					UndrlygScty: &components.FinancialInstrumentAttributes108{FinInstrmId: isinID(meukamISIN),
						DnmtnCcy: P[components.ActiveOrHistoricCurrencyCode]("KZT"), MtrtyDt: P[components.ISODate]("2045-03-05")}},
				AcctDtls: &components.AccountIdentification56Choice{ForAllAccts: &components.AccountIdentification10{IdCd: P[components.SafekeepingAccountIdentification1Code]("GENR")}},
				Issr:     &components.PartyIdentification129Choice{PrtryId: &components.GenericIdentification36{Id: P[components.Max35Text]("MFRK"), Issr: P[components.Max35Text]("KASE")}},
			}},
			decoded: func() any { return &seev031.Document{} },
			readBack: func(d any) string {
				n := d.(*seev031.Document).CorpActnNtfctn
				return S(n.CorpActnGnlInf.EvtTp.Cd) + " " + S(n.CorpActnGnlInf.UndrlygScty.FinInstrmId.ISIN) + " " + S(n.Issr.PrtryId.Id)
			},
			want:    "INTR " + meukamISIN + " MFRK",
			bad:     [2]string{"<Cd>INTR</Cd>", "<Cd>COUPON</Cd>"},
			badPath: "/Document/CorpActnNtfctn/CorpActnGnlInf/EvtTp/Cd",
		},
		"seev.036 redemption paid": {
			id: Seev036, ns: seev036.NS,
			doc: &seev036.Document{CorpActnMvmntConf: &components.CorporateActionMovementConfirmationV15{
				CorpActnGnlInf: &components.CorporateActionGeneralInformation162{
					CorpActnEvtId: P[components.Max35Text]("REDM-KZKD00000345"),
					EvtTp:         &components.CorporateActionEventType87Choice{Cd: P[components.CorporateActionEventType30Code]("REDM")},
					FinInstrmId:   isinID(meukamISIN)},
				AcctDtls: &components.AccountAndBalance49{SfkpgAcct: P[components.Max35Text]("KZ-CSD-000123"),
					Bal: &components.CorporateActionBalanceDetails41{ConfdBal: &components.BalanceFormat11Choice{Bal: &components.SignedQuantityFormat11{
						ShrtLngPos: P[components.ShortLong1Code]("LONG"), QtyChc: &components.Quantity48Choice{Qty: faceAmount("250000000")}}}}},
				CorpActnConfDtls: &components.CorporateActionOption222{
					OptnNb: &components.OptionNumber1Choice{Nb: P[components.Exact3NumericText]("001")},
					OptnTp: &components.CorporateActionOption33Choice{Cd: P[components.CorporateActionOption12Code]("CASH")},
					CshMvmntDtls: []*components.CashOption95{{
						CdtDbtInd: P[components.CreditDebitCode]("CRDT"),
						AmtDtls:   &components.CorporateActionAmounts66{PstngAmt: tenge("250000000.00")},
						DtDtls:    &components.CorporateActionDate99{PstngDt: onDate("2045-03-05")}}}},
			}},
			decoded: func() any { return &seev036.Document{} },
			readBack: func(d any) string {
				c := d.(*seev036.Document).CorpActnMvmntConf
				cash := c.CorpActnConfDtls.CshMvmntDtls[0]
				return S(c.CorpActnGnlInf.EvtTp.Cd) + " " + S(cash.AmtDtls.PstngAmt.Value) + " " + S(cash.AmtDtls.PstngAmt.Ccy) + " " + S(cash.DtDtls.PstngDt.Dt)
			},
			want:    "REDM 250000000.00 KZT 2045-03-05",
			bad:     [2]string{"<Nb>001</Nb>", "<Nb>1</Nb>"},
			badPath: "/Document/CorpActnMvmntConf/CorpActnConfDtls/OptnNb/Nb",
		},
		"pacs.009 coupon cash leg": {
			id: Pacs009, ns: pacs009.NS,
			doc: &pacs009.Document{FICdtTrf: &components.FinancialInstitutionCreditTransferV11{
				GrpHdr: &components.GroupHeader113{MsgId: P[components.Max35Text]("MFRK-CPN-0001"), CreDtTm: P[components.ISODateTime]("2025-09-05T09:00:00+05:00"),
					NbOfTxs: P[components.Max15NumericText]("1"), SttlmInf: &components.SettlementInstruction15{SttlmMtd: P[components.SettlementMethod1Code]("CLRG")}},
				CdtTrfTxInf: []*components.CreditTransferTransaction62{{
					PmtId:          &components.PaymentIdentification13{EndToEndId: P[components.Max35Text]("CPN-KZKD00000345-01")},
					IntrBkSttlmAmt: tenge("15625000.00"),
					IntrBkSttlmDt:  P[components.ISODate]("2025-09-05"),
					Dbtr:           fiBIC(ministry),
					Cdtr:           fiBIC(depository)}},
			}},
			decoded: func() any { return &pacs009.Document{} },
			readBack: func(d any) string {
				tx := d.(*pacs009.Document).FICdtTrf.CdtTrfTxInf[0]
				return S(tx.IntrBkSttlmAmt.Value) + " " + S(tx.IntrBkSttlmAmt.Ccy) + " " + S(tx.Cdtr.FinInstnId.BICFI)
			},
			want:    "15625000.00 KZT " + depository,
			bad:     [2]string{`Ccy="KZT"`, `Ccy="KZ"`},
			badPath: "/Document/FICdtTrf/CdtTrfTxInf/IntrBkSttlmAmt",
		},
	}
}

var securitiesMessages = []string{Reda006, Reda008, Sese024, Sese025, Semt002, Seev031, Seev036, Pacs009}

// Each securities message written from the generated types conforms to
// its official schema with a head.001.001.03 header, is told apart from
// the others by its namespace alone, and decodes back to what was written.
func TestSecuritiesMessagesRoundTrip(t *testing.T) {
	for name, c := range securitiesCases() {
		t.Run(name, func(t *testing.T) {
			if c.ns != NS(c.id) {
				t.Fatalf("generated package's NS %q, isodoc's %q", c.ns, NS(c.id))
			}
			hdr := NewHeaderV03(ministry, depository, "BIZ-1", c.id, "kz.csd.gs", time.Date(2025, 3, 3, 4, 0, 0, 0, time.UTC))
			raw, err := MarshalV03(xml.Name{Local: "message"}, hdr, c.id, c.doc)
			if err != nil {
				t.Fatalf("not valid against %s.xsd (%s): %v", c.id, Validator(), err)
			}
			m, err := Parse(raw, securitiesMessages, safexml.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if m.MsgDefIdr != c.id || m.Header != nil || m.HeaderV03 == nil || S(m.HeaderV03.BizSvc) != "kz.csd.gs" || m.SenderBIC() != ministry {
				t.Fatalf("parsed as %s, header v02 %v v03 %v, sender %q", m.MsgDefIdr, m.Header != nil, m.HeaderV03 != nil, m.SenderBIC())
			}
			doc := c.decoded()
			if err := m.Decode(doc); err != nil {
				t.Fatal(err)
			}
			if got := c.readBack(doc); got != c.want {
				t.Fatalf("read back %q, want %q", got, c.want)
			}
			again, err := MarshalV03(xml.Name{Local: "message"}, hdr, c.id, doc)
			if err != nil || string(again) != string(raw) {
				t.Fatalf("decoded document re-encodes differently (%v):\n%s", err, again)
			}
		})
	}
}

func TestSecuritiesMessagesRefuseSchemaViolations(t *testing.T) {
	for name, c := range securitiesCases() {
		t.Run(name, func(t *testing.T) {
			hdr := NewHeaderV03(depository, ministry, "BIZ-2", c.id, "", time.Now())
			raw, err := MarshalV03(xml.Name{Local: "message"}, hdr, c.id, c.doc)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(raw), c.bad[0]) {
				t.Fatalf("message lacks %s", c.bad[0])
			}
			bad := strings.Replace(string(raw), c.bad[0], c.bad[1], 1)
			_, err = Parse([]byte(bad), securitiesMessages, safexml.Limits{})
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Code != CodeSchemaInvalid || len(pe.Violations) == 0 {
				t.Fatalf("err = %v, want %s", err, CodeSchemaInvalid)
			}
			if v := pe.Violations[0]; v.Path != "/message"+c.badPath {
				t.Fatalf("violation at %q (%s), want /message%s", v.Path, v.Message, c.badPath)
			}
		})
	}
}

func TestMarshalRefusesInvalidSecuritiesDocument(t *testing.T) {
	doc := securitiesCases()["reda.006 register issue"].doc.(*reda006.Document)
	doc.SctyCreReq.Scty.FinInstrmAttrbts[0].DnmtnCcy = P[components.ActiveOrHistoricCurrencyCode]("kzt")
	out, err := MarshalV03(xml.Name{Local: "message"}, NewHeaderV03(ministry, depository, "REG-1", Reda006, "", time.Now()), Reda006, doc)
	var xe *xsd.Error
	if !errors.As(err, &xe) || out != nil {
		t.Fatalf("invalid request written: %v", err)
	}
	if !strings.HasSuffix(xe.Violations[0].Path, "/Document/SctyCreReq/Scty/FinInstrmAttrbts/DnmtnCcy") {
		t.Fatalf("violation path %q", xe.Violations[0].Path)
	}
}

func TestHeaderOf(t *testing.T) {
	for id, want := range map[string]string{
		Pacs002: Head001, Pacs008: Head001, Camt053: Head001, Pain001: Head001, "pacs.009.001.08": Head001,
		Pacs009: Head001v03, Reda006: Head001v03, Reda008: Head001v03, Sese024: Head001v03, Sese025: Head001v03,
		Semt002: Head001v03, Seev031: Head001v03, Seev036: Head001v03, "sese.023.001.11": Head001v03,
	} {
		if got := HeaderOf(id); got != want {
			t.Errorf("HeaderOf(%s) = %s, want %s", id, got, want)
		}
	}
	if head001v03.MsgDefIdr != Head001v03 || head001v03.NS != NS(Head001v03) {
		t.Error("head001v03 constants disagree with isodoc")
	}
}

// A message travels with one header version: the other one is refused
// both ways, so the bus neither sends nor accepts a pairing the
// counterpart's schema set does not have.
func TestHeaderVersionMustMatchTheMessage(t *testing.T) {
	c := securitiesCases()["reda.008 ISIN assigned"]
	if _, err := Marshal(xml.Name{Local: "message"}, NewHeader(depository, ministry, "ADV-1", Reda008, "", time.Now()), Reda008, c.doc); err == nil || !strings.Contains(err.Error(), Head001v03) {
		t.Errorf("reda.008 with a head.001.001.02 header: %v", err)
	}
	if _, err := MarshalV03(xml.Name{Local: "message"}, NewHeaderV03(ministry, depository, "STS-1", Pacs002, "", time.Now()), Pacs002, statusDoc("STS-1")); err == nil || !strings.Contains(err.Error(), Head001) {
		t.Errorf("pacs.002 with a head.001.001.03 header: %v", err)
	}
	raw, err := MarshalV03(xml.Name{Local: "message"}, NewHeaderV03(depository, ministry, "ADV-1", Reda008, "", time.Now()), Reda008, c.doc)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		raw, code, detail string
	}{
		"payment header on reda.008": {strings.Replace(string(raw), NS(Head001v03), NS(Head001), 1), CodeUnknownMessage, "only " + Head001v03},
		"header names another":       {strings.Replace(string(raw), "<MsgDefIdr>"+Reda008, "<MsgDefIdr>"+Reda006, 1), CodeHeaderMismatch, Reda006},
	} {
		_, err := Parse([]byte(tc.raw), securitiesMessages, safexml.Limits{})
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Code != tc.code || !strings.Contains(pe.Error(), tc.detail) {
			t.Errorf("%s: %v, want %s mentioning %q", name, err, tc.code, tc.detail)
		}
	}
	bare, err := MarshalV03(xml.Name{}, nil, Reda008, c.doc)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := Parse(bare, securitiesMessages, safexml.Limits{}); err != nil || m.HeaderV03 != nil || m.SenderBIC() != "" || m.Form != "document" {
		t.Errorf("bare reda.008: %v", err)
	}
}
