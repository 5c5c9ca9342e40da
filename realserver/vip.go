package realserver

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// vipAddr is v as a host address on lo: /32 or /128, IPv6 without
// duplicate address detection (there is nothing to detect on lo, and the
// address is usable at once).
func vipAddr(v netip.Addr) *netlink.Addr {
	a := &netlink.Addr{IPNet: netlink.NewIPNet(v.AsSlice())}
	if v.Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

// addVIP puts v on lo unless it is there, and says whether it added it.
func addVIP(v netip.Addr) (bool, error) {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return false, fmt.Errorf("add VIP %s to lo: %w", v, err)
	}
	have, err := onLink(lo, v)
	if err != nil {
		return false, fmt.Errorf("add VIP %s to lo: %w", v, err)
	}
	if have {
		return false, nil
	}
	if err := netlink.AddrAdd(lo, vipAddr(v)); err != nil {
		return false, fmt.Errorf("add VIP %s to lo: %w", v, err)
	}
	return true, nil
}

// delVIP removes v from lo if it is there, and says whether it was.
func delVIP(v netip.Addr) (bool, error) {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return false, fmt.Errorf("remove VIP %s from lo: %w", v, err)
	}
	err = netlink.AddrDel(lo, vipAddr(v))
	if errors.Is(err, unix.EADDRNOTAVAIL) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("remove VIP %s from lo: %w", v, err)
	}
	return true, nil
}

// onLink says whether v is one of l's addresses, with any prefix length.
func onLink(l netlink.Link, v netip.Addr) (bool, error) {
	addrs, err := linkAddrs(l)
	if err != nil {
		return false, err
	}
	for _, a := range addrs {
		if a == v {
			return true, nil
		}
	}
	return false, nil
}

// linkAddrs lists l's addresses, IPv4 and IPv6.
func linkAddrs(l netlink.Link) ([]netip.Addr, error) {
	list, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", l.Attrs().Name, err)
	}
	out := make([]netip.Addr, 0, len(list))
	for _, a := range list {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, ip.Unmap())
		}
	}
	return out, nil
}

// vipSettleTimeout bounds how long Up waits for the kernel to finish
// adding an IPv6 VIP.
const vipSettleTimeout = 5 * time.Second

// waitUsable returns once every IPv6 VIP on lo is usable: not tentative,
// and with its local route in place. The kernel adds every IPv6 address
// as tentative and clears the flag, then installs the local route, from a
// work queue, even with IFA_F_NODAD on lo; until the route is in, packets
// to the address are dropped. The flag alone is not enough: CI once lost
// a datagram sent between the two. On a busy machine that window is long
// enough to lose the first packets, so Up waits it out.
func waitUsable(vips []netip.Addr, timeout time.Duration) error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("wait for VIPs on lo: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		pending, err := tentative(lo, vips)
		if err != nil {
			return fmt.Errorf("wait for VIPs on lo: %w", err)
		}
		if len(pending) == 0 {
			pending = notLocal(vips)
		}
		if len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("VIPs %v on lo still tentative or without their local route after %v", pending, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tentative lists those of vips that are on l with the tentative flag.
func tentative(l netlink.Link, vips []netip.Addr) ([]netip.Addr, error) {
	list, err := netlink.AddrList(l, netlink.FAMILY_V6)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range list {
		ip, ok := netip.AddrFromSlice(a.IP)
		if ok && a.Flags&unix.IFA_F_TENTATIVE != 0 && slices.Contains(vips, ip) {
			out = append(out, ip)
		}
	}
	return out, nil
}

// notLocal lists those of the IPv6 vips that the FIB does not yet route
// as local (the route the kernel installs after clearing the tentative
// flag).
func notLocal(vips []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, v := range vips {
		if !v.Is6() || v.Is4In6() {
			continue
		}
		routes, err := netlink.RouteGet(v.AsSlice())
		if err != nil || len(routes) == 0 || routes[0].Type != unix.RTN_LOCAL {
			out = append(out, v)
		}
	}
	return out
}
