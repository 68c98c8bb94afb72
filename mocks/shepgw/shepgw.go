// Package shepgw simulates the SHEP gateway (ШЭП): its SyncChannel and
// AsyncChannel, sender authentication and WS-Security signatures, and the
// pushes it makes to a recipient. It knows no agency: the services behind
// it (mocks/gbdfl, mocks/gbdul, …) register their serviceId and a handler
// with Register, as providers are registered on the real gateway.
//
// Served on the mocks listener:
//
//	POST /shep/sync                     SyncChannel SendMessage
//	GET  /shep/sync?wsdl                its WSDL (imports as ?file=…)
//	POST /shep/async                    AsyncChannel: sendMessage, getMessageStatus,
//	                                    getMessages, sendDeliveryNotification
//	GET  /shep/async?wsdl               its WSDL
//	POST /_control/shep/push            the gateway pushes a message to a recipient
//	POST /_control/shep/notify          … or a changeMassageStatusNotification
//	GET  /_control/shep/messages        async messages the gateway holds
//
// Its faults and log are the control API's mock "shep".
package shepgw

import (
	"strings"
	"time"

	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/mocks"
)

// Name is the gateway's mock in the control API.
const Name = "shep"

// Options configure the gateway; hand them to mocks.New. The zero value
// is a working setup.
type Options struct {
	// Senders are the SHEP senderId → password pairs the gateway accepts.
	// Default: kopir / kopir-secret.
	Senders map[string]string
	// Trust verifies the WS-Security signatures callers put on envelopes.
	// nil: the demo PKI of mocks/pki. A signed envelope is always verified;
	// RequireSignature also refuses unsigned ones.
	Trust            *xmlsig.Trust
	RequireSignature bool
	// Signer signs what the gateway pushes to a recipient. nil: the demo
	// gateway key of mocks/pki. NoPushSignature sends pushes unsigned.
	Signer          xmlsig.Signer
	NoPushSignature bool
	// PushURL is the recipient's SHEP endpoint prefix the control API
	// pushes to: <PushURL>/sync and <PushURL>/async. Default
	// http://127.0.0.1:8081/shep, Köpir's agency listener.
	PushURL string
	// PushSender is the senderId/password put in pushed messages.
	// Default demo-agency / demo-secret.
	PushSender [2]string
	// PublicURL is where the gateway's WSDL says it is served (its
	// soap:address). Default http://127.0.0.1:8090, where kopir-mocks
	// listens.
	PublicURL string
	// AsyncPolls is how many getMessageStatus calls see ON_DELIVERY before
	// a message is DELIVERED. Default 1.
	AsyncPolls int
}

func init() { mocks.Register(Name, newServer) }

type server struct {
	opts     Options
	now      func() time.Time
	mock     *mocks.Mock
	core     *mocks.Server
	services map[string]*service
	async    *asyncStore
}

func newServer(core *mocks.Server) {
	opts := mocks.ConfigOf[Options](core)
	if opts.Senders == nil {
		opts.Senders = map[string]string{"kopir": "kopir-secret"}
	}
	if opts.Trust == nil {
		opts.Trust = demoTrust()
	}
	if opts.Signer == nil && !opts.NoPushSignature {
		opts.Signer = demoSigner()
	}
	if opts.PushURL == "" {
		opts.PushURL = "http://127.0.0.1:8081/shep"
	}
	if opts.PushSender[0] == "" {
		opts.PushSender = [2]string{"demo-agency", "demo-secret"}
	}
	if opts.PublicURL == "" {
		opts.PublicURL = "http://" + mocks.DefaultAddr
	}
	opts.PublicURL = strings.TrimSuffix(opts.PublicURL, "/")
	if opts.AsyncPolls <= 0 {
		opts.AsyncPolls = 1
	}
	s := &server{opts: opts, now: core.Now, core: core, mock: core.Mock(Name), services: newServices(core), async: newAsyncStore()}
	core.HandleFunc("POST /shep/sync", s.shepSync)
	core.HandleFunc("GET /shep/sync", s.shepWSDL)
	core.HandleFunc("POST /shep/async", s.shepAsync)
	core.HandleFunc("GET /shep/async", s.shepAsyncWSDL)
	core.HandleFunc("POST /_control/shep/push", s.push)
	core.HandleFunc("POST /_control/shep/notify", s.notify)
	core.HandleFunc("GET /_control/shep/messages", s.listAsync)
}
