package shepschema

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/egov"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
)

// asyncAdapter is operation async: the request element is sent with the
// AsyncChannel conversation of "egov-async" (sendMessage, getMessageStatus
// until final, getMessages for the RESPONSE, sendDeliveryNotification),
// so both kinds of route converse the same way, and the RESPONSE's <data>
// is read through the response schema as a sync answer is.
type asyncAdapter struct {
	*Adapter
	conversation adapters.Conversation
}

func newAsync(route string, o AsyncOptions, res adapters.Resources) (adapters.Adapter, error) {
	a, err := build(o.Options, res)
	if err != nil {
		return nil, err
	}
	factory, ok := adapters.Lookup("egov-async")
	if !ok {
		return nil, errors.New("shep: operation async needs the egov-async adapter, which is not registered")
	}
	inner, err := factory(adapters.AdapterConfig{Route: route, Operation: "send", Options: given{egov.AsyncOptions{
		Options: o.Options.Options, MessageType: o.MessageType, Poll: o.Poll,
	}}}, res)
	if err != nil {
		return nil, fmt.Errorf("shep: %w", err)
	}
	conv, ok := inner.(adapters.Conversation)
	if !ok {
		return nil, errors.New("shep: the egov-async adapter holds no conversation")
	}
	return &asyncAdapter{Adapter: a, conversation: conv}, nil
}

// given is options already decoded, handed to the egov-async factory.
type given struct{ o egov.AsyncOptions }

func (g given) Decode(into any) error {
	p, ok := into.(*egov.AsyncOptions)
	if !ok {
		return fmt.Errorf("shep: egov-async asked for options of type %T", into)
	}
	*p = g.o
	return nil
}

// Validate checks the request as the sync operation does and, as
// egov-async does, ties the stored message to its SHEP messageId (the
// bus's id), so the gateway's status notifications find it.
func (a *asyncAdapter) Validate(ctx context.Context, req *adapters.Request) error {
	if err := a.Adapter.Validate(ctx, req); err != nil {
		return err
	}
	if req.ExternalID == "" {
		req.ExternalID = req.MessageID
	}
	return nil
}

// Encode and Decode exist to satisfy adapters.Adapter; the core calls
// Converse for a Conversation.
func (a *asyncAdapter) Encode(context.Context, *adapters.Request) (*adapters.WireRequest, error) {
	return nil, errors.New("shep: operation async is a conversation, call Converse")
}

func (a *asyncAdapter) Decode(context.Context, *adapters.Request, *adapters.WireResponse) (*adapters.Response, error) {
	return nil, errors.New("shep: operation async is a conversation, call Converse")
}

// Converse sends the request element and answers the provider's RESPONSE
// read through the response schema. Failures of the conversation
// (undelivered, not answered in time, SHEP faults) are egov-async's.
func (a *asyncAdapter) Converse(ctx context.Context, req *adapters.Request, t adapters.Transport) (*adapters.Response, error) {
	orig := req
	req = withMessageID(req)
	inner, typ, err := a.data(req)
	if err != nil {
		return nil, err
	}
	send := egov.AsyncSendRequest{Data: inner}
	if typ.Local != "" {
		send.DataType = &shep.DataType{Namespace: typ.Space, Name: typ.Local}
	}
	body, err := json.Marshal(send)
	if err != nil {
		return nil, err
	}
	r := *req
	r.Body = body
	resp, err := a.conversation.Converse(ctx, &r, t)
	if orig.ExternalID == "" {
		orig.ExternalID = r.ExternalID
	}
	if err != nil {
		return nil, err
	}
	var out egov.AsyncResult
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return nil, err
	}
	if out.Response == nil {
		return nil, badAnswer("the conversation ended without the provider's RESPONSE")
	}
	// The RESPONSE's <data> comes as its content: namespace prefixes
	// declared on <data> itself are not carried, those inside it are.
	return a.answer(out.Response.Data, nil)
}
