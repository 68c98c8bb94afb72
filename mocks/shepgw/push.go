package shepgw

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hooklift/gowsdl/soap"

	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepasync"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/mocks"
)

// PushRequest is the body of POST /_control/shep/push: the gateway
// delivers a message from an agency to a recipient (Köpir's agency
// listener by default), the way SHEP does for a service the ministry
// exposes.
type PushRequest struct {
	ServiceID string `json:"serviceId"`
	// Data is the content of messageData/data (requestData/data), XML.
	Data     string         `json:"data"`
	DataType *shep.DataType `json:"dataType,omitempty"`
	// Delivery: "push" (AsyncChannel sendMessage to <url>/async, the
	// default), "sync" (SyncChannel SendMessage to <url>/sync) or "queue"
	// (kept for the recipient to fetch with getMessages).
	Delivery      string `json:"delivery,omitempty"`
	MessageID     string `json:"messageId,omitempty"` // default: a new UUID; repeat one to show de-duplication
	CorrelationID string `json:"correlationId,omitempty"`
	MessageType   string `json:"messageType,omitempty"` // default REQUEST
	// SenderID/Password put in the message (default Options.PushSender).
	SenderID string `json:"senderId,omitempty"`
	Password string `json:"password,omitempty"`
	// Recipient is who may fetch a queued message (default "kopir").
	Recipient string `json:"recipient,omitempty"`
	// URL overrides Options.PushURL.
	URL string `json:"url,omitempty"`
	// Sign: false sends the push unsigned.
	Sign *bool `json:"sign,omitempty"`
}

// PushResult is what the recipient answered.
type PushResult struct {
	MessageID string `json:"messageId"`
	URL       string `json:"url,omitempty"`
	Status    int    `json:"status,omitempty"`
	Response  string `json:"response,omitempty"`
	Queued    bool   `json:"queued,omitempty"`
}

var pushClient = &http.Client{Timeout: 30 * time.Second}

func (s *server) push(w http.ResponseWriter, r *http.Request) {
	var p PushRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxEnvelope))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		mocks.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "push: " + err.Error()})
		return
	}
	if p.ServiceID == "" {
		mocks.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "push: serviceId is required"})
		return
	}
	if p.MessageID == "" {
		p.MessageID = uuid.NewString()
	}
	if p.MessageType == "" {
		p.MessageType = shep.TypeRequest
	}
	if p.SenderID == "" {
		p.SenderID, p.Password = s.opts.PushSender[0], s.opts.PushSender[1]
	}
	base := strings.TrimSuffix(p.URL, "/")
	if base == "" {
		base = strings.TrimSuffix(s.opts.PushURL, "/")
	}
	pl := shep.Payload{Value: &rawXML{p.Data}}
	if p.DataType != nil {
		pl.Type = xml.Name{Space: p.DataType.Namespace, Local: p.DataType.Name}
	}
	now := s.now()
	var (
		env []byte
		err error
		url string
	)
	switch p.Delivery {
	case "", "push":
		url = base + "/async"
		env, err = shep.MarshalAsyncSendMessage(shep.NSAsyncClient, &shep.AsyncMessage{Info: shepasync.AsyncMessageInfo{
			MessageId: p.MessageID, CorrelationId: p.CorrelationID, ServiceId: p.ServiceID, MessageType: p.MessageType,
			MessageDate: soap.CreateXsdDateTime(now, true), Sender: &shepasync.SenderInfo{SenderId: p.SenderID, Password: p.Password},
			SessionId: "{" + uuid.NewString() + "}",
		}, Data: pl})
	case "sync":
		url = base + "/sync"
		env, err = shep.MarshalSendMessage(&shep.Request{
			Info: shep.NewInfo(p.MessageID, p.CorrelationID, p.ServiceID, p.SenderID, p.Password, now), Data: pl,
		})
	case "queue":
		recipient := p.Recipient
		if recipient == "" {
			recipient = "kopir"
		}
		var data bytes.Buffer
		enc := xml.NewEncoder(&data)
		start := xml.StartElement{Name: xml.Name{Local: "data"}}
		if pl.Type.Local != "" {
			start.Attr = []xml.Attr{{Name: xml.Name{Local: "xmlns:xsi"}, Value: shep.NSXSI}, {Name: xml.Name{Local: "xmlns:d"}, Value: pl.Type.Space}, {Name: xml.Name{Local: "xsi:type"}, Value: "d:" + pl.Type.Local}}
		}
		if err := enc.EncodeElement(pl.Value, start); err != nil {
			mocks.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "push: data: " + err.Error()})
			return
		}
		enc.Flush()
		s.async.enqueue(&asyncMsg{recipient: recipient, data: data.Bytes(), info: shepasync.AsyncMessageInfo{
			MessageId: p.MessageID, CorrelationId: p.CorrelationID, ServiceId: p.ServiceID, MessageType: p.MessageType,
			MessageDate: soap.CreateXsdDateTime(now, true), Sender: &shepasync.SenderInfo{SenderId: p.SenderID},
		}})
		mocks.WriteJSON(w, http.StatusOK, PushResult{MessageID: p.MessageID, Queued: true})
		return
	default:
		mocks.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "push: delivery must be push, sync or queue"})
		return
	}
	if err != nil {
		mocks.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "push: " + err.Error()})
		return
	}
	s.send(r.Context(), w, url, env, p.Sign == nil || *p.Sign, p.MessageID)
}

// NotifyRequest is the body of POST /_control/shep/notify: the gateway
// tells the original sender that its message changed state.
type NotifyRequest struct {
	MessageID     string `json:"messageId"`
	State         string `json:"state"` // default DELIVERED
	StatusCode    string `json:"statusCode,omitempty"`
	StatusMessage string `json:"statusMessage,omitempty"`
	URL           string `json:"url,omitempty"`
	Sign          *bool  `json:"sign,omitempty"`
}

func (s *server) notify(w http.ResponseWriter, r *http.Request) {
	var n NotifyRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil || n.MessageID == "" {
		mocks.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("notify: messageId is required (%v)", err)})
		return
	}
	if n.State == "" {
		n.State = shep.StateDelivered
	}
	if n.StatusCode == "" {
		n.StatusCode, n.StatusMessage = "SCSS001", "Сообщение доставлено"
	}
	base := strings.TrimSuffix(n.URL, "/")
	if base == "" {
		base = strings.TrimSuffix(s.opts.PushURL, "/")
	}
	now := soap.CreateXsdDateTime(s.now(), true)
	env, err := shep.MarshalOp(shep.NSAsyncClient, shep.OpChangeStatusNotification, "request", &shepasync.AsyncChangeStatusNotifyRequest{
		Notification: &shepasync.ChangeStatusNotification{
			NotificationId: uuid.NewString(), MessageId: n.MessageID, NotificationDate: now, MessageState: n.State,
			Status: &shepasync.MessageStatusInfo{StatusCode: n.StatusCode, StatusMessage: n.StatusMessage, StatusDate: now},
		},
		RequestDate: now, SessionId: "{" + uuid.NewString() + "}",
	})
	if err != nil {
		mocks.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "notify: " + err.Error()})
		return
	}
	s.send(r.Context(), w, base+"/async", env, n.Sign == nil || *n.Sign, n.MessageID)
}

// send signs (unless told not to) and posts env, answering with what the
// recipient said.
func (s *server) send(ctx context.Context, w http.ResponseWriter, url string, env []byte, sign bool, id string) {
	if sign && s.opts.Signer != nil {
		signed, err := xmlsig.Sign(env, s.opts.Signer)
		if err != nil {
			mocks.WriteJSON(w, http.StatusInternalServerError, map[string]string{"error": "signing: " + err.Error()})
			return
		}
		env = signed
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(env))
	if err != nil {
		mocks.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `""`)
	resp, err := pushClient.Do(req)
	if err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, context.DeadlineExceeded) {
			status = http.StatusGatewayTimeout
		}
		mocks.WriteJSON(w, status, map[string]string{"error": "recipient unreachable: " + err.Error(), "url": url})
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxEnvelope))
	mocks.WriteJSON(w, http.StatusOK, PushResult{MessageID: id, URL: url, Status: resp.StatusCode, Response: string(body)})
}

// rawXML is content that is already XML.
type rawXML struct {
	InnerXML string `xml:",innerxml"`
}
