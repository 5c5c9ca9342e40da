package maps

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"xlb/bpf"
	"xlb/controlplane/sched"
)

// localityHintNone is LOCALITY_HINT_NONE (bpf/consts.h): a member whose
// place in the list the program must look up.
const localityHintNone = 0xff

// ipv4DstOff is where the IPv4 destination address sits in an untagged
// frame.
const ipv4DstOff = 30

// fixtureLocality is an lblc/lblcr entry of a golden case: the reals new
// flows of service_id to dst go to, newest first. Before the run, idle_s
// ages it (its last use and last change).
type fixtureLocality struct {
	ServiceID uint32   `json:"service_id"`
	Dst       string   `json:"dst"`
	Reals     []uint32 `json:"reals"`
	IdleS     int      `json:"idle_s,omitempty"`
}

// fillLocalities writes ls into the localities table, each member with
// its real's current generation and no hint.
func fillLocalities(tb testing.TB, d *Dataplane, ls []fixtureLocality) {
	tb.Helper()
	now := MonotonicNow()
	for _, l := range ls {
		at := uint64(now - time.Duration(l.IdleS)*time.Second)
		v := bpf.XlbLocality{LastUse: at, LastMod: at, Count: uint32(len(l.Reals))}
		for i, id := range l.Reals {
			var r bpf.XlbReal
			if err := d.reals.Lookup(id, &r); err != nil {
				tb.Fatalf("locality real %d: %v", id, err)
			}
			v.Members[i] = bpf.XlbLocalityMember{RealId: id, RealGen: r.Gen, Hint: localityHintNone}
		}
		key := localityKey(l.ServiceID, netip.MustParseAddr(l.Dst))
		if err := d.localities.Update(&key, &v, ebpf.UpdateAny); err != nil {
			tb.Fatal(err)
		}
	}
}

// dumpLocalities lists the localities table, sorted, without times.
func dumpLocalities(tb testing.TB, d *Dataplane) []fixtureLocality {
	tb.Helper()
	var out []fixtureLocality
	var key bpf.XlbLocalityKey
	var v bpf.XlbLocality
	it := d.localities.Iterate()
	for it.Next(&key, &v) {
		l := fixtureLocality{ServiceID: key.ServiceId, Dst: netip.AddrFrom16(key.Addr).Unmap().String()}
		for _, m := range v.Members[:min(int(v.Count), MaxLocalitySet)] {
			l.Reals = append(l.Reals, m.RealId)
		}
		out = append(out, l)
	}
	if err := it.Err(); err != nil {
		tb.Fatal(err)
	}
	slices.SortFunc(out, func(a, b fixtureLocality) int {
		if a.ServiceID != b.ServiceID {
			return int(a.ServiceID) - int(b.ServiceID)
		}
		return strings.Compare(a.Dst, b.Dst)
	})
	return out
}

// ageLocalities moves every lblc/lblcr entry's last use and last change
// back by by, as if that much time had passed.
func ageLocalities(tb testing.TB, d *Dataplane, by time.Duration) {
	tb.Helper()
	var keys []bpf.XlbLocalityKey
	var vals []bpf.XlbLocality
	var key bpf.XlbLocalityKey
	var v bpf.XlbLocality
	it := d.localities.Iterate()
	for it.Next(&key, &v) {
		keys, vals = append(keys, key), append(vals, v)
	}
	if err := it.Err(); err != nil {
		tb.Fatal(err)
	}
	back := func(t uint64) uint64 { return t - min(t, uint64(by)) }
	for i := range keys {
		vals[i].LastUse, vals[i].LastMod = back(vals[i].LastUse), back(vals[i].LastMod)
		if err := d.localities.Update(&keys[i], &vals[i], ebpf.UpdateExist); err != nil {
			tb.Fatal(err)
		}
	}
}

// withDst returns frame (untagged IPv4) sent to dst instead. The IPv4
// checksum goes stale; the program does not check it.
func withDst(frame []byte, dst netip.Addr) []byte {
	out := append([]byte(nil), frame...)
	a := dst.As4()
	copy(out[ipv4DstOff:], a[:])
	return out
}

// localityFlow is a scripted flow of TestLocalityOracle.
type localityFlow struct {
	flowState
	dst netip.Addr
}

// TestLocalityOracle runs a seeded script of new flows to three VIPs that
// share one lblc or lblcr service (as a virtual_server_group's addresses
// share a real set: one destination each), ACKs, FINs, expiries, reals
// quiesced and restored, a real removed and the clock moved on past the
// lblcr shrink time and the expiration, and checks every pick against
// controlplane/sched's Model (bounded as the data plane, SetBound) fed the
// same events, and the connection counts after every step.
func TestLocalityOracle(t *testing.T) {
	weights := []uint32{2, 1, 3, 1}
	vips := []netip.Addr{netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.101"), netip.MustParseAddr("198.18.0.102")}
	const expiration, shrink, step = 2 * time.Minute, time.Minute, 70 * time.Second
	if MonotonicNow() < 2*expiration {
		t.Fatalf("the monotonic clock is at %s: aging entries by %s needs more", MonotonicNow(), 2*expiration)
	}
	for _, tc := range []struct {
		name string
		s    Scheduler
	}{{sched.LBLC, SchedLBLC}, {sched.LBLCR, SchedLBLCR}} {
		t.Run(tc.name, func(t *testing.T) {
			d := openTest(t, Options{MaxServices: 4, MaxReals: 8, ConnTableSize: 4096,
				LocalityExpiration: expiration, LocalityShrink: shrink})
			backends := sched.Sorted(schedBackends(weights))
			for _, b := range backends {
				if err := d.PutReal(b.ID, schedReal(b.ID)); err != nil {
					t.Fatal(err)
				}
			}
			// The list holds what the control plane gives it: reals of
			// weight > 0, in Key order.
			swap := func(bs []sched.Backend) {
				t.Helper()
				var list []SchedReal
				for _, b := range bs {
					if b.Weight > 0 {
						list = append(list, SchedReal{ID: b.ID, Weight: b.Weight})
					}
				}
				if err := d.SwapSchedReals(1, list); err != nil {
					t.Fatal(err)
				}
			}
			swap(backends)
			for _, v := range vips {
				if err := d.PutService(ServiceKey{Addr: v, Port: testVIP.Port, Proto: unix.IPPROTO_TCP},
					Service{ID: 1, Kind: KindDR, Scheduler: tc.s}); err != nil {
					t.Fatal(err)
				}
			}
			m, err := sched.New(tc.name, backends)
			if err != nil {
				t.Fatal(err)
			}
			m.SetExpiration(expiration)
			m.SetShrink(shrink)
			m.SetBound(MaxLocalitySet)

			base := vipFrame(t)
			rng := rand.New(rand.NewPCG(7, uint64(tc.s)))
			var flows []*localityFlow
			var next uint32
			removed := uint32(0)
			const steps = 400
			for i := range steps {
				op := rng.IntN(20)
				var f *localityFlow
				if len(flows) > 0 {
					f = flows[rng.IntN(len(flows))]
				}
				frame := func(n uint32, dst netip.Addr, flags byte) []byte {
					return withDst(clientFrame(base, n, flags), dst)
				}
				switch {
				case i == steps/2: // a real leaves the service
					removed = 2
					var bs []sched.Backend
					for _, b := range backends {
						if b.ID != removed {
							bs = append(bs, b)
						}
					}
					backends = bs
					swap(backends)
					if err := d.DeleteReal(removed); err != nil {
						t.Fatal(err)
					}
					if err := m.Update(backends); err != nil {
						t.Fatal(err)
					}
					flows = slices.DeleteFunc(flows, func(g *localityFlow) bool { return g.real == removed })
				case op < 8 || f == nil: // new flow
					dst := vips[rng.IntN(len(vips))]
					want, ok := m.Pick(sched.Flow{Dst: netip.AddrPortFrom(dst, testVIP.Port), Proto: unix.IPPROTO_TCP})
					got := sendTo(t, d, frame(next, dst, 0x02))
					if !ok {
						want = 0
					}
					if got != want {
						t.Fatalf("step %d: new flow to %s went to real %d, want %d", i, dst, got, want)
					}
					if ok {
						if err := m.Connect(want); err != nil {
							t.Fatal(err)
						}
						flows = append(flows, &localityFlow{flowState{n: next, real: got, state: ConnSYN}, dst})
					}
					next++
				case op < 12 && f.state == ConnSYN: // established
					if got := sendTo(t, d, frame(f.n, f.dst, 0x10)); got != f.real {
						t.Fatalf("step %d: ACK went to real %d, want %d", i, got, f.real)
					}
					if err := m.Establish(f.real); err != nil {
						t.Fatal(err)
					}
					f.state = ConnEstablished
				case op < 14 && f.state == ConnEstablished: // closed
					if got := sendTo(t, d, frame(f.n, f.dst, 0x11)); got != f.real {
						t.Fatalf("step %d: FIN went to real %d, want %d", i, got, f.real)
					}
					if err := m.Close(f.real); err != nil {
						t.Fatal(err)
					}
					f.state = ConnClosing
				case op < 16 && f.state != ConnEstablished: // expired without another packet
					ageConnTo(t, d, frame(f.n, f.dst, 0))
					if _, err := d.ResyncConnCounts(); err != nil {
						t.Fatal(err)
					}
					if err := m.Expire(f.real); err != nil {
						t.Fatal(err)
					}
					flows = slices.DeleteFunc(flows, func(g *localityFlow) bool { return g == f })
				case op == 16: // time passes: sets may shrink, unused entries expire
					ageLocalities(t, d, step)
					m.Advance(step)
				case op == 17: // a real quiesced, or restored
					k := rng.IntN(len(backends))
					if backends[k].Weight == 0 {
						backends[k].Weight = weights[backends[k].ID-1]
					} else {
						backends[k].Weight = 0
					}
					swap(backends)
					if err := m.Update(backends); err != nil {
						t.Fatal(err)
					}
				}
				for _, b := range backends {
					wa, wi, _ := m.Conns(b.ID)
					ga, gi, err := d.RealConnCounts(b.ID)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff([2]uint64{uint64(wa), uint64(wi)}, [2]uint64{ga, gi}); diff != "" {
						t.Fatalf("step %d: real %d counts [active inactive] (-want +got):\n%s", i, b.ID, diff)
					}
				}
			}
			if next < steps/3 {
				t.Errorf("only %d new flows in %d steps: the script hardly schedules", next, steps)
			}
		})
	}
}

// ageConnTo makes frame's tracked flow (untagged IPv4 TCP) older than any
// timeout.
func ageConnTo(tb testing.TB, d *Dataplane, frame []byte) {
	tb.Helper()
	src := netip.AddrPortFrom(netip.AddrFrom4([4]byte(frame[ipv4SrcOff:ipv4SrcOff+4])), binary.BigEndian.Uint16(frame[sportOffset:]))
	dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte(frame[ipv4DstOff:ipv4DstOff+4])), binary.BigEndian.Uint16(frame[sportOffset+2:]))
	f := Flow{Src: src, Dst: dst, Proto: unix.IPPROTO_TCP}
	m, key, err := d.flowKey(f)
	if err != nil {
		tb.Fatal(err)
	}
	c, ok, err := d.connTableOf(m).lookupConnEntry(key)
	if err != nil || !ok {
		tb.Fatalf("flow %s: tracked %v (%v), want an entry", f, ok, err)
	}
	c.LastSeen = 0
	putConn(tb, d, f, c, ebpf.UpdateExist)
}

// TestLocalitySticks checks lblc and lblcr from the outside: many clients
// of one destination meet one real while it is not overloaded; once it
// is, the destination moves (lblc) or its set grows (lblcr), up to
// MaxLocalitySet reals; DeleteLocalities then forgets the service's
// entries.
func TestLocalitySticks(t *testing.T) {
	weights := []uint32{1, 1, 1, 1}
	for _, tc := range []struct {
		name     string
		s        Scheduler
		wantSets [][]uint32 // the set after each round
	}{
		{sched.LBLC, SchedLBLC, [][]uint32{{1}, {2}, {3}}},
		{sched.LBLCR, SchedLBLCR, [][]uint32{{1}, {2, 1}, {3, 2, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openSched(t, tc.s, tc.name, weights, 4096)
			base := vipFrame(t)
			var n uint32
			for round, want := range tc.wantSets {
				// Ten SYNs from ten clients: inactive flows never
				// overload, so all go to the destination's newest real.
				for range 10 {
					if got := sendTo(t, d, clientFrame(base, n, 0x02)); got != want[0] {
						t.Fatalf("round %d: client %d went to real %d, want %d", round, n, got, want[0])
					}
					n++
				}
				l, ok, err := d.LookupLocality(1, testVIP.Addr)
				if err != nil || !ok {
					t.Fatalf("LookupLocality = %v, %v", ok, err)
				}
				var got []uint32
				for _, r := range l.Reals {
					got = append(got, r.ID)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("round %d: reals of %s (-want +got):\n%s", round, testVIP.Addr, diff)
				}
				// Two of them established: 2 active > weight 1 while the
				// others are idle: overloaded.
				for k := range uint32(2) {
					if got := sendTo(t, d, clientFrame(base, n-1-k, 0x10)); got != want[0] {
						t.Fatalf("round %d: ACK went to real %d, want %d", round, got, want[0])
					}
				}
			}
			if n, err := d.DeleteLocalities(1); err != nil || n != 1 {
				t.Errorf("DeleteLocalities = %d, %v; want 1", n, err)
			}
			if _, ok, err := d.LookupLocality(1, testVIP.Addr); ok || err != nil {
				t.Errorf("after DeleteLocalities: entry %v, %v", ok, err)
			}
		})
	}
}

// TestLocalitySetBound fills an lblcr set past MaxLocalitySet: the most
// loaded member makes room for each real that joins.
func TestLocalitySetBound(t *testing.T) {
	weights := make([]uint32, MaxLocalitySet+2)
	for i := range weights {
		weights[i] = 1
	}
	d := openSched(t, SchedLBLCR, sched.LBLCR, weights, 4096)
	base := vipFrame(t)
	var n uint32
	// Each round overloads the set's least loaded member with two
	// established flows: wlc's pick (the next idle real) joins.
	for round := range len(weights) {
		got := sendTo(t, d, clientFrame(base, n, 0x02))
		if want := uint32(round + 1); got != want {
			t.Fatalf("round %d: went to real %d, want %d", round, got, want)
		}
		sendTo(t, d, clientFrame(base, n, 0x10))
		sendTo(t, d, clientFrame(base, n+1, 0x02))
		sendTo(t, d, clientFrame(base, n+1, 0x10))
		n += 2
	}
	l, _, err := d.LookupLocality(1, testVIP.Addr)
	if err != nil {
		t.Fatal(err)
	}
	// Every member carries 2 active flows: the most loaded is the first
	// (newest) on the tie, so once the set was full each joining real
	// replaced the one that joined before it (8, then 9).
	var got []uint32
	for _, r := range l.Reals {
		got = append(got, r.ID)
	}
	want := []uint32{10, 7, 6, 5, 4, 3, 2, 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("set (-want +got):\n%s", diff)
	}
}

// TestLocalityMemory checks what the lblc/lblcr table costs at its
// default size, preallocated as every LRU: at most 3 MiB (measured 2.75,
// 176 bytes an entry).
func TestLocalityMemory(t *testing.T) {
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4, ConnTableSize: 1})
	loaded, info := mapMemory(t, "localities", d.localities)
	if info.MaxEntries != DefaultLocalityTableSize {
		t.Errorf("localities holds %d entries, want DefaultLocalityTableSize %d", info.MaxEntries, DefaultLocalityTableSize)
	}
	if loaded > 3<<20 {
		t.Errorf("localities takes %d bytes, want <= 3 MiB", loaded)
	}
}
