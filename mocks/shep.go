package mocks

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/google/uuid"
	"github.com/hooklift/gowsdl/soap"

	"github.com/minfin-kz/kopir/adapters/egov"
	"github.com/minfin-kz/kopir/adapters/egov/shepsync"
	"github.com/minfin-kz/kopir/adapters/gbdfl/fltypes"
	"github.com/minfin-kz/kopir/contracts"
	"github.com/minfin-kz/kopir/internal/kzid"
)

// SOAP Fault errorCodes the mock gateway uses. SHEP's real codes are not
// published; these are named MOCK_ so nobody mistakes them for real ones.
const (
	CodeAuth           = "MOCK_AUTH_FAILED"
	CodeUnknownService = "MOCK_UNKNOWN_SERVICE"
	CodeBadRequest     = "MOCK_BAD_REQUEST"
	CodeInjected       = "MOCK_INJECTED_FAULT"
)

// GBDFLServiceID is the serviceId the gateway routes to the GBD FL mock.
const GBDFLServiceID = "GBDFL_UniversalServiceSync"

const maxEnvelope = 1 << 20

func (s *server) shepSync(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, maxEnvelope)
	if err != nil {
		s.fault(w, "soap:Client", CodeBadRequest, "request body: "+err.Error())
		return
	}
	// The envelope is parsed before faults are injected so that a rejected
	// call is still counted under its messageId. Decoding straight into the
	// GBD FL type is fine for other services: they are refused anyway.
	var flReq fltypes.Request
	info, err := egov.ParseSendMessage(body, &flReq)
	if err != nil {
		s.fault(w, "soap:Client", CodeBadRequest, err.Error())
		return
	}
	if !s.injected(w, r, s.mocks[SHEP], info.MessageId) {
		return
	}
	if !s.authorised(info.Sender) {
		s.fault(w, "soap:Client", CodeAuth, "sender authentication failed")
		return
	}
	switch info.ServiceId {
	case GBDFLServiceID:
		key := flReq.MessageId
		if key == "" {
			key = info.MessageId
		}
		if !s.injected(w, r, s.mocks[GBDFL], key) {
			return
		}
		s.gbdfl(w, info, &flReq)
	default:
		s.fault(w, "soap:Client", CodeUnknownService, fmt.Sprintf("service %q is not registered on the gateway", info.ServiceId))
	}
}

// injected applies m's fault and records the call; false means the call has
// been answered (or abandoned) already.
func (s *server) injected(w http.ResponseWriter, r *http.Request, m *mock, key string) bool {
	o, f := m.inject(r.Context(), s.opts.MaxHang)
	m.rec.Load().add(key, o == pass, s.opts.Now())
	switch o {
	case hung:
		writeHung(w, r)
		return false
	case fail:
		if f.SOAPFault {
			s.fault(w, "soap:Server", CodeInjected, "injected failure of mock "+m.name)
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
	body, err := egov.MarshalFault(faultCode, msg, &shepsync.ErrorInfo{
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

var fileRef = regexp.MustCompile(`(schemaLocation|location)="([^"]*)"`)

// shepWSDL serves the contract the adapters were generated from. Imports
// are rewritten to ?file=… URLs on this listener so WSDL tools can follow
// them, and soap:address to this endpoint.
func (s *server) shepWSDL(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("file")
	switch {
	case q.Has("wsdl"):
		name = "SyncChannel/v10/Interfaces/SyncChannelHttp_Service.wsdl"
	case name == "":
		http.Error(w, "POST a SendMessage envelope, or GET ?wsdl", http.StatusBadRequest)
		return
	}
	if strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
		http.Error(w, "bad file name", http.StatusBadRequest)
		return
	}
	src, err := contracts.SHEPSync.ReadFile("egov-shep/sync/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	endpoint := "http://" + r.Host + "/shep/sync"
	dir := name[:strings.LastIndexByte(name, '/')+1]
	out := fileRef.ReplaceAllStringFunc(string(src), func(m string) string {
		sub := fileRef.FindStringSubmatch(m)
		if strings.Contains(sub[2], "://") {
			return sub[1] + `="` + endpoint + `"`
		}
		return sub[1] + `="` + endpoint + "?file=" + cleanJoin(dir, sub[2]) + `"`
	})
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Write([]byte(out))
}

// cleanJoin resolves a relative schemaLocation against the importing file's
// directory, all inside the embedded tree.
func cleanJoin(dir, rel string) string {
	parts := strings.Split(strings.TrimSuffix(dir, "/"), "/")
	if dir == "" {
		parts = nil
	}
	for _, p := range strings.Split(rel, "/") {
		switch p {
		case ".", "":
		case "..":
			if len(parts) > 0 {
				parts = parts[:len(parts)-1]
			}
		default:
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}
