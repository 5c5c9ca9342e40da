package check

import (
	"net/netip"
	"testing"
	"time"
)

func TestPing(t *testing.T) {
	l := newLab(t)
	deadV6 := netip.MustParseAddr("2001:db8::99")
	tests := []struct {
		name   string
		conn   Conn
		up     bool
		reason string
	}{
		{"live v4", Conn{Addr: netip.AddrPortFrom(serverV4, 0)}, true, "echo reply"},
		{"live v6", Conn{Addr: netip.AddrPortFrom(serverV6, 0)}, true, "echo reply"},
		{"live v4 with bindto", Conn{Addr: netip.AddrPortFrom(serverV4, 0), Bind: clientV4}, true, "echo reply"},
		{"port ignored", Conn{Addr: netip.AddrPortFrom(serverV4, 80)}, true, "echo reply"},
		{"dead v4", Conn{Addr: netip.AddrPortFrom(deadV4, 0)}, false, "no echo reply"},
		{"dead v6", Conn{Addr: netip.AddrPortFrom(deadV6, 0)}, false, "no echo reply"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewPing(PingOptions{Conn: tc.conn})
			if err != nil {
				t.Fatal(err)
			}
			wantResult(t, l.check(t, c, 500*time.Millisecond), tc.up, tc.reason)
		})
	}
}
