package maps

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"xlb/controlplane/sched"
	"xlb/internal/testutil"
)

// Offsets in the golden untagged IPv4 TCP frame (tcp_vip_tx).
const (
	ipv4SrcOff   = 26                 // IPv4 source address
	tcpFlagsOff  = sportOffset + 13   // TCP flags byte
	dstMACLastOf = ethAddrLenTest - 1 // last byte of the destination MAC: the real's id (schedReal)
)

const ethAddrLenTest = 6

// schedReal returns real id on lo with MAC 02:00:00:00:01:id, so an output
// frame names the real it went to.
func schedReal(id uint32) Real {
	return Real{Addr: netip.AddrFrom4([4]byte{198, 18, 0, byte(10 + id)}), MAC: net.HardwareAddr{0x02, 0, 0, 0, 0x01, byte(id)},
		SrcMAC: nodeMAC, Ifindex: loIfindex}
}

// clientFrame returns the golden TCP frame to testVIP from client n
// (198.19.n>>8.n, port 1024 + n>>16) with TCP flags.
func clientFrame(base []byte, n uint32, flags byte) []byte {
	in := append([]byte(nil), base...)
	binary.BigEndian.PutUint32(in[ipv4SrcOff:], 198<<24|19<<16|(n&0xffff))
	binary.BigEndian.PutUint16(in[sportOffset:], uint16(1024+n>>16))
	in[tcpFlagsOff] = flags
	return in
}

// sendTo runs frame through the program and returns the real it went to
// (0: not forwarded).
func sendTo(tb testing.TB, d *Dataplane, frame []byte) uint32 {
	tb.Helper()
	verdict, out := run(tb, d.Program(), frame)
	if testutil.VerdictName(verdict) != "XDP_TX" {
		return 0
	}
	return uint32(out[dstMACLastOf])
}

// pinCPU keeps the calling goroutine on one CPU until the test ends, so
// that rr/wrr use one per-CPU position.
func pinCPU(tb testing.TB) {
	tb.Helper()
	runtime.LockOSThread()
	var old, one unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		tb.Fatal(err)
	}
	one.Set(0)
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		unix.SchedSetaffinity(0, &old)
		runtime.UnlockOSThread()
	})
}

// schedBackends are the reals of the oracle tests: ids 1..len(weights),
// keys in id order (so Key order is id order).
func schedBackends(weights []uint32) []sched.Backend {
	var out []sched.Backend
	for i, w := range weights {
		out = append(out, sched.Backend{ID: uint32(i + 1), Key: fmt.Sprintf("r%02d", i+1), Weight: w})
	}
	return out
}

// openSched opens a data plane with testVIP under scheduler s over reals
// of weights: the sequence (rr, wrr) or list (others) built as the
// control plane would.
func openSched(t *testing.T, s Scheduler, name string, weights []uint32, conns uint32) *Dataplane {
	t.Helper()
	d := openTest(t, Options{MaxServices: 4, MaxReals: 16, ConnTableSize: conns})
	backends := sched.Sorted(schedBackends(weights))
	for _, b := range backends {
		if err := d.PutReal(b.ID, schedReal(b.ID)); err != nil {
			t.Fatal(err)
		}
	}
	svc := Service{ID: 1, Kind: KindDR, Scheduler: s}
	switch s {
	case SchedRR, SchedWRR:
		build := sched.WRRSequence
		if s == SchedRR {
			build = sched.RRSequence
		}
		seq, err := build(backends)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.SwapSequence(1, seq); err != nil {
			t.Fatal(err)
		}
		svc.TableSize = uint32(len(seq))
	default:
		var list []SchedReal
		for _, b := range backends {
			list = append(list, SchedReal{ID: b.ID, Weight: b.Weight})
		}
		if err := d.SwapSchedReals(1, list); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.PutService(testVIP, svc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

// TestRRSequenceOracle checks that on one CPU rr and wrr place new flows
// in exactly the order controlplane/sched's Model (IPVS's rules over Key
// order) does, over three cycles.
func TestRRSequenceOracle(t *testing.T) {
	for _, tc := range []struct {
		name    string
		s       Scheduler
		weights []uint32
	}{
		{"rr", SchedRR, []uint32{1, 5, 0, 2}},
		{"wrr", SchedWRR, []uint32{3, 1, 2}},
		{"wrr quiesced", SchedWRR, []uint32{4, 0, 2, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pinCPU(t)
			name := map[Scheduler]string{SchedRR: sched.RR, SchedWRR: sched.WRR}[tc.s]
			d := openSched(t, tc.s, name, tc.weights, 1024)
			m, err := sched.New(name, sched.Sorted(schedBackends(tc.weights)))
			if err != nil {
				t.Fatal(err)
			}
			var sum uint32
			for _, w := range tc.weights {
				sum += w
			}
			base := vipFrame(t)
			var want, got []uint32
			for n := range 3 * sum {
				id, _ := m.Pick(sched.Flow{})
				want = append(want, id)
				got = append(got, sendTo(t, d, clientFrame(base, n, 0x02)))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("reals of successive new flows (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWRRShare sends 100,000 new flows to a wrr service of weights 3:1 on
// one CPU: each real's share of the Connections counters is its weight
// share within ±2%.
func TestWRRShare(t *testing.T) {
	pinCPU(t)
	const flows = 100_000
	weights := []uint32{3, 1}
	d := openSched(t, SchedWRR, sched.WRR, weights, 1<<17)
	base := vipFrame(t)
	for n := range uint32(flows) {
		if id := sendTo(t, d, clientFrame(base, n, 0x02)); id == 0 {
			t.Fatalf("flow %d not forwarded", n)
		}
	}
	var conns [2]uint64
	for i := range weights {
		c, err := d.RealCounters(uint32(i + 1))
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c.Connections
	}
	if conns[0]+conns[1] != flows {
		t.Errorf("connections counted on the reals: %d, want %d", conns[0]+conns[1], flows)
	}
	for i, w := range weights {
		share, want := float64(conns[i])/flows, float64(w)/4
		if share < want*0.98 || share > want*1.02 {
			t.Errorf("real %d: share %.4f of %d flows, want %.4f ±2%%", i+1, share, flows, want)
		}
	}
}

// flowState is a scripted flow of TestLeastConnOracle.
type flowState struct {
	n     uint32
	real  uint32
	state ConnState
}

// TestLeastConnOracle runs a seeded script of new flows, ACKs, FINs and
// expiries (entries aged, then ResyncConnCounts) against lc, wlc, sed and
// nq, and checks every pick against controlplane/sched's Model fed the
// same events (Connect, Establish, Close, Expire) over Key order, and the
// data plane's counts against the Model's after every step.
func TestLeastConnOracle(t *testing.T) {
	weights := []uint32{2, 0, 1, 3, 1}
	for _, tc := range []struct {
		name string
		s    Scheduler
	}{{sched.LC, SchedLC}, {sched.WLC, SchedWLC}, {sched.SED, SchedSED}, {sched.NQ, SchedNQ}} {
		t.Run(tc.name, func(t *testing.T) {
			d := openSched(t, tc.s, tc.name, weights, 4096)
			m, err := sched.New(tc.name, sched.Sorted(schedBackends(weights)))
			if err != nil {
				t.Fatal(err)
			}
			base := vipFrame(t)
			rng := rand.New(rand.NewPCG(4, uint64(tc.s)))
			var flows []*flowState
			var next uint32
			const steps = 300
			for step := range steps {
				op := rng.IntN(10)
				var f *flowState
				if len(flows) > 0 {
					f = flows[rng.IntN(len(flows))]
				}
				switch {
				case op < 4 || f == nil: // new flow
					want, ok := m.Pick(sched.Flow{})
					got := sendTo(t, d, clientFrame(base, next, 0x02))
					if !ok || got != want {
						t.Fatalf("step %d: new flow went to real %d, want %d (ok %v)", step, got, want, ok)
					}
					if err := m.Connect(want); err != nil {
						t.Fatal(err)
					}
					flows = append(flows, &flowState{n: next, real: got, state: ConnSYN})
					next++
				case op < 7 && f.state == ConnSYN: // established
					if got := sendTo(t, d, clientFrame(base, f.n, 0x10)); got != f.real {
						t.Fatalf("step %d: ACK went to real %d, want %d", step, got, f.real)
					}
					if err := m.Establish(f.real); err != nil {
						t.Fatal(err)
					}
					f.state = ConnEstablished
				case op < 9 && f.state == ConnEstablished: // closed
					if got := sendTo(t, d, clientFrame(base, f.n, 0x11)); got != f.real {
						t.Fatalf("step %d: FIN went to real %d, want %d", step, got, f.real)
					}
					if err := m.Close(f.real); err != nil {
						t.Fatal(err)
					}
					f.state = ConnClosing
				case f.state != ConnEstablished: // expired without another packet
					ageConnTo(t, d, clientFrame(base, f.n, 0))
					if _, err := d.ResyncConnCounts(); err != nil {
						t.Fatal(err)
					}
					if err := m.Expire(f.real); err != nil {
						t.Fatal(err)
					}
					flows = slicesDelete(flows, f)
				}
				for id := uint32(1); id <= uint32(len(weights)); id++ {
					wa, wi, _ := m.Conns(id)
					ga, gi, err := d.RealConnCounts(id)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff([2]uint64{uint64(wa), uint64(wi)}, [2]uint64{ga, gi}); diff != "" {
						t.Fatalf("step %d: real %d counts [active inactive] (-want +got):\n%s", step, id, diff)
					}
				}
			}
		})
	}
}

func slicesDelete(flows []*flowState, f *flowState) []*flowState {
	for i, g := range flows {
		if g == f {
			return append(flows[:i], flows[i+1:]...)
		}
	}
	return flows
}

// TestConnCountsLifecycle follows one flow's counts through its states,
// a real's replacement (new generation: counts start again) and a
// resync that drops the expired entry.
func TestConnCountsLifecycle(t *testing.T) {
	d := openSched(t, SchedLC, sched.LC, []uint32{1}, 1024)
	base := vipFrame(t)
	counts := func() [2]uint64 {
		a, in, err := d.RealConnCounts(1)
		if err != nil {
			t.Fatal(err)
		}
		return [2]uint64{a, in}
	}
	for _, step := range []struct {
		name  string
		do    func()
		wantA uint64
		wantI uint64
	}{
		{"syn", func() { sendTo(t, d, clientFrame(base, 1, 0x02)) }, 0, 1},
		{"ack", func() { sendTo(t, d, clientFrame(base, 1, 0x10)) }, 1, 0},
		{"second ack", func() { sendTo(t, d, clientFrame(base, 1, 0x10)) }, 1, 0},
		{"second flow", func() { sendTo(t, d, clientFrame(base, 2, 0x02)) }, 1, 1},
		{"fin", func() { sendTo(t, d, clientFrame(base, 1, 0x11)) }, 0, 2},
		{"syn reopens", func() { sendTo(t, d, clientFrame(base, 1, 0x02)) }, 0, 2},
		{"aged and resynced", func() {
			ageConnTo(t, d, clientFrame(base, 2, 0))
			if n, err := d.ResyncConnCounts(); err != nil || n != 1 {
				t.Fatalf("ResyncConnCounts = %d, %v; want 1 expired", n, err)
			}
		}, 0, 1},
		{"real replaced", func() {
			r := schedReal(1)
			r.Addr = netip.MustParseAddr("198.18.0.99")
			if err := d.PutReal(1, r); err != nil {
				t.Fatal(err)
			}
		}, 0, 0},
		{"old generation's flow rescheduled", func() { sendTo(t, d, clientFrame(base, 1, 0x10)) }, 1, 0},
	} {
		step.do()
		if diff := cmp.Diff([2]uint64{step.wantA, step.wantI}, counts()); diff != "" {
			t.Errorf("after %s: counts [active inactive] (-want +got):\n%s", step.name, diff)
		}
	}
}

// TestSchedValidation checks the new API's argument errors.
func TestSchedValidation(t *testing.T) {
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4})
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"rr table size 0", d.PutService(testVIP, Service{ID: 1, Kind: KindDR, Scheduler: SchedRR})},
		{"wlc with table size", d.PutService(testVIP, Service{ID: 1, Kind: KindDR, Scheduler: SchedWLC, TableSize: 7})},
		{"lc with sh", d.PutService(testVIP, Service{ID: 1, Kind: KindDR, Scheduler: SchedLC, Hash: HashSource})},
		{"unknown scheduler", d.PutService(testVIP, Service{ID: 1, Kind: KindDR, Scheduler: 99})},
		{"empty sequence", d.SwapSequence(1, nil)},
		{"sequence real beyond max", d.SwapSequence(1, []uint32{1, 5})},
		{"sequence service 0", d.SwapSequence(0, []uint32{1})},
		{"too many sched reals", d.SwapSchedReals(1, make([]SchedReal, MaxSchedReals+1))},
		{"sched real 0", d.SwapSchedReals(1, []SchedReal{{ID: 0, Weight: 1}})},
		{"conn counts of real 0", func() error { _, _, err := d.RealConnCounts(0); return err }()},
	} {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if err := d.PutService(testVIP, Service{ID: 1, Kind: KindDR, Scheduler: SchedWRR, TableSize: 4}); err != nil {
		t.Errorf("wrr of 4: %v", err)
	}
	if err := d.DeleteSchedReals(2); err == nil {
		t.Error("DeleteSchedReals of a service without list: no error")
	}
}
