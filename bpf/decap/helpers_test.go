package decap

import (
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"

	"xlb/internal/testutil"
)

// loadTest loads the program with decap_dsts and vips filled, and closes
// it when the test ends.
func loadTest(tb testing.TB, dsts, vips []netip.Addr) *DecapObjects {
	tb.Helper()
	testutil.RequireRoot(tb)
	var objs DecapObjects
	if err := LoadDecapObjects(&objs, nil); err != nil {
		tb.Fatalf("load decap: %+v", err)
	}
	tb.Cleanup(func() { objs.Close() })
	for _, set := range []struct {
		m     *ebpf.Map
		addrs []netip.Addr
	}{{objs.DecapDsts, dsts}, {objs.Vips, vips}} {
		for _, a := range set.addrs {
			if err := set.m.Put(DecapDecapAddr{Addr: a.As16()}, uint32(1)); err != nil {
				tb.Fatalf("put %s: %v", a, err)
			}
		}
	}
	return &objs
}

// run passes frame through the program once.
func run(tb testing.TB, prog *ebpf.Program, in []byte) (verdict uint32, out []byte) {
	tb.Helper()
	out = make([]byte, len(in)+256)
	opts := ebpf.RunOptions{Data: in, DataOut: out}
	verdict, err := prog.Run(&opts)
	if err != nil {
		tb.Fatalf("run program: %v", err)
	}
	return verdict, opts.DataOut
}

// reasonCounts returns the non-zero reason counts, summed over CPUs.
func reasonCounts(tb testing.TB, m *ebpf.Map) map[string]uint64 {
	tb.Helper()
	names, err := ReasonNames()
	if err != nil {
		tb.Fatal(err)
	}
	out := make(map[string]uint64)
	for i, name := range names {
		var perCPU []uint64
		if err := m.Lookup(uint32(i), &perCPU); err != nil {
			tb.Fatalf("read reason %s: %v", name, err)
		}
		var n uint64
		for _, v := range perCPU {
			n += v
		}
		if n != 0 {
			out[name] = n
		}
	}
	return out
}

// clearReasons zeroes every reason count.
func clearReasons(tb testing.TB, m *ebpf.Map) {
	tb.Helper()
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		tb.Fatal(err)
	}
	zero := make([]uint64, ncpu)
	for i := uint32(0); i < uint32(DecapReasonREASON_MAX); i++ {
		if err := m.Put(i, zero); err != nil {
			tb.Fatal(err)
		}
	}
}
