package maps

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/cilium/ebpf"

	"xlb/internal/testutil"
)

// TestTableMemory checks that a full Maglev table costs the kernel 4 bytes
// a slot (plus the map's fixed part), not the 8 that one slot per array
// value would take after the kernel rounds values up to 8 bytes.
func TestTableMemory(t *testing.T) {
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4})
	if err := d.SwapTable(1, make([]uint32, MaxTableSize)); err != nil {
		t.Fatal(err)
	}
	var id ebpf.MapID
	if err := d.tables.Lookup(uint32(1), &id); err != nil {
		t.Fatal(err)
	}
	m, err := ebpf.NewMapFromID(id)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	mem, info := mapMemory(t, "the inner table", m)
	const slotBytes, fixedBytes = 4, 4096
	if limit := uint64(MaxTableSize*slotBytes + fixedBytes); mem > limit {
		t.Errorf("a %d-slot table takes %d bytes, want <= %d", MaxTableSize, mem, limit)
	}
	t.Logf("a %d-slot table takes %d bytes (%.1f KiB) in %d entries", MaxTableSize, mem, float64(mem)/1024, info.MaxEntries)
}

// TestFlowSpread sends flows from consecutive source ports of one client,
// as Linux picks them, and checks that the program spreads them over the
// reals like a random choice would: evenly (chi-square), and with
// neighbouring ports on the same real only 1 time in reals (a sum or xor of
// the ports moves neighbours by a fixed step, so they keep landing on the
// same real, however even the totals look). Two table layouts: reals
// interleaved slot by slot, and reals in contiguous blocks.
func TestFlowSpread(t *testing.T) {
	const (
		reals    = 16
		flows    = reals * 256
		basePort = 40000
		// chi2Max is the chi-square critical value for reals-1 = 15
		// degrees of freedom at p = 0.001. The flows are fixed, so the
		// test is deterministic; a uniform random choice passes it 999
		// times in 1000.
		chi2Max = 37.70
		// sameMin and sameMax bound how many of the flows-1 neighbouring
		// pairs share a real: expected (flows-1)/reals = 256, standard
		// deviation about 15.5; the bounds are 6 deviations away.
		sameMin, sameMax = 163, 349
		// sportOffset is where the TCP source port sits in the frame:
		// Ethernet (14) + IPv4 without options (20).
		sportOffset = 34
	)
	d := openTest(t, Options{MaxServices: 4, MaxReals: reals})
	if err := d.PutService(testVIP, Service{ID: 1, TableSize: MaxTableSize, Kind: KindDR}); err != nil {
		t.Fatal(err)
	}
	// Real id is the last byte of its MAC, so each output frame names it.
	for id := uint32(1); id <= reals; id++ {
		r := testReal(loIfindex)
		r.MAC = net.HardwareAddr{0x02, 0, 0, 0, 0x01, byte(id)}
		if err := d.PutReal(id, r); err != nil {
			t.Fatal(err)
		}
	}
	in := vipFrame(t)
	frame := make([]byte, len(in))

	for _, tc := range []struct {
		name string
		real func(slot int) uint32
	}{
		{"interleaved", func(s int) uint32 { return uint32(s%reals) + 1 }},
		{"blocks", func(s int) uint32 { return uint32(s*reals/MaxTableSize) + 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slots := make([]uint32, MaxTableSize)
			for i := range slots {
				slots[i] = tc.real(i)
			}
			if err := d.SwapTable(1, slots); err != nil {
				t.Fatal(err)
			}
			clearConns(t, d) // the flows are new for each layout
			counts := make([]int, reals+1)
			same, prev := 0, -1
			for p := range flows {
				copy(frame, in)
				binary.BigEndian.PutUint16(frame[sportOffset:], uint16(basePort+p))
				v, out := run(t, d.Program(), frame)
				if testutil.VerdictName(v) != "XDP_TX" {
					t.Fatalf("source port %d: verdict %s, want XDP_TX", basePort+p, testutil.VerdictName(v))
				}
				real := int(out[ethAddrLen-1])
				if real < 1 || real > reals {
					t.Fatalf("source port %d: forwarded to %s, no real's MAC", basePort+p, net.HardwareAddr(out[:ethAddrLen]))
				}
				counts[real]++
				if real == prev {
					same++
				}
				prev = real
			}
			const want = float64(flows) / reals
			var chi2 float64
			for _, n := range counts[1:] {
				chi2 += (float64(n) - want) * (float64(n) - want) / want
			}
			if chi2 > chi2Max {
				t.Errorf("%d flows over %d reals: chi-square %.1f > %.1f; flows per real %v", flows, reals, chi2, chi2Max, counts[1:])
			}
			if same < sameMin || same > sameMax {
				t.Errorf("%d of %d neighbouring source ports share a real, want %d..%d (1 in %d)", same, flows-1, sameMin, sameMax, reals)
			}
			t.Logf("chi-square %.1f, %d neighbours on the same real; flows per real %v", chi2, same, counts[1:])
		})
	}
}

// ethAddrLen is the length of a MAC address; the destination MAC leads the
// frame.
const ethAddrLen = 6
