package check

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/bpf"

	"xlb/internal/testutil"
)

// DR lab addresses: the lab's client is the load balancer, its server is
// a real with the VIPs on lo, and bare is a second real without them,
// on the balancer's eth1.
var (
	vipV4     = netip.MustParseAddr("198.18.9.1")
	vipV6     = netip.MustParseAddr("2001:db8:9::1")
	lbBareV4  = netip.MustParseAddr("198.18.1.1")
	bareV4    = netip.MustParseAddr("198.18.1.2")
	lbBareV6  = netip.MustParseAddr("2001:db8:1::1")
	bareV6    = netip.MustParseAddr("2001:db8:1::2")
	unknownV4 = netip.MustParseAddr("198.18.0.77") // no neighbour entry
)

// drLab extends the check lab into a DR setup and returns it with the
// bare real's namespace.
func drLab(t *testing.T) (*lab, *testutil.NS) {
	t.Helper()
	l := newLab(t)
	bare := testutil.NetNS(t)
	bare.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0")
	testutil.Veth(t, l.client, "eth1", bare, "eth0")
	l.client.MustRun(t, "ip", "addr", "add", lbBareV4.String()+"/24", "dev", "eth1")
	l.client.MustRun(t, "ip", "addr", "add", lbBareV6.String()+"/64", "dev", "eth1", "nodad")
	bare.MustRun(t, "ip", "addr", "add", bareV4.String()+"/24", "dev", "eth0")
	bare.MustRun(t, "ip", "addr", "add", bareV6.String()+"/64", "dev", "eth0", "nodad")
	l.server.MustRun(t, "ip", "addr", "add", vipV4.String()+"/32", "dev", "lo")
	l.server.MustRun(t, "ip", "addr", "add", vipV6.String()+"/128", "dev", "lo", "nodad")
	// The balancer learns the reals' MACs as it would from traffic.
	for _, r := range []struct {
		ns     *testutil.NS
		lbIf   string
		v4, v6 netip.Addr
	}{{l.server, "eth0", serverV4, serverV6}, {bare, "eth1", bareV4, bareV6}} {
		mac := linkMAC(t, r.ns, "eth0")
		for _, a := range []netip.Addr{r.v4, r.v6} {
			l.client.MustRun(t, "ip", "neigh", "replace", a.String(), "lladdr", mac, "dev", r.lbIf, "nud", "permanent")
		}
	}
	return l, bare
}

// linkMAC returns ifname's MAC in ns.
func linkMAC(t *testing.T, ns *testutil.NS, ifname string) string {
	t.Helper()
	var mac string
	if err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		mac = ifi.HardwareAddr.String()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return mac
}

// vipListeners listens on both VIPs in l's server and returns the
// listeners; they close when the test ends.
func vipListeners(t *testing.T, l *lab) (ln4, ln6 net.Listener) {
	t.Helper()
	l.inServer(t, func() (err error) {
		if ln4, err = net.Listen("tcp", netip.AddrPortFrom(vipV4, 0).String()); err != nil {
			return err
		}
		ln6, err = net.Listen("tcp", netip.AddrPortFrom(vipV6, 0).String())
		return err
	})
	t.Cleanup(func() { ln4.Close(); ln6.Close() })
	return ln4, ln6
}

func TestVIPPath(t *testing.T) {
	l, _ := drLab(t)
	ln4, ln6 := vipListeners(t, l)
	port4, port6 := addrPort(ln4.Addr()).Port(), addrPort(ln6.Addr()).Port()
	closed := freePort(t, l, "tcp")

	tests := []struct {
		name   string
		opts   VIPPathOptions
		up     bool
		reason string
	}{
		{"up v4", VIPPathOptions{Interface: "eth0", VIP: netip.AddrPortFrom(vipV4, port4), Real: serverV4}, true, "SYN-ACK"},
		{"up v6", VIPPathOptions{Interface: "eth0", VIP: netip.AddrPortFrom(vipV6, port6), Real: serverV6}, true, "SYN-ACK"},
		{"explicit source", VIPPathOptions{Interface: "eth0", VIP: netip.AddrPortFrom(vipV4, port4), Real: serverV4, Source: clientV4}, true, "SYN-ACK"},
		{"closed port", VIPPathOptions{Interface: "eth0", VIP: netip.AddrPortFrom(vipV4, closed), Real: serverV4}, false, "port closed on the real for the VIP"},
		{"real without VIP v4", VIPPathOptions{Interface: "eth1", VIP: netip.AddrPortFrom(vipV4, port4), Real: bareV4}, false, "no answer via the real's MAC"},
		{"real without VIP v6", VIPPathOptions{Interface: "eth1", VIP: netip.AddrPortFrom(vipV6, port6), Real: bareV6}, false, "no answer via the real's MAC"},
		{"no neighbour", VIPPathOptions{Interface: "eth0", VIP: netip.AddrPortFrom(vipV4, port4), Real: unknownV4}, false, "real's MAC unknown"},
		{"no interface", VIPPathOptions{Interface: "nosuch0", VIP: netip.AddrPortFrom(vipV4, port4), Real: serverV4}, false, "interface nosuch0"},
		{"own timeout", VIPPathOptions{Interface: "eth1", VIP: netip.AddrPortFrom(vipV4, port4), Real: bareV4, Timeout: 100 * time.Millisecond}, false, "no answer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewVIPPath(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			wantResult(t, l.check(t, c, 500*time.Millisecond), tc.up, tc.reason)
		})
	}

	// Closing the service on the real turns the same check down.
	t.Run("listener closed", func(t *testing.T) {
		c, err := NewVIPPath(VIPPathOptions{Interface: "eth0", VIP: netip.AddrPortFrom(vipV6, port6), Real: serverV6})
		if err != nil {
			t.Fatal(err)
		}
		wantResult(t, l.check(t, c, 500*time.Millisecond), true, "SYN-ACK")
		// The check's own RST clears the half-open connection on the
		// real; nothing else would, as the lab balancer cannot route to
		// the VIP. Allow the RST a moment to land, boundedly.
		for i := 0; ; i++ {
			out := l.server.MustRun(t, "ss", "-Htn", "state", "syn-recv")
			if strings.TrimSpace(out) == "" {
				break
			}
			if i == 40 {
				t.Fatalf("real still has half-open connections:\n%s", out)
			}
			time.Sleep(25 * time.Millisecond)
		}
		ln6.Close()
		wantResult(t, l.check(t, c, 500*time.Millisecond), false, "port closed")
	})

	// The MAC is looked up per attempt: pointing the entry at the bare
	// real's MAC sends the next SYN there.
	t.Run("MAC change followed", func(t *testing.T) {
		c, err := NewVIPPath(VIPPathOptions{Interface: "eth0", VIP: netip.AddrPortFrom(vipV4, port4), Real: serverV4})
		if err != nil {
			t.Fatal(err)
		}
		wantResult(t, l.check(t, c, 500*time.Millisecond), true, "SYN-ACK")
		l.client.MustRun(t, "ip", "neigh", "replace", serverV4.String(), "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "permanent")
		r := l.check(t, c, 300*time.Millisecond)
		wantResult(t, r, false, "no answer")
		if !strings.Contains(r.Reason, "02:00:00:00:00:99") {
			t.Errorf("reason %q does not name the new MAC", r.Reason)
		}
	})
}

// TestVIPPathDeadline checks that the caller's ctx deadline ends an
// attempt whose own timeout is far away.
func TestVIPPathDeadline(t *testing.T) {
	l, _ := drLab(t)
	c, err := NewVIPPath(VIPPathOptions{Interface: "eth1", VIP: netip.AddrPortFrom(vipV4, 80), Real: bareV4, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := l.check(t, c, 200*time.Millisecond)
	wantResult(t, r, false, "no answer via the real's MAC")
	// A generous bound: only proves the minute-long Timeout did not win.
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("Check returned after %s, want about 200ms", d)
	}

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	if err := l.client.Do(func() error { r = c.Check(ctx); return nil }); err != nil {
		t.Fatal(err)
	}
	t.Logf("cancelled: %+v", r)
	if r.Up || strings.Contains(r.Reason, "no answer") {
		t.Errorf("cancelled Check = %+v, want down with a cancellation reason", r)
	}
}

func TestNewVIPPathInvalid(t *testing.T) {
	vip := netip.AddrPortFrom(vipV4, 80)
	tests := []struct {
		name string
		opts VIPPathOptions
		want string
	}{
		{"no interface", VIPPathOptions{VIP: vip, Real: serverV4}, "interface: missing"},
		{"no vip", VIPPathOptions{Interface: "eth0", Real: serverV4}, "vip: missing"},
		{"no port", VIPPathOptions{Interface: "eth0", VIP: netip.AddrPortFrom(vipV4, 0), Real: serverV4}, "vip: port missing"},
		{"no real", VIPPathOptions{Interface: "eth0", VIP: vip}, "real: missing"},
		{"real family", VIPPathOptions{Interface: "eth0", VIP: vip, Real: serverV6}, "real: 2001:db8::2 is not of vip"},
		{"source family", VIPPathOptions{Interface: "eth0", VIP: vip, Real: serverV4, Source: clientV6}, "source: 2001:db8::1 is not of vip"},
		{"negative timeout", VIPPathOptions{Interface: "eth0", VIP: vip, Real: serverV4, Timeout: -1}, "connect_timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewVIPPath(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewVIPPath error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestVIPPathString(t *testing.T) {
	for _, tc := range []struct {
		opts VIPPathOptions
		want string
	}{
		{VIPPathOptions{Interface: "eth0", VIP: netip.AddrPortFrom(vipV4, 80), Real: serverV4}, "TCP_CHECK 198.18.9.1:80 via 198.18.0.2"},
		{VIPPathOptions{Interface: "eth0", VIP: netip.AddrPortFrom(vipV6, 443), Real: serverV6}, "TCP_CHECK [2001:db8:9::1]:443 via 2001:db8::2"},
		// IPv4-mapped addresses are unmapped, as the wire carries them.
		{VIPPathOptions{Interface: "eth0", VIP: netip.MustParseAddrPort("[::ffff:198.18.9.1]:80"), Real: netip.MustParseAddr("::ffff:198.18.0.2")}, "TCP_CHECK 198.18.9.1:80 via 198.18.0.2"},
	} {
		c, err := NewVIPPath(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

// TestTCPFrame checks that a built frame parses back and that its IP and
// TCP checksums verify (RFC 1071: a correct sum over the data including
// the checksum folds to 0xffff).
func TestTCPFrame(t *testing.T) {
	macA, macB := net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}
	for _, seg := range []tcpSegment{
		{Src: netip.AddrPortFrom(clientV4, 40000), Dst: netip.AddrPortFrom(vipV4, 80), Seq: 1, Flags: tcpSYN, Window: 64240},
		{Src: netip.AddrPortFrom(clientV6, 60999), Dst: netip.AddrPortFrom(vipV6, 443), Seq: 0xfffffff0, Ack: 7, Flags: tcpRST | tcpACK},
	} {
		b := seg.frame(macA, macB)
		got, ok := parseTCPFrame(b)
		if !ok {
			t.Fatalf("parseTCPFrame(frame(%+v)) failed", seg)
		}
		if diff := cmp.Diff(seg, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
		ip := b[ethHeaderLen:]
		ipLen, srcOff, addrLen := ipv6HeaderLen, 8, 16
		if seg.Src.Addr().Is4() {
			ipLen, srcOff, addrLen = ipv4HeaderLen, 12, 4
			if s := checksum(0, ip[:ipv4HeaderLen]); s != 0xffff {
				t.Errorf("IPv4 header sum = %#x, want 0xffff", s)
			}
		}
		tcp := ip[ipLen:]
		sum := checksum(0, ip[srcOff:srcOff+2*addrLen])
		sum += 6 + uint32(len(tcp))
		if s := checksum(sum, tcp); s != 0xffff {
			t.Errorf("TCP sum with pseudo-header = %#x, want 0xffff", s)
		}
		if binary.BigEndian.Uint16(b[12:]) == 0 {
			t.Error("no EtherType")
		}
	}
}

// TestReplyFilter runs the socket filter in x/net/bpf's VM: it must pass
// the reply and stop other traffic before it is copied to the checker.
func TestReplyFilter(t *testing.T) {
	macA, macB := net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}
	vip4, us4 := netip.AddrPortFrom(vipV4, 80), netip.AddrPortFrom(clientV4, 40000)
	vip6, us6 := netip.AddrPortFrom(vipV6, 443), netip.AddrPortFrom(clientV6, 50000)
	frame := func(src, dst netip.AddrPort) []byte {
		return tcpSegment{Src: src, Dst: dst, Flags: tcpSYN | tcpACK}.frame(macA, macB)
	}
	// withOptions gives an IPv4 frame a 4-byte option (IHL 6), moving
	// the TCP header the filter must find through the header length.
	withOptions := func(b []byte) []byte {
		out := append([]byte{}, b[:ethHeaderLen+ipv4HeaderLen]...)
		out = append(out, 1, 1, 1, 0) // NOP, NOP, NOP, end of options
		out = append(out, b[ethHeaderLen+ipv4HeaderLen:]...)
		out[ethHeaderLen] = 0x46
		binary.BigEndian.PutUint16(out[ethHeaderLen+2:], uint16(len(out)-ethHeaderLen))
		return out
	}
	// udp turns a frame's transport protocol into UDP, ports unchanged.
	udp := func(b []byte, off int) []byte {
		out := append([]byte{}, b...)
		out[off] = 17
		return out
	}
	tests := []struct {
		name     string
		vip, us  netip.AddrPort
		frame    []byte
		accepted bool
	}{
		{"v4 reply", vip4, us4, frame(vip4, us4), true},
		{"v4 reply with IP options", vip4, us4, withOptions(frame(vip4, us4)), true},
		{"v4 other source port", vip4, us4, frame(netip.AddrPortFrom(vipV4, 81), us4), false},
		{"v4 other destination port", vip4, us4, frame(vip4, netip.AddrPortFrom(clientV4, 40001)), false},
		{"v4 our own SYN", vip4, us4, frame(us4, vip4), false},
		{"v4 UDP", vip4, us4, udp(frame(vip4, us4), ethHeaderLen+9), false},
		{"v6 reply", vip6, us6, frame(vip6, us6), true},
		{"v6 other destination port", vip6, us6, frame(vip6, netip.AddrPortFrom(clientV6, 1)), false},
		{"v6 UDP", vip6, us6, udp(frame(vip6, us6), ethHeaderLen+6), false},
		{"runt", vip4, us4, frame(vip4, us4)[:ethHeaderLen+ipv4HeaderLen], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vm, err := bpf.NewVM(replyFilter(tc.vip, tc.us))
			if err != nil {
				t.Fatal(err)
			}
			n, err := vm.Run(tc.frame)
			if err != nil {
				t.Fatal(err)
			}
			if got := n > 0; got != tc.accepted {
				t.Errorf("filter kept %d bytes: accepted = %v, want %v", n, got, tc.accepted)
			}
			if tc.accepted {
				if seg, ok := parseTCPFrame(tc.frame); !ok || seg.Src != tc.vip || seg.Dst != tc.us {
					t.Errorf("parseTCPFrame = %+v, %v; want a segment %s -> %s", seg, ok, tc.vip, tc.us)
				}
			}
		})
	}
}

// FuzzParseTCPFrame checks that any frame parses or is refused without
// panicking, and that a parsed segment survives a rebuild and a second
// parse.
func FuzzParseTCPFrame(f *testing.F) {
	macA, macB := net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}
	f.Add(tcpSegment{Src: netip.AddrPortFrom(vipV4, 80), Dst: netip.AddrPortFrom(clientV4, 40000), Seq: 9, Ack: 2, Flags: tcpSYN | tcpACK, Window: 65535}.frame(macA, macB))
	f.Add(tcpSegment{Src: netip.AddrPortFrom(vipV6, 80), Dst: netip.AddrPortFrom(clientV6, 40000), Ack: 2, Flags: tcpRST | tcpACK}.frame(macA, macB))
	f.Add([]byte{})
	f.Add(make([]byte, 14))
	f.Fuzz(func(t *testing.T, b []byte) {
		seg, ok := parseTCPFrame(b)
		if !ok {
			return
		}
		if seg.Src.Addr().Is4() != seg.Dst.Addr().Is4() {
			t.Fatalf("parsed mixed families: %+v", seg)
		}
		again, ok := parseTCPFrame(seg.frame(macA, macB))
		if !ok {
			t.Fatalf("rebuilt frame of %+v does not parse", seg)
		}
		if again != seg {
			t.Errorf("round trip: %+v != %+v", again, seg)
		}
	})
}
