package maps

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"xlb/bpf"
	"xlb/internal/testutil"
)

var (
	testVIP = ServiceKey{Addr: netip.MustParseAddr("198.18.0.100"), Port: 80, Proto: unix.IPPROTO_TCP}
	testMAC = net.HardwareAddr{0x02, 0, 0, 0, 0x01, 0x01}
	nodeMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
)

func testReal(ifindex int) Real {
	return Real{Addr: netip.MustParseAddr("198.18.0.11"), MAC: testMAC, SrcMAC: nodeMAC, Ifindex: ifindex}
}

// TestRealMTU checks the MTU a real carries for TUN's Packet Too Big: as
// given, and loopback's 65536 as the largest a packet can have.
func TestRealMTU(t *testing.T) {
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4})
	for _, tc := range []struct{ mtu, want int }{{0, 0}, {1400, 1400}, {65535, 65535}, {65536, 65535}} {
		r := testReal(1)
		r.MTU = tc.mtu
		if err := d.PutReal(1, r); err != nil {
			t.Fatal(err)
		}
		var val bpf.XlbReal
		if err := d.reals.Lookup(uint32(1), &val); err != nil {
			t.Fatal(err)
		}
		if int(val.Mtu) != tc.want {
			t.Errorf("MTU %d stored as %d, want %d", tc.mtu, val.Mtu, tc.want)
		}
	}
}

func TestValidation(t *testing.T) {
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4})
	okSvc := Service{ID: 1, TableSize: 7, Kind: KindDR}
	tests := []struct {
		name string
		do   func() error
		want string // substring of the error; "" for success
	}{
		{"service ok", func() error { return d.PutService(testVIP, okSvc) }, ""},
		{"service v4-mapped vip", func() error {
			k := testVIP
			k.Addr = netip.MustParseAddr("::ffff:198.18.0.100")
			return d.PutService(k, okSvc)
		}, ""},
		{"service v6 vip", func() error {
			k := testVIP
			k.Addr = netip.MustParseAddr("2001:db8::1")
			return d.PutService(k, okSvc)
		}, ""},
		{"service zoned vip", func() error {
			k := testVIP
			k.Addr = netip.MustParseAddr("fe80::1%eth0")
			return d.PutService(k, okSvc)
		}, "put service [fe80::1%eth0]:80/tcp: addr: want no zone, got \"eth0\""},
		{"service tun", func() error {
			return d.PutService(testVIP, Service{ID: 1, TableSize: 7, Kind: KindTUN, TunnelSrc: netip.MustParseAddr("198.18.0.1")})
		}, ""},
		{"service tun no src", func() error {
			return d.PutService(testVIP, Service{ID: 1, TableSize: 7, Kind: KindTUN})
		}, "tunnel src: want an address for a TUN service, got \"invalid IP\""},
		{"service tun unspecified src", func() error {
			return d.PutService(testVIP, Service{ID: 1, TableSize: 7, Kind: KindTUN, TunnelSrc: netip.IPv6Unspecified()})
		}, "tunnel src: want an address for a TUN service, got \"::\""},
		{"service no addr", func() error { return d.PutService(ServiceKey{Port: 80, Proto: unix.IPPROTO_TCP}, okSvc) }, "addr: missing"},
		{"service ops tcp", func() error {
			s := okSvc
			s.OnePacket = true
			return d.PutService(testVIP, s)
		}, "one-packet scheduling: want a udp service"},
		{"service persist fraction", func() error {
			s := okSvc
			s.Persist = 1500 * time.Millisecond
			return d.PutService(testVIP, s)
		}, "persist: want whole seconds"},
		{"service persist prefix", func() error {
			s := okSvc
			s.Persist, s.PersistPrefix = time.Second, 129
			return d.PutService(testVIP, s)
		}, "persist prefix: want 0..128, got 129"},
		{"template service id", func() error {
			_, _, err := d.LookupPersist(0, netip.MustParseAddr("198.18.1.0"))
			return err
		}, "service id: want 1..4, got 0"},
		{"service proto", func() error {
			k := testVIP
			k.Proto = unix.IPPROTO_ICMP
			return d.PutService(k, okSvc)
		}, "put service 198.18.0.100:80/proto1: proto: want tcp (6) or udp (17), got 1"},
		{"service id 0", func() error { return d.PutService(testVIP, Service{ID: 0, TableSize: 7, Kind: KindDR}) }, "service id: want 1..4, got 0"},
		{"service id too big", func() error { return d.PutService(testVIP, Service{ID: 5, TableSize: 7, Kind: KindDR}) }, "service id: want 1..4, got 5"},
		{"service table not prime", func() error { return d.PutService(testVIP, Service{ID: 1, TableSize: 8, Kind: KindDR}) }, "table size: want a prime <= 65537, got 8"},
		{"service table too big", func() error { return d.PutService(testVIP, Service{ID: 1, TableSize: 65539, Kind: KindDR}) }, "table size: want a prime <= 65537, got 65539"},
		{"service sh", func() error {
			return d.PutService(testVIP, Service{ID: 1, TableSize: 7, Kind: KindDR, Hash: HashSource})
		}, ""},
		{"service dh", func() error { return d.PutService(testVIP, Service{ID: 1, TableSize: 7, Kind: KindDR, Hash: HashDest}) }, ""},
		{"service hash", func() error { return d.PutService(testVIP, Service{ID: 1, TableSize: 7, Kind: KindDR, Hash: 3}) }, "hash: want 0 (flow), 1 (source) or 2 (dest), got 3"},
		{"service kind", func() error { return d.PutService(testVIP, Service{ID: 1, TableSize: 7, Kind: 5}) }, "kind: want 1 (DR), 2 (NAT), 3 (TUN) or 4 (FNAT), got 5"},
		{"service fnat", func() error { return d.PutService(testVIP, Service{ID: 1, TableSize: 7, Kind: KindFNAT}) }, ""},
		{"fnat pool", func() error {
			return d.PutFNATPool(1, FNATPool{Addrs: []netip.Addr{netip.MustParseAddr("198.18.2.100"), netip.MustParseAddr("198.18.2.101")}})
		}, ""},
		{"fnat pool empty", func() error { return d.PutFNATPool(1, FNATPool{}) }, "put fnat pool of service 1: addrs: want 1..16, got 0"},
		{"fnat pool families", func() error {
			return d.PutFNATPool(1, FNATPool{Addrs: []netip.Addr{netip.MustParseAddr("198.18.2.100"), netip.MustParseAddr("2001:db8::1")}})
		}, "addr 2001:db8::1: want the family of 198.18.2.100"},
		{"fnat pool ports", func() error {
			return d.PutFNATPool(1, FNATPool{Addrs: []netip.Addr{netip.MustParseAddr("198.18.2.100")}, PortMin: 2000, PortMax: 1999})
		}, "ports: want min <= max, got 2000-1999"},
		{"fnat pool service id", func() error {
			return d.PutFNATPool(99, FNATPool{Addrs: []netip.Addr{netip.MustParseAddr("198.18.2.100")}})
		}, "service id: want 1..4, got 99"},
		{"fnat inside ok", func() error { return d.SetFNATInside(2, true) }, ""},
		{"fnat inside ifindex 0", func() error { return d.SetFNATInside(0, true) }, "set fnat inside 0: ifindex: want 1..4095, got 0"},
		{"service nat", func() error { return d.PutService(testVIP, Service{ID: 1, TableSize: 7, Kind: KindNAT}) }, ""},
		{"real routed", func() error {
			return d.PutReal(2, Real{Addr: netip.MustParseAddr("198.18.2.11"), Port: 8080})
		}, ""},
		{"inside ok", func() error { return d.SetInside(2, true) }, ""},
		{"inside ifindex 0", func() error { return d.SetInside(0, true) }, "set inside 0: ifindex: want 1..4095, got 0"},
		{"inside ifindex too big", func() error { return d.SetInside(4096, false) }, "ifindex: want 1..4095, got 4096"},
		{"real routed with mac", func() error {
			return d.PutReal(2, Real{Addr: netip.MustParseAddr("198.18.2.11"), MAC: testMAC})
		}, "src mac: want 6 bytes, got 0"},
		{"real ok", func() error { return d.PutReal(4, testReal(1)) }, ""},
		{"real id 0", func() error { return d.PutReal(0, testReal(1)) }, "put real 0 (198.18.0.11): real id: want 1..4, got 0"},
		{"real id too big", func() error { return d.PutReal(5, testReal(1)) }, "real id: want 1..4, got 5"},
		{"real v6", func() error {
			r := testReal(1)
			r.Addr = netip.MustParseAddr("2001:db8::11")
			return d.PutReal(1, r)
		}, ""},
		{"real unspecified", func() error {
			r := testReal(1)
			r.Addr = netip.IPv4Unspecified()
			return d.PutReal(1, r)
		}, "addr: want an address, got \"0.0.0.0\""},
		{"real short mac", func() error {
			r := testReal(1)
			r.MAC = r.MAC[:4]
			return d.PutReal(1, r)
		}, "mac: want 6 bytes, got 4"},
		{"real no src mac", func() error {
			r := testReal(1)
			r.SrcMAC = nil
			return d.PutReal(1, r)
		}, "src mac: want 6 bytes, got 0"},
		{"real ifindex", func() error { return d.PutReal(1, testReal(0)) }, "ifindex: want > 0, got 0"},
		{"real mtu", func() error {
			r := testReal(1)
			r.MTU = -1
			return d.PutReal(1, r)
		}, "mtu: want >= 0, got -1"},
		{"delete real id", func() error { return d.DeleteReal(9) }, "delete real 9: real id: want 1..4, got 9"},
		{"table ok", func() error { return d.SwapTable(1, make([]uint32, 7)) }, ""},
		{"table not prime", func() error { return d.SwapTable(1, make([]uint32, 9)) }, "swap maglev table of service 1: table size: want a prime <= 65537, got 9"},
		{"table empty", func() error { return d.SwapTable(1, nil) }, "table size: want a prime <= 65537, got 0"},
		{"table real id", func() error { return d.SwapTable(1, []uint32{1, 2, 5}) }, "slot 2: real id: want 0..4, got 5"},
		{"table service id", func() error { return d.SwapTable(5, make([]uint32, 7)) }, "service id: want 1..4, got 5"},
		{"counters id", func() error { _, err := d.RealCounters(0); return err }, "real 0 counters: real id: want 1..4, got 0"},
		{"real counters id", func() error { _, err := d.RealCounters(5); return err }, "real 5 counters: real id: want 1..4, got 5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if tc.want == "" && err != nil || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("error = %q, want one containing %q", got, tc.want)
			}
		})
	}
}

func TestDeleteNotFound(t *testing.T) {
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4})
	if err := d.DeleteService(testVIP); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteService of a missing service = %v, want ErrNotFound", err)
	}
	if err := d.DeleteTable(1); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteTable of a missing table = %v, want ErrNotFound", err)
	}
	if err := d.PutService(testVIP, Service{ID: 1, TableSize: 7, Kind: KindDR}); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteService(testVIP); err != nil {
		t.Errorf("DeleteService: %v", err)
	}
}

// vipFrame returns the golden TCP SYN to testVIP.
func vipFrame(tb testing.TB) []byte {
	tb.Helper()
	return loadFixtures(tb)["tcp_vip_tx"].In
}

func TestSwapTable(t *testing.T) {
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4})
	if err := d.PutService(testVIP, Service{ID: 1, TableSize: 65537, Kind: KindDR}); err != nil {
		t.Fatal(err)
	}
	r1, r2 := testReal(loIfindex), testReal(loIfindex)
	r2.MAC = net.HardwareAddr{0x02, 0, 0, 0, 0x01, 0x02}
	for id, r := range map[uint32]Real{1: r1, 2: r2} {
		if err := d.PutReal(id, r); err != nil {
			t.Fatal(err)
		}
	}
	table := func(realID uint32) []uint32 {
		s := make([]uint32, 65537)
		for i := range s {
			s[i] = realID
		}
		return s
	}
	in := vipFrame(t)
	// Each check is a new flow (next source port): a tracked flow keeps
	// its real across swaps, a new one takes the table's.
	sport := uint16(50000)
	dstMAC := func() string {
		sport++
		v, out := run(t, d.Program(), withSport(in, sport))
		if v != uint32(3) { // XDP_TX
			t.Fatalf("verdict %s, want XDP_TX", testutil.VerdictName(v))
		}
		return net.HardwareAddr(out[:6]).String()
	}

	if err := d.SwapTable(1, table(1)); err != nil {
		t.Fatal(err)
	}
	var oldID ebpf.MapID
	if err := d.tables.Lookup(uint32(1), &oldID); err != nil {
		t.Fatal(err)
	}
	if got := dstMAC(); got != r1.MAC.String() {
		t.Fatalf("before swap: dst mac %s, want real 1's %s", got, r1.MAC)
	}

	// Packets run concurrently with repeated swaps: each must see a whole
	// table (real 1 or 2), never a missing one.
	const swaps = 50
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var drops, runs int
	wg.Add(1)
	go func() {
		defer wg.Done()
		out := make([]byte, len(in)+256)
		for {
			select {
			case <-stop:
				return
			default:
			}
			v, err := d.Program().Run(&ebpf.RunOptions{Data: in, DataOut: out, Context: xdpMD{DataEnd: uint32(len(in)), IngressIfindex: loIfindex}})
			runs++
			if err != nil || v != 3 {
				drops++
			}
		}
	}()
	for i := range swaps {
		if err := d.SwapTable(1, table(uint32(2-i%2))); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	if runs == 0 {
		t.Error("no packet ran during the swaps")
	}
	t.Logf("%d packets ran during %d swaps", runs, swaps)
	if drops != 0 {
		t.Errorf("%d of %d packets run during swaps were not XDP_TX", drops, runs)
	}

	// The last swap installed real 1's table; install real 2's and check.
	if err := d.SwapTable(1, table(2)); err != nil {
		t.Fatal(err)
	}
	if got := dstMAC(); got != r2.MAC.String() {
		t.Errorf("after swap: dst mac %s, want real 2's %s", got, r2.MAC)
	}
	var newID ebpf.MapID
	if err := d.tables.Lookup(uint32(1), &newID); err != nil {
		t.Fatal(err)
	}
	if newID == oldID {
		t.Fatalf("inner map id unchanged (%d): table written in place", newID)
	}
	// The kernel frees a replaced inner map after an RCU grace period.
	deadline := time.Now().Add(5 * time.Second)
	for {
		m, err := ebpf.NewMapFromID(oldID)
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err == nil {
			m.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("old inner map %d still exists 5s after the swap (err %v)", oldID, err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	if err := d.DeleteTable(1); err != nil {
		t.Fatal(err)
	}
	if v, _ := run(t, d.Program(), withSport(in, sport+1)); v != 1 { // XDP_DROP
		t.Errorf("after DeleteTable: verdict %s, want XDP_DROP", testutil.VerdictName(v))
	}
}

func TestCounters(t *testing.T) {
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4})
	f := loadFixtures(t)["tcp_vip_tx"]
	f.fill(t, d)
	const packets = 3
	for range packets {
		run(t, d.Program(), f.In)
	}
	// One flow (the same SYN three times): one connection.
	want := Counters{Packets: packets, Bytes: packets * uint64(len(f.In)), Connections: 1}
	// The golden counters name the real the fixture's flow goes to.
	var realID uint32
	for id, c := range f.RealCounters {
		if c.Packets != 0 {
			realID = id
		}
	}
	if realID == 0 {
		t.Fatal("golden tcp_vip_tx counts no packet for any real")
	}
	if got, _ := d.RealCounters(realID); got != want {
		t.Errorf("real %d counters = %+v, want %+v", realID, got, want)
	}
	if err := d.ClearRealCounters(realID); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.RealCounters(realID); got != (Counters{}) {
		t.Errorf("real counters after clear = %+v, want zero", got)
	}
}

func TestReasonNames(t *testing.T) {
	d := openTest(t, Options{})
	got, err := d.Reasons()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range got {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"ct_expired", "ct_hit", "ct_miss", "ct_real_gone",
		"drop_family", "drop_fnat_no_port", "drop_malformed", "drop_no_real", "drop_real_removed", "drop_tun_too_big", "drop_tunnel", "drop_unknown_kind",
		"icmp_drop", "icmp_no_flow", "icmp_pass_route", "icmp_reply", "icmp_to_real", "ops",
		"pass_fib", "pass_fragment", "pass_ipv6_ext_limit", "pass_ipv6_routing", "pass_no_neigh", "pass_not_ip", "pass_not_vip",
		"pass_other_l4", "redirect", "reply_pass_fib", "reply_pass_no_neigh", "reply_redirect", "reply_tx", "tun_ptb_sent", "tx"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("reason names (-want +got):\n%s", diff)
	}
}

// TestUnknownKindDropped writes a service with a kind the program cannot
// forward straight into the maps (PutService refuses it): the services
// entry and the service_ids one every lookup ends in.
func TestUnknownKindDropped(t *testing.T) {
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4})
	f := loadFixtures(t)["tcp_vip_tx"]
	f.fill(t, d)
	m, key, err := d.serviceKey(testVIP)
	if err != nil {
		t.Fatal(err)
	}
	vk, err := vipKey(testVIP)
	if err != nil {
		t.Fatal(err)
	}
	bad := bpf.XlbService{Id: 1, TableSize: 7, Kind: 9}
	if err := m.Update(key, &bad, ebpf.UpdateAny); err != nil {
		t.Fatal(err)
	}
	if err := d.serviceIDs.Update(bad.Id, &bpf.XlbServiceEntry{Svc: bad, Key: vk}, ebpf.UpdateAny); err != nil {
		t.Fatal(err)
	}
	if v, _ := run(t, d.Program(), f.In); v != 1 {
		t.Errorf("verdict %s, want XDP_DROP", testutil.VerdictName(v))
	}
	if diff := cmp.Diff(map[string]uint64{"drop_unknown_kind": 1}, nonZero(t, d)); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
}

func TestPinning(t *testing.T) {
	testutil.RequireRoot(t)
	dir := testPinDir(t)

	// A dead xlbd left pins behind: a map of the wrong shape under our name.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := stale.Pin(filepath.Join(dir, bpf.XlbMapServices)); err != nil {
		t.Fatal(err)
	}
	stale.Close()

	d, err := Open(Options{PinDir: dir, MaxServices: 4, MaxReals: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	pinned, err := ebpf.LoadPinnedMap(filepath.Join(dir, bpf.XlbMapServices), nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := pinned.Info()
	pinned.Close()
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != ebpf.Hash {
		t.Errorf("pinned services map is a %s: stale pin not replaced", info.Type)
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"clock", "conns4", "conns6", "fnat4", "fnat6", "fnat_pools", "fnat_rev4", "fnat_rev6", "fnat_scratch", "icmp_scratch", "ifaces", "localities", "locality_scratch", "maglev_tables", "nat4", "nat6", "persist4", "persist6", "real_conns", "real_stats", "reals", "reasons", "sched_lists", "sched_pos", "service_ids", "services", "services4", "vip_hints"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("pins (-want +got):\n%s", diff)
	}

	// A second live data plane on the same dir is refused, by name.
	if d2, err := Open(Options{PinDir: dir}); err == nil {
		d2.Close()
		t.Fatal("second Open on the same pin dir succeeded")
	} else if !strings.Contains(err.Error(), dir+" is in use") {
		t.Errorf("second Open: error %q does not name the dir as in use", err)
	}

	// bpftool prints BTF field names, for operators.
	if err := d.PutService(testVIP, Service{ID: 1, TableSize: 7, Kind: KindDR}); err != nil {
		t.Fatal(err)
	}
	if err := d.SwapTable(1, []uint32{1, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bpftool", "map", "dump", "pinned", filepath.Join(dir, "services4")).CombinedOutput()
	if err != nil {
		t.Fatalf("bpftool: %v: %s", err, out)
	}
	for _, field := range []string{`"addr"`, `"port"`, `"proto"`, `"id"`, `"table_size"`, `"kind"`} {
		if !strings.Contains(string(out), field) {
			t.Errorf("bpftool dump of services4 lacks field %s:\n%s", field, out)
		}
	}
	var innerID ebpf.MapID
	if err := d.tables.Lookup(uint32(1), &innerID); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command("bpftool", "map", "dump", "id", strconv.FormatUint(uint64(innerID), 10)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"real_id"`) {
		t.Errorf("bpftool dump of the inner table lacks real_id (err %v):\n%.300s", err, out)
	}

	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pin dir still there after Close (stat: %v)", err)
	}

	// Once closed, the dir is free again.
	d3, err := Open(Options{PinDir: dir, MaxServices: 4, MaxReals: 4})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	if err := d3.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenNotBPFFS(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	_, err := Open(Options{PinDir: dir})
	if err == nil || !strings.Contains(err.Error(), dir+": not on a bpf filesystem") {
		t.Errorf("Open on tmpfs: error %v, want one saying it is not on a bpf filesystem", err)
	}
}

func TestAttach(t *testing.T) {
	a, b := testutil.NetNS(t), testutil.NetNS(t)
	testutil.Veth(t, a, "xlb0", b, "peer0")
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4})

	var mode string
	err := a.Do(func() error {
		var err error
		mode, err = d.Attach("xlb0")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if mode != "native" {
		t.Errorf("mode %q on veth, want native", mode)
	}
	if out := a.MustRun(t, "ip", "link", "show", "xlb0"); !strings.Contains(out, "prog/xdp") {
		t.Errorf("no xdp program on xlb0 after Attach:\n%s", out)
	}
	if err := a.Do(func() error { _, err := d.Attach("xlb0"); return err }); err == nil {
		t.Error("second Attach to xlb0 succeeded")
	}
	if err := a.Do(func() error { _, err := d.Attach("nosuch0"); return err }); err == nil {
		t.Error("Attach to a missing interface succeeded")
	}

	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if out := a.MustRun(t, "ip", "link", "show", "xlb0"); strings.Contains(out, "prog/xdp") {
		t.Errorf("xdp program still on xlb0 after Close:\n%s", out)
	}
}

// TestFlowTableDefaults checks the sizes flowTableDefaults fills in: an
// IPv6 table follows its own IPv4 size when that is given (a quarter, at
// least 1: what xlbd's --nat-table-size and --fnat-table-size rely on),
// else the connection table's; sizes given stay as given.
func TestFlowTableDefaults(t *testing.T) {
	type sizes struct{ conn, conn6, nat, nat6, fnat, fnat6 uint32 }
	for _, tc := range []struct {
		in, want sizes
	}{
		{sizes{}, sizes{1 << 20, 1 << 18, 1 << 20, 1 << 18, 1 << 18, 1 << 16}},
		{sizes{nat: 1, fnat: 1}, sizes{1 << 20, 1 << 18, 1, 1, 1, 1}},
		{sizes{nat: 7, fnat: 8}, sizes{1 << 20, 1 << 18, 7, 1, 8, 2}},
		{sizes{nat: 1 << 20, fnat: 1 << 20}, sizes{1 << 20, 1 << 18, 1 << 20, 1 << 18, 1 << 20, 1 << 18}},
		{sizes{conn: 4096, nat6: 5, fnat6: 6}, sizes{4096, 1024, 4096, 5, 1024, 6}},
		{sizes{conn: 4096, conn6: 100}, sizes{4096, 100, 4096, 100, 1024, 25}},
	} {
		o := Options{ConnTableSize: tc.in.conn, ConnTableSize6: tc.in.conn6, NATTableSize: tc.in.nat, NATTableSize6: tc.in.nat6,
			FNATTableSize: tc.in.fnat, FNATTableSize6: tc.in.fnat6}
		flowTableDefaults(&o)
		got := sizes{o.ConnTableSize, o.ConnTableSize6, o.NATTableSize, o.NATTableSize6, o.FNATTableSize, o.FNATTableSize6}
		if got != tc.want {
			t.Errorf("%+v: got %+v, want %+v", tc.in, got, tc.want)
		}
	}
}
