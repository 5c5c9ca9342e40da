// Package decaptest builds the frames that tests of the decapsulator send:
// Ethernet, IPv4 and IPv6 headers, UDP and TCP with correct checksums, and
// the outer header xlb's TUN mode puts around a packet. It is a test helper
// and follows the RFCs only as far as those tests need.
package decaptest

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// EtherTypes and IP protocol numbers used by the builders.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeIPv6 = 0x86dd
	EtherTypeVLAN = 0x8100
	EtherTypeARP  = 0x0806

	ProtoIPIP = 4  // IPv4 inside (RFC 2003)
	ProtoTCP  = 6  // RFC 9293
	ProtoUDP  = 17 // RFC 768
	ProtoIPv6 = 41 // IPv6 inside (RFC 2473, RFC 4213)
)

// Default MACs for test frames: the sender (lb) and the real.
var (
	SrcMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	DstMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
)

// Ethernet returns an Ethernet II frame of payload.
func Ethernet(dst, src net.HardwareAddr, etherType uint16, payload []byte) []byte {
	b := make([]byte, 0, 14+len(payload))
	b = append(b, dst...)
	b = append(b, src...)
	b = binary.BigEndian.AppendUint16(b, etherType)
	return append(b, payload...)
}

// VLANEthernet is Ethernet with one 802.1Q tag carrying vid.
func VLANEthernet(dst, src net.HardwareAddr, vid uint16, etherType uint16, payload []byte) []byte {
	b := make([]byte, 0, 18+len(payload))
	b = append(b, dst...)
	b = append(b, src...)
	b = binary.BigEndian.AppendUint16(b, EtherTypeVLAN)
	b = binary.BigEndian.AppendUint16(b, vid&0x0fff)
	b = binary.BigEndian.AppendUint16(b, etherType)
	return append(b, payload...)
}

// Frame puts the IP packet pkt in an Ethernet frame from SrcMAC to DstMAC,
// with the EtherType its version calls for.
func Frame(pkt []byte) []byte {
	return Ethernet(DstMAC, SrcMAC, EtherTypeOf(pkt), pkt)
}

// EtherTypeOf returns the EtherType of an IP packet by its version nibble.
func EtherTypeOf(pkt []byte) uint16 {
	if len(pkt) > 0 && pkt[0]>>4 == 6 {
		return EtherTypeIPv6
	}
	return EtherTypeIPv4
}

// IP returns an IPv4 or IPv6 packet (by src's family) carrying payload as
// protocol proto. IPv4 gets DF set and a correct header checksum (RFC 791).
func IP(src, dst netip.Addr, proto uint8, payload []byte) []byte {
	if src.Is4() {
		return IPv4Options(src, dst, proto, nil, payload)
	}
	h := make([]byte, 40, 40+len(payload))
	h[0] = 6 << 4
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6] = proto
	h[7] = 64 // hop limit
	s, d := src.As16(), dst.As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return append(h, payload...)
}

// IPv4Options is IP for IPv4 with options (a multiple of 4 bytes).
func IPv4Options(src, dst netip.Addr, proto uint8, options, payload []byte) []byte {
	hl := 20 + len(options)
	h := make([]byte, hl, hl+len(payload))
	h[0] = 4<<4 | byte(hl/4)
	binary.BigEndian.PutUint16(h[2:], uint16(hl+len(payload)))
	binary.BigEndian.PutUint16(h[6:], 0x4000) // DF
	h[8] = 64                                 // TTL
	h[9] = proto
	s, d := src.As4(), dst.As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	copy(h[20:], options)
	binary.BigEndian.PutUint16(h[10:], Checksum(h, 0))
	return append(h, payload...)
}

// Encap returns inner wrapped as xlb's TUN mode sends it: an outer header
// from src to dst of dst's family, with protocol 4 for an IPv4 inner
// packet and 41 for an IPv6 one.
func Encap(src, dst netip.Addr, inner []byte) []byte {
	proto := uint8(ProtoIPIP)
	if EtherTypeOf(inner) == EtherTypeIPv6 {
		proto = ProtoIPv6
	}
	return IP(src, dst, proto, inner)
}

// UDP returns an IP packet carrying a UDP datagram from src to dst with a
// correct checksum over the pseudo-header (RFC 768; RFC 8200 8.1).
func UDP(src, dst netip.AddrPort, payload []byte) []byte {
	u := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(u[0:], src.Port())
	binary.BigEndian.PutUint16(u[2:], dst.Port())
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(payload)))
	u = append(u, payload...)
	sum := Checksum(u, pseudoSum(src.Addr(), dst.Addr(), ProtoUDP, len(u)))
	if sum == 0 {
		sum = 0xffff // RFC 768: zero means "no checksum"
	}
	binary.BigEndian.PutUint16(u[6:], sum)
	return IP(src.Addr(), dst.Addr(), ProtoUDP, u)
}

// TCPSYN returns an IP packet carrying a TCP SYN from src to dst with
// sequence number seq and a correct checksum (RFC 9293 3.1).
func TCPSYN(src, dst netip.AddrPort, seq uint32) []byte {
	t := make([]byte, 20)
	binary.BigEndian.PutUint16(t[0:], src.Port())
	binary.BigEndian.PutUint16(t[2:], dst.Port())
	binary.BigEndian.PutUint32(t[4:], seq)
	t[12] = 5 << 4                            // data offset: 5 words
	t[13] = 0x02                              // SYN
	binary.BigEndian.PutUint16(t[14:], 65535) // window
	binary.BigEndian.PutUint16(t[16:], Checksum(t, pseudoSum(src.Addr(), dst.Addr(), ProtoTCP, len(t))))
	return IP(src.Addr(), dst.Addr(), ProtoTCP, t)
}

// pseudoSum is the unfolded one's complement sum of the IPv4 or IPv6
// pseudo-header.
func pseudoSum(src, dst netip.Addr, proto uint8, length int) uint32 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
	}
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		add(s[:])
		add(d[:])
	} else {
		s, d := src.As16(), dst.As16()
		add(s[:])
		add(d[:])
	}
	return sum + uint32(proto) + uint32(length)
}

// Checksum returns the Internet checksum (RFC 1071) of b, starting from
// the unfolded partial sum initial.
func Checksum(b []byte, initial uint32) uint16 {
	sum := initial
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
