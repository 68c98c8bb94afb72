// Package iso20022 is the adapter "iso20022": it carries the treasury's
// payments out over ISO 20022 as payment orders in pacs.008.001.08
// (operation credit-transfer), pain.001.001.09 (customer-transfer) and
// cancellation requests as camt.056.001.08 (cancel), each behind a
// head.001.001.02 business application header and validated against the
// official XSDs before it leaves. What the payment system sends back comes
// in through the channel of adapters/iso20022channel, which finds the
// payments by the ids this package gives them (MsgID, the order's
// end-to-end id). See docs/adapters/iso20022.md.
package iso20022

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/internal/iban"
	"github.com/minfin-kz/kopir/internal/xsd"
)

func init() { adapters.Register("iso20022", New) }

// Operations of the "iso20022" adapter.
const (
	OpCreditTransfer   = "credit-transfer"   // pacs.008.001.08
	OpCustomerTransfer = "customer-transfer" // pain.001.001.09
	OpCancel           = "cancel"            // camt.056.001.08
)

var (
	typeOfDecimal = reflect.TypeOf("")
	elementName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9._-]*$`)
)

// Options of an "iso20022" route.
type Options struct {
	// SenderBIC is the ministry's participant BIC: the BAH's Fr, the
	// instructing agent, the cancellation's assigner. Required.
	SenderBIC string `yaml:"senderBIC"`
	// ReceiverBIC is the payment system's BIC: the BAH's To, the instructed
	// party of a cancellation. Required.
	ReceiverBIC string `yaml:"receiverBIC"`
	// BusinessService goes into the BAH's BizSvc when set (the payment
	// system's service name).
	BusinessService string `yaml:"businessService"`
	// ClearingSystem is the proprietary clearing system id written to
	// pacs.008 SttlmInf/ClrSys/Prtry when set.
	ClearingSystem string `yaml:"clearingSystem"`
	// Envelope is the element that holds AppHdr and Document on the wire;
	// default "message", without namespace. The payment system's
	// transport framing is not public; change it here when it is known.
	Envelope          string `yaml:"envelope"`
	EnvelopeNamespace string `yaml:"envelopeNamespace"`
	// Currencies accepted on the route; default KZT only, as the
	// interbank system clears tenge.
	Currencies []string `yaml:"currencies"`
}

// Adapter is the "iso20022" adapter for one operation.
type Adapter struct {
	op   string
	opts Options
	env  xml.Name
	// Now stamps messages and decides "today"; nil means time.Now.
	Now func() time.Time
}

// New is the adapters.Factory.
func New(cfg adapters.AdapterConfig, res adapters.Resources) (adapters.Adapter, error) {
	operation := cfg.Operation
	switch operation {
	case OpCreditTransfer, OpCustomerTransfer, OpCancel:
	default:
		return nil, fmt.Errorf("iso20022: unknown operation %q (known: %s, %s, %s)", operation, OpCreditTransfer, OpCustomerTransfer, OpCancel)
	}
	var o Options
	if err := cfg.Options.Decode(&o); err != nil {
		return nil, fmt.Errorf("iso20022: options: %w", err)
	}
	if o.SenderBIC == "" {
		return nil, fmt.Errorf("iso20022: options.senderBIC is required")
	}
	if err := iban.ValidateBIC(o.SenderBIC); err != nil {
		return nil, fmt.Errorf("iso20022: options.senderBIC: %w", err)
	}
	if o.ReceiverBIC == "" {
		return nil, fmt.Errorf("iso20022: options.receiverBIC is required")
	}
	if err := iban.ValidateBIC(o.ReceiverBIC); err != nil {
		return nil, fmt.Errorf("iso20022: options.receiverBIC: %w", err)
	}
	if len(o.BusinessService) > 35 || len(o.ClearingSystem) > 35 {
		return nil, fmt.Errorf("iso20022: options.businessService and clearingSystem must be at most 35 characters")
	}
	if o.Envelope == "" {
		o.Envelope = "message"
	}
	if !elementName.MatchString(o.Envelope) {
		return nil, fmt.Errorf("iso20022: options.envelope %q is not an XML element name", o.Envelope)
	}
	if o.Currencies == nil {
		o.Currencies = []string{"KZT"}
	}
	for i, c := range o.Currencies {
		if !isodoc.ValidCurrency(c) {
			return nil, fmt.Errorf("iso20022: options.currencies[%d]: %q is not an ISO 4217 code", i, c)
		}
	}
	// The schemas are compiled on first use, not here: each takes about a
	// megabyte of C heap, idle until the first payment; they are embedded,
	// and their tests compile them all (contracts/iso20022/isodoc).
	return &Adapter{op: operation, opts: o, env: xml.Name{Space: o.EnvelopeNamespace, Local: o.Envelope}, Now: res.Clock}, nil
}

func docIDOf(op string) string {
	switch op {
	case OpCustomerTransfer:
		return isodoc.Pain001
	case OpCancel:
		return isodoc.Camt056
	}
	return isodoc.Pacs008
}

func (a *Adapter) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// MsgID is the GrpHdr/MsgId (and BAH BizMsgIdr) of the message Köpir sends
// for a stored message: its id without hyphens (32 characters; Max35Text
// cannot hold a UUID's 36). Deriving it rather than storing it means a
// status report's OrgnlMsgId can be checked against the payment found by
// end-to-end id with nothing more than that payment's id, and a retry or a
// replay resends the same MsgId, so the payment system can tell it is a
// repeat.
func MsgID(messageID string) string {
	if messageID == "" {
		messageID = uuid.NewString()
	}
	return strings.ReplaceAll(messageID, "-", "")
}

// Validate refuses a bad order before it is stored or sent, naming the
// field, and sets the external id the payment will be found by later.
func (a *Adapter) Validate(_ context.Context, req *adapters.Request) error {
	_, err := a.build(req, false)
	return err
}

// Encode builds the message and validates it against the official XSDs.
func (a *Adapter) Encode(_ context.Context, req *adapters.Request) (*adapters.WireRequest, error) {
	body, err := a.build(req, true)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/xml; charset=utf-8")
	h.Set("X-Kopir-Message-Id", req.MessageID)
	return &adapters.WireRequest{Method: http.MethodPost, Header: h, Body: body}, nil
}

// build parses and checks the order, sets req.ExternalID, and with
// marshal also writes the message (validated against its schemas).
func (a *Adapter) build(req *adapters.Request, marshal bool) ([]byte, error) {
	switch a.op {
	case OpCustomerTransfer:
		return a.buildCustomerTransfer(req, marshal)
	case OpCancel:
		return a.buildCancel(req, marshal)
	}
	return a.buildCreditTransfer(req, marshal)
}

// marshal writes the message; a schema violation at this point means the
// checks above let something through that the XSD does not, so it is
// reported as the caller's 422 on the offending XML element, never sent.
func (a *Adapter) marshal(req *adapters.Request, docID string, doc any) ([]byte, error) {
	id := MsgID(req.MessageID)
	hdr := isodoc.NewHeader(a.opts.SenderBIC, a.opts.ReceiverBIC, id, docID, a.opts.BusinessService, a.now())
	out, err := isodoc.Marshal(a.env, hdr, docID, doc)
	if xe, ok := err.(*xsd.Error); ok {
		v := xe.Violations[0]
		return nil, &adapters.Error{Status: http.StatusUnprocessableEntity, Field: v.Path, Code: "SCHEMA_INVALID",
			Detail: fmt.Sprintf("the %s built from this request fails its XSD: %s", docID, xe.Error())}
	}
	return out, err
}

// Sent is the internal answer once the payment system has taken the
// message: its status comes later, as pacs.002 through the channel.
type Sent struct {
	Status            string `json:"status"` // SENT
	EndToEndID        string `json:"endToEndId,omitempty"`
	PaymentInfoID     string `json:"paymentInformationId,omitempty"`
	MsgID             string `json:"msgId"`
	MessageDefinition string `json:"messageDefinition"`
}

// Decode reads the payment system's transport acknowledgement: any 2xx
// means it holds the message; a 4xx is a refusal of this message (not
// retried); a 5xx may pass.
func (a *Adapter) Decode(_ context.Context, req *adapters.Request, resp *adapters.WireResponse) (*adapters.Response, error) {
	if resp.StatusCode >= 300 {
		return nil, adapters.HTTPFailure("payment system", "the message", resp)
	}
	out := Sent{Status: "SENT", MsgID: MsgID(req.MessageID), MessageDefinition: docIDOf(a.op)}
	switch a.op {
	case OpCustomerTransfer:
		out.PaymentInfoID = req.ExternalID
		var ct CustomerTransfer
		if json.Unmarshal(req.Body, &ct) == nil {
			out.PaymentInfoID = ct.PaymentInfoID
			if len(ct.Transactions) == 1 {
				out.EndToEndID = ct.Transactions[0].EndToEndID
			}
		}
	default:
		var probe struct {
			EndToEndID string `json:"endToEndId"`
		}
		_ = json.Unmarshal(req.Body, &probe)
		out.EndToEndID = probe.EndToEndID
		if a.op == OpCancel {
			out.Status = "CANCELLATION_REQUESTED"
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return &adapters.Response{Body: b}, nil
}
