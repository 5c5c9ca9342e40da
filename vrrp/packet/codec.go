package packet

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// Constants of the IP layer around an advertisement.
const (
	// Protocol is VRRP's IP protocol number (RFC 5798 §5.1.1.3, §5.1.2.3).
	Protocol = 112
	// HopLimit is the IPv4 TTL and IPv6 hop limit an advertisement is sent
	// with and must arrive with (RFC 5798 §5.1.1.3, §7.1).
	HopLimit = 255
)

// Multicast groups advertisements go to when no unicast peers are set
// (RFC 5798 §5.1.1.2, §5.1.2.2).
var (
	GroupV4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	GroupV6 = netip.MustParseAddr("ff02::12")
)

// Wire layout (RFC 3768 §5.1, RFC 5798 §5.1): an 8-byte header, the
// addresses, and in version 2 an 8-byte authentication field.
const (
	headerLen = 8
	authLen   = 8
	// typeAdvertisement is the only packet type either version defines.
	typeAdvertisement = 1
	// maxV3Interval is the largest Max Adver Int, 12 bits of centiseconds.
	maxV3Interval = 1<<12 - 1
	centisecond   = 10 * time.Millisecond
)

// Version 2 authentication types (RFC 3768 §5.3.6).
const (
	AuthTypeNone = 0
	AuthTypePass = 1
	// AuthTypeAH is IP Authentication Header, which xlb does not implement.
	AuthTypeAH = 2
)

// MarshalOptions changes how Marshal writes a message.
type MarshalOptions struct {
	// V3ChecksumAsV2 computes an IPv4 version 3 checksum over the VRRP
	// message alone, without the pseudo-header RFC 5798 §5.2.8 asks for,
	// as some old implementations do (RFC 9568 §5.2.8 tells of them).
	// keepalived's v3_checksum_as_v2. It changes nothing for IPv6 or v2.
	V3ChecksumAsV2 bool
	// OldUnicastChecksum computes an IPv4 version 3 checksum with the
	// multicast group 224.0.0.18 in the pseudo-header in place of the real
	// (unicast) destination, as keepalived 1.3.6 and older did for
	// unicast peers; keepalived's old_unicast_checksum. V3ChecksumAsV2,
	// which has no pseudo-header, wins when both are set.
	OldUnicastChecksum bool
}

// ParseOptions changes what Parse accepts.
type ParseOptions struct {
	// AcceptV3ChecksumAsV2 accepts an IPv4 version 3 message whose
	// checksum leaves out the pseudo-header, besides the RFC 5798 form;
	// set it with keepalived's v3_checksum_as_v2 to hear old peers.
	AcceptV3ChecksumAsV2 bool
	// AcceptOldUnicastChecksum accepts an IPv4 version 3 message whose
	// pseudo-header names 224.0.0.18 instead of the destination (see
	// MarshalOptions.OldUnicastChecksum), besides the RFC 5798 form.
	// keepalived accepts this form from unicast peers by default and then
	// answers in it; callers that want that do the same.
	AcceptOldUnicastChecksum bool
}

// AuthPass turns a password into version 2's 8-byte Authentication Data
// (RFC 3768 §5.3.10) as keepalived does for auth_pass: the first 8 bytes
// of s, zero padded when s is shorter. keepalived reports truncation as a
// configuration error; that is the config loader's job, which can compare
// len(s) with 8.
func AuthPass(s string) [8]byte {
	var b [8]byte
	copy(b[:], s)
	return b
}

// CheckHopLimit checks the IPv4 TTL or IPv6 hop limit an advertisement
// arrived with, which the socket layer reads from a control message
// (IP_RECVTTL, IPV6_RECVHOPLIMIT). RFC 5798 §7.1 requires 255, proof the
// sender is on the link. keepalived skips this for unicast peers, which may
// be routed; so may callers.
func CheckHopLimit(hl int) error {
	if hl != HopLimit {
		return fmt.Errorf("%w: got %d", ErrTTL, hl)
	}
	return nil
}

// Marshal encodes a as the VRRP message that goes after the IP header
// from src to dst, checksum included: version 2 sums the message alone
// (RFC 3768 §5.3.8), version 3 adds the IPv4 or IPv6 pseudo-header
// (RFC 5798 §5.2.8) unless opt says otherwise.
//
// The interval must be whole seconds in 1s..255s for version 2 (its field
// counts seconds; keepalived rounds a fractional advert_int, xlb refuses
// it so the configuration says what goes on the wire) and whole
// centiseconds in 10ms..40.95s for version 3. Addresses must all be of
// src's family; version 3 carries no authentication.
func Marshal(a Advertisement, src, dst netip.Addr, opt MarshalOptions) ([]byte, error) {
	v6, err := family(src, dst)
	if err != nil {
		return nil, err
	}
	if a.VRID == 0 {
		return nil, fmt.Errorf("vrid: %w: want 1..255, got 0", ErrVRID)
	}
	if len(a.Addrs) > 255 {
		return nil, fmt.Errorf("addrs: want at most 255, got %d", len(a.Addrs))
	}
	for i, addr := range a.Addrs {
		if addr.Is6() != v6 || !addr.IsValid() {
			return nil, fmt.Errorf("addrs[%d] %s: %w: not of the family of source %s", i, addr, ErrFamily, src)
		}
	}

	var b []byte
	switch a.Version {
	case 2:
		if v6 {
			return nil, fmt.Errorf("%w: version 2 is IPv4 only, source is %s", ErrFamily, src)
		}
		if a.Interval%time.Second != 0 || a.Interval < time.Second || a.Interval > 255*time.Second {
			return nil, fmt.Errorf("interval: %w: version 2 wants whole seconds 1s..255s, got %s", ErrInterval, a.Interval)
		}
		switch a.AuthType {
		case AuthTypeNone:
			if a.AuthData != [authLen]byte{} {
				return nil, fmt.Errorf("auth data: set with auth type %d (none)", AuthTypeNone)
			}
		case AuthTypePass:
		default:
			return nil, fmt.Errorf("auth type: %w: %d", ErrUnsupportedAuth, a.AuthType)
		}
		b = make([]byte, headerLen+4*len(a.Addrs)+authLen)
		b[4] = a.AuthType
		b[5] = byte(a.Interval / time.Second)
		copy(b[len(b)-authLen:], a.AuthData[:])
	case 3:
		if a.AuthType != 0 || a.AuthData != [authLen]byte{} {
			return nil, fmt.Errorf("auth type %d: version 3 has no authentication (RFC 5798 §9)", a.AuthType)
		}
		cs := a.Interval / centisecond
		if a.Interval%centisecond != 0 || cs < 1 || cs > maxV3Interval {
			return nil, fmt.Errorf("interval: %w: version 3 wants whole centiseconds 10ms..40.95s, got %s", ErrInterval, a.Interval)
		}
		alen := 4
		if v6 {
			alen = 16
		}
		b = make([]byte, headerLen+alen*len(a.Addrs))
		// The 4 reserved bits above the interval are zero (RFC 5798 §5.2.6).
		binary.BigEndian.PutUint16(b[4:6], uint16(cs))
	default:
		return nil, fmt.Errorf("%w: want 2 or 3, got %d", ErrVersion, a.Version)
	}

	b[0] = byte(a.Version)<<4 | typeAdvertisement
	b[1] = a.VRID
	b[2] = a.Priority
	b[3] = byte(len(a.Addrs))
	off := headerLen
	for _, addr := range a.Addrs {
		off += copy(b[off:], addr.AsSlice())
	}

	var sum uint32
	switch {
	case a.Version == 2 || (!v6 && opt.V3ChecksumAsV2):
	case !v6 && opt.OldUnicastChecksum:
		sum = pseudoSum(src, GroupV4, len(b))
	default:
		sum = pseudoSum(src, dst, len(b))
	}
	binary.BigEndian.PutUint16(b[6:8], checksum(sum, b))
	return b, nil
}

// Parse decodes and validates the VRRP message b, the payload of an IP
// packet from src to dst: exactly the bytes the IP length covers (a raw IP
// socket gives that; a packet socket must trim Ethernet padding first, as
// bytes past the addresses are an error). It makes the checks RFC 5798 §7.1 and RFC 3768
// §7.1 ask of the message itself: version, type, length against the
// address count, checksum, and for version 2 the auth type. Checks that
// need the receiver's configuration — VRID, password, interval match, TTL
// (CheckHopLimit) — are the caller's. Errors wrap the sentinels of
// errors.go.
//
// Parse allocates only the Addrs slice, nil when the count is 0.
func Parse(b []byte, src, dst netip.Addr, opt ParseOptions) (Advertisement, error) {
	if len(b) < headerLen {
		return Advertisement{}, fmt.Errorf("%w: %d bytes, header needs %d", ErrTruncated, len(b), headerLen)
	}
	version, typ := int(b[0]>>4), b[0]&0x0f
	if version != 2 && version != 3 {
		return Advertisement{}, fmt.Errorf("%w: want 2 or 3, got %d", ErrVersion, version)
	}
	if typ != typeAdvertisement {
		return Advertisement{}, fmt.Errorf("%w: want %d, got %d", ErrType, typeAdvertisement, typ)
	}
	v6, err := family(src, dst)
	if err != nil {
		return Advertisement{}, err
	}
	if version == 2 && v6 {
		return Advertisement{}, fmt.Errorf("%w: version 2 is IPv4 only, source is %s", ErrFamily, src)
	}

	count, alen := int(b[3]), 4
	if v6 {
		alen = 16
	}
	want := headerLen + count*alen
	if version == 2 {
		want += authLen
	}
	switch {
	case len(b) < want:
		return Advertisement{}, fmt.Errorf("%w: %d bytes, %d addresses need %d", ErrTruncated, len(b), count, want)
	case len(b) > want:
		return Advertisement{}, fmt.Errorf("%w: %d bytes, %d addresses need %d", ErrTrailing, len(b), count, want)
	}

	if !validChecksum(b, version, src, dst, opt) {
		return Advertisement{}, fmt.Errorf("%w: version %d from %s to %s, field %#04x",
			ErrChecksum, version, src, dst, binary.BigEndian.Uint16(b[6:8]))
	}

	a := Advertisement{Version: version, VRID: b[1], Priority: b[2]}
	if a.VRID == 0 {
		return Advertisement{}, fmt.Errorf("%w: 0", ErrVRID)
	}
	if version == 2 {
		a.Interval = time.Duration(b[5]) * time.Second
		switch a.AuthType = b[4]; a.AuthType {
		case AuthTypeNone:
			// The data is ignored on receipt (RFC 3768 §5.3.10); leaving it
			// zero lets the value marshal back.
		case AuthTypePass:
			copy(a.AuthData[:], b[len(b)-authLen:])
		case AuthTypeAH:
			return Advertisement{}, fmt.Errorf("%w: %d (IP Authentication Header)", ErrUnsupportedAuth, a.AuthType)
		default:
			return Advertisement{}, fmt.Errorf("%w: %d (unknown)", ErrUnsupportedAuth, a.AuthType)
		}
	} else {
		// The 4 reserved bits are ignored on receipt (RFC 5798 §5.2.6).
		a.Interval = time.Duration(binary.BigEndian.Uint16(b[4:6])&maxV3Interval) * centisecond
	}
	if a.Interval == 0 {
		return Advertisement{}, fmt.Errorf("%w: 0", ErrInterval)
	}

	if count > 0 {
		a.Addrs = make([]netip.Addr, count)
		for i := range a.Addrs {
			p := b[headerLen+i*alen:]
			if v6 {
				a.Addrs[i] = netip.AddrFrom16([16]byte(p[:16]))
			} else {
				a.Addrs[i] = netip.AddrFrom4([4]byte(p[:4]))
			}
		}
	}
	return a, nil
}

// validChecksum checks b's checksum in the forms opt accepts.
func validChecksum(b []byte, version int, src, dst netip.Addr, opt ParseOptions) bool {
	if version == 2 {
		return checksum(0, b) == 0
	}
	if checksum(pseudoSum(src, dst, len(b)), b) == 0 {
		return true
	}
	if src.Is6() {
		return false
	}
	return opt.AcceptV3ChecksumAsV2 && checksum(0, b) == 0 ||
		opt.AcceptOldUnicastChecksum && checksum(pseudoSum(src, GroupV4, len(b)), b) == 0
}

// family reports whether src and dst are IPv6, failing unless both are
// valid and of one family. A 4-in-6 address counts as IPv6: it is what an
// IPv6 header would carry.
func family(src, dst netip.Addr) (v6 bool, err error) {
	if !src.IsValid() || !dst.IsValid() || src.Is6() != dst.Is6() {
		return false, fmt.Errorf("%w: source %s, destination %s", ErrFamily, src, dst)
	}
	return src.Is6(), nil
}

// pseudoSum is the unfolded one's complement sum of the pseudo-header
// RFC 5798 §5.2.8 prefixes to the message for version 3's checksum: RFC 768's
// for IPv4 (addresses, zero, protocol, 16-bit length) and RFC 8200 §8.1's
// for IPv6 (addresses, 32-bit length, zeros, next header).
func pseudoSum(src, dst netip.Addr, n int) uint32 {
	var buf [40]byte
	var p []byte
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		copy(buf[0:], s[:])
		copy(buf[4:], d[:])
		buf[9] = Protocol
		binary.BigEndian.PutUint16(buf[10:], uint16(n))
		p = buf[:12]
	} else {
		s, d := src.As16(), dst.As16()
		copy(buf[0:], s[:])
		copy(buf[16:], d[:])
		binary.BigEndian.PutUint32(buf[32:], uint32(n))
		buf[39] = Protocol
		p = buf[:40]
	}
	return sum16(0, p)
}

// sum16 adds b as big-endian 16-bit words to sum, an odd last byte padded
// with zero (RFC 1071).
func sum16(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// checksum folds sum plus b's words into the one's complement checksum:
// the value to write into a zeroed checksum field, or 0 when verifying a
// message whose field is filled in.
func checksum(sum uint32, b []byte) uint16 {
	sum = sum16(sum, b)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
