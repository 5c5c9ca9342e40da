package maps

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"xlb/bpf"

	"xlb/internal/testutil"
)

// hintOf reads the vip_hints bits of k's slot from the map.
func hintOf(tb testing.TB, d *Dataplane, k ServiceKey) uint64 {
	tb.Helper()
	vk, err := vipKey(k)
	if err != nil {
		tb.Fatal(err)
	}
	slot := vipHintSlot(vk)
	var word uint64
	if err := d.vipHints.Lookup(slot/vipHintSlotsPerWord, &word); err != nil {
		tb.Fatal(err)
	}
	return word >> ((slot % vipHintSlotsPerWord) * vipHintSlotBits) & (1<<vipHintSlotBits - 1)
}

// entryOf reads service_ids entry id: the service id it holds and its key.
func entryOf(tb testing.TB, d *Dataplane, id uint32) (uint32, bpf.XlbVipKey) {
	tb.Helper()
	var e bpf.XlbServiceEntry
	if err := d.serviceIDs.Lookup(id, &e); err != nil {
		tb.Fatal(err)
	}
	return e.Svc.Id, e.Key
}

func port0Of(tb testing.TB, d *Dataplane) uint32 {
	tb.Helper()
	var v uint32
	if err := d.port0.Get(&v); err != nil {
		tb.Fatal(err)
	}
	return v
}

// sameSlotKeys returns two IPv6 keys of port 80/tcp whose vip_hints slots
// are equal, searching 2001:db8::xxxx:1.
func sameSlotKeys(tb testing.TB) (ServiceKey, ServiceKey) {
	tb.Helper()
	seen := map[uint32]ServiceKey{}
	for i := range 1 << 16 {
		// Bytes 12 and 13 are the low bits of the word the slot's
		// multiplication starts from: they scatter the slots.
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: byte(i >> 8), 13: byte(i), 15: 1})
		k := ServiceKey{Addr: a, Port: 80, Proto: unix.IPPROTO_TCP}
		vk, _ := vipKey(k)
		if other, ok := seen[vipHintSlot(vk)]; ok {
			return other, k
		}
		seen[vipHintSlot(vk)] = k
	}
	tb.Fatal("no two keys share a slot")
	return ServiceKey{}, ServiceKey{}
}

// TestServiceIndex follows vip_hints, service_ids and port0_services
// through puts and deletes: a key's slot says its kind's class while the
// key exists; service_ids holds each id with one of its keys, moving to
// another when that key goes; two keys sharing a slot keep it set until
// both are gone.
func TestServiceIndex(t *testing.T) {
	d := openTest(t, Options{MaxServices: 8, MaxReals: 8, ConnTableSize: 64})
	tcp := func(addrPort string) ServiceKey {
		ap := netip.MustParseAddrPort(addrPort)
		return ServiceKey{Addr: ap.Addr(), Port: ap.Port(), Proto: unix.IPPROTO_TCP}
	}
	a, a2 := tcp("[2001:db8::100]:80"), tcp("[2001:db8::101]:80")
	b, any := tcp("[2001:db8::200]:80"), tcp("[2001:db8::300]:0")
	v4 := tcp("198.18.0.100:80")
	vk := func(k ServiceKey) bpf.XlbVipKey {
		v, err := vipKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	put := func(k ServiceKey, s Service) {
		t.Helper()
		if err := d.PutService(k, s); err != nil {
			t.Fatal(err)
		}
	}
	del := func(k ServiceKey) {
		t.Helper()
		if err := d.DeleteService(k); err != nil {
			t.Fatal(err)
		}
	}
	type state struct {
		Hints  map[string]uint64
		IDs    map[uint32]string // service id in the entry, and its key
		Port0  uint32
		Entry1 uint32
	}
	names := map[bpf.XlbVipKey]string{vk(a): "a", vk(a2): "a2", vk(b): "b", vk(any): "any", vk(v4): "v4"}
	read := func() state {
		t.Helper()
		s := state{Hints: map[string]uint64{}, IDs: map[uint32]string{}, Port0: port0Of(t, d)}
		for _, k := range []ServiceKey{a, a2, b, any, v4} {
			if h := hintOf(t, d, k); h != 0 {
				s.Hints[names[vk(k)]] = h
			}
		}
		for id := uint32(1); id <= 4; id++ {
			if got, key := entryOf(t, d, id); got != 0 || key != (bpf.XlbVipKey{}) {
				if got != id {
					t.Errorf("service_ids[%d] holds service %d", id, got)
				}
				s.IDs[id] = names[key]
			}
		}
		return s
	}
	dr := Service{ID: 1, Kind: KindDR, TableSize: 7}
	fnat := Service{ID: 2, Kind: KindFNAT, TableSize: 7}
	for _, step := range []struct {
		name string
		do   func()
		want state
	}{
		{"DR service", func() { put(a, dr) },
			state{Hints: map[string]uint64{"a": vipHintTracked}, IDs: map[uint32]string{1: "a"}}},
		{"full-NAT service", func() { put(b, fnat) },
			state{Hints: map[string]uint64{"a": vipHintTracked, "b": vipHintOther}, IDs: map[uint32]string{1: "a", 2: "b"}}},
		{"second key of id 1", func() { put(a2, dr) },
			state{Hints: map[string]uint64{"a": vipHintTracked, "a2": vipHintTracked, "b": vipHintOther}, IDs: map[uint32]string{1: "a2", 2: "b"}}},
		{"the entry's key goes: the other key takes it", func() { del(a2) },
			state{Hints: map[string]uint64{"a": vipHintTracked, "b": vipHintOther}, IDs: map[uint32]string{1: "a", 2: "b"}}},
		{"all-ports service", func() { put(any, Service{ID: 3, Kind: KindDR, TableSize: 7}) },
			state{Hints: map[string]uint64{"a": vipHintTracked, "b": vipHintOther, "any": vipHintTracked}, IDs: map[uint32]string{1: "a", 2: "b", 3: "any"}, Port0: 1}},
		{"all-ports service gone", func() { del(any) },
			state{Hints: map[string]uint64{"a": vipHintTracked, "b": vipHintOther}, IDs: map[uint32]string{1: "a", 2: "b"}}},
		{"a turns full NAT", func() { put(a, Service{ID: 1, Kind: KindFNAT, TableSize: 7}) },
			state{Hints: map[string]uint64{"a": vipHintOther, "b": vipHintOther}, IDs: map[uint32]string{1: "a", 2: "b"}}},
		{"a moves to id 4", func() { put(a, Service{ID: 4, Kind: KindDR, TableSize: 7}) },
			state{Hints: map[string]uint64{"a": vipHintTracked, "b": vipHintOther}, IDs: map[uint32]string{2: "b", 4: "a"}}},
		{"IPv4 service", func() { put(v4, Service{ID: 3, Kind: KindNAT, TableSize: 7}) },
			state{Hints: map[string]uint64{"a": vipHintTracked, "b": vipHintOther, "v4": vipHintTracked}, IDs: map[uint32]string{2: "b", 3: "v4", 4: "a"}}},
		{"all gone", func() { del(a); del(b); del(v4) },
			state{Hints: map[string]uint64{}, IDs: map[uint32]string{}}},
	} {
		step.do()
		if diff := cmp.Diff(step.want, read()); diff != "" {
			t.Fatalf("after %s (-want +got):\n%s", step.name, diff)
		}
	}

	// Two keys in one slot: the slot holds both classes, and keeps the
	// other's when one goes.
	k1, k2 := sameSlotKeys(t)
	put(k1, dr)
	put(k2, fnat)
	if got := hintOf(t, d, k1); got != vipHintTracked|vipHintOther {
		t.Errorf("slot of two keys: hint %b, want %b", got, vipHintTracked|vipHintOther)
	}
	del(k1)
	if got := hintOf(t, d, k2); got != vipHintOther {
		t.Errorf("slot after one of its keys went: hint %b, want %b", got, vipHintOther)
	}
	del(k2)
	if got := hintOf(t, d, k2); got != 0 {
		t.Errorf("slot after both keys went: hint %b, want 0", got)
	}
}

// TestTrackedService shows that a tracked packet, IPv4 or IPv6, finds its
// service through its real (bpf/fast.h): with the services entry deleted
// behind the index's back, the tracked flow still goes to its real while
// a new flow passes; reals without a service id, or with one whose
// service_ids key is another VIP's, send the flow back to the services
// lookup, which now fails. For IPv4 that other VIP is also an IPv6 one
// whose last word and port are the flow's: an IPv4 flow's address prefix
// is never written (parse_ipv4), so the key must be proven v4-mapped.
func TestTrackedService(t *testing.T) {
	for _, tc := range []struct {
		family  string
		fixture string
		vip     string // the fixture's TCP service, port 80
		// lookalike is an IPv6 VIP whose last word is the IPv4 VIP's
		// (an IPv4 flow only): a third service, TCP port 80.
		lookalike string
		newFlow   func([]byte, uint16) []byte
	}{
		{"IPv4", "ct_hit", "198.18.0.100", "2001:db8::c612:64", withSport},
		{"IPv6", "ipv6_tcp_tx", "2001:db8::100", "", withSport6},
	} {
		t.Run(tc.family, func(t *testing.T) {
			d := openTest(t, Options{MaxServices: 4, MaxReals: 4, ConnTableSize: 64})
			fx := loadFixtures(t)[tc.fixture]
			fx.fill(t, d)
			putReals := func(serviceID uint32) {
				t.Helper()
				for _, fr := range fx.Reals {
					r := testReal(fr.Ifindex)
					r.Addr = netip.MustParseAddr(fr.Addr)
					r.ServiceID = serviceID
					if err := d.PutReal(fr.ID, r); err != nil {
						t.Fatal(err)
					}
				}
			}
			putReals(1)
			send := func(frame []byte) string {
				t.Helper()
				v, _ := run(t, d.Program(), frame)
				return testutil.VerdictName(v)
			}
			// ct_hit's flow is in the table already; ipv6_tcp_tx's SYN
			// makes it.
			if got := send(fx.In); got != "XDP_TX" {
				t.Fatalf("first packet: %s, want XDP_TX", got)
			}
			if entries := dumpConnKeys(t, d); len(entries) != 1 {
				t.Fatalf("%d tracked flows, want 1", len(entries))
			}
			type step struct {
				name      string
				serviceID uint32 // the reals'
				frame     []byte
				want      string
			}
			steps := []step{
				{"tracked flow, real names its service", 1, fx.In, "XDP_TX"},
				{"new flow", 1, tc.newFlow(fx.In, 40001), "XDP_PASS"},
				{"tracked flow, real names no service", 0, fx.In, "XDP_PASS"},
				{"tracked flow, real names the UDP service", 2, fx.In, "XDP_PASS"},
			}
			if tc.lookalike != "" {
				k := ServiceKey{Addr: netip.MustParseAddr(tc.lookalike), Port: 80, Proto: unix.IPPROTO_TCP}
				if err := d.PutService(k, Service{ID: 3, TableSize: 7, Kind: KindDR}); err != nil {
					t.Fatal(err)
				}
				steps = append(steps, step{"tracked flow, real names an IPv6 service of the same last word", 3, fx.In, "XDP_PASS"})
			}
			// Behind the index's back: the shortcut alone finds it.
			m, mk, err := d.serviceKey(ServiceKey{Addr: netip.MustParseAddr(tc.vip), Port: 80, Proto: unix.IPPROTO_TCP})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Delete(mk); err != nil {
				t.Fatal(err)
			}
			before, err := d.Reasons()
			if err != nil {
				t.Fatal(err)
			}
			for _, step := range steps {
				putReals(step.serviceID)
				if got := send(step.frame); got != step.want {
					t.Errorf("%s: %s, want %s", step.name, got, step.want)
				}
			}
			after, err := d.Reasons()
			if err != nil {
				t.Fatal(err)
			}
			if got := after["ct_hit"] - before["ct_hit"]; got != 1 {
				t.Errorf("conntrack hits: %d, want 1 (the tracked flow while its real named the service)", got)
			}
			if got, want := after["pass_not_vip"]-before["pass_not_vip"], uint64(len(steps)-1); got != want {
				t.Errorf("pass_not_vip: %d, want %d", got, want)
			}
		})
	}
}

// withSport6 returns a copy of an untagged IPv6 TCP/UDP frame without
// extension headers, with source port p.
func withSport6(frame []byte, p uint16) []byte {
	out := bytes.Clone(frame)
	binary.BigEndian.PutUint16(out[ethHeaderLen+ipv6HeaderLen:], p)
	return out
}

// TestMarkedIfaces follows marked_ifaces, the global that spares every
// packet the ifaces lookup while no interface faces NAT or full-NAT reals:
// set while any interface has a flag, clear when the last flag goes.
func TestMarkedIfaces(t *testing.T) {
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4, ConnTableSize: 64})
	for _, step := range []struct {
		name string
		do   func() error
		want uint32
	}{
		{"none", func() error { return nil }, 0},
		{"2 inside", func() error { return d.SetInside(2, true) }, 1},
		{"2 also full-NAT inside", func() error { return d.SetFNATInside(2, true) }, 1},
		{"3 inside", func() error { return d.SetInside(3, true) }, 1},
		{"2 no longer inside", func() error { return d.SetInside(2, false) }, 1},
		{"2 no longer full-NAT inside", func() error { return d.SetFNATInside(2, false) }, 1},
		{"3 no longer inside", func() error { return d.SetInside(3, false) }, 0},
		{"clearing twice", func() error { return d.SetInside(3, false) }, 0},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		var got uint32
		if err := d.marked.Get(&got); err != nil {
			t.Fatal(err)
		}
		if got != step.want {
			t.Errorf("%s: marked_ifaces %d, want %d", step.name, got, step.want)
		}
	}
}
