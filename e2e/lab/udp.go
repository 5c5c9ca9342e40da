package lab

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"xlb/internal/nsrun"
)

// ListenUDP opens UDP sockets for ServeUDP on listen, "HOST:PORT". With
// no host it opens one per address of the host (link-local ones aside),
// bound to that address, rather than one on the wildcard: a wildcard
// socket's replies take the source address routing picks (eth0's), not
// the address the client sent to, and the VIPs that DR and TUN reals hold
// on lo must answer from the VIP. So start it after the VIPs are added.
func ListenUDP(listen string) ([]*net.UDPConn, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if host != "" {
		a, err := netip.ParseAddr(host)
		if err != nil {
			return nil, fmt.Errorf("listen %q: want an address or none: %w", listen, err)
		}
		addrs = append(addrs, a)
	} else {
		ifaddrs, err := net.InterfaceAddrs()
		if err != nil {
			return nil, err
		}
		for _, ia := range ifaddrs {
			if p, err := netip.ParsePrefix(ia.String()); err == nil && !p.Addr().IsLinkLocalUnicast() {
				addrs = append(addrs, p.Addr())
			}
		}
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("listen %q: port: %w", listen, err)
	}
	var pcs []*net.UDPConn
	for _, a := range addrs {
		pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, uint16(p))))
		if err != nil {
			for _, c := range pcs {
				c.Close()
			}
			return nil, err
		}
		pcs = append(pcs, pc)
	}
	return pcs, nil
}

// ServeUDP answers each datagram on pc with FormatReply(name, sender)
// until ctx ends: the UDP twin of Serve, for services with protocol UDP.
func ServeUDP(ctx context.Context, name string, pc *net.UDPConn, log *slog.Logger) error {
	log.Info("serving udp", "name", name, "listen", pc.LocalAddr().String())
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer stop()
	buf := make([]byte, 2048)
	for {
		_, peer, err := pc.ReadFromUDPAddrPort(buf)
		if ctx.Err() != nil {
			log.Info("stopped udp", "name", name)
			return nil
		}
		if err != nil {
			return fmt.Errorf("read udp: %w", err)
		}
		peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
		// A reply that cannot go is the client's loss, counted there.
		_, _ = pc.WriteToUDPAddrPort([]byte(FormatReply(name, peer)), peer)
	}
}

// UDPRound sends count datagrams from inside node n to addr, each from a
// new socket (so a new source port: a new flow for the balancer), and
// tallies who answered, as RunClient does for HTTP. A datagram without a
// reply within timeout is an error, not retried.
func UDPRound(n Node, addr netip.AddrPort, count int, timeout time.Duration) (Report, error) {
	rep := Report{URL: "udp://" + addr.String(), Servers: map[string]*Seen{}}
	start := time.Now()
	err := nsrun.DoNamed(n.NS, func() error {
		for range count {
			name, peer, local, err := udpOnce(addr, timeout)
			rep.record(name, peer, local, err)
		}
		return nil
	})
	rep.ElapsedMS = time.Since(start).Milliseconds()
	return rep, err
}

// udpOnce sends one datagram to addr from a fresh socket and reads the
// reply.
func udpOnce(addr netip.AddrPort, timeout time.Duration) (name string, peer, local netip.AddrPort, err error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return "", peer, local, err
	}
	defer c.Close()
	local = c.LocalAddr().(*net.UDPAddr).AddrPort()
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", peer, local, err
	}
	if _, err := c.Write([]byte("who\n")); err != nil {
		return "", peer, local, err
	}
	buf := make([]byte, 1024)
	nr, err := c.Read(buf)
	if err != nil {
		return "", peer, local, fmt.Errorf("read udp reply: %w", err)
	}
	name, peer, err = ParseReply(string(buf[:nr]))
	return name, peer, local, err
}
