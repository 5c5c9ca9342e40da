package packet

import "errors"

// Errors Parse wraps, so a receiver can count and log drops by reason
// (RFC 5798 §7.1 and RFC 3768 §7.1 list the checks; each failing one means
// the packet MUST be discarded). Marshal and CheckHopLimit wrap them too
// where one fits. Check with errors.Is.
var (
	// ErrTruncated: the message is shorter than its fixed header, or than
	// the address count says.
	ErrTruncated = errors.New("vrrp message truncated")
	// ErrTrailing: bytes follow the last field the header announces.
	ErrTrailing = errors.New("vrrp message has trailing bytes")
	// ErrVersion: the version is neither 2 nor 3.
	ErrVersion = errors.New("unsupported vrrp version")
	// ErrType: the type is not 1, advertisement.
	ErrType = errors.New("unknown vrrp packet type")
	// ErrChecksum: the checksum does not match.
	ErrChecksum = errors.New("bad vrrp checksum")
	// ErrFamily: the IP addresses around the message are missing, of mixed
	// families, or IPv6 for version 2 (which is IPv4 only, RFC 3768 §1).
	ErrFamily = errors.New("bad address family for vrrp")
	// ErrVRID: the virtual router id is 0 (valid ids are 1..255).
	ErrVRID = errors.New("bad vrrp virtual router id")
	// ErrInterval: the advertisement interval is 0.
	ErrInterval = errors.New("bad vrrp advertisement interval")
	// ErrUnsupportedAuth: a version 2 auth type other than 0 (none) and
	// 1 (simple text password); 2 is IP Authentication Header, which
	// RFC 5798 §9 dropped and xlb does not implement.
	ErrUnsupportedAuth = errors.New("unsupported vrrp authentication type")
	// ErrTTL: the IPv4 TTL or IPv6 hop limit is not 255 (see CheckHopLimit).
	ErrTTL = errors.New("vrrp ttl or hop limit is not 255")
)
