package adapters

import (
	"sort"
	"strings"
	"sync"
)

// AdapterConfig is what a route tells its adapter.
type AdapterConfig struct {
	Route     string
	Operation string
	Options   Options
}

// Factory builds the adapter of one route. It checks the options and
// fails with an error naming the option; the core names the route.
type Factory func(cfg AdapterConfig, res Resources) (Adapter, error)

// ChannelConfig is what the config tells an inbound channel.
type ChannelConfig struct {
	Name    string
	Options Options
	// BaseURL is where the channel's routes are reached as far as the core
	// knows: http://<agency listen address><mount>. A channel that tells
	// agencies its own address (a WSDL's soap:address) uses it unless its
	// options name the public one; it never trusts a request's Host.
	BaseURL string
	// ClientCerts is true when the core asks the channel's clients for a
	// TLS client certificate and verifies it (channels[].clientCerts): a
	// verified one reaches the channel as PeerCertificate(ctx).
	ClientCerts bool
}

// ChannelFactory builds an inbound channel from its config block.
type ChannelFactory func(cfg ChannelConfig, res Resources) (Channel, error)

// The one registry of components, by namespaced name ("adapter.gbdfl",
// "channel.shep"), so a channel and an adapter may share an agency's name.
var (
	mu       sync.RWMutex
	registry = map[string]any{}
)

const (
	adapterNS = "adapter."
	channelNS = "channel."
)

func register(name string, f any) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[name]; dup {
		// A programming error, as with database/sql.Register.
		panic("adapters: " + name + " registered twice")
	}
	registry[name] = f
}

// Register makes an adapter available under name.
func Register(name string, f Factory) { register(adapterNS+name, f) }

// RegisterChannel makes an inbound channel available under name.
func RegisterChannel(name string, f ChannelFactory) { register(channelNS+name, f) }

// Lookup returns the adapter factory registered under name.
func Lookup(name string) (Factory, bool) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := registry[adapterNS+name].(Factory)
	return f, ok
}

// LookupChannel returns the channel factory registered under name.
func LookupChannel(name string) (ChannelFactory, bool) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := registry[channelNS+name].(ChannelFactory)
	return f, ok
}

// Names lists the registered adapters, sorted.
func Names() []string { return names(adapterNS) }

// ChannelNames lists the registered channels, sorted.
func ChannelNames() []string { return names(channelNS) }

func names(ns string) []string {
	mu.RLock()
	defer mu.RUnlock()
	var out []string
	for n := range registry {
		if rest, ok := strings.CutPrefix(n, ns); ok {
			out = append(out, rest)
		}
	}
	sort.Strings(out)
	return out
}
