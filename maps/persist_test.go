package maps

import (
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"xlb/internal/testutil"
)

// TestPersistClient checks the template key of a client: its address
// masked by the service's persistence_granularity, a host by default, as
// the program masks it (service.persist_mask).
func TestPersistClient(t *testing.T) {
	v4, v6 := netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("2001:db8::100")
	tests := []struct {
		vip    netip.Addr
		client string
		bits   int
		want   string
	}{
		{v4, "198.18.1.10", 0, "198.18.1.10"},
		{v4, "198.18.1.10", 24, "198.18.1.0"},
		{v4, "198.18.1.10", 23, "198.18.0.0"},
		{v4, "198.18.1.10", 64, "198.18.1.10"}, // beyond the family: a host
		{v4, "::ffff:198.18.1.10", 16, "198.18.0.0"},
		{v6, "2001:db8:1:2:3::9", 0, "2001:db8:1:2:3::9"},
		{v6, "2001:db8:1:2:3::9", 64, "2001:db8:1:2::"},
		{v6, "2001:db8:1:2:3::9", 33, "2001:db8::"},
	}
	for _, tc := range tests {
		if got := PersistClient(tc.vip, netip.MustParseAddr(tc.client), tc.bits); got.String() != tc.want {
			t.Errorf("PersistClient(%s, %s, %d) = %s, want %s", tc.vip, tc.client, tc.bits, got, tc.want)
		}
	}
	m := PersistMask(v4, 24)
	if want := [16]byte{12: 0xff, 13: 0xff, 14: 0xff}; m != want {
		t.Errorf("PersistMask(v4, 24) = %x, want %x", m, want)
	}
}

// TestPersistMemory reports what the template tables cost per million
// templates as the kernel counts them, and fails above 92 MiB (IPv4) and
// 108 MiB (IPv6) per million (measured: 88 and 104).
func TestPersistMemory(t *testing.T) {
	const entries = 1 << 20
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4, ConnTableSize: 1, NATTableSize: 1, PersistTableSize: entries, PersistTableSize6: entries})
	for _, tc := range []struct {
		name  string
		m     *ebpf.Map
		limit uint64
	}{
		{"persist4", d.persist4, 92 << 20},
		{"persist6", d.persist6, 108 << 20},
	} {
		loaded, _ := mapMemory(t, tc.name, tc.m)
		if loaded > tc.limit {
			t.Errorf("%s takes %d bytes for %d templates, want <= %d", tc.name, loaded, entries, tc.limit)
		}
	}
}

// TestPersistAndPort0 runs the program on frames and checks what the Go
// side reads back: the template a persistent service wrote (LookupPersist,
// keyed by PersistClient), and that the all-ports flag follows the port-0
// services, so a packet to another port of the VIP passes once the last
// of them is deleted.
func TestPersistAndPort0(t *testing.T) {
	fx := loadFixtures(t)
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4})
	f := fx["persist_same_prefix"]
	f.fill(t, d)
	run(t, d.Program(), f.Before[0])
	vip := netip.MustParseAddr("198.18.0.100")
	tmpl, ok, err := d.LookupPersist(1, PersistClient(vip, netip.MustParseAddr("198.18.1.77"), 24))
	if err != nil || !ok || tmpl.RealID != 1 {
		t.Errorf("LookupPersist(1, 198.18.1.0) = %+v, %v, %v; want real 1", tmpl, ok, err)
	}
	if age := MonotonicNow() - tmpl.LastSeen; age < 0 || age > time.Minute {
		t.Errorf("template last seen %v ago, want just now", age)
	}

	in := fx["port0_any_port"].In
	k := ServiceKey{Addr: vip, Port: 0, Proto: unix.IPPROTO_TCP}
	svc := Service{ID: 2, TableSize: 7, Kind: KindDR}
	if err := d.SwapTable(2, []uint32{1, 1, 1, 1, 1, 1, 1}); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		put  bool
		want string
	}{{true, "XDP_TX"}, {false, "XDP_PASS"}} {
		if step.put {
			err = d.PutService(k, svc)
		} else {
			err = d.DeleteService(k)
		}
		if err != nil {
			t.Fatal(err)
		}
		var flag uint32
		if err := d.port0.Get(&flag); err != nil {
			t.Fatal(err)
		}
		if v, _ := run(t, d.Program(), in); testutil.VerdictName(v) != step.want || (flag != 0) != step.put {
			t.Errorf("port-0 service present %v: port 8080 %s, flag %d; want %s", step.put, testutil.VerdictName(v), flag, step.want)
		}
	}
}
