package maps

import (
	"net"

	"xlb/bpf"
)

// NextHop is where a NAT or full-NAT flow's replies leave, as the flow's
// reverse entry caches it (bpf/natcache.h): the answer of the last
// bpf_fib_lookup for one of its replies, refreshed whenever a reply
// touches the entry (at most once per second while the flow is steady).
// The zero value means nothing is cached: the next reply asks the FIB.
type NextHop struct {
	Ifindex int              // egress interface; 0: nothing cached
	MAC     net.HardwareAddr // the next hop's: the reply's new destination MAC
	SrcMAC  net.HardwareAddr // Ifindex's: the reply's new source MAC
	MTU     int              // the route's; a longer reply asks the FIB again
}

// nextHopFromC converts a reverse entry's cache; nil MACs when empty.
func nextHopFromC(h bpf.XlbNatHop, mtu uint16) NextHop {
	if h.Ifindex == 0 {
		return NextHop{}
	}
	return NextHop{Ifindex: int(h.Ifindex), MAC: net.HardwareAddr(h.Dmac[:]), SrcMAC: net.HardwareAddr(h.Smac[:]), MTU: int(mtu)}
}
