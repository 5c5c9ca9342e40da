package maps

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"xlb/bpf"
)

// benchRepeat is how many times the kernel runs the program per
// BPF_PROG_TEST_RUN call; it reports the mean time per run.
const benchRepeat = 200_000

// benchReals is how many reals share the benchmark's full table.
const benchReals = 16

// BenchmarkProgram reports the kernel's time per packet (ns/pkt, also as
// ns/op) for a VIP packet and a non-VIP packet, with a full 65537-slot
// Maglev table, beside the MAC-swap reference run in the same loop
// (macswap_ns/pkt) and the ratio to it (x_macswap). The fixed per-call
// test-run overhead (LAB-NOTES: ~35 ns) is spread over benchRepeat runs;
// what remains per run (~1-2 ns) is the same for both programs.
func BenchmarkProgram(b *testing.B) {
	d := openTest(b, Options{})
	fixtures := loadFixtures(b)
	vipKey := ServiceKey{Addr: netip.MustParseAddr("198.18.0.100"), Port: 80, Proto: 6}
	if err := d.PutService(vipKey, Service{ID: 1, TableSize: MaxTableSize, Kind: KindDR}); err != nil {
		b.Fatal(err)
	}
	for id := uint32(1); id <= benchReals; id++ {
		r := testReal(loIfindex)
		r.MAC = net.HardwareAddr{0x02, 0, 0, 0, 0x01, byte(id)}
		if err := d.PutReal(id, r); err != nil {
			b.Fatal(err)
		}
	}
	slots := make([]uint32, MaxTableSize)
	for i := range slots {
		slots[i] = uint32(i%benchReals) + 1
	}
	if err := d.SwapTable(1, slots); err != nil {
		b.Fatal(err)
	}

	var ms bpf.MacswapObjects
	if err := bpf.LoadMacswapObjects(&ms, nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ms.Close() })

	for _, bc := range []struct {
		name    string
		frame   []byte
		verdict string
	}{
		{"vip", fixtures["tcp_vip_tx"].In, "XDP_TX"},
		{"non_vip", fixtures["non_vip_port"].In, "XDP_PASS"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var lb, ref time.Duration
			var n int
			for b.Loop() {
				lb += kernelTime(b, d.Program(), bc.frame, bc.verdict)
				ref += kernelTime(b, ms.MacswapXdp, bc.frame, "XDP_TX")
				n++
			}
			perPkt := float64(lb.Nanoseconds()) / float64(n)
			refPerPkt := float64(ref.Nanoseconds()) / float64(n)
			b.ReportMetric(perPkt, "ns/op")
			b.ReportMetric(perPkt, "ns/pkt")
			b.ReportMetric(refPerPkt, "macswap_ns/pkt")
			b.ReportMetric(perPkt/refPerPkt, "x_macswap")
		})
	}
}

// kernelTime runs prog benchRepeat times on frame and returns the kernel's
// mean time per run, checking the verdict.
func kernelTime(b *testing.B, prog *ebpf.Program, frame []byte, verdict string) time.Duration {
	v, per, err := prog.Benchmark(frame, benchRepeat, nil)
	if err != nil {
		b.Fatal(err)
	}
	if got := verdictName(v); got != verdict {
		b.Fatalf("verdict %s, want %s", got, verdict)
	}
	return per
}

// BenchmarkSwapTable measures what a changed real set costs the control
// plane: a new 65537-slot inner table built, filled and swapped in.
func BenchmarkSwapTable(b *testing.B) {
	d := openTest(b, Options{})
	slots := make([]uint32, MaxTableSize)
	for i := range slots {
		slots[i] = uint32(i%benchReals) + 1
	}
	for b.Loop() {
		if err := d.SwapTable(1, slots); err != nil {
			b.Fatal(err)
		}
	}
}
