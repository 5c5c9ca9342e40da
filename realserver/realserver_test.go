package realserver

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	dt "xlb/bpf/decap/decaptest"
)

func TestOptionsCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		ok   bool
	}{
		{"one vip", Options{VIPs: []netip.Addr{vip4}}, true},
		{"tunnel with iface", Options{VIPs: []netip.Addr{vip4, vip6}, Tunnel: true, Iface: "eth0"}, true},
		{"no vip", Options{}, false},
		{"zero vip", Options{VIPs: []netip.Addr{{}}}, false},
		{"unspecified", Options{VIPs: []netip.Addr{netip.IPv4Unspecified()}}, false},
		{"multicast", Options{VIPs: []netip.Addr{netip.MustParseAddr("ff02::1")}}, false},
		{"loopback", Options{VIPs: []netip.Addr{netip.MustParseAddr("127.0.0.2")}}, false},
		{"tunnel without iface", Options{VIPs: []netip.Addr{vip4}, Tunnel: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.check()
			if got := err == nil; got != tc.ok {
				t.Fatalf("check() = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadOptions) {
				t.Errorf("error %v is not ErrBadOptions", err)
			}
		})
	}
}

// TestUpDown runs Up, Up again and Down in a namespace and checks the
// namespace's VIPs, sysctls, XDP program and pins after each, and that the
// host's sysctls never move.
func TestUpDown(t *testing.T) {
	l := newLab(t)
	// A strict reverse-path filter, which Up must loosen on eth0, and an
	// address on lo that is not Up's to remove.
	l.real.MustRun(t, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1")
	other := netip.MustParseAddr("198.18.0.101")
	l.real.MustRun(t, "ip", "addr", "add", other.String()+"/32", "dev", "lo")
	l.opts.VIPs = append(l.opts.VIPs, other)

	hostBefore := sysctls(t)
	var before map[string]string
	if err := l.real.Do(func() error { before = sysctls(t); return nil }); err != nil {
		t.Fatal(err)
	}
	if before["net/ipv4/conf/all/rp_filter"] != "1" {
		t.Fatalf("rp_filter in the namespace = %q after setting 1: reads do not see the namespace", before["net/ipv4/conf/all/rp_filter"])
	}

	wantUp := overlay(before, map[string]string{
		"net/ipv4/conf/all/arp_ignore":   "1",
		"net/ipv4/conf/lo/arp_ignore":    "1",
		"net/ipv4/conf/all/arp_announce": "2",
		"net/ipv4/conf/lo/arp_announce":  "2",
		"net/ipv4/conf/eth0/rp_filter":   "2",
	})
	var firstState []byte
	for round := 1; round <= 2; round++ {
		if err := l.real.Do(func() error { return Up(l.opts) }); err != nil {
			t.Fatalf("up #%d: %v", round, err)
		}
		if err := l.real.Do(func() error {
			if diff := cmp.Diff(wantUp, sysctls(t)); diff != "" {
				t.Errorf("up #%d: sysctls (-want +got):\n%s", round, diff)
			}
			addrs := loAddrs(t)
			for _, v := range l.opts.VIPs {
				if !slices.Contains(addrs, v) {
					t.Errorf("up #%d: VIP %s not on lo (%v)", round, v, addrs)
				}
			}
			if xdpProgID(t, "eth0") == 0 {
				t.Errorf("up #%d: no XDP program on eth0", round)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for _, name := range append([]string{linkPin}, mapPins...) {
			if _, err := os.Stat(filepath.Join(l.opts.PinDir, name)); err != nil {
				t.Errorf("up #%d: pin: %v", round, err)
			}
		}
		if err := l.real.Do(func() error {
			s, err := Inspect(l.opts)
			if err != nil {
				return err
			}
			eth0, err := net.InterfaceByName("eth0")
			if err != nil {
				return err
			}
			if !s.Up || s.TunnelIface != "eth0" || s.Ifindex != uint32(eth0.Index) {
				t.Errorf("up #%d: Inspect = %+v, want up, attached to eth0 (ifindex %d)", round, s, eth0.Index)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		st, err := os.ReadFile(l.opts.StateFile)
		if err != nil {
			t.Fatal(err)
		}
		if round == 1 {
			firstState = st
		} else if diff := cmp.Diff(string(firstState), string(st)); diff != "" {
			t.Errorf("state after a second up (-first +second):\n%s", diff)
		}
	}
	if diff := cmp.Diff(hostBefore, sysctls(t)); diff != "" {
		t.Errorf("host sysctls changed by up in a namespace (-want +got):\n%s", diff)
	}

	if err := l.real.Do(func() error { return Down(l.opts) }); err != nil {
		t.Fatalf("down: %v", err)
	}
	if err := l.real.Do(func() error {
		if diff := cmp.Diff(before, sysctls(t)); diff != "" {
			t.Errorf("sysctls after down (-want +got):\n%s", diff)
		}
		addrs := loAddrs(t)
		for _, v := range []netip.Addr{vip4, vip6} {
			if slices.Contains(addrs, v) {
				t.Errorf("VIP %s still on lo after down", v)
			}
		}
		if !slices.Contains(addrs, other) {
			t.Errorf("%s was on lo before up; down removed it", other)
		}
		if id := xdpProgID(t, "eth0"); id != 0 {
			t.Errorf("XDP program %d still on eth0 after down", id)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if s, err := Inspect(l.opts); err != nil || s.Up || s.Ifindex != 0 {
		t.Errorf("after down, Inspect = %+v, %v; want down, detached", s, err)
	}
	for _, p := range []string{l.opts.PinDir, l.opts.StateFile} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left after down: %v", p, err)
		}
	}
}

// overlay returns base with over applied.
func overlay(base, over map[string]string) map[string]string {
	out := make(map[string]string)
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// TestEndToEnd sends tunnelled UDP from lb to the real, as xlb's TUN mode
// would, and checks that a socket on the VIP in the real gets the client's
// datagram, and that the decapsulator counted it.
func TestEndToEnd(t *testing.T) {
	l := newLab(t)
	if err := l.real.Do(func() error { return Up(l.opts) }); err != nil {
		t.Fatalf("up: %v", err)
	}
	t.Cleanup(func() {
		if err := l.real.Do(func() error { return Down(l.opts) }); err != nil {
			t.Errorf("down: %v", err)
		}
	})

	var realMAC, lbMAC net.HardwareAddr
	for _, end := range []struct {
		do  func(func() error) error
		mac *net.HardwareAddr
	}{{l.real.Do, &realMAC}, {l.lb.Do, &lbMAC}} {
		if err := end.do(func() error {
			ifi, err := net.InterfaceByName("eth0")
			if err == nil {
				*end.mac = ifi.HardwareAddr
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}

	for i, tc := range []struct {
		name          string
		outerSrc, dst netip.Addr // outer header
		client, vip   netip.Addr // inner header
		reason        string
	}{
		{"ipip", lb4, real4, cli4, vip4, "decap_ipip"},
		{"ip6ip6", lb6, real6, cli6, vip6, "decap_ip6ip6"},
		{"4in6", lb6, real6, cli4, vip4, "decap_4in6"},
		{"6in4", lb4, real4, cli6, vip6, "decap_6in4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vip := netip.AddrPortFrom(tc.vip, uint16(7000+i))
			var conn *net.UDPConn
			if err := l.real.Do(func() error {
				var err error
				conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(vip))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			defer conn.Close()

			client := netip.AddrPortFrom(tc.client, 40000)
			payload := []byte("through the tunnel: " + tc.name)
			frame := dt.Ethernet(realMAC, lbMAC, etherTypeFor(tc.dst), dt.Encap(tc.outerSrc, tc.dst, dt.UDP(client, vip, payload)))
			if err := sendFrame(l.lb, "eth0", frame); err != nil {
				t.Fatal(err)
			}

			buf := make([]byte, 1500)
			conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("VIP socket %s got nothing: %v (decap reasons: %v)", vip, err, pinnedReasons(t, l.opts.PinDir))
			}
			if diff := cmp.Diff(string(payload), string(buf[:n])); diff != "" {
				t.Errorf("datagram (-want +got):\n%s", diff)
			}
			if from.Addr().Unmap() != client.Addr() || from.Port() != client.Port() {
				t.Errorf("datagram from %s, want the client %s", from, client)
			}
			if got := pinnedReasons(t, l.opts.PinDir)[tc.reason]; got != 1 {
				t.Errorf("reason %s = %d, want 1", tc.reason, got)
			}
		})
	}
}

func etherTypeFor(a netip.Addr) uint16 {
	if a.Is4() {
		return dt.EtherTypeIPv4
	}
	return dt.EtherTypeIPv6
}
