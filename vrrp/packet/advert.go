package packet

import (
	"net/netip"
	"time"
)

// Advertisement is one VRRP advertisement, version 2 (RFC 3768) or 3
// (RFC 5798), as the state machine sees it: the fields it acts on, with
// the wire's units turned into Go's.
type Advertisement struct {
	// Version is 2 or 3.
	Version int
	// VRID is the virtual router id, 1..255.
	VRID uint8
	// Priority is 0..255: 0 says the master is leaving (RFC 5798 §6.4.3),
	// 255 that the sender owns the addresses.
	Priority uint8
	// Interval is the advertisement interval: whole seconds in v2
	// (Adver Int), centiseconds in v3 (Max Adver Int).
	Interval time.Duration
	// Addrs are the virtual addresses the sender protects, all of one
	// family: IPv4 in v2; IPv4 or IPv6 in v3.
	Addrs []netip.Addr
	// AuthType and AuthData are v2's authentication (RFC 3768 §5.3.6):
	// type 0 none, 1 simple text password (8 bytes, zero padded).
	AuthType uint8
	AuthData [8]byte
}
