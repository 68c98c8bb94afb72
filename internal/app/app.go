// Package app assembles a running bus from a config: store, broker, caches,
// the route table, the delivery worker and the three listeners.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/admin"
	"github.com/minfin-kz/kopir/internal/broker"
	"github.com/minfin-kz/kopir/internal/cache"
	"github.com/minfin-kz/kopir/internal/clock"
	"github.com/minfin-kz/kopir/internal/config"
	"github.com/minfin-kz/kopir/internal/console"
	"github.com/minfin-kz/kopir/internal/delivery"
	"github.com/minfin-kz/kopir/internal/evidence"
	"github.com/minfin-kz/kopir/internal/held"
	"github.com/minfin-kz/kopir/internal/httpapi"
	"github.com/minfin-kz/kopir/internal/httpguard"
	"github.com/minfin-kz/kopir/internal/idem"
	"github.com/minfin-kz/kopir/internal/intake"
	"github.com/minfin-kz/kopir/internal/lease"
	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/metrics"
	"github.com/minfin-kz/kopir/internal/ratelimit"
	"github.com/minfin-kz/kopir/internal/redisconn"
	"github.com/minfin-kz/kopir/internal/resilience"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/internal/tracing"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/internal/xsd"
	"github.com/minfin-kz/kopir/routes"
)

// App is one bus process.
type App struct {
	Config   *config.Config
	Log      *slog.Logger
	Store    *store.SQLStore
	Ledger   *ledger.Ledger
	Broker   *broker.Broker
	Redis    *redisconn.Conn // nil without Redis: claims, cache and limits are then in-process
	Metrics  *metrics.Metrics
	Breakers *resilience.Breakers
	Routes   *routes.Table
	Worker   *delivery.Worker
	Replayer *delivery.Replayer
	// Leases run the singletons (pollers, scheduled jobs, bulk replays)
	// on one node of a cluster at a time.
	Leases *lease.Manager
	Intake *intake.Intake
	// Held is the held-for-clarification queue's operators' actions.
	Held     *held.Service
	Evidence *evidence.Vault
	// Tracing is the tracer provider, from the OTEL_* environment; it is
	// flushed by Close.
	Tracing  *tracing.Tracing
	channels []mountedChannel
	// clock is what components read the time of day from; sim is set
	// when it is simulated (clock.simulated).
	clock func() time.Time
	sim   *clock.Simulated
	// agencyTLS is the agency listener's TLS config; nil: plain HTTP.
	agencyTLS *tls.Config

	ready atomic.Bool
	ctx   context.Context // New's, for checks made on behalf of the admin API
}

// New opens everything the config names. Close releases it.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ *App, err error) {
	a := &App{Config: cfg, Log: log, Metrics: metrics.New(), ctx: context.WithoutCancel(ctx)}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if a.Tracing, err = tracing.FromEnv(ctx, log.With("component", "tracing")); err != nil {
		return nil, fmt.Errorf("traces: %w", err)
	}
	if a.Tracing.Exporting() {
		log.Info("exporting traces over OTLP/HTTP", "endpoint", tracingEndpoint())
	}
	dsn := cfg.Database
	if dsn == "" {
		dsn = "sqlite://" + filepath.Join(cfg.DataDir, "kopir.db")
	}
	if a.Store, err = store.Open(ctx, dsn); err != nil {
		return nil, fmt.Errorf("message store: %w", err)
	}
	a.Metrics.WatchStoreWriter(a.Store)
	if a.Broker, err = broker.Open(ctx, brokerConfig(cfg, log)); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	if a.Redis, err = redisconn.Open(ctx, cfg.Redis); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	a.Breakers = resilience.NewBreakers(func(endpoint, from, to string) {
		log.Warn("circuit breaker changed state", "endpoint", endpoint, "from", from, "to", to)
		a.Metrics.BreakerState.WithLabelValues(endpoint).Set(metrics.BreakerValue(to))
	})
	a.Ledger = ledger.New(a.Store, cfg.Routes, cfg.PersonalDataKey, log.With("component", "ledger"))
	keys, trust, err := loadEvidence(cfg)
	if err != nil {
		return nil, err
	}
	a.Ledger.KeepEvidence(keys, cfg.Routes, cfg.Evidence.Retention.D())
	switch {
	case keys == nil:
		log.Warn("evidence keeping is off: no evidence.keys configured, signed documents are not kept")
	case keys.Demo():
		log.Warn("evidence is sealed with the built-in demo key (demo: true): not for production")
	}
	a.Evidence = &evidence.Vault{Store: a.Store, Keys: keys, Trust: trust}
	a.Worker = &delivery.Worker{Store: a.Store, Ledger: a.Ledger, Broker: brokerAdapter{a.Broker}, Metrics: a.Metrics, Log: log, Backoff: resilience.Backoff,
		Tracer: a.Tracing.Tracer()}
	a.Replayer = &delivery.Replayer{Worker: a.Worker}
	if err := a.openCluster(ctx); err != nil {
		return nil, err
	}
	if err := a.build(routes.Deps{Ledger: a.Ledger, Queue: a.Worker, Cache: cache.New(a.Redis), Limiter: ratelimit.New(a.Redis),
		Claims: idem.New(a.Redis), Meter: a.Metrics, Log: log}); err != nil {
		return nil, err
	}
	a.Worker.Routes = a.Routes
	a.Intake = intake.New(a.Routes, a.Store, a.Ledger, a.Worker, log)
	a.Held = &held.Service{Store: a.Store, Ledger: a.Ledger, Routes: a.Routes, Queue: a.Worker, Intake: a.Intake,
		Channels: map[string]adapters.Channel{}, Log: log.With("component", "held")}
	for _, mc := range a.channels {
		a.Held.Channels[mc.spec.Name] = mc.ch
	}
	return a, nil
}

// build makes every component of the config once: the route table with
// each route's adapter, and the inbound channels. A component refusing its
// options is reported as the config's error, naming file, route and field.
func (a *App) build(d routes.Deps) (err error) {
	cfg := a.Config
	d.Resources = a.resources
	d.Tracer = a.tracing().Tracer()
	d.Transport = func(spec routes.Spec, attempts int) (adapters.Transport, error) {
		return resilience.NewClient(resilience.Options{
			Endpoints: spec.Endpoints, Retry: withAttempts(spec.Retry, attempts), Breaker: spec.Breaker,
			AttemptTimeout: spec.Timeout.D(), MaxResponseBytes: 16 << 20, Breakers: a.Breakers,
		})
	}
	if a.Routes, err = routes.Build(cfg.Routes, d); err != nil {
		var be *routes.BuildError
		if errors.As(err, &be) {
			return &config.FieldError{File: cfg.File(), Route: be.Route, Field: be.Field, Msg: be.Err.Error()}
		}
		return err
	}
	if err := a.setClock(); err != nil {
		return err
	}
	if a.agencyTLS, err = agencyTLS(cfg.File(), cfg.Listen.AgencyTLS); err != nil {
		return err
	}
	for i, spec := range cfg.Channels {
		factory, _ := adapters.LookupChannel(spec.Name) // config validation checked it exists
		peers, err := clientTrust(cfg.File(), i, spec)
		if err != nil {
			return err
		}
		ch, err := factory(adapters.ChannelConfig{Name: spec.Name, Options: adapters.YAMLOptions{Node: &spec.Options},
			BaseURL: channelBaseURL(cfg.Listen.Agency, cfg.Listen.AgencyTLS != nil, spec.Mount), ClientCerts: peers != nil}, a.resources("channel", spec.Name, ""))
		if err != nil {
			return &config.FieldError{File: cfg.File(), Field: fmt.Sprintf("channels[%d].options", i), Msg: err.Error()}
		}
		a.channels = append(a.channels, mountedChannel{spec, ch, peers})
	}
	return nil
}

// internalAPI is the internal API with the endpoints the channels add.
func (a *App) internalAPI(guard *httpguard.Listener) *httpapi.Server {
	cfg := a.Config
	internal := &httpapi.Server{Routes: a.Routes, Callers: cfg.Callers, Store: a.Store, Log: a.Log, MaxBody: int64(cfg.Limits.MaxBody), Guard: guard}
	for _, mc := range a.channels {
		if api, ok := mc.ch.(adapters.InternalAPI); ok {
			handlers, guarded := api.InternalRoutes(a.Intake)
			for pattern, h := range handlers {
				internal.Extra = append(internal.Extra, httpapi.Extra{Pattern: pattern, Handler: h, Routes: guarded})
			}
		}
	}
	return internal
}

// OpenAPI is the OpenAPI document of cfg's internal or admin listener,
// built from the components as Check builds them (nothing is opened or
// served): what docs/ keeps for a deployment's config.
func OpenAPI(cfg *config.Config, listener string) ([]byte, error) {
	switch listener {
	case "internal":
	case "admin":
		// The admin API is the same whatever the config says.
		return (&admin.Server{}).OpenAPI()
	default:
		return nil, fmt.Errorf("no listener %q has an OpenAPI document (internal or admin)", listener)
	}
	a := &App{Config: cfg, Log: slog.New(slog.DiscardHandler), Metrics: metrics.New(), Breakers: resilience.NewBreakers(nil), ctx: context.Background()}
	defer a.Close()
	if err := a.build(routes.Deps{Queue: noQueue{}, Meter: a.Metrics, Log: a.Log}); err != nil {
		return nil, err
	}
	return a.internalAPI(nil).OpenAPI()
}

// Check builds every component of cfg as serving would, without opening
// the store, the broker or a listener, and closes them again: what
// kopir config check runs.
func Check(cfg *config.Config) error {
	a := &App{Config: cfg, Log: slog.New(slog.DiscardHandler), Metrics: metrics.New(), Breakers: resilience.NewBreakers(nil), ctx: context.Background()}
	defer a.Close()
	if _, _, err := loadEvidence(cfg); err != nil {
		return err
	}
	return a.build(routes.Deps{Queue: noQueue{}, Meter: a.Metrics, Log: a.Log})
}

// noQueue stands in for the broker while components are only checked.
type noQueue struct{}

func (noQueue) Enqueue(context.Context, *routes.Message) error {
	return errors.New("checking the config: nothing is queued")
}

// resources are what a component gets from the core: the bus's logger
// preset with the component's name, its metrics registry, the clock, and
// the layered outbound transport for calls the component makes itself.
func (a *App) resources(kind, name, route string) adapters.Resources {
	log := a.Log.With("component", kind+"."+name)
	if route != "" {
		log = log.With("route", route)
	}
	return adapters.Resources{
		Logger: log, Metrics: a.Metrics.Registry, Clock: a.now, Tracer: a.tracing().Tracer(),
		NewTransport: func(spec adapters.TransportSpec) (adapters.Transport, error) {
			return resilience.NewClient(resilience.Options{
				Endpoints: spec.Endpoints, Retry: spec.Retry, Breaker: spec.Breaker,
				AttemptTimeout: spec.Timeout.D(), MaxResponseBytes: 16 << 20, Breakers: a.Breakers,
			})
		},
	}
}

// channelBaseURL is where a channel is reached on the agency listener,
// naming the loopback host when the listener binds every interface.
func channelBaseURL(listen string, tls bool, mount string) string {
	scheme := "http://"
	if tls {
		scheme = "https://"
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return scheme + listen + mount
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return scheme + net.JoinHostPort(host, port) + mount
}

type mountedChannel struct {
	spec config.Channel
	ch   adapters.Channel
	// peers verifies its clients' certificates; nil: none asked for.
	peers *xmlsig.Trust
}

func withAttempts(r adapters.RetrySpec, n int) adapters.RetrySpec { r.Attempts = n; return r }

// Run serves until ctx ends, then shuts down gracefully.
func (a *App) Run(ctx context.Context) error {
	cfg := a.Config
	internalGuard, agencyGuard, adminGuard := a.guard("internal", httpapi.RouteOf), a.guard("agency", nil), a.guard("admin", nil)
	agencyGuard.Inbound = true
	internal := a.internalAPI(internalGuard)
	adm := &admin.Server{Admins: cfg.Admins, Store: a.Store, Replayer: a.Replayer, Metrics: a.Metrics.Handler(), Log: a.Log,
		Clock: a.sim, Breakers: a.breakerStates, Ready: a.readiness, Denials: a.Ledger, Evidence: a.Evidence, EvidenceAccessed: a.Ledger.EvidenceAccessed,
		Guard: adminGuard, AuditVerified: a.Metrics.AuditVerified, Routes: a.routeNames, Held: a.Held}
	var cons *console.Console
	if !cfg.Console.Disabled {
		var err error
		max := cfg.Console.SessionMax.D()
		if max <= 0 {
			max = console.DefaultSessionMax
		}
		sessions, err := a.consoleSessions(ctx, max)
		if err != nil {
			return err
		}
		cons, err = console.New(adm, a.Metrics.Registry, a.Log.With("component", "console"),
			console.Options{SessionIdle: cfg.Console.SessionIdle.D(), SessionMax: max, Sessions: sessions})
		if err != nil {
			return err
		}
		adm.Console = cons.Handler()
	}
	servers := []*http.Server{
		internalGuard.Server(cfg.Listen.Internal, internal.Handler()),
		adminGuard.Server(cfg.Listen.Admin, adm.Handler()),
		agencyGuard.Server(cfg.Listen.Agency, a.agencyHandler(agencyGuard)),
	}
	listeners := make([]net.Listener, len(servers))
	for i, s := range servers {
		var tc *tls.Config
		if s == servers[2] {
			tc = a.agencyTLS
		}
		ln, err := listen(s.Addr, tc)
		if err != nil {
			for _, l := range listeners[:i] {
				l.Close()
			}
			return fmt.Errorf("listen %s: %w", s.Addr, err)
		}
		listeners[i] = ln
	}
	errc := make(chan error, len(servers)+1)
	for i, s := range servers {
		go func() { errc <- s.Serve(listeners[i]) }()
	}
	// Background work runs under the app's context, but is stopped only
	// after the listeners have drained, and is waited for before Run
	// returns, so that Close never pulls the store from under it.
	wctx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var work sync.WaitGroup
	defer work.Wait()
	defer stopWork()
	work.Go(func() {
		if err := a.Worker.Run(wctx); err != nil && wctx.Err() == nil {
			errc <- err
		}
	})
	work.Go(func() { a.Worker.Sweep(wctx) })
	work.Go(func() { a.Replayer.Run(wctx) })
	// Singletons: on one node of a cluster at a time, each under its lease.
	work.Go(func() { a.single(wctx, "delivery.replay", a.Replayer.RunJobs) })
	work.Go(func() {
		a.single(wctx, "delivery.recover", func(ctx context.Context) error { return a.Worker.RecoverOrphans(ctx, recoverEvery) })
	})
	if cons != nil {
		work.Go(func() { cons.Run(wctx) })
	}
	verifier := auditVerifier{store: a.Store, report: a.Metrics.AuditVerified, log: a.Log.With("component", "audit"),
		first: firstVerification, every: cfg.Audit.VerifyEvery.D()}
	work.Go(func() { a.single(wctx, "audit.verify", verifier.run) })
	if a.Ledger.KeepsEvidence() {
		work.Go(func() {
			a.single(wctx, "evidence.purge", func(ctx context.Context) error {
				a.purgeEvidence(ctx, cfg.Evidence.PurgeEvery.D())
				return nil
			})
		})
	}
	for _, mc := range a.channels {
		if r, ok := mc.ch.(adapters.ChannelRunner); ok {
			work.Go(func() {
				a.single(wctx, "channel."+mc.spec.Name, func(ctx context.Context) error { return r.Run(ctx, a.Intake) })
			})
		}
		if r, ok := mc.ch.(adapters.NodeRunner); ok {
			work.Go(func() {
				if err := r.RunOnNode(wctx); err != nil && wctx.Err() == nil {
					a.Log.Error("channel's node work stopped", "channel", mc.spec.Name, "err", err)
				}
			})
		}
	}
	if n, err := a.Worker.Recover(ctx); err != nil {
		a.Log.Error("re-enqueueing queued messages", "err", err)
	} else if n > 0 {
		a.Log.Info("re-enqueued messages found QUEUED at start", "count", n)
	}
	// Readiness waits until delivery consumes every async route, so that a
	// node answering /readyz also delivers.
	var err error
	select {
	case <-a.Worker.Running():
	case <-ctx.Done():
	case err = <-errc:
	}
	if err == nil && ctx.Err() == nil {
		// Building the components (config trees, compiled schemas, the
		// subscriptions) left garbage in the Go heap, which GOGC=400 would
		// keep for a long while, and libxml2's scratch memory free but kept
		// in the C heap: hand both back before the bus idles.
		debug.FreeOSMemory()
		xsd.ReleaseMemory()
		a.ready.Store(true)
		a.Log.Info("kopir ready", "internal", cfg.Listen.Internal, "agency", cfg.Listen.Agency, "admin", cfg.Listen.Admin,
			"routes", strings.Join(a.Routes.Names(), ","))
		select {
		case <-ctx.Done():
		case err = <-errc:
		}
	}
	// Drain: readiness fails first, then the listeners stop accepting
	// (a load balancer's connection is refused, and it tries another
	// node) and finish the requests in flight within the grace; the
	// background work stops after them (the deferred stopWork), so a
	// request in flight can still queue its message.
	a.ready.Store(false)
	a.Log.Info("draining: readiness fails, requests in flight finish", "grace", cfg.ShutdownGrace.D())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownGrace.D())
	defer cancel()
	var drain sync.WaitGroup
	for _, s := range servers {
		drain.Go(func() {
			if err := s.Shutdown(sctx); err != nil {
				a.Log.Warn("requests still in flight after the shutdown grace were cut off", "listener", s.Addr, "err", err)
			}
		})
	}
	drain.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// guard is the guard of one listener, with the limits of the config.
func (a *App) guard(name string, route func(*http.Request) string) *httpguard.Listener {
	return &httpguard.Listener{Name: name, Limits: a.Config.Limits.HTTP, Ledger: a.Ledger, Log: a.Log.With("listener", name),
		Refused: a.Metrics.HTTPRefused, Route: route}
}

// agencyHandler mounts every configured inbound channel under its path.
func (a *App) agencyHandler(guard *httpguard.Listener) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	large := a.largeGate()
	for _, mc := range a.channels {
		spec := mc.spec
		for pattern, h := range mc.ch.Routes(a.Intake) {
			method, path, ok := strings.Cut(pattern, " ")
			if !ok {
				method, path = "", pattern
			}
			full := strings.TrimSpace(method + " " + spec.Mount + path)
			mux.Handle(full, a.tracing().Inbound(spec.Name, a.countInbound(spec.Name, peerGate(spec, mc.peers, guard, a.now, large.Wrap(limitBody(int64(spec.MaxBody), h))))))
		}
	}
	return guard.Handler(mux, nil)
}

// limitBody caps what a channel reads; the channel sees *http.MaxBytesError
// and answers in its own contract's words.
func limitBody(n int64, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, n)
		h.ServeHTTP(w, r)
	})
}

func (a *App) countInbound(channel string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		h.ServeHTTP(rec, r)
		outcome := "accepted"
		if rec.status >= 400 {
			outcome = "rejected"
		}
		a.Metrics.Inbound.WithLabelValues(channel, outcome).Inc()
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

func (a *App) readiness() error {
	if !a.ready.Load() {
		return errors.New("starting or stopping")
	}
	ctx, cancel := context.WithTimeout(a.ctx, 2*time.Second)
	defer cancel()
	if _, err := a.Store.Count(ctx, store.Filter{Status: store.Dead, Route: "-"}); err != nil {
		// /readyz answers anyone: the store's own words go to the log.
		a.Log.Error("readiness: the message store does not answer", "err", err)
		return errors.New("message store unavailable")
	}
	return nil
}

// routeNames lists every route's name in the order of the config.
func (a *App) routeNames() []string {
	names := make([]string, 0, len(a.Config.Routes))
	for _, r := range a.Config.Routes {
		names = append(names, r.Name)
	}
	return names
}

func (a *App) breakerStates() []admin.BreakerState {
	var out []admin.BreakerState
	for _, b := range a.Breakers.Snapshot() {
		out = append(out, admin.BreakerState{Endpoint: b.Name(), State: b.State, Requests: b.Requests, Failures: b.ConsecutiveFailures, OpenUntil: b.OpenUntil})
	}
	return out
}

// Close releases everything New opened, components first: they may hold
// connections or files of their own.
func (a *App) Close() {
	for _, c := range a.closers() {
		if err := c.Close(); err != nil {
			a.Log.Warn("closing a component", "err", err)
		}
	}
	if a.Broker != nil {
		a.Broker.Close()
	}
	if a.Redis != nil {
		a.Redis.Close()
	}
	if a.Store != nil {
		a.Store.Close()
	}
	// Last, so that the spans of everything closed above are sent too.
	if a.Tracing.Exporting() {
		ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
		defer cancel()
		if err := a.Tracing.Shutdown(ctx); err != nil {
			a.Log.Warn("flushing traces on shutdown", "err", err)
		}
	}
}

// tracing is the app's tracer provider; the no-op one for an app that only
// checks a config.
func (a *App) tracing() *tracing.Tracing {
	if a.Tracing == nil {
		return tracing.Noop()
	}
	return a.Tracing
}

// tracingEndpoint is where traces go, for the start-up line.
func tracingEndpoint() string {
	if e := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); e != "" {
		return e
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
}

// closers are the adapters and channels that hold something open.
func (a *App) closers() []io.Closer {
	var out []io.Closer
	if a.Routes != nil {
		for _, r := range a.Routes.All() {
			if c, ok := r.Adapter.(io.Closer); ok {
				out = append(out, c)
			}
		}
	}
	for _, mc := range a.channels {
		if c, ok := mc.ch.(io.Closer); ok {
			out = append(out, c)
		}
	}
	return out
}

// brokerAdapter gives the delivery worker the broker with the route's
// redelivery policy.
type brokerAdapter struct{ b *broker.Broker }

func (a brokerAdapter) Publisher() message.Publisher { return a.b.Publisher() }

// Holds is the broker's depth of the topic: what RecoverOrphans must see
// empty before it takes a route's QUEUED messages for orphans.
func (a brokerAdapter) Holds(ctx context.Context, topic string) (uint64, error) {
	return a.b.Depth(ctx, topic)
}

func (a brokerAdapter) Subscriber(ctx context.Context, topic string, workers int, delay func(uint64) time.Duration) (message.Subscriber, error) {
	return a.b.Subscriber(ctx, topic, broker.SubOpts{Concurrency: workers, Backoff: delay})
}

func brokerConfig(cfg *config.Config, log *slog.Logger) broker.Config {
	bc := broker.Config{URL: cfg.NATS, DataDir: cfg.DataDir, Logger: log, Replicas: cfg.NATSReplicas}
	if cfg.NATSStream != "" {
		bc.Stream = cfg.NATSStream
		// Streams on one server must not share subjects.
		bc.SubjectPrefix = strings.ToLower(cfg.NATSStream)
	}
	return bc
}
