package maps

import (
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

// BenchmarkTunnel measures TUN (IPIP) established flows batched, which
// BenchmarkProgram's repeat=1 rows cannot: a batched run re-runs the
// program on its own, encapsulated, output. Every program runs behind
// shrinkRestoreProgram, which takes the frame back to its original length
// (bpf_xdp_adjust_head; by 0 bytes for the references, whose frames do
// not grow, so that each pays the helper call) and writes the original
// frame over it. Reported: xlb, refdr and MAC-swap behind that wrapper
// (ns/pkt, refdr_ns/pkt, macswap_ns/pkt, x_refdr) and the wrapper's own
// cost, wrap_ns/pkt (MAC-swap behind it less MAC-swap alone, measured in
// the same loop), taken off all three for x_refdr_net; and refct behind
// the wrapper (refct_ns/pkt, x_refct_net: wrapper taken off both).
func BenchmarkTunnel(b *testing.B) {
	fx := loadFixtures(b)
	ref := loadReferences(b)
	d := benchDataplane(b, Options{}, benchReals)
	refIn := fx["ct_hit"].In
	for _, bc := range []struct {
		name  string
		frame []byte
	}{
		{"tun_v4_established", withDport(fx["ct_hit"].In, 8080)},
		// The DR flow behind the same wrapper: what TUN adds to DR.
		{"dr_v4_established", fx["ct_hit"].In},
	} {
		b.Run(bc.name, func(b *testing.B) {
			lb := shrinkRestoreProgram(b, d.Program(), bc.frame)
			rd := shrinkRestoreProgram(b, ref.refdr, refIn)
			ct := shrinkRestoreProgram(b, ref.refct, refIn)
			ms := shrinkRestoreProgram(b, ref.macswap, refIn)
			var tl, tr, tc, tm, tplain time.Duration
			var n int
			for b.Loop() {
				tl += kernelTime(b, lb, bc.frame, "XDP_TX")
				tr += kernelTime(b, rd, refIn, "XDP_TX")
				tc += kernelTime(b, ct, refIn, "XDP_TX")
				tm += kernelTime(b, ms, refIn, "XDP_TX")
				tplain += kernelTime(b, ref.macswap, refIn, "XDP_TX")
				n++
			}
			per := func(t time.Duration) float64 { return float64(t.Nanoseconds()) / float64(n) }
			wrap := per(tm) - per(tplain)
			b.ReportMetric(per(tl), "ns/op")
			b.ReportMetric(per(tl), "ns/pkt")
			b.ReportMetric(per(tr), "refdr_ns/pkt")
			b.ReportMetric(per(tm), "macswap_ns/pkt")
			b.ReportMetric(wrap, "wrap_ns/pkt")
			b.ReportMetric(per(tl)/per(tr), "x_refdr")
			b.ReportMetric((per(tl)-wrap)/(per(tr)-wrap), "x_refdr_net")
			b.ReportMetric(per(tc), "refct_ns/pkt")
			b.ReportMetric((per(tl)-wrap)/(per(tc)-wrap), "x_refct_net")
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
