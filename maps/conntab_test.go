package maps

import (
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"xlb/bpf"
	"xlb/internal/testutil"
)

// TestConnSetIndex checks connSetIndex, the Go twin of the program's
// conn_set_of4 and conn_set_of6: a flow the program tracks is in the set
// the twin names, for each family, in tables of several sizes (a set
// count that is not a power of two included).
func TestConnSetIndex(t *testing.T) {
	for _, size := range []uint32{64, 4000, DefaultConnTableSize} {
		d := openTest(t, Options{MaxServices: 4, MaxReals: 4, ConnTableSize: size, ConnTableSize6: size})
		for _, name := range []string{"tcp_vip_tx", "ipv6_tcp_tx"} {
			fx := loadFixtures(t)[name]
			fx.fill(t, d)
			for i := range 8 {
				src := netip.MustParseAddrPort("198.18.1.10:40000")
				if name == "ipv6_tcp_tx" {
					src = netip.MustParseAddrPort("[2001:db8:1::10]:40000")
				}
				src = netip.AddrPortFrom(src.Addr(), src.Port()+uint16(i))
				vip := netip.MustParseAddrPort("198.18.0.100:80")
				if src.Addr().Is6() {
					vip = netip.MustParseAddrPort("[2001:db8::100]:80")
				}
				if v, _ := run(t, d.Program(), tcpSYN(src, vip)); testutil.VerdictName(v) != "XDP_TX" {
					t.Fatalf("%d flows, %s: verdict %s, want XDP_TX", size, src, testutil.VerdictName(v))
				}
				m, key, err := d.flowKey(Flow{Src: src, Dst: vip, Proto: unix.IPPROTO_TCP})
				if err != nil {
					t.Fatal(err)
				}
				tab := d.connTableOf(m)
				ways, err := tab.readSet(connSetIndex(key, tab.sets))
				if err != nil {
					t.Fatal(err)
				}
				if findWay(ways, key) < 0 {
					t.Errorf("%d flows: %s is not in set %d of %d, where connSetIndex puts it", size, src, connSetIndex(key, tab.sets), tab.sets)
				}
			}
		}
	}
}

// TestConnSetReplacement fills a table of one set (four flows) and sends
// a fifth flow: it takes the way of the flow seen longest ago, which
// comes off its real's count (the LRU hash's eviction could not say); the
// other three stay. A flow past its timeout is replaced the same way
// without coming off a count (Go's resync leaves it out instead), and
// ResyncConnCounts counts it as expired without deleting it.
func TestConnSetReplacement(t *testing.T) {
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4, ConnTableSize: ConnWays})
	fx := loadFixtures(t)["tcp_vip_tx"]
	fx.fill(t, d)
	vip := netip.MustParseAddrPort("198.18.0.100:80")
	flow := func(i int) Flow {
		return Flow{Src: netip.AddrPortFrom(netip.MustParseAddr("198.18.1.10"), uint16(40000+i)), Dst: vip, Proto: unix.IPPROTO_TCP}
	}
	send := func(i int) {
		t.Helper()
		if v, _ := run(t, d.Program(), tcpSYN(flow(i).Src, vip)); testutil.VerdictName(v) != "XDP_TX" {
			t.Fatalf("flow %d: verdict %s, want XDP_TX", i, testutil.VerdictName(v))
		}
	}
	total := func() uint64 {
		t.Helper()
		var n uint64
		for _, r := range fx.Reals {
			a, in, err := d.RealConnCounts(r.ID)
			if err != nil {
				t.Fatal(err)
			}
			n += a + in
		}
		return n
	}
	for i := range ConnWays {
		send(i)
	}
	if n := total(); n != ConnWays {
		t.Fatalf("%d flows counted after %d new flows, want %d", n, ConnWays, ConnWays)
	}
	// Flow 2 was seen longest ago (10 s: live, a SYN times out after 60).
	aged, ok, err := d.LookupConn(flow(2))
	if err != nil || !ok {
		t.Fatalf("flow 2: tracked %v (%v)", ok, err)
	}
	putConn(t, d, flow(2), bpf.XlbConn{RealId: aged.RealID, RealGen: aged.RealGen, State: uint8(aged.State),
		LastSeen: uint64(MonotonicNow() - 10*time.Second)}, ebpf.UpdateExist)

	send(ConnWays)
	for i := range ConnWays + 1 {
		_, ok, err := d.LookupConn(flow(i))
		if err != nil {
			t.Fatal(err)
		}
		if want := i != 2; ok != want {
			t.Errorf("flow %d tracked %v, want %v", i, ok, want)
		}
	}
	if n := total(); n != ConnWays {
		t.Errorf("%d flows counted after a live flow was replaced, want %d", n, ConnWays)
	}

	// Flow 0 past the SYN timeout: replaced without coming off its count.
	expired, _, _ := d.LookupConn(flow(0))
	putConn(t, d, flow(0), bpf.XlbConn{RealId: expired.RealID, RealGen: expired.RealGen, State: uint8(expired.State),
		LastSeen: uint64(MonotonicNow() - DefaultSYNTimeout - 5*time.Second)}, ebpf.UpdateExist)
	if n, err := d.ResyncConnCounts(); err != nil || n != 1 {
		t.Errorf("resync: %d expired (%v), want 1", n, err)
	}
	if _, ok, _ := d.LookupConn(flow(0)); !ok {
		t.Error("resync deleted the expired flow, want it left for a new flow's insert")
	}
	if n := total(); n != ConnWays-1 {
		t.Errorf("%d flows counted after the resync, want %d", n, ConnWays-1)
	}
	send(ConnWays + 1)
	if _, ok, _ := d.LookupConn(flow(0)); ok {
		t.Error("expired flow 0 still tracked after a new flow of its set, want it replaced")
	}
	if n := total(); n != ConnWays {
		t.Errorf("%d flows counted after the expired flow was replaced, want %d", n, ConnWays)
	}
}

// TestConnSetSpread checks that tableHash spreads flows over the sets as
// a random hash would, for the flows a hash is most likely to bunch: one
// client's consecutive source ports to one VIP, and consecutive client
// addresses from one port. Half a table's worth of flows (two a set on
// average) must leave 4-6.5 % of the sets asked to hold more than
// ConnWays (Poisson with mean 2: 5.3 %, the operator's guide's figure),
// and no set more than 12 (Poisson: one such set in about 50 tables).
func TestConnSetSpread(t *testing.T) {
	const sets = 1 << 14
	const flows = 2 * sets
	vip4 := netip.MustParseAddrPort("198.18.0.100:80")
	vip6 := netip.MustParseAddrPort("[2001:db8::100]:80")
	client4, client6 := netip.MustParseAddr("198.18.1.10"), netip.MustParseAddr("2001:db8:1::10")
	for _, tc := range []struct {
		name string
		flow func(i int) Flow
	}{
		{"v4 ports", func(i int) Flow {
			return Flow{Src: netip.AddrPortFrom(client4, uint16(20000+i)), Dst: vip4, Proto: unix.IPPROTO_TCP}
		}},
		{"v4 clients", func(i int) Flow {
			return Flow{Src: netip.AddrPortFrom(withAddrBytes(client4, 2, i), 40000), Dst: vip4, Proto: unix.IPPROTO_TCP}
		}},
		{"v4 networks", func(i int) Flow {
			return Flow{Src: netip.AddrPortFrom(withAddrBytes(client4, 1, i), 40000), Dst: vip4, Proto: unix.IPPROTO_TCP}
		}},
		{"v4 vip ports", func(i int) Flow {
			return Flow{Src: netip.AddrPortFrom(client4, 40000), Dst: netip.AddrPortFrom(vip4.Addr(), uint16(i)), Proto: unix.IPPROTO_UDP}
		}},
		{"v6 ports", func(i int) Flow {
			return Flow{Src: netip.AddrPortFrom(client6, uint16(20000+i)), Dst: vip6, Proto: unix.IPPROTO_TCP}
		}},
		{"v6 clients", func(i int) Flow {
			return Flow{Src: netip.AddrPortFrom(withAddrBytes(client6, 14, i), 40000), Dst: vip6, Proto: unix.IPPROTO_UDP}
		}},
		{"v6 networks", func(i int) Flow {
			return Flow{Src: netip.AddrPortFrom(withAddrBytes(client6, 6, i), 40000), Dst: vip6, Proto: unix.IPPROTO_TCP}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &Dataplane{}
			load := make([]int, sets)
			for i := range flows {
				_, key, err := d.flowKey(tc.flow(i))
				if err != nil {
					t.Fatal(err)
				}
				load[connSetIndex(key, sets)]++
			}
			over, most := 0, 0
			for _, n := range load {
				if n > ConnWays {
					over++
				}
				most = max(most, n)
			}
			share := float64(over) / sets
			if share < 0.04 || share > 0.065 || most > 12 {
				t.Errorf("%d flows in %d sets: %.1f %% of the sets over %d, the fullest %d; want 4-6.5 %% and at most 12",
					flows, sets, 100*share, ConnWays, most)
			}
			t.Logf("%.2f %% of the sets over %d flows, the fullest %d", 100*share, ConnWays, most)
		})
	}
}

// withAddrBytes returns a with bytes at and at+1 set to i, big-endian:
// consecutive i make consecutive addresses (at the last two bytes) or
// networks (earlier).
func withAddrBytes(a netip.Addr, at, i int) netip.Addr {
	b := a.As16()
	off := at
	if a.Is4() {
		off += 12
	}
	b[off], b[off+1] = byte(i>>8), byte(i)
	if a.Is4() {
		return netip.AddrFrom16(b).Unmap()
	}
	return netip.AddrFrom16(b)
}
