// Package config loads Köpir's YAML configuration: listeners, backing
// services, callers and the route table. Every error names the file, the
// route and the field, because an operator reading a failed start-up has
// nothing else to go on.
package config

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/units"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/routes"
	"gopkg.in/yaml.v3"
)

// Config is the whole file.
type Config struct {
	Listen   Listen `yaml:"listen"`
	DataDir  string `yaml:"dataDir"`
	Database string `yaml:"database"` // DSN; empty = SQLite under DataDir
	NATS     string `yaml:"nats"`     // URL; empty = embedded JetStream under DataDir
	// NATSStream names the JetStream stream, so several buses (or test
	// runs) can share one NATS server; default KOPIR.
	NATSStream string `yaml:"natsStream"`
	// NATSReplicas is how many JetStream servers keep a copy of the
	// stream and of the bus's key-value buckets (leases, replay jobs):
	// 1 for the embedded or a single server, 3 on a three-server cluster.
	// An existing stream's replicas are never lowered by a start.
	NATSReplicas int `yaml:"natsReplicas"`
	// ShutdownGrace bounds how long a stopping node finishes requests in
	// flight after it has failed its readiness (default 10s); the
	// deployment files size their stop timeouts from it.
	ShutdownGrace units.Duration `yaml:"shutdownGrace"`
	Redis         string         `yaml:"redis"` // URL; empty = no Redis
	// PersonalDataKey keys the hash of personal-data fields a route hashes.
	PersonalDataKey string `yaml:"personalDataKey"`
	// Demo allows plain-text tokens; only deploy/local.yaml sets it.
	Demo    bool          `yaml:"demo"`
	Callers []Caller      `yaml:"callers"`
	Admins  []Admin       `yaml:"admins"`
	Limits  Limits        `yaml:"limits"`
	Routes  []routes.Spec `yaml:"routes"`
	// Channels are the inbound edges mounted on the agency listener.
	Channels []Channel `yaml:"channels"`
	// Evidence keeps signed documents, encrypted, for their retention.
	Evidence Evidence `yaml:"evidence"`
	// Clock makes the bus's business clock a simulated one (demo only).
	Clock Clock `yaml:"clock"`
	// Console is the operators' console on the admin listener.
	Console Console `yaml:"console"`
	// Audit schedules the walk of the audit chain.
	Audit Audit `yaml:"audit"`

	file string
}

// Audit schedules the audit chain's verification: one node of a cluster
// walks the whole chain every VerifyEvery (default 1h) and reports it in
// the kopir_audit_* metrics, which the alert rules watch.
type Audit struct {
	VerifyEvery units.Duration `yaml:"verifyEvery"`
}

// DefaultAuditVerifyEvery is Audit.VerifyEvery's default.
const DefaultAuditVerifyEvery = time.Hour

// Console configures the operators' console at /console/ on the admin
// listener. Its users sign in with the admins' tokens.
type Console struct {
	// Disabled leaves the console out; the admin API stays.
	Disabled bool `yaml:"disabled"`
	// SessionIdle signs an operator out after this long without a request
	// (default 30m); SessionMax after this long in all (default 8h).
	SessionIdle units.Duration `yaml:"sessionIdle"`
	SessionMax  units.Duration `yaml:"sessionMax"`
}

// Evidence configures the keeping of signed documents as received or sent.
type Evidence struct {
	// Keys seal the documents at rest: the first seals new records, the
	// others only open older ones (rotation). None: evidence is not kept,
	// unless demo: true, where a fixed demo key is used.
	Keys []EvidenceKey `yaml:"keys"`
	// Retention applies to routes without evidenceRetention of their own.
	Retention units.Duration `yaml:"retention"`
	// PurgeEvery is how often expired records are deleted.
	PurgeEvery units.Duration `yaml:"purgeEvery"`
	// Trust is what a kept signature is re-verified against.
	Trust xmlsig.TrustConfig `yaml:"trust"`
}

// EvidenceKey is one AES-256 key: 32 bytes as base64 or hex in key, or in
// the file keyFile (raw, base64 or hex).
type EvidenceKey struct {
	ID      string `yaml:"id"`
	Key     string `yaml:"key"`
	KeyFile string `yaml:"keyFile"`
}

// Default evidence retention and purge interval.
const (
	DefaultEvidenceRetention = 5 * 365 * 24 * time.Hour
	DefaultEvidencePurge     = time.Hour
)

// Clock chooses the clock business rules read (trading windows,
// deadlines, record dates): the system's, or, in a demo config, a
// simulated one that starts at Start (default: the system time) and is set
// and advanced through the admin API (PUT /admin/v1/clock), so that a
// trading day passes in seconds.
type Clock struct {
	Simulated bool   `yaml:"simulated"`
	Start     string `yaml:"start"` // RFC 3339
}

// StartTime is when a simulated clock starts; zero: the system time.
func (c Clock) StartTime() (time.Time, error) {
	if c.Start == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339, c.Start)
}

// Listen holds the three listener addresses.
type Listen struct {
	Internal string `yaml:"internal"`
	Agency   string `yaml:"agency"`
	Admin    string `yaml:"admin"`
	// AgencyTLS serves the agency listener over TLS; a channel with
	// clientCerts needs it. Without it the listener speaks plain HTTP, as
	// it does behind a TLS-terminating gateway.
	AgencyTLS *ListenerTLS `yaml:"agencyTLS"`
}

// ListenerTLS is a listener's own certificate: PEM files, the chain in
// cert (leaf first).
type ListenerTLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// ClientCerts makes the core ask a channel's clients for a TLS client
// certificate and verify it against the roots given (with the chain's
// validity, the CRL files and the policy OID, as signatures are). A
// certificate that fails is refused before the channel sees the request
// (403 client-certificate-untrusted); none at all is refused when
// required (401 client-certificate-required). The verified certificate
// reaches the channel, which binds it to the senders it may speak for
// (e.g. the SHEP channel's senders[].clients).
type ClientCerts struct {
	Required           bool `yaml:"required"`
	xmlsig.TrustConfig `yaml:",inline"`
}

// Limits that apply to every route unless the route says otherwise, and
// to every listener.
type Limits struct {
	MaxBody units.ByteSize `yaml:"maxBody"`
	// Large inbound documents (bodies over LargeBody, or of unknown length)
	// are processed LargeConcurrent at a time; one that waits longer than
	// LargeWait is answered 503 with Retry-After. A large XML document costs
	// many times its size while it is validated and translated, so this is
	// what bounds the bus's memory.
	LargeBody       units.ByteSize `yaml:"largeBody"`
	LargeConcurrent int            `yaml:"largeConcurrent"`
	LargeWait       units.Duration `yaml:"largeWait"`
	// HTTP bounds what one client may take of each listener.
	HTTP HTTPLimits `yaml:"http"`
}

// HTTPLimits bound what one client may take of a listener. Each of the
// three listeners applies them on its own (its own counters). A field left
// out takes its default (DefaultHTTPLimits).
type HTTPLimits struct {
	// ReadHeaderTimeout bounds reading a request's line and headers.
	ReadHeaderTimeout units.Duration `yaml:"readHeaderTimeout"`
	// BodyReadTimeout bounds reading a request's body, from its first
	// read (once a large document is admitted, on the agency listener): a
	// body still arriving then is cut off with 408.
	BodyReadTimeout units.Duration `yaml:"bodyReadTimeout"`
	// WriteTimeout bounds a request from the end of its headers to the
	// end of its answer: a large document's wait, body, route deadline and
	// answer together.
	WriteTimeout units.Duration `yaml:"writeTimeout"`
	// IdleTimeout closes a kept-alive connection with no request.
	IdleTimeout units.Duration `yaml:"idleTimeout"`
	// MaxHeaderBytes is 431 above it (names and values of all headers).
	MaxHeaderBytes units.ByteSize `yaml:"maxHeaderBytes"`
	// MaxURIBytes is 414 above it (path and query as sent).
	MaxURIBytes units.ByteSize `yaml:"maxURIBytes"`
	// MaxConcurrent requests in flight on the listener; 503 above it.
	MaxConcurrent int `yaml:"maxConcurrent"`
	// MaxPerClient requests in flight from one client address; 503 above it.
	MaxPerClient int `yaml:"maxPerClient"`
	// RetryAfter is what a 503 past either cap tells the client.
	RetryAfter units.Duration `yaml:"retryAfter"`
}

// DefaultHTTPLimits are the listeners' limits when the config says nothing.
var DefaultHTTPLimits = HTTPLimits{
	ReadHeaderTimeout: units.Duration(10 * time.Second),
	BodyReadTimeout:   units.Duration(30 * time.Second),
	WriteTimeout:      units.Duration(2 * time.Minute),
	IdleTimeout:       units.Duration(2 * time.Minute),
	MaxHeaderBytes:    1 << 20,
	MaxURIBytes:       2 << 20,
	MaxConcurrent:     512,
	MaxPerClient:      64,
	RetryAfter:        units.Duration(time.Second),
}

// MaxRequestHead is the most of a request's line and headers a listener
// reads at all; MaxHeaderBytes and MaxURIBytes must fit in it together, so
// that a request over them is read, refused and recorded by the bus rather
// than cut off by the HTTP server unrecorded. The defaults are generous on
// purpose: a 1 MB route name or a 64 KiB token is refused by what it is
// (401, 404), recorded bounded, rather than by its size.
const MaxRequestHead = 4 << 20

func (h *HTTPLimits) applyDefaults() {
	d := DefaultHTTPLimits
	for _, f := range []struct{ v, def *units.Duration }{
		{&h.ReadHeaderTimeout, &d.ReadHeaderTimeout}, {&h.BodyReadTimeout, &d.BodyReadTimeout},
		{&h.WriteTimeout, &d.WriteTimeout}, {&h.IdleTimeout, &d.IdleTimeout}, {&h.RetryAfter, &d.RetryAfter},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	if h.MaxHeaderBytes == 0 {
		h.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if h.MaxURIBytes == 0 {
		h.MaxURIBytes = d.MaxURIBytes
	}
	if h.MaxConcurrent == 0 {
		h.MaxConcurrent = d.MaxConcurrent
	}
	if h.MaxPerClient == 0 {
		h.MaxPerClient = d.MaxPerClient
	}
}

// validate checks the limits against each other and against the sync
// routes, whose answer must fit in the write timeout after the body.
func (h HTTPLimits) validate(file string, largeWait units.Duration, rs []routes.Spec) []error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, &FieldError{File: file, Field: "limits.http." + field, Msg: fmt.Sprintf(format, a...)})
	}
	if h.MaxConcurrent < 0 {
		bad("maxConcurrent", "must not be negative")
	}
	if h.MaxPerClient < 0 || h.MaxPerClient > h.MaxConcurrent {
		bad("maxPerClient", "%d is outside 1..maxConcurrent (%d)", h.MaxPerClient, h.MaxConcurrent)
	}
	if h.MaxHeaderBytes < 1<<10 || h.MaxURIBytes < 256 || h.MaxHeaderBytes+h.MaxURIBytes > MaxRequestHead {
		bad("maxHeaderBytes", "%d (with maxURIBytes %d) is outside 1KiB..4MiB together (maxURIBytes at least 256)", h.MaxHeaderBytes, h.MaxURIBytes)
	}
	if h.WriteTimeout <= h.BodyReadTimeout+largeWait {
		bad("writeTimeout", "%s must be longer than bodyReadTimeout %s plus limits.largeWait %s, or a slow or waiting body is cut off without its answer",
			h.WriteTimeout.D(), h.BodyReadTimeout.D(), largeWait.D())
	}
	for _, r := range rs {
		if r.Mode == routes.Sync && r.Deadline.D()+h.BodyReadTimeout.D() >= h.WriteTimeout.D() {
			errs = append(errs, &FieldError{File: file, Route: r.Name, Field: "deadline", Msg: fmt.Sprintf(
				"%s plus limits.http.bodyReadTimeout %s does not fit in limits.http.writeTimeout %s: the answer would be cut off",
				r.Deadline.D(), h.BodyReadTimeout.D(), h.WriteTimeout.D())})
		}
	}
	return errs
}

// Channel is one inbound channel on the agency listener.
type Channel struct {
	Name    string         `yaml:"name"`  // a registered channel, e.g. shep
	Mount   string         `yaml:"mount"` // path prefix, e.g. /shep
	MaxBody units.ByteSize `yaml:"maxBody"`
	// ClientCerts asks the channel's clients for TLS client certificates
	// (listen.agencyTLS needed).
	ClientCerts *ClientCerts `yaml:"clientCerts"`
	Options     yaml.Node    `yaml:"options"`
}

// Caller is an internal system (or operator) allowed to call the bus.
type Caller struct {
	Name        string `yaml:"name"`
	Token       string `yaml:"token"`       // plain text, demo configs only
	TokenSHA256 string `yaml:"tokenSHA256"` // hex SHA-256 of the bearer token
}

// Matches reports whether token is this caller's, in constant time.
func (c Caller) Matches(token string) bool {
	sum := sha256.Sum256([]byte(token))
	want := c.TokenSHA256
	if want == "" {
		want = HashToken(c.Token)
	}
	got := hex.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(strings.ToLower(want))) == 1
}

// HashToken is what goes into tokenSHA256.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// File is the path the config was read from.
func (c *Config) File() string { return c.file }

// Load reads, applies defaults and environment overrides, and validates.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, raw)
}

// Parse is Load for bytes already read; path is only used in errors.
func Parse(path string, raw []byte) (*Config, error) {
	c := &Config{file: path}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	replaced, err := c.resolveSecretFiles(&doc)
	if err != nil {
		return nil, err
	}
	if replaced {
		// Decoding strictly (unknown keys refused) needs a Decoder, which
		// reads bytes: the document with its secrets in place.
		var buf bytes.Buffer
		if err := yaml.NewEncoder(&buf).Encode(&doc); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		raw = buf.Bytes()
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.applyEnv(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// applyEnv takes each override from the environment, or from the file its
// _FILE variant names.
func (c *Config) applyEnv() error {
	var errs []error
	for env, dst := range c.envOverrides() {
		errs = append(errs, FromEnv(env, dst))
	}
	return errors.Join(errs...)
}

// Defaults for a route field left out.
const (
	DefaultTimeout  = 5 * time.Second
	DefaultDeadline = 15 * time.Second
	DefaultMaxBody  = 64 << 10
	// DefaultLargeBody: 1 MiB; a pacs.002 is a few KiB, a day's statement
	// of a busy account several MiB.
	DefaultLargeBody = 1 << 20
	DefaultLargeWait = 60 * time.Second
	// DefaultShutdownGrace: what a sync call's default deadline (15s)
	// mostly fits in, short enough for a rolling restart to move on.
	DefaultShutdownGrace = 10 * time.Second
)

func (c *Config) applyDefaults() {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&c.Listen.Internal, "127.0.0.1:8080")
	def(&c.Listen.Agency, "127.0.0.1:8081")
	def(&c.Listen.Admin, "127.0.0.1:8082")
	def(&c.DataDir, "./data")
	if c.Limits.MaxBody == 0 {
		c.Limits.MaxBody = DefaultMaxBody
	}
	if c.Limits.LargeBody == 0 {
		c.Limits.LargeBody = DefaultLargeBody
	}
	if c.Limits.LargeConcurrent == 0 {
		c.Limits.LargeConcurrent = 1
	}
	if c.Limits.LargeWait == 0 {
		c.Limits.LargeWait = units.Duration(DefaultLargeWait)
	}
	if c.NATSReplicas == 0 {
		c.NATSReplicas = 1
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = units.Duration(DefaultShutdownGrace)
	}
	if c.Evidence.Retention == 0 {
		c.Evidence.Retention = units.Duration(DefaultEvidenceRetention)
	}
	if c.Audit.VerifyEvery == 0 {
		c.Audit.VerifyEvery = units.Duration(DefaultAuditVerifyEvery)
	}
	if c.Evidence.PurgeEvery == 0 {
		c.Evidence.PurgeEvery = units.Duration(DefaultEvidencePurge)
	}
	c.Limits.HTTP.applyDefaults()
	for i := range c.Routes {
		r := &c.Routes[i]
		if r.Mode == "" {
			r.Mode = routes.Sync
		}
		if r.Timeout == 0 {
			r.Timeout = units.Duration(DefaultTimeout)
		}
		if r.Deadline == 0 {
			r.Deadline = units.Duration(DefaultDeadline)
			if r.Mode == routes.Async {
				r.Deadline = units.Duration(24 * time.Hour)
			}
		}
		if r.Retry.Attempts == 0 {
			r.Retry.Attempts = 3
		}
		if r.Retry.Backoff == 0 {
			r.Retry.Backoff = units.Duration(100 * time.Millisecond)
		}
		if r.Retry.Cap == 0 {
			r.Retry.Cap = units.Duration(5 * time.Second)
		}
		if r.Breaker.Failures == 0 {
			r.Breaker.Failures = 5
		}
		if r.Breaker.OpenFor == 0 {
			r.Breaker.OpenFor = units.Duration(30 * time.Second)
		}
		if r.Breaker.HalfOpenProbes == 0 {
			r.Breaker.HalfOpenProbes = 1
		}
		if r.MaxBody == 0 {
			r.MaxBody = c.Limits.MaxBody
		}
	}
}

// FieldError names where in the file a value is wrong.
type FieldError struct {
	File  string
	Route string // empty for top-level fields
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Route != "" {
		return fmt.Sprintf("%s: route %q: %s: %s", e.File, e.Route, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.File, e.Field, e.Msg)
}

// Validate checks everything that can be checked without building
// anything, including that each route's adapter and each channel exists.
// Their options are checked by their factories when the app builds them,
// once (app.Check does it for kopir config check), and a refusal is
// reported as a *FieldError naming the route and "options".
func (c *Config) Validate() error {
	var errs []error
	top := func(field, format string, a ...any) {
		errs = append(errs, &FieldError{File: c.file, Field: field, Msg: fmt.Sprintf(format, a...)})
	}
	for name, addr := range map[string]string{"listen.internal": c.Listen.Internal, "listen.agency": c.Listen.Agency, "listen.admin": c.Listen.Admin} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			top(name, "%q is not host:port", addr)
		}
	}
	if t := c.Listen.AgencyTLS; t != nil && (t.Cert == "" || t.Key == "") {
		top("listen.agencyTLS", "give both cert and key (PEM files)")
	}
	if len(c.Evidence.Trust.CRLURLs) > 0 {
		// Verification of kept documents reads CRL files only; URLs nothing
		// fetches would make every signature's revocation status unknown.
		top("evidence.trust.crlURLs", "not fetched for evidence: give the CRLs as files (evidence.trust.crls)")
	}
	if c.Evidence.Trust.OCSP != nil {
		// An OCSP answer is about now; a kept signature is judged as of its
		// signing time, against the CRLs of then.
		top("evidence.trust.ocsp", "not asked for evidence: give the CRLs as files (evidence.trust.crls)")
	}
	if c.NATSReplicas < 1 || c.NATSReplicas > 5 {
		// JetStream refuses more than five replicas.
		top("natsReplicas", "%d is not a JetStream replica count (1 to 5)", c.NATSReplicas)
	}
	if c.Console.SessionMax > 0 && c.Console.SessionIdle > c.Console.SessionMax {
		top("console.sessionIdle", "%s is longer than sessionMax %s, which would end every session first", c.Console.SessionIdle.D(), c.Console.SessionMax.D())
	}
	if c.Limits.LargeBody < 0 || c.Limits.LargeConcurrent < 0 || c.Limits.LargeWait < 0 {
		top("limits", "largeBody, largeConcurrent and largeWait must not be negative")
	}
	callers := map[string]bool{}
	checkCallers := func(kind string, list []Caller) {
		for i, cl := range list {
			f := fmt.Sprintf("%s[%d]", kind, i)
			switch {
			case cl.Name == "":
				top(f+".name", "is required")
			case cl.Token == "" && cl.TokenSHA256 == "":
				top(f, "caller %q needs tokenSHA256", cl.Name)
			case cl.Token != "" && !c.Demo:
				top(f+".token", "plain-text tokens are allowed only with demo: true; store tokenSHA256 (kopir token hash) instead")
			case cl.TokenSHA256 != "" && len(cl.TokenSHA256) != 64:
				top(f+".tokenSHA256", "must be 64 hex characters")
			}
			if kind == "callers" {
				callers[cl.Name] = true
			}
		}
	}
	checkCallers("callers", c.Callers)
	admins := make([]Caller, len(c.Admins))
	for i, a := range c.Admins {
		admins[i] = a.Caller
		if err := a.Role.check(); err != nil {
			top(fmt.Sprintf("admins[%d].role", i), "%v", err)
		}
	}
	checkCallers("admins", admins)
	if c.Clock.Simulated && !c.Demo {
		top("clock.simulated", "a simulated clock is for demos and tests only (demo: true)")
	}
	if _, err := c.Clock.StartTime(); err != nil || c.Clock.Start != "" && !c.Clock.Simulated {
		top("clock.start", "%q must be an RFC 3339 time (e.g. 2026-12-01T09:00:00+05:00), given with simulated: true", c.Clock.Start)
	}
	if len(c.Admins) == 0 {
		top("admins", "at least one admin is required for the admin API")
	}
	if err := c.checkPersonalDataKey(); err != nil {
		errs = append(errs, err)
	}
	keyIDs := map[string]bool{}
	for i, k := range c.Evidence.Keys {
		f := fmt.Sprintf("evidence.keys[%d]", i)
		switch {
		case k.ID == "":
			top(f+".id", "is required (it is stored with each record, so keys can rotate)")
		case keyIDs[k.ID]:
			top(f+".id", "key id %q is given twice", k.ID)
		case (k.Key == "") == (k.KeyFile == ""):
			top(f, "give exactly one of key and keyFile")
		}
		keyIDs[k.ID] = true
	}
	errs = append(errs, c.Limits.HTTP.validate(c.file, c.Limits.LargeWait, c.Routes)...)
	chans := map[string]bool{}
	for i := range c.Channels {
		ch := &c.Channels[i]
		f := fmt.Sprintf("channels[%d]", i)
		if ch.Mount == "" {
			ch.Mount = "/" + ch.Name
		}
		if ch.MaxBody == 0 {
			ch.MaxBody = 1 << 20
		}
		if !strings.HasPrefix(ch.Mount, "/") || strings.HasSuffix(ch.Mount, "/") {
			top(f+".mount", "%q must start with / and not end with /", ch.Mount)
		}
		if chans[ch.Name] {
			top(f+".name", "channel %q is configured twice", ch.Name)
		}
		chans[ch.Name] = true
		if cc := ch.ClientCerts; cc != nil {
			switch {
			case c.Listen.AgencyTLS == nil:
				top(f+".clientCerts", "client certificates need TLS on the agency listener (listen.agencyTLS)")
			case len(cc.Roots) == 0:
				top(f+".clientCerts.roots", "at least one root to verify client certificates against is required")
			case len(cc.CRLURLs) > 0 || cc.Refresh != 0:
				top(f+".clientCerts.crlURLs", "not fetched for client certificates: give the CRLs as files (clientCerts.crls)")
			case cc.OCSP != nil:
				top(f+".clientCerts.ocsp", "not asked for client certificates: give the CRLs as files (clientCerts.crls)")
			}
		}
		// Options are checked by the channel's factory when the app builds
		// it (once); kopir config check does the same.
		if _, ok := adapters.LookupChannel(ch.Name); !ok {
			top(f+".name", "unknown channel %q (known: %s)", ch.Name, strings.Join(adapters.ChannelNames(), ", "))
		}
	}
	inboundKeys := map[string]string{}
	seen := map[string]bool{}
	for i := range c.Routes {
		r := &c.Routes[i]
		name := r.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		bad := func(field, format string, a ...any) {
			errs = append(errs, &FieldError{File: c.file, Route: name, Field: field, Msg: fmt.Sprintf(format, a...)})
		}
		if r.Name == "" {
			bad("name", "is required")
		} else if seen[r.Name] {
			bad("name", "duplicate route name")
		}
		seen[r.Name] = true
		if r.Mode != routes.Sync && r.Mode != routes.Async {
			bad("mode", "%q is neither sync nor async", r.Mode)
		}
		if len(r.Endpoints) == 0 {
			bad("endpoints", "at least one endpoint URL is required")
		}
		for j, ep := range r.Endpoints {
			if !strings.HasPrefix(ep, "http://") && !strings.HasPrefix(ep, "https://") {
				bad(fmt.Sprintf("endpoints[%d]", j), "%q is not an http(s) URL", ep)
			}
		}
		if r.Timeout.D() > r.Deadline.D() {
			bad("timeout", "per-attempt timeout %s is longer than the deadline %s", r.Timeout.D(), r.Deadline.D())
		}
		if r.Retry.Attempts < 1 || r.Retry.Attempts > 100 {
			bad("retry.attempts", "%d is outside 1..100", r.Retry.Attempts)
		}
		if r.Retry.Cap.D() < r.Retry.Backoff.D() {
			bad("retry.cap", "%s is shorter than retry.backoff %s", r.Retry.Cap.D(), r.Retry.Backoff.D())
		}
		if r.Concurrency < 0 {
			bad("concurrency", "must not be negative")
		}
		if r.CacheTTL < 0 {
			bad("cacheTTL", "must not be negative")
		}
		if r.CacheTTL > 0 && r.Mode == routes.Async {
			bad("cacheTTL", "async routes are not cached")
		}
		if r.Held.FourEyes && r.Mode != routes.Async {
			bad("held.fourEyes", "only async routes hold messages (a sync caller waits for its answer)")
		}
		if in := r.Inbound; in != nil {
			if !chans[in.Channel] {
				bad("inbound.channel", "channel %q is not configured under channels", in.Channel)
			}
			if in.Key == "" {
				bad("inbound.key", "is required (what the channel routes by, e.g. a serviceId)")
			}
			k := in.Channel + " " + in.Key
			if other, dup := inboundKeys[k]; dup {
				bad("inbound.key", "channel %s key %s already goes to route %s", in.Channel, in.Key, other)
			}
			inboundKeys[k] = name
			if len(r.Callers) > 0 {
				bad("callers", "an inbound route is not called by internal callers")
			}
		} else if len(r.Callers) == 0 {
			bad("callers", "no caller may use this route; name at least one")
		}
		for j, cl := range r.Callers {
			if !callers[cl] {
				bad(fmt.Sprintf("callers[%d]", j), "unknown caller %q", cl)
			}
		}
		if _, ok := adapters.Lookup(r.Adapter); !ok {
			bad("adapter", "unknown adapter %q (known: %s)", r.Adapter, strings.Join(adapters.Names(), ", "))
		}
	}
	return errors.Join(errs...)
}

// checkPersonalDataKey refuses hashing without a key outside the demo: an
// unkeyed digest of an IIN (twelve digits, half of them a birth date) is
// reversed by hashing every candidate, so it protects nothing.
func (c *Config) checkPersonalDataKey() error {
	if c.Demo || c.PersonalDataKey != "" {
		return nil
	}
	var hashing []string
	for _, r := range c.Routes {
		if len(r.PersonalData.Hash) > 0 {
			hashing = append(hashing, r.Name)
		}
	}
	if len(hashing) == 0 {
		return nil
	}
	return &FieldError{File: c.file, Field: "personalDataKey", Msg: fmt.Sprintf(
		"route(s) %s hash personal data (personalData.hash) but no key is set; set personalDataKey in the file or KOPIR_PERSONAL_DATA_KEY in the environment",
		strings.Join(hashing, ", "))}
}

// DataPath is a path inside the data directory.
func (c *Config) DataPath(elem ...string) string {
	return filepath.Join(append([]string{c.DataDir}, elem...)...)
}
