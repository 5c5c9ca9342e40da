package check

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// VIPPathOptions configures a TCP check that takes the client's path in
// DR mode: a SYN to the VIP in a frame addressed to the real's MAC.
type VIPPathOptions struct {
	// Interface is the link the reals sit on.
	Interface string
	// VIP is the virtual service the real must answer for.
	VIP netip.AddrPort
	// Real is the real server's address; its MAC comes from the
	// kernel's neighbour table on Interface at each attempt, so a MAC
	// change is followed.
	Real netip.Addr
	// Source is our address on Interface that the real answers; the zero
	// Addr takes Interface's first address of VIP's family (for IPv6 the
	// first that is not link-local).
	Source netip.Addr
	// Timeout is connect_timeout: it bounds one attempt together with
	// the caller's ctx deadline, whichever is sooner.
	Timeout time.Duration
}

// VIPPath checks a DR real the way clients reach it: a real that is up
// but lacks the VIP (on lo, say) drops the frame or refuses it, and so
// counts as down, which a check to the real's own address cannot see.
// The load balancer holds the VIP itself, so an ordinary socket to it
// would never leave the host; VIPPath writes the frame with an
// AF_PACKET socket instead.
type VIPPath struct {
	opts VIPPathOptions
}

// NewVIPPath validates o and returns the checker.
func NewVIPPath(o VIPPathOptions) (*VIPPath, error) {
	o.VIP = netip.AddrPortFrom(o.VIP.Addr().Unmap(), o.VIP.Port())
	o.Real = o.Real.Unmap()
	o.Source = o.Source.Unmap()
	err := checkProbe(o.VIP, o.Real, o.Source, o.Timeout)
	switch {
	case o.Interface == "":
		err = errors.New("interface: missing")
	case err != nil:
	case o.Real.Is4() != o.VIP.Addr().Is4():
		err = fmt.Errorf("real: %s is not of vip %s's family", o.Real, o.VIP.Addr())
	}
	if err != nil {
		return nil, fmt.Errorf("TCP_CHECK via real: %w", err)
	}
	return &VIPPath{opts: o}, nil
}

// checkProbe checks what VIPPath and VIPTunnel options share: a VIP with
// a port, a real, a source (if given) of the VIP's family, a timeout.
func checkProbe(vip netip.AddrPort, real, source netip.Addr, timeout time.Duration) error {
	switch {
	case !vip.Addr().IsValid():
		return errors.New("vip: missing")
	case vip.Port() == 0:
		return errors.New("vip: port missing")
	case !real.IsValid():
		return errors.New("real: missing")
	case source.IsValid() && source.Is4() != vip.Addr().Is4():
		return fmt.Errorf("source: %s is not of vip %s's family", source, vip.Addr())
	case timeout < 0:
		return fmt.Errorf("connect_timeout: want >= 0, got %s", timeout)
	}
	return nil
}

func (c *VIPPath) String() string {
	return "TCP_CHECK " + c.opts.VIP.String() + " via " + c.opts.Real.String()
}

// Check sends one SYN to the VIP through the real's MAC and waits for
// the real's answer. It runs on the calling goroutine, so a caller inside
// a network namespace probes from it.
func (c *VIPPath) Check(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel := Conn{Timeout: c.opts.Timeout}.attemptCtx(ctx)
	defer cancel()

	link, err := netlink.LinkByName(c.opts.Interface)
	if err != nil {
		return fail(start, "interface %s: %v", c.opts.Interface, err)
	}
	ourMAC := link.Attrs().HardwareAddr
	if len(ourMAC) != 6 {
		return fail(start, "interface %s: no Ethernet address", c.opts.Interface)
	}
	realMAC, err := c.realMAC(link)
	if err != nil {
		return fail(start, "%v", err)
	}
	src := c.opts.Source
	if !src.IsValid() {
		if src, err = firstAddr(link, c.opts.VIP.Addr().Is4()); err != nil {
			return fail(start, "%v", err)
		}
	}

	us := netip.AddrPortFrom(src, ephemeralPort())
	fd, err := replySocket(ethTypeOf(c.opts.VIP.Addr()), link.Attrs().Index, c.opts.VIP, us)
	if err != nil {
		return fail(start, "%v", err)
	}
	defer unix.Close(fd)
	to := &unix.SockaddrLinklayer{Protocol: htons(ethTypeOf(c.opts.VIP.Addr())), Ifindex: link.Attrs().Index, Halen: 6}
	copy(to.Addr[:], realMAC)
	return synExchange(ctx, start, synProbe{
		vip: c.opts.VIP, us: us, replies: fd,
		send: func(seg tcpSegment) error {
			if err := unix.Sendto(fd, seg.frame(realMAC, ourMAC), 0, to); err != nil {
				return fmt.Errorf("send SYN via %s: %w", c.opts.Interface, err)
			}
			return nil
		},
		noAnswer: fmt.Sprintf("no answer via the real's MAC %s", realMAC),
		answered: "SYN-ACK via the real's MAC",
	})
}

// synProbe is one SYN sent the clients' way and the wait for its answer.
type synProbe struct {
	vip, us  netip.AddrPort
	replies  int                    // replySocket for vip → us
	send     func(tcpSegment) error // puts a segment on the clients' path
	noAnswer string                 // the reason when nothing answers in time
	answered string                 // the reason when the real answers SYN-ACK
}

// synExchange sends p's SYN and waits for the real's SYN-ACK (up) or RST
// (down: the port is closed for the VIP). Silence is down too: the real
// lacks the VIP, or the path to it is broken. After a SYN-ACK it resets
// the half-open connection on the real itself: our kernel drops the
// answer, whose source, the VIP, is its own address, and so never would.
func synExchange(ctx context.Context, start time.Time, p synProbe) Result {
	syn := tcpSegment{Src: p.us, Dst: p.vip, Seq: rand.Uint32(), Flags: tcpSYN, Window: 64240}
	if err := p.send(syn); err != nil {
		return fail(start, "%v", err)
	}
	reply, err := awaitReply(ctx, p.replies, p.vip, p.us)
	switch {
	case err != nil && expired(ctx, err):
		return fail(start, "%s", p.noAnswer)
	case err != nil:
		return fail(start, "%v", err)
	case reply.Flags&tcpRST != 0:
		return fail(start, "port closed on the real for the VIP")
	}
	_ = p.send(tcpSegment{Src: p.us, Dst: p.vip, Seq: reply.Ack, Flags: tcpRST})
	return pass(start, p.answered)
}

// ethTypeOf is the EtherType of addr's family.
func ethTypeOf(addr netip.Addr) uint16 {
	if addr.Is4() {
		return unix.ETH_P_IP
	}
	return unix.ETH_P_IPV6
}

// realMAC looks the real up in Interface's neighbour table.
func (c *VIPPath) realMAC(link netlink.Link) (net.HardwareAddr, error) {
	family := netlink.FAMILY_V4
	if c.opts.Real.Is6() {
		family = netlink.FAMILY_V6
	}
	neighs, err := netlink.NeighList(link.Attrs().Index, family)
	if err != nil {
		return nil, fmt.Errorf("list neighbours on %s: %w", c.opts.Interface, err)
	}
	for _, n := range neighs {
		ip, ok := netip.AddrFromSlice(n.IP)
		if !ok || ip.Unmap() != c.opts.Real || len(n.HardwareAddr) != 6 {
			continue
		}
		if n.State&(netlink.NUD_FAILED|netlink.NUD_INCOMPLETE|netlink.NUD_NOARP) != 0 {
			continue
		}
		return n.HardwareAddr, nil
	}
	return nil, fmt.Errorf("real's MAC unknown: no neighbour entry for %s on %s", c.opts.Real, c.opts.Interface)
}

// firstAddr returns link's first address of the family, skipping IPv6
// link-local ones, which the real could not route a reply to.
func firstAddr(link netlink.Link, v4 bool) (netip.Addr, error) {
	family := netlink.FAMILY_V4
	if !v4 {
		family = netlink.FAMILY_V6
	}
	addrs, err := netlink.AddrList(link, family)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("list addresses on %s: %w", link.Attrs().Name, err)
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if ok && !ip.Unmap().IsLinkLocalUnicast() {
			return ip.Unmap(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("source: no address of the vip's family on %s", link.Attrs().Name)
}

// ephemeralPort picks a port from Linux's default ip_local_port_range,
// which keeps clear of the services on the load balancer itself.
func ephemeralPort() uint16 {
	return uint16(32768 + rand.IntN(60999-32768+1))
}

// replySocket opens an AF_PACKET socket that receives the answers from
// vip to us arriving on ifindex (0: on any interface), frames of
// ethType. Protocol 0 receives nothing until bind names one, so the
// filter is in place before the first frame queues: a busy balancer's
// other traffic never reaches this socket.
func replySocket(ethType uint16, ifindex int, vip, us netip.AddrPort) (int, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("packet socket: %w", err)
	}
	if err := attachReplyFilter(fd, vip, us); err != nil {
		unix.Close(fd)
		return -1, err
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(ethType), Ifindex: ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind packet socket: %w", err)
	}
	return fd, nil
}

// attachReplyFilter lets only TCP from vip's port to us's port reach fd.
func attachReplyFilter(fd int, vip, us netip.AddrPort) error {
	raw, err := bpf.Assemble(replyFilter(vip, us))
	if err != nil {
		return fmt.Errorf("assemble reply filter: %w", err)
	}
	f := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		f[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fprog := &unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, fprog); err != nil {
		return fmt.Errorf("attach reply filter: %w", err)
	}
	return nil
}

// replyFilter is a classic BPF program accepting Ethernet frames of TCP
// from vip's port to us's port. It narrows by protocol and ports only;
// awaitReply still checks addresses and flags, so the filter is an
// economy, not the authority. Jumps skip to the final drop.
func replyFilter(vip, us netip.AddrPort) []bpf.Instruction {
	const accept, drop = 0xffff, 0
	var prog []bpf.Instruction
	if vip.Addr().Is4() {
		prog = []bpf.Instruction{
			bpf.LoadAbsolute{Off: ethHeaderLen + 9, Size: 1}, // protocol
			bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.IPPROTO_TCP, SkipTrue: 6},
			bpf.LoadMemShift{Off: ethHeaderLen}, // X = IPv4 header length
			bpf.LoadIndirect{Off: ethHeaderLen, Size: 2},
			bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(vip.Port()), SkipTrue: 3},
			bpf.LoadIndirect{Off: ethHeaderLen + 2, Size: 2},
			bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(us.Port()), SkipTrue: 1},
		}
	} else {
		prog = []bpf.Instruction{
			bpf.LoadAbsolute{Off: ethHeaderLen + 6, Size: 1}, // next header
			bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.IPPROTO_TCP, SkipTrue: 5},
			bpf.LoadAbsolute{Off: ethHeaderLen + ipv6HeaderLen, Size: 2},
			bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(vip.Port()), SkipTrue: 3},
			bpf.LoadAbsolute{Off: ethHeaderLen + ipv6HeaderLen + 2, Size: 2},
			bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(us.Port()), SkipTrue: 1},
		}
	}
	return append(prog, bpf.RetConstant{Val: accept}, bpf.RetConstant{Val: drop})
}

// awaitReply reads frames from fd until a TCP segment from vip to us
// carries SYN-ACK or RST, or ctx ends. It polls in short slices so a
// cancelled ctx ends the wait promptly.
func awaitReply(ctx context.Context, fd int, vip, us netip.AddrPort) (tcpSegment, error) {
	const slice = 50 * time.Millisecond
	buf := make([]byte, 2048)
	for {
		if err := ctx.Err(); err != nil {
			return tcpSegment{}, err
		}
		wait := slice
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			wait = max(time.Until(dl), time.Millisecond)
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, int(wait.Milliseconds()))
		if errors.Is(err, unix.EINTR) || n == 0 {
			continue
		}
		if err != nil {
			return tcpSegment{}, fmt.Errorf("poll packet socket: %w", err)
		}
		// Drain what is queued before polling again.
		for {
			m, from, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				break
			}
			if err != nil {
				return tcpSegment{}, fmt.Errorf("read packet socket: %w", err)
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
				continue
			}
			seg, ok := parseTCPFrame(buf[:m])
			if !ok || seg.Src != vip || seg.Dst != us {
				continue
			}
			if seg.Flags&tcpRST != 0 || seg.Flags&(tcpSYN|tcpACK) == tcpSYN|tcpACK {
				return seg, nil
			}
		}
	}
}

// TCP flags (RFC 9293 section 3.1).
const (
	tcpFIN = 1 << 0
	tcpSYN = 1 << 1
	tcpRST = 1 << 2
	tcpACK = 1 << 4
)

// Header sizes in bytes, without options.
const (
	ethHeaderLen  = 14
	ipv4HeaderLen = 20
	ipv6HeaderLen = 40
	tcpHeaderLen  = 20
)

// tcpSegment is the part of a TCP segment the check writes and reads.
type tcpSegment struct {
	Src, Dst netip.AddrPort
	Seq, Ack uint32
	Flags    uint8
	Window   uint16
}

// frame returns s in an Ethernet frame from srcMAC to dstMAC, with an
// option-less IP header and TCP header and both checksums filled in.
func (s tcpSegment) frame(dstMAC, srcMAC net.HardwareAddr) []byte {
	v4 := s.Src.Addr().Is4()
	ipLen := ipv6HeaderLen
	ethType := uint16(unix.ETH_P_IPV6)
	if v4 {
		ipLen, ethType = ipv4HeaderLen, unix.ETH_P_IP
	}
	b := make([]byte, ethHeaderLen+ipLen+tcpHeaderLen)
	copy(b[0:6], dstMAC)
	copy(b[6:12], srcMAC)
	binary.BigEndian.PutUint16(b[12:], ethType)
	ip := b[ethHeaderLen:]
	src, dst := s.Src.Addr().AsSlice(), s.Dst.Addr().AsSlice()
	if v4 {
		ip[0] = 0x45 // version 4, 5 words
		binary.BigEndian.PutUint16(ip[2:], ipv4HeaderLen+tcpHeaderLen)
		binary.BigEndian.PutUint16(ip[4:], uint16(rand.Uint32()))
		ip[6] = 0x40 // don't fragment
		ip[8] = 64
		ip[9] = unix.IPPROTO_TCP
		copy(ip[12:], src)
		copy(ip[16:], dst)
		binary.BigEndian.PutUint16(ip[10:], ^uint16(checksum(0, ip[:ipv4HeaderLen])))
	} else {
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], tcpHeaderLen)
		ip[6] = unix.IPPROTO_TCP
		ip[7] = 64
		copy(ip[8:], src)
		copy(ip[24:], dst)
	}
	t := ip[ipLen:]
	binary.BigEndian.PutUint16(t[0:], s.Src.Port())
	binary.BigEndian.PutUint16(t[2:], s.Dst.Port())
	binary.BigEndian.PutUint32(t[4:], s.Seq)
	binary.BigEndian.PutUint32(t[8:], s.Ack)
	t[12] = tcpHeaderLen / 4 << 4
	t[13] = s.Flags
	binary.BigEndian.PutUint16(t[14:], s.Window)
	// RFC 9293 section 3.1: the checksum covers a pseudo-header of the
	// addresses, protocol and TCP length (RFC 8200 section 8.1 for IPv6).
	sum := checksum(0, src)
	sum = checksum(sum, dst)
	sum += unix.IPPROTO_TCP + uint32(len(t))
	binary.BigEndian.PutUint16(t[16:], ^uint16(checksum(sum, t)))
	return b
}

// parseTCPFrame decodes an Ethernet frame holding an IPv4 or IPv6 packet
// whose payload is TCP. It does not verify checksums: the kernel or NIC
// already dropped corrupt frames, and a bogus reply can at worst make one
// attempt wrong. IPv6 extension headers and IPv4 fragments are not
// followed; a SYN-ACK or RST carries neither.
func parseTCPFrame(b []byte) (tcpSegment, bool) {
	if len(b) < ethHeaderLen {
		return tcpSegment{}, false
	}
	ethType := binary.BigEndian.Uint16(b[12:])
	ip := b[ethHeaderLen:]
	var src, dst netip.Addr
	var t []byte
	switch ethType {
	case unix.ETH_P_IP:
		if len(ip) < ipv4HeaderLen || ip[0]>>4 != 4 || ip[9] != unix.IPPROTO_TCP {
			return tcpSegment{}, false
		}
		ihl := int(ip[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(ip[2:]))
		frag := binary.BigEndian.Uint16(ip[6:]) & 0x3fff // offset and more-fragments
		if ihl < ipv4HeaderLen || total < ihl || total > len(ip) || frag != 0 {
			return tcpSegment{}, false
		}
		src = netip.AddrFrom4([4]byte(ip[12:16]))
		dst = netip.AddrFrom4([4]byte(ip[16:20]))
		t = ip[ihl:total]
	case unix.ETH_P_IPV6:
		if len(ip) < ipv6HeaderLen || ip[0]>>4 != 6 || ip[6] != unix.IPPROTO_TCP {
			return tcpSegment{}, false
		}
		payload := int(binary.BigEndian.Uint16(ip[4:]))
		if ipv6HeaderLen+payload > len(ip) {
			return tcpSegment{}, false
		}
		src = netip.AddrFrom16([16]byte(ip[8:24]))
		dst = netip.AddrFrom16([16]byte(ip[24:40]))
		t = ip[ipv6HeaderLen : ipv6HeaderLen+payload]
	default:
		return tcpSegment{}, false
	}
	if len(t) < tcpHeaderLen || int(t[12]>>4)*4 < tcpHeaderLen || int(t[12]>>4)*4 > len(t) {
		return tcpSegment{}, false
	}
	return tcpSegment{
		Src:    netip.AddrPortFrom(src, binary.BigEndian.Uint16(t[0:])),
		Dst:    netip.AddrPortFrom(dst, binary.BigEndian.Uint16(t[2:])),
		Seq:    binary.BigEndian.Uint32(t[4:]),
		Ack:    binary.BigEndian.Uint32(t[8:]),
		Flags:  t[13],
		Window: binary.BigEndian.Uint16(t[14:]),
	}, true
}

// checksum adds b to the ones' complement sum (RFC 1071) and returns it
// folded to 16 bits; callers complement the final sum.
func checksum(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return sum
}

// htons converts a 16-bit value to network byte order for the socket
// calls that want it so.
func htons(v uint16) uint16 { return v<<8 | v>>8 }
