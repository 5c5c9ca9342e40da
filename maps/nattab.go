package maps

import (
	"github.com/cilium/ebpf"

	"xlb/bpf"
)

// natTable is one family's NAT reverse table (nat4, nat6) as Go reads it:
// sets of ConnWays reverse entries, found by the connection tables' hash
// (bpf/nattab.h), keys apart from values in a set.
type natTable struct {
	m    *ebpf.Map
	sets uint32
	v6   bool
}

// natWay is a way of a NAT reverse table.
type natWay = tableWay[bpf.XlbNatRev]

// natTableOf returns the reverse table of the family whose flow keys are
// like key (*bpf.XlbFlow4: IPv4).
func (d *Dataplane) natTableOf(key any) natTable {
	if _, v4 := key.(*bpf.XlbFlow4); v4 {
		return natTable{d.nat4, connSetCount(d.opts.NATTableSize), false}
	}
	return natTable{d.nat6, connSetCount(d.opts.NATTableSize6), true}
}

// natWaysOf4 and natWaysOf6 return a set's ways, each key a copy.
func natWaysOf4(s *bpf.XlbNatSet4) [ConnWays]natWay { return waysApart(s.Key, s.Val) }

func natWaysOf6(s *bpf.XlbNatSet6) [ConnWays]natWay { return waysApart(s.Key, s.Val) }

// waysApart returns the ways of a set whose keys and values are kept
// apart (bpf/nattab.h), each key a copy.
func waysApart[K, V any](keys [ConnWays]K, vals [ConnWays]V) (out [ConnWays]tableWay[V]) {
	for w := range out {
		k := keys[w]
		out[w] = tableWay[V]{&k, vals[w]}
	}
	return out
}

// readSet returns the ways of set i of t (empty ways too: key proto 0).
func (t natTable) readSet(i uint32) ([ConnWays]natWay, error) {
	if t.v6 {
		return readWays(t.m, i, natWaysOf6)
	}
	return readWays(t.m, i, natWaysOf4)
}

// lookup returns the reverse entry of key in t, if its set holds one.
func (t natTable) lookup(key any) (bpf.XlbNatRev, bool, error) {
	ways, err := t.readSet(connSetIndex(key, t.sets))
	if err != nil {
		return bpf.XlbNatRev{}, false, err
	}
	if i := findWay(ways, key); i >= 0 {
		return ways[i].val, true, nil
	}
	return bpf.XlbNatRev{}, false, nil
}

// walk calls fn with every reverse entry t holds.
func (t natTable) walk(fn func(key any, val bpf.XlbNatRev)) error {
	if t.v6 {
		return walkWays(t.m, natWaysOf6, fn)
	}
	return walkWays(t.m, natWaysOf4, fn)
}
