package maps

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"xlb/bpf"
)

// ConnState is a tracked flow's light TCP state (enum conn_state in C).
type ConnState = bpf.XlbConnState

// Tracked flow states. DR and TUN see only the client's packets, so the
// state follows the client's TCP flags alone.
const (
	ConnSYN         ConnState = bpf.XlbConnStateCONN_SYN         // SYN seen, no ACK yet
	ConnEstablished ConnState = bpf.XlbConnStateCONN_ESTABLISHED // an ACK seen
	ConnClosing     ConnState = bpf.XlbConnStateCONN_CLOSING     // FIN or RST seen
	ConnUDP         ConnState = bpf.XlbConnStateCONN_UDP         // a UDP flow
)

// Flow is a 5-tuple as a client sends it: client to VIP.
type Flow struct {
	Src, Dst netip.AddrPort
	Proto    uint8 // unix.IPPROTO_TCP or unix.IPPROTO_UDP
}

// String formats f as "198.18.1.10:40000->198.18.0.100:80/tcp".
func (f Flow) String() string {
	return f.Src.String() + "->" + ServiceKey{Addr: f.Dst.Addr(), Port: f.Dst.Port(), Proto: f.Proto}.String()
}

// Conn is a tracked flow: the connection table's entry.
type Conn struct {
	RealID  uint32
	RealGen uint16 // the real's generation when the flow was scheduled (see PutReal)
	State   ConnState
	// LastSeen is when the program last refreshed the entry, on
	// CLOCK_MONOTONIC_COARSE (refreshed at most once a second; the program
	// reads the clock once per jiffy and CPU, so it may lag one tick).
	LastSeen time.Duration
}

// flowKey converts f to its key in the connection table of its family, as
// the program builds it from a packet, and names that table: IPv4 flows go
// to conns4 (*bpf.XlbFlow4: addresses as 4 bytes), IPv6 flows to conns6
// (*bpf.XlbFlow: 16-byte addresses). Ports in network order.
func (d *Dataplane) flowKey(f Flow) (*ebpf.Map, any, error) {
	src, dst := f.Src.Addr().Unmap(), f.Dst.Addr().Unmap()
	switch {
	case !src.IsValid() || !dst.IsValid():
		return nil, nil, errors.New("addr: missing")
	case src.Is4() != dst.Is4():
		return nil, nil, errors.New("addr: source and destination of different families")
	case f.Proto != unix.IPPROTO_TCP && f.Proto != unix.IPPROTO_UDP:
		return nil, nil, fmt.Errorf("proto: want tcp (6) or udp (17), got %d", f.Proto)
	}
	sport, dport := htons(f.Src.Port()), htons(f.Dst.Port())
	if src.Is4() {
		s4, d4 := src.As4(), dst.As4()
		return d.conns4, &bpf.XlbFlow4{
			Saddr: binary.NativeEndian.Uint32(s4[:]), Daddr: binary.NativeEndian.Uint32(d4[:]),
			Sport: sport, Dport: dport, Proto: f.Proto,
		}, nil
	}
	return d.conns6, &bpf.XlbFlow{Saddr: src.As16(), Daddr: dst.As16(), Sport: sport, Dport: dport, Proto: f.Proto}, nil
}

// flowFromKey is flowKey's inverse, for either key type.
func flowFromKey(key any) Flow {
	switch k := key.(type) {
	case *bpf.XlbFlow4:
		var s, d [4]byte
		binary.NativeEndian.PutUint32(s[:], k.Saddr)
		binary.NativeEndian.PutUint32(d[:], k.Daddr)
		return Flow{Src: netip.AddrPortFrom(netip.AddrFrom4(s), htons(k.Sport)),
			Dst: netip.AddrPortFrom(netip.AddrFrom4(d), htons(k.Dport)), Proto: k.Proto}
	case *bpf.XlbFlow:
		return Flow{Src: netip.AddrPortFrom(netip.AddrFrom16(k.Saddr).Unmap(), htons(k.Sport)),
			Dst: netip.AddrPortFrom(netip.AddrFrom16(k.Daddr).Unmap(), htons(k.Dport)), Proto: k.Proto}
	}
	panic(fmt.Sprintf("flowFromKey: %T is no conns key", key))
}

// LookupConn returns the connection table's entry for f, if any, from the
// table of f's family. An entry may be expired (the program reschedules it
// on the flow's next packet); compare LastSeen with MonotonicNow and the
// timeouts.
func (d *Dataplane) LookupConn(f Flow) (Conn, bool, error) {
	m, key, err := d.flowKey(f)
	if err != nil {
		return Conn{}, false, fmt.Errorf("lookup conn %s: %w", f, err)
	}
	c, ok, err := d.connTableOf(m).lookupConnEntry(key)
	if err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("lookup conn %s: %w", f, err)
		}
		return Conn{}, false, err
	}
	return connFromC(c), true, nil
}

func connFromC(c bpf.XlbConn) Conn {
	return Conn{RealID: c.RealId, RealGen: c.RealGen, State: ConnState(c.State), LastSeen: time.Duration(c.LastSeen)}
}

// MonotonicNow is the program's clock (bpf_ktime_get_coarse_ns,
// CLOCK_MONOTONIC_COARSE), to compare with Conn.LastSeen.
func MonotonicNow() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC_COARSE, &ts); err != nil {
		panic(fmt.Sprintf("clock_gettime(CLOCK_MONOTONIC_COARSE): %v", err)) // cannot fail on Linux
	}
	return time.Duration(ts.Nano())
}

// Reply is a NAT flow as the reverse table knows it: what a reply's source
// becomes and whose counters it bumps.
type Reply struct {
	VIP       netip.AddrPort // the reply's new source
	ServiceID uint32
	RealID    uint32
	State     ConnState // mirrors the forward entry's (see bpf/nat.h)
	LastSeen  time.Duration
	Hop       NextHop // the replies' cached next hop
}

// replyKey converts a reply's 5-tuple (real to client) to its key in nat4
// or nat6, and names that table; as flowKey.
func (d *Dataplane) replyKey(f Flow) (natTable, any, error) {
	_, key, err := d.flowKey(f)
	if err != nil {
		return natTable{}, nil, err
	}
	return d.natTableOf(key), key, nil
}

// LookupReply returns the NAT reverse entry for reply, the 5-tuple of a
// packet from the real (Src: real address and port) to the client, if any.
func (d *Dataplane) LookupReply(reply Flow) (Reply, bool, error) {
	t, key, err := d.replyKey(reply)
	if err != nil {
		return Reply{}, false, fmt.Errorf("lookup reply %s: %w", reply, err)
	}
	v, ok, err := t.lookup(key)
	if err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("lookup reply %s: %w", reply, err)
		}
		return Reply{}, false, err
	}
	return replyFromC(v), true, nil
}

func replyFromC(v bpf.XlbNatRev) Reply {
	return Reply{VIP: netip.AddrPortFrom(netip.AddrFrom16(v.Vip).Unmap(), htons(v.Vport)), ServiceID: v.ServiceId,
		RealID: v.RealId, State: ConnState(v.State), LastSeen: time.Duration(v.LastSeen), Hop: nextHopFromC(v.Hop, v.HopMtu)}
}
