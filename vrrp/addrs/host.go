package addrs

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Host holds a VRRP instance's addresses, routes and rules on the host
// while the instance is master. Its methods may be called from any
// goroutine.
type Host struct {
	opts Options
	log  *slog.Logger
	nl   *netlink.Handle
	base netlink.Link
	vmac netlink.Link // the VMAC when UseVMAC, else nil
	// parentSysctls are the parent's settings changed for the VMAC.
	parentSysctls []*sysctl

	mu     sync.Mutex
	closed bool // after Close: nl is closed and must not be used (a closed
	// netlink.Handle falls back to the calling thread's namespace)
	held   bool
	addrs  []heldAddr // added by us, in order
	routes []*netlink.Route
	rules  []*netlink.Rule
	ann    *announcer // open while held
	// gen counts Take and Release calls, so Run restarts its schedule.
	gen  uint64
	wake chan struct{} // tells Run that gen moved
}

type heldAddr struct {
	link netlink.Link
	addr *netlink.Addr
}

// Open prepares a Host in the calling OS thread's network namespace and,
// with UseVMAC, creates and brings up the VMAC as keepalived does at
// start, with keepalived's ARP settings on it and its parent (which Close
// restores). It adds no address: that is Take's job.
func Open(opts Options) (*Host, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	nl, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("open netlink: %w", err)
	}
	h := &Host{opts: opts, log: opts.Logger, nl: nl, wake: make(chan struct{}, 1)}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.base, err = nl.LinkByName(opts.Interface); err != nil {
		nl.Close()
		return nil, fmt.Errorf("look up interface %s: %w", opts.Interface, err)
	}
	if opts.UseVMAC {
		if err := h.openVMAC(); err != nil {
			nl.Close()
			return nil, err
		}
		if err := h.setVMACSysctls(); err != nil {
			err = errors.Join(err, h.restoreSysctls(), h.nl.LinkDel(h.vmac))
			nl.Close()
			return nil, fmt.Errorf("use_vmac: %w", err)
		}
	}
	// Open the ARP and NA sockets now, off the path of a takeover; where
	// that cannot be done yet (a VMAC with no IPv4 address before Take),
	// Take opens them.
	if ann, err := h.openAnnouncer(); err == nil {
		h.ann = ann
	} else if ann != nil {
		ann.close()
	}
	return h, nil
}

// Close releases what the Host holds, deletes the VMAC it created and
// closes its sockets.
func (h *Host) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	err := errors.Join(h.release(), h.restoreSysctls())
	if h.vmac != nil {
		if derr := h.nl.LinkDel(h.vmac); derr != nil && !errors.Is(derr, unix.ENODEV) {
			err = errors.Join(err, fmt.Errorf("delete vmac %s: %w", h.vmac.Attrs().Name, derr))
		}
	}
	h.nl.Close()
	h.closed = true
	return err
}

// ErrClosed is returned by Take and Release after Close.
var ErrClosed = errors.New("host closed")

// VMAC returns the VMAC interface's name, or "" without use_vmac.
func (h *Host) VMAC() string {
	if h.vmac == nil {
		return ""
	}
	return h.vmac.Attrs().Name
}

// Held reports whether the Host holds the addresses (Take without
// Release since).
func (h *Host) Held() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held
}

// Take adds the addresses, then the routes and rules (which may need the
// addresses), and has Run announce the addresses. Anything already present
// is left alone and stays when Release runs; calling Take again adds what
// has gone missing. Take runs in the Host's network namespace: it opens the
// announcement sockets. It tries every item and returns all errors.
func (h *Host) Take() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	var errs []error
	for _, a := range h.opts.Addresses {
		errs = append(errs, h.addAddr(a))
	}
	for _, r := range h.opts.Routes {
		errs = append(errs, h.addRoute(r))
	}
	for _, r := range h.opts.Rules {
		errs = append(errs, h.addRule(r))
	}
	if h.ann == nil {
		ann, err := h.openAnnouncer()
		errs = append(errs, err)
		h.ann = ann
	}
	if !h.held {
		h.held = true
		h.gen++
		h.poke()
		h.log.Info("took virtual addresses", "iface", h.opts.Interface,
			"addresses", len(h.addrs), "routes", len(h.routes), "rules", len(h.rules))
	}
	return errors.Join(errs...)
}

// Release removes the rules, routes and addresses Take added, in reverse
// order, and stops the announcements. It tries every item and returns all
// errors; items already gone are no error.
func (h *Host) Release() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	return h.release()
}

// release is Release with h.mu held.
func (h *Host) release() error {
	var errs []error
	for i := len(h.rules) - 1; i >= 0; i-- {
		if err := h.nl.RuleDel(h.rules[i]); err != nil && !gone(err) {
			errs = append(errs, fmt.Errorf("delete rule %s: %w", h.rules[i], err))
		}
	}
	h.rules = nil
	for i := len(h.routes) - 1; i >= 0; i-- {
		if err := h.nl.RouteDel(h.routes[i]); err != nil && !gone(err) {
			errs = append(errs, fmt.Errorf("delete route %s: %w", h.routes[i].Dst, err))
		}
	}
	h.routes = nil
	for i := len(h.addrs) - 1; i >= 0; i-- {
		a := h.addrs[i]
		if err := h.nl.AddrDel(a.link, a.addr); err != nil && !gone(err) {
			errs = append(errs, fmt.Errorf("delete address %s from %s: %w", a.addr.IPNet, a.link.Attrs().Name, err))
		}
	}
	h.addrs = nil
	if h.ann != nil {
		errs = append(errs, h.ann.close())
		h.ann = nil
	}
	if h.held {
		h.held = false
		h.gen++
		h.poke()
		h.log.Info("released virtual addresses", "iface", h.opts.Interface)
	}
	return errors.Join(errs...)
}

// gone reports whether a delete failed because the item is not there.
func gone(err error) bool {
	return errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) ||
		errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENODEV)
}

func (h *Host) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// addrLink returns the link a virtual address goes on.
func (h *Host) addrLink(dev string) (netlink.Link, error) {
	if dev != "" {
		l, err := h.nl.LinkByName(dev)
		if err != nil {
			return nil, fmt.Errorf("look up interface %s: %w", dev, err)
		}
		return l, nil
	}
	if h.vmac != nil {
		return h.vmac, nil
	}
	return h.base, nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func (h *Host) addAddr(a Address) error {
	link, err := h.addrLink(a.Dev)
	if err != nil {
		return fmt.Errorf("virtual_ipaddress %s: %w", a.Prefix, err)
	}
	for _, ha := range h.addrs {
		if ha.link.Attrs().Index == link.Attrs().Index && ha.addr.IPNet.String() == ipNet(a.Prefix).String() {
			return nil // ours already
		}
	}
	na := &netlink.Addr{IPNet: ipNet(a.Prefix), Label: a.Label, Scope: int(a.Scope)}
	if a.Prefix.Addr().Is4() {
		// A nil Broadcast would make netlink compute one; keepalived, like
		// ip(8), adds none unless brd is given.
		na.Broadcast = net.IPv4zero
		if a.Broadcast.IsValid() {
			na.Broadcast = a.Broadcast.AsSlice()
		}
	} else {
		// keepalived adds IPv6 VIPs with nodad: the address moves between
		// routers and must work at once (RFC 5798 §8.3.2 warns of DAD).
		na.Flags = unix.IFA_F_NODAD
	}
	if err := h.nl.AddrAdd(link, na); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return nil // someone else's; Release leaves it
		}
		return fmt.Errorf("add address %s to %s: %w", a.Prefix, link.Attrs().Name, err)
	}
	h.addrs = append(h.addrs, heldAddr{link: link, addr: na})
	return nil
}

func (h *Host) addRoute(r Route) error {
	nr := &netlink.Route{
		Dst:      ipNet(r.To),
		Type:     kernelTypes[r.Type],
		Table:    r.Table,
		Priority: r.Metric,
		Scope:    netlink.Scope(r.Scope),
		Protocol: unix.RTPROT_KEEPALIVED, // "proto keepalived" in ip route, as keepalived's
	}
	if nr.Table == 0 {
		nr.Table = TableMain
	}
	if r.Via.IsValid() {
		nr.Gw = r.Via.AsSlice()
	}
	if r.Src.IsValid() {
		nr.Src = r.Src.AsSlice()
	}
	if r.Dev != "" {
		link, err := h.nl.LinkByName(r.Dev)
		if err != nil {
			return fmt.Errorf("virtual_routes %s: look up interface %s: %w", r.To, r.Dev, err)
		}
		nr.LinkIndex = link.Attrs().Index
	}
	for _, have := range h.routes {
		if sameRoute(have, nr) {
			return nil
		}
	}
	if err := h.nl.RouteAdd(nr); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return nil
		}
		return fmt.Errorf("add %s route %s table %d: %w", r.Type, r.To, nr.Table, err)
	}
	h.routes = append(h.routes, nr)
	return nil
}

func sameRoute(a, b *netlink.Route) bool {
	return a.Dst.String() == b.Dst.String() && a.Table == b.Table && a.Priority == b.Priority && a.Type == b.Type
}

func (h *Host) addRule(r Rule) error {
	nr := netlink.NewRule()
	nr.Family = unix.AF_INET
	if r.IPv6 || (r.From.IsValid() && r.From.Addr().Is6()) || (r.To.IsValid() && r.To.Addr().Is6()) {
		nr.Family = unix.AF_INET6
	}
	if r.From.IsValid() {
		nr.Src = ipNet(r.From)
	}
	if r.To.IsValid() {
		nr.Dst = ipNet(r.To)
	}
	nr.Table = r.Table
	if nr.Table == 0 {
		nr.Table = TableMain
	}
	nr.Protocol = unix.RTPROT_KEEPALIVED
	if r.Priority > 0 {
		nr.Priority = r.Priority
	}
	if r.FwMark != 0 {
		nr.Mark = r.FwMark
		if r.FwMask != 0 {
			mask := r.FwMask
			nr.Mask = &mask
		}
	}
	for _, have := range h.rules {
		if have.String() == nr.String() && have.Priority == nr.Priority && have.Mark == nr.Mark {
			return nil
		}
	}
	if err := h.nl.RuleAdd(nr); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return nil
		}
		return fmt.Errorf("add rule %s: %w", nr, err)
	}
	h.rules = append(h.rules, nr)
	return nil
}
