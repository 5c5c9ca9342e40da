package rate

import (
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

const (
	// testFrames is the short run of TestFramesArrive.
	testFrames = 100_000
	// benchFrames is one measurement of BenchmarkRate: 60 to 150 ms at
	// this machine's rates, 12 to 30 sink samples.
	benchFrames = 1_000_000
	// benchRounds is how many times BenchmarkRate measures each program.
	benchRounds = 5
	// minWindow is the least steady-state span (4 samples) a round's
	// rate may rest on.
	minWindow = 20 * time.Millisecond
	// liveSlack is how many frames more than asked a live-frames run may
	// deliver: the kernel sends in batches (64 frames by default) and a
	// loaded CI machine was seen delivering 64 more than the repeat count.
	liveSlack = 256
)

// TestFramesArrive proves the lab works: frames sent from gen come back
// through xlb (counted by xlb as tx, and as connection-table hits: an
// established flow) to the sink, all on runCPU; and the same through
// macswap and refdr.
func TestFramesArrive(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct {
		name string
		use  func()
	}{
		{"macswap", func() { l.use(t, "macswap", l.macswap) }},
		{"refdr", func() { l.use(t, "refdr", l.refdr) }},
		{"xlb", func() { l.use(t, "xlb", l.dp.Program()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.use()
			r := l.measure(t, testFrames)
			if r.sent != testFrames {
				t.Fatalf("sent %d frames, want %d", r.sent, testFrames)
			}
			if r.received*10 < r.sent*9 {
				t.Errorf("sink counted %d of %d frames, want > 90%%", r.received, r.sent)
			}
			if r.received > r.sent+liveSlack {
				t.Errorf("sink counted %d frames, more than the %d sent (+%d)", r.received, r.sent, liveSlack)
			}
			if r.offCPU != 0 {
				t.Errorf("%d frames counted on another CPU than %d", r.offCPU, runCPU)
			}
			t.Logf("%s: %d/%d frames, %.2f Mpps over %s", tc.name, r.received, r.sent, r.mpps(), r.window)
		})
	}
	reasons, err := l.dp.Reasons()
	if err != nil {
		t.Fatal(err)
	}
	// Every frame that reached xlb (warm-up included) is sent back, and
	// all but the flow's first hit the connection table.
	const reached = testFrames + warmFrames
	if got := reasons["tx"]; got*10 < reached*9 || got > reached+2*liveSlack {
		t.Errorf("xlb tx reason = %d, want 90..100%% of %d", got, reached)
	}
	if got, tx := reasons["ct_hit"], reasons["tx"]; got+1 != tx {
		t.Errorf("xlb ct_hit = %d, want tx - 1 = %d (one established flow)", got, tx-1)
	}
	for name, n := range reasons {
		if n != 0 && name != "tx" && name != "ct_hit" && name != "ct_miss" {
			t.Errorf("xlb reason %s = %d, want 0", name, n)
		}
	}
}

// BenchmarkRate reports the packet rate over veth on one CPU of xlb
// (established DR flow, Mpps_xlb), of the MAC-swap floor (Mpps_macswap)
// and of refdr.c, the minimal stateless DR balancer (Mpps_refdr), and
// xlb's ratios to them, x_macswap (issue 4's target: at least 0.85) and
// x_refdr; delivered_* is the share of sent frames the sink counted.
//
// Each iteration measures the three programs in turn, benchRounds times
// with the order rotated, benchFrames frames a measurement; the rates are
// each program's best round (rounds the sampler saw less than minWindow
// of do not count). The machine is shared: measured here, a run
// drops for whole stretches to about 60 % of its rate (macswap 17 → 10
// Mpps, xlb 12 → 7) with no ksoftirqd time at all, so the slow stretches
// come from outside load, and the best of short interleaved rounds
// compares the programs under the same conditions.
func BenchmarkRate(b *testing.B) {
	l := newLab(b)
	progs := []struct {
		name string
		prog *ebpf.Program
	}{{"macswap", l.macswap}, {"refdr", l.refdr}, {"xlb", l.dp.Program()}}
	best := make([]float64, len(progs))
	total := make([]result, len(progs))
	valid := make([]int, len(progs))
	for b.Loop() {
		for round := range benchRounds {
			for k := range progs {
				i := (k + round) % len(progs)
				l.use(b, progs[i].name, progs[i].prog)
				r := l.measure(b, benchFrames)
				if r.offCPU != 0 {
					b.Fatalf("%s: %d frames counted on another CPU than %d", progs[i].name, r.offCPU, runCPU)
				}
				total[i].sent += r.sent
				total[i].received += r.received
				if r.window < minWindow {
					// The sampler missed the run (its CPU busy
					// elsewhere): no rate, only counts.
					continue
				}
				best[i] = max(best[i], r.mpps())
				valid[i]++
			}
		}
	}
	for i, p := range progs {
		if valid[i] == 0 {
			b.Fatalf("%s: no round sampled over at least %s", p.name, minWindow)
		}
	}
	ms, rd, lb := best[0], best[1], best[2]
	b.ReportMetric(lb, "Mpps_xlb")
	b.ReportMetric(ms, "Mpps_macswap")
	b.ReportMetric(rd, "Mpps_refdr")
	b.ReportMetric(lb/ms, "x_macswap")
	b.ReportMetric(lb/rd, "x_refdr")
	for i, p := range progs {
		b.ReportMetric(float64(total[i].received)/float64(total[i].sent), "delivered_"+p.name)
	}
}
