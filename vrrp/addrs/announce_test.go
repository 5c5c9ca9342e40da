package addrs_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"golang.org/x/net/ipv6"

	"xlb/internal/testutil"
	"xlb/vrrp/addrs"
)

// arpListener opens an ARP socket on eth0 in ns.
func arpListener(t *testing.T, ns *testutil.NS) *arp.Client {
	t.Helper()
	var c *arp.Client
	if err := ns.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		c, err = arp.Dial(ifi)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// garpInfo is what the tests check of a gratuitous ARP.
type garpInfo struct {
	EthDst, EthSrc     string
	Op                 arp.Operation
	SenderHW, TargetHW string
	SenderIP, TargetIP netip.Addr
}

// readGARPs reads gratuitous ARPs for vip until it has n or until the
// deadline passes.
func readGARPs(t *testing.T, c *arp.Client, vip netip.Addr, n int, deadline time.Time) []garpInfo {
	t.Helper()
	if err := c.SetReadDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	var out []garpInfo
	for len(out) < n {
		p, f, err := c.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			continue // not an ARP packet we can parse
		}
		if p.SenderIP != vip {
			continue
		}
		out = append(out, garpInfo{
			EthDst: f.Destination.String(), EthSrc: f.Source.String(), Op: p.Operation,
			SenderHW: p.SenderHardwareAddr.String(), TargetHW: p.TargetHardwareAddr.String(),
			SenderIP: p.SenderIP, TargetIP: p.TargetIP,
		})
	}
	return out
}

var cmpAddr = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func TestGratuitousARP(t *testing.T) {
	vip := netip.MustParseAddr("198.18.0.100")
	tests := []struct {
		name     string
		announce addrs.Announce
		want     int // messages in the first burst and what follows
		// quiet says no more come after want.
		quiet bool
	}{
		{"two bursts", addrs.Announce{Repeat: 3, Delay: 300 * time.Millisecond}, 6, true},
		{"one burst", addrs.Announce{Repeat: 2, Delay: -1}, 2, true},
		{"refresh", addrs.Announce{Repeat: 1, Delay: -1, Refresh: 100 * time.Millisecond, RefreshRepeat: 2}, 5, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			listen := arpListener(t, l.b)
			stale(t, l.b, vip.String())
			h := openHost(t, l.a, addrs.Options{
				Interface: "eth0",
				Addresses: []addrs.Address{{Prefix: netip.PrefixFrom(vip, 24)}},
				Announce:  tc.announce,
			})
			run(t, h)
			take(t, l.a, h)
			got := readGARPs(t, listen, vip, tc.want, time.Now().Add(10*time.Second))
			hw := mac(t, l.a, "eth0").String()
			one := garpInfo{EthDst: ethernet.Broadcast.String(), EthSrc: hw, Op: arp.OperationRequest,
				SenderHW: hw, TargetHW: ethernet.Broadcast.String(), SenderIP: vip, TargetIP: vip}
			want := make([]garpInfo, tc.want)
			for i := range want {
				want[i] = one
			}
			if diff := cmp.Diff(want, got, cmpAddr); diff != "" {
				t.Errorf("gratuitous ARPs seen by the peer (-want +got):\n%s", diff)
			}
			waitNeigh(t, l.b, vip, mac(t, l.a, "eth0"))
			if tc.quiet {
				if more := readGARPs(t, listen, vip, 1, time.Now().Add(700*time.Millisecond)); len(more) != 0 {
					t.Errorf("after the bursts: %d more ARPs, want none", len(more))
				}
			}
			// After Release nothing more is sent, refresh or not.
			if err := h.Release(); err != nil {
				t.Fatal(err)
			}
			readGARPs(t, listen, vip, 100, time.Now().Add(100*time.Millisecond)) // drain a burst in flight
			if more := readGARPs(t, listen, vip, 1, time.Now().Add(400*time.Millisecond)); len(more) != 0 {
				t.Errorf("after Release: %d more ARPs, want none", len(more))
			}
		})
	}
}

// naInfo is what the tests check of a neighbour advertisement.
type naInfo struct {
	Src, Dst, Target            netip.Addr
	HopLimit                    int
	Router, Solicited, Override bool
	TargetLinkLayer             string
}

// ndpListener opens an NDP socket on eth0 in ns that reports hop limit
// and destination.
func ndpListener(t *testing.T, ns *testutil.NS) *ndp.Conn {
	t.Helper()
	var c *ndp.Conn
	if err := ns.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		c, _, err = ndp.Listen(ifi, ndp.LinkLocal)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst, true); err != nil {
		t.Fatal(err)
	}
	return c
}

// readNAs reads neighbour advertisements for vip until it has n or until
// the deadline passes.
func readNAs(t *testing.T, c *ndp.Conn, vip netip.Addr, n int, deadline time.Time) []naInfo {
	t.Helper()
	if err := c.SetReadDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	var got []naInfo
	for len(got) < n {
		m, cm, src, err := c.ReadFrom()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			continue
		}
		na, ok := m.(*ndp.NeighborAdvertisement)
		if !ok || na.TargetAddress != vip {
			continue
		}
		ni := naInfo{Src: src.WithZone(""), Target: na.TargetAddress, Router: na.Router, Solicited: na.Solicited, Override: na.Override}
		if cm != nil {
			ni.HopLimit = cm.HopLimit
			ni.Dst, _ = netip.AddrFromSlice(cm.Dst)
		}
		for _, o := range na.Options {
			if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Target {
				ni.TargetLinkLayer = lla.Addr.String()
			}
		}
		got = append(got, ni)
	}
	return got
}

func TestUnsolicitedNA(t *testing.T) {
	l := newLab(t)
	vip := netip.MustParseAddr("2001:db8::100")
	listen := ndpListener(t, l.b)
	stale(t, l.b, vip.String())
	h := openHost(t, l.a, addrs.Options{
		Interface: "eth0",
		IPv6:      true,
		Addresses: []addrs.Address{{Prefix: netip.PrefixFrom(vip, 64)}},
		Announce:  addrs.Announce{Repeat: 2, Delay: -1},
	})
	run(t, h)
	take(t, l.a, h)

	hw := mac(t, l.a, "eth0")
	got := readNAs(t, listen, vip, 2, time.Now().Add(10*time.Second))
	one := naInfo{Src: vip, Dst: netip.MustParseAddr("ff02::1"), Target: vip, HopLimit: 255, Override: true, TargetLinkLayer: hw.String()}
	if diff := cmp.Diff([]naInfo{one, one}, got, cmpAddr); diff != "" {
		t.Errorf("neighbour advertisements seen by the peer (-want +got):\n%s", diff)
	}
	waitNeigh(t, l.b, vip, hw)
}

// linkInfo is what the tests check of a VMAC.
type linkInfo struct {
	Type, MAC string
	Parent    int
	Mode      string
	Up        bool
}

func TestVMAC(t *testing.T) {
	tests := []struct {
		name     string
		opts     addrs.Options
		wantName string
		wantMAC  string
		vip      netip.Addr
	}{
		{
			name:     "ipv4, default name",
			opts:     addrs.Options{VRID: 51},
			wantName: "vrrp.51",
			wantMAC:  "00:00:5e:00:01:33",
			vip:      netip.MustParseAddr("198.18.0.100"),
		},
		{
			name:     "ipv6, given name",
			opts:     addrs.Options{VRID: 52, IPv6: true, VMACName: "vmac6"},
			wantName: "vmac6",
			wantMAC:  "00:00:5e:00:02:34",
			vip:      netip.MustParseAddr("2001:db8::100"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			stale(t, l.b, tc.vip.String())
			opts := tc.opts
			opts.Interface, opts.UseVMAC = "eth0", true
			opts.Addresses = []addrs.Address{{Prefix: netip.PrefixFrom(tc.vip, tc.vip.BitLen())}}
			opts.Announce = addrs.Announce{Repeat: 1, Delay: -1}
			h := openHost(t, l.a, opts)
			if h.VMAC() != tc.wantName {
				t.Errorf("VMAC() = %q, want %q", h.VMAC(), tc.wantName)
			}
			want := linkInfo{Type: "macvlan", MAC: tc.wantMAC, Parent: ifindex(t, l.a, "eth0"), Mode: "private", Up: true}
			if diff := cmp.Diff(&want, vmacInfo(t, l.a, tc.wantName)); diff != "" {
				t.Errorf("vmac (-want +got):\n%s", diff)
			}
			wantConf := map[string]string{
				tc.wantName + "/arp_ignore": "1", tc.wantName + "/accept_local": "1", tc.wantName + "/rp_filter": "0",
				tc.wantName + "/promote_secondaries": "1", "eth0/arp_ignore": "1", "eth0/arp_filter": "1",
			}
			if diff := cmp.Diff(wantConf, conf(t, l.a, wantConf)); diff != "" {
				t.Errorf("sysctls after Open (-want +got):\n%s", diff)
			}
			run(t, h)
			take(t, l.a, h)
			p := netip.PrefixFrom(tc.vip, tc.vip.BitLen()).String()
			if got := listAddrs(t, l.a, tc.wantName, is(p)); len(got) != 1 {
				t.Errorf("addresses %s on %s: %+v, want one", p, tc.wantName, got)
			}
			// The peer learns the virtual MAC, not eth0's.
			hw, _ := net.ParseMAC(tc.wantMAC)
			waitNeigh(t, l.b, tc.vip, hw)
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			if got := vmacInfo(t, l.a, tc.wantName); got != nil {
				t.Errorf("after Close: vmac %+v still there", got)
			}
			restored := map[string]string{"eth0/arp_ignore": "0", "eth0/arp_filter": "0"}
			if diff := cmp.Diff(restored, conf(t, l.a, restored)); diff != "" {
				t.Errorf("parent's sysctls after Close (-want +got):\n%s", diff)
			}
		})
	}
}

func ifindex(t *testing.T, ns *testutil.NS, ifname string) int {
	t.Helper()
	var idx int
	if err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		idx = ifi.Index
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return idx
}

// conf reads the IPv4 settings named by keys ("IF/NAME") in ns.
func conf(t *testing.T, ns *testutil.NS, keys map[string]string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for k := range keys {
		got[k] = strings.TrimSpace(ns.MustRun(t, "cat", "/proc/sys/net/ipv4/conf/"+k))
	}
	return got
}
