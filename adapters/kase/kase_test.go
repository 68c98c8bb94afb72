package kase_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/kase"
	kasec "github.com/minfin-kz/kopir/contracts/kase"
	"github.com/minfin-kz/kopir/contracts/kase/kasetypes"
	"github.com/minfin-kz/kopir/contracts/securities"
)

const announceID = "0192f1e4-7c3a-7d2b-9a41-5f0e8c6b1a20"

// exchange is a stand-in for the exchange: it validates what it receives
// against the contract and answers with the ack it is told to.
type exchange struct {
	mu       sync.Mutex
	received [][]byte
	status   int                // HTTP status; 0 is 200
	refusal  *kasetypes.Refusal // nil: ACCEPTED
	invalid  []string           // paths whose body failed the schema
}

func (x *exchange) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	x.mu.Lock()
	defer x.mu.Unlock()
	x.received = append(x.received, body)
	if err := kasec.Validate(body); err != nil {
		x.invalid = append(x.invalid, r.URL.Path)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if x.status != 0 {
		http.Error(w, "exchange unavailable", x.status)
		return
	}
	status := kasetypes.AckStatusACCEPTED
	if x.refusal != nil {
		status = kasetypes.AckStatusREFUSED
	}
	var ack any
	now := kasetypes.DateTimeWithOffset("2026-12-08T12:30:00+05:00")
	switch r.URL.Path {
	case kase.PathPlacements:
		var a kasetypes.PlacementAnnouncement
		if err := kasec.Unmarshal(body, &a); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ack = &kasetypes.PlacementAck{MessageId: ptr(kasetypes.MessageId("KASE-ACK-1")), CreationDateTime: &now,
			AnnouncementId: a.MessageId, Status: &status, Refusal: x.refusal}
	case kase.PathCutoffs:
		var d kasetypes.CutoffDecision
		if err := kasec.Unmarshal(body, &d); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ack = &kasetypes.CutoffAck{MessageId: ptr(kasetypes.MessageId("KASE-CAK-1")), CreationDateTime: &now,
			AnnouncementId: d.AnnouncementId, DecisionId: d.MessageId, Status: &status, Refusal: x.refusal}
	default:
		http.NotFound(w, r)
		return
	}
	out, err := kasec.Marshal(ack)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Write(out)
}

func (x *exchange) last() []byte {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.received) == 0 {
		return nil
	}
	return x.received[len(x.received)-1]
}

func ptr[T any](v T) *T { return &v }

func astana(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func build(t *testing.T, op, options string, now time.Time) adapters.Adapter {
	t.Helper()
	f, ok := adapters.Lookup("kase")
	if !ok {
		t.Fatal("adapter kase is not registered")
	}
	a, err := f(adapters.AdapterConfig{Route: "securities.test", Operation: op, Options: adaptertest.Options(options)}, adaptertest.At(t, now))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// call runs the request as the core's pipeline does: Validate, Encode,
// the transport, Decode.
func call(t *testing.T, a adapters.Adapter, endpoint, id string, body []byte) (*adapters.Response, error) {
	t.Helper()
	ctx := context.Background()
	req := &adapters.Request{Route: "securities.test", MessageID: id, Body: body}
	if err := a.(adapters.Validator).Validate(ctx, req); err != nil {
		return nil, err
	}
	w, err := a.Encode(ctx, req)
	if err != nil {
		return nil, err
	}
	tr := &adaptertest.Transport{Endpoint: endpoint}
	resp, err := tr.Do(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	return a.Decode(ctx, req, resp)
}

func announcement(change func(m map[string]any)) []byte {
	m := map[string]any{
		"isin": "KZKD00000238", "type": "MEUKAM", "issueNumber": 23, "tradeCode": "MUM120_0023",
		"faceValue": "1000", "declaredVolume": 1000000, "volume": 5000000, "currency": "KZT",
		"circulationStart": "2026-12-03", "maturity": "2036-12-03", "couponRate": "12.5",
		"couponFrequency": 2, "dayBasis": "30/360", "termMonths": 120,
		"tradeDate": "2026-12-08", "subject": "PRICE", "marketOrderShare": "70",
		"settlement": "T2", "pricing": "OWN_PRICE", "additionalSession": true,
	}
	if change != nil {
		change(m)
	}
	b, _ := json.Marshal(m)
	return b
}

// The morning before the session.
var before = astana("2026-12-07T10:00:00+05:00")

func fieldOf(t *testing.T, err error) *adapters.Error {
	t.Helper()
	var ae *adapters.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *adapters.Error", err, err)
	}
	return ae
}

func TestAnnounceRulesNameTheField(t *testing.T) {
	schedule := paymentDates(t, "2026-12-03", "2036-12-03", 2)
	tests := []struct {
		name    string
		options string
		change  func(m map[string]any)
		field   string
		says    string
	}{
		{"bad ISIN check digit", "", func(m map[string]any) { m["isin"] = "KZKD00000237" }, "isin", "check digit"},
		{"ISIN of another type", "", func(m map[string]any) { m["isin"] = isinFor(t, "KZK2") }, "isin", "KZKD"},
		{"unknown type", "", func(m map[string]any) { m["type"] = "MEGAKAM" }, "type", "MEGAKAM"},
		{"trade code of another type", "", func(m map[string]any) { m["tradeCode"] = "MOM120_0023" }, "tradeCode", "MEOKAM"},
		{"trade code of another term", "", func(m map[string]any) { m["tradeCode"] = "MUM240_0023" }, "tradeCode", "240"},
		{"trade code of another issue", "", func(m map[string]any) { m["tradeCode"] = "MUM120_0024" }, "tradeCode", "issue 24"},
		{"term derived from the dates", "", func(m map[string]any) { delete(m, "termMonths"); m["tradeCode"] = "MUM060_0023" }, "tradeCode", "120"},
		{"face value of a MEKKAM", "", func(m map[string]any) { m["faceValue"] = "100" }, "faceValue", "1000.00"},
		{"face value with 3 decimals", "", func(m map[string]any) { m["faceValue"] = "1000.000" }, "faceValue", "decimals"},
		{"face value as a float", "", func(m map[string]any) { m["faceValue"] = 1000.0 }, "faceValue", "string"},
		{"maturity before circulation", "", func(m map[string]any) { m["maturity"] = "2026-12-01" }, "maturity", "not after"},
		{"circulation start not a date", "", func(m map[string]any) { m["circulationStart"] = "3.12.2026" }, "circulationStart", "not a date"},
		{"coupon rate with 5 decimals", "", func(m map[string]any) { m["couponRate"] = "12.50001" }, "couponRate", "decimals"},
		{"coupon rate missing", "", func(m map[string]any) { delete(m, "couponRate") }, "couponRate", "required"},
		{"coupon rate with subject RATE", "", func(m map[string]any) { m["subject"] = "RATE" }, "couponRate", "RATE"},
		{"frequency 3", "", func(m map[string]any) { m["couponFrequency"] = 3 }, "couponFrequency", "3"},
		{"schedule of the wrong frequency", "", func(m map[string]any) { m["couponSchedule"] = schedule[:10] }, "couponSchedule", "coupon dates"},
		{"schedule date off the terms", "", func(m map[string]any) {
			s := append([]string(nil), schedule...)
			s[3] = "2028-12-05"
			m["couponSchedule"] = s
		}, "couponSchedule", "coupon 4"},
		{"payment date on a holiday", "holidays: [2027-06-03]", func(m map[string]any) {
			s := append([]string(nil), schedule...)
			s[0] = "2027-06-03"
			m["couponSchedule"] = s
		}, "couponSchedule[0]", "2027-06-04"},
		{"trade date on a Saturday", "", func(m map[string]any) { m["tradeDate"] = "2026-12-12" }, "tradeDate", "Saturday"},
		{"trade date on a holiday", "holidays: [2026-12-08]", nil, "tradeDate", "business day"},
		{"trade date in the past", "", func(m map[string]any) { m["tradeDate"] = "2026-12-04" }, "tradeDate", "past"},
		{"market share above 100", "", func(m map[string]any) { m["marketOrderShare"] = "100.5" }, "marketOrderShare", "100"},
		{"market share with 3 decimals", "", func(m map[string]any) { m["marketOrderShare"] = "70.125" }, "marketOrderShare", "decimals"},
		{"declared volume above the issue", "", func(m map[string]any) { m["declaredVolume"] = 6000000 }, "declaredVolume", "5000000"},
		{"currency", "", func(m map[string]any) { m["currency"] = "USD" }, "currency", "USD"},
		{"day basis", "", func(m map[string]any) { m["dayBasis"] = "30/365" }, "dayBasis", "30/365"},
		{"settlement", "", func(m map[string]any) { m["settlement"] = "T1" }, "settlement", "T1"},
		{"MEKKAM with a coupon", "", func(m map[string]any) {
			m["type"], m["isin"], m["tradeCode"], m["faceValue"], m["termMonths"] = "MEKKAM", isinFor(t, "KZK1"), "MKM012_0023", "100", 12
			m["maturity"] = "2027-12-03"
		}, "couponRate", "discount"},
		{"unknown field", "", func(m map[string]any) { m["colour"] = "blue" }, "colour", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := &exchange{}
			srv := httptest.NewServer(x)
			defer srv.Close()
			a := build(t, kase.OpAnnounce, tc.options, before)
			_, err := call(t, a, srv.URL, announceID, announcement(tc.change))
			ae := fieldOf(t, err)
			if ae.Status != http.StatusUnprocessableEntity || ae.Field != tc.field {
				t.Fatalf("got %d on %q (%v), want 422 on %q", ae.Status, ae.Field, err, tc.field)
			}
			if !strings.Contains(ae.Detail, tc.says) {
				t.Errorf("detail %q does not say %q", ae.Detail, tc.says)
			}
			if len(x.received) != 0 {
				t.Errorf("a refused announcement reached the exchange")
			}
		})
	}
}

func isinFor(t *testing.T, prefix string) string {
	t.Helper()
	body := prefix + "0000023"
	d, err := securities.ISINCheckDigit(body)
	if err != nil {
		t.Fatal(err)
	}
	return body + string(d)
}

func paymentDates(t *testing.T, start, maturity string, freq int) []string {
	t.Helper()
	s, _ := time.ParseInLocation(time.DateOnly, start, securities.Astana)
	m, _ := time.ParseInLocation(time.DateOnly, maturity, securities.Astana)
	cs, err := securities.Schedule(s, m, freq, securities.NewCalendar(nil))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Payment.Format(time.DateOnly)
	}
	return out
}

func TestAnnounceSendsTheTermsValidAgainstTheContract(t *testing.T) {
	x := &exchange{}
	srv := httptest.NewServer(x)
	defer srv.Close()
	a := build(t, kase.OpAnnounce, "", before)
	resp, err := call(t, a, srv.URL, announceID, announcement(nil))
	if err != nil {
		t.Fatal(err)
	}
	sent := x.last()
	if err := kasec.Validate(sent); err != nil {
		t.Fatalf("the document sent fails the schema: %v\n%s", err, sent)
	}
	var got kasetypes.PlacementAnnouncement
	if err := kasec.Unmarshal(sent, &got); err != nil {
		t.Fatal(err)
	}
	s, au := got.Security, got.Auction
	id := strings.ReplaceAll(announceID, "-", "")
	checks := []struct{ what, got, want string }{
		{"MessageId", string(*got.MessageId), id},
		{"Issuer", string(*got.Issuer), "MFRK"},
		{"CreationDateTime", string(*got.CreationDateTime), "2026-12-07T10:00:00+05:00"},
		{"FaceValue", string(*s.FaceValue), "1000.00"},
		{"MillionTenge", string(*s.DeclaredVolume.MillionTenge), "1000"},
		{"LastCirculationDay", string(*s.LastCirculationDay), "2036-12-02"},
		{"CouponRate", string(*s.CouponRate), "12.5000"},
		{"DayBasis", string(*s.DayBasis), "30/360"},
		{"first coupon", string(*s.CouponSchedule.PaymentDate[0]), "2027-06-03"},
		// 2028-06-03 is a Saturday: paid the Monday after.
		{"third coupon", string(*s.CouponSchedule.PaymentDate[2]), "2028-06-05"},
		{"OrderWindowStart", string(*au.OrderWindowStart), "2026-12-08T09:00:00+05:00"},
		{"OrderWindowEnd", string(*au.OrderWindowEnd), "2026-12-08T12:00:00+05:00"},
		{"CutoffDeadline", string(*au.CutoffDeadline), "2026-12-08T15:00:00+05:00"},
		{"additional CutoffDeadline", string(*au.AdditionalSession.CutoffDeadline), "2026-12-08T17:00:00+05:00"},
		{"MarketOrderShareLimit", string(*au.MarketOrderShareLimit), "70.00"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if n := len(s.CouponSchedule.PaymentDate); n != 20 {
		t.Errorf("%d coupon dates, want 20", n)
	}
	var ans kase.Answer
	if err := json.Unmarshal(resp.Body, &ans); err != nil {
		t.Fatal(err)
	}
	if ans.Status != "ACCEPTED" || ans.AnnouncementID != id || ans.AckID != "KASE-ACK-1" {
		t.Errorf("answer %s", resp.Body)
	}
}

func TestExchangeRefusalsCarryItsCode(t *testing.T) {
	decision := `{"announcementId":"` + announceID + `","tradeDate":"2026-12-08","cutoffPrice":"99.5"}`
	tests := []struct {
		name, op  string
		body      []byte
		now       time.Time
		status    int
		refusal   *kasetypes.Refusal
		wantCode  string
		wantRetry bool
	}{
		{"announcement refused", kase.OpAnnounce, announcement(nil), before, 0,
			&kasetypes.Refusal{Code: ptr(kasetypes.RefusalCode("TRADE_CODE_IN_USE")), Reason: ptr(kasetypes.Text("in use"))}, "TRADE_CODE_IN_USE", false},
		{"decision refused", kase.OpCutoff, []byte(decision), astana("2026-12-08T13:00:00+05:00"), 0,
			&kasetypes.Refusal{Code: ptr(kasetypes.RefusalCode("UNKNOWN_ANNOUNCEMENT")), Reason: ptr(kasetypes.Text("never announced"))}, "UNKNOWN_ANNOUNCEMENT", false},
		{"exchange down", kase.OpCutoff, []byte(decision), astana("2026-12-08T13:00:00+05:00"), http.StatusServiceUnavailable, nil, "HTTP_503", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := &exchange{status: tc.status, refusal: tc.refusal}
			srv := httptest.NewServer(x)
			defer srv.Close()
			_, err := call(t, build(t, tc.op, "", tc.now), srv.URL, "0192f1e4-aaaa-7d2b-9a41-5f0e8c6b1a21", tc.body)
			ae := fieldOf(t, err)
			if ae.Code != tc.wantCode || ae.Retryable != tc.wantRetry {
				t.Fatalf("got code %q retryable %v (%v), want %q %v", ae.Code, ae.Retryable, err, tc.wantCode, tc.wantRetry)
			}
			if len(x.invalid) != 0 {
				t.Errorf("schema-invalid documents reached the exchange at %v", x.invalid)
			}
		})
	}
}

func TestCutoffOnlyInsideTheDecisionWindow(t *testing.T) {
	tests := []struct {
		now        string
		additional bool
		code       string // "" accepted
		names      string // what the refusal must name
	}{
		{"2026-12-08T11:59:59+05:00", false, kase.CodeWindowNotClosed, "15:00"},
		{"2026-12-08T12:00:00+05:00", false, "", ""},
		{"2026-12-08T09:30:00Z", false, "", ""}, // 14:30 in Astana
		{"2026-12-08T15:00:00+05:00", false, "", ""},
		{"2026-12-08T15:00:01+05:00", false, kase.CodeDeadlinePassed, "15:00"},
		{"2026-12-08T10:00:01Z", false, kase.CodeDeadlinePassed, "15:00"},
		{"2026-12-09T10:00:00+05:00", false, kase.CodeDeadlinePassed, "2026-12-08"},
		{"2026-12-08T16:00:00+05:00", true, kase.CodeWindowNotClosed, "17:00"},
		{"2026-12-08T16:30:00+05:00", true, "", ""},
		{"2026-12-08T17:00:00+05:00", true, "", ""},
		{"2026-12-08T17:00:01+05:00", true, kase.CodeDeadlinePassed, "17:00"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s additional=%v", tc.now, tc.additional), func(t *testing.T) {
			x := &exchange{}
			srv := httptest.NewServer(x)
			defer srv.Close()
			body := fmt.Sprintf(`{"announcementId":%q,"tradeDate":"2026-12-08","additionalSession":%v,"cutoffPrice":"99.5"}`, announceID, tc.additional)
			a := build(t, kase.OpCutoff, "", astana(tc.now))
			resp, err := call(t, a, srv.URL, "0192f1e4-bbbb-7d2b-9a41-5f0e8c6b1a22", []byte(body))
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				var ans kase.Answer
				if err := json.Unmarshal(resp.Body, &ans); err != nil {
					t.Fatal(err)
				}
				if ans.Status != "ACCEPTED" || ans.AnnouncementID != strings.ReplaceAll(announceID, "-", "") || ans.DecisionID != "0192f1e4bbbb7d2b9a415f0e8c6b1a22" {
					t.Errorf("answer %s", resp.Body)
				}
				var d kasetypes.CutoffDecision
				if err := kasec.Unmarshal(x.last(), &d); err != nil {
					t.Fatalf("the decision sent fails the contract: %v", err)
				}
				if string(*d.CutoffPrice) != "99.5000" || (*d.Session == kasetypes.SessionKindADDITIONAL) != tc.additional {
					t.Errorf("decision sent: price %s session %s", *d.CutoffPrice, *d.Session)
				}
				if got := string(*d.DecisionDateTime); got != astana(tc.now).In(securities.Astana).Format("2006-01-02T15:04:05-07:00") {
					t.Errorf("DecisionDateTime %s is not the clock's %s", got, tc.now)
				}
				return
			}
			ae := fieldOf(t, err)
			if ae.Status != http.StatusUnprocessableEntity || ae.Code != tc.code || ae.Field != "tradeDate" {
				t.Fatalf("got %d %s on %q (%v), want 422 %s on tradeDate", ae.Status, ae.Code, ae.Field, err, tc.code)
			}
			if !strings.Contains(ae.Detail, tc.names) || !strings.Contains(ae.Detail, "Astana") {
				t.Errorf("detail %q does not name %s Astana time", ae.Detail, tc.names)
			}
			if len(x.received) != 0 {
				t.Errorf("a refused decision reached the exchange")
			}
		})
	}
}

func TestCutoffRulesNameTheField(t *testing.T) {
	tests := []struct {
		name, body, field string
	}{
		{"no announcement", `{"tradeDate":"2026-12-08","cutoffPrice":"99.5"}`, "announcementId"},
		{"announcement id too long", `{"announcementId":"` + strings.Repeat("A", 36) + `","tradeDate":"2026-12-08","cutoffPrice":"99.5"}`, "announcementId"},
		{"no trade date", `{"announcementId":"A1","cutoffPrice":"99.5"}`, "tradeDate"},
		{"price with 5 decimals", `{"announcementId":"A1","tradeDate":"2026-12-08","cutoffPrice":"99.50001"}`, "cutoffPrice"},
		{"price as a number", `{"announcementId":"A1","tradeDate":"2026-12-08","cutoffPrice":99.5}`, "cutoffPrice"},
		{"negative rate", `{"announcementId":"A1","tradeDate":"2026-12-08","cutoffRate":"-1"}`, "cutoffRate"},
		{"price and failed", `{"announcementId":"A1","tradeDate":"2026-12-08","cutoffPrice":"99.5","failed":true}`, "cutoffPrice"},
		{"no decision", `{"announcementId":"A1","tradeDate":"2026-12-08"}`, "cutoffPrice"},
		{"reason without failure", `{"announcementId":"A1","tradeDate":"2026-12-08","cutoffPrice":"99.5","reason":"x"}`, "reason"},
	}
	a := build(t, kase.OpCutoff, "", astana("2026-12-08T13:00:00+05:00"))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := call(t, a, "http://127.0.0.1:1", "0192f1e4-cccc-7d2b-9a41-5f0e8c6b1a23", []byte(tc.body))
			ae := fieldOf(t, err)
			if ae.Field != tc.field || ae.Status != http.StatusUnprocessableEntity {
				t.Fatalf("got %d on %q (%v), want 422 on %q", ae.Status, ae.Field, err, tc.field)
			}
		})
	}
}

func TestFailedDecisionIsSent(t *testing.T) {
	x := &exchange{}
	srv := httptest.NewServer(x)
	defer srv.Close()
	a := build(t, kase.OpCutoff, "", astana("2026-12-08T13:00:00+05:00"))
	body := `{"announcementId":"MFRK-ANN-2026-0023","tradeDate":"2026-12-08","failed":true,"reason":"prices unsatisfactory"}`
	if _, err := call(t, a, srv.URL, "0192f1e4-dddd-7d2b-9a41-5f0e8c6b1a24", []byte(body)); err != nil {
		t.Fatal(err)
	}
	var d kasetypes.CutoffDecision
	if err := kasec.Unmarshal(x.last(), &d); err != nil {
		t.Fatal(err)
	}
	if d.Failed == nil || string(*d.Failed.Reason) != "prices unsatisfactory" || d.CutoffPrice != nil || string(*d.AnnouncementId) != "MFRK-ANN-2026-0023" {
		t.Errorf("decision sent:\n%s", x.last())
	}
}

func TestOptionsAreChecked(t *testing.T) {
	tests := []struct{ op, options, says string }{
		{"settle", "", "unknown operation"},
		{kase.OpAnnounce, "holidays: [2026-13-01]", "holidays[0]"},
		{kase.OpAnnounce, "issuer: mfrk", "issuer"},
		{kase.OpAnnounce, "currencies: [tenge]", "currencies[0]"},
		{kase.OpAnnounce, "colour: blue", "colour"},
	}
	for _, tc := range tests {
		t.Run(tc.options, func(t *testing.T) {
			_, err := adaptertest.BuildAdapter(t, "kase", tc.op, tc.options)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("got %v, want an error naming %s", err, tc.says)
			}
		})
	}
}
