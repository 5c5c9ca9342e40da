package maps

import (
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// BenchmarkSchedFirstPacket reports the first packet of a flow (conntrack
// miss, schedule, insert) under each kind of scheduler, with refdr and
// macswap measured in the same loop as BenchmarkProgram does
// (x_refdr). Both methods of BenchmarkProgram's first packet run:
// "single" (repeat=1 calls, a new 5-tuple each, drop program's overhead
// subtracted, caches cold) and "warm" (newFlowProgram: batches of new
// flows, the table soon full and every insert evicting). Services on the
// golden VIP over benchReals reals: mh (BenchmarkProgram's
// dr_v4_first_packet), wrr on port 8083 (weights 1..benchReals), wlc on
// 8084 (the same weights: the scan reads every real's counts), and lblc
// and lblcr on 8085 and 8086 (the same list). Every flow goes to the one
// VIP, so after the first the locality entry decides: the table-hit path
// (entry, member load; new flows count inactive and never overload it).
func BenchmarkSchedFirstPacket(b *testing.B) {
	fx := loadFixtures(b)
	ref := loadReferences(b)
	d := benchDataplane(b, Options{}, benchReals)
	var seq []uint32
	var list []SchedReal
	for id := uint32(1); id <= benchReals; id++ {
		list = append(list, SchedReal{ID: id, Weight: id})
		for range id {
			seq = append(seq, id)
		}
	}
	if err := d.SwapSequence(4, seq); err != nil {
		b.Fatal(err)
	}
	for _, id := range []uint32{5, 6, 7} {
		if err := d.SwapSchedReals(id, list); err != nil {
			b.Fatal(err)
		}
	}
	vip := netip.MustParseAddr("198.18.0.100")
	for _, s := range []struct {
		port uint16
		svc  Service
	}{
		{8083, Service{ID: 4, Kind: KindDR, Scheduler: SchedWRR, TableSize: uint32(len(seq))}},
		{8084, Service{ID: 5, Kind: KindDR, Scheduler: SchedWLC}},
		{8085, Service{ID: 6, Kind: KindDR, Scheduler: SchedLBLC}},
		{8086, Service{ID: 7, Kind: KindDR, Scheduler: SchedLBLCR}},
	} {
		if err := d.PutService(ServiceKey{Addr: vip, Port: s.port, Proto: unix.IPPROTO_TCP}, s.svc); err != nil {
			b.Fatal(err)
		}
	}
	in := fx["tcp_vip_tx"].In
	runFirstPackets(b, d, ref, in, []firstPacketCase{
		{"mh", in},
		{"wrr", withDport(in, 8083)},
		{"wlc", withDport(in, 8084)},
		{"lblc", withDport(in, 8085)},
		{"lblcr", withDport(in, 8086)},
	})
}

// firstPacketCase is a frame whose new flows a first-packet benchmark runs.
type firstPacketCase struct {
	name  string
	frame []byte
}

// runFirstPackets runs each case's new flows both ways (NAME_single:
// repeat=1 calls, a new 5-tuple each, the drop program's overhead
// subtracted; NAME_warm: newFlowProgram batches), with refdr on in and
// macswap measured in the same loop (reportRatios).
func runFirstPackets(b *testing.B, d *Dataplane, ref references, in []byte, cases []firstPacketCase) {
	for _, bc := range cases {
		for _, warm := range []bool{false, true} {
			name := bc.name + "_single"
			if warm {
				name = bc.name + "_warm"
			}
			b.Run(name, func(b *testing.B) {
				var lb, rd, ms time.Duration
				var n int
				flow := uint32(0)
				var lbWarm, rdWarm *ebpf.Program
				if warm {
					lbWarm, rdWarm = newFlowProgram(b, d.Program()), newFlowProgram(b, ref.refdr)
				}
				for b.Loop() {
					if warm {
						lb += kernelTime(b, lbWarm, bc.frame, "XDP_TX")
						rd += kernelTime(b, rdWarm, in, "XDP_TX")
					} else {
						lb += newFlowTime(b, d.Program(), ref.drop, bc.frame, &flow)
						rd += singleTime(b, ref.refdr, ref.drop, in, "XDP_TX")
					}
					ms += kernelTime(b, ref.macswap, in, "XDP_TX")
					n++
				}
				reportRatios(b, lb, rd, ms, n)
			})
		}
	}
}
