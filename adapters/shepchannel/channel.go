// Package shepchannel is the inbound channel "shep": the edge where the
// e-Government gateway (SHEP) hands messages to the ministry. It serves
// SyncChannel SendMessage and AsyncChannel push delivery (sendMessage,
// changeMassageStatusNotification), fetches with getMessages for services
// the gateway does not push, checks senders and signatures, and passes
// every message to the core's Intake. It speaks the wire format of
// contracts/egov-shep/shep and calls the gateway through adapters/egov's
// Sender.
package shepchannel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/egov"
	"github.com/minfin-kz/kopir/adapters/signing"
	egovshep "github.com/minfin-kz/kopir/contracts/egov-shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepasync"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepsync"
	"github.com/minfin-kz/kopir/internal/safexml"
	"github.com/minfin-kz/kopir/internal/units"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"go.opentelemetry.io/otel/trace"
)

// ChannelName is the inbound channel's registered name.
const ChannelName = "shep"

func init() { adapters.RegisterChannel(ChannelName, newChannel) }

// ChannelOptions is the options block of the "shep" channel.
type ChannelOptions struct {
	// Senders are the SHEP systems allowed to send in (requestInfo/sender,
	// messageInfo/sender). A password is given as its hex SHA-256
	// (passwordSHA256); plain password is for demo configs.
	Senders []SenderAuth `yaml:"senders"`
	// RequireSignature refuses unsigned messages. A message that is signed
	// is always verified when a trust store is configured, required or not.
	RequireSignature bool `yaml:"requireSignature"`
	// Trust is what a signature must chain to (roots, CRLs, policy OID),
	// and who checks it (provider local or ncanode, see adapters/signing).
	Trust *signing.TrustConfig `yaml:"trust"`
	// MaxBody bounds one envelope (default 1MiB). The listener's own
	// channel-level maxBody applies first.
	MaxBody units.ByteSize `yaml:"maxBody"`
	// StatusRoutes are the outbound egov-async routes whose messages
	// changeMassageStatusNotification may refer to.
	StatusRoutes []string `yaml:"statusRoutes"`
	// Poll makes Köpir fetch messages with getMessages, for services the
	// gateway does not push to us.
	Poll *PollConfig `yaml:"poll"`
	// SchemaValidation validates every envelope against the contract's
	// XSD with libxml2 (default true). Off, the typed checks remain.
	SchemaValidation *bool `yaml:"schemaValidation"`
	// NotificationSigners binds changeMassageStatusNotification, which
	// names no sender, to the gateway's certificate, so that no other
	// trusted participant can report a message's fate. Given, every
	// notification must be signed by one of them.
	NotificationSigners *adapters.CertBinding `yaml:"notificationSigners"`
	// PublicURL is the channel's address as agencies reach it (behind a
	// proxy, the proxy's), e.g. https://bus.minfin.kz/shep: the served
	// WSDL's soap:address is <publicURL>/sync and <publicURL>/async.
	// Default: the agency listener's address and the channel's mount.
	PublicURL string `yaml:"publicURL"`
}

// SenderAuth is one system allowed to send in.
type SenderAuth struct {
	ID             string `yaml:"id"`
	Password       string `yaml:"password"`
	PasswordSHA256 string `yaml:"passwordSHA256"`
	// Services, when given, are the serviceIds this sender may use.
	Services []string `yaml:"services"`
	// Signers binds the sender to the certificates that may sign for it.
	// Given, every message of this sender must be signed by a trusted
	// certificate that names one of them (SIGNATURE_SENDER_MISMATCH
	// otherwise). Without it, any trusted signature passes for the sender
	// (logged as a warning at start-up): bind every sender in production.
	Signers *adapters.CertBinding `yaml:"signers"`
	// Clients binds the sender to the TLS client certificates it may
	// connect with, on a channel whose clientCerts the core verifies
	// (channels[].clientCerts). Given, every message of this sender must
	// come over a connection whose verified client certificate names one
	// of them (CLIENT_CERTIFICATE_REQUIRED without one,
	// CLIENT_SENDER_MISMATCH with another's).
	Clients *adapters.CertBinding `yaml:"clients"`
}

// Channel is the SHEP inbound edge: SyncChannel SendMessage, push delivery
// (sendMessage, changeMassageStatusNotification) and the getMessages
// poller. It speaks SHEP and hands every message to the core's Intake.
type Channel struct {
	senders      map[string]sender
	requireSig   bool
	verifier     xmlsig.EnvelopeVerifier
	tracer       trace.Tracer // from Provision: verifying is a span of the exchange
	lim          safexml.Limits
	statusRoutes []string
	poll         *Poller
	schemas      *shep.Schemas
	publicURL    string
	// notifySigners may sign status notifications; nil: anyone trusted.
	notifySigners *adapters.CertMatcher
	// unbound are the senders any trusted certificate may sign for.
	unbound []string
	// unboundClients are the senders any trusted client certificate may
	// connect for, on a channel that asks for them.
	unboundClients []string
	// name labels the channel's metrics (its configured name).
	name string
	// revocationPolicy is options.trust.onRevocationUnknown.
	revocationPolicy string
	metrics          *revocationMetrics
	// Now is the clock for certificate validity and dates; nil: time.Now.
	Now func() time.Time
	// Log is the component's logger from the core's Resources (JSON, with
	// the channel's name); until provisioned, nothing is logged.
	Log *slog.Logger
}

type sender struct {
	hash     [32]byte
	services map[string]bool
	signers  *adapters.CertMatcher // nil: not bound to a certificate
	clients  *adapters.CertMatcher // nil: not bound to a client certificate
}

// DefaultPublicURL is the channel's address when neither its options nor
// the core name one: the default agency listener and mount.
const DefaultPublicURL = "http://127.0.0.1:8081/shep"

func newChannel(cfg adapters.ChannelConfig, res adapters.Resources) (adapters.Channel, error) {
	var o ChannelOptions
	if err := cfg.Options.Decode(&o); err != nil {
		return nil, fmt.Errorf("shep: options: %w", err)
	}
	if o.PublicURL == "" {
		o.PublicURL = cfg.BaseURL
	}
	c, err := NewChannel(o)
	if err != nil {
		return nil, err
	}
	if cfg.Name != "" {
		c.name = cfg.Name
	}
	for i, s := range o.Senders {
		switch {
		case s.Clients != nil && !cfg.ClientCerts:
			return nil, fmt.Errorf("shep: options.senders[%d].clients: the channel asks for no client certificates (set channels[].clientCerts and listen.agencyTLS)", i)
		case s.Clients == nil && cfg.ClientCerts:
			c.unboundClients = append(c.unboundClients, s.ID)
		}
	}
	if err := c.Provision(res); err != nil {
		return nil, err
	}
	return c, nil
}

// Provision gives the channel the core's logger and clock, and its poller
// the core's layered transport to the gateway.
func (c *Channel) Provision(res adapters.Resources) error {
	c.Log, c.Now, c.tracer = res.Log(), res.Clock, res.Trace()
	for _, id := range c.unbound {
		// Any trusted organisation's signature then passes for this
		// sender: it is allowed, for a migration, but said at start-up.
		c.Log.Warn("shep: sender is not bound to its signing certificates (options.senders[].signers): a signature of any trusted organisation is accepted for it", "senderId", id)
	}
	for _, id := range c.unboundClients {
		c.Log.Warn("shep: sender is not bound to its client certificates (options.senders[].clients): any trusted client certificate may connect for it", "senderId", id)
	}
	if err := signing.Provision(c.verifier, res); err != nil {
		return fmt.Errorf("shep: options.trust: %w", err)
	}
	if err := c.metrics.register(res.Metrics); err != nil {
		return fmt.Errorf("shep: metrics: %w", err)
	}
	if c.verifier != nil {
		c.metrics.policy.WithLabelValues(c.name, c.revocationPolicy).Set(1)
	}
	if c.poll != nil {
		if err := c.poll.provision(res); err != nil {
			return fmt.Errorf("shep: options.poll: %w", err)
		}
	}
	return nil
}

// NewChannel checks the options and loads the trust store.
func NewChannel(o ChannelOptions) (*Channel, error) {
	c := &Channel{senders: map[string]sender{}, requireSig: o.RequireSignature, statusRoutes: o.StatusRoutes, Log: slog.New(slog.DiscardHandler),
		name: ChannelName, revocationPolicy: revocationPolicy(o.Trust), metrics: newRevocationMetrics()}
	if len(o.Senders) == 0 {
		return nil, errors.New("shep: options.senders: at least one sender is needed")
	}
	for i, s := range o.Senders {
		f := fmt.Sprintf("options.senders[%d]", i)
		if s.ID == "" {
			return nil, fmt.Errorf("shep: %s.id is required", f)
		}
		if _, dup := c.senders[s.ID]; dup {
			return nil, fmt.Errorf("shep: %s: sender %q listed twice", f, s.ID)
		}
		var snd sender
		switch {
		case s.Password != "" && s.PasswordSHA256 != "":
			return nil, fmt.Errorf("shep: %s: give password or passwordSHA256, not both", f)
		case s.PasswordSHA256 != "":
			h, err := hex.DecodeString(s.PasswordSHA256)
			if err != nil || len(h) != 32 {
				return nil, fmt.Errorf("shep: %s.passwordSHA256 is not 64 hex digits", f)
			}
			copy(snd.hash[:], h)
		case s.Password != "":
			snd.hash = sha256.Sum256([]byte(s.Password))
		default:
			return nil, fmt.Errorf("shep: %s: a password or passwordSHA256 is required", f)
		}
		if len(s.Services) > 0 {
			snd.services = map[string]bool{}
			for _, id := range s.Services {
				snd.services[id] = true
			}
		}
		if s.Signers != nil {
			if o.Trust == nil {
				return nil, fmt.Errorf("shep: %s.signers needs options.trust (roots to verify the signatures against)", f)
			}
			b, err := s.Signers.Compile()
			if err != nil {
				return nil, fmt.Errorf("shep: %s.signers: %v", f, err)
			}
			snd.signers = b
		} else if o.Trust != nil {
			c.unbound = append(c.unbound, s.ID)
		}
		if s.Clients != nil {
			b, err := s.Clients.Compile()
			if err != nil {
				return nil, fmt.Errorf("shep: %s.clients: %v", f, err)
			}
			snd.clients = b
		}
		c.senders[s.ID] = snd
	}
	if o.Trust != nil {
		v, err := signing.NewVerifier(*o.Trust, c.now)
		if err != nil {
			return nil, fmt.Errorf("shep: options.trust: %w", err)
		}
		c.verifier = v
	} else if o.RequireSignature {
		return nil, errors.New("shep: options.requireSignature needs options.trust (roots to verify against)")
	}
	if o.SchemaValidation == nil || *o.SchemaValidation {
		sc, err := shep.LoadSchemas()
		if err != nil {
			return nil, fmt.Errorf("shep: %w", err)
		}
		c.schemas = sc
	}
	if o.NotificationSigners != nil {
		if o.Trust == nil {
			return nil, errors.New("shep: options.notificationSigners needs options.trust (roots to verify the signatures against)")
		}
		b, err := o.NotificationSigners.Compile()
		if err != nil {
			return nil, fmt.Errorf("shep: options.notificationSigners: %v", err)
		}
		c.notifySigners = b
	}
	pub, err := publicURL(o.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("shep: options.publicURL: %w", err)
	}
	c.publicURL = pub
	c.lim = shep.Limits
	if o.MaxBody > 0 {
		c.lim.MaxBytes = int64(o.MaxBody)
	}
	if o.Poll != nil {
		p, err := NewPoller(*o.Poll, c)
		if err != nil {
			return nil, fmt.Errorf("shep: options.poll: %w", err)
		}
		c.poll = p
	}
	return c, nil
}

// publicURL checks the channel's public address; "" is the default.
func publicURL(v string) (string, error) {
	if v == "" {
		return DefaultPublicURL, nil
	}
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return "", err
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return "", fmt.Errorf("%q is not an absolute http(s) URL", v)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return "", fmt.Errorf("%q: a query, fragment or user has no place in a SOAP address", v)
	}
	return strings.TrimSuffix(v, "/"), nil
}

// SetTrust replaces the trust store (tests, or a reload of CRLs); the
// channel then verifies in process.
func (c *Channel) SetTrust(t *xmlsig.Trust) {
	c.verifier = xmlsig.LocalVerifier{Trust: t, Now: c.now, OnRevocationUnknown: c.revocationPolicy}
}

func (c *Channel) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Routes implements adapters.Channel. The app mounts them under the
// channel's configured mount, /shep in deploy/local.yaml.
func (c *Channel) Routes(in adapters.Intake) map[string]http.Handler {
	return map[string]http.Handler{
		"POST /sync": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.serveSync(w, r, in) }),
		"GET /sync": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			shep.ServeWSDL(w, r, egovshep.Files, "sync", "SyncChannel/v10/Interfaces/SyncChannelHttp_Service.wsdl", c.publicURL+"/sync")
		}),
		"POST /async": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.serveAsync(w, r, in) }),
		"GET /async": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			shep.ServeWSDL(w, r, egovshep.Files, "async-client", "IAsyncChannelClient.wsdl", c.publicURL+"/async")
		}),
	}
}

// Run polls the gateway with getMessages until ctx ends; without a poller
// configured it returns at once. The core runs it on one node of a
// cluster at a time (see docs/adapters/egov.md): two pollers would take
// the same messages twice.
func (c *Channel) Run(ctx context.Context, in adapters.Intake) error {
	if c.poll == nil {
		return nil
	}
	return c.poll.Run(ctx, in)
}

// RunOnNode refreshes the trust's CRLs until ctx ends; without CRLs to
// fetch it returns at once. Each node verifies signatures against its own
// copy, so the core runs it on every node.
func (c *Channel) RunOnNode(ctx context.Context) error {
	c.refreshCRLs(ctx)
	return nil
}

// Fault codes the channel answers with (errorCode in the fault detail).
// SHEP's own codes are not published, so these are Köpir's; signature
// refusals use xmlsig's reasons (SIGNATURE_INVALID, CERT_EXPIRED, …).
const (
	CodeBodyTooLarge = "KOPIR_BODY_TOO_LARGE"
	// CodeEnvelopeStructure: not exactly Envelope(Header?, Body(one
	// operation)), or an operation element (unsigned: also a soap:Body)
	// elsewhere, so the element processed might not be the one signed and
	// validated.
	CodeEnvelopeStructure = "KOPIR_ENVELOPE_STRUCTURE"
	// CodeDuplicateID: an Id value carried by two elements, or two Id
	// attributes on one element, in an unsigned envelope (in a signed one
	// it is SIGNATURE_WRAPPING, as is a displaced soap:Body).
	CodeDuplicateID = "KOPIR_DUPLICATE_ID"
	// CodeSignerMismatch: a valid, trusted signature by a certificate that
	// does not name an organisation or person bound to the senderId.
	CodeSignerMismatch = "SIGNATURE_SENDER_MISMATCH"
	// CodeClientCertRequired: a sender bound to client certificates
	// connected without one.
	CodeClientCertRequired = "CLIENT_CERTIFICATE_REQUIRED"
	// CodeClientSenderMismatch: a verified client certificate that does
	// not name an organisation or person bound to the senderId.
	CodeClientSenderMismatch = "CLIENT_SENDER_MISMATCH"
	CodeXMLPrefix            = "KOPIR_XML_" // + DOCTYPE, SYNTAX, SIZE, DEPTH, TOKENS, DECODE
	CodeInvalidEnvelope      = "KOPIR_INVALID_ENVELOPE"
	CodeUnknownOperation     = "KOPIR_UNKNOWN_OPERATION"
	CodeUnknownService       = "KOPIR_UNKNOWN_SERVICE"
	CodeAuthFailed           = "KOPIR_AUTH_FAILED"
	CodeDuplicate            = "KOPIR_DUPLICATE"
	CodeUnknownMessage       = "KOPIR_UNKNOWN_MESSAGE"
	CodeDeliveryFailed       = "KOPIR_DELIVERY_FAILED"
	CodeBadReply             = "KOPIR_BAD_REPLY"
	CodeUnavailable          = "KOPIR_UNAVAILABLE"
)

// refusal is an inbound message refused with a SOAP fault.
type refusal struct {
	server bool // soap:Server (our side) rather than soap:Client
	code   string
	msg    string
}

func (r *refusal) Error() string { return r.code + ": " + r.msg }

func clientErr(code, format string, args ...any) *refusal {
	return &refusal{code: code, msg: fmt.Sprintf(format, args...)}
}

// InboundMessage is the JSON the internal subscriber receives for every
// message that came in through SHEP.
type InboundMessage struct {
	// Operation is SendMessage (SyncChannel) or sendMessage (AsyncChannel).
	Operation     string            `json:"operation"`
	ServiceID     string            `json:"serviceId"`
	MessageID     string            `json:"messageId"`
	CorrelationID string            `json:"correlationId,omitempty"`
	MessageType   string            `json:"messageType,omitempty"`
	MessageDate   string            `json:"messageDate,omitempty"`
	SenderID      string            `json:"senderId"`
	SessionID     string            `json:"sessionId,omitempty"`
	Properties    map[string]string `json:"properties,omitempty"`
	// Signer is the subject of the verified signing certificate.
	Signer string `json:"signer,omitempty"`
	// RevocationUnknown says why the signer's revocation status was
	// unknown, on a message accepted under onRevocationUnknown: flag.
	RevocationUnknown string         `json:"revocationUnknown,omitempty"`
	Data              string         `json:"data"`
	DataType          *shep.DataType `json:"dataType,omitempty"`
}

// SyncReply is what a subscriber of a sync inbound route may answer with:
// data is the XML put in responseData/data. Any other JSON is carried as
// the text of <data>.
type SyncReply struct {
	Data     *string        `json:"data"`
	DataType *shep.DataType `json:"dataType"`
	Status   *egov.Status   `json:"status"`
}

// read takes the body within the channel's limit.
func (c *Channel) read(w http.ResponseWriter, r *http.Request) ([]byte, *refusal) {
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= c.lim.MaxBytes {
		buf.Grow(int(n))
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, c.lim.MaxBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, clientErr(CodeBodyTooLarge, "the envelope is larger than %d bytes", mbe.Limit)
	case err != nil && !errors.Is(err, io.EOF):
		return nil, clientErr(CodeInvalidEnvelope, "reading the request: %v", err)
	}
	return buf.Bytes(), nil
}

// xmlRefusal turns a parse failure of body into the precise fault. An Id
// carried twice or a displaced soap:Body in a signed envelope can only aim
// at the signature, and is refused as the wrapping it is.
func xmlRefusal(err error, body []byte) *refusal {
	var se *safexml.Error
	if errors.As(err, &se) {
		return clientErr(CodeXMLPrefix+strings.ToUpper(se.Reason), "%v", se)
	}
	var fe *shep.FrameError
	if errors.As(err, &fe) {
		signed := bytes.Contains(body, []byte(xmlsig.NSWSSE))
		switch {
		case signed && (fe.Reason == shep.FrameDuplicateID || fe.Reason == shep.FrameDisplacedBody):
			return clientErr(string(xmlsig.ReasonWrapping), "the signature may not cover the Body that is processed: %v", fe)
		case fe.Reason == shep.FrameDuplicateID:
			return clientErr(CodeDuplicateID, "%v", fe)
		}
		return clientErr(CodeEnvelopeStructure, "%v", fe)
	}
	var uo *shep.UnknownOpError
	if errors.As(err, &uo) {
		return clientErr(CodeUnknownOperation, "%v", uo)
	}
	return clientErr(CodeInvalidEnvelope, "%v", err)
}

// signature verifies the envelope's WS-Security signature when one is
// present or required, or when the sender is bound to its signers, with
// the channel's provider; checks
// that it covers the Body the frame says is processed; and, for a bound
// sender, that its certificate names one of the sender's signers. It
// returns who signed.
func (c *Channel) signature(ctx context.Context, f *shep.Frame, body []byte, senderID string) (signed, *refusal) {
	var bound *adapters.CertMatcher
	if s, ok := c.senders[senderID]; ok {
		bound = s.signers
	}
	return c.verify(ctx, f, body, bound, fmt.Sprintf("sender %q", senderID))
}

// verify checks the signature of a message that only a certificate named
// by bound may sign (nil: any trusted one); who names the signer's role in
// a refusal.
func (c *Channel) verify(ctx context.Context, f *shep.Frame, body []byte, bound *adapters.CertMatcher, who string) (signed, *refusal) {
	if !f.Signed && !bytes.Contains(body, []byte(xmlsig.NSWSSE)) && !c.requireSig && bound == nil {
		return signed{}, nil
	}
	if c.verifier == nil {
		// Nothing to check a signature against; unsigned is allowed.
		return signed{}, nil
	}
	v, err := signing.Verify(ctx, c.tracer, c.verifier, body)
	c.countRevocation(v, err)
	if err == nil && v.BodyID != f.BodyID {
		err = &xmlsig.Error{Reason: xmlsig.ReasonWrapping, Detail: fmt.Sprintf("the signature covers the element with Id %q, the processed soap:Body has Id %q", v.BodyID, f.BodyID)}
	}
	if err != nil {
		var se *xmlsig.Error
		if errors.As(err, &se) && se.Unavailable {
			return signed{}, &refusal{server: true, code: string(se.Reason), msg: se.Detail}
		}
		if errors.As(err, &se) {
			return signed{}, clientErr(string(se.Reason), "%s", se.Detail)
		}
		return signed{}, clientErr(string(xmlsig.ReasonMalformed), "%v", err)
	}
	subject := v.Certificate.Subject.String()
	if bound != nil && !bound.Allows(v.Certificate) {
		return signed{}, clientErr(CodeSignerMismatch, "%s is not signed for by %q (%s): its certificate names another organisation or person than the ones bound to it",
			who, subject, xmlsig.IdentityOf(v.Certificate))
	}
	return signed{subject: subject, revocationUnknown: v.RevocationUnknown}, nil
}

// signed is who signed a verified message: the certificate's subject,
// and why its revocation status was unknown when it was accepted anyway
// (onRevocationUnknown: flag).
type signed struct {
	subject, revocationUnknown string
}

// authenticate checks senderId/password in constant time, and, for a
// sender bound to its client certificates, the connection's.
func (c *Channel) authenticate(ctx context.Context, id, password, service string) *refusal {
	s, ok := c.senders[id]
	got := sha256.Sum256([]byte(password))
	if !ok || subtle.ConstantTimeCompare(s.hash[:], got[:]) != 1 {
		return clientErr(CodeAuthFailed, "sender %q: unknown sender or wrong password", id)
	}
	if s.services != nil && !s.services[service] {
		return clientErr(CodeAuthFailed, "sender %q may not use service %q", id, service)
	}
	if s.clients == nil {
		return nil
	}
	peer := adapters.PeerCertificate(ctx)
	if peer == nil {
		return clientErr(CodeClientCertRequired, "sender %q must connect with a TLS client certificate", id)
	}
	if !s.clients.Allows(peer) {
		return clientErr(CodeClientSenderMismatch, "sender %q may not connect with the client certificate of %q (%s): it names another organisation or person than the ones bound to it",
			id, peer.Subject.String(), xmlsig.IdentityOf(peer))
	}
	return nil
}

// checkID bounds an identifier used for de-duplication and the store.
func checkID(field, v string) *refusal {
	switch {
	case strings.TrimSpace(v) == "":
		return clientErr(CodeInvalidEnvelope, "%s is required", field)
	case len(v) > 256 || !utf8.ValidString(v):
		return clientErr(CodeInvalidEnvelope, "%s is not a usable identifier (at most 256 bytes of UTF-8)", field)
	}
	return nil
}

func checkProps[P interface {
	*shepsync.Property | *shepasync.Property
}](field string, ps []P, kv func(P) (string, string)) (map[string]string, *refusal) {
	var out map[string]string
	for i, p := range ps {
		if p == nil {
			continue
		}
		k, v := kv(p)
		if utf8.RuneCountInString(k) > 30 || utf8.RuneCountInString(v) > 500 {
			return nil, clientErr(CodeInvalidEnvelope, "%s[%d]: key longer than 30 or value longer than 500 characters", field, i)
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out, nil
}

// validateEnvelope validates the operation element against the contract's
// XSD (SchemaValidation, on by default). The typed checks after it
// (validateSync and friends) restate what Köpir itself relies on, so they
// hold when schema validation is turned off.
func (c *Channel) validateEnvelope(f *shep.Frame, body []byte) *refusal {
	if c.schemas == nil {
		return nil
	}
	if err := c.schemas.Validate(f, body); err != nil {
		return clientErr(CodeInvalidEnvelope, "%s does not match the contract's schema: %v", f.Op.Local, err)
	}
	return nil
}

func validateSync(info *shepsync.SyncMessageInfo, dataPresent bool) *refusal {
	if r := checkID("requestInfo/messageId", info.MessageId); r != nil {
		return r
	}
	if r := checkID("requestInfo/serviceId", info.ServiceId); r != nil {
		return r
	}
	switch {
	case info.MessageDate.ToGoTime().Year() <= 1:
		return clientErr(CodeInvalidEnvelope, "requestInfo/messageDate is missing or not an xsd:dateTime")
	case info.Sender == nil || info.Sender.SenderId == "":
		return clientErr(CodeInvalidEnvelope, "requestInfo/sender/senderId is required")
	case !dataPresent:
		return clientErr(CodeInvalidEnvelope, "request/requestData is required")
	}
	// The senderId is named in refusals and the store: bounded like an id.
	return checkID("requestInfo/sender/senderId", info.Sender.SenderId)
}

func validateAsyncSend(m *shep.InboundSendMessage) *refusal {
	if m == nil || m.MessageInfo == nil {
		return clientErr(CodeInvalidEnvelope, "request/messageInfo is required")
	}
	mi := m.MessageInfo
	if r := checkID("messageInfo/messageId", mi.MessageId); r != nil {
		return r
	}
	if r := checkID("messageInfo/serviceId", mi.ServiceId); r != nil {
		return r
	}
	switch {
	case !shep.ValidMessageType(mi.MessageType):
		return clientErr(CodeInvalidEnvelope, "messageInfo/messageType %q is not REQUEST, UPDATE, NOTIFICATION or RESPONSE", short(mi.MessageType))
	case mi.MessageDate.ToGoTime().Year() <= 1:
		return clientErr(CodeInvalidEnvelope, "messageInfo/messageDate is missing or not an xsd:dateTime")
	case mi.Sender == nil || mi.Sender.SenderId == "":
		return clientErr(CodeInvalidEnvelope, "messageInfo/sender/senderId is required")
	case m.MessageData == nil || !m.MessageData.Data.Present():
		return clientErr(CodeInvalidEnvelope, "request/messageData/data is required")
	}
	return checkID("messageInfo/sender/senderId", mi.Sender.SenderId)
}

func validateStatusNotification(r *shepasync.AsyncChangeStatusNotifyRequest) *refusal {
	if r == nil || r.Notification == nil {
		return clientErr(CodeInvalidEnvelope, "request/notification is required")
	}
	n := r.Notification
	if rf := checkID("notification/messageId", n.MessageId); rf != nil {
		return rf
	}
	if rf := checkID("notification/notificationId", n.NotificationId); rf != nil {
		return rf
	}
	switch {
	case n.MessageState != shep.StateOnDelivery && !shep.FinalState(n.MessageState):
		return clientErr(CodeInvalidEnvelope, "notification/messageState %q is not ON_DELIVERY, DELIVERED, NOT_DELIVERED or DELIVERY_STOPPED", short(n.MessageState))
	case n.Status == nil || n.Status.StatusCode == "":
		return clientErr(CodeInvalidEnvelope, "notification/status/statusCode is required")
	case n.NotificationDate.ToGoTime().Year() <= 1:
		return clientErr(CodeInvalidEnvelope, "notification/notificationDate is missing or not an xsd:dateTime")
	}
	return nil
}

// ---- SyncChannel SendMessage ----

func (c *Channel) serveSync(w http.ResponseWriter, r *http.Request, in adapters.Intake) {
	ctx := r.Context()
	hdrCorr := headerCorrelation(r)
	m := &adapters.Inbound{Channel: ChannelName, CorrelationID: hdrCorr}
	fault := func(rf *refusal) { c.refuse(ctx, w, in, m, rf, c.syncFault) }
	body, rf := c.read(w, r)
	if rf != nil {
		fault(rf)
		return
	}
	m.Raw = body
	var data shep.RawData
	req := &shep.SyncRequest{Data: shep.DataSlot{Data: &data}}
	wrap := struct {
		Request *shep.SyncRequest `xml:"request"`
	}{req}
	frame, err := shep.ParseInbound(body, c.lim, shep.Expect(shep.NSTypes, "SendMessage", &wrap))
	if err != nil {
		fault(xmlRefusal(err, body))
		return
	}
	if req.Info == nil {
		fault(clientErr(CodeInvalidEnvelope, "SendMessage/request/requestInfo is required"))
		return
	}
	info := req.Info
	m.Key, m.ExternalID, m.CorrelationID = info.ServiceId, info.MessageId, firstOf(info.CorrelationId, hdrCorr)
	if info.Sender != nil {
		m.Sender = info.Sender.SenderId
	}
	if rf := c.validateEnvelope(frame, body); rf != nil {
		fault(rf)
		return
	}
	if rf := validateSync(info, req.Data.Present()); rf != nil {
		fault(rf)
		return
	}
	props, rf := checkProps("requestInfo/properties", info.Properties, func(p *shepsync.Property) (string, string) { return p.Key, p.Value })
	if rf != nil {
		fault(rf)
		return
	}
	signer, rf := c.signature(ctx, frame, body, info.Sender.SenderId)
	if rf != nil {
		fault(rf)
		return
	}
	if rf := c.authenticate(ctx, info.Sender.SenderId, info.Sender.Password, info.ServiceId); rf != nil {
		fault(rf)
		return
	}
	exists, sync := in.Known(ChannelName, info.ServiceId)
	if !exists {
		fault(clientErr(CodeUnknownService, "service %q is not served by the ministry", info.ServiceId))
		return
	}
	msg := InboundMessage{
		Operation: "SendMessage", ServiceID: info.ServiceId, MessageID: info.MessageId, CorrelationID: info.CorrelationId,
		MessageDate: formatDate(info.MessageDate.ToGoTime()), SenderID: info.Sender.SenderId, Properties: props,
		Signer: signer.subject, RevocationUnknown: signer.revocationUnknown, Data: data.InnerXML, DataType: data.Type(),
	}
	if info.SessionId != nil {
		msg.SessionID = string(*info.SessionId)
	}
	m.Body, _ = json.Marshal(msg)

	respInfo := func(busID string, st egov.Status) *shepsync.SyncMessageInfoResponse {
		ri := &shepsync.SyncMessageInfoResponse{
			MessageId: busID, CorrelationId: info.MessageId, ResponseDate: shep.XSDNow(c.now()),
			Status: &shepsync.StatusInfo{Code: st.Code, Message: st.Message}, SessionId: info.SessionId,
		}
		return ri
	}
	if !sync {
		rc, err := in.Accept(ctx, m)
		if err != nil {
			fault(intakeRefusal(err))
			return
		}
		c.flagRevocation(ctx, in, rc, signer)
		if rc.Duplicate && len(rc.Ack) > 0 {
			c.answer(w, m, rc.MessageID, http.StatusOK, rc.Ack)
			return
		}
		ack, err := shep.MarshalResponse(respInfo(rc.MessageID, egov.Status{Code: shep.StatusSuccess, Message: "accepted, delivered to the subscriber asynchronously"}),
			shep.Payload{Value: &shep.AnyXML{InnerXML: "<messageId>" + escape(rc.MessageID) + "</messageId><status>" + escape(rc.Status) + "</status>"}})
		if err != nil {
			fault(&refusal{server: true, code: CodeUnavailable, msg: err.Error()})
			return
		}
		c.acknowledge(ctx, in, rc.MessageID, ack)
		c.answer(w, m, rc.MessageID, http.StatusOK, ack)
		return
	}
	resp, rc, err := in.Call(ctx, m)
	c.flagRevocation(ctx, in, rc, signer)
	if rc != nil && rc.Duplicate {
		if len(rc.Ack) > 0 {
			c.answer(w, m, rc.MessageID, statusOf(rc.Ack), rc.Ack)
			return
		}
		c.writeFault(w, rc.MessageID, c.syncFault, clientErr(CodeDuplicate, "message %s was received before (Köpir message %s, %s) and has no answer to repeat", info.MessageId, rc.MessageID, rc.Status))
		return
	}
	if err != nil {
		var rf *refusal
		var rj *adapters.RejectError
		switch {
		case errors.As(err, &rj):
			fault(intakeRefusal(err))
			return
		case rc == nil:
			rf = &refusal{server: true, code: CodeUnavailable, msg: err.Error()}
		default:
			rf = &refusal{server: true, code: CodeDeliveryFailed, msg: "the ministry's subscriber did not answer: " + err.Error()}
		}
		b := c.faultBytes(rc, c.syncFault, rf)
		if rc != nil {
			// A repeat of this messageId gets the same answer rather than
			// a second delivery.
			c.acknowledge(ctx, in, rc.MessageID, b)
		}
		c.answer(w, m, idOf(rc), http.StatusInternalServerError, b)
		return
	}
	env, rf := c.syncReply(resp, respInfo(rc.MessageID, egov.Status{Code: shep.StatusSuccess, Message: "Сервис отработал штатно"}))
	if rf != nil {
		b := c.faultBytes(rc, c.syncFault, rf)
		c.acknowledge(ctx, in, rc.MessageID, b)
		c.answer(w, m, rc.MessageID, http.StatusInternalServerError, b)
		return
	}
	c.acknowledge(ctx, in, rc.MessageID, env)
	c.answer(w, m, rc.MessageID, http.StatusOK, env)
}

// syncReply wraps the subscriber's answer in a SendMessageResponse.
func (c *Channel) syncReply(resp *adapters.Response, ri *shepsync.SyncMessageInfoResponse) ([]byte, *refusal) {
	var reply SyncReply
	pl := shep.Payload{}
	body := []byte(nil)
	if resp != nil {
		body = resp.Body
	}
	if json.Unmarshal(body, &reply) == nil && reply.Data != nil {
		if err := safexml.Check(strings.NewReader("<data>"+*reply.Data+"</data>"), c.lim); err != nil {
			return nil, &refusal{server: true, code: CodeBadReply, msg: "the subscriber's data is not a well-formed XML fragment: " + err.Error()}
		}
		pl.Value = &shep.AnyXML{InnerXML: *reply.Data}
		if t := reply.DataType; t != nil && t.Namespace != "" && t.Name != "" {
			pl.Type = xml.Name{Space: t.Namespace, Local: t.Name}
		}
		if reply.Status != nil && reply.Status.Code != "" {
			ri.Status = &shepsync.StatusInfo{Code: reply.Status.Code, Message: reply.Status.Message}
		}
	} else {
		pl.Value = &textData{Text: string(bytes.TrimSpace(body))}
	}
	env, err := shep.MarshalResponse(ri, pl)
	if err != nil {
		return nil, &refusal{server: true, code: CodeBadReply, msg: err.Error()}
	}
	return env, nil
}

type textData struct {
	Text string `xml:",chardata"`
}

// ---- AsyncChannel push delivery ----

func (c *Channel) serveAsync(w http.ResponseWriter, r *http.Request, in adapters.Intake) {
	ctx := r.Context()
	hdrCorr := headerCorrelation(r)
	m := &adapters.Inbound{Channel: ChannelName, CorrelationID: hdrCorr}
	op := shep.OpSendMessage
	faultFn := func(rf *refusal) ([]byte, error) { return c.asyncFault(op, rf) }
	fault := func(rf *refusal) { c.refuse(ctx, w, in, m, rf, faultFn) }
	body, rf := c.read(w, r)
	if rf != nil {
		fault(rf)
		return
	}
	m.Raw = body
	var send shep.OpRequest[shep.InboundSendMessage]
	var notify shep.OpRequest[shepasync.AsyncChangeStatusNotifyRequest]
	frame, err := shep.ParseInbound(body, c.lim, func(n xml.Name) any {
		switch {
		case n.Local == shep.OpSendMessage && (n.Space == shep.NSAsyncClient || n.Space == shep.NSAsync):
			return &send
		case n.Local == shep.OpChangeStatusNotification && n.Space == shep.NSAsyncClient:
			return &notify
		}
		return nil
	})
	if frame != nil && frame.Op.Local == shep.OpChangeStatusNotification {
		op = shep.OpChangeStatusNotification
	}
	if err != nil {
		fault(xmlRefusal(err, body))
		return
	}
	if send.Request != nil && send.Request.MessageInfo != nil {
		m.Key, m.ExternalID = send.Request.MessageInfo.ServiceId, send.Request.MessageInfo.MessageId
	}
	if rf := c.validateEnvelope(frame, body); rf != nil {
		fault(rf)
		return
	}
	if op == shep.OpChangeStatusNotification {
		c.statusNotification(ctx, w, in, m, frame, body, notify.Request, fault)
		return
	}
	if rf := validateAsyncSend(send.Request); rf != nil {
		if send.Request != nil && send.Request.MessageInfo != nil {
			m.Key, m.ExternalID = send.Request.MessageInfo.ServiceId, send.Request.MessageInfo.MessageId
		}
		fault(rf)
		return
	}
	mi := send.Request.MessageInfo
	m.Key, m.ExternalID, m.CorrelationID, m.Sender = mi.ServiceId, mi.MessageId, firstOf(mi.CorrelationId, hdrCorr), mi.Sender.SenderId
	signer, rf := c.signature(ctx, frame, body, mi.Sender.SenderId)
	if rf != nil {
		fault(rf)
		return
	}
	rc, rf := c.take(ctx, in, m, send.Request, signer, true)
	if rf != nil {
		fault(rf)
		return
	}
	if rc.Duplicate && len(rc.Ack) > 0 {
		c.answer(w, m, rc.MessageID, http.StatusOK, rc.Ack)
		return
	}
	corr := mi.CorrelationId
	if corr == "" {
		corr = mi.MessageId
	}
	ack, err := shep.MarshalOp(shep.NSAsyncClient, shep.OpSendMessage+"Response", "response", &shepasync.AsyncSendMessageResponse{
		MessageId: mi.MessageId, CorrelationId: corr, ResponseDate: shep.XSDNow(c.now()), SessionId: mi.SessionId,
	})
	if err != nil {
		fault(&refusal{server: true, code: CodeUnavailable, msg: err.Error()})
		return
	}
	c.acknowledge(ctx, in, rc.MessageID, ack)
	c.answer(w, m, rc.MessageID, http.StatusOK, ack)
}

// take authenticates a sendMessage (pushed or polled) and hands it to the
// intake: Accept for an async route, Call for a sync one (the answer can
// only go back through the gateway later, so it is not sent here).
func (c *Channel) take(ctx context.Context, in adapters.Intake, m *adapters.Inbound, req *shep.InboundSendMessage, signer signed, checkPassword bool) (*adapters.Receipt, *refusal) {
	mi := req.MessageInfo
	m.Key, m.ExternalID, m.CorrelationID, m.Sender = mi.ServiceId, mi.MessageId, firstOf(mi.CorrelationId, m.CorrelationID), mi.Sender.SenderId
	props, rf := checkProps("messageInfo/properties", mi.Properties, func(p *shepasync.Property) (string, string) { return p.Key, p.Value })
	if rf != nil {
		return nil, rf
	}
	if checkPassword {
		if rf := c.authenticate(ctx, mi.Sender.SenderId, mi.Sender.Password, mi.ServiceId); rf != nil {
			return nil, rf
		}
	}
	exists, sync := in.Known(ChannelName, mi.ServiceId)
	if !exists {
		return nil, clientErr(CodeUnknownService, "service %q is not served by the ministry", mi.ServiceId)
	}
	d := &req.MessageData.Data
	m.Body, _ = json.Marshal(InboundMessage{
		Operation: shep.OpSendMessage, ServiceID: mi.ServiceId, MessageID: mi.MessageId, CorrelationID: mi.CorrelationId,
		MessageType: mi.MessageType, MessageDate: formatDate(mi.MessageDate.ToGoTime()), SenderID: mi.Sender.SenderId,
		SessionID: mi.SessionId, Properties: props, Signer: signer.subject, RevocationUnknown: signer.revocationUnknown, Data: d.InnerXML, DataType: d.Type(),
	})
	if !sync {
		rc, err := in.Accept(ctx, m)
		if err != nil {
			return nil, intakeRefusal(err)
		}
		c.flagRevocation(ctx, in, rc, signer)
		return rc, nil
	}
	_, rc, err := in.Call(ctx, m)
	c.flagRevocation(ctx, in, rc, signer)
	switch {
	case rc != nil && rc.Duplicate:
		return rc, nil
	case err != nil:
		var rj *adapters.RejectError
		if errors.As(err, &rj) || rc == nil {
			return nil, intakeRefusal(err)
		}
		return nil, &refusal{server: true, code: CodeDeliveryFailed, msg: "the ministry's subscriber did not answer: " + err.Error()}
	}
	return rc, nil
}

// statusNotification ties a gateway status change to the outbound message
// it is about, as an audit event on that message.
func (c *Channel) statusNotification(ctx context.Context, w http.ResponseWriter, in adapters.Intake, m *adapters.Inbound, frame *shep.Frame, body []byte, req *shepasync.AsyncChangeStatusNotifyRequest, fault func(*refusal)) {
	if rf := validateStatusNotification(req); rf != nil {
		fault(rf)
		return
	}
	n := req.Notification
	m.Key, m.ExternalID = shep.OpChangeStatusNotification, n.NotificationId
	// The notification names no sender: the gateway's signature is what
	// authenticates it.
	if _, rf := c.verify(ctx, frame, body, c.notifySigners, "a status notification"); rf != nil {
		fault(rf)
		return
	}
	var found *adapters.Found
	for _, route := range c.statusRoutes {
		f, err := in.Find(ctx, route, n.MessageId)
		if err == nil && f != nil {
			found = f
			break
		}
	}
	if found == nil {
		fault(clientErr(CodeUnknownMessage, "no message %q was sent by Köpir on routes %s", n.MessageId, strings.Join(c.statusRoutes, ", ")))
		return
	}
	detail := n.MessageState + " " + strings.TrimSpace(n.Status.StatusCode+" "+n.Status.StatusMessage)
	if e := n.Error; e != nil {
		detail += "; error " + e.ErrorCode + ": " + e.ErrorMessage
	}
	if err := in.Annotate(ctx, found.MessageID, "SHEP_STATUS", detail); err != nil {
		c.writeFault(w, found.MessageID, func(rf *refusal) ([]byte, error) { return c.asyncFault(shep.OpChangeStatusNotification, rf) },
			&refusal{server: true, code: CodeUnavailable, msg: "recording the status: " + err.Error()})
		return
	}
	ack, err := shep.MarshalOp(shep.NSAsyncClient, shep.OpChangeStatusNotification+"Response", "response", &shepasync.AsyncChangeStatusNotifyResponse{
		ResponseDate: shep.XSDNow(c.now()), SessionId: req.SessionId,
	})
	if err != nil {
		fault(&refusal{server: true, code: CodeUnavailable, msg: err.Error()})
		return
	}
	c.answer(w, m, found.MessageID, http.StatusOK, ack)
}

// ---- faults ----

type faultFunc func(*refusal) ([]byte, error)

func (c *Channel) syncFault(rf *refusal) ([]byte, error) {
	return shep.MarshalFault(rf.faultCode(), rf.msg, &shepsync.ErrorInfo{
		ErrorCode: rf.code, ErrorMessage: rf.msg, ErrorDate: shep.XSDNow(c.now()),
	})
}

func (c *Channel) asyncFault(op string, rf *refusal) ([]byte, error) {
	return shep.MarshalOpFault(shep.NSAsyncClient, op, rf.faultCode(), rf.msg, &shepasync.ErrorInfo{
		ErrorCode: rf.code, ErrorMessage: rf.msg, ErrorDate: shep.XSDNow(c.now()),
	})
}

func (rf *refusal) faultCode() string {
	if rf.server {
		return "soap:Server"
	}
	return "soap:Client"
}

// refuse records a refused message as REJECTED (our side's failures are
// not the sender's fault and are not recorded as rejections) and answers
// with the fault.
func (c *Channel) refuse(ctx context.Context, w http.ResponseWriter, in adapters.Intake, m *adapters.Inbound, rf *refusal, f faultFunc) {
	id := ""
	if !rf.server {
		id = in.Reject(ctx, m, &adapters.RejectError{Code: rf.code, Reason: rf.msg})
	}
	corr := correlationOf(m, id)
	c.Log.LogAttrs(ctx, slog.LevelInfo, "shep: inbound message refused", append(c.attrs(m, id, corr), slog.String("code", rf.code), slog.String("reason", short(rf.msg)))...)
	if corr != "" {
		w.Header().Set("X-Correlation-Id", corr)
	}
	c.writeFault(w, id, f, rf)
}

// answer writes the channel's answer to m and logs it, with the
// correlation id the store keeps for it.
func (c *Channel) answer(w http.ResponseWriter, m *adapters.Inbound, id string, status int, b []byte) {
	corr := correlationOf(m, id)
	level, msg := slog.LevelInfo, "shep: inbound message answered"
	if status >= 500 {
		level, msg = slog.LevelWarn, "shep: inbound message answered with a fault"
	}
	c.Log.LogAttrs(context.Background(), level, msg, append(c.attrs(m, id, corr), slog.Int("status", status))...)
	if corr != "" {
		w.Header().Set("X-Correlation-Id", corr)
	}
	writeXML(w, id, status, b)
}

// attrs are what every log line about an inbound message carries; fields
// from the sender are capped so a hostile message cannot flood the log.
func (c *Channel) attrs(m *adapters.Inbound, id, corr string) []slog.Attr {
	return []slog.Attr{
		slog.String("correlationId", short(corr)), slog.String("serviceId", short(m.Key)),
		slog.String("messageId", short(m.ExternalID)), slog.String("senderId", short(m.Sender)),
		slog.String("kopirMessageId", id),
	}
}

// correlationOf is the message's correlation id as the intake stores it:
// the sender's, or the bus's message id when the sender gave none.
func correlationOf(m *adapters.Inbound, id string) string {
	return firstOf(m.CorrelationID, id)
}

// headerCorrelation is a usable X-Correlation-Id sent with the message.
func headerCorrelation(r *http.Request) string {
	v := r.Header.Get("X-Correlation-Id")
	if len(v) == 0 || len(v) > 128 {
		return ""
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e {
			return ""
		}
	}
	return v
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// short caps a field that came from outside for a log line.
func short(v string) string {
	const limit = 256
	if len(v) <= limit {
		return v
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut] + "…"
}

func (c *Channel) writeFault(w http.ResponseWriter, id string, f faultFunc, rf *refusal) {
	b, err := f(rf)
	if err != nil {
		http.Error(w, rf.Error(), http.StatusInternalServerError)
		return
	}
	writeXML(w, id, http.StatusInternalServerError, b)
}

func (c *Channel) faultBytes(rc *adapters.Receipt, f faultFunc, rf *refusal) []byte {
	b, err := f(rf)
	if err != nil {
		return []byte(rf.Error())
	}
	return b
}

func (c *Channel) acknowledge(ctx context.Context, in adapters.Intake, id string, ack []byte) {
	if err := in.Acknowledge(context.WithoutCancel(ctx), id, ack); err != nil {
		c.Log.LogAttrs(ctx, slog.LevelError, "shep: storing the acknowledgement", slog.String("kopirMessageId", id), slog.String("err", err.Error()))
	}
}

// intakeRefusal maps what the intake said: a RejectError is the sender's
// problem, anything else (store down) ours, worth a retry by the sender.
func intakeRefusal(err error) *refusal {
	var rj *adapters.RejectError
	if errors.As(err, &rj) {
		code := rj.Code
		if code == "UNKNOWN_KEY" {
			code = CodeUnknownService
		}
		return &refusal{code: code, msg: rj.Reason}
	}
	return &refusal{server: true, code: CodeUnavailable, msg: "the message could not be stored: " + err.Error()}
}

func writeXML(w http.ResponseWriter, id string, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/xml; charset=utf-8")
	if id != "" {
		h.Set("X-Kopir-Message-Id", id)
	}
	w.WriteHeader(status)
	w.Write(b)
}

// statusOf answers a stored fault with 500 again, as SOAP 1.1 requires.
func statusOf(ack []byte) int {
	if bytes.Contains(ack, []byte(":Fault>")) {
		return http.StatusInternalServerError
	}
	return http.StatusOK
}

func idOf(rc *adapters.Receipt) string {
	if rc == nil {
		return ""
	}
	return rc.MessageID
}

func formatDate(t time.Time) string {
	if t.Year() <= 1 {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
