package conn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Protocol is VRRP's IP protocol number (RFC 5798 §5.1.1.4).
const Protocol = 112

// HopLimit is the TTL or hop limit every VRRP message is sent with, and
// the one RFC 5798 §7.1 requires of a received one: proof that it was not
// routed.
const HopLimit = 255

// Default multicast groups (RFC 5798 §5.1.1.2, §5.1.2.2): keepalived's
// vrrp_mcast_group4 and vrrp_mcast_group6 when not configured.
var (
	DefaultGroup4 = netip.MustParseAddr("224.0.0.18")
	DefaultGroup6 = netip.MustParseAddr("ff02::12")
)

// maxMessage bounds a received VRRP message: the 8-byte header, 255
// IPv6 addresses and version 2's 8-byte authentication field fit well.
const maxMessage = 8 + 255*16 + 8 + 64

// Options configure a Conn. Field comments give keepalived's words.
type Options struct {
	// Interface is the instance's interface (or its VMAC interface, unless
	// vmac_xmit_base sends from the base one). The socket is bound to it.
	Interface string
	// IPv6 selects VRRP over IPv6; false is IPv4.
	IPv6 bool
	// Group is vrrp_mcast_group4 or vrrp_mcast_group6; zero means
	// DefaultGroup4 or DefaultGroup6. Send uses it for a zero destination.
	Group netip.Addr
	// Source is mcast_src_ip or unicast_src_ip: the source address of sent
	// messages. Zero means the interface's primary IPv4 address, or its
	// link-local IPv6 address as RFC 5798 §5.1.2.1 requires.
	Source netip.Addr
	// Unicast is set when unicast_peer is configured: the Conn then does
	// not join the multicast group and only sends to explicit peers.
	Unicast bool
}

// Packet is one received VRRP message with what the IP layer knew of it.
type Packet struct {
	Payload []byte     // the VRRP message, from its version/type byte on
	Src     netip.Addr // the sender's address, the IP header's source
	Dst     netip.Addr // the IP header's destination: the group or our own address
	// HopLimit is the IPv4 TTL or IPv6 hop limit it arrived with.
	HopLimit int
	IfIndex  int // the interface it arrived on
}

// Conn is a VRRP socket on one interface. Send may be called from any
// goroutine; Receive from one at a time.
type Conn struct {
	ifi    *net.Interface
	group  netip.Addr
	src    netip.Addr
	v4     *ipv4.PacketConn // exactly one of v4 and v6 is set
	v6     *ipv6.PacketConn
	closer net.PacketConn
	buf    []byte // Receive's buffer; Receive is not concurrent
}

// Open opens a VRRP socket as opts say, in the calling OS thread's network
// namespace.
func Open(opts Options) (*Conn, error) {
	ifi, err := net.InterfaceByName(opts.Interface)
	if err != nil {
		return nil, fmt.Errorf("look up interface %q: %w", opts.Interface, err)
	}
	group := opts.Group
	if !group.IsValid() {
		group = DefaultGroup4
		if opts.IPv6 {
			group = DefaultGroup6
		}
	}
	if !group.IsMulticast() || group.Is6() != opts.IPv6 || group.Is4In6() {
		return nil, fmt.Errorf("group %s: want an IPv%d multicast address", group, family(opts.IPv6))
	}
	src := opts.Source
	if !src.IsValid() {
		if src, err = defaultSource(ifi, opts.IPv6); err != nil {
			return nil, err
		}
	} else if src.Is6() != opts.IPv6 || src.Is4In6() {
		return nil, fmt.Errorf("source %s: want an IPv%d address", src, family(opts.IPv6))
	}
	src = src.WithZone("")

	network, wildcard := "ip4:112", "0.0.0.0"
	if opts.IPv6 {
		network, wildcard = "ip6:112", "::"
	}
	lc := net.ListenConfig{Control: bindToDevice(ifi.Name)}
	// ListenPacket makes the socket in the calling thread, so in the
	// namespace the caller locked it into.
	pc, err := lc.ListenPacket(context.Background(), network, wildcard)
	if err != nil {
		return nil, fmt.Errorf("open vrrp socket on %s: %w", ifi.Name, err)
	}
	c := &Conn{ifi: ifi, group: group, src: src, closer: pc, buf: make([]byte, maxMessage)}
	if opts.IPv6 {
		err = c.setup6(pc, !opts.Unicast)
	} else {
		err = c.setup4(pc, !opts.Unicast)
	}
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("set up vrrp socket on %s: %w", ifi.Name, err)
	}
	return c, nil
}

func family(v6 bool) int {
	if v6 {
		return 6
	}
	return 4
}

// bindToDevice returns a socket Control function that binds to ifname
// before anything else, so no message from another interface is queued.
func bindToDevice(ifname string) func(network, address string, rc syscall.RawConn) error {
	return func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname)
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("bind to device %s: %w", ifname, serr)
		}
		return nil
	}
}

func (c *Conn) setup4(pc net.PacketConn, join bool) error {
	p := ipv4.NewPacketConn(pc)
	c.v4 = p
	if err := p.SetTTL(HopLimit); err != nil {
		return fmt.Errorf("set ttl: %w", err)
	}
	if err := p.SetMulticastTTL(HopLimit); err != nil {
		return fmt.Errorf("set multicast ttl: %w", err)
	}
	if err := p.SetMulticastInterface(c.ifi); err != nil {
		return fmt.Errorf("set multicast interface: %w", err)
	}
	// Our own adverts must not come back to us (or to other sockets on
	// this host, which is keepalived's behaviour too).
	if err := p.SetMulticastLoopback(false); err != nil {
		return fmt.Errorf("set multicast loopback: %w", err)
	}
	if err := p.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface|ipv4.FlagSrc, true); err != nil {
		return fmt.Errorf("ask for control messages: %w", err)
	}
	if join {
		if err := p.JoinGroup(c.ifi, &net.IPAddr{IP: c.group.AsSlice()}); err != nil {
			return fmt.Errorf("join %s: %w", c.group, err)
		}
	}
	return nil
}

func (c *Conn) setup6(pc net.PacketConn, join bool) error {
	p := ipv6.NewPacketConn(pc)
	c.v6 = p
	if err := p.SetHopLimit(HopLimit); err != nil {
		return fmt.Errorf("set hop limit: %w", err)
	}
	if err := p.SetMulticastHopLimit(HopLimit); err != nil {
		return fmt.Errorf("set multicast hop limit: %w", err)
	}
	if err := p.SetMulticastInterface(c.ifi); err != nil {
		return fmt.Errorf("set multicast interface: %w", err)
	}
	if err := p.SetMulticastLoopback(false); err != nil {
		return fmt.Errorf("set multicast loopback: %w", err)
	}
	if err := p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface|ipv6.FlagSrc, true); err != nil {
		return fmt.Errorf("ask for control messages: %w", err)
	}
	if join {
		if err := p.JoinGroup(c.ifi, &net.IPAddr{IP: c.group.AsSlice()}); err != nil {
			return fmt.Errorf("join %s: %w", c.group, err)
		}
	}
	return nil
}

// defaultSource picks keepalived's default source: the interface's primary
// IPv4 address (the first that is not secondary), or for IPv6 its
// link-local address (RFC 5798 §5.1.2.1).
func defaultSource(ifi *net.Interface, v6 bool) (netip.Addr, error) {
	link, err := netlink.LinkByIndex(ifi.Index)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("look up link %s: %w", ifi.Name, err)
	}
	fam := netlink.FAMILY_V4
	if v6 {
		fam = netlink.FAMILY_V6
	}
	list, err := netlink.AddrList(link, fam)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("list addresses of %s: %w", ifi.Name, err)
	}
	for _, a := range list {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		switch {
		case v6 && ip.Is6() && ip.IsLinkLocalUnicast():
			return ip, nil
		case !v6 && ip.Is4() && a.Flags&unix.IFA_F_SECONDARY == 0:
			return ip, nil
		}
	}
	kind := "primary IPv4"
	if v6 {
		kind = "link-local IPv6"
	}
	return netip.Addr{}, fmt.Errorf("interface %s has no %s address to send from", ifi.Name, kind)
}

// Source returns the address messages are sent from. Version 3's checksum
// covers it (RFC 5798 §5.2.8), so the caller marshals with it.
func (c *Conn) Source() netip.Addr { return c.src }

// Group returns the multicast group a zero destination stands for.
func (c *Conn) Group() netip.Addr { return c.group }

// Interface returns the interface the Conn is bound to.
func (c *Conn) Interface() *net.Interface { return c.ifi }

// Send sends payload, a complete VRRP message, to dst: a unicast peer, or
// the multicast group when dst is zero. It goes out of the Conn's interface
// from Source with TTL or hop limit 255.
func (c *Conn) Send(payload []byte, dst netip.Addr) error {
	if !dst.IsValid() {
		dst = c.group
	}
	dst = dst.Unmap()
	if dst.Is6() != (c.v6 != nil) {
		return fmt.Errorf("send to %s: wrong address family", dst)
	}
	to := &net.IPAddr{IP: dst.AsSlice()}
	var err error
	if c.v4 != nil {
		cm := &ipv4.ControlMessage{Src: c.src.AsSlice(), IfIndex: c.ifi.Index}
		_, err = c.v4.WriteTo(payload, cm, to)
	} else {
		// No zone on to: Go would resolve its name in the calling
		// thread's namespace, maybe not the socket's. The packet info's
		// ifindex picks the interface instead.
		cm := &ipv6.ControlMessage{Src: c.src.AsSlice(), IfIndex: c.ifi.Index, HopLimit: HopLimit}
		_, err = c.v6.WriteTo(payload, cm, to)
	}
	if err != nil {
		return fmt.Errorf("send vrrp to %s on %s: %w", dst, c.ifi.Name, err)
	}
	return nil
}

// aLongTimeAgo is a read deadline that has passed: setting it wakes a
// blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// Receive waits for the next VRRP message on the interface and returns it.
// It drops messages this Conn sent (source equal to Source), messages to a
// multicast group other than the Conn's, and any from another interface.
// It returns ctx's error once ctx ends.
func (c *Conn) Receive(ctx context.Context) (Packet, error) {
	if err := c.closer.SetReadDeadline(time.Time{}); err != nil {
		return Packet{}, fmt.Errorf("clear read deadline: %w", err)
	}
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(done)
		c.closer.SetReadDeadline(aLongTimeAgo)
	})
	defer func() {
		if !stop() {
			<-done // the next Receive must not see this deadline land late
		}
	}()
	for {
		p, err := c.read()
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, os.ErrDeadlineExceeded) {
				return Packet{}, ctx.Err()
			}
			return Packet{}, fmt.Errorf("receive vrrp on %s: %w", c.ifi.Name, err)
		}
		if c.wanted(p) {
			p.Payload = append([]byte(nil), p.Payload...)
			return p, nil
		}
	}
}

// wanted reports whether a received message is for the caller.
func (c *Conn) wanted(p Packet) bool {
	if p.Src == c.src {
		return false
	}
	if p.Dst.IsMulticast() && p.Dst != c.group {
		return false
	}
	// SO_BINDTODEVICE already filters; this also covers a kernel that
	// queued a message before the bind took effect.
	return p.IfIndex == 0 || p.IfIndex == c.ifi.Index
}

func (c *Conn) read() (Packet, error) {
	if c.v4 != nil {
		n, cm, src, err := c.v4.ReadFrom(c.buf)
		if err != nil {
			return Packet{}, err
		}
		p := Packet{Payload: c.buf[:n], Src: addrOf(src)}
		if cm != nil {
			p.Dst, _ = netip.AddrFromSlice(cm.Dst)
			p.Dst = p.Dst.Unmap()
			p.HopLimit = cm.TTL
			p.IfIndex = cm.IfIndex
		}
		return p, nil
	}
	n, cm, src, err := c.v6.ReadFrom(c.buf)
	if err != nil {
		return Packet{}, err
	}
	p := Packet{Payload: c.buf[:n], Src: addrOf(src)}
	if cm != nil {
		p.Dst, _ = netip.AddrFromSlice(cm.Dst)
		p.HopLimit = cm.HopLimit
		p.IfIndex = cm.IfIndex
	}
	return p, nil
}

// addrOf returns the address of a *net.IPAddr without its zone: the
// interface is reported apart.
func addrOf(a net.Addr) netip.Addr {
	ipa, ok := a.(*net.IPAddr)
	if !ok {
		return netip.Addr{}
	}
	ip, _ := netip.AddrFromSlice(ipa.IP)
	return ip.Unmap()
}

// Close closes the socket, leaving the group. A blocked Receive returns
// an error that matches net.ErrClosed.
func (c *Conn) Close() error {
	return c.closer.Close()
}
