package neigh

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func discardTable() *Table {
	return New(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func neighUpdate(typ uint16, addr string, ifindex, state int, hw string) netlink.NeighUpdate {
	ip := net.ParseIP(addr)
	fam := unix.AF_INET6
	if ip.To4() != nil {
		fam = unix.AF_INET
	}
	u := netlink.NeighUpdate{Type: typ, Neigh: netlink.Neigh{LinkIndex: ifindex, Family: fam, State: state, IP: ip}}
	if hw != "" {
		u.HardwareAddr = mac(hw)
	}
	return u
}

// TestNeighEvent feeds notification sequences for a watched address and
// checks which of them signal Changed.
func TestNeighEvent(t *testing.T) {
	const a, b = "02:00:5e:00:00:0a", "02:00:5e:00:00:0b"
	newN, delN := uint16(unix.RTM_NEWNEIGH), uint16(unix.RTM_DELNEIGH)
	for _, tc := range []struct {
		name     string
		lookedUp string // MAC Lookup returned; "" = ErrUnresolved
		updates  []netlink.NeighUpdate
		want     []bool
	}{
		{"resolves", "", []netlink.NeighUpdate{
			neighUpdate(newN, "198.18.0.2", 2, netlink.NUD_INCOMPLETE, ""),
			neighUpdate(newN, "198.18.0.2", 2, netlink.NUD_REACHABLE, a),
			neighUpdate(newN, "198.18.0.2", 2, netlink.NUD_STALE, a),
			neighUpdate(newN, "198.18.0.2", 2, netlink.NUD_DELAY, a),
			neighUpdate(newN, "198.18.0.2", 2, netlink.NUD_REACHABLE, a),
		}, []bool{false, true, false, false, false}},
		{"changes MAC", a, []netlink.NeighUpdate{
			neighUpdate(newN, "198.18.0.2", 2, netlink.NUD_REACHABLE, b),
			neighUpdate(newN, "198.18.0.2", 2, netlink.NUD_REACHABLE, b),
		}, []bool{true, false}},
		{"fails, repeatedly", a, []netlink.NeighUpdate{
			neighUpdate(newN, "198.18.0.2", 2, netlink.NUD_PROBE, a),
			neighUpdate(newN, "198.18.0.2", 2, netlink.NUD_FAILED, ""),
			neighUpdate(newN, "198.18.0.2", 2, netlink.NUD_FAILED, ""),
			neighUpdate(newN, "198.18.0.2", 2, netlink.NUD_REACHABLE, a),
		}, []bool{false, true, false, true}},
		{"deleted", a, []netlink.NeighUpdate{
			neighUpdate(delN, "198.18.0.2", 2, netlink.NUD_REACHABLE, a),
		}, []bool{true}},
		{"other interface, address or family", "", []netlink.NeighUpdate{
			neighUpdate(newN, "198.18.0.2", 3, netlink.NUD_REACHABLE, a),
			neighUpdate(newN, "198.18.0.3", 2, netlink.NUD_REACHABLE, a),
			{Type: newN, Neigh: netlink.Neigh{LinkIndex: 2, Family: unix.AF_BRIDGE, HardwareAddr: mac(a)}},
		}, []bool{false, false, false}},
		{"zero MAC is unusable", "", []netlink.NeighUpdate{
			neighUpdate(newN, "198.18.0.2", 2, netlink.NUD_REACHABLE, "00:00:00:00:00:00"),
		}, []bool{false}},
		{"v6", "", []netlink.NeighUpdate{
			neighUpdate(newN, "2001:db8::2", 2, netlink.NUD_REACHABLE, a),
		}, []bool{true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tbl := discardTable()
			for _, s := range []string{"198.18.0.2", "2001:db8::2"} {
				w := tbl.watchAddr(netip.MustParseAddr(s), 2)
				var m net.HardwareAddr
				if tc.lookedUp != "" {
					m = mac(tc.lookedUp)
				}
				tbl.recordNeigh(w, m)
			}
			var got []bool
			for _, u := range tc.updates {
				got = append(got, tbl.neighEvent(u))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("signals (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLinkEvent(t *testing.T) {
	tbl := discardTable()
	tbl.watchAddr(netip.MustParseAddr("198.18.0.2"), 2)
	tbl.recordLink(2, mac("02:00:5e:00:00:01"), 1500)
	link := func(typ uint16, index int, hw string, mtu int) netlink.LinkUpdate {
		u := netlink.LinkUpdate{Link: &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Index: index, Name: "eth0", HardwareAddr: mac(hw), MTU: mtu}}}
		u.Header.Type = typ
		return u
	}
	var got []bool
	for _, u := range []netlink.LinkUpdate{
		link(unix.RTM_NEWLINK, 2, "02:00:5e:00:00:01", 1500), // flags only
		link(unix.RTM_NEWLINK, 2, "02:00:5e:00:00:11", 1500),
		link(unix.RTM_NEWLINK, 2, "02:00:5e:00:00:11", 1400), // TUN's Packet Too Big follows the MTU
		link(unix.RTM_NEWLINK, 2, "02:00:5e:00:00:11", 1400),
		link(unix.RTM_NEWLINK, 3, "02:00:5e:00:00:33", 1500), // not reaching a real
		link(unix.RTM_DELLINK, 2, "02:00:5e:00:00:11", 1400),
		link(unix.RTM_NEWLINK, 2, "02:00:5e:00:00:11", 1400), // forgotten until looked up again
	} {
		got = append(got, tbl.linkEvent(u))
	}
	if diff := cmp.Diff([]bool{false, true, true, false, false, true, false}, got); diff != "" {
		t.Errorf("signals (-want +got):\n%s", diff)
	}
}

func TestRouteEvent(t *testing.T) {
	tbl := discardTable()
	tbl.watchAddr(netip.MustParseAddr("198.18.0.2"), 2)
	tbl.watchAddr(netip.MustParseAddr("2001:db8::2"), 2)
	for _, tc := range []struct {
		dst  string // "" = default route
		want bool
	}{
		{"", true},
		{"198.18.0.0/24", true},
		{"198.18.0.2/32", true},
		{"198.18.1.0/24", false},
		{"2001:db8::/64", true},
		{"2001:db9::/64", false},
		{"fe80::/64", false},
	} {
		var u netlink.RouteUpdate
		if tc.dst != "" {
			_, n, err := net.ParseCIDR(tc.dst)
			if err != nil {
				t.Fatal(err)
			}
			u.Dst = n
		}
		if got := tbl.routeEvent(u); got != tc.want {
			t.Errorf("route to %q: signal = %v, want %v", tc.dst, got, tc.want)
		}
	}
}

func TestUsableMAC(t *testing.T) {
	const m = "02:00:5e:00:00:0a"
	for _, tc := range []struct {
		state int
		hw    string
		want  string
	}{
		{netlink.NUD_REACHABLE, m, m},
		{netlink.NUD_STALE, m, m},
		{netlink.NUD_DELAY, m, m},
		{netlink.NUD_PROBE, m, m},
		{netlink.NUD_PERMANENT, m, m},
		{netlink.NUD_INCOMPLETE, "", ""},
		{netlink.NUD_FAILED, m, ""},
		{netlink.NUD_NOARP, m, ""},
		{netlink.NUD_NONE, "", ""},
		{netlink.NUD_REACHABLE, "", ""},
	} {
		n := &netlink.Neigh{State: tc.state}
		if tc.hw != "" {
			n.HardwareAddr = mac(tc.hw)
		}
		if got := usableMAC(n).String(); got != tc.want {
			t.Errorf("usableMAC(state %s, %q) = %q, want %q", stateName(n), tc.hw, got, tc.want)
		}
	}
}
