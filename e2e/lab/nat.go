package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"xlb/internal/nsrun"
)

// The reals' segment of a NAT lab: a second bridge, br1, behind the load
// balancer's eth1. The load balancer is the reals' gateway, as LVS-NAT
// requires: replies must come back through it to be translated.
var (
	InsideSubnet  = netip.MustParsePrefix("198.19.0.0/24")
	InsideLBAddr  = netip.MustParseAddr("198.19.0.1")
	InsideSubnet6 = netip.MustParsePrefix("2001:db8:19::/64")
	InsideLBAddr6 = netip.MustParseAddr("2001:db8:19::1")
)

// NATPort is the port the reals of a NAT lab listen on. It differs from
// the VIP's port 80 so that the tests see xlb rewrite the port too.
const NATPort = 8080

// insidePort is the load balancer's inside veth's end on br1, in the
// switch namespace; the load balancer's end is eth1.
const insidePort = "lb-in"

// NATRealAddr returns the address of NAT real i, counted from 1:
// 198.19.0.11, 198.19.0.12, ...
func NATRealAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 19, 0, byte(10 + i)})
}

// NATRealAddr6 returns the IPv6 address of NAT real i, counted from 1:
// 2001:db8:19::11, 2001:db8:19::12, ...
func NATRealAddr6(i int) netip.Addr {
	a := InsideSubnet6.Addr().As16()
	a[15] = byte(0x10 + i)
	return netip.AddrFrom16(a)
}

// addNATSide builds what NAT mode adds to a lab that has its client and
// load balancer: bridge br1 in the switch, the load balancer's eth1 on it
// at InsideLBAddr and InsideLBAddr6 with forwarding on, and n reals on
// br1 whose default routes point at the load balancer. The reals hold no
// VIP: the load balancer rewrites the destination to theirs.
func (l *Lab) addNATSide(ctx context.Context, n int) error {
	l.log.Info("create inside bridge for NAT", "netns", l.Switch, "bridge", "br1", "subnet", InsideSubnet, "subnet6", InsideSubnet6)
	lb := l.LB
	steps := [][]string{
		{"ip", "-n", l.Switch, "link", "add", "br1", "type", "bridge"},
		{"ip", "-n", l.Switch, "link", "set", "br1", "up"},
		{"ip", "-n", l.Switch, "link", "add", insidePort, "type", "veth",
			"peer", "name", "eth1", "address", macFor(InsideLBAddr).String(), "netns", lb.NS},
		{"ip", "-n", l.Switch, "link", "set", insidePort, "master", "br1", "up"},
		{"ip", "-n", lb.NS, "addr", "add", netip.PrefixFrom(InsideLBAddr, InsideSubnet.Bits()).String(), "dev", "eth1"},
		{"ip", "-n", lb.NS, "addr", "add", netip.PrefixFrom(InsideLBAddr6, InsideSubnet6.Bits()).String(), "dev", "eth1", "nodad"},
		{"ip", "-n", lb.NS, "link", "set", "eth1", "up"},
		// LAB-NOTES: a veth sender leaves checksums partial.
		{"ip", "netns", "exec", lb.NS, "ethtool", "-K", "eth1", "tx", "off"},
		// XDP redirects established flows itself, but the stack must
		// forward what XDP passes while a neighbour resolves (xlbd warns
		// when this is off).
		{"ip", "netns", "exec", lb.NS, "sysctl", "-q", "-w",
			"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"},
	}
	for _, s := range steps {
		if err := run(ctx, s[0], s[1:]...); err != nil {
			return err
		}
	}
	for i := 1; i <= n; i++ {
		r, err := l.addNATReal(ctx, fmt.Sprintf("r%d", i), NATRealAddr(i), NATRealAddr6(i))
		if err != nil {
			return err
		}
		l.Reals = append(l.Reals, r)
	}
	return nil
}

// addNATReal makes real role on br1 with eth0 at addr and addr6 and its
// default routes via the load balancer.
func (l *Lab) addNATReal(ctx context.Context, role string, addr, addr6 netip.Addr) (Node, error) {
	r := Node{Role: role, NS: l.Name + "-" + role, Addr: addr, Addr6: addr6, MAC: macFor(addr)}
	l.log.Info("create NAT real", "role", role, "netns", r.NS, "addr", addr, "addr6", addr6, "gateway", InsideLBAddr)
	if err := l.addNS(ctx, r.NS); err != nil {
		return Node{}, err
	}
	steps := [][]string{
		{"ip", "-n", l.Switch, "link", "add", role, "type", "veth",
			"peer", "name", "eth0", "address", r.MAC.String(), "netns", r.NS},
		{"ip", "-n", l.Switch, "link", "set", role, "master", "br1", "up"},
		{"ip", "-n", r.NS, "addr", "add", netip.PrefixFrom(addr, InsideSubnet.Bits()).String(), "dev", "eth0"},
		{"ip", "-n", r.NS, "addr", "add", netip.PrefixFrom(addr6, InsideSubnet6.Bits()).String(), "dev", "eth0", "nodad"},
		{"ip", "-n", r.NS, "link", "set", "eth0", "up"},
		{"ip", "netns", "exec", r.NS, "ethtool", "-K", "eth0", "tx", "off"},
		{"ip", "-n", r.NS, "route", "add", "default", "via", InsideLBAddr.String()},
		{"ip", "-n", r.NS, "-6", "route", "add", "default", "via", InsideLBAddr6.String()},
	}
	for _, s := range steps {
		if err := run(ctx, s[0], s[1:]...); err != nil {
			return Node{}, err
		}
	}
	return r, nil
}

// attachPassAllInside puts the pass-all program on the load balancer's
// inside port too: xlb redirects client frames from eth0 to eth1, and a
// frame redirected into a veth leaves only when its peer runs XDP
// (LAB-NOTES). Attached through netlink, as AddLB does, it needs no fd of
// ours and goes with the switch.
func (l *Lab) attachPassAllInside() error {
	l.mu.Lock()
	prog := l.prog
	l.mu.Unlock()
	if prog == nil {
		return errors.New("attach pass-all xdp to the inside port: no program loaded")
	}
	err := nsrun.DoNamed(l.Switch, func() error {
		port, err := netlink.LinkByName(insidePort)
		if err != nil {
			return err
		}
		return netlink.LinkSetXdpFdWithFlags(port, prog.FD(), unix.XDP_FLAGS_DRV_MODE)
	})
	if err != nil {
		return fmt.Errorf("attach pass-all xdp to %s in %s: %w", insidePort, l.Switch, err)
	}
	l.log.Info("attach pass-all xdp", "netns", l.Switch, "iface", insidePort)
	return nil
}

// StartNATServers starts `xlblab serve --udp` on NATPort (TCP for HTTP
// and UDP) in every real of a NAT lab, and returns once each accepts
// connections from the load balancer on its IPv4 and IPv6 address
// (bounded to 10 s each): the client has no route to the reals.
func (l *Lab) StartNATServers(ctx context.Context, xlblab string) error {
	if l.Mode != NAT {
		return fmt.Errorf("start NAT servers: lab is in mode %v", l.Mode)
	}
	listen := ":" + strconv.Itoa(NATPort)
	for _, r := range l.Reals {
		p, err := l.Start(r.Role, "ip", "netns", "exec", r.NS, xlblab, "serve", "--name", r.Role, "--listen", listen, "--udp")
		if err != nil {
			return err
		}
		l.mu.Lock()
		if l.servers == nil {
			l.servers = map[string]*Proc{}
		}
		l.servers[r.Role] = p
		l.mu.Unlock()
		for _, a := range []netip.Addr{r.Addr, r.Addr6} {
			if err := l.waitListeningFrom(ctx, l.LB, p, netip.AddrPortFrom(a, NATPort)); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitListeningFrom dials addr from inside node n until it answers, p
// exits, or 10 s pass.
func (l *Lab) waitListeningFrom(ctx context.Context, n Node, p *Proc, addr netip.AddrPort) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		err := Dial(n, addr, time.Second)
		if err == nil {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited: %v\n%s", p.Name, p.Err(), p.Tail(logTail))
		case <-ctx.Done():
			return fmt.Errorf("%s not listening on %s from %s: %w\n%s", p.Name, addr, n.Role, err, p.Tail(logTail))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
