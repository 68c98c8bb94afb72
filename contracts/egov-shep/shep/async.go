package shep

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hooklift/gowsdl/soap"

	"github.com/minfin-kz/kopir/contracts/egov-shep/shepasync"
	"github.com/minfin-kz/kopir/internal/safexml"
)

// AsyncChannel namespaces: the gateway's own operations, and the ones a
// recipient serves for push delivery (contracts/egov-shep/async-client).
const (
	NSAsync       = "http://bip.bee.kz/AsyncChannel/v10/Types"
	NSAsyncClient = "http://bip.bee.kz/AsyncChannel/v10/Types/Client"
)

// AsyncChannel operation element names, spelled as the gateway spells them.
const (
	OpSendMessage              = "sendMessage"
	OpGetMessageStatus         = "getMessageStatus"
	OpGetMessages              = "getMessages"
	OpSendDeliveryNotification = "sendDeliveryNotification"
	OpChangeStatusNotification = "changeMassageStatusNotification" // sic
)

// Async message types, delivery states and delivery-notification values
// (contracts/README). MESSAGE_NOT_ACCTEPTED is the gateway's spelling.
const (
	TypeRequest      = "REQUEST"
	TypeUpdate       = "UPDATE"
	TypeNotification = "NOTIFICATION"
	TypeResponse     = "RESPONSE"

	StateOnDelivery      = string(shepasync.MessageStateON_DELIVERY)
	StateDelivered       = string(shepasync.MessageStateDELIVERED)
	StateNotDelivered    = string(shepasync.MessageStateNOT_DELIVERED)
	StateDeliveryStopped = string(shepasync.MessageStateDELIVERY_STOPPED)

	ReceiveAccepted    = "MESSAGE_ACCEPTED"
	ReceiveNotAccepted = "MESSAGE_NOT_ACCTEPTED"
	Resend             = "RESEND"
	NotResend          = "NOT_RESEND"
)

// ValidMessageType reports whether t is one of the four message types.
func ValidMessageType(t string) bool {
	switch t {
	case TypeRequest, TypeUpdate, TypeNotification, TypeResponse:
		return true
	}
	return false
}

// FinalState reports whether a getMessageStatus state will not change.
func FinalState(s string) bool {
	return s == StateDelivered || s == StateNotDelivered || s == StateDeliveryStopped
}

// AsyncMessage is one sendMessage: the gowsdl messageInfo and the payload.
type AsyncMessage struct {
	Info shepasync.AsyncMessageInfo
	Data Payload
}

// MarshalAsyncSendMessage returns a sendMessage envelope in namespace ns:
// NSAsync when a participant sends to the gateway, NSAsyncClient when the
// gateway pushes to a recipient.
func MarshalAsyncSendMessage(ns string, m *AsyncMessage) ([]byte, error) {
	w := getWriter()
	openOp(w, ns, OpSendMessage)
	w.buf.WriteString("<request>")
	err := w.element(&m.Info, start("messageInfo"))
	if err == nil {
		err = encodeData(w, "messageData", m.Data)
	}
	w.buf.WriteString("</request>")
	closeOp(w, OpSendMessage)
	return w.done(err)
}

// MarshalOp returns an envelope whose Body is <ns2:op><child>v</child></ns2:op>,
// the shape of every AsyncChannel request (child "request") and response
// (child "response"). The wrapper is written by hand for the same reason
// as SendMessage's: the children are unqualified.
func MarshalOp(ns, op, child string, v any) ([]byte, error) {
	w := getWriter()
	openOp(w, ns, op)
	err := w.element(v, start(child))
	closeOp(w, op)
	return w.done(err)
}

func openOp(w *writer, ns, op string) {
	w.buf.WriteString(`<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Header/><soap:Body><ns2:`)
	w.buf.WriteString(op)
	w.buf.WriteString(` xmlns:ns2="`)
	w.buf.WriteString(ns)
	w.buf.WriteString(`">`)
}

func closeOp(w *writer, op string) {
	w.buf.WriteString(`</ns2:`)
	w.buf.WriteString(op)
	w.buf.WriteString(`></soap:Body></soap:Envelope>`)
}

// MarshalOpFault returns a SOAP 1.1 Fault whose detail is the operation's
// fault element (e.g. sendMessageFault1_sendMessageFault) of type ErrorInfo.
func MarshalOpFault(ns, op, faultCode, faultString string, info *shepasync.ErrorInfo) ([]byte, error) {
	w := getWriter()
	w.buf.WriteString(`<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body><soap:Fault><faultcode>`)
	xml.EscapeText(&w.buf, []byte(faultCode))
	w.buf.WriteString(`</faultcode><faultstring>`)
	xml.EscapeText(&w.buf, []byte(faultString))
	w.buf.WriteString(`</faultstring>`)
	var err error
	if info != nil {
		w.buf.WriteString(`<detail>`)
		err = w.enc.EncodeElement(info, xml.StartElement{
			Name: xml.Name{Local: "ns2:" + op + "Fault1_" + op + "Fault"},
			Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns:ns2"}, Value: ns}},
		})
		if err == nil {
			err = w.enc.Flush()
		}
		w.buf.WriteString(`</detail>`)
	}
	w.buf.WriteString(`</soap:Fault></soap:Body></soap:Envelope>`)
	return w.done(err)
}

// Request and Response are the wrappers of AsyncChannel operations: the
// generated ones carry an XMLName fixed to the gateway's namespace, and
// push delivery uses the same content under another one.
type (
	OpRequest[T any] struct {
		Request *T `xml:"request"`
	}
	OpResponse[T any] struct {
		Response *T `xml:"response"`
	}
)

// RawData is <data> of type anyType as received: its content as XML and
// its xsi:type, resolved against the declarations on <data> itself.
type RawData struct {
	Attrs    []xml.Attr `xml:",any,attr"`
	InnerXML string     `xml:",innerxml"`
	present  bool
}

// UnmarshalXML records that <data> was there at all, which the schema
// requires of messageData.
func (d *RawData) UnmarshalXML(dec *xml.Decoder, start xml.StartElement) error {
	var p struct {
		InnerXML string `xml:",innerxml"`
	}
	if err := dec.DecodeElement(&p, &start); err != nil {
		return err
	}
	d.Attrs, d.InnerXML, d.present = start.Attr, p.InnerXML, true
	return nil
}

// Present reports whether the element was in the document.
func (d *RawData) Present() bool { return d != nil && d.present }

// DataType is the xsi:type put on <data>, e.g.
// {"namespace":"http://message.persistence.interactive.nat","name":"Request"}.
type DataType struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// Type is the xsi:type of <data>. encoding/xml has already resolved the
// attribute's own prefix; the QName in its value is resolved here from the
// xmlns declarations on <data>, where senders put them.
func (d *RawData) Type() *DataType {
	if d == nil {
		return nil
	}
	for _, a := range d.Attrs {
		if a.Name.Space != NSXSI || a.Name.Local != "type" {
			continue
		}
		prefix, local, ok := strings.Cut(a.Value, ":")
		if !ok {
			prefix, local = "", a.Value
		}
		for _, ns := range d.Attrs {
			if (prefix != "" && ns.Name.Space == "xmlns" && ns.Name.Local == prefix) ||
				(prefix == "" && ns.Name.Space == "" && ns.Name.Local == "xmlns") {
				return &DataType{Namespace: ns.Value, Name: local}
			}
		}
		return &DataType{Name: a.Value}
	}
	return nil
}

// InboundSendMessage is the content of an AsyncChannel sendMessage as it
// arrives (push delivery or getMessages): messageData/data kept raw.
type InboundSendMessage struct {
	MessageInfo *shepasync.AsyncMessageInfo `xml:"messageInfo"`
	MessageData *struct {
		Data RawData `xml:"data"`
	} `xml:"messageData"`
}

// InboundMessages is getMessagesResponse with each message's data kept
// raw, xsi:type included.
type InboundMessages struct {
	SessionID string                `xml:"sessionId"`
	Messages  []*InboundSendMessage `xml:"messages"`
}

// Data is messageData/data, nil when the message has none.
func (m *InboundSendMessage) Data() *RawData {
	if m.MessageData == nil {
		return nil
	}
	return &m.MessageData.Data
}

// ParseOp decodes the one element of soap:Body into what pick returns for
// its name (nil: the operation is not expected here). A Fault comes back
// as the *Fault error; an unexpected operation as *UnknownOpError.
func ParseOp(body []byte, lim safexml.Limits, pick func(xml.Name) any) (xml.Name, error) {
	env := opEnvelope{Body: opBody{pick: pick}}
	if err := safexml.Decode(body, &env, lim); err != nil {
		return xml.Name{}, err
	}
	b := &env.Body
	switch {
	case b.fault != nil:
		return xml.Name{}, b.fault
	case !b.seen:
		return xml.Name{}, errors.New("shep: no soap:Envelope/soap:Body with an operation element")
	case b.unknown:
		return b.name, &UnknownOpError{Name: b.name}
	}
	return b.name, nil
}

// UnknownOpError is a body element the endpoint does not serve.
type UnknownOpError struct{ Name xml.Name }

func (e *UnknownOpError) Error() string {
	return fmt.Sprintf("operation {%s}%s is not served here", e.Name.Space, e.Name.Local)
}

type opEnvelope struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Body    opBody   `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

type opBody struct {
	pick    func(xml.Name) any
	name    xml.Name
	fault   *Fault
	seen    bool
	unknown bool
}

var faultName = xml.Name{Space: NSSOAP, Local: "Fault"}

func (b *opBody) UnmarshalXML(d *xml.Decoder, _ xml.StartElement) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			if b.seen {
				return fmt.Errorf("soap:Body holds more than one element (second: %s)", t.Name.Local)
			}
			b.seen = true
			if t.Name == faultName {
				b.fault = new(Fault)
				if err := d.DecodeElement(b.fault, &t); err != nil {
					return err
				}
				continue
			}
			b.name = t.Name
			var v any
			if b.pick != nil {
				v = b.pick(t.Name)
			}
			if v == nil {
				b.unknown = true
				if err := d.Skip(); err != nil {
					return err
				}
				continue
			}
			if err := d.DecodeElement(v, &t); err != nil {
				return err
			}
		}
	}
}

// Expect returns a pick function for ParseOp that accepts one operation.
func Expect(ns, op string, into any) func(xml.Name) any {
	return func(n xml.Name) any {
		if n.Space == ns && n.Local == op {
			return into
		}
		return nil
	}
}

// XSDNow stamps dates in the contract's format.
func XSDNow(now time.Time) soap.XSDDateTime { return soap.CreateXsdDateTime(now, true) }
