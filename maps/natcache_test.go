package maps

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"xlb/bpf"
	"xlb/internal/testutil"
)

// revCache reads and writes the route cache and clock of one reverse
// entry (nat_rev or fnat_rev), so a test can age or spoil it.
type revCache struct {
	get func(tb testing.TB) (hop bpf.XlbNatHop, mtu uint16, lastSeen uint64)
	set func(tb testing.TB, hop bpf.XlbNatHop, mtu uint16, lastSeen uint64)
}

// natRevCache is revCache for the NAT reverse entry of reply.
func natRevCache(tb testing.TB, d *Dataplane, reply Flow) revCache {
	tb.Helper()
	t, key, err := d.replyKey(reply)
	if err != nil {
		tb.Fatal(err)
	}
	return revCache{
		get: func(tb testing.TB) (bpf.XlbNatHop, uint16, uint64) {
			v, ok, err := t.lookup(key)
			if err != nil || !ok {
				tb.Fatalf("lookup %s: %v (found %v)", reply, err, ok)
			}
			return v.Hop, v.HopMtu, v.LastSeen
		},
		set: func(tb testing.TB, hop bpf.XlbNatHop, mtu uint16, lastSeen uint64) {
			t.modifyReply(tb, key, func(v *bpf.XlbNatRev) { v.Hop, v.HopMtu, v.LastSeen = hop, mtu, lastSeen })
		},
	}
}

// fnatRevCache is revCache for the full-NAT reverse entry of reply.
func fnatRevCache(tb testing.TB, d *Dataplane, reply Flow) revCache {
	tb.Helper()
	_, key, err := d.flowKey(reply)
	if err != nil {
		tb.Fatal(err)
	}
	get := func(tb testing.TB) bpf.XlbFnatRev {
		v, ok, err := d.fnatReverse().lookup(key)
		if err != nil || !ok {
			tb.Fatalf("lookup %s: %v (found %v)", reply, err, ok)
		}
		return v
	}
	return revCache{
		get: func(tb testing.TB) (bpf.XlbNatHop, uint16, uint64) {
			v := get(tb)
			return v.Hop, v.HopMtu, v.LastSeen
		},
		set: func(tb testing.TB, hop bpf.XlbNatHop, mtu uint16, lastSeen uint64) {
			v := get(tb)
			v.Hop, v.HopMtu, v.LastSeen = hop, mtu, lastSeen
			putFNATReply(tb, d, reply, v)
		},
	}
}

// TestNATRouteCache follows one NAT or full-NAT flow's replies through
// the route cache (bpf/natcache.h) in the NAT lab, changing the client
// router's neighbour entry between replies: a reply within the touch
// interval leaves by the cached hop even after the neighbour's MAC moved
// (so the cache, not the FIB, answered); a reply longer than the cached
// MTU, an emptied cache and a touch (the entry a second old) ask the FIB
// and store its answer; a failed lookup empties the cache.
func TestNATRouteCache(t *testing.T) {
	lab := newNATLab(t)
	fx := loadFixtures(t)
	macAA, macBB, macCC := "02:00:00:00:00:aa", "02:00:00:00:00:bb", "02:00:00:00:00:cc"
	for _, tc := range []struct {
		fixture string // a reply case: before sets up the flow, in is a reply
		reply   Flow
		router  string // the clients' router, whose neighbour entry moves
		fnat    bool
	}{
		{"nat_v4_tcp_reply", Flow{Src: netip.MustParseAddrPort("198.18.2.11:8080"), Dst: netip.MustParseAddrPort("198.18.1.10:40000"), Proto: unix.IPPROTO_TCP},
			"198.18.0.254", false},
		{"nat_v6_tcp_reply", Flow{Src: netip.MustParseAddrPort("[2001:db8:2::11]:8080"), Dst: netip.MustParseAddrPort("[2001:db8:1::10]:40000"), Proto: unix.IPPROTO_TCP},
			"2001:db8::254", false},
		{"fnat_v4_tcp_reply", Flow{Src: netip.MustParseAddrPort("198.18.2.11:8080"), Dst: netip.MustParseAddrPort("198.18.2.100:5000"), Proto: unix.IPPROTO_TCP},
			"198.18.0.254", true},
		{"fnat_v6_tcp_reply", Flow{Src: netip.MustParseAddrPort("[2001:db8:2::11]:8080"), Dst: netip.MustParseAddrPort("[2001:db8:2::100]:5000"), Proto: unix.IPPROTO_TCP},
			"2001:db8::254", true},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			setNeigh := func(mac string) {
				lab.ns.MustRun(t, "ip", "neigh", "replace", tc.router, "lladdr", mac, "nud", "permanent", "dev", "outside")
			}
			t.Cleanup(func() { setNeigh(macAA) })
			d := openTest(t, Options{MaxServices: 4, MaxReals: 4, ConnTableSize: 1024})
			f := fx[tc.fixture]
			f.fill(t, d)
			// The flow's first packet (f.Before), then its first reply.
			verdict, out := lab.run(t, d, f)
			if got := testutil.VerdictName(verdict); got != "XDP_REDIRECT" {
				t.Fatalf("first reply: verdict %s, want XDP_REDIRECT", got)
			}
			if got := net.HardwareAddr(out[:6]).String(); got != macAA {
				t.Fatalf("first reply: destination MAC %s, want %s", got, macAA)
			}
			entry := natRevCache(t, d, tc.reply)
			if tc.fnat {
				entry = fnatRevCache(t, d, tc.reply)
			}
			outside := lab.ifindex["outside"]
			wantHop := func(mac string) NextHop {
				return NextHop{Ifindex: int(outside), MAC: mustMAC(t, mac), SrcMAC: mustMAC(t, "02:00:00:00:00:01"), MTU: 1500}
			}
			checkHop := func(step string, want NextHop) {
				t.Helper()
				hop, mtu, _ := entry.get(t)
				if diff := cmp.Diff(want, nextHopFromC(hop, mtu)); diff != "" {
					t.Errorf("%s: cached hop (-want +got):\n%s", step, diff)
				}
			}
			checkHop("after the first reply", wantHop(macAA))

			for _, st := range []struct {
				name    string
				neigh   string // the router's MAC before the reply; "" deletes its entry
				spoil   func(hop *bpf.XlbNatHop, mtu *uint16, lastSeen *uint64)
				verdict string
				dmac    string // the reply's destination MAC
				reason  string // the reply's verdict reason
				hop     NextHop
			}{
				{"neighbour moved, within the touch interval: cached hop", macBB, nil,
					"XDP_REDIRECT", macAA, "reply_redirect", wantHop(macAA)},
				{"longer than the cached MTU: asks the FIB", macBB,
					func(_ *bpf.XlbNatHop, mtu *uint16, _ *uint64) { *mtu = 20 },
					"XDP_REDIRECT", macBB, "reply_redirect", wantHop(macBB)},
				{"nothing cached: asks the FIB", macAA,
					func(hop *bpf.XlbNatHop, _ *uint16, _ *uint64) { hop.Ifindex = 0 },
					"XDP_REDIRECT", macAA, "reply_redirect", wantHop(macAA)},
				{"entry a touch interval old: refreshed", macCC,
					func(_ *bpf.XlbNatHop, _ *uint16, lastSeen *uint64) { *lastSeen -= uint64(2 * time.Second) },
					"XDP_REDIRECT", macCC, "reply_redirect", wantHop(macCC)},
				{"neighbour gone at a touch: passed, cache emptied", "",
					func(_ *bpf.XlbNatHop, _ *uint16, lastSeen *uint64) { *lastSeen -= uint64(2 * time.Second) },
					"XDP_PASS", "", "reply_pass_no_neigh", NextHop{}},
				{"neighbour back: asks the FIB again", macAA, nil,
					"XDP_REDIRECT", macAA, "reply_redirect", wantHop(macAA)},
			} {
				if st.neigh == "" {
					lab.ns.MustRun(t, "ip", "neigh", "del", tc.router, "dev", "outside")
				} else {
					setNeigh(st.neigh)
				}
				if st.spoil != nil {
					hop, mtu, lastSeen := entry.get(t)
					st.spoil(&hop, &mtu, &lastSeen)
					entry.set(t, hop, mtu, lastSeen)
				}
				before := nonZero(t, d)
				var v uint32
				var err error
				if doErr := lab.ns.Do(func() error {
					v, out, err = runIn(d.Program(), f.In, lab.ifindex["inside"])
					return nil
				}); doErr != nil {
					t.Fatal(doErr)
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := testutil.VerdictName(v); got != st.verdict {
					t.Errorf("%s: verdict %s, want %s", st.name, got, st.verdict)
				}
				if st.dmac != "" {
					if got := net.HardwareAddr(out[:6]).String(); got != st.dmac {
						t.Errorf("%s: destination MAC %s, want %s", st.name, got, st.dmac)
					}
				}
				if after := nonZero(t, d); after[st.reason] != before[st.reason]+1 {
					t.Errorf("%s: reason %s counted %d -> %d, want one more", st.name, st.reason, before[st.reason], after[st.reason])
				}
				checkHop(st.name, st.hop)
			}
		})
	}
}

// mustMAC parses a MAC for a test.
func mustMAC(tb testing.TB, s string) net.HardwareAddr {
	tb.Helper()
	mac, err := net.ParseMAC(s)
	if err != nil {
		tb.Fatal(err)
	}
	return mac
}
