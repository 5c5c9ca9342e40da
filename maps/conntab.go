package maps

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cilium/ebpf"

	"xlb/bpf"
	"xlb/controlplane/sched"
)

// ConnWays is how many flows one set of a connection table holds
// (bpf/conntab.h): a table of n flows has n/ConnWays sets, and a flow's
// hash names the one set it can be in.
const ConnWays = 4

// connSetCount is how many sets hold size flows (at least one).
func connSetCount(size uint32) uint32 {
	return max((size+ConnWays-1)/ConnWays, 1)
}

// connKeyWords returns a conns4 (*bpf.XlbFlow4) or conns6 (*bpf.XlbFlow)
// key as the program reads it: 4 or 10 32-bit words in memory order.
func connKeyWords(key any) []uint32 {
	var b []byte
	switch k := key.(type) {
	case *bpf.XlbFlow4:
		b = binary.NativeEndian.AppendUint32(b, k.Saddr)
		b = binary.NativeEndian.AppendUint32(b, k.Daddr)
		b = binary.NativeEndian.AppendUint16(b, k.Sport)
		b = binary.NativeEndian.AppendUint16(b, k.Dport)
		b = append(b, k.Proto, k.Pad[0], k.Pad[1], k.Pad[2])
	case *bpf.XlbFlow:
		b = append(b, k.Saddr[:]...)
		b = append(b, k.Daddr[:]...)
		b = binary.NativeEndian.AppendUint16(b, k.Sport)
		b = binary.NativeEndian.AppendUint16(b, k.Dport)
		b = append(b, k.Proto, k.Pad[0], k.Pad[1], k.Pad[2])
	default:
		panic(fmt.Sprintf("connKeyWords: %T is no conns key", key))
	}
	w := make([]uint32, len(b)/4)
	for i := range w {
		w[i] = binary.NativeEndian.Uint32(b[4*i:])
	}
	return w
}

// The multipliers of tableHash (TABLE_HASH_K0..3 in bpf/hash.h).
const (
	tableHashK0 = 0x9e3779b97f4a7c15
	tableHashK1 = 0xc2b2ae3d27d4eb4f
	tableHashK2 = 0x165667b19e3779f9
	tableHashK3 = 0xd6e8feb86659fd93
)

// tableHash is the program's table_hash (bpf/hash.h): each word times its
// own odd constant, the products xored, the low bits folded into the high
// ones, the high half kept.
func tableHash(a, b, c, d uint32) uint32 {
	h := uint64(a)*tableHashK0 ^ uint64(b)*tableHashK1 ^ uint64(c)*tableHashK2 ^ uint64(d)*tableHashK3
	h ^= h << 29
	return uint32(h >> 32)
}

// connHash is the program's hash of a key (conn_hash4, conn_hash6): the
// table hash of its words, an IPv6 address folded to one word by xor. An
// IPv6 way keeps it, to compare before the key.
func connHash(key any) uint32 {
	w := connKeyWords(key)
	if len(w) == 4 {
		return tableHash(w[0], w[1], w[2], w[3])
	}
	return tableHash(w[0]^w[1]^w[2]^w[3], w[4]^w[5]^w[6]^w[7], w[8], w[9])
}

// connSetIndex is the set of key in a table of sets sets: its hash scaled
// onto the set count, as the program's conn_set_of4 and conn_set_of6.
func connSetIndex(key any, sets uint32) uint32 {
	return sched.Slot(connHash(key), sets)
}

// connTable is one family's connection table as Go reads it.
type connTable struct {
	m    *ebpf.Map
	sets uint32
	v6   bool
}

// connTables returns the IPv4 and the IPv6 table.
func (d *Dataplane) connTables() [2]connTable {
	return [2]connTable{{d.conns4, connSetCount(d.opts.ConnTableSize), false},
		{d.conns6, connSetCount(d.opts.ConnTableSize6), true}}
}

// connTableOf returns the table m is (d.conns4 or d.conns6).
func (d *Dataplane) connTableOf(m *ebpf.Map) connTable {
	t := d.connTables()
	if m == d.conns6 {
		return t[1]
	}
	return t[0]
}

// tableWay is one way of a set of a connection or NAT reverse table as
// Go handles it: its key (*bpf.XlbFlow4 or *bpf.XlbFlow) and entry V.
type tableWay[V any] struct {
	key any
	val V
}

// connWay is a way of a connection table.
type connWay = tableWay[bpf.XlbConn]

// readSet returns the ways of set i of t (empty ways too: key proto 0).
func (t connTable) readSet(i uint32) ([ConnWays]connWay, error) {
	if t.v6 {
		return readWays(t.m, i, waysOf6)
	}
	return readWays(t.m, i, waysOf4)
}

// readWays returns the ways of set i of the array of sets m, whose values
// are S and whose ways waysOf returns.
func readWays[S, V any](m *ebpf.Map, i uint32, waysOf func(*S) [ConnWays]tableWay[V]) ([ConnWays]tableWay[V], error) {
	var s S
	if err := m.Lookup(i, &s); err != nil {
		return [ConnWays]tableWay[V]{}, fmt.Errorf("read %s set %d: %w", m, i, err)
	}
	return waysOf(&s), nil
}

// waysOf4 and waysOf6 return a set's ways, each key a copy.
func waysOf4(s *bpf.XlbConnSet4) (out [ConnWays]connWay) {
	for w, way := range s.Way {
		out[w] = connWay{&way.Key, way.Val}
	}
	return out
}

func waysOf6(s *bpf.XlbConnSet6) (out [ConnWays]connWay) {
	for w, way := range s.Way {
		out[w] = connWay{&way.Key, way.Val}
	}
	return out
}

// writeSet writes set i of t. The program may write the same set at the
// same time (a new flow of that set); only tests and benchmarks, which
// send no packets meanwhile, write sets.
func (t connTable) writeSet(i uint32, ways [ConnWays]connWay) error {
	var err error
	if t.v6 {
		var s bpf.XlbConnSet6
		for w, cw := range ways {
			if cw.key != nil {
				s.Way[w].Key, s.Way[w].Val, s.Way[w].Hash = *cw.key.(*bpf.XlbFlow), cw.val, connHash(cw.key)
			}
		}
		err = t.m.Update(i, &s, ebpf.UpdateExist)
	} else {
		var s bpf.XlbConnSet4
		for w, cw := range ways {
			if cw.key != nil {
				s.Way[w].Key, s.Way[w].Val = *cw.key.(*bpf.XlbFlow4), cw.val
			}
		}
		err = t.m.Update(i, &s, ebpf.UpdateExist)
	}
	if err != nil {
		return fmt.Errorf("write %s set %d: %w", t.m, i, err)
	}
	return nil
}

// wayInUse says whether a way holds a flow: its key's protocol is not 0.
func wayInUse[V any](w tableWay[V]) bool {
	switch k := w.key.(type) {
	case *bpf.XlbFlow4:
		return k.Proto != 0
	case *bpf.XlbFlow:
		return k.Proto != 0
	}
	return false
}

// sameKey says whether two keys of one table are the same flow.
func sameKey(a, b any) bool {
	switch ka := a.(type) {
	case *bpf.XlbFlow4:
		kb, ok := b.(*bpf.XlbFlow4)
		return ok && *ka == *kb
	case *bpf.XlbFlow:
		kb, ok := b.(*bpf.XlbFlow)
		return ok && *ka == *kb
	}
	return false
}

// findWay returns the way of ways that holds key, -1 if none does.
func findWay[V any](ways [ConnWays]tableWay[V], key any) int {
	for i, w := range ways {
		if wayInUse(w) && sameKey(w.key, key) {
			return i
		}
	}
	return -1
}

// lookupConnEntry returns the entry of key in t, if its set holds one.
func (t connTable) lookupConnEntry(key any) (bpf.XlbConn, bool, error) {
	ways, err := t.readSet(connSetIndex(key, t.sets))
	if err != nil {
		return bpf.XlbConn{}, false, err
	}
	if i := findWay(ways, key); i >= 0 {
		return ways[i].val, true, nil
	}
	return bpf.XlbConn{}, false, nil
}

// walkConns calls fn with every flow t holds.
func (t connTable) walkConns(fn func(key any, val bpf.XlbConn)) error {
	if t.v6 {
		return walkWays(t.m, waysOf6, fn)
	}
	return walkWays(t.m, waysOf4, fn)
}

// walkWays calls fn with the key and entry of every way in use of the
// array of sets m, whose values are S and whose ways waysOf returns.
func walkWays[S, V any](m *ebpf.Map, waysOf func(*S) [ConnWays]tableWay[V], fn func(key any, val V)) error {
	return walkArray(m, func(_ uint32, s *S) {
		for _, w := range waysOf(s) {
			if wayInUse(w) {
				fn(w.key, w.val)
			}
		}
	})
}

// walkArray calls fn with every index and value of the array m, whose
// values are V, reading it in batches (one lookup per entry would take
// seconds for a connection table's 2^18 sets).
func walkArray[V any](m *ebpf.Map, fn func(i uint32, v *V)) error {
	const chunk = 4096
	keys := make([]uint32, chunk)
	vals := make([]V, chunk)
	var cursor ebpf.MapBatchCursor
	for {
		n, err := m.BatchLookup(&cursor, keys, vals, nil)
		for i := range n {
			fn(keys[i], &vals[i])
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("walk %s: %w", m, err)
		}
	}
}
