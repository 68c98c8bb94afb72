package csd_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/csd"
	"github.com/minfin-kz/kopir/contracts/iso20022/components"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/reda006"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/semt002"
	"github.com/minfin-kz/kopir/internal/safexml"
)

const (
	ministry   = "KKMFKZ2A"
	depository = "CEDUKZKA"
	opts       = "ministryBIC: " + ministry + "\ndepositoryBIC: " + depository + "\nholidays: [2027-06-07]\n"
	meukamISIN = "KZKD00000345"
	messageID  = "0191f0a2-7b3c-7d4e-8f90-a1b2c3d4e5f6"
)

// issueJSON is the wire contract's example, with change applied.
func issueJSON(t *testing.T, change func(m map[string]any)) []byte {
	t.Helper()
	m := map[string]any{"type": "MEUKAM", "faceValue": "1000", "volume": 1000000, "currency": "KZT",
		"circulationStart": "2026-12-03", "maturity": "2036-12-03", "couponRate": "12.5", "couponFrequency": 2,
		"dayBasis": "30/360", "issueNumber": 1, "termMonths": 120}
	if change != nil {
		change(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// depositoryServer answers like the depository: status for every request,
// keeping what it was sent.
type depositoryServer struct {
	*httptest.Server
	mu       sync.Mutex
	status   int
	body     string
	received []*http.Request
	bodies   [][]byte
}

func newDepository(t *testing.T, status int, body string) *depositoryServer {
	d := &depositoryServer{status: status, body: body}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		d.mu.Lock()
		d.received, d.bodies = append(d.received, r), append(d.bodies, b)
		d.mu.Unlock()
		w.WriteHeader(d.status)
		io.WriteString(w, d.body)
	}))
	t.Cleanup(d.Close)
	return d
}

func call(t *testing.T, a adapters.Adapter, endpoint string, body []byte) (*adapters.Response, error) {
	t.Helper()
	ctx := context.Background()
	req := &adapters.Request{Route: "test.csd", MessageID: messageID, Body: body}
	if v, ok := a.(adapters.Validator); ok {
		if err := v.Validate(ctx, req); err != nil {
			return nil, err
		}
	}
	w, err := a.Encode(ctx, req)
	if err != nil {
		return nil, err
	}
	resp, err := (&adaptertest.Transport{Endpoint: endpoint}).Do(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	return a.Decode(ctx, req, resp)
}

func TestRegisterIssueSendsValidReda006(t *testing.T) {
	dep := newDepository(t, http.StatusAccepted, "")
	a := adaptertest.NewAdapter(t, "csd", csd.OpRegisterIssue, opts)
	resp, err := call(t, a, dep.URL+"/csd/iso20022", issueJSON(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	var got csd.Registered
	if err := json.Unmarshal(resp.Body, &got); err != nil {
		t.Fatal(err)
	}
	wantID := strings.ReplaceAll(messageID, "-", "")
	if got.Status != "SENT" || got.MsgID != wantID || got.MessageDefinition != isodoc.Reda006 {
		t.Fatalf("answer %+v", got)
	}
	if len(dep.received) != 1 || dep.received[0].Method != http.MethodPost || dep.received[0].URL.Path != "/csd/iso20022" {
		t.Fatalf("depository received %d requests, first %s %s", len(dep.received), dep.received[0].Method, dep.received[0].URL)
	}
	// Parse validates against the official reda.006 and head.001.001.03 XSDs.
	msg, err := isodoc.Parse(dep.bodies[0], []string{isodoc.Reda006}, safexml.Limits{})
	if err != nil {
		t.Fatalf("sent reda.006 is not valid against its XSD (%s): %v", isodoc.Validator(), err)
	}
	if msg.Form != "envelope" || msg.HeaderV03 == nil || msg.SenderBIC() != ministry || isodoc.PartyBIC(msg.HeaderV03.To) != depository || isodoc.S(msg.HeaderV03.BizMsgIdr) != wantID {
		t.Fatalf("header: form %s, %+v", msg.Form, msg.HeaderV03)
	}
	var doc reda006.Document
	if err := msg.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	s := doc.SctyCreReq.Scty
	debt := s.FinInstrmTp[0].Debt
	iss := s.FinInstrmAttrbts[0].Issnc
	for name, c := range map[string][2]string{
		"msg id":      {isodoc.S(doc.SctyCreReq.MsgHdr.MsgId), wantID},
		"trade code":  {isodoc.S(s.FinInstrmId.OthrId[0].Id), "MUM120_0001"},
		"face":        {isodoc.S(debt.FaceAmt.Value) + " " + isodoc.S(debt.FaceAmt.Ccy), "1000.00 KZT"},
		"rate":        {isodoc.S(debt.IntrstRate), "12.5000"},
		"frequency":   {isodoc.S(debt.PmtFrqcy.Cd), "MIAN"},
		"day basis":   {isodoc.S(debt.IntrstClctnMtd), "30/360"},
		"maturity":    {isodoc.S(debt.MtrtyDt), "2036-12-03T00:00:00+05:00"},
		"first pay":   {isodoc.S(debt.FrstPmtDt), "2027-06-03T00:00:00+05:00"},
		"issue date":  {isodoc.S(iss.IsseDt), "2026-12-03"},
		"volume":      {isodoc.S(iss.IsseSz), "1000000"},
		"full amount": {isodoc.S(iss.FullIssdAmt.Value), "1000000000.00"},
		"issuer":      {isodoc.S(iss.IssrOrg.Id.PrtryId.Id), "MFRK"},
	} {
		if c[0] != c[1] {
			t.Errorf("%s: %q, want %q", name, c[0], c[1])
		}
	}
}

func TestRegisterIssueRefusesBrokenRulesNamingTheField(t *testing.T) {
	for name, tc := range map[string]struct {
		change func(m map[string]any)
		field  string
	}{
		"unknown type":            {func(m map[string]any) { m["type"] = "MEGAKAM" }, "type"},
		"face value of MEKKAM":    {func(m map[string]any) { m["faceValue"] = "100" }, "faceValue"},
		"face value not a number": {func(m map[string]any) { m["faceValue"] = "1e3" }, "faceValue"},
		"MEKKAM with 1000 face": {func(m map[string]any) {
			m["type"] = "MEKKAM"
			m["termMonths"] = 12
			delete(m, "couponRate")
			m["couponFrequency"] = 0
		}, "faceValue"},
		"maturity before start":    {func(m map[string]any) { m["maturity"] = "2026-12-01" }, "maturity"},
		"maturity equals start":    {func(m map[string]any) { m["maturity"] = "2026-12-03" }, "maturity"},
		"start not a date":         {func(m map[string]any) { m["circulationStart"] = "03.12.2026" }, "circulationStart"},
		"rate with 5 decimals":     {func(m map[string]any) { m["couponRate"] = "12.12345" }, "couponRate"},
		"rate missing":             {func(m map[string]any) { delete(m, "couponRate") }, "couponRate"},
		"frequency 3":              {func(m map[string]any) { m["couponFrequency"] = 3 }, "couponFrequency"},
		"frequency 0":              {func(m map[string]any) { m["couponFrequency"] = 0 }, "couponFrequency"},
		"day basis unknown":        {func(m map[string]any) { m["dayBasis"] = "actual/360" }, "dayBasis"},
		"volume zero":              {func(m map[string]any) { m["volume"] = 0 }, "volume"},
		"volume negative":          {func(m map[string]any) { m["volume"] = -5 }, "volume"},
		"currency":                 {func(m map[string]any) { m["currency"] = "USD" }, "currency"},
		"term outside the type's":  {func(m map[string]any) { m["termMonths"] = 12; m["maturity"] = "2027-12-03" }, "termMonths"},
		"term not the dates'":      {func(m map[string]any) { m["termMonths"] = 121 }, "termMonths"},
		"issue number":             {func(m map[string]any) { m["issueNumber"] = 0 }, "issueNumber"},
		"schedule not the terms'":  {func(m map[string]any) { m["couponDates"] = []string{"2027-06-03"} }, "couponDates"},
		"schedule date not a date": {func(m map[string]any) { m["couponDates"] = []string{"June"} }, "couponDates/0"},
	} {
		t.Run(name, func(t *testing.T) {
			dep := newDepository(t, http.StatusAccepted, "")
			a := adaptertest.NewAdapter(t, "csd", csd.OpRegisterIssue, opts)
			_, err := call(t, a, dep.URL, issueJSON(t, tc.change))
			var ae *adapters.Error
			if !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity || ae.Field != tc.field {
				t.Fatalf("err = %v, want 422 on %s", err, tc.field)
			}
			if len(dep.received) != 0 {
				t.Fatal("a refused issue reached the depository")
			}
		})
	}
}

func TestRegisterIssueAcceptsAScheduleThatMatches(t *testing.T) {
	dep := newDepository(t, http.StatusAccepted, "")
	a := adaptertest.NewAdapter(t, "csd", csd.OpRegisterIssue, opts)
	body := issueJSON(t, func(m map[string]any) {
		m["circulationStart"], m["maturity"], m["termMonths"] = "2026-12-03", "2027-12-03", 12
		m["type"] = "MEOKAM"
		m["termMonths"] = 13
		m["maturity"] = "2028-01-03"
		// 2027-07-03 is a Saturday: its payment date, Monday 5 July, is
		// printed instead, which the schedule allows.
		m["couponDates"] = []string{"2027-01-03", "2027-07-05", "2028-01-03"}
	})
	if _, err := call(t, a, dep.URL, body); err != nil {
		t.Fatal(err)
	}
}

func TestRegisterIssueDepositoryAnswers(t *testing.T) {
	for name, tc := range map[string]struct {
		status    int
		retryable bool
	}{
		"refused":     {http.StatusBadRequest, false},
		"unavailable": {http.StatusServiceUnavailable, true},
	} {
		t.Run(name, func(t *testing.T) {
			dep := newDepository(t, tc.status, "schema violation at /message/Document")
			a := adaptertest.NewAdapter(t, "csd", csd.OpRegisterIssue, opts)
			_, err := call(t, a, dep.URL, issueJSON(t, nil))
			var ae *adapters.Error
			if !errors.As(err, &ae) || ae.Status != http.StatusBadGateway || ae.Retryable != tc.retryable || !strings.Contains(ae.Detail, "schema violation") {
				t.Fatalf("err = %#v", err)
			}
		})
	}
}

func TestOptionsAreChecked(t *testing.T) {
	for name, o := range map[string]string{
		"no ministry":    "depositoryBIC: " + depository,
		"bad depository": "ministryBIC: " + ministry + "\ndepositoryBIC: CSD",
		"unknown option": opts + "x: 1\n",
		"holiday format": "ministryBIC: " + ministry + "\ndepositoryBIC: " + depository + "\nholidays: [16.12.2026]\n",
	} {
		if _, err := adaptertest.BuildAdapter(t, "csd", csd.OpRegisterIssue, o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := adaptertest.BuildAdapter(t, "csd", "cancel", opts); err == nil {
		t.Error("unknown operation accepted")
	}
}

func semt002Body(t *testing.T, date string, holders ...[3]string) string {
	t.Helper()
	yes, no := components.YesNoIndicator(true), components.YesNoIndicator(false)
	rpt := &components.SecuritiesBalanceCustodyReportV11{
		Pgntn: &components.Pagination1{PgNb: isodoc.P[components.Max5NumericText]("1"), LastPgInd: &yes},
		StmtGnlDtls: &components.Statement73{
			StmtDtTm:   &components.DateAndDateTime2Choice{Dt: isodoc.P[components.ISODate](date)},
			Frqcy:      &components.Frequency22Choice{Cd: isodoc.P[components.EventFrequency7Code]("ADHO")},
			UpdTp:      &components.UpdateType15Choice{Cd: isodoc.P[components.StatementUpdateType1Code]("COMP")},
			StmtBsis:   &components.StatementBasis7Choice{Cd: isodoc.P[components.StatementBasis1Code]("SETT")},
			ActvtyInd:  &yes,
			SubAcctInd: &yes},
		SfkpgAcct: &components.SecuritiesAccount26{Id: isodoc.P[components.Max35Text]("ISSUER-" + meukamISIN)},
	}
	for _, h := range holders {
		rpt.SubAcctDtls = append(rpt.SubAcctDtls, &components.SubAccountIdentification67{
			AcctOwnr:  &components.PartyIdentification144{Id: &components.PartyIdentification127Choice{PrtryId: &components.GenericIdentification36{Id: isodoc.P[components.Max35Text](h[1]), Issr: isodoc.P[components.Max35Text]("KASE")}}},
			SfkpgAcct: &components.SecuritiesAccount25{Id: isodoc.P[components.Max35Text](h[0])},
			ActvtyInd: &no,
			BalForSubAcct: []*components.AggregateBalanceInformation42{{
				FinInstrmId: &components.SecurityIdentification19{ISIN: isodoc.P[components.ISINOct2015Identifier](meukamISIN)},
				AggtBal: &components.Balance17{ShrtLngInd: isodoc.P[components.ShortLong1Code]("LONG"),
					Qty: &components.BalanceQuantity13Choice{Qty: &components.Quantity51Choice{Qty: &components.FinancialInstrumentQuantity33Choice{Unit: isodoc.P[components.DecimalNumber](h[2])}}}}}},
		})
	}
	hdr := isodoc.NewHeaderV03(depository, ministry, "HLD-1", isodoc.Semt002, "", time.Now())
	out, err := isodoc.MarshalV03(xml.Name{Local: "message"}, hdr, isodoc.Semt002, &semt002.Document{SctiesBalCtdyRpt: rpt})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestHolders(t *testing.T) {
	dep := newDepository(t, http.StatusOK, semt002Body(t, "2027-06-02", [3]string{"KZ-CSD-0001", "HSBKKZKX", "600"}, [3]string{"KZ-CSD-0002", "KCJBKZKX", "400.5"}))
	a := adaptertest.NewAdapter(t, "csd", csd.OpHolders, opts)
	resp, err := call(t, a, dep.URL+"/csd", []byte(`{"isin":"`+meukamISIN+`","date":"2027-06-02"}`))
	if err != nil {
		t.Fatal(err)
	}
	r := dep.received[0]
	if r.Method != http.MethodGet || r.URL.Path != "/csd/holdings" || r.URL.Query().Get("isin") != meukamISIN || r.URL.Query().Get("date") != "2027-06-02" {
		t.Fatalf("depository asked %s %s", r.Method, r.URL)
	}
	want := `{"isin":"KZKD00000345","date":"2027-06-02","holders":[{"account":"KZ-CSD-0001","owner":"HSBKKZKX","quantity":"600"},{"account":"KZ-CSD-0002","owner":"KCJBKZKX","quantity":"400.5"}],"total":"1000.5"}`
	if string(resp.Body) != want {
		t.Fatalf("answer\n%s\nwant\n%s", resp.Body, want)
	}
}

func TestHoldersRefusals(t *testing.T) {
	for name, tc := range map[string]struct {
		body, field string
		status      int
	}{
		"check digit":      {`{"isin":"KZKD00000346","date":"2027-06-02"}`, "isin", 422},
		"not Kazakh":       {`{"isin":"US0378331005","date":"2027-06-02"}`, "isin", 422},
		"Saturday":         {`{"isin":"KZKD00000345","date":"2027-06-05"}`, "date", 422},
		"holiday":          {`{"isin":"KZKD00000345","date":"2027-06-07"}`, "date", 422},
		"date not a date":  {`{"isin":"KZKD00000345","date":"tomorrow"}`, "date", 422},
		"unknown to depot": {`{"isin":"KZKD00000345","date":"2027-06-02"}`, "isin", 404},
	} {
		t.Run(name, func(t *testing.T) {
			dep := newDepository(t, http.StatusNotFound, "unknown ISIN")
			a := adaptertest.NewAdapter(t, "csd", csd.OpHolders, opts)
			_, err := call(t, a, dep.URL, []byte(tc.body))
			var ae *adapters.Error
			if !errors.As(err, &ae) || ae.Status != tc.status || ae.Field != tc.field {
				t.Fatalf("err = %#v, want %d on %s", err, tc.status, tc.field)
			}
			if tc.status == 404 && !strings.Contains(ae.Detail, meukamISIN) {
				t.Fatalf("404 does not name the ISIN: %s", ae.Detail)
			}
			if tc.status == 422 && len(dep.received) != 0 {
				t.Fatal("a refused request reached the depository")
			}
		})
	}
}

func TestHoldersStatementForAnotherDateIsRefused(t *testing.T) {
	dep := newDepository(t, http.StatusOK, semt002Body(t, "2027-06-01", [3]string{"KZ-CSD-0001", "HSBKKZKX", "600"}))
	a := adaptertest.NewAdapter(t, "csd", csd.OpHolders, opts)
	_, err := call(t, a, dep.URL, []byte(`{"isin":"`+meukamISIN+`","date":"2027-06-02"}`))
	var ae *adapters.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusBadGateway || !strings.Contains(ae.Detail, "2027-06-01") {
		t.Fatalf("err = %v", err)
	}
}
