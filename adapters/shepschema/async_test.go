package shepschema_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/mocks"
	"github.com/minfin-kz/kopir/mocks/shepgw"
)

const fastPoll = "poll: {interval: 5ms, maxInterval: 20ms, timeout: 5s}\n"

func asyncGateway(t *testing.T) *adaptertest.Transport {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}, shepgw.Options{AsyncPolls: 2}))
	t.Cleanup(srv.Close)
	return &adaptertest.Transport{Endpoint: srv.URL + "/shep/async"}
}

func converse(t *testing.T, a adapters.Adapter, tr adapters.Transport, id, body string) (json.RawMessage, error) {
	t.Helper()
	req := &adapters.Request{Route: "r", Operation: "async", MessageID: id, Body: []byte(body)}
	if err := a.(adapters.Validator).Validate(context.Background(), req); err != nil {
		return nil, err
	}
	if req.ExternalID != id {
		t.Fatalf("ExternalID %q: the SHEP messageId must be findable by status notifications", req.ExternalID)
	}
	resp, err := a.(adapters.Conversation).Converse(context.Background(), req, tr)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// operations lists the AsyncChannel operations sent, in order.
func operations(tr *adaptertest.Transport) []string {
	var out []string
	for _, w := range tr.Sent() {
		for _, op := range []string{shep.OpSendMessage, shep.OpGetMessageStatus, shep.OpGetMessages, shep.OpSendDeliveryNotification} {
			if bytes.Contains(w.Body, []byte(":"+op+" ")) || bytes.Contains(w.Body, []byte(":"+op+">")) || bytes.Contains(w.Body, []byte("<"+op)) {
				out = append(out, op)
				break
			}
		}
	}
	return out
}

// TestAsyncConversationAgainstTheSchemaMock: the request element goes out
// in sendMessage, the message is followed until DELIVERED, the provider's
// RESPONSE is fetched, acknowledged and answered as the response
// element's JSON, as on the SyncChannel.
func TestAsyncConversationAgainstTheSchemaMock(t *testing.T) {
	tr := asyncGateway(t)
	a := adaptertest.NewAdapter(t, "shep", "async", zagsOpts+fastPoll)
	got, err := converse(t, a, tr, "6f1c2b7e-3a4d-4e5f-8a9b-0c1d2e3f4a5b", `{"iin":"100301600125"}`)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		RequestID string `json:"requestId"`
		Status    string
		Record    struct {
			Child  struct{ IIN string }
			Parent []struct{ Role string }
		}
	}
	if err := json.Unmarshal(got, &r); err != nil {
		t.Fatal(err)
	}
	if r.RequestID != "6f1c2b7e-3a4d-4e5f-8a9b-0c1d2e3f4a5b" || r.Status != "FOUND" || r.Record.Child.IIN != "100301600125" || len(r.Record.Parent) != 2 {
		t.Errorf("answer %s", got)
	}
	want := []string{shep.OpSendMessage, shep.OpGetMessageStatus, shep.OpGetMessageStatus, shep.OpGetMessageStatus,
		shep.OpGetMessages, shep.OpSendDeliveryNotification}
	if ops := operations(tr); strings.Join(ops, " ") != strings.Join(want, " ") {
		t.Errorf("conversation %v, want %v", ops, want)
	}
	if sent := tr.Sent(); len(sent) == 0 || !bytes.Contains(sent[0].Body, []byte(`<BirthRecordRequest xmlns="urn:kopir:shep:zags:1">`)) {
		t.Errorf("sendMessage does not carry the request element")
	}
	// The answer was taken: nothing waits at the gateway.
	held, err := shepgw.FetchHeld(strings.TrimSuffix(tr.Endpoint, "/shep/async"))
	if err != nil || len(held.Waiting) != 0 {
		t.Errorf("still held: %+v %v", held.Waiting, err)
	}
}

// TestAsyncCarriesTheTypeAsXsiType: payload type travels on the
// AsyncChannel as on the SyncChannel (GBD FL answers on both).
func TestAsyncCarriesTheTypeAsXsiType(t *testing.T) {
	tr := asyncGateway(t)
	a := adaptertest.NewAdapter(t, "shep", "async", gbdflSchemaOpts+fastPoll)
	got, err := converse(t, a, tr, "0b8f6a3e-5f0e-4c59-9f57-5b7d0c0e9a02", `{"iin":"900101300126"}`)
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	json.Unmarshal(got, &r)
	if at(r, "messageResult.code") != "00000" || at(r, "persons") == nil {
		t.Errorf("answer %s", got)
	}
	if !bytes.Contains(tr.Sent()[0].Body, []byte(`:type="`)) {
		t.Errorf("sendMessage's <data> carries no xsi:type:\n%s", tr.Sent()[0].Body)
	}
}

func TestAsyncFailures(t *testing.T) {
	tests := []struct {
		name, opts, body string
		status           int
		code, field      string
		exchanges        int // -1: any
	}{
		{"refused before anything is sent", zagsOpts, `{"iin":"100301600128"}`, 422, "", "iin", 0},
		{"schema refusal before anything is sent", zagsOpts, `{"iin":"100301600125","x":1}`, 422, "SCHEMA_INVALID", "x", 0},
		// The echo service answers with the request: not the response element.
		{"answer breaks the response schema", strings.Replace(zagsOpts, "ZAGS_BirthRecordService", shepgw.EchoServiceID, 1), `{"iin":"100301600125"}`, 502, "SHEP_BAD_RESPONSE", "", -1},
		{"not delivered", strings.Replace(zagsOpts, "ZAGS_BirthRecordService", shepgw.UndeliverableServiceID, 1), `{"iin":"100301600125"}`, 502, shep.StateNotDelivered, "", -1},
		{"unknown service", strings.Replace(zagsOpts, "ZAGS_BirthRecordService", "NOPE_Service", 1), `{"iin":"100301600125"}`, 502, shepgw.CodeUnknownService, "", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := asyncGateway(t)
			a := adaptertest.NewAdapter(t, "shep", "async", tc.opts+fastPoll)
			req := &adapters.Request{MessageID: "m-" + strings.ReplaceAll(tc.name, " ", "-"), Body: []byte(tc.body)}
			_, err := a.(adapters.Conversation).Converse(context.Background(), req, tr)
			var ae *adapters.Error
			if !errors.As(err, &ae) {
				t.Fatalf("want *adapters.Error, got %v", err)
			}
			if ae.Status != tc.status || (tc.code != "" && ae.Code != tc.code) || ae.Field != tc.field {
				t.Errorf("got %d %s field %q: %s", ae.Status, ae.Code, ae.Field, ae.Detail)
			}
			if n := len(tr.Sent()); tc.exchanges >= 0 && n != tc.exchanges {
				t.Errorf("%d exchanges, want %d", n, tc.exchanges)
			}
		})
	}
}

func TestAsyncPublishesTheSameSchemas(t *testing.T) {
	s := adaptertest.NewAdapter(t, "shep", "sync", zagsOpts).(adapters.SchemaProvider)
	a, ok := adaptertest.NewAdapter(t, "shep", "async", zagsOpts).(adapters.SchemaProvider)
	if !ok {
		t.Fatal("operation async publishes no schema")
	}
	sreq, sresp := s.Schemas()
	areq, aresp := a.Schemas()
	if !bytes.Equal(sreq, areq) || !bytes.Equal(sresp, aresp) {
		t.Error("the async operation's schemas differ from the sync one's")
	}
}
