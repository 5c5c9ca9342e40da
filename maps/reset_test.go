package maps

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"

	"xlb/bpf"
	"xlb/internal/testutil"
)

// Golden cases share one Dataplane (TestGolden): a load runs the verifier
// over ~540k instructions, ~4 s on CI, and there are over a hundred cases.
// resetDataplane returns a used Dataplane to what a fresh Open gives, so
// that cases stay independent of each other and of their order
// (TestGoldenOrders, TestResetMatchesFresh prove it).
//
// It lives in a test file, not in package code: xlbd never needs it (a
// restart reopens), and a method that wipes every table is not one to
// leave lying around for the control plane.

// resetDataplane empties every map of d's collection by its type, not by
// name, so that a map added later is reset too: hash maps lose every key,
// arrays get every entry zeroed, the Maglev outer map loses its inner
// tables, writable data sections (.bss: port0_services, marked_ifaces) get their initial
// contents back. A map type it does not know fails the test. The Go side
// that mirrors the maps (serviceIndex, markedIfaces) starts afresh as well.
func resetDataplane(tb testing.TB, d *Dataplane) {
	tb.Helper()
	spec := freshSpec(tb)
	for _, name := range collectionMapNames(d) {
		if err := resetMap(d.coll.Maps[name], spec.Maps[name]); err != nil {
			tb.Fatalf("reset map %s: %v", name, err)
		}
	}
	d.svcMu.Lock()
	d.index = newServiceIndex()
	d.svcMu.Unlock()
	d.ifaceMu.Lock()
	d.markedIfaces = map[int]bool{}
	d.ifaceMu.Unlock()
}

// freshSpec is the program's collection spec as the ELF has it: the
// initial contents of data sections come from there.
var freshSpec = func() func(testing.TB) *ebpf.CollectionSpec {
	once := sync.OnceValues(bpf.LoadXlb)
	return func(tb testing.TB) *ebpf.CollectionSpec {
		tb.Helper()
		spec, err := once()
		if err != nil {
			tb.Fatal(err)
		}
		return spec
	}
}()

// collectionMapNames lists d's maps, data sections included, sorted.
func collectionMapNames(d *Dataplane) []string {
	names := make([]string, 0, len(d.coll.Maps))
	for name := range d.coll.Maps {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// readOnly says whether neither the program nor Go can write m: .rodata,
// frozen at load with the values load gave it from Options.
func readOnly(m *ebpf.Map) bool { return m.Flags()&unix.BPF_F_RDONLY_PROG != 0 }

// resetMap returns m to the contents spec gives a new map.
func resetMap(m *ebpf.Map, spec *ebpf.MapSpec) error {
	if spec == nil {
		return errors.New("not in the program's spec")
	}
	switch m.Type() {
	case ebpf.Hash, ebpf.LRUHash, ebpf.PerCPUHash, ebpf.LRUCPUHash, ebpf.ArrayOfMaps, ebpf.HashOfMaps:
		if len(spec.Contents) != 0 {
			return errors.New("initial contents in a map of this type: teach resetMap")
		}
		keys, err := mapKeys(m)
		if err != nil {
			return err
		}
		for _, k := range keys {
			// An array of maps lists every index, set or not.
			if err := m.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
				return fmt.Errorf("delete %x: %w", k, err)
			}
		}
		return nil
	case ebpf.Array, ebpf.PerCPUArray:
		if readOnly(m) {
			return nil
		}
		if err := zeroArray(m); err != nil {
			return err
		}
		for _, kv := range spec.Contents {
			if err := m.Update(kv.Key, kv.Value, ebpf.UpdateAny); err != nil {
				return fmt.Errorf("initial contents: %w", err)
			}
		}
		return nil
	default:
		return fmt.Errorf("type %s: teach resetMap", m.Type())
	}
}

// zeroArray writes a zero value to every index of an array or per-CPU
// array, in one batch.
func zeroArray(m *ebpf.Map) error {
	keys := make([]uint32, m.MaxEntries())
	for i := range keys {
		keys[i] = uint32(i)
	}
	// One zero value a key: a slice of [ValueSize]byte arrays.
	values := reflect.MakeSlice(reflect.SliceOf(reflect.ArrayOf(int(m.ValueSize()), reflect.TypeFor[byte]())), len(keys), len(keys)).Interface()
	if m.Type() == ebpf.PerCPUArray {
		ncpu, err := ebpf.PossibleCPU()
		if err != nil {
			return err
		}
		perCPU := make([][]byte, len(keys)*ncpu)
		for i := range perCPU {
			perCPU[i] = make([]byte, m.ValueSize())
		}
		values = perCPU
	}
	if _, err := m.BatchUpdate(keys, values, nil); err != nil {
		return fmt.Errorf("zero: %w", err)
	}
	return nil
}

// mapKeys lists m's keys. Nothing else writes m meanwhile: test runs are
// synchronous and the program is attached nowhere.
func mapKeys(m *ebpf.Map) ([][]byte, error) {
	var keys [][]byte
	var prev any // nil: the first key
	for range int(m.MaxEntries()) + 1 {
		next := make([]byte, m.KeySize())
		err := m.NextKey(prev, next)
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return keys, nil
		}
		if err != nil {
			return nil, fmt.Errorf("next key: %w", err)
		}
		keys = append(keys, next)
		prev = next
	}
	return nil, fmt.Errorf("more than %d keys", m.MaxEntries())
}

// dumpMap is m's contents, hex key to hex value (per-CPU values one after
// the other), for comparing two maps of the same spec. An index of an
// array of maps without a map is left out, as a missing hash key.
func dumpMap(tb testing.TB, m *ebpf.Map) map[string]string {
	tb.Helper()
	keys, err := mapKeys(m)
	if err != nil {
		tb.Fatal(err)
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		var val string
		switch m.Type() {
		case ebpf.PerCPUArray, ebpf.PerCPUHash, ebpf.LRUCPUHash:
			var perCPU [][]byte
			err = m.Lookup(k, &perCPU)
			for _, v := range perCPU {
				val += hex.EncodeToString(v)
			}
		default:
			var v []byte
			err = m.Lookup(k, &v)
			val = hex.EncodeToString(v)
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			continue
		}
		if err != nil {
			tb.Fatalf("lookup %x: %v", k, err)
		}
		out[hex.EncodeToString(k)] = val
	}
	return out
}

// dirtyValue is the byte dirtyMap fills keys and values with.
const dirtyValue = 0xa5

// dirtyMap puts one entry that no fresh map has into m, whatever its
// type: its last index (arrays) or a key of dirtyValue bytes (hashes),
// holding dirtyValue bytes or, for maps of maps, a new inner map. A
// read-only map (.rodata) is left alone.
func dirtyMap(tb testing.TB, m *ebpf.Map, spec *ebpf.MapSpec) {
	tb.Helper()
	if readOnly(m) {
		return
	}
	var key any = slices.Repeat([]byte{dirtyValue}, int(m.KeySize()))
	var val any = slices.Repeat([]byte{dirtyValue}, int(m.ValueSize()))
	switch m.Type() {
	case ebpf.Array, ebpf.PerCPUArray, ebpf.ArrayOfMaps:
		key = m.MaxEntries() - 1
	case ebpf.Hash, ebpf.LRUHash, ebpf.PerCPUHash, ebpf.LRUCPUHash, ebpf.HashOfMaps:
	default:
		tb.Fatalf("dirty map %s: type %s: teach dirtyMap and resetMap", spec.Name, m.Type())
	}
	switch m.Type() {
	case ebpf.PerCPUArray, ebpf.PerCPUHash, ebpf.LRUCPUHash:
		ncpu, err := ebpf.PossibleCPU()
		if err != nil {
			tb.Fatal(err)
		}
		perCPU := make([][]byte, ncpu)
		for i := range perCPU {
			perCPU[i] = slices.Repeat([]byte{dirtyValue}, int(m.ValueSize()))
		}
		val = perCPU
	case ebpf.ArrayOfMaps, ebpf.HashOfMaps:
		inner, err := ebpf.NewMap(spec.InnerMap)
		if err != nil {
			tb.Fatal(err)
		}
		defer inner.Close() // the outer map holds its own reference
		val = inner
	}
	if err := m.Update(key, val, ebpf.UpdateAny); err != nil {
		tb.Fatalf("dirty map %s: %v", spec.Name, err)
	}
}

// goState compares the Go side of two Dataplanes: every field but the
// kernel objects' handles, the logger, the locks and the pin dir.
var goState = cmp.Options{
	cmp.Exporter(func(reflect.Type) bool { return true }),
	cmpopts.IgnoreTypes((*ebpf.Collection)(nil), (*ebpf.Program)(nil), (*ebpf.Map)(nil), (*ebpf.Variable)(nil), (*ebpf.MapSpec)(nil),
		(*os.File)(nil), (*slog.Logger)(nil), sync.Mutex{}),
	cmpopts.IgnoreFields(Options{}, "PinDir"),
}

// TestResetMatchesFresh dirties every map of a Dataplane's collection,
// through the API and then generically (dirtyMap), and its Go side, and
// requires resetDataplane to leave each map, by name, and the Go side
// equal to those of a freshly opened Dataplane: a map added later that
// the reset misses fails here.
func TestResetMatchesFresh(t *testing.T) {
	d := openTest(t, goldenOptions)
	fresh := openTest(t, goldenOptions)
	names := collectionMapNames(d)
	if diff := cmp.Diff(collectionMapNames(fresh), names); diff != "" {
		t.Fatalf("map names (-fresh +used):\n%s", diff)
	}

	// Through the API first: the Go side (service index) and what it
	// writes (vip_hints, service_ids, port0_services), a table, an
	// interface flag, a tracked flow, its counters and the clock.
	f := loadFixtures(t)["tcp_vip_tx"]
	f.fill(t, d)
	if err := d.PutService(ServiceKey{Addr: testVIP.Addr, Port: 0, Proto: unix.IPPROTO_UDP}, Service{ID: 3, TableSize: 7, Kind: KindDR}); err != nil {
		t.Fatal(err)
	}
	if err := d.SetInside(loIfindex, true); err != nil {
		t.Fatal(err)
	}
	if v, _ := run(t, d.Program(), f.In); testutil.VerdictName(v) != f.Verdict {
		t.Fatalf("verdict %s, want %s", testutil.VerdictName(v), f.Verdict)
	}
	spec := freshSpec(t)
	for _, name := range names {
		dirtyMap(t, d.coll.Maps[name], spec.Maps[name])
	}
	// The dirt must show, or the comparison after the reset proves
	// nothing.
	for _, name := range names {
		if m := d.coll.Maps[name]; !readOnly(m) && cmp.Equal(dumpMap(t, fresh.coll.Maps[name]), dumpMap(t, m)) {
			t.Errorf("map %s: as a fresh one's after dirtying", name)
		}
	}
	if cmp.Equal(fresh, d, goState) {
		t.Error("go side: as a fresh one's after dirtying")
	}

	resetDataplane(t, d)
	for _, name := range names {
		if diff := cmp.Diff(dumpMap(t, fresh.coll.Maps[name]), dumpMap(t, d.coll.Maps[name])); diff != "" {
			t.Errorf("map %s after reset (-fresh +reset):\n%s", name, diff)
		}
	}
	if diff := cmp.Diff(fresh, d, goState); diff != "" {
		t.Errorf("go side after reset (-fresh +reset):\n%s", diff)
	}
}

// BenchmarkReset measures what a golden case pays instead of a load: a
// reset of a used Dataplane (tcp_vip_tx filled and run) at goldenOptions.
func BenchmarkReset(b *testing.B) {
	d := openTest(b, goldenOptions)
	f := loadFixtures(b)["tcp_vip_tx"]
	for b.Loop() {
		b.StopTimer()
		f.fill(b, d)
		run(b, d.Program(), f.In)
		b.StartTimer()
		resetDataplane(b, d)
	}
}
