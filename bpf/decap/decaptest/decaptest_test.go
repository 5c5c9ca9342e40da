package decaptest

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// TestChecksums checks the builders' checksums the way a receiver does:
// summing a header or segment with its checksum in place gives zero.
func TestChecksums(t *testing.T) {
	src4, dst4 := netip.MustParseAddrPort("198.18.1.1:40000"), netip.MustParseAddrPort("198.18.0.100:53")
	src6, dst6 := netip.MustParseAddrPort("[2001:db8:1::1]:40000"), netip.MustParseAddrPort("[2001:db8:100::100]:80")
	for _, tc := range []struct {
		name  string
		pkt   []byte
		proto uint8
	}{
		{"udp4 odd payload", UDP(src4, dst4, []byte("odd")), ProtoUDP},
		{"udp6", UDP(src6, dst6, []byte("even")), ProtoUDP},
		{"tcp4 syn", TCPSYN(src4, dst4, 7), ProtoTCP},
		{"tcp6 syn", TCPSYN(src6, dst6, 7), ProtoTCP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hl := 40
			src, dst := src6.Addr(), dst6.Addr()
			if tc.pkt[0]>>4 == 4 {
				hl = int(tc.pkt[0]&0xf) * 4
				src, dst = src4.Addr(), dst4.Addr()
				if got := Checksum(tc.pkt[:hl], 0); got != 0 {
					t.Errorf("IPv4 header checksum verifies to %#04x, want 0", got)
				}
				if got := int(binary.BigEndian.Uint16(tc.pkt[2:])); got != len(tc.pkt) {
					t.Errorf("total length %d, packet is %d bytes", got, len(tc.pkt))
				}
			}
			l4 := tc.pkt[hl:]
			if got := Checksum(l4, pseudoSum(src, dst, tc.proto, len(l4))); got != 0 {
				t.Errorf("L4 checksum verifies to %#04x, want 0", got)
			}
		})
	}
}
