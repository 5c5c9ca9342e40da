package check

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestTCP(t *testing.T) {
	l := newLab(t)
	ln4 := l.listenTCP(t, serverV4)
	ln6 := l.listenTCP(t, serverV6)
	// Record the source of each accepted connection, to check bindto.
	srcs := make(chan netip.AddrPort, 8)
	for _, ln := range []net.Listener{ln4, ln6} {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				srcs <- addrPort(c.RemoteAddr())
				c.Close()
			}
		}()
	}
	closed := freePort(t, l, "tcp")
	l.client.MustRun(t, "ip", "rule", "add", "fwmark", "7", "lookup", "100")
	l.client.MustRun(t, "ip", "route", "add", "unreachable", "198.18.0.0/24", "table", "100")
	tests := []struct {
		name   string
		conn   Conn
		up     bool
		reason string
	}{
		{"open v4", Conn{Addr: addrPort(ln4.Addr())}, true, "connected"},
		{"open v6", Conn{Addr: addrPort(ln6.Addr())}, true, "connected"},
		{"closed", Conn{Addr: netip.AddrPortFrom(serverV4, closed)}, false, "connection refused"},
		{"dead host", Conn{Addr: netip.AddrPortFrom(deadV4, 80)}, false, "timeout"},
		{"bindto and bind_port", Conn{Addr: addrPort(ln4.Addr()), Bind: clientV4, BindPort: 40001}, true, "connected"},
		// The lab routes mark 7 nowhere: failing proves the mark is set.
		{"fwmark", Conn{Addr: addrPort(ln4.Addr()), FWMark: 7}, false, "no route to host"},
		{"own timeout", Conn{Addr: netip.AddrPortFrom(deadV4, 80), Timeout: 100 * time.Millisecond}, false, "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewTCP(TCPOptions{Conn: tc.conn})
			if err != nil {
				t.Fatal(err)
			}
			wantResult(t, l.check(t, c, 300*time.Millisecond), tc.up, tc.reason)
			if tc.conn.BindPort != 0 {
				// The next attempt reuses the port at once.
				wantResult(t, l.check(t, c, 300*time.Millisecond), tc.up, tc.reason)
				nextSrc(t, srcs)
				want := netip.AddrPortFrom(tc.conn.Bind, tc.conn.BindPort)
				if got := nextSrc(t, srcs); got != want {
					t.Errorf("server saw source %s, want %s", got, want)
				}
			}
			for len(srcs) > 0 {
				<-srcs
			}
		})
	}
}

// TestTCPCancel checks that an attempt ends when ctx is cancelled, not
// only at its deadline.
func TestTCPCancel(t *testing.T) {
	l := newLab(t)
	c, err := NewTCP(TCPOptions{Conn: Conn{Addr: netip.AddrPortFrom(deadV4, 80), Timeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	var r Result
	if err := l.client.Do(func() error { r = c.Check(ctx); return nil }); err != nil {
		t.Fatal(err)
	}
	wantResult(t, r, false, "canceled")
}

func TestNewTCPErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		conn Conn
	}{
		{"no address", Conn{}},
		{"no port", Conn{Addr: netip.AddrPortFrom(serverV4, 0)}},
		{"bind family", Conn{Addr: netip.AddrPortFrom(serverV4, 80), Bind: clientV6}},
		{"bind_port without bindto", Conn{Addr: netip.AddrPortFrom(serverV4, 80), BindPort: 1}},
		{"negative timeout", Conn{Addr: netip.AddrPortFrom(serverV4, 80), Timeout: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewTCP(TCPOptions{Conn: tc.conn}); err == nil {
				t.Errorf("NewTCP(%+v) succeeded, want an error", tc.conn)
			}
		})
	}
}

// nextSrc returns the next source the server recorded, failing the test
// if none comes within a few seconds.
func nextSrc(t *testing.T, srcs <-chan netip.AddrPort) netip.AddrPort {
	t.Helper()
	select {
	case s := <-srcs:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("the server accepted no connection")
		return netip.AddrPort{}
	}
}
