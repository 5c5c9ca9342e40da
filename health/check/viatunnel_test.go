package check

import (
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xlb/internal/testutil"
	"xlb/realserver"
)

// tunLab is drLab with the server set up as a TUN real by realserver.Up
// (the decapsulator on its eth0); the bare real does not decapsulate.
func tunLab(t *testing.T) *lab {
	t.Helper()
	l, _ := drLab(t)
	pinDir := filepath.Join("/sys/fs/bpf", testutil.UniqueName("xlbt-viatun-"))
	opts := realserver.Options{
		VIPs: []netip.Addr{vipV4, vipV6}, Iface: "eth0", Tunnel: true, PinDir: pinDir,
		StateFile: filepath.Join(t.TempDir(), "realserver.json"),
		Logger:    slog.New(slog.DiscardHandler),
	}
	l.inServer(t, func() error { return realserver.Up(opts) })
	t.Cleanup(func() {
		if err := l.server.Do(func() error { return realserver.Down(opts) }); err != nil {
			t.Errorf("realserver down: %v", err)
		}
		os.RemoveAll(pinDir)
	})
	return l
}

func TestVIPTunnel(t *testing.T) {
	l := tunLab(t)
	ln4, ln6 := vipListeners(t, l)
	port4, port6 := addrPort(ln4.Addr()).Port(), addrPort(ln6.Addr()).Port()
	closed := freePort(t, l, "tcp")
	vip4, vip6 := netip.AddrPortFrom(vipV4, port4), netip.AddrPortFrom(vipV6, port6)

	tests := []struct {
		name   string
		opts   VIPTunnelOptions
		up     bool
		reason string
	}{
		{"IPIP", VIPTunnelOptions{VIP: vip4, Real: serverV4}, true, "SYN-ACK through the tunnel"},
		{"IP6IP6", VIPTunnelOptions{VIP: vip6, Real: serverV6}, true, "SYN-ACK through the tunnel"},
		{"IPv4 in IPv6", VIPTunnelOptions{VIP: vip4, Real: serverV6}, true, "SYN-ACK through the tunnel"},
		{"explicit sources", VIPTunnelOptions{VIP: vip4, Real: serverV4, TunnelSource: clientV4, Source: clientV4}, true, "SYN-ACK"},
		{"closed port", VIPTunnelOptions{VIP: netip.AddrPortFrom(vipV4, closed), Real: serverV4}, false, "port closed on the real for the VIP"},
		{"real without decapsulator v4", VIPTunnelOptions{VIP: vip4, Real: bareV4, Timeout: 300 * time.Millisecond}, false, "no answer through the tunnel to 198.18.1.2"},
		{"real without decapsulator v6", VIPTunnelOptions{VIP: vip6, Real: bareV6, Timeout: 300 * time.Millisecond}, false, "no answer through the tunnel"},
		{"no route", VIPTunnelOptions{VIP: vip4, Real: netip.MustParseAddr("198.19.200.1")}, false, "no route to real"},
		{"foreign tunnel source", VIPTunnelOptions{VIP: vip4, Real: serverV4, TunnelSource: netip.MustParseAddr("198.19.200.2")}, false, "bind tunnel source"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewVIPTunnel(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			wantResult(t, l.check(t, c, time.Second), tc.up, tc.reason)
		})
	}

	// The real losing the VIP turns the same check down: the
	// decapsulator no longer takes the packet for it, nor the stack.
	t.Run("VIP removed", func(t *testing.T) {
		c, err := NewVIPTunnel(VIPTunnelOptions{VIP: vip6, Real: serverV6, Timeout: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		wantResult(t, l.check(t, c, time.Second), true, "SYN-ACK")
		l.server.MustRun(t, "ip", "addr", "del", vipV6.String()+"/128", "dev", "lo")
		wantResult(t, l.check(t, c, time.Second), false, "no answer")
	})
}

func TestNewVIPTunnelInvalid(t *testing.T) {
	vip := netip.AddrPortFrom(vipV4, 80)
	tests := []struct {
		name string
		opts VIPTunnelOptions
		want string
	}{
		{"no vip", VIPTunnelOptions{Real: serverV4}, "vip: missing"},
		{"no port", VIPTunnelOptions{VIP: netip.AddrPortFrom(vipV4, 0), Real: serverV4}, "vip: port missing"},
		{"no real", VIPTunnelOptions{VIP: vip}, "real: missing"},
		{"IPv6 in IPv4", VIPTunnelOptions{VIP: netip.AddrPortFrom(vipV6, 80), Real: serverV4}, "cannot be tunnelled to an IPv4 real"},
		{"tunnel source family", VIPTunnelOptions{VIP: vip, Real: serverV4, TunnelSource: clientV6}, "tunnel source: 2001:db8::1 is not of real"},
		{"source family", VIPTunnelOptions{VIP: vip, Real: serverV6, Source: clientV6}, "source: 2001:db8::1 is not of vip"},
		{"negative timeout", VIPTunnelOptions{VIP: vip, Real: serverV4, Timeout: -1}, "connect_timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewVIPTunnel(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewVIPTunnel(%+v) = %v, want an error containing %q", tc.opts, err, tc.want)
			}
		})
	}
}

func TestVIPTunnelString(t *testing.T) {
	c, err := NewVIPTunnel(VIPTunnelOptions{VIP: netip.AddrPortFrom(vipV4, 80), Real: serverV6})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.String(), "TCP_CHECK 198.18.9.1:80 via tunnel to 2001:db8::2"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
