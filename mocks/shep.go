package mocks

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/hooklift/gowsdl/soap"

	egovshep "github.com/minfin-kz/kopir/contracts/egov-shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepsync"
	"github.com/minfin-kz/kopir/contracts/gbdfl/fltypes"
	"github.com/minfin-kz/kopir/contracts/gbdul/ultypes"
	"github.com/minfin-kz/kopir/internal/kzid"
	"github.com/minfin-kz/kopir/internal/xmlsig"
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

// GBDFLServiceID is the serviceId the gateway routes to the GBD FL mock.
const GBDFLServiceID = "GBDFL_UniversalServiceSync"

const maxEnvelope = 1 << 20

// syncData decodes requestData/data for either registry in one pass: GBD
// FL's Request fields sit directly in <data>, GBD UL's 30.05 request is a
// <request> element inside it.
type syncData struct {
	fltypes.Request
	UL *ultypes.RequestMessage `xml:"request"`
}

func (s *server) shepSync(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, maxEnvelope)
	if err != nil {
		s.fault(w, "soap:Client", CodeBadRequest, "request body: "+err.Error())
		return
	}
	// The envelope is parsed before faults are injected so that a rejected
	// call is still counted under its messageId.
	var data syncData
	info, err := shep.ParseSendMessage(body, &data)
	if err != nil {
		s.fault(w, "soap:Client", CodeBadRequest, err.Error())
		return
	}
	if !s.injected(w, r, s.mocks[SHEP], info.MessageId) {
		return
	}
	if msg := s.checkSignature(body); msg != "" {
		s.fault(w, "soap:Client", CodeSignature, msg)
		return
	}
	if !s.authorised(info.Sender) {
		s.fault(w, "soap:Client", CodeAuth, "sender authentication failed")
		return
	}
	switch info.ServiceId {
	case GBDFLServiceID:
		key := data.MessageId
		if key == "" {
			key = info.MessageId
		}
		if !s.injected(w, r, s.mocks[GBDFL], key) {
			return
		}
		s.gbdfl(w, info, &data.Request)
	case GBDULServiceID:
		if !s.injected(w, r, s.mocks[GBDUL], info.MessageId) {
			return
		}
		d, err := s.gbdulData(data.UL)
		if err != nil {
			s.fault(w, "soap:Client", CodeBadRequest, err.Error())
			return
		}
		s.syncResponse(w, info, d)
	default:
		s.fault(w, "soap:Client", CodeUnknownService, fmt.Sprintf("service %q is not registered on the gateway", info.ServiceId))
	}
}

// checkSignature verifies a signed envelope (and refuses an unsigned one
// when signatures are required); it returns why it was refused, or "".
func (s *server) checkSignature(body []byte) string {
	if !s.opts.RequireSignature && !bytes.Contains(body, []byte(xmlsig.NSWSSE)) {
		return ""
	}
	v, err := xmlsig.Verify(body)
	if err == nil {
		err = s.opts.Trust.Check(v.Certificate, s.opts.Now())
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// syncResponse answers SendMessage with data (a whole <data> element).
func (s *server) syncResponse(w http.ResponseWriter, info *shepsync.SyncMessageInfo, data []byte) {
	corr := info.CorrelationId
	if corr == "" {
		corr = info.MessageId
	}
	b := make([]byte, 0, 1024+len(data))
	b = append(b, `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><ns2:SendMessageResponse xmlns:ns2="http://bip.bee.kz/SyncChannel/v10/Types"><response><responseInfo><messageId>`...)
	b = append(b, uuid.NewString()...)
	b = append(b, `</messageId><correlationId>`...)
	b = appendEscaped(b, corr)
	b = append(b, `</correlationId><responseDate>`...)
	b = s.opts.Now().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `</responseDate><status><code>SCSS001</code><message>Сервис отработал штатно</message></status><sessionId>{`...)
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
func (s *server) injected(w http.ResponseWriter, r *http.Request, m *mock, key string) bool {
	return s.injectedAs(w, r, m, key, s.fault)
}

func (s *server) injectedAs(w http.ResponseWriter, r *http.Request, m *mock, key string, fault func(w http.ResponseWriter, faultCode, code, msg string)) bool {
	o, f := m.inject(r.Context(), s.opts.MaxHang)
	m.rec.Load().add(key, o == pass, s.opts.Now())
	switch o {
	case hung:
		writeHung(w, r)
		return false
	case fail:
		if f.SOAPFault {
			fault(w, "soap:Server", CodeInjected, "injected failure of mock "+m.name)
		} else {
			http.Error(w, "mock "+m.name+": injected failure", f.Status)
		}
		return false
	}
	return true
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
		ErrorDate:    soap.CreateXsdDateTime(s.opts.Now(), true),
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	w.Write(body)
}

// gbdfl answers as GBD FL behind the gateway. The envelope is written from
// a template: it is the benchmark's hot path, and the output is checked
// against the generated types in the tests.
func (s *server) gbdfl(w http.ResponseWriter, info *shepsync.SyncMessageInfo, req *fltypes.Request) {
	if req.Iin == "" {
		s.fault(w, "soap:Client", CodeBadRequest, "GBD FL request without iin")
		return
	}
	now := s.opts.Now()
	corr := info.CorrelationId
	if corr == "" {
		corr = info.MessageId
	}
	b := make([]byte, 0, 3072)
	b = append(b, `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><ns2:SendMessageResponse xmlns:ns2="http://bip.bee.kz/SyncChannel/v10/Types"><response><responseInfo><messageId>`...)
	b = append(b, uuid.NewString()...)
	b = append(b, `</messageId><correlationId>`...)
	b = appendEscaped(b, corr)
	b = append(b, `</correlationId><responseDate>`...)
	b = now.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `</responseDate><status><code>SCSS001</code><message>Сервис отработал штатно</message></status><sessionId>{`...)
	b = append(b, uuid.NewString()...)
	b = append(b, `}</sessionId></responseInfo><responseData>`...)
	b = appendPersonData(b, req, kzid.ValidateIIN(req.Iin) != nil || s.opts.NotFound(req.Iin), now)
	b = append(b, `</responseData></response></ns2:SendMessageResponse></soap:Body></soap:Envelope>`...)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Write(b)
}

// shepWSDL serves the contract the adapters were generated from.
func (s *server) shepWSDL(w http.ResponseWriter, r *http.Request) {
	shep.ServeWSDL(w, r, egovshep.Files, "sync", "SyncChannel/v10/Interfaces/SyncChannelHttp_Service.wsdl")
}

// shepAsyncWSDL serves the gateway's AsyncChannel contract.
func (s *server) shepAsyncWSDL(w http.ResponseWriter, r *http.Request) {
	shep.ServeWSDL(w, r, egovshep.Files, "async", "IAsyncChannelImport.wsdl")
}
