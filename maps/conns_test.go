package maps

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"xlb/bpf"

	"xlb/internal/testutil"
)

// TestConntrack follows one flow through the connection table as the
// control plane changes its real: LookupConn sees what the program wrote,
// a MAC move keeps the flow, a new address under the same id moves it.
func TestConntrack(t *testing.T) {
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4, ConnTableSize: 64})
	fx := loadFixtures(t)["tcp_vip_tx"]
	fx.fill(t, d)
	flow := Flow{Src: netip.MustParseAddrPort("198.18.1.10:40000"), Dst: netip.MustParseAddrPort("198.18.0.100:80"), Proto: unix.IPPROTO_TCP}

	if _, ok, err := d.LookupConn(flow); err != nil || ok {
		t.Fatalf("before the first packet: LookupConn = _, %v, %v; want no entry", ok, err)
	}
	send := func() (realLast byte) {
		t.Helper()
		v, out := run(t, d.Program(), fx.In)
		if testutil.VerdictName(v) != "XDP_TX" {
			t.Fatalf("verdict %s, want XDP_TX", testutil.VerdictName(v))
		}
		return out[ethAddrLen-1]
	}
	if got := send(); got != 1 {
		t.Fatalf("first packet went to real %d, want 1 (the golden choice)", got)
	}
	before := MonotonicNow()
	c, ok, err := d.LookupConn(flow)
	if err != nil || !ok {
		t.Fatalf("after the first packet: LookupConn = _, %v, %v; want an entry", ok, err)
	}
	if diff := cmp.Diff(Conn{RealID: 1, RealGen: 1, State: ConnSYN}, c, cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().String() == ".LastSeen"
	}, cmp.Ignore())); diff != "" {
		t.Errorf("conn (-want +got):\n%s", diff)
	}
	if idle := before - c.LastSeen; idle < 0 || idle > time.Second {
		t.Errorf("last seen %s before now, want within a second", idle)
	}

	// A MAC move of real 1 (same address) keeps the flow and generation.
	r1 := Real{Addr: netip.MustParseAddr("198.18.0.11"), MAC: net.HardwareAddr{0x02, 0, 0, 0, 0x01, 0x11}, SrcMAC: nodeMAC, Ifindex: loIfindex}
	if err := d.PutReal(1, r1); err != nil {
		t.Fatal(err)
	}
	if got := send(); got != 0x11 {
		t.Errorf("after a MAC move the flow went to %#x, want the moved real (0x11)", got)
	}
	// Real id 1 now names another server: the flow is rescheduled (the
	// table still says 1, so it lands there, but on the new generation).
	r1.Addr = netip.MustParseAddr("198.18.0.21")
	if err := d.PutReal(1, r1); err != nil {
		t.Fatal(err)
	}
	send()
	if c, _, _ := d.LookupConn(flow); c.RealGen != 2 {
		t.Errorf("after the id's address changed: conn generation %d, want 2", c.RealGen)
	}
	// Deleting and re-adding keeps counting generations.
	if err := d.DeleteReal(1); err != nil {
		t.Fatal(err)
	}
	if err := d.PutReal(1, r1); err != nil {
		t.Fatal(err)
	}
	send()
	if c, _, _ := d.LookupConn(flow); c.RealGen != 3 {
		t.Errorf("after delete and put: conn generation %d, want 3", c.RealGen)
	}
	want := map[string]uint64{"ct_miss": 1, "ct_hit": 1, "ct_real_gone": 2, "tx": 4}
	if diff := cmp.Diff(want, nonZero(t, d)); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}

	// The program leaves hits uncounted; Reasons derives them.
	var raw []bpf.XlbReasonCount
	if err := d.reasons.Lookup(uint32(bpf.XlbReasonREASON_CT_HIT), &raw); err != nil {
		t.Fatal(err)
	}
	for cpu, c := range raw {
		if c.Packets != 0 {
			t.Errorf("reasons map: ct_hit on cpu %d = %d, want 0 (derived, not counted)", cpu, c.Packets)
		}
	}

	if _, _, err := d.LookupConn(Flow{Src: flow.Src, Dst: netip.MustParseAddrPort("[2001:db8::1]:80"), Proto: unix.IPPROTO_TCP}); err == nil {
		t.Error("LookupConn of a mixed-family flow: no error")
	}
}

// TestConntrackIPv6 checks that an IPv6 flow lands in conns6 and that
// LookupConn finds it there, and not an IPv4 flow of the same ports.
func TestConntrackIPv6(t *testing.T) {
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4, ConnTableSize: 64})
	fx := loadFixtures(t)["ipv6_tcp_tx"]
	fx.fill(t, d)
	if v, _ := run(t, d.Program(), fx.In); testutil.VerdictName(v) != "XDP_TX" {
		t.Fatalf("verdict %s, want XDP_TX", testutil.VerdictName(v))
	}
	entries := dumpConnKeys(t, d)
	if len(entries) != 1 || entries[0].table != d.conns6 {
		t.Fatalf("after one IPv6 packet: %d entries (want 1, in conns6)", len(entries))
	}
	flow := flowFromKey(entries[0].key)
	c, ok, err := d.LookupConn(flow)
	if err != nil || !ok {
		t.Fatalf("LookupConn(%s) = _, %v, %v; want the entry", flow, ok, err)
	}
	if c != connFromC(entries[0].val) {
		t.Errorf("LookupConn(%s) = %+v, want %+v", flow, c, connFromC(entries[0].val))
	}
	if !flow.Src.Addr().Is6() {
		t.Errorf("conns6 entry has source %s, want IPv6", flow.Src)
	}
}

// TestConnTimeouts checks that Options' timeouts reach the program: a
// one-second udp timeout expires a flow idle for two seconds, and the
// default (300 s) does not.
func TestConnTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		udp     time.Duration
		wantWhy string
	}{
		{"udp 1s", time.Second, "ct_expired"},
		{"udp default", 0, "ct_hit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openTest(t, Options{MaxServices: 4, MaxReals: 4, UDPTimeout: tc.udp})
			fx := loadFixtures(t)["udp_vip_tx"]
			fx.fill(t, d)
			flow := Flow{Src: netip.MustParseAddrPort("198.18.1.10:50000"), Dst: netip.MustParseAddrPort("198.18.0.100:53"), Proto: unix.IPPROTO_UDP}
			putConn(t, d, flow, bpf.XlbConn{RealId: 1, RealGen: 1, State: uint8(ConnUDP), LastSeen: uint64(MonotonicNow() - 2*time.Second)}, ebpf.UpdateAny)
			run(t, d.Program(), fx.In)
			got := nonZero(t, d)
			if got[tc.wantWhy] != 1 {
				t.Errorf("reasons %v, want %s", got, tc.wantWhy)
			}
		})
	}
}

// TestConnMemory reports what each connection table and NAT reverse
// table costs the kernel per million flows, as loaded. All four are
// set-associative arrays (bpf/conntab.h, bpf/nattab.h). It fails if the
// IPv4 connection table takes more than 36 MiB per million flows or the
// IPv6 one more than 68 MiB (32- and 64-byte ways: 32 and 64 MiB; as LRU
// hashes they took 96 and 120), or the NAT reverse tables more than 84
// and 116 MiB (320- and 448-byte sets of four 56-byte values with their
// keys: 80 and 112 MiB; as LRU hashes they took 136 and 160).
func TestConnMemory(t *testing.T) {
	const entries = 1 << 20
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4, ConnTableSize: entries, ConnTableSize6: entries, NATTableSize: entries, NATTableSize6: entries})
	for _, tc := range []struct {
		name  string
		m     *ebpf.Map
		limit uint64
	}{
		{"conns4", d.conns4, 36 << 20},
		{"conns6", d.conns6, 68 << 20},
		{"nat4", d.nat4, 84 << 20},
		{"nat6", d.nat6, 116 << 20},
	} {
		loaded, _ := mapMemory(t, tc.name, tc.m)
		if loaded > tc.limit {
			t.Errorf("%s takes %d bytes for %d flows, want <= %d", tc.name, loaded, entries, tc.limit)
		}
	}
}
