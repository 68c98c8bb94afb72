package egov

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepasync"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepsync"
	"github.com/minfin-kz/kopir/internal/safexml"
	"github.com/minfin-kz/kopir/internal/units"
)

func init() { adapters.Register("egov-async", newAsync) }

// AsyncOptions is the options block of an "egov-async" route: the SHEP
// identity and service, plus how the conversation waits.
type AsyncOptions struct {
	Options `yaml:",inline"`
	// MessageType of what is sent: REQUEST (default), UPDATE, NOTIFICATION.
	MessageType string `yaml:"messageType" json:"messageType"`
	// AwaitResponse fetches the provider's RESPONSE with getMessages once
	// the message is DELIVERED. Default true; false for one-way
	// notifications, which are done when DELIVERED.
	AwaitResponse *bool `yaml:"awaitResponse" json:"awaitResponse"`
	// Poll paces getMessageStatus and getMessages: the first wait is
	// Interval (default 200ms), doubling up to MaxInterval (default 5s),
	// for at most Timeout (default 60s, and never past the route's own
	// deadline).
	Poll PollOptions `yaml:"poll" json:"poll"`
}

// PollOptions pace a polling loop.
type PollOptions struct {
	Interval    units.Duration `yaml:"interval" json:"interval"`
	MaxInterval units.Duration `yaml:"maxInterval" json:"maxInterval"`
	Timeout     units.Duration `yaml:"timeout" json:"timeout"`
}

// AsyncSendRequest is the internal JSON of "egov-async"/"send": like the
// "egov" passthrough, the caller gives the content of messageData/data.
type AsyncSendRequest struct {
	Data       string            `json:"data"`
	DataType   *shep.DataType    `json:"dataType,omitempty"`
	Properties map[string]string `json:"properties,omitempty"`
}

// AsyncResult is its answer.
type AsyncResult struct {
	MessageID string `json:"messageId"`
	SessionID string `json:"sessionId,omitempty"`
	// State is the final delivery state, DELIVERED on success.
	State    string         `json:"state"`
	Status   *Status        `json:"status,omitempty"`
	Response *AsyncReceived `json:"response,omitempty"`
}

// AsyncReceived is a message fetched with getMessages (or pushed in).
type AsyncReceived struct {
	MessageID     string            `json:"messageId"`
	CorrelationID string            `json:"correlationId,omitempty"`
	ServiceID     string            `json:"serviceId"`
	MessageType   string            `json:"messageType"`
	MessageDate   string            `json:"messageDate,omitempty"`
	SenderID      string            `json:"senderId,omitempty"`
	Properties    map[string]string `json:"properties,omitempty"`
	Data          string            `json:"data"`
	DataType      *shep.DataType    `json:"dataType,omitempty"`
}

type asyncAdapter struct {
	s           *Sender
	messageType string
	await       bool
	poll        poller
}

type poller struct{ interval, max, timeout time.Duration }

func newAsync(cfg adapters.AdapterConfig, res adapters.Resources) (adapters.Adapter, error) {
	operation := cfg.Operation
	if operation != "send" {
		return nil, fmt.Errorf("egov-async: unknown operation %q (known: send)", operation)
	}
	var o AsyncOptions
	if err := cfg.Options.Decode(&o); err != nil {
		return nil, fmt.Errorf("egov-async: options: %w", err)
	}
	a, err := NewAsync(o)
	if err != nil {
		return nil, err
	}
	if err := a.(*asyncAdapter).s.Provision(res); err != nil {
		return nil, fmt.Errorf("egov-async: %w", err)
	}
	a.(*asyncAdapter).s.Now = res.Clock
	return a, nil
}

// NewAsync builds the "egov-async" adapter.
func NewAsync(o AsyncOptions) (adapters.Adapter, error) {
	s, err := NewSender(o.Options)
	if err != nil {
		return nil, fmt.Errorf("egov-async: %w", err)
	}
	a := &asyncAdapter{s: s, messageType: o.MessageType, await: o.AwaitResponse == nil || *o.AwaitResponse}
	switch a.messageType {
	case "":
		a.messageType = shep.TypeRequest
	case shep.TypeRequest, shep.TypeUpdate, shep.TypeNotification:
	default:
		return nil, fmt.Errorf("egov-async: options.messageType %q: want REQUEST, UPDATE or NOTIFICATION", o.MessageType)
	}
	a.poll = poller{time.Duration(o.Poll.Interval), time.Duration(o.Poll.MaxInterval), time.Duration(o.Poll.Timeout)}
	if a.poll.interval <= 0 {
		a.poll.interval = 200 * time.Millisecond
	}
	if a.poll.max < a.poll.interval {
		a.poll.max = max(5*time.Second, a.poll.interval)
	}
	if a.poll.timeout <= 0 {
		a.poll.timeout = time.Minute
	}
	return a, nil
}

// Validate refuses a bad request before it is queued, and ties the stored
// message to its SHEP messageId, which is the bus's own id: status
// notifications from the gateway (changeMassageStatusNotification) name
// it, and the inbound channel finds the message by it.
func (a *asyncAdapter) Validate(_ context.Context, req *adapters.Request) error {
	if _, err := parseAsyncSend(req.Body); err != nil {
		return err
	}
	if req.ExternalID == "" {
		req.ExternalID = req.MessageID
	}
	return nil
}

func parseAsyncSend(body []byte) (*AsyncSendRequest, error) {
	var in AsyncSendRequest
	if err := adapters.DecodeStrict(body, &in); err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.Data) == "" {
		return nil, adapters.Invalid("data", "is required: the XML content of messageData/data")
	}
	if err := safexml.Check(strings.NewReader("<data>"+in.Data+"</data>"), shep.Limits); err != nil {
		return nil, adapters.Invalid("data", "is not a well-formed XML fragment: %v", err)
	}
	if t := in.DataType; t != nil && (t.Namespace == "" || t.Name == "" || strings.ContainsAny(t.Name, ": <>&\"")) {
		return nil, adapters.Invalid("dataType", "needs a namespace and a plain local name")
	}
	if _, err := Properties(in.Properties); err != nil {
		return nil, adapters.Invalid("properties", "%v", err)
	}
	return &in, nil
}

// Encode and Decode exist to satisfy adapters.Adapter; the core calls
// Converse for a Conversation.
func (a *asyncAdapter) Encode(context.Context, *adapters.Request) (*adapters.WireRequest, error) {
	return nil, errors.New("egov-async: is a conversation, call Converse")
}

func (a *asyncAdapter) Decode(context.Context, *adapters.Request, *adapters.WireResponse) (*adapters.Response, error) {
	return nil, errors.New("egov-async: is a conversation, call Converse")
}

// Converse runs sendMessage, getMessageStatus until a final state,
// getMessages for the RESPONSE and sendDeliveryNotification for each
// message taken. The SHEP messageId is the bus's message id, so a
// redelivery after a crash repeats the same message rather than sending a
// second one.
func (a *asyncAdapter) Converse(ctx context.Context, req *adapters.Request, t adapters.Transport) (*adapters.Response, error) {
	in, err := parseAsyncSend(req.Body)
	if err != nil {
		return nil, err
	}
	id := req.MessageID
	if id == "" {
		id = uuid.NewString()
	}
	if req.ExternalID == "" {
		req.ExternalID = id
	}
	extra, _ := Properties(in.Properties)
	info := shepasync.AsyncMessageInfo{
		MessageId: id, CorrelationId: req.CorrelationID, ServiceId: a.s.ServiceID,
		MessageType: a.messageType, MessageDate: shep.XSDNow(a.s.now()),
		Sender: &shepasync.SenderInfo{SenderId: a.s.SenderID, Password: a.s.Password},
	}
	for _, p := range append(append([]*shepsync.Property{}, a.s.Properties...), extra...) {
		info.Properties = append(info.Properties, &shepasync.Property{Key: p.Key, Value: p.Value})
	}
	pl := shep.Payload{Value: &shep.AnyXML{InnerXML: in.Data}}
	if in.DataType != nil {
		pl.Type = xml.Name{Space: in.DataType.Namespace, Local: in.DataType.Name}
	}
	env, err := shep.MarshalAsyncSendMessage(shep.NSAsync, &shep.AsyncMessage{Info: info, Data: pl})
	if err != nil {
		return nil, fmt.Errorf("egov-async: building sendMessage: %w", err)
	}
	var sent shepasync.AsyncSendMessageResponse
	if err := a.call(ctx, t, env, shep.OpSendMessage, &sent); err != nil {
		return nil, err
	}
	out := AsyncResult{MessageID: id, SessionID: sent.SessionId}

	deadline := time.Now().Add(a.poll.timeout)
	wait := a.poll.start()
	for {
		st, err := a.status(ctx, t, id)
		if err != nil {
			return nil, err
		}
		out.State = st.MessageState
		if st.Status != nil {
			out.Status = &Status{Code: st.Status.StatusCode, Message: st.Status.StatusMessage}
		}
		if shep.FinalState(st.MessageState) {
			break
		}
		if st.MessageState != shep.StateOnDelivery {
			return nil, &adapters.Error{Status: http.StatusBadGateway, Code: "SHEP_BAD_RESPONSE",
				Detail: fmt.Sprintf("getMessageStatus answered unknown state %q", st.MessageState)}
		}
		if err := wait(ctx, deadline, "delivered"); err != nil {
			return nil, err
		}
	}
	if out.State != shep.StateDelivered {
		// The gateway gave up delivering; sending the same messageId again
		// would be refused as a repeat, so this is final.
		detail := "SHEP could not deliver the message"
		if out.Status != nil {
			detail += ": " + strings.TrimSpace(out.Status.Code+" "+out.Status.Message)
		}
		return nil, &adapters.Error{Status: http.StatusBadGateway, Code: out.State, Detail: detail}
	}
	if !a.await {
		return jsonResponse(out)
	}
	wait = a.poll.start()
	for {
		msgs, err := a.messages(ctx, t, id)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			mi := m.MessageInfo
			if mi == nil || mi.CorrelationId != id {
				// Not ours: left unacknowledged for whoever it belongs to.
				continue
			}
			if err := a.notify(ctx, t, mi.MessageId, shep.ReceiveAccepted, shep.NotResend); err != nil {
				return nil, err
			}
			if out.Response == nil {
				out.Response = received(mi, m.Data())
			}
		}
		if out.Response != nil {
			return jsonResponse(out)
		}
		if err := wait(ctx, deadline, "answered"); err != nil {
			return nil, err
		}
	}
}

// start returns a waiter that sleeps the next backoff step, or fails with
// a retryable 504 once the conversation's time is up.
func (p poller) start() func(ctx context.Context, deadline time.Time, what string) error {
	d := p.interval
	return func(ctx context.Context, deadline time.Time, what string) error {
		sleep := min(d, time.Until(deadline))
		if sleep <= 0 {
			return &adapters.Error{Status: http.StatusGatewayTimeout, Code: "SHEP_ASYNC_PENDING", Retryable: true,
				Detail: fmt.Sprintf("the message was not %s within %s", what, p.timeout)}
		}
		d = min(2*d, p.max)
		tm := time.NewTimer(sleep)
		defer tm.Stop()
		select {
		case <-tm.C:
			return nil
		case <-ctx.Done():
			return &adapters.Error{Status: http.StatusGatewayTimeout, Code: "SHEP_ASYNC_PENDING", Retryable: true,
				Detail: fmt.Sprintf("the message was not %s before the route's deadline: %v", what, ctx.Err())}
		}
	}
}

func (a *asyncAdapter) status(ctx context.Context, t adapters.Transport, id string) (*shepasync.AsyncGetMessageStatusResponse, error) {
	env, err := shep.MarshalOp(shep.NSAsync, shep.OpGetMessageStatus, "request", &shepasync.AsyncGetMessageStatusRequest{
		MessageId: id, RequestDate: shep.XSDNow(a.s.now()),
		Sender: &shepasync.SenderInfo{SenderId: a.s.SenderID, Password: a.s.Password},
	})
	if err != nil {
		return nil, err
	}
	var out shepasync.AsyncGetMessageStatusResponse
	return &out, a.call(ctx, t, env, shep.OpGetMessageStatus, &out)
}

func (a *asyncAdapter) messages(ctx context.Context, t adapters.Transport, id string) ([]*shep.InboundSendMessage, error) {
	env, err := shep.MarshalOp(shep.NSAsync, shep.OpGetMessages, "request", &shepasync.AsyncGetMessagesRequest{
		CorrelationId: id, RequestDate: shep.XSDNow(a.s.now()), ServiceId: a.s.ServiceID,
		Sender: &shepasync.SenderInfo{SenderId: a.s.SenderID, Password: a.s.Password},
	})
	if err != nil {
		return nil, err
	}
	var out shep.InboundMessages
	if err := a.call(ctx, t, env, shep.OpGetMessages, &out); err != nil {
		return nil, err
	}
	return out.Messages, nil
}

func (a *asyncAdapter) notify(ctx context.Context, t adapters.Transport, id, receive, resend string) error {
	env, err := shep.MarshalOp(shep.NSAsync, shep.OpSendDeliveryNotification, "request", DeliveryNotification(a.s, id, receive, resend, nil))
	if err != nil {
		return err
	}
	var out shepasync.AsyncSendDeliveryNotificationResponse
	return a.call(ctx, t, env, shep.OpSendDeliveryNotification, &out)
}

// DeliveryNotification is the sendDeliveryNotification request telling
// the gateway whether message id was taken.
func DeliveryNotification(s *Sender, id, receive, resend string, e *shepasync.ErrorInfo) *shepasync.AsyncSendDeliveryNotificationRequest {
	now := shep.XSDNow(s.now())
	return &shepasync.AsyncSendDeliveryNotificationRequest{
		Notification: &shepasync.DeliveryNotification{
			MessageId: id, ServiceId: s.ServiceID, NotificationDate: now,
			DeliveryStatus: &shepasync.DeliveryStatusInfo{ReceiveStatus: receive, StatusDate: now, ResendMessage: resend, Error: e},
		},
		RequestDate: now,
		Sender:      &shepasync.SenderInfo{SenderId: s.SenderID, Password: s.Password},
	}
}

// call signs env, sends it through the core's transport and decodes the
// operation's response into out.
func (a *asyncAdapter) call(ctx context.Context, t adapters.Transport, env []byte, op string, out any) error {
	resp, err := a.s.Send(ctx, t, env)
	if err != nil {
		return err
	}
	return a.s.DecodeOp(resp, op, out)
}

// DecodeOp reads the gateway's answer to op into out like decodeOp, with
// the route's own transient codes.
func (s *Sender) DecodeOp(resp *adapters.WireResponse, op string, out any) error {
	return decodeOp(resp, op, out, s.Retryable)
}

// decodeOp reads the gateway's answer to op into out (the inner response
// type), mapping faults and transport failures like the sync channel.
func decodeOp(resp *adapters.WireResponse, op string, out any, retryable map[string]bool) error {
	// encoding/xml fills the value an interface field points to.
	w := struct {
		Response any `xml:"response"`
	}{out}
	_, err := shep.ParseOp(resp.Body, shep.Limits, shep.Expect(shep.NSAsync, op+"Response", &w))
	if err != nil {
		var unknown *shep.UnknownOpError
		if errors.As(err, &unknown) {
			return &adapters.Error{Status: http.StatusBadGateway, Code: "SHEP_BAD_RESPONSE",
				Detail: fmt.Sprintf("%s answered with %s", op, unknown.Name.Local)}
		}
		return wireError(resp.StatusCode, err, retryable)
	}
	if resp.StatusCode/100 != 2 {
		return httpError(resp.StatusCode, "with a "+op+"Response")
	}
	return nil
}

// received flattens a fetched or pushed message for the internal caller.
func received(mi *shepasync.AsyncMessageInfo, d *shep.RawData) *AsyncReceived {
	r := &AsyncReceived{MessageID: mi.MessageId, CorrelationID: mi.CorrelationId, ServiceID: mi.ServiceId, MessageType: mi.MessageType}
	if t := mi.MessageDate.ToGoTime(); t.Year() > 1 {
		r.MessageDate = t.Format(time.RFC3339Nano)
	}
	if mi.Sender != nil {
		r.SenderID = mi.Sender.SenderId
	}
	for _, p := range mi.Properties {
		if p == nil {
			continue
		}
		if r.Properties == nil {
			r.Properties = map[string]string{}
		}
		r.Properties[p.Key] = p.Value
	}
	if d != nil {
		r.Data, r.DataType = d.InnerXML, d.Type()
	}
	return r
}

func jsonResponse(v any) (*adapters.Response, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &adapters.Response{Body: b}, nil
}
