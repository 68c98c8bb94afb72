package shepgw

import (
	"bytes"
	"context"
	"crypto/subtle"
	"net/http"

	"github.com/google/uuid"
	"github.com/hooklift/gowsdl/soap"
	egovshep "github.com/minfin-kz/kopir/contracts/egov-shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepsync"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/mocks"
)

// SOAP Fault errorCodes the mock gateway uses. SHEP's real codes are not
// published; these are named MOCK_ so nobody mistakes them for real ones.
const (
	CodeAuth           = "MOCK_AUTH_FAILED"
	CodeUnknownService = "MOCK_UNKNOWN_SERVICE"
	CodeBadRequest     = "MOCK_BAD_REQUEST"
	CodeInjected       = "MOCK_INJECTED_FAULT"
	CodeSignature      = "MOCK_SIGNATURE_REJECTED"
	CodeUnknownMessage = "MOCK_UNKNOWN_MESSAGE"
)

const maxEnvelope = mocks.MaxBody

func (s *server) shepSync(w http.ResponseWriter, r *http.Request) {
	body, err := mocks.ReadBody(w, r, maxEnvelope)
	if err != nil {
		s.fault(w, "soap:Client", CodeBadRequest, "request body: "+err.Error())
		return
	}
	// The envelope is parsed before faults are injected so that a rejected
	// call is still counted under its messageId.
	var data shepsync.AnyType
	info, err := shep.ParseSendMessage(body, &data)
	if err != nil {
		s.fault(w, "soap:Client", CodeBadRequest, err.Error())
		return
	}
	if !s.injected(w, r, s.mock, info.MessageId) {
		return
	}
	if msg := s.checkSignature(r.Context(), body); msg != "" {
		s.fault(w, "soap:Client", CodeSignature, msg)
		return
	}
	if !s.authorised(info.Sender) {
		s.fault(w, "soap:Client", CodeAuth, "sender authentication failed")
		return
	}
	svc := s.service(info.ServiceId, false)
	if svc == nil {
		s.unknownService(w, info.ServiceId, s.fault)
		return
	}
	call := Call{MessageID: info.MessageId, ServiceID: info.ServiceId, Data: data.InnerXML}
	answer, ok := s.answer(w, r, svc, &call, s.fault)
	if ok {
		s.syncResponse(w, info, answer, call.status)
	}
}

// checkSignature verifies a signed envelope (and refuses an unsigned one
// when signatures are required); it returns why it was refused, or "".
func (s *server) checkSignature(ctx context.Context, body []byte) string {
	if !s.opts.RequireSignature && !bytes.Contains(body, []byte(xmlsig.NSWSSE)) {
		return ""
	}
	v, err := xmlsig.Verify(body)
	if err == nil {
		err = s.opts.Trust.Check(ctx, v.Certificate, s.now())
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// syncResponse answers SendMessage with data (a whole <data> element) and
// the provider's status, SCSS001 when it set none.
func (s *server) syncResponse(w http.ResponseWriter, info *shepsync.SyncMessageInfo, data []byte, status *shepsync.StatusInfo) {
	corr := info.CorrelationId
	if corr == "" {
		corr = info.MessageId
	}
	b := make([]byte, 0, 1024+len(data))
	b = append(b, `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><ns2:SendMessageResponse xmlns:ns2="http://bip.bee.kz/SyncChannel/v10/Types"><response><responseInfo><messageId>`...)
	b = append(b, uuid.NewString()...)
	b = append(b, `</messageId><correlationId>`...)
	b = AppendEscaped(b, corr)
	b = append(b, `</correlationId><responseDate>`...)
	b = s.now().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	if status == nil {
		b = append(b, `</responseDate><status><code>SCSS001</code><message>Сервис отработал штатно</message></status><sessionId>{`...)
	} else {
		b = append(b, `</responseDate><status><code>`...)
		b = AppendEscaped(b, status.Code)
		b = append(b, `</code><message>`...)
		b = AppendEscaped(b, status.Message)
		b = append(b, `</message></status><sessionId>{`...)
	}
	b = append(b, uuid.NewString()...)
	b = append(b, `}</sessionId></responseInfo><responseData>`...)
	b = append(b, data...)
	b = append(b, `</responseData></response></ns2:SendMessageResponse></soap:Body></soap:Envelope>`...)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Write(b)
}

// injected applies m's fault and records the call; false means the call has
// been answered (or abandoned) already. Injected SOAP faults are
// SyncChannel's; injectedAs answers them in another operation's shape.
func (s *server) injected(w http.ResponseWriter, r *http.Request, m *mocks.Mock, key string) bool {
	return s.injectedAs(w, r, m, key, s.fault)
}

func (s *server) injectedAs(w http.ResponseWriter, r *http.Request, m *mocks.Mock, key string, fault func(w http.ResponseWriter, faultCode, code, msg string)) bool {
	return m.Admit(w, r, key, func(w http.ResponseWriter, f *mocks.Fault) {
		if f.SOAPFault {
			fault(w, "soap:Server", CodeInjected, "injected failure of mock "+m.Name())
			return
		}
		http.Error(w, "mock "+m.Name()+": injected failure", f.Status)
	})
}

func (s *server) authorised(si *shepsync.SenderInfo) bool {
	if si == nil {
		return false
	}
	want, ok := s.opts.Senders[si.SenderId]
	return ok && subtle.ConstantTimeCompare([]byte(want), []byte(si.Password)) == 1
}

// fault answers a SOAP 1.1 Fault with the WSDL's sendMessageFault detail,
// HTTP 500 as SOAP 1.1 requires.
func (s *server) fault(w http.ResponseWriter, faultCode, code, msg string) {
	body, err := shep.MarshalFault(faultCode, msg, &shepsync.ErrorInfo{
		ErrorCode:    code,
		ErrorMessage: msg,
		ErrorDate:    soap.CreateXsdDateTime(s.now(), true),
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	w.Write(body)
}

// shepWSDL serves the contract the adapters were generated from.
func (s *server) shepWSDL(w http.ResponseWriter, r *http.Request) {
	shep.ServeWSDL(w, r, egovshep.Files, "sync", "SyncChannel/v10/Interfaces/SyncChannelHttp_Service.wsdl", s.opts.PublicURL+"/shep/sync")
}

// shepAsyncWSDL serves the gateway's AsyncChannel contract.
func (s *server) shepAsyncWSDL(w http.ResponseWriter, r *http.Request) {
	shep.ServeWSDL(w, r, egovshep.Files, "async", "IAsyncChannelImport.wsdl", s.opts.PublicURL+"/shep/async")
}

// AppendEscaped is xml.EscapeText for a byte slice being built: the
// envelopes on the benchmark's hot path are written from templates.
func AppendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '&':
			b = append(b, "&amp;"...)
		case '"':
			b = append(b, "&#34;"...)
		case '\'':
			b = append(b, "&#39;"...)
		case '\r':
			b = append(b, "&#xD;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}
