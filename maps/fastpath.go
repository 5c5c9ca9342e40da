package maps

import (
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf"

	"xlb/bpf"
)

// The program's shortcuts in front of the services lookup (bpf/fast.h):
// vip_hints, a bitmap over the services' keys that passes most packets
// to no VIP after one array lookup, and service_ids, every service by id
// with one of its keys. Every services lookup ends in service_ids, and a
// tracked packet finds its service there through its real's
// ServiceID. serviceIndex keeps both, and port0_services, derived from
// the services the Dataplane has put: Go's copy of what the maps say, so
// that a change rewrites only the hint word and the entries it touches.

// VIP hint slots, as bpf/consts.h.
const (
	vipHintBits         = 16         // VIP_HINT_BITS
	vipHintSlotsPerWord = 32         // VIP_HINT_SLOTS_PER_WORD
	vipHintSlotBits     = 2          // VIP_HINT_SLOT_BITS
	vipHintTracked      = 1          // VIP_HINT_TRACKED: DR, TUN, NAT
	vipHintOther        = 2          // VIP_HINT_OTHER: full NAT
	vipHintMult         = 0x9e3779b1 // VIP_HINT_MULT
)

// serviceIndex is what PutService and DeleteService keep of the services
// maps. The caller holds Dataplane.svcMu.
type serviceIndex struct {
	byKey  map[bpf.XlbVipKey]bpf.XlbService
	bySlot map[uint32]map[bpf.XlbVipKey]bool
	byID   map[uint32]map[bpf.XlbVipKey]bool
	words  map[uint32]uint64              // vip_hints words written, non-zero only
	ids    map[uint32]bpf.XlbServiceEntry // service_ids entries written, non-zero only
	port0  int                            // keys with port 0
}

func newServiceIndex() serviceIndex {
	return serviceIndex{
		byKey:  map[bpf.XlbVipKey]bpf.XlbService{},
		bySlot: map[uint32]map[bpf.XlbVipKey]bool{},
		byID:   map[uint32]map[bpf.XlbVipKey]bool{},
		words:  map[uint32]uint64{},
		ids:    map[uint32]bpf.XlbServiceEntry{},
	}
}

// vipHintSlot is the vip_hints slot of a services key, as vip_hint in
// bpf/fast.h computes it from a packet: the address folded to one word
// (IPv4: its last word; IPv6: its four words xored) xored with the key's
// last word (port in network order, protocol, zero pad), all as the
// program reads them (little-endian words), times vipHintMult, the top
// vipHintBits bits.
func vipHintSlot(k bpf.XlbVipKey) uint32 {
	w := func(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
	a := w(k.Addr[12:])
	if !isV4Mapped(k.Addr) {
		a ^= w(k.Addr[0:]) ^ w(k.Addr[4:]) ^ w(k.Addr[8:])
	}
	portProto := uint32(k.Port) | uint32(k.Proto)<<16
	return ((a ^ portProto) * vipHintMult) >> (32 - vipHintBits)
}

// isV4Mapped says whether a 16-byte address is ::ffff:a.b.c.d.
func isV4Mapped(a [16]byte) bool {
	return a[10] == 0xff && a[11] == 0xff && [10]byte(a[:10]) == [10]byte{}
}

// hintClass is the hint bit of a service of kind: where its flows are
// tracked decides whether a packet looks its flow up first.
func hintClass(kind uint8) uint64 {
	if Kind(kind) == KindFNAT {
		return vipHintOther
	}
	return vipHintTracked
}

// indexPut records val at vk and writes what the program needs before
// the services map shows it: the key's hint bit and service_ids[val.Id]
// (with this key). indexSettle then tidies up after the write.
func (d *Dataplane) indexPut(vk bpf.XlbVipKey, val bpf.XlbService) error {
	x := &d.index
	old, had := x.byKey[vk]
	if had && old.Id != val.Id {
		deleteKey(x.byID, old.Id, vk)
	}
	if !had && vk.Port == 0 {
		x.port0++
	}
	x.byKey[vk] = val
	slot := vipHintSlot(vk)
	addKey(x.bySlot, slot, vk)
	addKey(x.byID, val.Id, vk)
	// The new bit joins the old ones: until the services map says the
	// new kind, a packet may still need the old kind's bit.
	if err := d.writeHintWord(slot/vipHintSlotsPerWord, d.hintWord(slot/vipHintSlotsPerWord)|x.words[slot/vipHintSlotsPerWord]); err != nil {
		return err
	}
	if err := d.writeServiceID(val.Id, bpf.XlbServiceEntry{Svc: val, Key: vk}); err != nil {
		return err
	}
	if x.port0 > 0 {
		return d.setPort0(1)
	}
	return nil
}

// indexDelete forgets the service at vk; indexSettle then writes it.
func (d *Dataplane) indexDelete(vk bpf.XlbVipKey) (id uint32, ok bool) {
	x := &d.index
	old, had := x.byKey[vk]
	if !had {
		return 0, false
	}
	delete(x.byKey, vk)
	deleteKey(x.bySlot, vipHintSlot(vk), vk)
	deleteKey(x.byID, old.Id, vk)
	if vk.Port == 0 {
		x.port0--
	}
	return old.Id, true
}

// indexSettle brings vk's hint word, service_ids entries ids and
// port0_services to exactly what the index says, once the services map
// holds (or no longer holds) vk.
func (d *Dataplane) indexSettle(vk bpf.XlbVipKey, ids ...uint32) error {
	word := vipHintSlot(vk) / vipHintSlotsPerWord
	if err := d.writeHintWord(word, d.hintWord(word)); err != nil {
		return err
	}
	for _, id := range ids {
		if err := d.settleServiceID(id); err != nil {
			return err
		}
	}
	if d.index.port0 == 0 {
		return d.setPort0(0)
	}
	return nil
}

// setPort0 tells the program whether any port-0 (all-ports) service
// exists, so that only then does a packet that matches no service pay the
// second lookup.
func (d *Dataplane) setPort0(v uint32) error {
	if err := d.port0.Set(v); err != nil {
		return fmt.Errorf("set port0_services: %w", err)
	}
	return nil
}

// hintWord is vip_hints word w as the index says it should be.
func (d *Dataplane) hintWord(w uint32) uint64 {
	var bits uint64
	for i := range uint32(vipHintSlotsPerWord) {
		for k := range d.index.bySlot[w*vipHintSlotsPerWord+i] {
			bits |= hintClass(d.index.byKey[k].Kind) << (i * vipHintSlotBits)
		}
	}
	return bits
}

// settleServiceID rewrites service_ids[id] if it no longer matches the
// index: zero when no key has id; else the entry keeps its key while that
// key still has id, or takes another of id's keys, with its service.
func (d *Dataplane) settleServiceID(id uint32) error {
	x := &d.index
	cur := x.ids[id]
	keys := x.byID[id]
	if len(keys) == 0 {
		return d.writeServiceID(id, bpf.XlbServiceEntry{})
	}
	key := cur.Key
	if !keys[key] {
		for k := range keys {
			key = k
			break
		}
	}
	return d.writeServiceID(id, bpf.XlbServiceEntry{Svc: x.byKey[key], Key: key})
}

// writeHintWord writes vip_hints word w when it differs from what was
// written.
func (d *Dataplane) writeHintWord(w uint32, bits uint64) error {
	if d.index.words[w] == bits {
		return nil
	}
	if err := d.vipHints.Update(w, bits, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("vip_hints: %w", err)
	}
	setOrDelete(d.index.words, w, bits, 0)
	return nil
}

// writeServiceID writes service_ids entry id when it differs from what
// was written.
func (d *Dataplane) writeServiceID(id uint32, e bpf.XlbServiceEntry) error {
	if d.index.ids[id] == e {
		return nil
	}
	if err := d.serviceIDs.Update(id, &e, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("service_ids: %w", err)
	}
	setOrDelete(d.index.ids, id, e, bpf.XlbServiceEntry{})
	return nil
}

func addKey(m map[uint32]map[bpf.XlbVipKey]bool, i uint32, k bpf.XlbVipKey) {
	if m[i] == nil {
		m[i] = map[bpf.XlbVipKey]bool{}
	}
	m[i][k] = true
}

func deleteKey(m map[uint32]map[bpf.XlbVipKey]bool, i uint32, k bpf.XlbVipKey) {
	delete(m[i], k)
	if len(m[i]) == 0 {
		delete(m, i)
	}
}

// setOrDelete stores v at k, or deletes k when v is zero.
func setOrDelete[K, V comparable](m map[K]V, k K, v, zero V) {
	if v == zero {
		delete(m, k)
	} else {
		m[k] = v
	}
}
