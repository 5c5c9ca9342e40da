package maps

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"net"
	"net/netip"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"xlb/bpf"
)

// MaxTableSize is the largest Maglev table, in slots: MAGLEV_TABLE_MAX in
// bpf/consts.h.
const MaxTableSize = 65537

// slotsPerBucket is how many Maglev slots one inner table entry (struct
// maglev_bucket) holds, taken from the generated type so that it follows
// the C.
const slotsPerBucket = len(bpf.XlbMaglevBucket{}.RealId)

// ErrNotFound is returned, wrapped, when a delete finds nothing to delete.
var ErrNotFound = errors.New("not found")

// Kind is how a service forwards to its reals (enum lb_kind in C).
type Kind = bpf.XlbLbKind

// Forwarding methods (keepalived's lb_kind).
const (
	// KindDR is direct routing: the frame goes to the real with only its
	// MAC addresses rewritten; the real owns the VIP too.
	KindDR Kind = bpf.XlbLbKindLB_KIND_DR
	// KindTUN is IP tunnelling: the packet goes to the real inside an outer
	// IPv4 or IPv6 header (IPIP, IP6IP6, IPv4-in-IPv6 or IPv6-in-IPv4, by
	// the families of the real and the packet) from Service.TunnelSrc to
	// Real.Addr; the real decapsulates it and owns the VIP.
	KindTUN Kind = bpf.XlbLbKindLB_KIND_TUN
	// KindNAT is masquerading (LVS NAT): the packet's destination becomes
	// Real.Addr and Real.Port, and the real's replies, which must route
	// back through this node and arrive on an interface marked with
	// SetInside, get the VIP and its port back as their source. Both
	// directions are routed with the kernel's FIB (bpf_fib_lookup), so
	// the node needs IP forwarding on; a missing neighbour or route sends
	// the rewritten packet through the stack (reasons pass_no_neigh,
	// pass_fib, and reply_* for replies). The real must be of the VIP's
	// family (else drop_family).
	KindNAT Kind = bpf.XlbLbKindLB_KIND_NAT
	// KindFNAT is full NAT: as KindNAT, and the source becomes a local
	// address and port from the service's pool (PutFNATPool), so the
	// reals answer this node whatever their routes. Replies arrive on
	// interfaces marked with SetFNATInside. Flows are tracked in tables
	// of their own (LookupFNAT, LookupFNATReply).
	KindFNAT Kind = bpf.XlbLbKindLB_KIND_FNAT
)

// HashKey is what a service's Maglev slot is chosen by for a new flow. The
// zero value is HashFlow.
type HashKey uint8

// Scheduler keys (keepalived's lb_algo mh, sh and dh).
const (
	// HashFlow hashes the 5-tuple (sched.FlowHash): mh, each flow on its own.
	HashFlow HashKey = iota
	// HashSource hashes the client address alone (sched.AddrHash): sh, all
	// of a client's flows go to one real.
	HashSource
	// HashDest hashes the destination address alone (sched.AddrHash): dh,
	// all flows to one address go to one real.
	HashDest
)

// String names k by its lb_algo: "mh", "sh" or "dh".
func (k HashKey) String() string {
	switch k {
	case HashFlow:
		return "mh"
	case HashSource:
		return "sh"
	case HashDest:
		return "dh"
	}
	return fmt.Sprintf("HashKey(%d)", uint8(k))
}

// Scheduler is how a service picks the real of a new flow (enum
// sched_kind in C). The zero value is SchedMaglev.
type Scheduler = bpf.XlbSchedKind

// Schedulers (keepalived's lb_algo). The rules are IPVS's, as
// controlplane/sched documents them with the data plane's deviations.
const (
	// SchedMaglev looks the flow up in the service's Maglev table, keyed
	// by Service.Hash: mh, sh or dh (SwapTable).
	SchedMaglev Scheduler = bpf.XlbSchedKindSCHED_MAGLEV
	// SchedRR and SchedWRR take the next id of the service's sequence
	// (SwapSequence: sched.RRSequence or sched.WRRSequence), each CPU
	// walking it from its own position. The program treats both alike;
	// the names say which sequence the control plane built.
	SchedRR  Scheduler = bpf.XlbSchedKindSCHED_RR
	SchedWRR Scheduler = bpf.XlbSchedKindSCHED_WRR
	// SchedLC, SchedWLC, SchedSED and SchedNQ scan the service's reals
	// (SwapSchedReals) with the shared connection counts (RealConnCounts).
	SchedLC  Scheduler = bpf.XlbSchedKindSCHED_LC
	SchedWLC Scheduler = bpf.XlbSchedKindSCHED_WLC
	SchedSED Scheduler = bpf.XlbSchedKindSCHED_SED
	SchedNQ  Scheduler = bpf.XlbSchedKindSCHED_NQ
	// SchedLBLC and SchedLBLCR send a new flow where earlier flows to its
	// destination address went (the localities table: one real, or a set
	// of up to MaxLocalitySet), unless that real is overloaded; else wlc
	// over the service's reals (SwapSchedReals) picks, and is recorded
	// (LookupLocality).
	SchedLBLC  Scheduler = bpf.XlbSchedKindSCHED_LBLC
	SchedLBLCR Scheduler = bpf.XlbSchedKindSCHED_LBLCR
)

// schedNames are the lb_algo names of the schedulers; Maglev's depends on
// Service.Hash.
var schedNames = map[Scheduler]string{SchedRR: "rr", SchedWRR: "wrr", SchedLC: "lc", SchedWLC: "wlc", SchedSED: "sed", SchedNQ: "nq",
	SchedLBLC: "lblc", SchedLBLCR: "lblcr"}

// usesTable says whether s reads maglev_tables: a Maglev table or a
// sequence, whose length is Service.TableSize.
func usesTable(s Scheduler) bool { return s <= SchedWRR }

// MaxSchedReals is the most reals an lc, wlc, sed, nq, lblc or lblcr service may have
// (MAX_SCHED_REALS in bpf/consts.h): a new flow scans them all, so the
// scan is bounded. Larger services need rr, wrr or a Maglev scheduler.
const MaxSchedReals = len(bpf.XlbSchedList{}.Reals)

// MaxSequenceLen is the longest rr/wrr sequence SwapSequence takes: as
// many ids as the largest Maglev table (controlplane/sched.MaxSequenceLen
// must not exceed it).
const MaxSequenceLen = MaxTableSize

// SchedReal is one real of an lc, wlc, sed, nq, lblc or lblcr service.
type SchedReal struct {
	ID     uint32 `json:"id"`
	Weight uint32 `json:"weight"` // 0: quiesced, never picked for a new flow
}

// ServiceKey identifies a service. The zero value is invalid.
type ServiceKey struct {
	Addr  netip.Addr
	Port  uint16
	Proto uint8 // unix.IPPROTO_TCP or unix.IPPROTO_UDP
}

// String formats k as "198.18.0.100:80/tcp".
func (k ServiceKey) String() string {
	proto := fmt.Sprintf("proto%d", k.Proto)
	switch k.Proto {
	case unix.IPPROTO_TCP:
		proto = "tcp"
	case unix.IPPROTO_UDP:
		proto = "udp"
	}
	return netip.AddrPortFrom(k.Addr, k.Port).String() + "/" + proto
}

// Service is the data plane's view of a virtual service.
type Service struct {
	ID        uint32 // 1..MaxServices; indexes its Maglev table and counters
	TableSize uint32 // Maglev slots: prime, <= MaxTableSize
	Kind      Kind
	// TunnelSrc is the outer source address of KindTUN packets (the
	// control plane's default: the address of the interface facing the
	// reals). Its family must be the reals': a real of the other family
	// gets no packets (reason drop_tunnel). Unused for KindDR.
	TunnelSrc netip.Addr
	// DropRemoved drops the packets of tracked flows whose real was
	// removed (RemoveReal, DeleteReal or replaced), instead of rescheduling
	// them onto the current table. Either way new flows use the table.
	DropRemoved bool
	// Hash is what the table slot of a new flow is chosen by under
	// SchedMaglev; tracked flows keep their real whatever it is. Other
	// schedulers need HashFlow.
	Hash HashKey
	// Scheduler picks the real of a new flow; the zero value is
	// SchedMaglev. TableSize is a Maglev table's size (prime) under
	// SchedMaglev, the sequence's length (1..MaxSequenceLen) under
	// SchedRR and SchedWRR, and unused (0) otherwise.
	Scheduler Scheduler
	// Persist is persistence_timeout: while a client's template is this
	// fresh, its new flows go to the template's real (persist.go); 0: no
	// persistence. Whole seconds, up to MaxPersistTimeout.
	Persist time.Duration
	// PersistPrefix is persistence_granularity as a prefix length: the
	// client addresses that share a template. 0 means a host (/32, /128);
	// above the VIP family's bits it is that.
	PersistPrefix int
	// OnePacket is ops (UDP only): every packet is scheduled on its own
	// and nothing is tracked (reason ops; a NAT service still writes the
	// reverse entry of each packet so that replies find the VIP).
	OnePacket bool
}

// Real is a backend server and how to reach it. A real of a KindNAT
// service may leave MAC, SrcMAC and Ifindex zero (a routed real: the
// program asks the FIB); DR and TUN services drop packets for a routed
// real (reason drop_no_real).
type Real struct {
	Addr    netip.Addr       // IPv4 or IPv6; KindTUN's outer destination, KindNAT's new destination
	MAC     net.HardwareAddr // next hop's MAC: the real's (DR), or its gateway's (TUN)
	SrcMAC  net.HardwareAddr // MAC of Ifindex, the source of forwarded frames
	Ifindex int              // interface that reaches the real; 0: routed (NAT only)
	// Port is KindNAT's new destination port (keepalived's real_server
	// port); 0 keeps the VIP's port. DR and TUN ignore it.
	Port uint16
	// MTU is Ifindex's MTU as last read (above 65535: 65535). A KindTUN
	// packet that fits it once encapsulated goes without asking the
	// kernel; a larger one asks (bpf_check_mtu), so 0 always asks. The
	// caller rewrites the real when the interface's MTU changes: until
	// then a lowered MTU is missed for packets between the two sizes.
	MTU int
	// Quiesced says the real has weight 0: its tracked flows stay, but
	// persistence templates that name it are ignored and rewritten.
	Quiesced bool
	// ServiceID is the service this real serves (the control plane gives
	// each service reals of its own): a tracked packet then finds its
	// service through the real instead of a services lookup (bpf/fast.h).
	// 0 costs that lookup and nothing else.
	ServiceID uint32
}

// Counters are a real's traffic totals summed over CPUs (a service's are
// its reals' sums: Add). Packets and Bytes count client to real (every
// kind); OutPackets and OutBytes real to client, which only KindNAT and
// KindFNAT see (DR and TUN replies bypass the node). ICMP errors the
// program forwards to or from a flow's real count as its packets do.
type Counters struct {
	Packets    uint64 `json:"packets"`
	Bytes      uint64 `json:"bytes"` // whole frames, Ethernet header included
	OutPackets uint64 `json:"out_packets,omitempty"`
	OutBytes   uint64 `json:"out_bytes,omitempty"`
	// Connections counts new flows: a flow scheduled (first packet, or
	// a tracked one rescheduled after expiry or its real's removal) and
	// forwarded.
	Connections uint64 `json:"connections,omitempty"`
}

// Add returns the sum of c and o, field by field: a service's counters
// are the sum of its reals'.
func (c Counters) Add(o Counters) Counters {
	return Counters{Packets: c.Packets + o.Packets, Bytes: c.Bytes + o.Bytes, OutPackets: c.OutPackets + o.OutPackets,
		OutBytes: c.OutBytes + o.OutBytes, Connections: c.Connections + o.Connections}
}

// vipKey converts k to the IPv6 services key: the address as 16 bytes
// (IPv4 v4-mapped), the port in network order as the program copies it
// from the TCP/UDP header. The program looks IPv4 VIPs up in services4
// (serviceKey).
func vipKey(k ServiceKey) (bpf.XlbVipKey, error) {
	addr := k.Addr.Unmap()
	switch {
	case !addr.IsValid():
		return bpf.XlbVipKey{}, errors.New("addr: missing")
	case addr.Zone() != "":
		return bpf.XlbVipKey{}, fmt.Errorf("addr: want no zone, got %q", addr.Zone())
	case k.Proto != unix.IPPROTO_TCP && k.Proto != unix.IPPROTO_UDP:
		return bpf.XlbVipKey{}, fmt.Errorf("proto: want tcp (6) or udp (17), got %d", k.Proto)
	}
	return bpf.XlbVipKey{Addr: addr.As16(), Port: htons(k.Port), Proto: k.Proto}, nil
}

// serviceKey returns k's key in the services map of its family, and that
// map: services4 (*bpf.XlbVip4Key) for an IPv4 VIP, services
// (*bpf.XlbVipKey) for an IPv6 one.
func (d *Dataplane) serviceKey(k ServiceKey) (*ebpf.Map, any, error) {
	key, err := vipKey(k)
	if err != nil {
		return nil, nil, err
	}
	if addr := k.Addr.Unmap(); addr.Is4() {
		a4 := addr.As4()
		return d.services4, &bpf.XlbVip4Key{Addr: binary.NativeEndian.Uint32(a4[:]), Port: key.Port, Proto: key.Proto}, nil
	}
	return d.services, &key, nil
}

// htons returns the uint16 whose in-memory bytes are v in network order.
// bpf2go output only builds for little-endian targets (bpfel).
func htons(v uint16) uint16 { return bits.ReverseBytes16(v) }

func (d *Dataplane) checkServiceID(id uint32) error {
	if id < 1 || id > d.opts.MaxServices {
		return fmt.Errorf("service id: want 1..%d, got %d", d.opts.MaxServices, id)
	}
	return nil
}

func (d *Dataplane) checkRealID(id uint32) error {
	if id < 1 || id > d.opts.MaxReals {
		return fmt.Errorf("real id: want 1..%d, got %d", d.opts.MaxReals, id)
	}
	return nil
}

// checkTableSize accepts the Maglev table sizes: primes up to MaxTableSize
// (Maglev needs a prime so every offset/skip permutation covers the table).
func checkTableSize(n uint32) error {
	if n > MaxTableSize || !isPrime(n) {
		return fmt.Errorf("table size: want a prime <= %d, got %d", MaxTableSize, n)
	}
	return nil
}

// checkSchedTable checks a service's scheduler and what TableSize means
// for it (Service.Scheduler).
func checkSchedTable(s Service) error {
	switch {
	case s.Scheduler == SchedMaglev:
		return checkTableSize(s.TableSize)
	case s.Scheduler >= bpf.XlbSchedKindSCHED_MAX:
		return fmt.Errorf("scheduler: want %d..%d, got %d", SchedMaglev, bpf.XlbSchedKindSCHED_MAX-1, s.Scheduler)
	case s.Hash != HashFlow:
		return fmt.Errorf("hash: want %d (flow) for scheduler %s, got %d", HashFlow, schedNames[s.Scheduler], s.Hash)
	case usesTable(s.Scheduler) && (s.TableSize < 1 || s.TableSize > MaxSequenceLen):
		return fmt.Errorf("table size: want a sequence length 1..%d, got %d", MaxSequenceLen, s.TableSize)
	case !usesTable(s.Scheduler) && s.TableSize != 0:
		return fmt.Errorf("table size: want 0 for scheduler %s, got %d", schedNames[s.Scheduler], s.TableSize)
	}
	return nil
}

func isPrime(n uint32) bool {
	if n < 2 {
		return false
	}
	for i := uint32(2); i*i <= n; i++ {
		if n%i == 0 {
			return false
		}
	}
	return true
}

// PutService adds or replaces the service at k.
func (d *Dataplane) PutService(k ServiceKey, s Service) error {
	m, key, err := d.serviceKey(k)
	if err == nil {
		err = d.checkServiceID(s.ID)
	}
	if err == nil {
		err = checkSchedTable(s)
	}
	if err == nil && s.Kind != KindDR && s.Kind != KindTUN && s.Kind != KindNAT && s.Kind != KindFNAT {
		err = fmt.Errorf("kind: want %d (DR), %d (NAT), %d (TUN) or %d (FNAT), got %d", KindDR, KindNAT, KindTUN, KindFNAT, s.Kind)
	}
	if err == nil && s.Kind == KindTUN && (!s.TunnelSrc.IsValid() || s.TunnelSrc.IsUnspecified()) {
		err = fmt.Errorf("tunnel src: want an address for a TUN service, got %q", s.TunnelSrc)
	}
	if err == nil && s.Hash > HashDest {
		err = fmt.Errorf("hash: want %d (flow), %d (source) or %d (dest), got %d", HashFlow, HashSource, HashDest, s.Hash)
	}
	if err == nil {
		err = checkPersist(k, s)
	}
	if err == nil {
		val := bpf.XlbService{Id: s.ID, TableSize: s.TableSize, Kind: uint8(s.Kind), Sched: uint8(s.Scheduler)}
		persistValue(&val, k, s)
		if s.TunnelSrc.IsValid() {
			val.TunnelSrc = s.TunnelSrc.Unmap().As16()
		}
		if s.DropRemoved {
			val.Flags |= uint8(bpf.XlbServiceFlagSERVICE_F_DROP_REMOVED)
		}
		switch s.Hash {
		case HashSource:
			val.Flags |= uint8(bpf.XlbServiceFlagSERVICE_F_HASH_SRC)
		case HashDest:
			val.Flags |= uint8(bpf.XlbServiceFlagSERVICE_F_HASH_DST)
		}
		err = d.putService(k, m, key, val)
	}
	if err != nil {
		return fmt.Errorf("put service %s: %w", k, err)
	}
	return nil
}

// putService writes val at key in m, the services map of k's family,
// with the shortcuts' hint and service_ids entry before it and tidied
// after it (fastpath.go).
func (d *Dataplane) putService(k ServiceKey, m *ebpf.Map, key any, val bpf.XlbService) error {
	vk, err := vipKey(k)
	if err != nil {
		return err
	}
	d.svcMu.Lock()
	defer d.svcMu.Unlock()
	old, had := d.index.byKey[vk]
	err = d.indexPut(vk, val)
	if err == nil {
		err = m.Update(key, &val, ebpf.UpdateAny)
	}
	if err != nil {
		// The map still holds what it held: so does the index.
		if had {
			err = errors.Join(err, d.indexPut(vk, old))
		} else {
			d.indexDelete(vk)
		}
		return errors.Join(err, d.indexSettle(vk, val.Id, old.Id))
	}
	if had && old.Id != val.Id {
		return d.indexSettle(vk, val.Id, old.Id)
	}
	return d.indexSettle(vk, val.Id)
}

// DeleteService removes the service at k; ErrNotFound if there is none.
func (d *Dataplane) DeleteService(k ServiceKey) error {
	m, key, err := d.serviceKey(k)
	if err == nil {
		err = d.deleteService(k, m, key)
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			err = ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("delete service %s: %w", k, err)
	}
	return nil
}

// deleteService deletes key from m, the services map of k's family, then
// the shortcuts' hint and service_ids entry of it (fastpath.go).
func (d *Dataplane) deleteService(k ServiceKey, m *ebpf.Map, key any) error {
	vk, err := vipKey(k)
	if err != nil {
		return err
	}
	d.svcMu.Lock()
	defer d.svcMu.Unlock()
	if err := m.Delete(key); err != nil {
		return err
	}
	id, ok := d.indexDelete(vk)
	if !ok {
		return nil
	}
	return d.indexSettle(vk, id)
}

// PutReal adds or replaces real id. Replacing a present real with the same
// address (a MAC move) keeps its tracked flows; anything else (a new real,
// another address, a removed real put back) starts a new generation of the
// id, so flows tracked to the id's previous real move (or drop, see
// Service.DropRemoved) rather than reach a different server.
func (d *Dataplane) PutReal(id uint32, r Real) error {
	val, err := d.realValue(id, r)
	if err == nil {
		d.realMu.Lock()
		defer d.realMu.Unlock()
		var old bpf.XlbReal
		err = d.reals.Lookup(id, &old)
		if err == nil {
			val.Gen = old.Gen
			newGen := old.Flags&uint16(bpf.XlbRealFlagREAL_F_PRESENT) == 0 || old.Flags&uint16(bpf.XlbRealFlagREAL_F_REMOVED) != 0 || old.Addr != val.Addr
			if newGen {
				val.Gen++
				// A new generation starts with no flows: the
				// program takes older generations' flows off
				// nobody's counts (conns_forget in bpf/ct.h).
				err = d.realConns.Update(id, &bpf.XlbConnCounts{}, ebpf.UpdateAny)
			}
			if err == nil {
				err = d.reals.Update(id, &val, ebpf.UpdateAny)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("put real %d (%s): %w", id, r.Addr, err)
	}
	return nil
}

// RemoveReal marks real id removed and keeps its entry (address, MACs), for
// tools that explain a tracked flow. The program treats it as gone: tracked
// flows move to the table's choice (or drop, see Service.DropRemoved).
// Remove a real from the Maglev table before removing it: a slot that
// still names it drops packets. Quiescing (weight 0) is different: the
// real leaves the table but stays, and keeps its tracked flows.
func (d *Dataplane) RemoveReal(id uint32) error {
	err := d.checkRealID(id)
	if err == nil {
		d.realMu.Lock()
		defer d.realMu.Unlock()
		var val bpf.XlbReal
		err = d.reals.Lookup(id, &val)
		if err == nil {
			val.Flags |= uint16(bpf.XlbRealFlagREAL_F_REMOVED)
			err = d.reals.Update(id, &val, ebpf.UpdateAny)
		}
	}
	if err != nil {
		return fmt.Errorf("remove real %d: %w", id, err)
	}
	return nil
}

func (d *Dataplane) realValue(id uint32, r Real) (bpf.XlbReal, error) {
	var val bpf.XlbReal
	addr := r.Addr.Unmap()
	switch {
	case d.checkRealID(id) != nil:
		return val, d.checkRealID(id)
	case !addr.IsValid() || addr.IsUnspecified():
		return val, fmt.Errorf("addr: want an address, got %q", addr)
	case addr.Zone() != "":
		return val, fmt.Errorf("addr: want no zone, got %q", addr.Zone())
	case r.Ifindex == 0 && len(r.MAC) == 0 && len(r.SrcMAC) == 0:
		// Routed (NAT only).
	case len(r.MAC) != len(val.Mac):
		return val, fmt.Errorf("mac: want %d bytes, got %d", len(val.Mac), len(r.MAC))
	case len(r.SrcMAC) != len(val.SrcMac):
		return val, fmt.Errorf("src mac: want %d bytes, got %d", len(val.SrcMac), len(r.SrcMAC))
	case r.Ifindex <= 0 || r.Ifindex > 1<<31-1:
		return val, fmt.Errorf("ifindex: want > 0, got %d", r.Ifindex)
	}
	if r.MTU < 0 {
		return val, fmt.Errorf("mtu: want >= 0, got %d", r.MTU)
	}
	val.Mtu = uint16(min(r.MTU, math.MaxUint16))
	val.Flags = uint16(bpf.XlbRealFlagREAL_F_PRESENT)
	val.ServiceId = r.ServiceID
	if r.Quiesced {
		val.Flags |= uint16(bpf.XlbRealFlagREAL_F_QUIESCED)
	}
	val.Port = htons(r.Port)
	val.Addr = addr.As16()
	copy(val.Mac[:], r.MAC)
	copy(val.SrcMac[:], r.SrcMAC)
	val.Ifindex = uint32(r.Ifindex)
	return val, nil
}

// DeleteReal zeroes real id but for its generation (see PutReal); the
// program drops packets for slots that still name it (reason drop_no_real)
// and treats flows tracked to it as RemoveReal says.
func (d *Dataplane) DeleteReal(id uint32) error {
	err := d.checkRealID(id)
	if err == nil {
		d.realMu.Lock()
		defer d.realMu.Unlock()
		var old bpf.XlbReal
		err = d.reals.Lookup(id, &old)
		if err == nil {
			err = d.reals.Update(id, &bpf.XlbReal{Gen: old.Gen}, ebpf.UpdateAny)
		}
	}
	if err != nil {
		return fmt.Errorf("delete real %d: %w", id, err)
	}
	return nil
}

// SwapTable installs slots as the Maglev table of service serviceID. It
// builds a new inner map aside, fills it, then replaces the old one with a
// single update of maglev_tables: a packet sees either table whole. The
// kernel frees the old table once no program uses it.
//
// The inner map packs two slots per entry (struct maglev_bucket), so a
// 65537-slot table takes 256 KiB of kernel memory; SwapTable does the
// packing.
//
// len(slots) must be a prime <= MaxTableSize and should equal the
// service's TableSize: the program drops packets whose slot is beyond the
// table, so when resizing swap the table first, then put the service.
func (d *Dataplane) SwapTable(serviceID uint32, slots []uint32) error {
	if err := d.swapTable(serviceID, slots); err != nil {
		return fmt.Errorf("swap maglev table of service %d: %w", serviceID, err)
	}
	return nil
}

func (d *Dataplane) swapTable(id uint32, slots []uint32) error {
	if err := d.checkServiceID(id); err != nil {
		return err
	}
	if err := checkTableSize(uint32(len(slots))); err != nil {
		return err
	}
	return d.installTable(id, slots)
}

// SwapSequence installs ids as the rr/wrr sequence of service serviceID
// (sched.RRSequence or sched.WRRSequence), atomically as SwapTable: a
// sequence lives in the same per-service table map, and a new flow takes
// the id at its CPU's position, which then moves on by one. len(ids),
// 1..MaxSequenceLen, should equal the service's TableSize; positions
// beyond a shorter new sequence carry on modulo its length. An id 0
// drops the new flows that reach it (drop_no_real).
func (d *Dataplane) SwapSequence(serviceID uint32, ids []uint32) error {
	err := d.checkServiceID(serviceID)
	if err == nil && (len(ids) < 1 || len(ids) > MaxSequenceLen) {
		err = fmt.Errorf("sequence length: want 1..%d, got %d", MaxSequenceLen, len(ids))
	}
	if err == nil {
		err = d.installTable(serviceID, ids)
	}
	if err != nil {
		return fmt.Errorf("swap sequence of service %d: %w", serviceID, err)
	}
	return nil
}

// installTable builds slots into a new inner map and swaps it in as
// service id's table.
func (d *Dataplane) installTable(id uint32, slots []uint32) error {
	n := (len(slots) + slotsPerBucket - 1) / slotsPerBucket
	keys := make([]uint32, n)
	buckets := make([]bpf.XlbMaglevBucket, n)
	for i, realID := range slots {
		if realID > d.opts.MaxReals {
			return fmt.Errorf("slot %d: real id: want 0..%d, got %d", i, d.opts.MaxReals, realID)
		}
		keys[i/slotsPerBucket] = uint32(i / slotsPerBucket)
		buckets[i/slotsPerBucket].RealId[i%slotsPerBucket] = realID
	}

	spec := d.innerSpec.Copy()
	spec.Name = fmt.Sprintf("maglev_%d", id)
	spec.MaxEntries = uint32(n)
	inner, err := ebpf.NewMap(spec)
	if err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	// The outer map holds its own reference once updated.
	defer inner.Close()
	if _, err := inner.BatchUpdate(keys, buckets, nil); err != nil {
		return fmt.Errorf("fill table: %w", err)
	}
	if err := d.tables.Update(id, inner, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("install table: %w", err)
	}
	return nil
}

// DeleteTable removes the Maglev table of service serviceID; the program
// then drops the service's packets. ErrNotFound if there is none.
func (d *Dataplane) DeleteTable(serviceID uint32) error {
	err := d.checkServiceID(serviceID)
	if err == nil {
		err = d.tables.Delete(serviceID)
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			err = ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("delete maglev table of service %d: %w", serviceID, err)
	}
	return nil
}

// RealCounters returns real id's traffic, summed over CPUs. The program
// counts reals only: a service's traffic is the sum over its reals (and
// over the reals it had), which the control plane keeps (count_traffic
// in bpf/counters.h says why).
func (d *Dataplane) RealCounters(id uint32) (Counters, error) {
	var perCPU []bpf.XlbCounters
	err := d.checkRealID(id)
	if err == nil {
		err = d.realStats.Lookup(id, &perCPU)
	}
	if err != nil {
		return Counters{}, fmt.Errorf("real %d counters: %w", id, err)
	}
	var sum Counters
	for _, c := range perCPU {
		sum.Packets += c.Packets
		sum.Bytes += c.Bytes
		sum.OutPackets += c.OutPackets
		sum.OutBytes += c.OutBytes
		sum.Connections += c.Conns
	}
	return sum, nil
}

// ClearRealCounters zeroes real id's counters. Ids are reused, so the
// control plane clears them when it hands an id to a new real.
func (d *Dataplane) ClearRealCounters(id uint32) error {
	err := d.checkRealID(id)
	if err == nil {
		err = d.realStats.Update(id, make([]bpf.XlbCounters, d.ncpu), ebpf.UpdateAny)
	}
	if err != nil {
		return fmt.Errorf("clear real %d counters: %w", id, err)
	}
	return nil
}

// Reasons returns how many packets took each verdict path, summed over
// CPUs, by reason name (enum reason in bpf/consts.h, lower case without
// REASON_): the verdict reasons "pass_not_ip", "pass_not_vip",
// "pass_fragment", "pass_other_l4", "pass_ipv6_ext_limit",
// "pass_ipv6_routing", "drop_malformed", "drop_no_real",
// "drop_unknown_kind", "drop_real_removed", "drop_tunnel", "tx",
// "redirect" (one per packet), and the conntrack events "ct_hit",
// "ct_miss", "ct_expired", "ct_real_gone" (one per VIP packet that reached
// the connection table), "ops" standing for the miss of a packet of an ops
// service, which is scheduled and not tracked. NAT adds the verdicts "pass_no_neigh",
// "pass_fib", "drop_family" for client packets and "reply_tx",
// "reply_redirect", "reply_pass_no_neigh", "reply_pass_fib" for replies
// (see KindNAT); full NAT the same, and "drop_fnat_no_port" (no free local
// address and port, or no pool; see KindFNAT). ICMP and ICMPv6 errors
// about tracked flows have the verdicts "icmp_to_real", "icmp_no_flow",
// "icmp_drop", "icmp_pass_route" and "icmp_reply" (NAT, from the reals'
// side); TUN packets too big for the tunnel "tun_ptb_sent" and
// "drop_tun_too_big" (bpf/icmp.h). Every name is present.
//
// The program does not count hits (one counter update less per
// established packet); "ct_hit" is derived here (hitCount).
func (d *Dataplane) Reasons() (map[string]uint64, error) {
	out := make(map[string]uint64, len(d.reasonNames))
	for i, name := range d.reasonNames {
		var perCPU []bpf.XlbReasonCount
		if err := d.reasons.Lookup(uint32(i), &perCPU); err != nil {
			return nil, fmt.Errorf("read reason %s: %w", name, err)
		}
		var n uint64
		for _, c := range perCPU {
			n += c.Packets
		}
		out[name] = n
	}
	out[d.reasonNames[bpf.XlbReasonREASON_CT_HIT]] += hitCount(out, d.reasonNames)
	return out, nil
}

// hitCount derives the conntrack hits from the other counts. Every packet
// that reaches the connection table gets exactly one event (hit, miss,
// expired, real gone; ops for the packets of ops services) and then exactly one of the verdicts tx, redirect,
// drop_no_real, drop_real_removed, drop_tunnel, pass_no_neigh, pass_fib,
// drop_family, drop_fnat_no_port, tun_ptb_sent, drop_tun_too_big, and no packet that misses the table gets one of those (bpf/xlb.c, REASON_CT_HIT in consts.h). So
// hits are those verdicts less the other events. The counters are read
// one at a time while traffic flows, so a read may be off by the packets
// in flight; never below zero.
func hitCount(counts map[string]uint64, names []string) uint64 {
	var lookups, others uint64
	for _, r := range []bpf.XlbReason{bpf.XlbReasonREASON_TX, bpf.XlbReasonREASON_REDIRECT, bpf.XlbReasonREASON_DROP_NO_REAL,
		bpf.XlbReasonREASON_DROP_REAL_REMOVED, bpf.XlbReasonREASON_DROP_TUNNEL,
		bpf.XlbReasonREASON_PASS_NO_NEIGH, bpf.XlbReasonREASON_PASS_FIB, bpf.XlbReasonREASON_DROP_FAMILY,
		bpf.XlbReasonREASON_DROP_FNAT_NO_PORT, bpf.XlbReasonREASON_TUN_PTB_SENT, bpf.XlbReasonREASON_DROP_TUN_TOO_BIG} {
		lookups += counts[names[r]]
	}
	for _, r := range []bpf.XlbReason{bpf.XlbReasonREASON_CT_MISS, bpf.XlbReasonREASON_CT_EXPIRED, bpf.XlbReasonREASON_CT_REAL_GONE, bpf.XlbReasonREASON_OPS} {
		others += counts[names[r]]
	}
	if others > lookups {
		return 0
	}
	return lookups - others
}

// MaxIfindex is the highest ifindex SetInside accepts (MAX_IFACES - 1 in
// bpf/consts.h).
const MaxIfindex = 4095

// SetInside marks the interface ifindex as facing NAT reals (inside true)
// or not. TCP and UDP packets arriving on an inside interface are first
// looked up as NAT replies (one hash lookup, nat4/nat6); elsewhere they
// are not, so NAT costs the other interfaces' non-VIP traffic only an
// array lookup. Mark every interface that NAT reals' replies arrive on; a
// one-armed node marks its only interface.
func (d *Dataplane) SetInside(ifindex int, inside bool) error {
	if ifindex < 1 || ifindex > MaxIfindex {
		return fmt.Errorf("set inside %d: ifindex: want 1..%d, got %d", ifindex, MaxIfindex, ifindex)
	}
	if err := d.setIfaceFlag(ifindex, bpf.XlbIfaceFlagIFACE_F_INSIDE, inside); err != nil {
		return fmt.Errorf("set inside %d: %w", ifindex, err)
	}
	return nil
}

// setIfaceFlag sets or clears flag of interface ifindex, keeping its
// other flags.
func (d *Dataplane) setIfaceFlag(ifindex int, flag bpf.XlbIfaceFlag, on bool) error {
	d.ifaceMu.Lock()
	defer d.ifaceMu.Unlock()
	var v bpf.XlbIface
	if err := d.ifaces.Lookup(uint32(ifindex), &v); err != nil {
		return err
	}
	if on {
		v.Flags |= uint32(flag)
	} else {
		v.Flags &^= uint32(flag)
	}
	if err := d.ifaces.Update(uint32(ifindex), &v, ebpf.UpdateAny); err != nil {
		return err
	}
	if v.Flags != 0 {
		d.markedIfaces[ifindex] = true
	} else {
		delete(d.markedIfaces, ifindex)
	}
	var any uint32
	if len(d.markedIfaces) > 0 {
		any = 1
	}
	if err := d.marked.Set(any); err != nil {
		return fmt.Errorf("set marked_ifaces: %w", err)
	}
	return nil
}
