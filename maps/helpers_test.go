package maps

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"

	"xlb/bpf"
	"xlb/internal/bpfutil"
	"xlb/internal/testutil"
)

// openTest opens a Dataplane on a unique dir under /sys/fs/bpf and closes
// it (removing the pins) when the test ends.
func openTest(tb testing.TB, opts Options) *Dataplane {
	tb.Helper()
	testutil.RequireRoot(tb)
	if opts.PinDir == "" {
		opts.PinDir = testPinDir(tb)
	}
	d, err := Open(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := d.Close(); err != nil {
			tb.Error(err)
		}
	})
	return d
}

// testPinDir returns an unused pin dir path under /sys/fs/bpf, and removes
// whatever is left of it when the test ends.
func testPinDir(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(bpfutil.BPFFSRoot, testutil.UniqueName("xlbtest-"))
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// xdpMD is the kernel's struct xdp_md (uapi linux/bpf.h), the context of a
// BPF_PROG_TEST_RUN of an XDP program.
type xdpMD struct {
	Data, DataEnd, DataMeta, IngressIfindex, RxQueueIndex, EgressIfindex uint32
}

// loIfindex is the loopback's ifindex in every network namespace: test runs
// name it as the ingress interface, so a real on ifindex 1 means XDP_TX.
const loIfindex = 1

// sportOffset is where the TCP/UDP source port sits in an untagged IPv4
// frame without options: Ethernet (14) + IPv4 (20).
const sportOffset = 34

// withSport returns a copy of an untagged, option-less IPv4 TCP/UDP frame
// with source port p: another flow. The L4 checksum is left stale; the
// program does not check it.
func withSport(frame []byte, p uint16) []byte {
	out := bytes.Clone(frame)
	binary.BigEndian.PutUint16(out[sportOffset:], p)
	return out
}

// clearConns empties both connection tables, so the next packets are new
// flows again.
func clearConns(tb testing.TB, d *Dataplane) {
	tb.Helper()
	for _, c := range dumpConnKeys(tb, d) {
		t := d.connTableOf(c.table)
		if err := t.writeSet(connSetIndex(c.key, t.sets), [ConnWays]connWay{}); err != nil {
			tb.Fatal(err)
		}
	}
}

// connEntry is one entry of a connection table, with its table.
type connEntry struct {
	table *ebpf.Map
	key   any // *bpf.XlbFlow4 or *bpf.XlbFlow
	val   bpf.XlbConn
}

// dumpConnKeys lists the flows of conns4, then conns6, each table in set
// order.
func dumpConnKeys(tb testing.TB, d *Dataplane) []connEntry {
	tb.Helper()
	var out []connEntry
	for _, t := range d.connTables() {
		err := t.walkConns(func(key any, val bpf.XlbConn) {
			out = append(out, connEntry{table: t.m, key: key, val: val})
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// putConn writes a connection table entry for f into its family's table,
// as the program would: over f's way if its set has one (flags
// ebpf.UpdateNoExist then fails the test), else into the set's oldest
// way (ebpf.UpdateExist then fails it).
func putConn(tb testing.TB, d *Dataplane, f Flow, val bpf.XlbConn, flags ebpf.MapUpdateFlags) {
	tb.Helper()
	m, key, err := d.flowKey(f)
	if err != nil {
		tb.Fatal(err)
	}
	t := d.connTableOf(m)
	set := connSetIndex(key, t.sets)
	ways, err := t.readSet(set)
	if err != nil {
		tb.Fatal(err)
	}
	at := findWay(ways, key)
	switch {
	case at >= 0 && flags == ebpf.UpdateNoExist:
		tb.Fatalf("put conn %s: already in the table", f)
	case at < 0 && flags == ebpf.UpdateExist:
		tb.Fatalf("put conn %s: not in the table", f)
	case at < 0:
		at = 0
		for i, w := range ways {
			if w.val.LastSeen < ways[at].val.LastSeen {
				at = i
			}
		}
	}
	ways[at] = connWay{key, val}
	if err := t.writeSet(set, ways); err != nil {
		tb.Fatal(err)
	}
}

// mapMemory returns what the kernel charges for m (its memlock) and m's
// info, after logging both under name; the test fails if the kernel
// reports no memlock.
func mapMemory(tb testing.TB, name string, m *ebpf.Map) (uint64, *ebpf.MapInfo) {
	tb.Helper()
	info, err := m.Info()
	if err != nil {
		tb.Fatal(err)
	}
	loaded, ok := info.Memlock()
	if !ok {
		tb.Fatalf("kernel reports no memlock for %s", name)
	}
	tb.Logf("%s (%s, flags %#x, key %d B, value %d B, %d entries): %.2f MiB, %.0f B an entry",
		name, info.Type, info.Flags, info.KeySize, info.ValueSize, info.MaxEntries, float64(loaded)/(1<<20), float64(loaded)/float64(info.MaxEntries))
	return loaded, info
}

// modifyReply lets fn change the NAT reverse entry of key in t, in place in
// its set; it fails the test if the set holds no such entry. The program
// may write the set meanwhile: only tests that send no packets then use
// it.
func (t natTable) modifyReply(tb testing.TB, key any, fn func(v *bpf.XlbNatRev)) {
	tb.Helper()
	set := connSetIndex(key, t.sets)
	find := func(ways [ConnWays]natWay) int {
		i := findWay(ways, key)
		if i < 0 {
			tb.Fatalf("modify %s set %d: no entry for %+v", t.m, set, key)
		}
		return i
	}
	var err error
	if t.v6 {
		var s bpf.XlbNatSet6
		if err = t.m.Lookup(set, &s); err == nil {
			fn(&s.Val[find(natWaysOf6(&s))])
			err = t.m.Update(set, &s, ebpf.UpdateExist)
		}
	} else {
		var s bpf.XlbNatSet4
		if err = t.m.Lookup(set, &s); err == nil {
			fn(&s.Val[find(natWaysOf4(&s))])
			err = t.m.Update(set, &s, ebpf.UpdateExist)
		}
	}
	if err != nil {
		tb.Fatalf("modify %s set %d: %v", t.m, set, err)
	}
}
