package kasechannel_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/kasechannel"
)

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "contracts", "kase", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func intake() *adaptertest.Intake {
	return adaptertest.NewIntake(kasechannel.ChannelName).Route(kasechannel.KeyDemandSummary, false).Route(kasechannel.KeyAuctionResult, false)
}

func post(t *testing.T, in adapters.Intake, doc []byte) *httptest.ResponseRecorder {
	t.Helper()
	ch, err := adaptertest.BuildChannel(t, kasechannel.ChannelName, "")
	if err != nil {
		t.Fatal(err)
	}
	h := ch.Routes(in)["POST "]
	if h == nil {
		t.Fatal(`no "POST " route`)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/kase", bytes.NewReader(doc)))
	return rec
}

// leavesXML lists the text of every element without children, trimmed.
func leavesXML(t *testing.T, doc []byte) []string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	var out []string
	var text string
	leaf := false
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch v := tok.(type) {
		case xml.StartElement:
			leaf, text = true, ""
		case xml.CharData:
			text += string(v)
		case xml.EndElement:
			if leaf {
				out = append(out, strings.TrimSpace(text))
			}
			leaf = false
		}
	}
	slices.Sort(out)
	return out
}

// leavesJSON lists every scalar of a JSON value as text.
func leavesJSON(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if k != "messageType" {
				leavesJSON(e, out)
			}
		}
	case []any:
		for _, e := range x {
			leavesJSON(e, out)
		}
	case json.Number:
		*out = append(*out, x.String())
	case string:
		*out = append(*out, x)
	default:
		*out = append(*out, fmt.Sprint(x))
	}
}

func TestDocumentsAreTakenWithEveryField(t *testing.T) {
	tests := []struct {
		file, key, externalID string
		check                 func(t *testing.T, body map[string]any)
	}{
		{"demand-summary.xml", "DemandSummary", "KASE-DEM-77190", func(t *testing.T, b map[string]any) {
			vol := b["volumes"].(map[string]any)["total"].(map[string]any)
			if vol["amount"] != "60113437500.00" || vol["units"] != json.Number("61250000") {
				t.Errorf("volumes.total = %v", vol)
			}
			if b["cleanPrice"].(map[string]any)["weightedAverage"] != "98.7375" || b["demandToOfferPercent"] != "122.50" {
				t.Errorf("decimals not carried exactly: %v", b)
			}
		}},
		{"auction-result.xml", "AuctionResult", "KASE-RES-77230", func(t *testing.T, b map[string]any) {
			if b["outcome"] != "PLACED" || b["settlementDate"] != "2026-03-20" || len(b["allocations"].([]any)) != 3 {
				t.Errorf("result = %v", b)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			in := intake()
			doc := sample(t, tc.file)
			rec := post(t, in, doc)
			if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
				t.Fatalf("answered %d %q, want 200 and no body", rec.Code, rec.Body)
			}
			got := in.Accepted()
			if len(got) != 1 {
				t.Fatalf("%d messages accepted, want 1", len(got))
			}
			m := got[0]
			if m.Key != tc.key || m.ExternalID != tc.externalID || !bytes.Equal(m.Raw, doc) {
				t.Errorf("handed over key %q external id %q, raw kept %v", m.Key, m.ExternalID, bytes.Equal(m.Raw, doc))
			}
			dec := json.NewDecoder(bytes.NewReader(m.Body))
			dec.UseNumber()
			var body map[string]any
			if err := dec.Decode(&body); err != nil {
				t.Fatal(err)
			}
			if body["messageType"] != tc.key || body["announcementId"] != "MFRK-ANN-2026-0023" {
				t.Errorf("body %s", m.Body)
			}
			var fromJSON []string
			leavesJSON(body, &fromJSON)
			slices.Sort(fromJSON)
			if want := leavesXML(t, doc); !slices.Equal(fromJSON, want) {
				t.Errorf("the JSON does not carry exactly the document's values:\n json %v\n xml  %v", fromJSON, want)
			}
			tc.check(t, body)
		})
	}
}

func TestRefusedDocumentsAreStoredRejected(t *testing.T) {
	demand := string(sample(t, "demand-summary.xml"))
	tests := []struct {
		name, doc, code, element string
		status                   int
	}{
		{"amount with three decimals", strings.Replace(demand, "60113437500.00", "60113437500.001", 1), "SCHEMA_INVALID", "/DemandSummary/Volumes/Total/Amount", 400},
		{"element missing", strings.Replace(demand, "<Session>MAIN</Session>", "", 1), "SCHEMA_INVALID", "/DemandSummary", 400},
		{"not well-formed", demand[:200], "XML_REFUSED", "", 400},
		{"another namespace", strings.Replace(demand, "urn:kopir:kase:placement:1.0", "urn:example", 1), "NOT_A_MESSAGE", "/DemandSummary", 400},
		{"a message the exchange does not push", string(sample(t, "placement-ack.xml")), "UNEXPECTED_MESSAGE", "/PlacementAck", 400},
		{"a doctype", `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>` + demand[strings.Index(demand, "<DemandSummary"):], "XML_REFUSED", "", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := intake()
			rec := post(t, in, []byte(tc.doc))
			if rec.Code != tc.status || rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("answered %d %s, want %d problem+json: %s", rec.Code, rec.Header().Get("Content-Type"), tc.status, rec.Body)
			}
			var p struct {
				Status    int    `json:"status"`
				Code      string `json:"code"`
				Element   string `json:"element"`
				Detail    string `json:"detail"`
				MessageID string `json:"messageId"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if p.Code != tc.code || !strings.HasPrefix(p.Element, tc.element) || p.Status != tc.status || p.Detail == "" {
				t.Errorf("problem %s, want code %s element %s", rec.Body, tc.code, tc.element)
			}
			if tc.element != "" && p.Element == "" {
				t.Errorf("problem names no element: %s", rec.Body)
			}
			rej := in.Rejected()
			if len(rej) != 1 || rej[0].Status != "REJECTED" || rej[0].ID != p.MessageID || len(in.Accepted()) != 0 {
				t.Fatalf("rejected %v, accepted %d; want one REJECTED with the problem's id", rej, len(in.Accepted()))
			}
			var ref *kasechannel.Refusal
			if !errors.As(rej[0].Reason, &ref) || ref.Code != tc.code {
				t.Errorf("recorded reason %v", rej[0].Reason)
			}
		})
	}
}

func TestRepeatIsTakenOnceAndRecordedOnTheAnnouncement(t *testing.T) {
	in := intake()
	announcement := in.Sent("securities.announce-placement", "MFRK-ANN-2026-0023", []byte(`{}`))
	for _, file := range []string{"demand-summary.xml", "auction-result.xml", "demand-summary.xml", "auction-result.xml"} {
		if rec := post(t, in, sample(t, file)); rec.Code != http.StatusOK || rec.Body.Len() != 0 {
			t.Fatalf("%s answered %d %q, want 200 and no body", file, rec.Code, rec.Body)
		}
	}
	if n := len(in.Accepted()); n != 2 {
		t.Errorf("%d messages accepted, want 2 (each document once)", n)
	}
	if got := in.Actions(announcement, kasechannel.ActionDemandSummary); !slices.Equal(got, []string{"KASE-DEM-77190"}) {
		t.Errorf("demand summary events on the announcement: %q", got)
	}
	if got := in.Actions(announcement, kasechannel.ActionAuctionResult); !slices.Equal(got, []string{"PLACED KASE-RES-77230"}) {
		t.Errorf("auction result events on the announcement: %q", got)
	}
}

func TestNoRouteOrNoStore(t *testing.T) {
	t.Run("no route for the key", func(t *testing.T) {
		in := adaptertest.NewIntake(kasechannel.ChannelName).Route(kasechannel.KeyDemandSummary, false)
		rec := post(t, in, sample(t, "auction-result.xml"))
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "UNKNOWN_KEY") || len(in.Rejected()) != 1 {
			t.Fatalf("answered %d %s, rejected %d", rec.Code, rec.Body, len(in.Rejected()))
		}
	})
	t.Run("store down", func(t *testing.T) {
		in := intake()
		in.Fail(errors.New("database is down"))
		rec := post(t, in, sample(t, "demand-summary.xml"))
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || len(in.Rejected()) != 0 {
			t.Fatalf("answered %d %s, rejected %d; want 503 with Retry-After and nothing rejected", rec.Code, rec.Body, len(in.Rejected()))
		}
	})
}

func TestOptions(t *testing.T) {
	if _, err := adaptertest.BuildChannel(t, kasechannel.ChannelName, "colour: blue"); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("got %v, want an error naming the unknown option", err)
	}
}
