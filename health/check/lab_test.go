package check

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"xlb/internal/testutil"
)

// Lab addresses: the checker lives in the client namespace, servers in
// the server namespace, joined by a veth pair.
var (
	clientV4 = netip.MustParseAddr("198.18.0.1")
	serverV4 = netip.MustParseAddr("198.18.0.2")
	deadV4   = netip.MustParseAddr("198.18.0.99") // on the link, nobody home
	clientV6 = netip.MustParseAddr("2001:db8::1")
	serverV6 = netip.MustParseAddr("2001:db8::2")
)

// lab is two namespaces, a client and a server, on one link.
type lab struct {
	client, server *testutil.NS
}

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{client: testutil.NetNS(t), server: testutil.NetNS(t)}
	// Without duplicate address detection the link-local addresses are
	// usable at once (interfaces take "default" when created).
	for _, ns := range []*testutil.NS{l.client, l.server} {
		ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0")
	}
	testutil.Veth(t, l.client, "eth0", l.server, "eth0")
	for _, n := range []struct {
		ns     *testutil.NS
		v4, v6 netip.Addr
	}{{l.client, clientV4, clientV6}, {l.server, serverV4, serverV6}} {
		n.ns.MustRun(t, "ip", "addr", "add", n.v4.String()+"/24", "dev", "eth0")
		n.ns.MustRun(t, "ip", "addr", "add", n.v6.String()+"/64", "dev", "eth0", "nodad")
	}
	// IPv6 neighbour discovery can stall while a link-local address is
	// tentative; make sure neither is, boundedly.
	for _, ns := range []*testutil.NS{l.client, l.server} {
		for i := 0; ; i++ {
			if ns.MustRun(t, "ip", "-6", "addr", "show", "dev", "eth0", "tentative") == "" {
				break
			}
			if i == 50 {
				t.Fatalf("IPv6 addresses in %s still tentative", ns.Name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return l
}

// inServer runs fn in the server namespace; listeners made there stay
// there, whichever goroutine later serves them.
func (l *lab) inServer(t *testing.T, fn func() error) {
	t.Helper()
	if err := l.server.Do(fn); err != nil {
		t.Fatal(err)
	}
}

// check runs one attempt from the client namespace, with a deadline
// that a test which expects no answer does not wait long for.
func (l *lab) check(t *testing.T, c Checker, timeout time.Duration) Result {
	t.Helper()
	var r Result
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	if err := l.client.Do(func() error { r = c.Check(ctx); return nil }); err != nil {
		t.Fatal(err)
	}
	return r
}

// listenTCP listens on the server's address and closes it at cleanup.
func (l *lab) listenTCP(t *testing.T, addr netip.Addr) net.Listener {
	t.Helper()
	var ln net.Listener
	l.inServer(t, func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
		return err
	})
	t.Cleanup(func() { ln.Close() })
	return ln
}

// addrPort returns a listener's address as netip.
func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort()
	case *net.UDPAddr:
		return a.AddrPort()
	}
	panic("unexpected address type")
}

// freePort returns a port nothing listens on in the server namespace.
func freePort(t *testing.T, l *lab, network string) uint16 {
	t.Helper()
	var port uint16
	l.inServer(t, func() error {
		switch network {
		case "tcp":
			ln, err := net.Listen("tcp", netip.AddrPortFrom(serverV4, 0).String())
			if err != nil {
				return err
			}
			port = addrPort(ln.Addr()).Port()
			return ln.Close()
		default:
			pc, err := net.ListenPacket("udp", netip.AddrPortFrom(serverV4, 0).String())
			if err != nil {
				return err
			}
			port = addrPort(pc.LocalAddr()).Port()
			return pc.Close()
		}
	})
	return port
}

// wantResult fails the test unless r passed or failed as up says and its
// reason contains reason.
func wantResult(t *testing.T, r Result, up bool, reason string) {
	t.Helper()
	if r.Up != up || !strings.Contains(r.Reason, reason) {
		t.Errorf("Check = %+v, want Up=%v with reason containing %q", r, up, reason)
	}
}
