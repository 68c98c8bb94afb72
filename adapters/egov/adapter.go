package egov

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"strings"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepsync"
	"github.com/minfin-kz/kopir/internal/safexml"
)

func init() { adapters.Register("egov", newPassthrough) }

// SendRequest is the internal JSON of the generic "egov"/"send" route, for
// SHEP services that have no adapter of their own yet: the caller supplies
// the children of requestData/data as XML.
type SendRequest struct {
	Data     string         `json:"data"`
	DataType *shep.DataType `json:"dataType,omitempty"`
	// Properties are added to the route's requestInfo properties.
	Properties map[string]string `json:"properties,omitempty"`
}

// SendResponse is its answer: responseInfo and the children of
// responseData/data, as XML.
type SendResponse struct {
	MessageID     string `json:"messageId"`
	CorrelationID string `json:"correlationId,omitempty"`
	ResponseDate  string `json:"responseDate,omitempty"`
	Status        Status `json:"status"`
	SessionID     string `json:"sessionId,omitempty"`
	Data          string `json:"data"`
}

// Status is responseInfo/status.
type Status struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type passthrough struct{ s *Sender }

func newPassthrough(cfg adapters.AdapterConfig, res adapters.Resources) (adapters.Adapter, error) {
	operation := cfg.Operation
	if operation != "send" {
		return nil, fmt.Errorf("egov: unknown operation %q (known: send)", operation)
	}
	var o Options
	if err := cfg.Options.Decode(&o); err != nil {
		return nil, fmt.Errorf("egov: options: %w", err)
	}
	s, err := NewSender(o)
	if err == nil {
		err = s.Provision(res)
	}
	if err != nil {
		return nil, fmt.Errorf("egov: %w", err)
	}
	s.Now = res.Clock
	return &passthrough{s}, nil
}

func (p *passthrough) Validate(_ context.Context, req *adapters.Request) error {
	_, err := parseSend(req.Body)
	return err
}

func (p *passthrough) Encode(ctx context.Context, req *adapters.Request) (*adapters.WireRequest, error) {
	in, err := parseSend(req.Body)
	if err != nil {
		return nil, err
	}
	pl := shep.Payload{Value: &shepsync.AnyType{InnerXML: in.Data}}
	if in.DataType != nil {
		pl.Type = xml.Name{Space: in.DataType.Namespace, Local: in.DataType.Name}
	}
	props, _ := Properties(in.Properties) // checked by parseSend
	return p.s.WireProps(ctx, req, pl, props)
}

func (p *passthrough) Decode(_ context.Context, _ *adapters.Request, resp *adapters.WireResponse) (*adapters.Response, error) {
	var data shepsync.AnyType
	info, err := p.s.Decode(resp, &data)
	if err != nil {
		return nil, err
	}
	out := SendResponse{
		MessageID:     info.MessageId,
		CorrelationID: info.CorrelationId,
		Status:        Status{info.Status.Code, info.Status.Message},
		Data:          data.InnerXML,
	}
	if t := info.ResponseDate.ToGoTime(); !t.IsZero() {
		out.ResponseDate = t.Format(time.RFC3339Nano)
	}
	if info.SessionId != nil {
		out.SessionID = string(*info.SessionId)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return &adapters.Response{Body: b}, nil
}

// parseSend refuses unknown fields and data that is not a well-formed,
// DTD-free fragment: it is spliced into the envelope verbatim, so anything
// else would let a caller rewrite the envelope around it.
func parseSend(body []byte) (*SendRequest, error) {
	var in SendRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, &adapters.Error{Status: 400, Detail: "request body: " + err.Error()}
	}
	if dec.More() {
		return nil, &adapters.Error{Status: 400, Detail: "request body: trailing data after the JSON object"}
	}
	if strings.TrimSpace(in.Data) == "" {
		return nil, adapters.Invalid("data", "is required: the XML content of requestData/data")
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
