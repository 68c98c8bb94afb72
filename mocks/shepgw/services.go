package shepgw

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"time"

	"github.com/minfin-kz/kopir/contracts/egov-shep/shepsync"
	"github.com/minfin-kz/kopir/mocks"
)

// Service is one serviceId the gateway answers for, as the provider behind
// it would.
type Service struct {
	// Provider is the senderId the provider's answers come from on the
	// AsyncChannel. Default MOCK.
	Provider string
	// Mock is the service's own mock in the control API, whose faults
	// Call.Injected applies; "" for none.
	Mock string
	// AsyncOnly services are unknown to the SyncChannel.
	AsyncOnly bool
	// Undeliverable messages never reach the provider: NOT_DELIVERED.
	Undeliverable bool
	// Answer returns the provider's answer, a whole <data> element. nil
	// Answer, or nil data, means the message is delivered but never
	// answered. ok=false means Answer has answered the call itself (a
	// fault, an injected failure).
	Answer func(c *Call) (data []byte, ok bool)
}

var services = mocks.NewRegistry[Service]("shepgw.Register")

// Register puts a service behind the gateway under its serviceId. It
// panics on a duplicate serviceId, a programming error.
func Register(serviceID string, svc Service) { services.Add(serviceID, svc) }

// service is a registered one as one server runs it.
type service struct {
	Service
	mock *mocks.Mock
}

func newServices(core *mocks.Server) map[string]*service {
	out := map[string]*service{}
	for _, id := range services.Names() {
		svc := &service{Service: services.Get(id)}
		if svc.Mock != "" {
			svc.mock = core.Mock(svc.Mock)
		}
		if svc.Provider == "" {
			svc.Provider = "MOCK"
		}
		out[id] = svc
	}
	return out
}

// service is the one registered under id for the channel, or nil.
func (s *server) service(id string, async bool) *service {
	svc := s.services[id]
	if svc == nil || svc.AsyncOnly && !async {
		return nil
	}
	return svc
}

func (s *server) unknownService(w http.ResponseWriter, id string, fault func(http.ResponseWriter, string, string, string)) {
	fault(w, "soap:Client", CodeUnknownService, fmt.Sprintf("service %q is not registered on the gateway", id))
}

// answer runs the service's Answer; false means the call has been answered.
func (s *server) answer(w http.ResponseWriter, r *http.Request, svc *service, c *Call, fault func(http.ResponseWriter, string, string, string)) ([]byte, bool) {
	if svc.Answer == nil {
		return nil, true
	}
	c.w, c.r, c.gw, c.svc, c.fault = w, r, s, svc, fault
	return svc.Answer(c)
}

// Call is one message for a service, from either channel.
type Call struct {
	// MessageID and ServiceID are the SHEP message's; Data is what its
	// requestData/data (messageData/data) holds, without the <data>
	// element.
	MessageID, ServiceID string
	Data                 string
	Async                bool

	w      http.ResponseWriter
	r      *http.Request
	gw     *server
	svc    *service
	fault  func(w http.ResponseWriter, faultCode, code, msg string)
	status *shepsync.StatusInfo
}

// SetStatus makes the SyncChannel answer carry code and message in
// responseInfo/status instead of SCSS001: some providers (e-Kyzmet) refuse
// a request there, with their data, rather than with a SOAP Fault. The
// AsyncChannel has no such status and ignores it.
func (c *Call) SetStatus(code, message string) {
	c.status = &shepsync.StatusInfo{Code: code, Message: message}
}

// Decode reads Data into v as xml.Unmarshal reads a <data> element. The
// envelope around it has passed the gateway's XML limits already.
func (c *Call) Decode(v any) error {
	return xml.Unmarshal([]byte("<data>"+c.Data+"</data>"), v)
}

// BadRequest answers the call with a client fault, in its channel's shape.
func (c *Call) BadRequest(msg string) { c.fault(c.w, "soap:Client", CodeBadRequest, msg) }

// Injected applies the service mock's fault to the call, recording it
// under key; false means the call has been answered (or abandoned) already.
func (c *Call) Injected(key string) bool {
	if c.svc.mock == nil {
		return true
	}
	return c.gw.injectedAs(c.w, c.r, c.svc.mock, key, c.fault)
}

// Now is the time the answer is stamped with.
func (c *Call) Now() time.Time { return c.gw.now() }

// Server is the mocks server the call came to, where the service finds its
// options (mocks.ConfigOf).
func (c *Call) Server() *mocks.Server { return c.gw.core }
