package track

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// FuzzParseValue checks that any file content parses without panic to a
// value in keepalived's range, that the value written back reads the
// same, and that text after a number does not change it.
func FuzzParseValue(f *testing.F) {
	seeds, err := filepath.Glob("testdata/values/*")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, ok := ParseValue(b)
		if !ok {
			if v != 0 {
				t.Fatalf("ParseValue(%q) = %d, false; want 0 when not ok", b, v)
			}
			return
		}
		if v < math.MinInt32 || v > math.MaxInt32+1 {
			t.Fatalf("ParseValue(%q) = %d, outside -2^31..2^31", b, v)
		}
		text := strconv.FormatInt(v, 10)
		if back, ok := ParseValue([]byte(text)); !ok || back != v {
			t.Fatalf("ParseValue(%q) = %d, %v; want %d (round trip of %q)", text, back, ok, v, b)
		}
		if back, ok := ParseValue([]byte(text + "\n#x9")); !ok || back != v {
			t.Fatalf("ParseValue of %q with a tail = %d, %v; want %d", text, back, ok, v)
		}
	})
}
