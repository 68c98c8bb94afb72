// Package evidence keeps signed documents so that their signatures can be
// shown later: sealed at rest with AES-256-GCM under rotating keys (the
// ledger stores them, this package never writes the store), and opened
// and re-verified against the trust roots as of the signing time.
package evidence

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/minfin-kz/kopir/internal/config"
	"github.com/minfin-kz/kopir/internal/store"
)

// DemoKeyID names the fixed key a demo config seals with when it names
// none; records sealed with it protect nothing and say so.
const DemoKeyID = "demo"

// Keyring holds the keys evidence is sealed and opened with: the first
// seals, every one opens what it sealed.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

// ErrTampered is what opening a record that was changed in the store
// reports (wrapped): authentication failed.
var ErrTampered = errors.New("evidence: the stored record fails authentication: it was altered after it was kept")

// ErrKeyUnavailable is what opening a record sealed with a key this bus
// does not hold reports (wrapped): the record may well be intact.
var ErrKeyUnavailable = errors.New("evidence: the record's key is not configured")

// NewKeyring builds a keyring from raw 32-byte keys, the first sealing.
func NewKeyring(ids []string, keys [][]byte) (*Keyring, error) {
	if len(ids) == 0 || len(ids) != len(keys) {
		return nil, errors.New("evidence: a keyring needs at least one key, each with an id")
	}
	k := &Keyring{current: ids[0], aeads: map[string]cipher.AEAD{}}
	for i, key := range keys {
		if len(key) != 32 {
			return nil, fmt.Errorf("evidence: key %q is %d bytes; AES-256 needs 32", ids[i], len(key))
		}
		if _, dup := k.aeads[ids[i]]; dup {
			return nil, fmt.Errorf("evidence: key id %q given twice", ids[i])
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		if k.aeads[ids[i]], err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// Load builds the keyring the config names. No key configured means
// evidence is not kept (nil, nil), except in a demo config, which seals
// with a fixed demo key. Errors name the config field.
func Load(c *config.Config) (*Keyring, error) {
	ev := c.Evidence
	if len(ev.Keys) == 0 {
		if !c.Demo {
			return nil, nil
		}
		sum := sha256.Sum256([]byte("kopir demo evidence key: not for production"))
		return NewKeyring([]string{DemoKeyID}, [][]byte{sum[:]})
	}
	ids := make([]string, len(ev.Keys))
	keys := make([][]byte, len(ev.Keys))
	for i, k := range ev.Keys {
		field := fmt.Sprintf("evidence.keys[%d]", i)
		raw := []byte(k.Key)
		if k.KeyFile != "" {
			b, err := os.ReadFile(k.KeyFile)
			if err != nil {
				return nil, &config.FieldError{File: c.File(), Field: field + ".keyFile", Msg: err.Error()}
			}
			raw = b
		}
		key, err := decodeKey(raw)
		if err != nil {
			return nil, &config.FieldError{File: c.File(), Field: field, Msg: err.Error()}
		}
		ids[i], keys[i] = k.ID, key
	}
	return NewKeyring(ids, keys)
}

// decodeKey accepts 32 raw bytes (a key file), 64 hex digits or base64.
func decodeKey(raw []byte) ([]byte, error) {
	if len(raw) == 32 {
		return raw, nil
	}
	s := strings.TrimSpace(string(raw))
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	return nil, errors.New("the key must be 32 bytes: raw in a file, 64 hex digits or base64 (e.g. openssl rand -base64 32)")
}

// Current is the id of the key new records are sealed with.
func (k *Keyring) Current() string { return k.current }

// Demo reports whether records are sealed with the demo key.
func (k *Keyring) Demo() bool { return k.current == DemoKeyID }

// Seal encrypts doc into a record of message; id, route, direction, source
// and times are the caller's, digest and ciphertext are filled in. The
// record's identity and receipt time are authenticated with the document,
// so a record moved to another message or re-dated fails to open.
func (k *Keyring) Seal(e store.Evidence, doc []byte) (store.Evidence, error) {
	sum := sha256.Sum256(doc)
	e.SHA256, e.Size, e.KeyID = hex.EncodeToString(sum[:]), int64(len(doc)), k.current
	e.Nonce = make([]byte, k.aeads[k.current].NonceSize())
	if _, err := rand.Read(e.Nonce); err != nil {
		return e, err
	}
	e.Ciphertext = k.aeads[k.current].Seal(nil, e.Nonce, doc, aad(e))
	return e, nil
}

// Open decrypts a record and checks the document against its digest. A
// changed record is ErrTampered; a key this bus does not hold is another
// error (the record may be fine).
func (k *Keyring) Open(e store.Evidence) ([]byte, error) {
	a, ok := k.aeads[e.KeyID]
	if !ok {
		return nil, fmt.Errorf("%w: record %s is sealed with key %q, not in evidence.keys", ErrKeyUnavailable, e.ID, e.KeyID)
	}
	if len(e.Nonce) != a.NonceSize() {
		return nil, fmt.Errorf("%w (nonce of %d bytes)", ErrTampered, len(e.Nonce))
	}
	doc, err := a.Open(nil, e.Nonce, e.Ciphertext, aad(e))
	if err != nil {
		return nil, ErrTampered
	}
	return doc, nil
}

// aad binds a record's identity to its ciphertext. ExpiresAt is left out:
// it only decides when the record is purged.
func aad(e store.Evidence) []byte {
	return []byte(strings.Join([]string{"kopir-evidence-v1", e.ID, e.MessageID, e.Route, string(e.Direction), e.Source,
		e.SHA256, fmt.Sprint(e.Size), e.KeyID, e.ReceivedAt.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)}, "\x00"))
}
