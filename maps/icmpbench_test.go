package maps

import (
	"fmt"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"xlb/internal/testutil"
)

// BenchmarkPTB reports what a TUN packet too big for the tunnel costs
// (the PTB built and sent back, ptb_v4 and ptb_v6) against the same
// service encapsulating a packet that fits (ptb_v4_fits): repeat=1 calls
// less the drop program's time (see BenchmarkProgram), in the NAT lab,
// whose "tunnel" interface (MTU 1400) the golden cases put the real
// behind. The calls run on the lab's thread with no ingress named: the
// program then sees the lab's lo, and bpf_check_mtu looks the tunnel
// interface up by its ifindex.
func BenchmarkPTB(b *testing.B) {
	fx := loadFixtures(b)
	ref := loadReferences(b)
	lab := newNATLab(b)
	for _, bc := range []struct{ name, fixture, verdict string }{
		{"tun_v4_fits", "ptb_v4_fits", "XDP_REDIRECT"},
		{"ptb_v4", "ptb_v4", "XDP_TX"},
		{"ptb_v6", "ptb_v6", "XDP_TX"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := fx[bc.fixture]
			d := openTest(b, Options{MaxServices: 16, MaxReals: 16})
			f.lab = lab
			f.fill(b, d)
			var total time.Duration
			var n int
			for b.Loop() {
				var t time.Duration
				var err error
				if doErr := lab.ns.Do(func() error {
					t, err = labSingleTime(d.Program(), ref.drop, f.In, bc.verdict)
					return nil
				}); doErr != nil {
					b.Fatal(doErr)
				}
				if err != nil {
					b.Fatal(err)
				}
				total += t
				n++
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(n), "ns/pkt")
		})
	}
}

// labSingleTime is singleTime without a testing.TB, for a locked thread.
func labSingleTime(prog, drop *ebpf.Program, frame []byte, verdict string) (time.Duration, error) {
	var total, overhead time.Duration
	for range singleRuns {
		v, t, err := prog.Benchmark(frame, 1, nil)
		if err != nil {
			return 0, err
		}
		if got := testutil.VerdictName(v); got != verdict {
			return 0, fmt.Errorf("verdict %s, want %s", got, verdict)
		}
		_, o, err := drop.Benchmark(frame, 1, nil)
		if err != nil {
			return 0, err
		}
		total += t
		overhead += o
	}
	return (total - overhead) / singleRuns, nil
}
