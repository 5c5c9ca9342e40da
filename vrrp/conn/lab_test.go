package conn_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"xlb/internal/testutil"
	"xlb/vrrp/conn"
)

// lab is three namespaces in a row: a -eth0--eth0- b -eth1--eth0- c.
type lab struct {
	a, b, c *testutil.NS
}

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{a: testutil.NetNS(t), b: testutil.NetNS(t), c: testutil.NetNS(t)}
	testutil.Veth(t, l.a, "eth0", l.b, "eth0")
	testutil.Veth(t, l.b, "eth1", l.c, "eth0")
	l.a.AddAddrs(t, "eth0", "198.18.0.1/24", "198.18.0.3/24", "2001:db8::1/64")
	l.b.AddAddrs(t, "eth0", "198.18.0.2/24", "2001:db8::2/64")
	l.b.AddAddrs(t, "eth1", "198.18.1.2/24")
	l.c.AddAddrs(t, "eth0", "198.18.1.3/24")
	return l
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

func open(t *testing.T, ns *testutil.NS, opts conn.Options) *conn.Conn {
	t.Helper()
	var c *conn.Conn
	if err := ns.Do(func() (err error) {
		c, err = conn.Open(opts)
		return err
	}); err != nil {
		t.Fatalf("open %+v in %s: %v", opts, ns.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func receive(c *conn.Conn, timeout time.Duration) (conn.Packet, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c.Receive(ctx)
}

// payload is a stand-in VRRP message: the Conn does not look inside.
func payload(s string) []byte { return append([]byte{0x21, 0x33}, s...) }

func TestSendReceive(t *testing.T) {
	l := newLab(t)
	bIdx := ifindex(t, l.b, "eth0")
	aLL := l.a.LinkLocal(t, "eth0")
	tests := []struct {
		name     string
		send     conn.Options
		recv     conn.Options
		dst      netip.Addr // zero: the group
		wantSrc  netip.Addr
		wantDst  netip.Addr
		wantFrom netip.Addr // what Source reports on the sender
	}{
		{
			name:    "ipv4 multicast, primary address",
			send:    conn.Options{Interface: "eth0"},
			recv:    conn.Options{Interface: "eth0"},
			wantSrc: netip.MustParseAddr("198.18.0.1"),
			wantDst: conn.DefaultGroup4,
		},
		{
			name:    "ipv4 multicast, mcast_src_ip and vrrp_mcast_group4",
			send:    conn.Options{Interface: "eth0", Source: netip.MustParseAddr("198.18.0.3"), Group: netip.MustParseAddr("224.0.0.19")},
			recv:    conn.Options{Interface: "eth0", Group: netip.MustParseAddr("224.0.0.19")},
			wantSrc: netip.MustParseAddr("198.18.0.3"),
			wantDst: netip.MustParseAddr("224.0.0.19"),
		},
		{
			name:    "ipv4 unicast, unicast_src_ip",
			send:    conn.Options{Interface: "eth0", Unicast: true, Source: netip.MustParseAddr("198.18.0.3")},
			recv:    conn.Options{Interface: "eth0", Unicast: true},
			dst:     netip.MustParseAddr("198.18.0.2"),
			wantSrc: netip.MustParseAddr("198.18.0.3"),
			wantDst: netip.MustParseAddr("198.18.0.2"),
		},
		{
			name:    "ipv6 multicast from link-local",
			send:    conn.Options{Interface: "eth0", IPv6: true},
			recv:    conn.Options{Interface: "eth0", IPv6: true},
			wantSrc: aLL,
			wantDst: conn.DefaultGroup6,
		},
		{
			name:    "ipv6 multicast, vrrp_mcast_group6",
			send:    conn.Options{Interface: "eth0", IPv6: true, Group: netip.MustParseAddr("ff02::13")},
			recv:    conn.Options{Interface: "eth0", IPv6: true, Group: netip.MustParseAddr("ff02::13")},
			wantSrc: aLL,
			wantDst: netip.MustParseAddr("ff02::13"),
		},
		{
			name:    "ipv6 unicast",
			send:    conn.Options{Interface: "eth0", IPv6: true, Unicast: true, Source: netip.MustParseAddr("2001:db8::1")},
			recv:    conn.Options{Interface: "eth0", IPv6: true, Unicast: true},
			dst:     netip.MustParseAddr("2001:db8::2"),
			wantSrc: netip.MustParseAddr("2001:db8::1"),
			wantDst: netip.MustParseAddr("2001:db8::2"),
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := open(t, l.b, tc.recv)
			sc := open(t, l.a, tc.send)
			if got := sc.Source(); got != tc.wantSrc {
				t.Errorf("Source() = %s, want %s", got, tc.wantSrc)
			}
			msg := payload(fmt.Sprint("case ", i))
			if err := sc.Send(msg, tc.dst); err != nil {
				t.Fatal(err)
			}
			got, err := receive(rc, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			want := conn.Packet{Payload: msg, Src: tc.wantSrc, Dst: tc.wantDst, HopLimit: 255, IfIndex: bIdx}
			if diff := cmpPacket(want, got); diff != "" {
				t.Errorf("received packet (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOwnPacketsDropped checks the filter of the Conn's own source: a
// message from the address the Conn sends from is dropped, the next one
// from another address is returned.
func TestOwnPacketsDropped(t *testing.T) {
	l := newLab(t)
	// The receiver claims a's address as its own source, as two routers
	// sharing one (or a message coming back to its sender) would see it.
	rc := open(t, l.b, conn.Options{Interface: "eth0", Source: netip.MustParseAddr("198.18.0.1")})
	own := open(t, l.a, conn.Options{Interface: "eth0"})
	other := open(t, l.a, conn.Options{Interface: "eth0", Source: netip.MustParseAddr("198.18.0.3")})
	if err := own.Send(payload("own"), netip.Addr{}); err != nil {
		t.Fatal(err)
	}
	if err := other.Send(payload("other"), netip.Addr{}); err != nil {
		t.Fatal(err)
	}
	got, err := receive(rc, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Payload) != string(payload("other")) || got.Src != netip.MustParseAddr("198.18.0.3") {
		t.Errorf("got %q from %s, want %q from 198.18.0.3", got.Payload, got.Src, payload("other"))
	}
}

// TestOtherInterface checks that a Conn bound to one interface does not
// see messages arriving on another interface of its host.
func TestOtherInterface(t *testing.T) {
	l := newLab(t)
	onEth0 := open(t, l.b, conn.Options{Interface: "eth0"})
	onEth1 := open(t, l.b, conn.Options{Interface: "eth1"})
	sc := open(t, l.a, conn.Options{Interface: "eth0"})
	if err := sc.Send(payload("to eth0"), netip.Addr{}); err != nil {
		t.Fatal(err)
	}
	// The message has arrived at b once eth0's Conn has it.
	if _, err := receive(onEth0, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if p, err := receive(onEth1, 300*time.Millisecond); err != context.DeadlineExceeded {
		t.Errorf("Conn on eth1: got %+v, %v; want context.DeadlineExceeded", p, err)
	}
}

// TestReceiveCancel checks that ending ctx ends Receive with ctx's error
// and that the Conn still receives afterwards.
func TestReceiveCancel(t *testing.T) {
	l := newLab(t)
	rc := open(t, l.b, conn.Options{Interface: "eth0"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := rc.Receive(ctx); err != context.Canceled {
		t.Fatalf("Receive(canceled ctx) = %v, want context.Canceled", err)
	}
	sc := open(t, l.a, conn.Options{Interface: "eth0"})
	if err := sc.Send(payload("after"), netip.Addr{}); err != nil {
		t.Fatal(err)
	}
	got, err := receive(rc, 5*time.Second)
	if err != nil {
		t.Fatalf("Receive after a canceled one: %v", err)
	}
	if string(got.Payload) != string(payload("after")) {
		t.Errorf("payload = %q, want %q", got.Payload, payload("after"))
	}
}

func TestOpenErrors(t *testing.T) {
	l := newLab(t)
	tests := []struct {
		name string
		opts conn.Options
	}{
		{"no such interface", conn.Options{Interface: "nope0"}},
		{"unicast group", conn.Options{Interface: "eth0", Group: netip.MustParseAddr("198.18.0.9")}},
		{"group of the other family", conn.Options{Interface: "eth0", Group: conn.DefaultGroup6}},
		{"source of the other family", conn.Options{Interface: "eth0", IPv6: true, Source: netip.MustParseAddr("198.18.0.1")}},
		{"no link-local address to send from", conn.Options{Interface: "lo", IPv6: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := l.c.Do(func() error {
				c, err := conn.Open(tc.opts)
				if err == nil {
					c.Close()
				}
				return err
			})
			if err == nil {
				t.Errorf("Open(%+v) succeeded, want an error", tc.opts)
			}
		})
	}
}

// TestOtherGroup checks that a Conn drops messages to a multicast group
// other than its own, which its raw socket sees when another socket on
// the host joined that group.
func TestOtherGroup(t *testing.T) {
	l := newLab(t)
	group19 := netip.MustParseAddr("224.0.0.19")
	on19 := open(t, l.b, conn.Options{Interface: "eth0", Group: group19})
	on18 := open(t, l.b, conn.Options{Interface: "eth0"})
	sc := open(t, l.a, conn.Options{Interface: "eth0"})
	if err := sc.Send(payload("to 18"), netip.Addr{}); err != nil {
		t.Fatal(err)
	}
	if err := sc.Send(payload("to 19"), group19); err != nil {
		t.Fatal(err)
	}
	got, err := receive(on19, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.Dst != group19 || string(got.Payload) != string(payload("to 19")) {
		t.Errorf("Conn of %s got %q to %s, want %q to %s", group19, got.Payload, got.Dst, payload("to 19"), group19)
	}
	got, err = receive(on18, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.Dst != conn.DefaultGroup4 || string(got.Payload) != string(payload("to 18")) {
		t.Errorf("Conn of %s got %q to %s, want %q", conn.DefaultGroup4, got.Payload, got.Dst, payload("to 18"))
	}
}
