package maps

import (
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

// BenchmarkTunnel measures TUN (IPIP, IP6IP6) established flows batched,
// which BenchmarkProgram's repeat=1 rows cannot: a batched run re-runs the
// program on its own, encapsulated, output. Every program runs behind
// shrinkRestoreProgram, which takes the frame back to its original length
// (bpf_xdp_adjust_head; by 0 bytes for the references whose frames do
// not grow, so that each pays the helper call) and writes the original
// frame over it. Reported: xlb, refdr and MAC-swap behind that wrapper
// (ns/pkt, refdr_ns/pkt, macswap_ns/pkt, x_refdr) and the wrapper's own
// cost, wrap_ns/pkt (MAC-swap behind it less MAC-swap alone, measured in
// the same loop), taken off all three for x_refdr_net; refct behind the
// wrapper (refct_ns/pkt, x_refct_net: wrapper taken off both); and
// refct_tun, refct with TUN's encapsulation (bpf/refdr.c), the least a
// tracked TUN balancer does: refct_tun_ns/pkt, refct_tun_x_refdr_net (its
// cost over refdr's) and x_refct_tun_net, all net of the wrapper. The
// references run a DR frame of the row's family (ct_hit, ipv6_tcp_tx).
func BenchmarkTunnel(b *testing.B) {
	fx := loadFixtures(b)
	ref := loadReferences(b)
	d := benchDataplane(b, Options{}, benchReals)
	for _, bc := range []struct {
		name         string
		frame, refIn []byte
	}{
		{"tun_v4_established", withDport(fx["ct_hit"].In, 8080), fx["ct_hit"].In},
		{"tun_v6_established", withDport6(fx["ipv6_tcp_tx"].In, 8080), fx["ipv6_tcp_tx"].In},
		// The DR flow behind the same wrapper: what TUN adds to DR.
		{"dr_v4_established", fx["ct_hit"].In, fx["ct_hit"].In},
	} {
		b.Run(bc.name, func(b *testing.B) {
			lb := shrinkRestoreProgram(b, d.Program(), bc.frame)
			rd := shrinkRestoreProgram(b, ref.refdr, bc.refIn)
			ct := shrinkRestoreProgram(b, ref.refct, bc.refIn)
			tn := shrinkRestoreProgram(b, ref.refctTun, bc.refIn)
			ms := shrinkRestoreProgram(b, ref.macswap, bc.refIn)
			var tl, tr, tc, tt, tm, tplain time.Duration
			var n int
			for b.Loop() {
				tl += kernelTime(b, lb, bc.frame, "XDP_TX")
				tr += kernelTime(b, rd, bc.refIn, "XDP_TX")
				tc += kernelTime(b, ct, bc.refIn, "XDP_TX")
				tt += kernelTime(b, tn, bc.refIn, "XDP_TX")
				tm += kernelTime(b, ms, bc.refIn, "XDP_TX")
				tplain += kernelTime(b, ref.macswap, bc.refIn, "XDP_TX")
				n++
			}
			per := func(t time.Duration) float64 { return float64(t.Nanoseconds()) / float64(n) }
			wrap := per(tm) - per(tplain)
			net := func(t time.Duration) float64 { return per(t) - wrap }
			b.ReportMetric(per(tl), "ns/op")
			b.ReportMetric(per(tl), "ns/pkt")
			b.ReportMetric(per(tr), "refdr_ns/pkt")
			b.ReportMetric(per(tm), "macswap_ns/pkt")
			b.ReportMetric(wrap, "wrap_ns/pkt")
			b.ReportMetric(per(tl)/per(tr), "x_refdr")
			b.ReportMetric(net(tl)/net(tr), "x_refdr_net")
			b.ReportMetric(per(tc), "refct_ns/pkt")
			b.ReportMetric(net(tl)/net(tc), "x_refct_net")
			b.ReportMetric(per(tt), "refct_tun_ns/pkt")
			b.ReportMetric(net(tt)/net(tr), "refct_tun_x_refdr_net")
			b.ReportMetric(net(tl)/net(tt), "x_refct_tun_net")
		})
	}
}

// shrinkRestoreProgram returns a benchmark-only XDP program that moves
// the packet's start back by what the previous run added in front of it
// (its length less len(frame)), writes frame over it and tail-calls
// target: a batched run then gives target the same frame every time, even
// when target grows it. Its cost (a helper call, a map lookup, a few
// 8-byte copies, the tail call) is in the figure.
func shrinkRestoreProgram(b *testing.B, target *ebpf.Program, frame []byte) *ebpf.Program {
	b.Helper()
	return frameProgram(b, target, frame, true)
}
