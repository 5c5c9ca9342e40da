package maps

import (
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
	// CLOCK_MONOTONIC (coarse; refreshed at most once a second).
	LastSeen time.Duration
}

// flowKey converts f to the conns key, as the program builds it from a
// packet: 16-byte addresses (IPv4 v4-mapped), ports in network order.
func flowKey(f Flow) (bpf.XlbFlow, error) {
	src, dst := f.Src.Addr().Unmap(), f.Dst.Addr().Unmap()
	switch {
	case !src.IsValid() || !dst.IsValid():
		return bpf.XlbFlow{}, errors.New("addr: missing")
	case src.Is4() != dst.Is4():
		return bpf.XlbFlow{}, errors.New("addr: source and destination of different families")
	case f.Proto != unix.IPPROTO_TCP && f.Proto != unix.IPPROTO_UDP:
		return bpf.XlbFlow{}, fmt.Errorf("proto: want tcp (6) or udp (17), got %d", f.Proto)
	}
	return bpf.XlbFlow{
		Saddr: src.As16(), Daddr: dst.As16(),
		Sport: htons(f.Src.Port()), Dport: htons(f.Dst.Port()),
		Proto: f.Proto,
	}, nil
}

// LookupConn returns the connection table's entry for f, if any. An entry
// may be expired (the program reschedules it on the flow's next packet);
// compare LastSeen with MonotonicNow and the timeouts.
func (d *Dataplane) LookupConn(f Flow) (Conn, bool, error) {
	key, err := flowKey(f)
	if err != nil {
		return Conn{}, false, fmt.Errorf("lookup conn %s: %w", f, err)
	}
	var c bpf.XlbConn
	if err := d.conns.Lookup(&key, &c); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return Conn{}, false, nil
		}
		return Conn{}, false, fmt.Errorf("lookup conn %s: %w", f, err)
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
