package controlplane

import "testing"

// FuzzParseServiceKey checks that any accepted service key formats to a
// string that parses back to the same key, and nothing panics.
func FuzzParseServiceKey(f *testing.F) {
	for _, s := range []string{
		"198.18.0.100:80", "198.18.0.100:53/udp", "[2001:db8::1]:443/TCP",
		"198.18.0.100", "198.18.0.100:80/", "[::ffff:198.18.0.1]:80/tcp", ":80", "a:b/c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseServiceKey(s)
		if err != nil {
			return
		}
		again, err := ParseServiceKey(k.String())
		if err != nil {
			t.Fatalf("ParseServiceKey(%q) = %s, which does not parse back: %v", s, k, err)
		}
		if again != k {
			t.Fatalf("round trip of %q: %s then %s", s, k, again)
		}
	})
}
