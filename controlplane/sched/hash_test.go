package sched

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"xlb/controlplane/maglev"
)

// TestGoldenHashes pins the hashes the data plane must compute bit for bit.
// The values come from testdata/golden_hash.c, which compiles bpf/hash.h
// (hash3, flow_hash) with gcc on a little-endian host; if this test fails, Go and BPF disagree or
// the contract changed, and every sh, dh and mh service reshuffles.
func TestGoldenHashes(t *testing.T) {
	type golden struct {
		Name string
		Got  uint32
	}
	got := []golden{
		{"hash3(0,0,0,0)", Hash3(0, 0, 0, 0)},
		{"hash3(1,2,3,FlowSeed)", Hash3(1, 2, 3, FlowSeed)},
		{"AddrHash 198.18.0.1", AddrHash(netip.MustParseAddr("198.18.0.1"))},
		{"AddrHash ::ffff:198.18.0.1", AddrHash(netip.MustParseAddr("::ffff:198.18.0.1"))},
		{"AddrHash 2001:db8::1", AddrHash(netip.MustParseAddr("2001:db8::1"))},
		{"FlowHash v4 tcp", FlowHash(Flow{
			Src:   netip.MustParseAddrPort("198.18.0.1:40000"),
			Dst:   netip.MustParseAddrPort("198.18.1.1:80"),
			Proto: 6,
		})},
		{"FlowHash v6 udp", FlowHash(Flow{
			Src:   netip.MustParseAddrPort("[2001:db8::1]:40001"),
			Dst:   netip.MustParseAddrPort("[2001:db8:1::80]:443"),
			Proto: 17,
		})},
	}
	want := []golden{
		{"hash3(0,0,0,0)", 459859287},
		{"hash3(1,2,3,FlowSeed)", 4263651372},
		{"AddrHash 198.18.0.1", 1834758684},
		{"AddrHash ::ffff:198.18.0.1", 1834758684}, // same 16 bytes as the IPv4 form
		{"AddrHash 2001:db8::1", 1315905793},
		{"FlowHash v4 tcp", 3634878933},
		{"FlowHash v6 udp", 1465237263},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("hashes (-want +got):\n%s", diff)
	}
}

func TestSlot(t *testing.T) {
	tests := []struct {
		hash, n, want uint32
	}{
		{0, 65537, 0},
		{math.MaxUint32, 65537, 65536},
		{1 << 31, 65537, 32768},
		{1 << 31, 2, 1},
		{12345, 1, 0},
	}
	for _, tc := range tests {
		if got := Slot(tc.hash, tc.n); got != tc.want {
			t.Errorf("Slot(%d, %d) = %d, want %d", tc.hash, tc.n, got, tc.want)
		}
	}
}

// randAddr returns a random address from the lab ranges: 198.18.0.0/15 or
// 2001:db8::/32.
func randAddr(rnd *rand.Rand, v6 bool) netip.Addr {
	if v6 {
		var b [16]byte
		b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
		for i := 4; i < 16; i++ {
			b[i] = byte(rnd.Uint32())
		}
		return netip.AddrFrom16(b)
	}
	x := rnd.Uint32N(1 << 17)
	return netip.AddrFrom4([4]byte{198, 18 + byte(x>>16), byte(x >> 8), byte(x)})
}

// TestHashSchedulers checks sh and dh: the same key always maps to the same
// real (across picks, fresh Models and reordered input), the other address
// of the flow does not matter, and shares follow weights.
func TestHashSchedulers(t *testing.T) {
	backends := weighted(3, 2, 1, 0)
	vip := netip.MustParseAddrPort("198.18.100.1:80")
	for _, name := range []string{SH, DH} {
		for _, v6 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s v6=%v", name, v6), func(t *testing.T) {
				rnd := rand.New(rand.NewPCG(7, 8))
				m := mustNew(t, name, backends)
				again := mustNew(t, name, reversed(backends))
				const keys = 100000
				counts := make(map[uint32]int)
				for range keys {
					key := randAddr(rnd, v6)
					other := randAddr(rnd, v6)
					// sh keys on the client, dh on the destination; the
					// other side varies between the two picks.
					f1 := Flow{Src: netip.AddrPortFrom(key, 40000), Dst: vip, Proto: 6}
					f2 := Flow{Src: netip.AddrPortFrom(key, 40001), Dst: netip.AddrPortFrom(other, 443), Proto: 17}
					if name == DH {
						f1 = Flow{Src: vip, Dst: netip.AddrPortFrom(key, 80), Proto: 6}
						f2 = Flow{Src: netip.AddrPortFrom(other, 1), Dst: netip.AddrPortFrom(key, 8080), Proto: 17}
					}
					id, ok := m.Pick(f1)
					if !ok {
						t.Fatalf("Pick(%v) found no real", f1)
					}
					id2, _ := m.Pick(f2)
					id3, _ := again.Pick(f1)
					if id2 != id || id3 != id {
						t.Fatalf("key %v: picks %d, %d (other fields changed), %d (reordered input), want all equal", key, id, id2, id3)
					}
					counts[id]++
				}
				if counts[4] != 0 {
					t.Errorf("weight-0 id 4 picked %d times", counts[4])
				}
				for id, w := range map[uint32]float64{1: 3, 2: 2, 3: 1} {
					share := float64(counts[id]) / keys
					if want := w / 6; math.Abs(share-want) > 0.01 {
						t.Errorf("id %d: share %.4f, want %.4f ± 0.01", id, share, want)
					}
				}
				t.Logf("shares of 100k keys for weights 3:2:1: %v", counts)
			})
		}
	}
}

// TestHashTableIsMaglev pins the decision that sh and dh tables are Maglev
// tables: a node that builds them with maglev.Build agrees with HashTable.
func TestHashTableIsMaglev(t *testing.T) {
	bs := weighted(5, 1, 3)
	got, err := HashTable(bs, 101)
	if err != nil {
		t.Fatal(err)
	}
	want, err := maglev.Build(bs, 101)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("HashTable vs maglev.Build (-want +got):\n%s", diff)
	}
}

func BenchmarkHashTable(b *testing.B) {
	for _, n := range []int{10, 100} {
		bs := reals(n, 100)
		b.Run(fmt.Sprintf("%d reals", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := HashTable(bs, maglev.DefaultSize); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAddrHash(b *testing.B) {
	for _, a := range []string{"198.18.0.1", "2001:db8::1"} {
		addr := netip.MustParseAddr(a)
		b.Run(a, func(b *testing.B) {
			var sink uint32
			for b.Loop() {
				sink += AddrHash(addr)
			}
			_ = sink
		})
	}
}
