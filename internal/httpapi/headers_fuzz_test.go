package httpapi

import (
	"strings"
	"testing"
)

// FuzzIdempotencyKey: a key is accepted only when it is at most 255
// printable ASCII characters; a refusal names the header.
func FuzzIdempotencyKey(f *testing.F) {
	for _, s := range []string{"k-1", strings.Repeat("k", 4096), "key\tkey", "ключ", "", "\x00", strings.Repeat("a", 255), strings.Repeat("a", 256)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		p := checkIdempotencyKey(key)
		ok := len(key) <= MaxIdempotencyKey && printable(key)
		if (p == nil) != ok {
			t.Fatalf("key %q: refused=%v, want accepted=%v", key, p != nil, ok)
		}
		if p != nil && (p.Field != "Idempotency-Key" || p.Status != 400) {
			t.Fatalf("refusal %+v", p)
		}
		if p != nil && strings.Contains(p.Detail, key) && len(key) > 0 {
			t.Fatalf("the refusal echoes the key: %q", p.Detail)
		}
	})
}
