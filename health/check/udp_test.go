package check

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// udpEcho listens in the server namespace and sends every datagram back.
func udpEcho(t *testing.T, l *lab) netip.AddrPort {
	t.Helper()
	var pc net.PacketConn
	l.inServer(t, func() (err error) {
		pc, err = net.ListenPacket("udp", netip.AddrPortFrom(serverV4, 0).String())
		return err
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return addrPort(pc.LocalAddr())
}

func TestUDP(t *testing.T) {
	l := newLab(t)
	echo := udpEcho(t, l)
	// A socket that reads nothing and answers nothing.
	var quiet net.PacketConn
	l.inServer(t, func() (err error) {
		quiet, err = net.ListenPacket("udp", netip.AddrPortFrom(serverV4, 0).String())
		return err
	})
	t.Cleanup(func() { quiet.Close() })
	closed := netip.AddrPortFrom(serverV4, freePort(t, l, "udp"))
	hello := []byte("hello")
	tests := []struct {
		name   string
		opts   UDPOptions
		up     bool
		reason string
	}{
		{"echo, reply not required", UDPOptions{Conn: Conn{Addr: echo}}, true, "reply"},
		{"echo, reply required", UDPOptions{Conn: Conn{Addr: echo}, Payload: hello, RequireReply: true}, true, "reply of 5 bytes"},
		{"reply matches pattern", UDPOptions{Conn: Conn{Addr: echo}, Payload: hello, RequireReply: true,
			Reply: mustPattern(t, "68 6X XX 6c")}, true, "reply of 5 bytes"},
		{"reply mismatch", UDPOptions{Conn: Conn{Addr: echo}, Payload: hello, RequireReply: true,
			Reply: mustPattern(t, "69")}, false, "reply mismatch: got 68 65 6c 6c 6f"},
		{"reply too short", UDPOptions{Conn: Conn{Addr: echo}, Payload: hello, RequireReply: true, MinReply: 6}, false, "reply of 5 bytes, want 6..255"},
		{"reply too long", UDPOptions{Conn: Conn{Addr: echo}, Payload: hello, RequireReply: true, MaxReply: 4}, false, "reply of 5 bytes, want 0..4"},
		{"port unreachable", UDPOptions{Conn: Conn{Addr: closed}}, false, "connection refused"},
		{"port unreachable, reply required", UDPOptions{Conn: Conn{Addr: closed}, RequireReply: true}, false, "connection refused"},
		{"silence passes without require_reply", UDPOptions{Conn: Conn{Addr: addrPort(quiet.LocalAddr())}}, true, "no ICMP error"},
		{"silence fails with require_reply", UDPOptions{Conn: Conn{Addr: addrPort(quiet.LocalAddr())}, RequireReply: true}, false, "no reply"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewUDP(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			wantResult(t, l.check(t, c, 300*time.Millisecond), tc.up, tc.reason)
		})
	}
}

func mustPattern(t *testing.T, s string) HexPattern {
	t.Helper()
	p, err := ParseHexPattern(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseHex(t *testing.T) {
	tests := []struct {
		in      string
		want    HexPattern
		wantErr bool
	}{
		// keepalived.conf(5)'s own example.
		{"Ab12f 3 456 546443123", HexPattern{
			Data: []byte{0xab, 0x12, 0x0f, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03},
			Mask: make([]byte, 11)}, false},
		{"\tff\t0", HexPattern{Data: []byte{0xff, 0x00}, Mask: []byte{0, 0}}, false},
		{"Xa x", HexPattern{Data: []byte{0x0a, 0x00}, Mask: []byte{0xf0, 0x0f}}, false},
		{"", HexPattern{}, true},
		{"  ", HexPattern{}, true},
		{"0g", HexPattern{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseHexPattern(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseHexPattern(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseHexPattern(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
	if _, err := ParseHex("Xa"); err == nil {
		t.Error("ParseHex accepted a wildcard in a payload")
	}
}

func TestHexPatternMatch(t *testing.T) {
	p := HexPattern{Data: []byte{0x12, 0x30}, Mask: []byte{0x00, 0x0f}}
	for _, tc := range []struct {
		reply []byte
		want  bool
	}{
		{[]byte{0x12, 0x3f, 0x99}, true}, // longer replies compare the pattern's length
		{[]byte{0x12}, true},             // shorter replies compare their own length
		{[]byte{}, true},
		{[]byte{0x13, 0x30}, false},
		{[]byte{0x12, 0x40}, false},
	} {
		if got := p.Match(tc.reply); got != tc.want {
			t.Errorf("%s.Match(% x) = %v, want %v", p, tc.reply, got, tc.want)
		}
	}
}
