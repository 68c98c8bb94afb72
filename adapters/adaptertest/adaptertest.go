// Package adaptertest is the kit for testing an adapter or a channel
// outside the bus: options decoded from YAML exactly as the config loader
// does, resources for a test, a plain transport, an in-memory intake, and
// factories looked up in the registry the way the core looks them up.
package adaptertest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"gopkg.in/yaml.v3"
)

// Options decodes y strictly, as the options block of a config file.
func Options(y string) adapters.Options { return yamlOptions(y) }

type yamlOptions string

func (y yamlOptions) Decode(into any) error {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(y), &n); err != nil {
		return err
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return adapters.YAMLOptions{Node: n.Content[0]}.Decode(into)
	}
	return adapters.YAMLOptions{Node: &n}.Decode(into)
}

// Resources are what the core would give a component, for a test: a
// logger writing to the test's log, the wall clock (or Clock when set),
// and NewTransport returning a Transport.
func Resources(t testing.TB) adapters.Resources {
	return adapters.Resources{
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock:  time.Now,
		NewTransport: func(spec adapters.TransportSpec) (adapters.Transport, error) {
			return &Transport{Endpoint: spec.Endpoints[0], Timeout: spec.Timeout.D()}, nil
		},
	}
}

// At is Resources with a fixed clock.
func At(t testing.TB, now time.Time) adapters.Resources {
	r := Resources(t)
	r.Clock = func() time.Time { return now }
	return r
}

// NewAdapter builds the registered adapter name for operation with the
// YAML options, failing the test on an error.
func NewAdapter(t testing.TB, name, operation, options string) adapters.Adapter {
	t.Helper()
	a, err := BuildAdapter(t, name, operation, options)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// BuildAdapter is NewAdapter returning the factory's error, for tests of
// refused options.
func BuildAdapter(t testing.TB, name, operation, options string) (adapters.Adapter, error) {
	t.Helper()
	f, ok := adapters.Lookup(name)
	if !ok {
		t.Fatalf("adapter %q is not registered (known: %s)", name, strings.Join(adapters.Names(), ", "))
	}
	return f(adapters.AdapterConfig{Route: "test." + name, Operation: operation, Options: Options(options)}, Resources(t))
}

// BuildChannel builds the registered channel name with the YAML options.
func BuildChannel(t testing.TB, name, options string) (adapters.Channel, error) {
	t.Helper()
	f, ok := adapters.LookupChannel(name)
	if !ok {
		t.Fatalf("channel %q is not registered (known: %s)", name, strings.Join(adapters.ChannelNames(), ", "))
	}
	return f(adapters.ChannelConfig{Name: name, Options: Options(options)}, Resources(t))
}

// Transport is a single plain HTTP exchange per call, without the core's
// retries and breaker: enough to drive an adapter against a mock. It keeps
// what it sent, so a test can check a conversation's exchanges.
type Transport struct {
	Endpoint string
	Client   *http.Client // nil: http.DefaultClient
	// Timeout bounds one call, as the core's transport bounds an attempt;
	// 0: only ctx does.
	Timeout time.Duration

	mu   sync.Mutex
	sent []*adapters.WireRequest
}

// Sent returns the requests Do was given, in order.
func (tr *Transport) Sent() []*adapters.WireRequest {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]*adapters.WireRequest(nil), tr.sent...)
}

// Do sends w to Endpoint (plus w.Path).
func (tr *Transport) Do(ctx context.Context, w *adapters.WireRequest) (*adapters.WireResponse, error) {
	tr.mu.Lock()
	tr.sent = append(tr.sent, w)
	tr.mu.Unlock()
	method := w.Method
	if method == "" {
		method = http.MethodPost
	}
	if tr.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, tr.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, tr.Endpoint+w.Path, bytes.NewReader(w.Body))
	if err != nil {
		return nil, err
	}
	for k, v := range w.Header {
		req.Header[k] = v
	}
	c := tr.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &adapters.WireResponse{Endpoint: tr.Endpoint, StatusCode: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
