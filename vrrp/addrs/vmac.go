package addrs

import (
	"bytes"
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// VMACAddr returns the virtual router MAC address of RFC 5798 §7.3:
// 00-00-5E-00-01-VRID for IPv4, 00-00-5E-00-02-VRID for IPv6.
func VMACAddr(vrid uint8, ipv6 bool) net.HardwareAddr {
	fam := byte(1)
	if ipv6 {
		fam = 2
	}
	return net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, fam, vrid}
}

// openVMAC creates the VMAC as keepalived does: a macvlan in private mode
// on the base interface (so it hears nothing from sibling macvlans), with
// the virtual MAC, up. An interface of that name that is already such a
// VMAC (left by a crash) is taken over; anything else is an error.
func (h *Host) openVMAC() error {
	name := h.opts.vmacName()
	mac := VMACAddr(h.opts.VRID, h.opts.IPv6)
	l, err := h.nl.LinkByName(name)
	switch {
	case err == nil:
		mv, ok := l.(*netlink.Macvlan)
		if !ok || mv.Attrs().ParentIndex != h.base.Attrs().Index || !bytes.Equal(mv.Attrs().HardwareAddr, mac) {
			return fmt.Errorf("use_vmac %s: interface exists and is not the vmac of %s with %s", name, h.opts.Interface, mac)
		}
	case errors.As(err, new(netlink.LinkNotFoundError)):
		mv := &netlink.Macvlan{
			LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: h.base.Attrs().Index, HardwareAddr: mac},
			Mode:      netlink.MACVLAN_MODE_PRIVATE,
		}
		if err := h.nl.LinkAdd(mv); err != nil {
			return fmt.Errorf("use_vmac: add macvlan %s on %s: %w", name, h.opts.Interface, err)
		}
		if l, err = h.nl.LinkByName(name); err != nil {
			return fmt.Errorf("use_vmac: look up new %s: %w", name, err)
		}
	default:
		return fmt.Errorf("use_vmac: look up %s: %w", name, err)
	}
	h.vmac = l
	if err := h.nl.LinkSetUp(l); err != nil {
		if derr := h.nl.LinkDel(l); derr != nil && !errors.Is(derr, unix.ENODEV) {
			err = errors.Join(err, derr)
		}
		h.vmac = nil
		return fmt.Errorf("use_vmac: set %s up: %w", name, err)
	}
	return nil
}
