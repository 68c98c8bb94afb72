package shepgw_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hooklift/gowsdl/soap"

	"github.com/minfin-kz/kopir/adapters/egov"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepasync"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/mocks"
	"github.com/minfin-kz/kopir/mocks/gbdfl"
	"github.com/minfin-kz/kopir/mocks/internal/mocktest"
	"github.com/minfin-kz/kopir/mocks/pki"
	"github.com/minfin-kz/kopir/mocks/shepgw"
)

func sender() *shepasync.SenderInfo {
	return &shepasync.SenderInfo{SenderId: "kopir", Password: "kopir-secret"}
}

func asyncOp[T any](t *testing.T, url, op string, req any, out *T) *shep.Fault {
	t.Helper()
	env, err := shep.MarshalOp(shep.NSAsync, op, "request", req)
	if err != nil {
		t.Fatal(err)
	}
	return postOp(t, url, env, op, out)
}

func postOp[T any](t *testing.T, url string, env []byte, op string, out *T) *shep.Fault {
	t.Helper()
	status, body := mocktest.Do(t, "POST", url+"/shep/async", env)
	w := shep.OpResponse[T]{Response: out}
	_, err := shep.ParseOp(body, shep.Limits, shep.Expect(shep.NSAsync, op+"Response", &w))
	var f *shep.Fault
	if errors.As(err, &f) {
		if status != 500 {
			t.Fatalf("fault with HTTP %d", status)
		}
		return f
	}
	if err != nil || status != 200 {
		t.Fatalf("%d %v\n%s", status, err, body)
	}
	return nil
}

func sendAsync(t *testing.T, url, id, service, data string) *shep.Fault {
	t.Helper()
	env, err := shep.MarshalAsyncSendMessage(shep.NSAsync, &shep.AsyncMessage{Info: shepasync.AsyncMessageInfo{
		MessageId: id, ServiceId: service, MessageType: shep.TypeRequest, MessageDate: soap.CreateXsdDateTime(time.Now(), true), Sender: sender(),
	}, Data: shep.Payload{Value: &struct {
		X string `xml:",innerxml"`
	}{data}}})
	if err != nil {
		t.Fatal(err)
	}
	var out shepasync.AsyncSendMessageResponse
	f := postOp(t, url, env, shep.OpSendMessage, &out)
	if f == nil && out.MessageId != id {
		t.Fatalf("%+v", out)
	}
	return f
}

func TestSHEPAsyncLifecycle(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}, shepgw.Options{AsyncPolls: 1}))
	defer srv.Close()
	if f := sendAsync(t, srv.URL, "m-1", shepgw.EchoServiceID, "<ping/>"); f != nil {
		t.Fatal(f)
	}
	if f := sendAsync(t, srv.URL, "m-1", shepgw.EchoServiceID, "<ping/>"); f != nil {
		t.Fatalf("a repeat is answered like the first: %v", f)
	}
	status := func(id string) (string, *shep.Fault) {
		var st shepasync.AsyncGetMessageStatusResponse
		f := asyncOp(t, srv.URL, shep.OpGetMessageStatus, &shepasync.AsyncGetMessageStatusRequest{MessageId: id, RequestDate: soap.CreateXsdDateTime(time.Now(), true), Sender: sender()}, &st)
		return st.MessageState, f
	}
	get := func(corr string) []*shepasync.AsyncMessage {
		var got shepasync.AsyncGetMessagesResponse
		if f := asyncOp(t, srv.URL, shep.OpGetMessages, &shepasync.AsyncGetMessagesRequest{ServiceId: shepgw.EchoServiceID, CorrelationId: corr, Sender: sender()}, &got); f != nil {
			t.Fatal(f)
		}
		return got.Messages
	}
	if s, _ := status("m-1"); s != shep.StateOnDelivery {
		t.Fatalf("first status %s", s)
	}
	if len(get("m-1")) != 0 {
		t.Fatal("a response before delivery")
	}
	if s, _ := status("m-1"); s != shep.StateDelivered {
		t.Fatalf("second status %s", s)
	}
	msgs := get("m-1")
	if len(msgs) != 1 || msgs[0].MessageInfo.CorrelationId != "m-1" || msgs[0].MessageInfo.MessageType != shep.TypeResponse || msgs[0].MessageData.Data.InnerXML != "<ping/>" {
		t.Fatalf("%+v", msgs)
	}
	notify := func(id, receive, resend string) *shep.Fault {
		var ack shepasync.AsyncSendDeliveryNotificationResponse
		s := &egov.Sender{ServiceID: shepgw.EchoServiceID, SenderID: "kopir", Password: "kopir-secret"}
		return asyncOp(t, srv.URL, shep.OpSendDeliveryNotification, egov.DeliveryNotification(s, id, receive, resend, nil), &ack)
	}
	respID := msgs[0].MessageInfo.MessageId
	if f := notify(respID, shep.ReceiveNotAccepted, shep.Resend); f != nil {
		t.Fatal(f)
	}
	if len(get("")) != 1 {
		t.Fatal("RESEND must keep the message")
	}
	if f := notify(respID, shep.ReceiveAccepted, shep.NotResend); f != nil {
		t.Fatal(f)
	}
	if len(get("")) != 0 {
		t.Fatal("an accepted message must leave the gateway")
	}
	if f := notify(respID, shep.ReceiveAccepted, shep.NotResend); f == nil || f.Detail.Info.ErrorCode != shepgw.CodeUnknownMessage {
		t.Fatalf("%v", f)
	}
	if _, f := status("never"); f == nil || f.Detail.Info.ErrorCode != shepgw.CodeUnknownMessage {
		t.Fatalf("%v", f)
	}
	if f := sendAsync(t, srv.URL, "m-2", "NOPE", "<x/>"); f == nil || f.Detail.Info.ErrorCode != shepgw.CodeUnknownService ||
		!strings.Contains(f.Detail.Info.ErrorMessage, "NOPE") {
		t.Fatalf("%v", f)
	}
	sendAsync(t, srv.URL, "m-3", shepgw.UndeliverableServiceID, "<x/>")
	status("m-3")
	if s, _ := status("m-3"); s != shep.StateNotDelivered {
		t.Fatalf("%s", s)
	}
	// The fault detail is the operation's own element.
	env, _ := shep.MarshalOp(shep.NSAsync, shep.OpGetMessages, "request", &shepasync.AsyncGetMessagesRequest{ServiceId: "S", Sender: &shepasync.SenderInfo{SenderId: "kopir", Password: "no"}})
	_, body := mocktest.Do(t, "POST", srv.URL+"/shep/async", env)
	if !bytes.Contains(body, []byte("getMessagesFault1_getMessagesFault")) || !bytes.Contains(body, []byte(shepgw.CodeAuth)) {
		t.Fatalf("%s", body)
	}
}

func TestSHEPVerifiesSignatures(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}, shepgw.Options{RequireSignature: true}))
	defer srv.Close()
	key, _ := pki.Files.ReadFile("kopir.key")
	cert, _ := pki.Files.ReadFile("kopir.pem")
	k, err := xmlsig.ParsePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certs, _ := xmlsig.ParseCertificates(cert)
	s, err := xmlsig.NewRSASigner(k, certs[0])
	if err != nil {
		t.Fatal(err)
	}
	signed, err := xmlsig.Sign(mocktest.Envelope(t, "kopir", "kopir-secret", gbdfl.ServiceID, "931002451325"), s)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := mocktest.Do(t, "POST", srv.URL+"/shep/sync", signed); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	for name, env := range map[string][]byte{
		"tampered": bytes.Replace(signed, []byte("931002451325"), []byte("931002451326"), 1),
		"unsigned": mocktest.Envelope(t, "kopir", "kopir-secret", gbdfl.ServiceID, "931002451325"),
	} {
		status, body := mocktest.Do(t, "POST", srv.URL+"/shep/sync", env)
		if f := mocktest.Fault(t, status, body); f.Detail.Info.ErrorCode != shepgw.CodeSignature {
			t.Errorf("%s: %+v", name, f.Detail.Info)
		}
	}
}

func TestPushControl(t *testing.T) {
	var got []byte
	recipient := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		if r.URL.Path != "/shep/async" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("<ok/>"))
	}))
	defer recipient.Close()
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}, shepgw.Options{PushURL: recipient.URL + "/shep"}))
	defer srv.Close()
	status, body := mocktest.Do(t, "POST", srv.URL+"/_control/shep/push", []byte(`{"serviceId":"MINFIN_X","messageId":"p-1","data":"<a>1</a>"}`))
	var r shepgw.PushResult
	if json.Unmarshal(body, &r); status != 200 || r.Status != 200 || r.Response != "<ok/>" || r.MessageID != "p-1" {
		t.Fatalf("%d %s", status, body)
	}
	// The push is the client-side sendMessage, signed by the gateway.
	v, err := xmlsig.Verify(got)
	if err != nil || !strings.Contains(v.Certificate.Subject.CommonName, "gateway") {
		t.Fatalf("%v", err)
	}
	var send shep.OpRequest[shep.InboundSendMessage]
	if _, err := shep.ParseOp(got, shep.Limits, shep.Expect(shep.NSAsyncClient, "sendMessage", &send)); err != nil || send.Request.MessageInfo.ServiceId != "MINFIN_X" {
		t.Fatalf("%v", err)
	}
	status, body = mocktest.Do(t, "POST", srv.URL+"/_control/shep/push", []byte(`{"serviceId":"MINFIN_X","delivery":"queue","data":"<a/>"}`))
	if json.Unmarshal(body, &r); status != 200 || !r.Queued {
		t.Fatalf("%d %s", status, body)
	}
	for _, bad := range []string{`{"data":"<a/>"}`, `{"serviceId":"X","delivery":"carrier pigeon"}`, `{"serviceId":"X","bogus":1}`} {
		if status, _ := mocktest.Do(t, "POST", srv.URL+"/_control/shep/push", []byte(bad)); status != 400 {
			t.Errorf("%s: %d", bad, status)
		}
	}
	status, body = mocktest.Do(t, "POST", srv.URL+"/_control/shep/notify", []byte(`{"messageId":"m-9","state":"DELIVERED"}`))
	if json.Unmarshal(body, &r); status != 200 || !bytes.Contains(got, []byte("changeMassageStatusNotification")) {
		t.Fatalf("%d %s", status, body)
	}
	var n shep.OpRequest[shepasync.AsyncChangeStatusNotifyRequest]
	if _, err := shep.ParseOp(got, shep.Limits, shep.Expect(shep.NSAsyncClient, shep.OpChangeStatusNotification, &n)); err != nil || n.Request.Notification.MessageId != "m-9" {
		t.Fatalf("%v", err)
	}
}
