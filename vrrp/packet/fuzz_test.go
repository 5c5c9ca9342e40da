package packet

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Fuzz option bits.
const (
	fuzzAsV2 = 1 << iota
	fuzzOldUnicast
)

// FuzzParse feeds Parse arbitrary messages and IP addresses. Whatever
// parses must marshal (with default options) to bytes that parse to the
// same value. Seeds are keepalived's advertisements from testdata/vrrp.
func FuzzParse(f *testing.F) {
	for _, g := range loadGoldens(f) {
		var opts uint8
		if g.Opts.OldUnicastChecksum {
			opts |= fuzzOldUnicast
		}
		f.Add([]byte(g.Data), g.Src.AsSlice(), g.Dst.AsSlice(), opts)
	}
	f.Fuzz(func(t *testing.T, b, srcB, dstB []byte, opts uint8) {
		src, _ := netip.AddrFromSlice(srcB)
		dst, _ := netip.AddrFromSlice(dstB)
		opt := ParseOptions{AcceptV3ChecksumAsV2: opts&fuzzAsV2 != 0, AcceptOldUnicastChecksum: opts&fuzzOldUnicast != 0}
		a, err := Parse(b, src, dst, opt)
		if err != nil {
			return
		}
		out, err := Marshal(a, src, dst, MarshalOptions{})
		if err != nil {
			t.Fatalf("Marshal of parsed %+v: %v", a, err)
		}
		if len(out) != len(b) {
			t.Fatalf("Marshal gave %d bytes, parsed message had %d", len(out), len(b))
		}
		again, err := Parse(out, src, dst, ParseOptions{})
		if err != nil {
			t.Fatalf("Parse of re-marshalled % x: %v", out, err)
		}
		if diff := cmp.Diff(a, again, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	gs := loadGoldens(b)
	for _, name := range []string{"v2-ipv4-pass-short", "v3-ipv4", "v3-ipv6"} {
		g, ok := gs[name]
		if !ok {
			b.Fatalf("no golden %s", name)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(g.Data, g.Src, g.Dst, ParseOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMarshal(b *testing.B) {
	gs := loadGoldens(b)
	for _, name := range []string{"v2-ipv4-pass-short", "v3-ipv4", "v3-ipv6"} {
		g, ok := gs[name]
		if !ok {
			b.Fatalf("no golden %s", name)
		}
		a, err := g.Want.advertisement()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Marshal(a, g.Src, g.Dst, MarshalOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
