package neigh

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// family returns the address family of addr (unmapped).
func family(addr netip.Addr) int {
	if addr.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// getNeigh asks the kernel for the one neighbour entry of addr on ifindex
// (RTM_GETNEIGH with a destination, what `ip neigh get` sends) rather than
// dumping the interface's whole table on every lookup. It returns nil, nil
// when there is no entry. netlink v1.3.1 has no wrapper for this request.
func getNeigh(ifindex int, addr netip.Addr) (*netlink.Neigh, error) {
	req := nl.NewNetlinkRequest(unix.RTM_GETNEIGH, 0)
	req.AddData(&netlink.Ndmsg{Family: uint8(family(addr)), Index: uint32(ifindex)})
	req.AddData(nl.NewRtAttr(netlink.NDA_DST, addr.AsSlice()))
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWNEIGH)
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get neighbour: %w", err)
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	n, err := netlink.NeighDeserialize(msgs[0])
	if err != nil {
		return nil, fmt.Errorf("decode neighbour: %w", err)
	}
	return n, nil
}

// requestManaged creates (or marks) addr's entry as managed, which makes
// the kernel resolve it now and keep it resolved. It is what
// `ip neigh replace ADDR dev IF managed` sends: state NONE, no MAC; on an
// existing dynamic entry it keeps the MAC and state (measured on 6.18).
func requestManaged(ifindex int, addr netip.Addr) error {
	return netlink.NeighSet(&netlink.Neigh{
		LinkIndex: ifindex,
		Family:    family(addr),
		State:     netlink.NUD_NONE,
		FlagsExt:  netlink.NTF_EXT_MANAGED,
		IP:        addr.AsSlice(),
	})
}

// requestOnce makes the kernel send one resolution (NTF_USE acts as if a
// packet were queued to addr), for kernels without managed entries.
func requestOnce(ifindex int, addr netip.Addr) error {
	return netlink.NeighSet(&netlink.Neigh{
		LinkIndex: ifindex,
		Family:    family(addr),
		State:     netlink.NUD_NONE,
		Flags:     netlink.NTF_USE,
		IP:        addr.AsSlice(),
	})
}

// netipPrefix converts a netlink route destination to an unmapped prefix.
func netipPrefix(ip []byte, mask []byte) (netip.Prefix, bool) {
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, bits := net.IPMask(mask).Size()
	if bits == 32 {
		addr = addr.Unmap()
	}
	if bits == 0 || bits != addr.BitLen() {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(addr, ones), true
}
