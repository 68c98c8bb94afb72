// Package shep is the wire format of SHEP, the e-Government gateway: the
// SyncChannel v10 SendMessage envelope that wraps a registry's own request,
// the AsyncChannel v10 operations, SOAP faults, validation against the
// contract's XSD, the WSDL served and the WS-Security signing profile. It is
// the contract in code and knows nothing of the bus: adapters/egov and the
// inbound channel translate between it and the bus's requests and errors.
//
// The envelope parts that carry data use the gowsdl types in shepsync. The
// SOAP envelope and the SendMessage wrapper are written by hand because
// encoding/xml would declare the SyncChannel namespace as the default one
// and silently put the unqualified <request> under it.
package shep

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hooklift/gowsdl/soap"

	"github.com/minfin-kz/kopir/contracts/egov-shep/shepsync"
	"github.com/minfin-kz/kopir/internal/safexml"
)

// Namespaces of the wire format.
const (
	NSSOAP  = "http://schemas.xmlsoap.org/soap/envelope/"
	NSTypes = "http://bip.bee.kz/SyncChannel/v10/Types"
	NSXSI   = "http://www.w3.org/2001/XMLSchema-instance"
)

// StatusSuccess is the responseInfo status code of a normally processed
// message, the only one seen in real responses.
const StatusSuccess = "SCSS001"

// Limits bound every envelope parsed here. A GBD FL answer is a few KiB.
var Limits = safexml.Limits{MaxBytes: 1 << 20, MaxDepth: 48, MaxTokens: 50_000}

// Payload is the business content of requestData/data or responseData/data.
type Payload struct {
	// Type becomes the data element's xsi:type, as registries expect
	// (GBD FL: {http://message.persistence.interactive.nat Request}).
	// Zero means no xsi:type.
	Type xml.Name
	// Value is marshalled by encoding/xml as the children of <data>; use
	// *shepsync.AnyType to pass content that is already XML.
	Value any
}

// AnyXML is content that is already XML, for Payload.Value.
type AnyXML struct {
	InnerXML string `xml:",innerxml"`
}

// Request is one SendMessage call.
type Request struct {
	Info shepsync.SyncMessageInfo
	Data Payload
}

// NewInfo fills the requestInfo fields that are the same for every sender.
func NewInfo(messageID, correlationID, serviceID, senderID, password string, now time.Time) shepsync.SyncMessageInfo {
	return shepsync.SyncMessageInfo{
		MessageId:     messageID,
		CorrelationId: correlationID,
		ServiceId:     serviceID,
		MessageDate:   soap.CreateXsdDateTime(now, true),
		Sender:        &shepsync.SenderInfo{SenderId: senderID, Password: password},
	}
}

const (
	sendMessageHead = `<?xml version="1.0" encoding="UTF-8"?>` +
		`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Header/><soap:Body>` +
		`<ns2:SendMessage xmlns:ns2="` + NSTypes + `"><request>`
	sendMessageTail = `</request></ns2:SendMessage></soap:Body></soap:Envelope>`

	responseHead = `<?xml version="1.0" encoding="UTF-8"?>` +
		`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body>` +
		`<ns2:SendMessageResponse xmlns:ns2="` + NSTypes + `"><response>`
	responseTail = `</response></ns2:SendMessageResponse></soap:Body></soap:Envelope>`
)

// writer is a pooled buffer with its encoder, because xml.NewEncoder
// allocates a 4 KiB bufio.Writer each time and envelopes are built on every
// call through the bus.
type writer struct {
	buf bytes.Buffer
	enc *xml.Encoder
}

var writers = sync.Pool{New: func() any {
	w := new(writer)
	w.enc = xml.NewEncoder(&w.buf)
	return w
}}

// element writes v as the element start: safexml's plan for the
// generated types, encoding/xml's bytes.
func (w *writer) element(v any, start xml.StartElement) error {
	return safexml.EncodeElement(&w.buf, w.enc, v, start)
}

func getWriter() *writer {
	w := writers.Get().(*writer)
	w.buf.Reset()
	return w
}

// done copies the result out and returns the writer to the pool; after an
// error the encoder may hold a half-open element, so it is dropped.
func (w *writer) done(err error) ([]byte, error) {
	if err == nil {
		err = w.enc.Flush()
	}
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(w.buf.Bytes())
	if w.buf.Cap() <= 64<<10 {
		writers.Put(w)
	}
	return out, nil
}

// MarshalSendMessage returns the SOAP 1.1 SendMessage envelope of r.
func MarshalSendMessage(r *Request) ([]byte, error) {
	w := getWriter()
	w.buf.WriteString(sendMessageHead)
	err := w.element(&r.Info, start("requestInfo"))
	if err == nil {
		err = encodeData(w, "requestData", r.Data)
	}
	w.buf.WriteString(sendMessageTail)
	return w.done(err)
}

// MarshalResponse returns a SendMessageResponse envelope. Köpir itself only
// sends requests; the mocks and tests answer with this.
func MarshalResponse(info *shepsync.SyncMessageInfoResponse, data Payload) ([]byte, error) {
	w := getWriter()
	w.buf.WriteString(responseHead)
	err := w.element(info, start("responseInfo"))
	if err == nil {
		err = encodeData(w, "responseData", data)
	}
	w.buf.WriteString(responseTail)
	return w.done(err)
}

// MarshalFault returns a SOAP 1.1 Fault whose detail is the WSDL's
// sendMessageFault (SendMessageFault1_SendMessageFault of type ErrorInfo).
func MarshalFault(faultCode, faultString string, info *shepsync.ErrorInfo) ([]byte, error) {
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
			Name: xml.Name{Local: "ns2:SendMessageFault1_SendMessageFault"},
			Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns:ns2"}, Value: NSTypes}},
		})
		if err == nil {
			err = w.enc.Flush()
		}
		w.buf.WriteString(`</detail>`)
	}
	w.buf.WriteString(`</soap:Fault></soap:Body></soap:Envelope>`)
	return w.done(err)
}

func start(local string) xml.StartElement {
	return xml.StartElement{Name: xml.Name{Local: local}}
}

// encodeData writes <wrapper><data xsi:type="…">…</data></wrapper>. The
// prefixes are written as literal attribute names: encoding/xml's own
// namespace handling cannot produce a QName inside an attribute value.
func encodeData(w *writer, wrapper string, p Payload) error {
	w.buf.WriteByte('<')
	w.buf.WriteString(wrapper)
	w.buf.WriteByte('>')
	if p.Value != nil {
		data := start("data")
		if p.Type.Local != "" {
			data.Attr = []xml.Attr{
				{Name: xml.Name{Local: "xmlns:xsi"}, Value: NSXSI},
				{Name: xml.Name{Local: "xmlns:d"}, Value: p.Type.Space},
				{Name: xml.Name{Local: "xsi:type"}, Value: "d:" + p.Type.Local},
			}
		}
		if err := w.element(p.Value, data); err != nil {
			return err
		}
	}
	w.buf.WriteString("</")
	w.buf.WriteString(wrapper)
	w.buf.WriteByte('>')
	return nil
}

// The parse side matches children by local name only where SOAP stacks
// disagree in practice (the public GBD FL sample puts <data> in the
// Interfaces namespace, real responses leave it unqualified).

// DataSlot decodes <data> into whatever the caller put in Data: encoding/xml
// fills a non-nil interface holding a pointer, so the envelope is read in
// one pass straight into the registry's generated type.
type DataSlot struct {
	// XMLName is set when the wrapper (requestData, responseData) is in
	// the document: the schema requires it even though <data> inside is
	// optional. A plain field rather than an UnmarshalXML, so that the
	// whole envelope stays on safexml's fast path.
	XMLName xml.Name
	Data    any `xml:"data"`
}

// Present reports whether the wrapper was in the document.
func (s *DataSlot) Present() bool { return s.XMLName.Local != "" }

type requestEnvelope struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Body    struct {
		SendMessage *struct {
			Request *SyncRequest `xml:"request"`
		} `xml:"http://bip.bee.kz/SyncChannel/v10/Types SendMessage"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

// SyncRequest is SendMessage's request element. An endpoint that serves
// SendMessage decodes it through ParseOp, which tells another operation
// and a Fault apart from a malformed request.
type SyncRequest struct {
	Info *shepsync.SyncMessageInfo `xml:"requestInfo"`
	Data DataSlot                  `xml:"requestData"`
}

// ParseSendMessage reads a SendMessage envelope, decoding requestData/data
// into data (a pointer; *shepsync.AnyType keeps it as raw XML, nil skips it).
func ParseSendMessage(body []byte, data any) (*shepsync.SyncMessageInfo, error) {
	info, _, err := parseSendMessage(body, data, Limits)
	return info, err
}

// parseSendMessage also reports whether requestData was present.
func parseSendMessage(body []byte, data any, lim safexml.Limits) (*shepsync.SyncMessageInfo, bool, error) {
	var env requestEnvelope
	req := &SyncRequest{Data: DataSlot{Data: data}}
	env.Body.SendMessage = &struct {
		Request *SyncRequest `xml:"request"`
	}{req}
	if err := safexml.Decode(body, &env, lim); err != nil {
		return nil, false, err
	}
	if req.Info == nil {
		return nil, false, errors.New("shep: no SendMessage/request/requestInfo in the SOAP body")
	}
	return req.Info, req.Data.Present(), nil
}

// Fault is a SOAP 1.1 Fault as SHEP sends it.
type Fault struct {
	Code   string `xml:"faultcode"`
	String string `xml:"faultstring"`
	Detail struct {
		// Any element: the WSDL names it SendMessageFault1_SendMessageFault,
		// but its namespace differs between gowsdl, the WSDL and gateways.
		Info *shepsync.ErrorInfo `xml:",any"`
	} `xml:"detail"`
}

func (f *Fault) Error() string {
	if i := f.Detail.Info; i != nil {
		return fmt.Sprintf("SHEP fault %s: %s", i.ErrorCode, i.ErrorMessage)
	}
	return fmt.Sprintf("SOAP fault %s: %s", f.Code, f.String)
}

type responseEnvelope struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Body    struct {
		SendMessageResponse *struct {
			Response *responseXML `xml:"response"`
		} `xml:"http://bip.bee.kz/SyncChannel/v10/Types SendMessageResponse"`
		Fault *Fault `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

type responseXML struct {
	Info *shepsync.SyncMessageInfoResponse `xml:"responseInfo"`
	Data DataSlot                          `xml:"responseData"`
}

// ParseResponse reads a SendMessageResponse or a Fault. A Fault is returned
// as the error (*Fault). data is as in ParseSendMessage.
func ParseResponse(body []byte, data any) (*shepsync.SyncMessageInfoResponse, error) {
	var env responseEnvelope
	resp := &responseXML{Data: DataSlot{Data: data}}
	env.Body.SendMessageResponse = &struct {
		Response *responseXML `xml:"response"`
	}{resp}
	if err := safexml.Decode(body, &env, Limits); err != nil {
		return nil, err
	}
	if f := env.Body.Fault; f != nil {
		return nil, f
	}
	if resp.Info == nil {
		return nil, errors.New("shep: no SendMessageResponse/response/responseInfo in the SOAP body")
	}
	return resp.Info, nil
}
