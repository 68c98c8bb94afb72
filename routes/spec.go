// Package routes is the route table: what each internal or inbound route is,
// how it is checked, and the layered pipeline that carries a call through
// its adapter.
package routes

import (
	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/units"
	"gopkg.in/yaml.v3"
)

// Mode is how the internal caller is answered.
type Mode string

const (
	Sync  Mode = "sync"  // 200 with the agency's translated answer
	Async Mode = "async" // 202 once durably stored; delivered in the background
)

// Spec is one entry of the route table as written in YAML.
type Spec struct {
	Name      string               `yaml:"name"`
	Adapter   string               `yaml:"adapter"`
	Operation string               `yaml:"operation"`
	Mode      Mode                 `yaml:"mode"`
	Endpoints []string             `yaml:"endpoints"`
	Timeout   units.Duration       `yaml:"timeout"`  // per attempt
	Deadline  units.Duration       `yaml:"deadline"` // whole call, all attempts
	Retry     adapters.RetrySpec   `yaml:"retry"`
	Breaker   adapters.BreakerSpec `yaml:"breaker"`
	// Concurrency caps in-flight calls of this route; 0 = unlimited. An
	// async route's deliveries run this many at once (delivery.Workers).
	Concurrency int `yaml:"concurrency"`
	// MaxBody is the largest request body accepted, e.g. "64KiB".
	MaxBody units.ByteSize `yaml:"maxBody"`
	// Callers allowed to use this route (names from the callers list).
	Callers []string `yaml:"callers"`
	// PersonalData lists field names (JSON keys or XML element local names)
	// masked or hashed before anything is stored.
	PersonalData PersonalDataSpec `yaml:"personalData"`
	CacheTTL     units.Duration   `yaml:"cacheTTL"`
	// EvidenceRetention is how long signed documents of this route are
	// kept (evidence.retention when zero).
	EvidenceRetention units.Duration `yaml:"evidenceRetention"`
	// RateLimit is requests per second per endpoint across the cluster
	// (needs Redis); 0 = none.
	RateLimit float64 `yaml:"rateLimit"`
	// Options is the adapter's own block.
	Options yaml.Node `yaml:"options"`
	// Inbound makes this a route for messages an agency pushes in: the
	// channel hands them over, and the adapter delivers them to the
	// internal subscriber at Endpoints. Internal callers cannot call it.
	Inbound *InboundSpec `yaml:"inbound"`
	// Held is how an operator may release the route's held messages.
	Held HeldSpec `yaml:"held"`
}

// HeldSpec governs the route's messages held for clarification (a channel
// holds them; see adapters.Inbound.Hold).
type HeldSpec struct {
	// FourEyes: an operator's change to a held message waits until a
	// second, different operator approves it.
	FourEyes bool `yaml:"fourEyes"`
}

// InboundSpec ties a route to an inbound channel.
type InboundSpec struct {
	Channel string `yaml:"channel"` // a configured channel's name, e.g. shep
	Key     string `yaml:"key"`     // what the channel routes by, e.g. a SHEP serviceId
}

// PersonalDataSpec names fields to mask (replace by asterisks, keeping the
// last characters) or hash (HMAC-SHA-256 under the personal-data key, so
// equal values stay searchable but cannot be found by enumerating IINs).
type PersonalDataSpec struct {
	Mask []string `yaml:"mask"`
	Hash []string `yaml:"hash"`
}
