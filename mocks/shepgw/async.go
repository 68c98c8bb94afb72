package shepgw

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"sort"
	"sync"

	"github.com/google/uuid"
	"github.com/hooklift/gowsdl/soap"

	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepasync"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepsync"
	"github.com/minfin-kz/kopir/mocks"
)

// The gateway's own services, for trying the AsyncChannel without an
// agency behind it; they are unknown to the SyncChannel.
const (
	// EchoServiceID answers every message with a RESPONSE carrying its data.
	EchoServiceID = "MOCK_Echo"
	// UndeliverableServiceID is never delivered: NOT_DELIVERED.
	UndeliverableServiceID = "MOCK_Undeliverable"
	// SilentServiceID is delivered but never answered.
	SilentServiceID = "MOCK_Silent"
)

func init() {
	Register(EchoServiceID, Service{AsyncOnly: true, Answer: func(c *Call) ([]byte, bool) {
		return []byte("<data>" + c.Data + "</data>"), true
	}})
	Register(UndeliverableServiceID, Service{AsyncOnly: true, Undeliverable: true})
	Register(SilentServiceID, Service{AsyncOnly: true})
}

// maxHeld bounds what the gateway keeps, so a long load test cannot grow
// the mock without limit; the oldest entries go first.
const maxHeld = 20_000

// asyncStore is the gateway's memory of the AsyncChannel: what each
// participant sent (for getMessageStatus and repeats) and the messages
// waiting to be fetched with getMessages.
type asyncStore struct {
	mu    sync.Mutex
	sent  map[string]*asyncSent
	order []string // sent ids, oldest first
	inbox []*asyncMsg
}

type asyncSent struct {
	sender, service string
	undeliverable   bool
	ack             []byte // the sendMessage answer, repeated to a repeat
	polls           int
	state           string
	reply           *asyncMsg // queued for the sender once DELIVERED
}

type asyncMsg struct {
	info      shepasync.AsyncMessageInfo
	data      []byte // a whole <data> element
	recipient string // the senderId that may fetch it
	offered   int
}

func newAsyncStore() *asyncStore { return &asyncStore{sent: map[string]*asyncSent{}} }

func (a *asyncStore) enqueue(m *asyncMsg) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.inbox) >= maxHeld {
		a.inbox = a.inbox[1:]
	}
	a.inbox = append(a.inbox, m)
}

func (s *server) asyncFault(op string) func(w http.ResponseWriter, faultCode, code, msg string) {
	return func(w http.ResponseWriter, faultCode, code, msg string) {
		body, err := shep.MarshalOpFault(shep.NSAsync, op, faultCode, msg, &shepasync.ErrorInfo{
			ErrorCode: code, ErrorMessage: msg, ErrorDate: soap.CreateXsdDateTime(s.now(), true),
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write(body)
	}
}

func (s *server) shepAsync(w http.ResponseWriter, r *http.Request) {
	op := shep.OpSendMessage
	body, err := mocks.ReadBody(w, r, maxEnvelope)
	if err != nil {
		s.asyncFault(op)(w, "soap:Client", CodeBadRequest, "request body: "+err.Error())
		return
	}
	var (
		send   shep.OpRequest[shep.InboundSendMessage]
		status shep.OpRequest[shepasync.AsyncGetMessageStatusRequest]
		get    shep.OpRequest[shepasync.AsyncGetMessagesRequest]
		notif  shep.OpRequest[shepasync.AsyncSendDeliveryNotificationRequest]
	)
	name, err := shep.ParseOp(body, shep.Limits, func(n xml.Name) any {
		if n.Space != shep.NSAsync {
			return nil
		}
		switch n.Local {
		case shep.OpSendMessage:
			return &send
		case shep.OpGetMessageStatus:
			return &status
		case shep.OpGetMessages:
			return &get
		case shep.OpSendDeliveryNotification:
			return &notif
		}
		return nil
	})
	if name.Local != "" {
		op = name.Local
	}
	fault := s.asyncFault(op)
	if err != nil {
		fault(w, "soap:Client", CodeBadRequest, err.Error())
		return
	}
	var (
		sender *shepasync.SenderInfo
		key    string
	)
	switch {
	case send.Request != nil && send.Request.MessageInfo != nil:
		sender, key = send.Request.MessageInfo.Sender, send.Request.MessageInfo.MessageId
	case status.Request != nil:
		sender, key = status.Request.Sender, status.Request.MessageId
	case get.Request != nil:
		sender, key = get.Request.Sender, "getMessages:"+get.Request.ServiceId
	case notif.Request != nil && notif.Request.Notification != nil:
		sender, key = notif.Request.Sender, "notify:"+notif.Request.Notification.MessageId
	default:
		fault(w, "soap:Client", CodeBadRequest, op+" without its request")
		return
	}
	if !s.injectedAs(w, r, s.mock, key, fault) {
		return
	}
	if msg := s.checkSignature(r.Context(), body); msg != "" {
		fault(w, "soap:Client", CodeSignature, msg)
		return
	}
	var si *shepsync.SenderInfo
	if sender != nil {
		si = &shepsync.SenderInfo{SenderId: sender.SenderId, Password: sender.Password}
	}
	if !s.authorised(si) {
		fault(w, "soap:Client", CodeAuth, "sender authentication failed")
		return
	}
	switch op {
	case shep.OpSendMessage:
		s.asyncSend(w, r, send.Request, fault)
	case shep.OpGetMessageStatus:
		s.asyncStatus(w, status.Request, fault)
	case shep.OpGetMessages:
		s.asyncGet(w, get.Request)
	case shep.OpSendDeliveryNotification:
		s.asyncNotified(w, notif.Request, fault)
	}
}

func (s *server) asyncAnswer(w http.ResponseWriter, op string, v any) []byte {
	b, err := shep.MarshalOp(shep.NSAsync, op+"Response", "response", v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return nil
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Write(b)
	return b
}

// asyncSend takes a message for a provider. The provider's answer is
// worked out now and queued for the sender once the message counts as
// delivered. A repeated messageId gets the first answer, as a gateway
// that de-duplicates would.
func (s *server) asyncSend(w http.ResponseWriter, r *http.Request, req *shep.InboundSendMessage, fault func(http.ResponseWriter, string, string, string)) {
	mi := req.MessageInfo
	if mi.MessageId == "" || mi.ServiceId == "" || req.MessageData == nil {
		fault(w, "soap:Client", CodeBadRequest, "sendMessage needs messageInfo/messageId, serviceId and messageData")
		return
	}
	st := s.async
	st.mu.Lock()
	prev := st.sent[mi.MessageId]
	st.mu.Unlock()
	if prev != nil {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.Write(prev.ack)
		return
	}
	svc := s.service(mi.ServiceId, true)
	if svc == nil {
		s.unknownService(w, mi.ServiceId, fault)
		return
	}
	sent := &asyncSent{sender: mi.Sender.SenderId, service: mi.ServiceId, undeliverable: svc.Undeliverable, state: shep.StateOnDelivery}
	answer, ok := s.answer(w, r, svc, &Call{MessageID: mi.MessageId, ServiceID: mi.ServiceId, Data: req.MessageData.Data.InnerXML, Async: true}, fault)
	if !ok {
		return
	}
	if answer != nil {
		sent.reply = &asyncMsg{recipient: mi.Sender.SenderId, data: answer, info: shepasync.AsyncMessageInfo{
			MessageId: uuid.NewString(), CorrelationId: mi.MessageId, ServiceId: mi.ServiceId,
			MessageType: shep.TypeResponse, MessageDate: soap.CreateXsdDateTime(s.now(), true),
			Sender: &shepasync.SenderInfo{SenderId: svc.Provider},
		}}
	}
	corr := mi.CorrelationId
	if corr == "" {
		corr = mi.MessageId
	}
	sent.ack = s.asyncAnswer(w, shep.OpSendMessage, &shepasync.AsyncSendMessageResponse{
		MessageId: mi.MessageId, CorrelationId: corr, ResponseDate: soap.CreateXsdDateTime(s.now(), true),
		SessionId: "{" + uuid.NewString() + "}",
	})
	st.mu.Lock()
	st.sent[mi.MessageId] = sent
	st.order = append(st.order, mi.MessageId)
	if len(st.order) > maxHeld {
		delete(st.sent, st.order[0])
		st.order = st.order[1:]
	}
	st.mu.Unlock()
}

// asyncStatus moves a message along: ON_DELIVERY for the first
// AsyncPolls calls, then its final state, queueing the provider's reply.
func (s *server) asyncStatus(w http.ResponseWriter, req *shepasync.AsyncGetMessageStatusRequest, fault func(http.ResponseWriter, string, string, string)) {
	st := s.async
	st.mu.Lock()
	m := st.sent[req.MessageId]
	if m == nil || m.sender != req.Sender.SenderId {
		st.mu.Unlock()
		fault(w, "soap:Client", CodeUnknownMessage, fmt.Sprintf("no message %q from this sender", req.MessageId))
		return
	}
	m.polls++
	if m.state == shep.StateOnDelivery && m.polls > s.opts.AsyncPolls {
		if m.undeliverable {
			m.state = shep.StateNotDelivered
		} else {
			m.state = shep.StateDelivered
			if m.reply != nil {
				if len(st.inbox) >= maxHeld {
					st.inbox = st.inbox[1:]
				}
				st.inbox = append(st.inbox, m.reply)
			}
		}
	}
	state := m.state
	st.mu.Unlock()
	code, text := "SCSS001", "Сообщение доставлено"
	switch state {
	case shep.StateOnDelivery:
		code, text = "ON_DELIVERY", "Сообщение в процессе доставки"
	case shep.StateNotDelivered:
		code, text = "MOCK_NOT_DELIVERED", "Получатель недоступен"
	}
	now := soap.CreateXsdDateTime(s.now(), true)
	s.asyncAnswer(w, shep.OpGetMessageStatus, &shepasync.AsyncGetMessageStatusResponse{
		MessageState: state, ResponseDate: now,
		Status: &shepasync.MessageStatusInfo{StatusCode: code, StatusMessage: text, StatusDate: now},
	})
}

// asyncGet hands out the messages waiting for this sender and service
// (optionally only those answering correlationId). They stay until
// acknowledged with sendDeliveryNotification.
func (s *server) asyncGet(w http.ResponseWriter, req *shepasync.AsyncGetMessagesRequest) {
	amount := int(req.Amount)
	if amount <= 0 || amount > 100 {
		amount = 10
	}
	var picked []*asyncMsg
	st := s.async
	st.mu.Lock()
	for _, m := range st.inbox {
		if len(picked) == amount {
			break
		}
		if m.recipient == req.Sender.SenderId && m.info.ServiceId == req.ServiceId &&
			(req.CorrelationId == "" || m.info.CorrelationId == req.CorrelationId) {
			m.offered++
			picked = append(picked, m)
		}
	}
	st.mu.Unlock()
	b := make([]byte, 0, 1024)
	b = append(b, `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><ns2:getMessagesResponse xmlns:ns2="`+shep.NSAsync+`"><response><responseDate>`...)
	b = s.now().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `</responseDate><sessionId>{`...)
	b = append(b, uuid.NewString()...)
	b = append(b, `}</sessionId>`...)
	for _, m := range picked {
		info, err := xml.Marshal(struct {
			XMLName xml.Name `xml:"messageInfo"`
			*shepasync.AsyncMessageInfo
		}{AsyncMessageInfo: &m.info})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		b = append(b, `<messages>`...)
		b = append(b, info...)
		b = append(b, `<messageData>`...)
		b = append(b, m.data...)
		b = append(b, `</messageData></messages>`...)
	}
	b = append(b, `</response></ns2:getMessagesResponse></soap:Body></soap:Envelope>`...)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Write(b)
}

// asyncNotified takes a delivery notification: an accepted message, or
// one refused for good, leaves the gateway; RESEND keeps it.
func (s *server) asyncNotified(w http.ResponseWriter, req *shepasync.AsyncSendDeliveryNotificationRequest, fault func(http.ResponseWriter, string, string, string)) {
	n := req.Notification
	if n.DeliveryStatus == nil {
		fault(w, "soap:Client", CodeBadRequest, "notification without deliveryStatus")
		return
	}
	st := s.async
	st.mu.Lock()
	idx := -1
	for i, m := range st.inbox {
		if m.info.MessageId == n.MessageId && m.recipient == req.Sender.SenderId {
			idx = i
			break
		}
	}
	if idx >= 0 && (n.DeliveryStatus.ReceiveStatus == shep.ReceiveAccepted || n.DeliveryStatus.ResendMessage != shep.Resend) {
		st.inbox = append(st.inbox[:idx], st.inbox[idx+1:]...)
	}
	st.mu.Unlock()
	if idx < 0 {
		fault(w, "soap:Client", CodeUnknownMessage, fmt.Sprintf("no message %q waits for this sender", n.MessageId))
		return
	}
	s.asyncAnswer(w, shep.OpSendDeliveryNotification, &shepasync.AsyncSendDeliveryNotificationResponse{
		NotificationId: uuid.NewString(), ResponseDate: soap.CreateXsdDateTime(s.now(), true), SessionId: "{" + uuid.NewString() + "}",
	})
}

// AsyncHeld is GET /_control/shep/messages: what the gateway holds.
type AsyncHeld struct {
	Sent    []AsyncSentItem  `json:"sent"`
	Waiting []AsyncQueueItem `json:"waiting"`
}

// FetchHeld reads what the mock gateway at url still holds, through its
// control API (GET /_control/shep/messages), for tests of its clients.
func FetchHeld(url string) (AsyncHeld, error) {
	var h AsyncHeld
	resp, err := http.Get(url + "/_control/shep/messages")
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return h, fmt.Errorf("shepgw: GET /_control/shep/messages: %s", resp.Status)
	}
	return h, json.NewDecoder(resp.Body).Decode(&h)
}

// AsyncSentItem is a message a participant sent.
type AsyncSentItem struct {
	MessageID string `json:"messageId"`
	ServiceID string `json:"serviceId"`
	SenderID  string `json:"senderId"`
	State     string `json:"state"`
	Polls     int    `json:"statusPolls"`
}

// AsyncQueueItem is a message waiting for getMessages.
type AsyncQueueItem struct {
	MessageID     string `json:"messageId"`
	CorrelationID string `json:"correlationId,omitempty"`
	ServiceID     string `json:"serviceId"`
	Recipient     string `json:"recipient"`
	Offered       int    `json:"offered"`
}

func (s *server) listAsync(w http.ResponseWriter, _ *http.Request) {
	st := s.async
	st.mu.Lock()
	out := AsyncHeld{Sent: []AsyncSentItem{}, Waiting: []AsyncQueueItem{}}
	for id, m := range st.sent {
		out.Sent = append(out.Sent, AsyncSentItem{id, m.service, m.sender, m.state, m.polls})
	}
	for _, m := range st.inbox {
		out.Waiting = append(out.Waiting, AsyncQueueItem{m.info.MessageId, m.info.CorrelationId, m.info.ServiceId, m.recipient, m.offered})
	}
	st.mu.Unlock()
	sort.Slice(out.Sent, func(i, j int) bool { return out.Sent[i].MessageID < out.Sent[j].MessageID })
	mocks.WriteJSON(w, http.StatusOK, out)
}
