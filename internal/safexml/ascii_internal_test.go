package safexml

import (
	"encoding/binary"
	"testing"
)

// Every byte value, in every position of the word: plainASCII passes a
// word only when each byte is 0x20 to 0x7F, what checkChars would pass
// one by one without a closer look.
func TestPlainASCIIOnEveryByte(t *testing.T) {
	for pos := range 8 {
		for c := range 256 {
			var b [8]byte
			for i := range b {
				b[i] = 'a'
			}
			b[pos] = byte(c)
			want := c >= 0x20 && c < 0x80
			if got := plainASCII(binary.LittleEndian.Uint64(b[:])); got != want {
				t.Fatalf("byte %#x at %d: plainASCII = %v, want %v", c, pos, got, want)
			}
		}
	}
}

// Text that is plain ASCII for a word and then is not: the words after
// the fast skip are still looked at byte by byte.
func TestCheckCharsPastPlainWords(t *testing.T) {
	for _, tc := range []struct {
		text string
		ok   bool
	}{
		{"abcdefgh", true},
		{"abcdefghi\x01", false},
		{"abcdefgh\rabcdefgh", false},
		{"abcdefgh\tabcdefgh\n", true},
		{"abcdefghЖabcdefgh", true},
		{"abcdefgh\xffabcdefgh", false},
		{"abcdefgh]]>abcdefgh", false},
		{"abcdefgh\uFFFEabcdefgh", false},
	} {
		if err := checkChars([]byte(tc.text)); (err == nil) != tc.ok {
			t.Errorf("checkChars(%q) = %v, want ok %v", tc.text, err, tc.ok)
		}
	}
}
