package check

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// VIPTunnelOptions configures a TCP check that takes the client's path in
// TUN mode: a SYN to the VIP inside an IP-in-IP packet to the real.
type VIPTunnelOptions struct {
	// VIP is the virtual service the real must answer for.
	VIP netip.AddrPort
	// Real is the real server's address, the outer destination. An IPv4
	// VIP may have an IPv6 real (IPv4 in IPv6); an IPv6 VIP needs an IPv6
	// real, as the data plane does.
	Real netip.Addr
	// TunnelSource is the outer source; the zero Addr lets the kernel
	// pick it by the route to Real, as the data plane's default does.
	TunnelSource netip.Addr
	// Source is the inner source, the address the real answers; the zero
	// Addr takes the route's source to Real when the families agree, else
	// the first address of VIP's family on the route's interface.
	Source netip.Addr
	// Timeout is connect_timeout, as VIPPathOptions.Timeout.
	Timeout time.Duration
}

// VIPTunnel checks a TUN real the way clients reach it: a real that is up
// but does not decapsulate, or lacks the VIP, drops the packet and so
// counts as down, which a check to the real's own address cannot see.
// The outer header comes from a raw socket of the inner protocol, so the
// kernel routes the packet (through a gateway if need be) as it would any
// other; the real answers from the VIP straight to Source, where an
// AF_PACKET socket sees the answer before the kernel drops it for its
// local source address.
type VIPTunnel struct {
	opts VIPTunnelOptions
}

// NewVIPTunnel validates o and returns the checker.
func NewVIPTunnel(o VIPTunnelOptions) (*VIPTunnel, error) {
	o.VIP = netip.AddrPortFrom(o.VIP.Addr().Unmap(), o.VIP.Port())
	o.Real = o.Real.Unmap()
	o.TunnelSource = o.TunnelSource.Unmap()
	o.Source = o.Source.Unmap()
	err := checkProbe(o.VIP, o.Real, o.Source, o.Timeout)
	switch {
	case err != nil:
	case o.VIP.Addr().Is6() && o.Real.Is4():
		err = fmt.Errorf("real: an IPv6 vip (%s) cannot be tunnelled to an IPv4 real (%s)", o.VIP.Addr(), o.Real)
	case o.TunnelSource.IsValid() && o.TunnelSource.Is4() != o.Real.Is4():
		err = fmt.Errorf("tunnel source: %s is not of real %s's family", o.TunnelSource, o.Real)
	}
	if err != nil {
		return nil, fmt.Errorf("TCP_CHECK via tunnel: %w", err)
	}
	return &VIPTunnel{opts: o}, nil
}

func (c *VIPTunnel) String() string {
	return "TCP_CHECK " + c.opts.VIP.String() + " via tunnel to " + c.opts.Real.String()
}

// Check sends one encapsulated SYN to the VIP through the real and waits
// for the real's answer. It runs on the calling goroutine, so a caller
// inside a network namespace probes from it.
func (c *VIPTunnel) Check(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel := Conn{Timeout: c.opts.Timeout}.attemptCtx(ctx)
	defer cancel()

	src := c.opts.Source
	if !src.IsValid() {
		var err error
		if src, err = c.innerSource(); err != nil {
			return fail(start, "%v", err)
		}
	}
	us := netip.AddrPortFrom(src, ephemeralPort())
	// The answer comes back on whatever interface routes to src.
	rfd, err := replySocket(ethTypeOf(c.opts.VIP.Addr()), 0, c.opts.VIP, us)
	if err != nil {
		return fail(start, "%v", err)
	}
	defer unix.Close(rfd)
	tun, err := c.tunnelSocket()
	if err != nil {
		return fail(start, "%v", err)
	}
	defer unix.Close(tun)
	return synExchange(ctx, start, synProbe{
		vip: c.opts.VIP, us: us, replies: rfd,
		send: func(seg tcpSegment) error {
			packet := seg.frame(nil, nil)[ethHeaderLen:]
			if err := unix.Sendto(tun, packet, 0, sockaddr(c.opts.Real)); err != nil {
				return fmt.Errorf("send SYN in a tunnel to %s: %w", c.opts.Real, err)
			}
			return nil
		},
		noAnswer: fmt.Sprintf("no answer through the tunnel to %s", c.opts.Real),
		answered: "SYN-ACK through the tunnel",
	})
}

// innerSource is Options.Source's default: the route to the real tells
// the address the real can answer, or the interface to take one from.
func (c *VIPTunnel) innerSource() (netip.Addr, error) {
	routes, err := netlink.RouteGet(c.opts.Real.AsSlice())
	if err != nil || len(routes) == 0 {
		return netip.Addr{}, fmt.Errorf("source: no route to real %s: %v", c.opts.Real, err)
	}
	r := routes[0]
	if s, ok := netip.AddrFromSlice(r.Src); ok && s.Unmap().Is4() == c.opts.VIP.Addr().Is4() && !s.Unmap().IsLinkLocalUnicast() {
		return s.Unmap(), nil
	}
	link, err := netlink.LinkByIndex(r.LinkIndex)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("source: interface of the route to %s: %w", c.opts.Real, err)
	}
	return firstAddr(link, c.opts.VIP.Addr().Is4())
}

// tunnelSocket opens a raw socket of the real's family whose protocol is
// the inner packet's (IPPROTO_IPIP for IPv4, IPPROTO_IPV6 for IPv6): the
// kernel puts the outer header in front of what is written. It reads
// nothing: a drop-all filter keeps other tunnelled traffic out of it.
func (c *VIPTunnel) tunnelSocket() (int, error) {
	family := unix.AF_INET
	if c.opts.Real.Is6() {
		family = unix.AF_INET6
	}
	proto := unix.IPPROTO_IPIP
	if c.opts.VIP.Addr().Is6() {
		proto = unix.IPPROTO_IPV6
	}
	fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return -1, fmt.Errorf("tunnel socket: %w", err)
	}
	dropAll := []unix.SockFilter{{Code: 0x06}} // BPF_RET|BPF_K 0
	prog := &unix.SockFprog{Len: 1, Filter: &dropAll[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, prog); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("tunnel socket filter: %w", err)
	}
	if s := c.opts.TunnelSource; s.IsValid() {
		if err := unix.Bind(fd, sockaddr(s)); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("bind tunnel source %s: %w", s, err)
		}
	}
	return fd, nil
}

// sockaddr is a for the socket calls, port 0 (raw sockets have none).
func sockaddr(a netip.Addr) unix.Sockaddr {
	if a.Is4() {
		return &unix.SockaddrInet4{Addr: a.As4()}
	}
	return &unix.SockaddrInet6{Addr: a.As16()}
}
