package maps

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/cilium/ebpf"

	"xlb/bpf"
)

// MaxFNATPool is the most local addresses one full-NAT service's pool
// holds (FNAT_POOL_MAX in bpf/consts.h).
const MaxFNATPool = len(bpf.XlbFnatPool{}.Addrs)

// Default local port range of a full-NAT pool: the ports below 1024 are
// left to services the node runs itself.
const (
	DefaultFNATPortMin = 1024
	DefaultFNATPortMax = 65535
)

// FNATPool is a full-NAT service's local addresses (keepalived's
// local_address_group, as the Alibaba LVS fork names it) and the local
// ports its flows take. A new flow gets one (address, port) pair that no
// live flow to the same real and real port holds; each address gives a
// real PortMax - PortMin + 1 flows at once.
type FNATPool struct {
	// Addrs are the local addresses, all of the service's family, at most
	// MaxFNATPool. They must be this node's (the reals' ARP/ND for them
	// must reach it), on or routed to the interfaces marked with
	// SetFNATInside.
	Addrs []netip.Addr
	// PortMin and PortMax bound the local ports; zero values mean
	// DefaultFNATPortMin and DefaultFNATPortMax.
	PortMin, PortMax uint16
}

// PutFNATPool installs pool as the local addresses of full-NAT service
// serviceID, replacing the old pool whole (a first packet reads one or
// the other). Flows keep the pair they have. A service without a pool
// drops its new flows (drop_fnat_no_port).
func (d *Dataplane) PutFNATPool(serviceID uint32, pool FNATPool) error {
	val, err := fnatPoolValue(pool)
	if err == nil {
		err = d.checkServiceID(serviceID)
	}
	if err == nil {
		err = d.fnatPools.Update(serviceID, &val, ebpf.UpdateAny)
	}
	if err != nil {
		return fmt.Errorf("put fnat pool of service %d: %w", serviceID, err)
	}
	return nil
}

func fnatPoolValue(pool FNATPool) (bpf.XlbFnatPool, error) {
	var val bpf.XlbFnatPool
	if len(pool.Addrs) == 0 || len(pool.Addrs) > MaxFNATPool {
		return val, fmt.Errorf("addrs: want 1..%d, got %d", MaxFNATPool, len(pool.Addrs))
	}
	val.PortMin, val.PortMax = pool.PortMin, pool.PortMax
	if val.PortMin == 0 {
		val.PortMin = DefaultFNATPortMin
	}
	if val.PortMax == 0 {
		val.PortMax = DefaultFNATPortMax
	}
	if val.PortMax < val.PortMin {
		return val, fmt.Errorf("ports: want min <= max, got %d-%d", val.PortMin, val.PortMax)
	}
	is4 := pool.Addrs[0].Unmap().Is4()
	for i, a := range pool.Addrs {
		a = a.Unmap()
		switch {
		case !a.IsValid() || a.IsUnspecified():
			return val, fmt.Errorf("addr %d: want an address, got %q", i, a)
		case a.Zone() != "":
			return val, fmt.Errorf("addr %s: want no zone", a)
		case a.Is4() != is4:
			return val, fmt.Errorf("addr %s: want the family of %s", a, pool.Addrs[0])
		}
		val.Addrs[i] = a.As16()
	}
	val.Count = uint32(len(pool.Addrs))
	return val, nil
}

// DeleteFNATPool removes the pool of service serviceID; ErrNotFound if
// there is none.
func (d *Dataplane) DeleteFNATPool(serviceID uint32) error {
	err := d.checkServiceID(serviceID)
	if err == nil {
		err = d.fnatPools.Delete(serviceID)
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			err = ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("delete fnat pool of service %d: %w", serviceID, err)
	}
	return nil
}

// SetFNATInside marks the interface ifindex as facing full-NAT reals
// (inside true) or not: TCP and UDP arriving there are first looked up
// as full-NAT replies (one hash lookup). Independent of SetInside.
func (d *Dataplane) SetFNATInside(ifindex int, inside bool) error {
	if ifindex < 1 || ifindex > MaxIfindex {
		return fmt.Errorf("set fnat inside %d: ifindex: want 1..%d, got %d", ifindex, MaxIfindex, ifindex)
	}
	if err := d.setIfaceFlag(ifindex, bpf.XlbIfaceFlagIFACE_F_FNAT, inside); err != nil {
		return fmt.Errorf("set fnat inside %d: %w", ifindex, err)
	}
	return nil
}

// FNATConn is a tracked full-NAT flow as the client sends it: the
// connection table's entry and the local end the real sees.
type FNATConn struct {
	Conn
	Local netip.AddrPort // the flow's new source: a pool address and port
	Real  uint16         // the real's port the flow's destination became
}

// LookupFNAT returns the full-NAT forward entry of f, a client's 5-tuple
// (client to VIP), if any.
func (d *Dataplane) LookupFNAT(f Flow) (FNATConn, bool, error) {
	_, key, err := d.flowKey(f)
	if err != nil {
		return FNATConn{}, false, fmt.Errorf("lookup fnat %s: %w", f, err)
	}
	v, ok, err := d.fnatForward().lookup(key)
	if err != nil || !ok {
		return FNATConn{}, false, fmtErr(err, "lookup fnat %s", f)
	}
	return fnatConnFromC(v), true, nil
}

// fnatTables is one kind of full-NAT table, forward or reverse, in both
// families as Go reads it: arrays of sets of ConnWays entries V (IPv4
// sets S4, IPv6 S6), keys apart from values, a key's set named by the
// connection tables' hash (bpf/fnat.h).
type fnatTables[S4, S6, V any] struct {
	m4, m6       *ebpf.Map
	sets4, sets6 uint32
	ways4        func(*S4) [ConnWays]tableWay[V]
	ways6        func(*S6) [ConnWays]tableWay[V]
}

// fnatForward returns the forward tables fnat4 and fnat6 (client flow
// keys); fnatReverse the reverse tables fnat_rev4 and fnat_rev6 (reply
// flow keys). Both are sized by FNATTableSize and FNATTableSize6.
func (d *Dataplane) fnatForward() fnatTables[bpf.XlbFnatSet4, bpf.XlbFnatSet6, bpf.XlbFnatConn] {
	return fnatTables[bpf.XlbFnatSet4, bpf.XlbFnatSet6, bpf.XlbFnatConn]{d.fnat4, d.fnat6,
		connSetCount(d.opts.FNATTableSize), connSetCount(d.opts.FNATTableSize6),
		func(s *bpf.XlbFnatSet4) [ConnWays]tableWay[bpf.XlbFnatConn] { return waysApart(s.Key, s.Val) },
		func(s *bpf.XlbFnatSet6) [ConnWays]tableWay[bpf.XlbFnatConn] { return waysApart(s.Key, s.Val) }}
}

func (d *Dataplane) fnatReverse() fnatTables[bpf.XlbFnatRevSet4, bpf.XlbFnatRevSet6, bpf.XlbFnatRev] {
	return fnatTables[bpf.XlbFnatRevSet4, bpf.XlbFnatRevSet6, bpf.XlbFnatRev]{d.fnatRev4, d.fnatRev6,
		connSetCount(d.opts.FNATTableSize), connSetCount(d.opts.FNATTableSize6),
		func(s *bpf.XlbFnatRevSet4) [ConnWays]tableWay[bpf.XlbFnatRev] { return waysApart(s.Key, s.Val) },
		func(s *bpf.XlbFnatRevSet6) [ConnWays]tableWay[bpf.XlbFnatRev] { return waysApart(s.Key, s.Val) }}
}

// lookup returns the entry of key (*bpf.XlbFlow4: IPv4) in t, if its set
// holds one.
func (t fnatTables[S4, S6, V]) lookup(key any) (V, bool, error) {
	var ways [ConnWays]tableWay[V]
	var err error
	if _, v4 := key.(*bpf.XlbFlow4); v4 {
		ways, err = readWays(t.m4, connSetIndex(key, t.sets4), t.ways4)
	} else {
		ways, err = readWays(t.m6, connSetIndex(key, t.sets6), t.ways6)
	}
	var none V
	if err != nil {
		return none, false, err
	}
	if i := findWay(ways, key); i >= 0 {
		return ways[i].val, true, nil
	}
	return none, false, nil
}

// walk calls fn with every entry of t, IPv4 then IPv6, expired ones too
// (a new flow takes their way over).
func (t fnatTables[S4, S6, V]) walk(fn func(key any, val V)) error {
	if err := walkWays(t.m4, t.ways4, fn); err != nil {
		return err
	}
	return walkWays(t.m6, t.ways6, fn)
}

func fnatConnFromC(v bpf.XlbFnatConn) FNATConn {
	return FNATConn{Conn: connFromC(v.Conn), Local: netip.AddrPortFrom(netip.AddrFrom16(v.Laddr).Unmap(), htons(v.Lport)),
		Real: htons(v.Rport)}
}

// FNATReply is a full-NAT flow as the reverse table knows it: whose it
// is. It is how a real learns its client (docs/operator-guide.md).
type FNATReply struct {
	Client    netip.AddrPort // the reply's new destination
	VIP       netip.AddrPort // the reply's new source
	ServiceID uint32
	RealID    uint32
	State     ConnState
	LastSeen  time.Duration
	Hop       NextHop // the replies' cached next hop
}

// LookupFNATReply returns the full-NAT reverse entry for reply, the
// 5-tuple of a packet from the real (Src: real address and port) to the
// local address and port it was connected from, if any.
func (d *Dataplane) LookupFNATReply(reply Flow) (FNATReply, bool, error) {
	_, key, err := d.flowKey(reply)
	if err != nil {
		return FNATReply{}, false, fmt.Errorf("lookup fnat reply %s: %w", reply, err)
	}
	v, ok, err := d.fnatReverse().lookup(key)
	if err != nil || !ok {
		return FNATReply{}, false, fmtErr(err, "lookup fnat reply %s", reply)
	}
	return fnatReplyFromC(v), true, nil
}

func fnatReplyFromC(v bpf.XlbFnatRev) FNATReply {
	return FNATReply{
		Client:    netip.AddrPortFrom(netip.AddrFrom16(v.Client).Unmap(), htons(v.Cport)),
		VIP:       netip.AddrPortFrom(netip.AddrFrom16(v.Vip).Unmap(), htons(v.Vport)),
		ServiceID: v.ServiceId, RealID: v.RealId, State: ConnState(v.State), LastSeen: time.Duration(v.LastSeen),
		Hop: nextHopFromC(v.Hop, v.HopMtu),
	}
}

// fmtErr wraps err with what failed (format and args), nil if err is.
func fmtErr(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
