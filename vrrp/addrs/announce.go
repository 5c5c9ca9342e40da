package addrs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// allNodes is where unsolicited neighbour advertisements go (RFC 4861
// §7.2.6).
var allNodes = netip.MustParseAddr("ff02::1")

// announcer sends the gratuitous ARPs and unsolicited neighbour
// advertisements for the virtual addresses, over sockets opened while
// taking them (the addresses must exist for an ARP client).
type announcer struct {
	targets []target
	arp     map[int]*arp.Client      // by ifindex
	na      map[int]*ipv6.PacketConn // by ifindex
}

// target is one address to announce on one interface.
type target struct {
	vip     netip.Addr
	ifindex int
	ifname  string
	mac     net.HardwareAddr
	// router is the neighbour advertisement's R flag: keepalived sets it
	// when the interface forwards IPv6.
	router bool
}

// openAnnouncer opens the sockets for every configured address, ours or
// found present, as keepalived announces them all. Interfaces without a
// MAC (or with NOARP) have nobody to tell.
func (h *Host) openAnnouncer() (*announcer, error) {
	a := &announcer{arp: map[int]*arp.Client{}, na: map[int]*ipv6.PacketConn{}}
	var errs []error
	for _, va := range h.opts.Addresses {
		link, err := h.addrLink(va.Dev)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		attrs := link.Attrs()
		if len(attrs.HardwareAddr) != 6 || attrs.RawFlags&unix.IFF_NOARP != 0 {
			continue
		}
		t := target{vip: va.Prefix.Addr(), ifindex: attrs.Index, ifname: attrs.Name, mac: attrs.HardwareAddr}
		if t.vip.Is4() {
			if _, ok := a.arp[t.ifindex]; !ok {
				ifi, err := net.InterfaceByIndex(t.ifindex)
				if err == nil {
					a.arp[t.ifindex], err = arp.Dial(ifi)
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("open arp socket on %s: %w", t.ifname, err))
					delete(a.arp, t.ifindex)
					continue
				}
			}
		} else {
			t.router = forwards6(t.ifname)
			if _, ok := a.na[t.ifindex]; !ok {
				pc, err := openNA(t.ifname)
				if err != nil {
					errs = append(errs, fmt.Errorf("open icmpv6 socket on %s: %w", t.ifname, err))
					continue
				}
				a.na[t.ifindex] = pc
			}
		}
		a.targets = append(a.targets, t)
	}
	return a, errors.Join(errs...)
}

// forwards6 reads whether ifname forwards IPv6, in the calling thread's
// namespace.
func forwards6(ifname string) bool {
	b, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + ifname + "/forwarding")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// openNA opens a raw ICMPv6 socket bound to ifname that only sends: the
// kernel fills in the checksum, which covers the source address chosen
// per message.
func openNA(ifname string) (*ipv6.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname)
		})
		return errors.Join(err, serr)
	}}
	c, err := lc.ListenPacket(context.Background(), "ip6:ipv6-icmp", "::")
	if err != nil {
		return nil, err
	}
	pc := ipv6.NewPacketConn(c)
	var f ipv6.ICMPFilter
	f.SetAll(true) // nothing to read: keep the receive queue empty
	for _, err := range []error{
		pc.SetICMPFilter(&f),
		pc.SetChecksum(true, 2),
		pc.SetMulticastHopLimit(ndp.HopLimit),
		pc.SetHopLimit(ndp.HopLimit),
		pc.SetMulticastLoopback(false),
	} {
		if err != nil {
			c.Close()
			return nil, err
		}
	}
	return pc, nil
}

func (a *announcer) close() error {
	var errs []error
	for _, c := range a.arp {
		errs = append(errs, c.Close())
	}
	for _, c := range a.na {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// send sends one announcement for t.
func (a *announcer) send(t target) error {
	if t.vip.Is4() {
		// keepalived's gratuitous ARP: a broadcast request whose sender
		// and target address are both the VIP (RFC 5227 §3), target MAC
		// all ones.
		p, err := arp.NewPacket(arp.OperationRequest, t.mac, t.vip, ethernet.Broadcast, t.vip)
		if err != nil {
			return err
		}
		if err := a.arp[t.ifindex].WriteTo(p, ethernet.Broadcast); err != nil {
			return fmt.Errorf("send gratuitous arp for %s on %s: %w", t.vip, t.ifname, err)
		}
		return nil
	}
	// RFC 4861 §7.2.6: to all nodes, Override set so caches take the new
	// MAC, Solicited clear; keepalived sends it from the VIP itself.
	m := &ndp.NeighborAdvertisement{
		Router:        t.router,
		Override:      true,
		TargetAddress: t.vip,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: t.mac}},
	}
	b, err := ndp.MarshalMessage(m)
	if err != nil {
		return err
	}
	// No zone on the destination: Go would resolve its name in the
	// calling thread's namespace; the packet info picks the interface.
	cm := &ipv6.ControlMessage{Src: t.vip.AsSlice(), IfIndex: t.ifindex, HopLimit: ndp.HopLimit}
	if _, err := a.na[t.ifindex].WriteTo(b, cm, &net.IPAddr{IP: allNodes.AsSlice()}); err != nil {
		return fmt.Errorf("send neighbour advertisement for %s on %s: %w", t.vip, t.ifname, err)
	}
	return nil
}

// Phases of the announcements after a Take.
const (
	phaseFirst   = iota // on taking over
	phaseSecond         // garp_master_delay later
	phaseRefresh        // every garp_master_refresh
)

// Run sends the announcements while the Host holds the addresses: a burst
// as soon as Take has run, a second one Announce.Delay later and then one
// every Announce.Refresh. It returns nil once ctx ends, leaving the
// addresses as they are (Release or Close remove them).
func (h *Host) Run(ctx context.Context) error {
	var (
		seen  uint64
		phase int
		due   <-chan time.Time
	)
	an := h.opts.Announce
	for {
		h.mu.Lock()
		gen, held, ann := h.gen, h.held, h.ann
		h.mu.Unlock()
		if gen != seen {
			seen, due = gen, nil
			if held && ann != nil {
				phase, due = phaseFirst, time.After(0)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-h.wake:
			continue
		case <-due:
		}
		n := an.repeat()
		if phase == phaseRefresh {
			n = an.refreshRepeat()
		}
		h.burst(ctx, gen, ann, n)
		due = nil
		switch {
		case phase == phaseFirst && an.delay() > 0:
			phase, due = phaseSecond, time.After(an.delay())
		case an.Refresh > 0:
			phase, due = phaseRefresh, time.After(an.Refresh)
		}
	}
}

// burst sends n announcements for each address, Announce.Interval apart,
// stopping early when ctx ends or the Host's state moves on from gen.
func (h *Host) burst(ctx context.Context, gen uint64, ann *announcer, n int) {
	var errs []error
	sent := 0
	for range n {
		for _, t := range ann.targets {
			if h.stale(gen) {
				return
			}
			if err := ann.send(t); err != nil {
				errs = append(errs, err)
			} else {
				sent++
			}
			if iv := h.opts.Announce.Interval; iv > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(iv):
				}
			}
		}
	}
	if len(errs) > 0 && !h.stale(gen) {
		h.log.Warn("announce virtual addresses", "iface", h.opts.Interface, "sent", sent, "err", errors.Join(errs...))
		return
	}
	h.log.Debug("announced virtual addresses", "iface", h.opts.Interface, "sent", sent)
}

// stale reports whether a Take or Release has happened since gen.
func (h *Host) stale(gen uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gen != gen
}
