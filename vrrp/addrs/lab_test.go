package addrs_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"xlb/internal/testutil"
	"xlb/vrrp/addrs"
)

// lab is a (the master) with eth0 to b (a peer on the same link) and eth1
// to c.
type lab struct {
	a, b, c *testutil.NS
}

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{a: testutil.NetNS(t), b: testutil.NetNS(t), c: testutil.NetNS(t)}
	testutil.Veth(t, l.a, "eth0", l.b, "eth0")
	testutil.Veth(t, l.a, "eth1", l.c, "eth0")
	l.a.AddAddrs(t, "eth0", "198.18.0.1/24", "2001:db8::1/64")
	l.a.AddAddrs(t, "eth1", "198.18.1.1/24")
	l.b.AddAddrs(t, "eth0", "198.18.0.2/24", "2001:db8::2/64")
	return l
}

func openHost(t *testing.T, ns *testutil.NS, opts addrs.Options) *addrs.Host {
	t.Helper()
	var h *addrs.Host
	if err := ns.Do(func() (err error) {
		h, err = addrs.Open(opts)
		return err
	}); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

func take(t *testing.T, ns *testutil.NS, h *addrs.Host) {
	t.Helper()
	if err := ns.Do(h.Take); err != nil {
		t.Fatalf("Take: %v", err)
	}
}

// run runs h.Run until the test ends.
func run(t *testing.T, h *addrs.Host) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// addrInfo is what the tests check of an address.
type addrInfo struct {
	Prefix, Label, Brd string
	Scope              int
	NoDAD              bool
}

// listAddrs returns the addresses of ifname in ns that want keeps.
func listAddrs(t *testing.T, ns *testutil.NS, ifname string, keep func(netip.Prefix) bool) []addrInfo {
	t.Helper()
	var out []addrInfo
	if err := ns.Do(func() error {
		link, err := netlink.LinkByName(ifname)
		if err != nil {
			return err
		}
		list, err := netlink.AddrList(link, netlink.FAMILY_ALL)
		if err != nil {
			return err
		}
		for _, a := range list {
			ip, _ := netip.AddrFromSlice(a.IP)
			ones, _ := a.Mask.Size()
			p := netip.PrefixFrom(ip.Unmap(), ones)
			if !keep(p) {
				continue
			}
			ai := addrInfo{Prefix: p.String(), Label: a.Label, Scope: a.Scope, NoDAD: a.Flags&unix.IFA_F_NODAD != 0}
			if a.Broadcast != nil {
				ai.Brd = a.Broadcast.String()
			}
			out = append(out, ai)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func is(ps ...string) func(netip.Prefix) bool {
	return func(p netip.Prefix) bool { return slices.Contains(ps, p.String()) }
}

func TestAddresses(t *testing.T) {
	l := newLab(t)
	tests := []struct {
		name   string
		addr   addrs.Address
		ifname string
		want   addrInfo
	}{
		{
			name:   "host address",
			addr:   addrs.Address{Prefix: netip.MustParsePrefix("198.18.0.100/32")},
			ifname: "eth0",
			want:   addrInfo{Prefix: "198.18.0.100/32", Label: "eth0"},
		},
		{
			name: "label, scope and brd",
			addr: addrs.Address{Prefix: netip.MustParsePrefix("198.18.5.101/24"), Label: "eth0:1",
				Scope: addrs.ScopeLink, Broadcast: netip.MustParseAddr("198.18.5.255")},
			ifname: "eth0",
			want:   addrInfo{Prefix: "198.18.5.101/24", Label: "eth0:1", Scope: unix.RT_SCOPE_LINK, Brd: "198.18.5.255"},
		},
		{
			name:   "dev",
			addr:   addrs.Address{Prefix: netip.MustParsePrefix("198.18.6.100/24"), Dev: "eth1", Scope: addrs.ScopeHost},
			ifname: "eth1",
			want:   addrInfo{Prefix: "198.18.6.100/24", Label: "eth1", Scope: unix.RT_SCOPE_HOST},
		},
		{
			name:   "ipv6 without dad",
			addr:   addrs.Address{Prefix: netip.MustParsePrefix("2001:db8::100/64")},
			ifname: "eth0",
			want:   addrInfo{Prefix: "2001:db8::100/64", NoDAD: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := openHost(t, l.a, addrs.Options{Interface: "eth0", Addresses: []addrs.Address{tc.addr}})
			take(t, l.a, h)
			got := listAddrs(t, l.a, tc.ifname, is(tc.want.Prefix))
			if diff := cmp.Diff([]addrInfo{tc.want}, got); diff != "" {
				t.Errorf("after Take (-want +got):\n%s", diff)
			}
			if err := h.Release(); err != nil {
				t.Fatal(err)
			}
			if got := listAddrs(t, l.a, tc.ifname, is(tc.want.Prefix)); len(got) != 0 {
				t.Errorf("after Release: %+v still there", got)
			}
		})
	}
}

// TestTakeIdempotent checks that Take twice adds nothing twice, Release
// removes only what Take added, and a Take after Release adds it again.
func TestTakeIdempotent(t *testing.T) {
	l := newLab(t)
	l.a.MustRun(t, "ip", "addr", "add", "198.18.0.50/24", "dev", "eth0")
	h := openHost(t, l.a, addrs.Options{Interface: "eth0", Addresses: []addrs.Address{
		{Prefix: netip.MustParsePrefix("198.18.0.50/24")},
		{Prefix: netip.MustParsePrefix("198.18.0.51/24")},
	}})
	ours := is("198.18.0.50/24", "198.18.0.51/24")
	both := []addrInfo{{Prefix: "198.18.0.50/24", Label: "eth0"}, {Prefix: "198.18.0.51/24", Label: "eth0"}}
	take(t, l.a, h)
	take(t, l.a, h)
	if diff := cmp.Diff(both, listAddrs(t, l.a, "eth0", ours)); diff != "" {
		t.Errorf("after Take twice (-want +got):\n%s", diff)
	}
	if !h.Held() {
		t.Error("Held() = false after Take")
	}
	if err := h.Release(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(both[:1], listAddrs(t, l.a, "eth0", ours)); diff != "" {
		t.Errorf("after Release, the address that was there before stays (-want +got):\n%s", diff)
	}
	if err := h.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	take(t, l.a, h)
	if diff := cmp.Diff(both, listAddrs(t, l.a, "eth0", ours)); diff != "" {
		t.Errorf("after Take again (-want +got):\n%s", diff)
	}
}

// routeInfo is what the tests check of a route.
type routeInfo struct {
	Dst, Gw, Src, Dev  string
	Type, Table, Scope int
	Metric, Protocol   int
}

func listRoutes(t *testing.T, ns *testutil.NS, dsts ...string) []routeInfo {
	t.Helper()
	var out []routeInfo
	if err := ns.Do(func() error {
		list, err := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return err
		}
		for _, r := range list {
			if r.Dst == nil || !slices.Contains(dsts, r.Dst.String()) {
				continue
			}
			ri := routeInfo{Dst: r.Dst.String(), Type: r.Type, Table: r.Table, Scope: int(r.Scope), Metric: r.Priority, Protocol: int(r.Protocol)}
			if r.Gw != nil {
				ri.Gw = r.Gw.String()
			}
			if r.Src != nil {
				ri.Src = r.Src.String()
			}
			if r.LinkIndex > 0 {
				link, err := netlink.LinkByIndex(r.LinkIndex)
				if err != nil {
					return err
				}
				ri.Dev = link.Attrs().Name
			}
			out = append(out, ri)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b routeInfo) int { return cmp3(a.Dst, b.Dst) })
	return out
}

func cmp3(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestRoutes(t *testing.T) {
	l := newLab(t)
	p := netip.MustParsePrefix
	h := openHost(t, l.a, addrs.Options{Interface: "eth0", Routes: []addrs.Route{
		{Type: addrs.RouteBlackhole, To: p("198.18.10.0/24"), Table: 100},
		{Type: addrs.RouteUnreachable, To: p("198.18.11.0/24"), Metric: 7},
		{Type: addrs.RouteProhibit, To: p("2001:db8:12::/48")},
		{To: p("198.18.13.0/24"), Via: netip.MustParseAddr("198.18.0.2"), Src: netip.MustParseAddr("198.18.0.1"),
			Dev: "eth0", Table: 101, Metric: 5},
		{To: p("198.18.14.0/24"), Dev: "eth1"},
		{To: p("198.18.15.0/24"), Dev: "eth1", Scope: addrs.ScopeLink},
	}})
	take(t, l.a, h)
	const kept = unix.RTPROT_KEEPALIVED
	want := []routeInfo{
		{Dst: "198.18.10.0/24", Type: unix.RTN_BLACKHOLE, Table: 100, Protocol: kept},
		{Dst: "198.18.11.0/24", Type: unix.RTN_UNREACHABLE, Table: unix.RT_TABLE_MAIN, Metric: 7, Protocol: kept},
		{Dst: "198.18.13.0/24", Type: unix.RTN_UNICAST, Table: 101, Metric: 5, Gw: "198.18.0.2", Src: "198.18.0.1", Dev: "eth0", Protocol: kept},
		{Dst: "198.18.14.0/24", Type: unix.RTN_UNICAST, Table: unix.RT_TABLE_MAIN, Dev: "eth1", Protocol: kept},
		{Dst: "198.18.15.0/24", Type: unix.RTN_UNICAST, Table: unix.RT_TABLE_MAIN, Scope: unix.RT_SCOPE_LINK, Dev: "eth1", Protocol: kept},
		{Dst: "2001:db8:12::/48", Type: unix.RTN_PROHIBIT, Table: unix.RT_TABLE_MAIN, Metric: 1024, Protocol: kept, Dev: "lo"},
	}
	dsts := []string{"198.18.10.0/24", "198.18.11.0/24", "198.18.13.0/24", "198.18.14.0/24", "198.18.15.0/24", "2001:db8:12::/48"}
	if diff := cmp.Diff(want, listRoutes(t, l.a, dsts...)); diff != "" {
		t.Errorf("after Take (-want +got):\n%s", diff)
	}
	if err := h.Release(); err != nil {
		t.Fatal(err)
	}
	if got := listRoutes(t, l.a, dsts...); len(got) != 0 {
		t.Errorf("after Release: %+v still there", got)
	}
}

// ruleInfo is what the tests check of a rule.
type ruleInfo struct {
	Priority, Table, Family int
	Protocol                uint8
	Src, Dst                string
	Mark, Mask              uint32
}

func listRules(t *testing.T, ns *testutil.NS, prios ...int) []ruleInfo {
	t.Helper()
	var out []ruleInfo
	if err := ns.Do(func() error {
		list, err := netlink.RuleList(netlink.FAMILY_ALL)
		if err != nil {
			return err
		}
		for _, r := range list {
			if !slices.Contains(prios, r.Priority) {
				continue
			}
			ri := ruleInfo{Priority: r.Priority, Table: r.Table, Family: r.Family, Mark: r.Mark, Protocol: r.Protocol}
			if r.Mask != nil {
				ri.Mask = *r.Mask
			}
			if r.Src != nil {
				ri.Src = r.Src.String()
			}
			if r.Dst != nil {
				ri.Dst = r.Dst.String()
			}
			out = append(out, ri)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b ruleInfo) int { return a.Priority - b.Priority })
	return out
}

func TestRules(t *testing.T) {
	l := newLab(t)
	p := netip.MustParsePrefix
	h := openHost(t, l.a, addrs.Options{Interface: "eth0", Rules: []addrs.Rule{
		{From: p("198.18.0.100/32"), Table: 100, Priority: 1000},
		{To: p("198.18.20.0/24"), Table: 101, Priority: 1001},
		{FwMark: 0x10, FwMask: 0xff, Table: 102, Priority: 1002},
		{From: p("2001:db8::100/128"), To: p("2001:db8:20::/48"), Table: 100, Priority: 1003},
	}})
	take(t, l.a, h)
	want := []ruleInfo{
		{Priority: 1000, Table: 100, Family: unix.AF_INET, Src: "198.18.0.100/32", Protocol: unix.RTPROT_KEEPALIVED},
		{Priority: 1001, Table: 101, Family: unix.AF_INET, Dst: "198.18.20.0/24", Protocol: unix.RTPROT_KEEPALIVED},
		{Priority: 1002, Table: 102, Family: unix.AF_INET, Mark: 0x10, Mask: 0xff, Protocol: unix.RTPROT_KEEPALIVED},
		{Priority: 1003, Table: 100, Family: unix.AF_INET6, Src: "2001:db8::100/128", Dst: "2001:db8:20::/48", Protocol: unix.RTPROT_KEEPALIVED},
	}
	prios := []int{1000, 1001, 1002, 1003}
	if diff := cmp.Diff(want, listRules(t, l.a, prios...)); diff != "" {
		t.Errorf("after Take (-want +got):\n%s", diff)
	}
	if err := h.Release(); err != nil {
		t.Fatal(err)
	}
	if got := listRules(t, l.a, prios...); len(got) != 0 {
		t.Errorf("after Release: %+v still there", got)
	}
}

func mac(t *testing.T, ns *testutil.NS, ifname string) net.HardwareAddr {
	t.Helper()
	var hw net.HardwareAddr
	if err := ns.Do(func() error {
		link, err := netlink.LinkByName(ifname)
		if err != nil {
			return err
		}
		hw = link.Attrs().HardwareAddr
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return hw
}

// neighMAC returns the MAC of ip in ifname's neighbour table in ns, or nil.
func neighMAC(t *testing.T, ns *testutil.NS, ifname string, ip netip.Addr) net.HardwareAddr {
	t.Helper()
	var hw net.HardwareAddr
	if err := ns.Do(func() error {
		link, err := netlink.LinkByName(ifname)
		if err != nil {
			return err
		}
		fam := netlink.FAMILY_V4
		if ip.Is6() {
			fam = netlink.FAMILY_V6
		}
		list, err := netlink.NeighList(link.Attrs().Index, fam)
		if err != nil {
			return err
		}
		for _, n := range list {
			if got, _ := netip.AddrFromSlice(n.IP); got.Unmap() == ip {
				hw = n.HardwareAddr
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return hw
}

// waitNeigh waits (boundedly) until ns's neighbour entry for ip has MAC
// want, and fails the test if it never does.
func waitNeigh(t *testing.T, ns *testutil.NS, ip netip.Addr, want net.HardwareAddr) {
	t.Helper()
	var got net.HardwareAddr
	for range 100 {
		if got = neighMAC(t, ns, "eth0", ip); got.String() == want.String() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("peer's neighbour entry for %s: MAC %s, want %s", ip, got, want)
}

// stale gives ns a stale neighbour entry for ip with a MAC nobody has, as
// a peer that knew the previous master would have.
func stale(t *testing.T, ns *testutil.NS, ip string) {
	ns.MustRun(t, "ip", "neigh", "replace", ip, "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "stale")
}

// vmacInfo describes link ifname in ns, or returns nil if there is none.
func vmacInfo(t *testing.T, ns *testutil.NS, ifname string) *linkInfo {
	t.Helper()
	var li *linkInfo
	if err := ns.Do(func() error {
		link, err := netlink.LinkByName(ifname)
		if errors.As(err, new(netlink.LinkNotFoundError)) {
			return nil
		}
		if err != nil {
			return err
		}
		li = &linkInfo{Type: link.Type(), MAC: link.Attrs().HardwareAddr.String(), Parent: link.Attrs().ParentIndex,
			Up: link.Attrs().Flags&net.FlagUp != 0}
		if mv, ok := link.(*netlink.Macvlan); ok && mv.Mode == netlink.MACVLAN_MODE_PRIVATE {
			li.Mode = "private"
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return li
}
