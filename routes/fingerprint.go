package routes

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/minfin-kz/kopir/internal/pii"
)

// Fingerprint identifies a request body for its Idempotency-Key: the hex
// SHA-256 of the body in canonical form (a JSON body re-encoded with its
// keys sorted and no insignificant space, numbers as written), so that a
// caller repeating a call is recognised however its JSON library orders
// keys, and a different request under the same key is not. A body that is
// not JSON is taken byte for byte.
func Fingerprint(body []byte) string {
	sum := sha256.Sum256(canonical(body))
	return hex.EncodeToString(sum[:])
}

// canonical is body as encoding/json would write it back after decoding
// it into an interface value with UseNumber (pii.Canonical, the masking
// rewrite with nothing to mask). The JSON value is what a json.Decoder
// reads first, accepted exactly as it accepts it; a body it does not read,
// or that goes on with more than a closing bracket, is taken as it is.
// FuzzCanonicalMatchesDecoding holds it to the round trip.
func canonical(body []byte) []byte {
	if out, ok := pii.Canonical(body); ok {
		return out
	}
	// Not one JSON value alone: a json.Decoder may still read one from
	// its start.
	dec := json.NewDecoder(bytes.NewReader(body))
	var first json.RawMessage
	if err := dec.Decode(&first); err != nil || dec.More() {
		return body
	}
	if out, ok := pii.Canonical(first); ok {
		return out
	}
	return body
}

// KeyReuse names what a call x under an earlier message's Idempotency-Key
// changed: "route", "body", both, or nothing (a true repeat). A message
// stored before fingerprints were kept is compared by route only.
func KeyReuse(earlier *Message, x *Exchange) []string {
	var differs []string
	if earlier.Route != x.Route.Name {
		differs = append(differs, "route")
	}
	if earlier.Fingerprint != "" && earlier.Fingerprint != x.RequestFingerprint() {
		differs = append(differs, "body")
	}
	return differs
}

// RequestFingerprint is x's Fingerprint, computed once.
func (x *Exchange) RequestFingerprint() string {
	if x.Fingerprint == "" {
		x.Fingerprint = Fingerprint(x.Request.Body)
	}
	return x.Fingerprint
}
