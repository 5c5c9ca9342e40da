package neigh

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Hop is how to reach one real server: on a directly connected L2 segment
// (Lookup, for DR) or through the route to it (LookupRouted, for tunnels).
type Hop struct {
	Ifindex int
	Ifname  string
	SrcMAC  net.HardwareAddr // the interface's own MAC
	DstMAC  net.HardwareAddr // the next hop's MAC: the real's, or its gateway's
	Src     netip.Addr       // the route's preferred source address, if the kernel gave one
	Gateway netip.Addr       // the gateway, when the real is not directly connected
	MTU     int              // the interface's MTU
}

var (
	// ErrUnresolved means the kernel has no usable MAC for the address yet;
	// resolution has been requested and Changed fires when it lands.
	ErrUnresolved = errors.New("neighbour not resolved yet")
	// ErrNotConnected means the address is not on a directly connected
	// Ethernet segment (it is routed via a gateway, is local, or the
	// interface has no MAC), so DR, which only rewrites MACs, cannot reach it.
	ErrNotConnected = errors.New("not directly connected")
)

// resolveInterval bounds how often Lookup asks the kernel about one address.
// A managed entry is re-probed by the kernel itself, so repeats only matter
// when the request did not take (or on the NTF_USE fallback).
const resolveInterval = time.Second

// usableStates are the neighbour states whose MAC may be used: the kernel
// itself sends to STALE, DELAY and PROBE entries while it re-verifies them.
const usableStates = netlink.NUD_REACHABLE | netlink.NUD_STALE | netlink.NUD_DELAY |
	netlink.NUD_PROBE | netlink.NUD_PERMANENT

// Table looks up hops to reals and reports when they change. Its zero value
// is not usable; make one with New. Methods are safe for concurrent use.
type Table struct {
	logger  *slog.Logger
	changed chan struct{}

	mu        sync.Mutex
	neighs    map[netip.Addr]*watch // neighbours looked up, by unmapped address
	routed    map[netip.Addr]bool   // reals reached through a gateway, for route events
	links     map[int]*linkWatch    // interfaces that reach them, by ifindex
	noManaged bool                  // the kernel refused NTF_EXT_MANAGED
}

// watch is what the caller was last told (or the kernel last said) about one
// looked-up address, to tell a real change from a repeated notification.
type watch struct {
	ifindex int
	known   bool             // false until a Lookup or an event set mac
	mac     net.HardwareAddr // nil while unusable
	asked   time.Time        // last resolution request
}

type linkWatch struct {
	known bool
	mac   net.HardwareAddr
	mtu   int
}

// New returns a Table working in the calling thread's network namespace.
func New(logger *slog.Logger) *Table {
	return &Table{
		logger:  logger,
		changed: make(chan struct{}, 1),
		neighs:  make(map[netip.Addr]*watch),
		routed:  make(map[netip.Addr]bool),
		links:   make(map[int]*linkWatch),
	}
}

// Changed is signalled whenever a neighbour entry for an address that was
// looked up appears, changes MAC, fails or goes away, when the MAC of an
// interface reaching one changes, when a route changes, and once each time
// Run (re)subscribes. Signals coalesce: after one, Lookup every address again.
func (t *Table) Changed() <-chan struct{} { return t.changed }

func (t *Table) signal() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// Lookup returns the hop to addr when the kernel has a usable neighbour entry
// (REACHABLE, STALE, DELAY, PROBE or PERMANENT with a MAC). Otherwise it asks
// the kernel to resolve addr, at most once per second per address, and
// returns an error wrapping ErrUnresolved. It never waits for the network.
// An address behind a gateway gives an error wrapping ErrNotConnected.
//
// The address stays watched for Changed until Forget, and its kernel entry
// is left managed (unless an admin made it PERMANENT), so the kernel keeps
// it fresh without traffic through its own stack.
func (t *Table) Lookup(addr netip.Addr) (Hop, error) {
	return t.lookup(addr, false)
}

// LookupRouted is Lookup for a real reached through a tunnel: the real may
// be behind a gateway, and then the hop's DstMAC is the gateway's (the
// neighbour resolved and watched is the gateway). Hop.Src is the source
// address the kernel would use towards addr: the default outer source.
func (t *Table) LookupRouted(addr netip.Addr) (Hop, error) {
	return t.lookup(addr, true)
}

func (t *Table) lookup(addr netip.Addr, routed bool) (Hop, error) {
	addr = addr.Unmap()
	if !addr.IsValid() {
		return Hop{}, errors.New("lookup neighbour: invalid address")
	}
	routes, err := netlink.RouteGet(addr.AsSlice())
	if err != nil {
		return Hop{}, fmt.Errorf("route to %s: %w", addr, err)
	}
	if len(routes) == 0 {
		return Hop{}, fmt.Errorf("route to %s: kernel returned none", addr)
	}
	r := routes[0]
	nbr := addr // the address whose MAC the frame goes to
	var gw netip.Addr
	switch {
	case r.Type == unix.RTN_LOCAL:
		return Hop{}, fmt.Errorf("%s is a local address: %w", addr, ErrNotConnected)
	case r.Type != unix.RTN_UNICAST:
		return Hop{}, fmt.Errorf("%s: route type %d is not unicast: %w", addr, r.Type, ErrNotConnected)
	case r.Via != nil:
		// An IPv4 route via an IPv6 gateway (RFC 5549): not needed yet.
		return Hop{}, fmt.Errorf("%s is reachable only via gateway %s: %w", addr, r.Via, ErrNotConnected)
	case r.Gw != nil && !routed:
		return Hop{}, fmt.Errorf("%s is reachable only via gateway %s: %w", addr, r.Gw, ErrNotConnected)
	case r.Gw != nil:
		g, ok := netip.AddrFromSlice(r.Gw)
		if !ok {
			return Hop{}, fmt.Errorf("route to %s: bad gateway %v", addr, r.Gw)
		}
		gw = g.Unmap()
		nbr = gw
		t.noteRouted(addr)
	}
	src, _ := netip.AddrFromSlice(r.Src)

	// Watch before reading the kernel's state: a notification that slips
	// in between then differs from the recorded state and signals Changed.
	w := t.watchAddr(nbr, r.LinkIndex)

	link, err := netlink.LinkByIndex(r.LinkIndex)
	if err != nil {
		return Hop{}, fmt.Errorf("%s: interface %d: %w", nbr, r.LinkIndex, err)
	}
	attrs := link.Attrs()
	if len(attrs.HardwareAddr) != 6 {
		return Hop{}, fmt.Errorf("%s: interface %s has no Ethernet address: %w", addr, attrs.Name, ErrNotConnected)
	}
	t.recordLink(attrs.Index, attrs.HardwareAddr, attrs.MTU)

	n, err := getNeigh(r.LinkIndex, nbr)
	if err != nil {
		return Hop{}, fmt.Errorf("neighbour %s on %s: %w", nbr, attrs.Name, err)
	}
	mac := usableMAC(n)
	t.recordNeigh(w, mac)

	// Admin-set entries are left alone: turning one managed would throw
	// its MAC away. Everything else is handed to the kernel to keep fresh.
	if n == nil || (n.State&(netlink.NUD_PERMANENT|netlink.NUD_NOARP) == 0 && n.FlagsExt&netlink.NTF_EXT_MANAGED == 0) {
		if err := t.resolve(w, nbr, attrs.Index); err != nil {
			if mac == nil {
				return Hop{}, fmt.Errorf("resolve %s on %s: %w", nbr, attrs.Name, err)
			}
			t.logger.Debug("mark neighbour managed", "addr", nbr, "iface", attrs.Name, "err", err)
		}
	}
	if mac == nil {
		return Hop{}, fmt.Errorf("%s on %s (%s): %w", nbr, attrs.Name, stateName(n), ErrUnresolved)
	}
	return Hop{
		Ifindex: attrs.Index,
		Ifname:  attrs.Name,
		SrcMAC:  bytes.Clone(attrs.HardwareAddr),
		DstMAC:  mac,
		Src:     src.Unmap(),
		Gateway: gw,
		MTU:     attrs.MTU,
	}, nil
}

// Forget stops watching addr and removes the managed neighbour entry that
// Lookup left in the kernel for it, so a removed real is no longer probed.
func (t *Table) Forget(addr netip.Addr) error {
	addr = addr.Unmap()
	t.mu.Lock()
	w, ok := t.neighs[addr]
	delete(t.neighs, addr)
	delete(t.routed, addr)
	t.mu.Unlock()
	if !ok {
		// A routed real's neighbour is its gateway, which is shared
		// infrastructure: its entry stays.
		return nil
	}
	n, err := getNeigh(w.ifindex, addr)
	if err != nil {
		return fmt.Errorf("forget neighbour %s: %w", addr, err)
	}
	if n == nil || n.FlagsExt&netlink.NTF_EXT_MANAGED == 0 {
		return nil
	}
	if err := netlink.NeighDel(&netlink.Neigh{LinkIndex: w.ifindex, IP: addr.AsSlice()}); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("forget neighbour %s: %w", addr, err)
	}
	return nil
}

// noteRouted remembers a real reached through a gateway, so a route change
// that covers it signals Changed although its gateway is what is watched.
func (t *Table) noteRouted(addr netip.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.routed[addr] = true
}

// watchAddr returns the watch for addr on ifindex, making it if needed. A
// new watch (or one whose route moved to another interface) starts unknown.
func (t *Table) watchAddr(addr netip.Addr, ifindex int) *watch {
	t.mu.Lock()
	defer t.mu.Unlock()
	w, ok := t.neighs[addr]
	if !ok || w.ifindex != ifindex {
		w = &watch{ifindex: ifindex}
		t.neighs[addr] = w
	}
	if _, ok := t.links[ifindex]; !ok {
		t.links[ifindex] = &linkWatch{}
	}
	return w
}

func (t *Table) recordNeigh(w *watch, mac net.HardwareAddr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	w.known, w.mac = true, mac
}

func (t *Table) recordLink(ifindex int, mac net.HardwareAddr, mtu int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l, ok := t.links[ifindex]; ok {
		l.known, l.mac, l.mtu = true, bytes.Clone(mac), mtu
	}
}

// resolve asks the kernel to resolve addr and keep it resolved, unless it
// was asked less than resolveInterval ago.
func (t *Table) resolve(w *watch, addr netip.Addr, ifindex int) error {
	t.mu.Lock()
	now := time.Now()
	if now.Sub(w.asked) < resolveInterval {
		t.mu.Unlock()
		return nil
	}
	w.asked = now
	noManaged := t.noManaged
	t.mu.Unlock()

	if !noManaged {
		err := requestManaged(ifindex, addr)
		if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EOPNOTSUPP) {
			t.logger.Debug("neighbour resolution requested", "addr", addr, "ifindex", ifindex, "managed", true)
			return err
		}
		// Kernels before 5.16 have no managed entries. The switch is for
		// the Table's life: NTF_USE works everywhere, only less well.
		t.logger.Info("kernel refuses managed neighbour entries, using one-shot resolution", "err", err)
		t.mu.Lock()
		t.noManaged = true
		t.mu.Unlock()
	}
	t.logger.Debug("neighbour resolution requested", "addr", addr, "ifindex", ifindex, "managed", false)
	return requestOnce(ifindex, addr)
}

// usableMAC returns a copy of n's MAC when its state allows sending to it,
// else nil.
func usableMAC(n *netlink.Neigh) net.HardwareAddr {
	if n == nil || n.State&usableStates == 0 || len(n.HardwareAddr) != 6 {
		return nil
	}
	if bytes.Equal(n.HardwareAddr, make(net.HardwareAddr, 6)) {
		return nil
	}
	return bytes.Clone(n.HardwareAddr)
}

// stateName names a neighbour entry's state for error messages.
func stateName(n *netlink.Neigh) string {
	if n == nil {
		return "no entry"
	}
	names := []struct {
		state int
		name  string
	}{
		{netlink.NUD_INCOMPLETE, "incomplete"},
		{netlink.NUD_REACHABLE, "reachable"},
		{netlink.NUD_STALE, "stale"},
		{netlink.NUD_DELAY, "delay"},
		{netlink.NUD_PROBE, "probe"},
		{netlink.NUD_FAILED, "failed"},
		{netlink.NUD_NOARP, "noarp"},
		{netlink.NUD_PERMANENT, "permanent"},
	}
	for _, s := range names {
		if n.State&s.state != 0 {
			return s.name
		}
	}
	return "none"
}
