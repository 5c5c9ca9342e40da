package maps

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"xlb/bpf"
	"xlb/controlplane/sched"
	"xlb/internal/testutil"
)

// refdrService is a service of the refdr reference (bpf/refdr.c): a VIP
// and its run of reals in refdr_reals.
type refdrService struct {
	vip          netip.AddrPort
	proto        uint8
	first, count uint32
}

// refdrRealMAC is the destination MAC refdr gives real i: the last byte
// names the real, as in BenchmarkProgram's reals.
func refdrRealMAC(i uint32) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0, 0, 0, 0x01, byte(i + 1)}
}

// loadRefdr loads refdr with reals reals (refdrRealMAC, source MAC
// nodeMAC; in refmode_reals as putRefModeReals puts them, NAT's egress
// the loopback, where BPF_PROG_TEST_RUN's frames arrive) and the services
// svcs, each in refdr_services or refdr_services6 by its VIP's family, and
// closes it when tb ends.
func loadRefdr(tb testing.TB, reals uint32, svcs []refdrService) *bpf.RefdrObjects {
	tb.Helper()
	testutil.RequireRoot(tb)
	var rd bpf.RefdrObjects
	if err := bpf.LoadRefdrObjects(&rd, nil); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rd.Close() })
	for i := range reals {
		r := bpf.RefdrRefdrReal{Mac: [6]byte(refdrRealMAC(i)), SrcMac: [6]byte(nodeMAC)}
		if err := rd.RefdrReals.Put(i, &r); err != nil {
			tb.Fatal(err)
		}
	}
	putRefModeReals(tb, &rd, reals, loIfindex)
	for _, s := range svcs {
		putRefdrService(tb, &rd, s)
	}
	return &rd
}

// putRefdrService puts s in refdr_services or refdr_services6 by its VIP's
// family (tunnel source refTunnelSrc4 or refTunnelSrc6), replacing the
// entry of the same VIP.
func putRefdrService(tb testing.TB, rd *bpf.RefdrObjects, s refdrService) {
	tb.Helper()
	val := bpf.RefdrRefdrService{First: s.first, Count: s.count}
	var err error
	if a := s.vip.Addr(); a.Is4() {
		copy(val.TunnelSrc[:], refTunnelSrc4.AsSlice())
		key := bpf.RefdrRefdrKey{Addr: binary.NativeEndian.Uint32(a.AsSlice()), Port: htons(s.vip.Port()), Proto: s.proto}
		err = rd.RefdrServices.Put(&key, &val)
	} else {
		val.TunnelSrc = refTunnelSrc6.As16()
		key := bpf.RefdrRefdrKey6{Addr: a.As16(), Port: htons(s.vip.Port()), Proto: s.proto}
		err = rd.RefdrServices6.Put(&key, &val)
	}
	if err != nil {
		tb.Fatalf("put refdr service %s: %v", s.vip, err)
	}
}

// refdrHash is the Go model of refdr's 5-tuple hash: lookup3's final()
// (bpf/hash.h hash3) over the source and destination address, each IPv6
// address folded to one word by xor, and the ports, seeded with the
// protocol; words as a little-endian BPF program loads them.
func refdrHash(src, dst netip.AddrPort, proto uint8) uint32 {
	fold := func(a netip.Addr) uint32 {
		b := a.AsSlice()
		var w uint32
		for i := 0; i < len(b); i += 4 {
			w ^= binary.LittleEndian.Uint32(b[i:])
		}
		return w
	}
	// A __be16 loaded on a little-endian target reads byte-swapped.
	ports := uint32(bits.ReverseBytes16(src.Port()))<<16 | uint32(bits.ReverseBytes16(dst.Port()))
	return sched.Hash3(fold(src.Addr()), fold(dst.Addr()), ports, uint32(proto))
}

// withL4Proto returns a copy of an untagged frame without IP options or
// extension headers with the IPv4 protocol or IPv6 next header set to
// proto (the IPv4 checksum is left stale: refdr checks none). The first 8
// bytes of a TCP header read as a UDP header's ports, length and checksum.
func withL4Proto(frame []byte, proto uint8) []byte {
	out := bytes.Clone(frame)
	if binary.BigEndian.Uint16(out[ethAddrLen*2:]) == unix.ETH_P_IPV6 {
		out[ethHeaderLen+6] = proto
	} else {
		out[ethHeaderLen+9] = proto
	}
	return out
}

// TestRefdr runs the benchmarks' reference balancer through
// BPF_PROG_TEST_RUN: VIP frames of both families leave with XDP_TX and the
// MACs of the real the model (refdrHash, then sched.Slot within the
// service's run of reals) picks, the rest of the frame unchanged; other
// frames pass, and frames cut short in a header it reads are dropped.
// IPv6 is what refdr parses since it measures xlb's IPv6 rows.
func TestRefdr(t *testing.T) {
	const reals = 8
	vip4 := netip.MustParseAddrPort("198.18.0.100:80")
	vip6 := netip.MustParseAddrPort("[2001:db8::100]:80")
	dns6 := netip.MustParseAddrPort("[2001:db8::100]:53")
	// Runs of reals away from 0, so that a lost offset shows.
	svcs := []refdrService{
		{vip4, unix.IPPROTO_TCP, 1, 3},
		{vip6, unix.IPPROTO_TCP, 4, 3},
		{dns6, unix.IPPROTO_UDP, 7, 1},
	}
	rd := loadRefdr(t, reals, svcs)
	client4 := netip.MustParseAddrPort("198.18.1.10:40000")
	client6 := netip.MustParseAddrPort("[2001:db8:1::10]:40000")
	syn4, syn6 := tcpSYN(client4, vip4), tcpSYN(client6, vip6)
	arp := make([]byte, ethHeaderLen+28)
	binary.BigEndian.PutUint16(arp[ethAddrLen*2:], unix.ETH_P_ARP)

	// tx is what decides the real of a forwarded frame.
	type tx struct {
		svc      refdrService
		src, dst netip.AddrPort
		proto    uint8
	}
	for _, tc := range []struct {
		name    string
		in      []byte
		verdict string
		tx      *tx // XDP_TX only
	}{
		{"v4_tcp_vip", syn4, "XDP_TX", &tx{svcs[0], client4, vip4, unix.IPPROTO_TCP}},
		{"v6_tcp_vip", syn6, "XDP_TX", &tx{svcs[1], client6, vip6, unix.IPPROTO_TCP}},
		{"v6_udp_vip", withL4Proto(tcpSYN(client6, dns6), unix.IPPROTO_UDP), "XDP_TX", &tx{svcs[2], client6, dns6, unix.IPPROTO_UDP}},
		{"v4_non_vip_port", tcpSYN(client4, netip.AddrPortFrom(vip4.Addr(), 81)), "XDP_PASS", nil},
		{"v4_non_vip_addr", tcpSYN(client4, netip.MustParseAddrPort("198.18.0.101:80")), "XDP_PASS", nil},
		{"v4_udp_to_tcp_vip", withL4Proto(syn4, unix.IPPROTO_UDP), "XDP_PASS", nil},
		{"v6_non_vip_port", tcpSYN(client6, netip.AddrPortFrom(vip6.Addr(), 81)), "XDP_PASS", nil},
		{"v6_non_vip_addr", tcpSYN(client6, netip.MustParseAddrPort("[2001:db8::101]:80")), "XDP_PASS", nil},
		{"v6_v4_mapped_vip", tcpSYN(client6, netip.AddrPortFrom(netip.AddrFrom16(vip4.Addr().As16()), 80)), "XDP_PASS", nil},
		{"v6_udp_to_tcp_vip", withL4Proto(syn6, unix.IPPROTO_UDP), "XDP_PASS", nil},
		{"v6_tcp_to_udp_vip", tcpSYN(client6, dns6), "XDP_PASS", nil},
		{"v6_icmpv6", withL4Proto(syn6, unix.IPPROTO_ICMPV6), "XDP_PASS", nil},
		{"v6_hop_by_hop", withL4Proto(syn6, unix.IPPROTO_HOPOPTS), "XDP_PASS", nil},
		{"arp", arp, "XDP_PASS", nil},
		{"v4_short_l4", syn4[:ethHeaderLen+ipv4HeaderLen+4], "XDP_DROP", nil},
		{"v6_short_header", syn6[:ethHeaderLen+ipv6HeaderLen-10], "XDP_DROP", nil},
		{"v6_short_l4", syn6[:ethHeaderLen+ipv6HeaderLen+4], "XDP_DROP", nil},
		{"ether_only", syn6[:ethHeaderLen], "XDP_DROP", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, out := run(t, rd.RefdrXdp, tc.in)
			if diff := cmp.Diff(tc.verdict, testutil.VerdictName(v)); diff != "" {
				t.Fatalf("verdict (-want +got):\n%s", diff)
			}
			want := tc.in
			if tc.tx != nil {
				want = bytes.Clone(tc.in)
				idx := tc.tx.svc.first + sched.Slot(refdrHash(tc.tx.src, tc.tx.dst, tc.tx.proto), tc.tx.svc.count)
				copy(want, refdrRealMAC(idx))
				copy(want[ethAddrLen:], nodeMAC)
			}
			if diff := cmp.Diff(want, out); diff != "" {
				t.Errorf("frame (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRefdrSpread checks refdr's choice of real against the model for
// many flows of each family, and that the flows reach every real of the
// service: the IPv6 fold and the key words are refdr's own code, which a
// single frame would test for one real only.
func TestRefdrSpread(t *testing.T) {
	const (
		reals = 4
		flows = 400
	)
	vips := map[bool]netip.AddrPort{
		false: netip.MustParseAddrPort("198.18.0.100:80"),
		true:  netip.MustParseAddrPort("[2001:db8::100]:80"),
	}
	rd := loadRefdr(t, reals, []refdrService{
		{vips[false], unix.IPPROTO_TCP, 0, reals},
		{vips[true], unix.IPPROTO_TCP, 0, reals},
	})
	for _, v6 := range []bool{false, true} {
		t.Run(map[bool]string{false: "v4", true: "v6"}[v6], func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, map[bool]uint64{false: 4, true: 6}[v6]))
			perReal := map[byte]int{}
			for range flows {
				src := netip.AddrPortFrom(randomAddr(rng, v6), uint16(1024+rng.IntN(60000)))
				v, out := run(t, rd.RefdrXdp, tcpSYN(src, vips[v6]))
				if name := testutil.VerdictName(v); name != "XDP_TX" {
					t.Fatalf("flow %s: verdict %s, want XDP_TX", src, name)
				}
				want := refdrRealMAC(sched.Slot(refdrHash(src, vips[v6], unix.IPPROTO_TCP), reals))
				if got := net.HardwareAddr(out[:ethAddrLen]); got.String() != want.String() {
					t.Errorf("flow %s: refdr sent to %s, model %s", src, got, want)
				}
				perReal[out[ethAddrLen-1]]++
			}
			if len(perReal) != reals {
				t.Errorf("flows per real (by MAC's last byte) %v: want all %d reals", perReal, reals)
			}
		})
	}
}

// refdrModel is the Go model of refdr's verdict on frame with services
// svcs: what it reads, in the order it reads it, and so where a short
// frame drops. For XDP_TX it also returns the index of the real, the
// L4 protocol and where its header starts.
func refdrModel(frame []byte, svcs []refdrService) (verdict string, real uint32, proto uint8, l4 int) {
	const ipv4Min = ethHeaderLen + ipv4HeaderLen // refdr checks this much first, any EtherType
	if len(frame) < ipv4Min {
		return "XDP_DROP", 0, 0, 0
	}
	var src, dst netip.Addr
	switch binary.BigEndian.Uint16(frame[2*ethAddrLen:]) {
	case unix.ETH_P_IP:
		ip := frame[ethHeaderLen:]
		proto = ip[9]
		if proto != unix.IPPROTO_TCP && proto != unix.IPPROTO_UDP {
			return "XDP_PASS", 0, 0, 0
		}
		// No IHL or version check: refdr trusts the header length.
		l4 = ethHeaderLen + int(ip[0]&0xf)*4
		src, dst = netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
	case unix.ETH_P_IPV6:
		if len(frame) < ethHeaderLen+ipv6HeaderLen {
			return "XDP_DROP", 0, 0, 0
		}
		ip6 := frame[ethHeaderLen:]
		proto = ip6[6]
		if proto != unix.IPPROTO_TCP && proto != unix.IPPROTO_UDP {
			return "XDP_PASS", 0, 0, 0
		}
		l4 = ethHeaderLen + ipv6HeaderLen
		src, dst = netip.AddrFrom16([16]byte(ip6[8:24])), netip.AddrFrom16([16]byte(ip6[24:40]))
	default:
		return "XDP_PASS", 0, 0, 0
	}
	const l4Min = 8 // bytes of TCP/UDP header refdr reads (REFDR_L4_MIN)
	if len(frame) < l4+l4Min {
		return "XDP_DROP", 0, 0, 0
	}
	s := netip.AddrPortFrom(src, binary.BigEndian.Uint16(frame[l4:]))
	d := netip.AddrPortFrom(dst, binary.BigEndian.Uint16(frame[l4+2:]))
	for _, svc := range svcs {
		// Families apart: a v4-mapped IPv6 destination is no IPv4 VIP.
		if svc.vip == d && svc.proto == proto {
			return "XDP_TX", svc.first + sched.Slot(refdrHash(s, d, proto), svc.count), proto, l4
		}
	}
	return "XDP_PASS", 0, 0, 0
}

// FuzzRefdr feeds arbitrary frames through refdr (seeds: TestRefdr's
// frames and every golden input) and checks it against refdrModel: the
// same verdict, the same real, and a frame unchanged but for the MACs
// of a forwarded one. The benchmarks' yardstick must not pass off a
// frame it cannot parse as one it forwards, or the reverse. refct
// and refsa must do the same; refct_tun and refct_nat the same but for their
// rewrite (refTunFrame, refNATFrame; refct_nat also drops a TCP frame
// too short for the header whose checksum it updates).
func FuzzRefdr(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		f.Add([]byte(fx.In))
	}
	vip4 := netip.MustParseAddrPort("198.18.0.100:80")
	vip6 := netip.MustParseAddrPort("[2001:db8::100]:80")
	client4 := netip.MustParseAddrPort("198.18.1.10:40000")
	client6 := netip.MustParseAddrPort("[2001:db8:1::10]:40000")
	for _, in := range [][]byte{
		tcpSYN(client4, vip4), tcpSYN(client6, vip6),
		withL4Proto(tcpSYN(client6, netip.AddrPortFrom(vip6.Addr(), 53)), unix.IPPROTO_UDP),
		tcpSYN(client6, netip.AddrPortFrom(netip.AddrFrom16(vip4.Addr().As16()), 80)),
	} {
		f.Add(in)
	}
	const reals = 8
	svcs := []refdrService{
		{vip4, unix.IPPROTO_TCP, 1, 3},
		{netip.AddrPortFrom(vip4.Addr(), 53), unix.IPPROTO_UDP, 0, 2},
		{vip6, unix.IPPROTO_TCP, 4, 3},
		{netip.AddrPortFrom(vip6.Addr(), 53), unix.IPPROTO_UDP, 7, 1},
	}
	rd := loadRefdr(f, reals, svcs)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < ethHeaderLen || len(in) > maxFuzzFrame {
			t.Skip("BPF_PROG_TEST_RUN takes 14 bytes to a page")
		}
		verdict, real, proto, l4 := refdrModel(in, svcs)
		type outcome struct {
			verdict string
			frame   []byte
		}
		dr, tun, nat := outcome{verdict, in}, outcome{verdict, in}, outcome{verdict, in}
		if verdict == "XDP_TX" {
			dr.frame = bytes.Clone(in)
			copy(dr.frame, refdrRealMAC(real))
			copy(dr.frame[ethAddrLen:], nodeMAC)
			v6 := isIPv6Frame(in)
			tun.frame = refTunFrame(in, real, v6)
			if proto == unix.IPPROTO_TCP && len(in) < l4+tcpHeaderLen {
				nat.verdict = "XDP_DROP"
			} else {
				nat.frame = refNATFrame(in, real, v6, proto, l4)
			}
		}
		// The tracked ones parse as refdr does, and with the services
		// fixed a tracked flow keeps the real refdr's hash gives it.
		for name, c := range map[string]struct {
			prog *ebpf.Program
			want outcome
		}{"refdr": {rd.RefdrXdp, dr}, "refct": {rd.RefctXdp, dr}, "refsa": {rd.RefsaXdp, dr}, "refct_tun": {rd.RefctTunXdp, tun}, "refct_nat": {rd.RefctNatXdp, nat}} {
			v, out := run(t, c.prog, in)
			if got := testutil.VerdictName(v); got != c.want.verdict {
				t.Fatalf("%s: verdict %s, model %s", name, got, c.want.verdict)
			}
			if diff := cmp.Diff(c.want.frame, out); diff != "" {
				t.Errorf("%s: frame (-want +got):\n%s", name, diff)
			}
		}
	})
}

// TestRefct checks the tracked references (refct_xdp and refsa_xdp,
// bpf/refdr.c) for each family: a new flow goes to the real refdr's hash
// picks and is put in the family's table (refsa: in the set the hash's
// top bits name); once the service's run of reals moves, that flow keeps
// its real while a new flow follows the run; a non-VIP frame passes and
// adds no entry.
func TestRefct(t *testing.T) {
	const reals = 8
	vips := map[bool]netip.AddrPort{
		false: netip.MustParseAddrPort("198.18.0.100:80"),
		true:  netip.MustParseAddrPort("[2001:db8::100]:80"),
	}
	clients := map[bool]netip.AddrPort{
		false: netip.MustParseAddrPort("198.18.1.10:40000"),
		true:  netip.MustParseAddrPort("[2001:db8:1::10]:40000"),
	}
	for _, ref := range []string{"refct", "refsa"} {
		for _, v6 := range []bool{false, true} {
			t.Run(ref+map[bool]string{false: "_v4", true: "_v6"}[v6], func(t *testing.T) {
				svc := refdrService{vips[v6], unix.IPPROTO_TCP, 1, 3}
				rd := loadRefdr(t, reals, []refdrService{svc})
				prog := map[string]*ebpf.Program{"refct": rd.RefctXdp, "refsa": rd.RefsaXdp}[ref]
				entries := func() int {
					t.Helper()
					if ref == "refct" {
						return countEntries(t, map[bool]*ebpf.Map{false: rd.RefctConns4, true: rd.RefctConns6}[v6])
					}
					return len(refsaEntries(t, rd, v6))
				}
				send := func(src netip.AddrPort, dst netip.AddrPort, verdict string) net.HardwareAddr {
					t.Helper()
					v, out := run(t, prog, tcpSYN(src, dst))
					if got := testutil.VerdictName(v); got != verdict {
						t.Fatalf("flow %s > %s: verdict %s, want %s", src, dst, got, verdict)
					}
					return net.HardwareAddr(out[:ethAddrLen])
				}
				client := clients[v6]
				first := send(client, vips[v6], "XDP_TX")
				hash := refdrHash(client, vips[v6], unix.IPPROTO_TCP)
				model := refdrRealMAC(svc.first + sched.Slot(hash, svc.count))
				if first.String() != model.String() {
					t.Fatalf("new flow went to %s, refdr's hash picks %s", first, model)
				}
				if n := entries(); n != 1 {
					t.Fatalf("%d table entries after one flow, want 1", n)
				}
				if ref == "refsa" {
					if got, want := refsaEntries(t, rd, v6)[0], hash>>(32-refsaSetBits); got != want {
						t.Fatalf("flow put in set %d, its hash names set %d", got, want)
					}
				}

				// The run moves to one real outside the old run.
				putRefdrService(t, rd, refdrService{vips[v6], unix.IPPROTO_TCP, 7, 1})
				if got := send(client, vips[v6], "XDP_TX"); got.String() != first.String() {
					t.Errorf("tracked flow moved to %s, want its real %s", got, first)
				}
				other := netip.AddrPortFrom(client.Addr(), client.Port()+1)
				if got, want := send(other, vips[v6], "XDP_TX"), refdrRealMAC(7); got.String() != want.String() {
					t.Errorf("new flow went to %s, want the moved run's %s", got, want)
				}
				send(client, netip.AddrPortFrom(vips[v6].Addr(), 81), "XDP_PASS")
				if n := entries(); n != 2 {
					t.Errorf("%d table entries after two flows and a non-VIP frame, want 2", n)
				}
			})
		}
	}
}

// TestRefsaFullSet checks refsa's replacement: five flows whose hashes
// name one set all go to the real refdr's hash picks, and the set keeps
// four of them (an empty way first, then the way the hash's low bits
// name).
func TestRefsaFullSet(t *testing.T) {
	const reals = 8
	vip := netip.MustParseAddrPort("198.18.0.100:80")
	svc := refdrService{vip, unix.IPPROTO_TCP, 0, reals}
	rd := loadRefdr(t, reals, []refdrService{svc})
	// About 2^20 candidates for 5 in one of 2^18 sets: clients
	// 198.19.x.y, ports from 1024.
	var flows []netip.AddrPort
	want := uint32(0)
	for i := uint32(0); len(flows) < refsaWays+1; i++ {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)}), uint16(1024+i>>16))
		set := refdrHash(src, vip, unix.IPPROTO_TCP) >> (32 - refsaSetBits)
		if len(flows) == 0 {
			want = set
		}
		if set == want {
			flows = append(flows, src)
		}
	}
	for _, src := range flows {
		v, out := run(t, rd.RefsaXdp, tcpSYN(src, vip))
		model := refdrRealMAC(svc.first + sched.Slot(refdrHash(src, vip, unix.IPPROTO_TCP), svc.count))
		if got := testutil.VerdictName(v); got != "XDP_TX" || net.HardwareAddr(out[:ethAddrLen]).String() != model.String() {
			t.Fatalf("flow %s: %s to %s, want XDP_TX to %s", src, got, net.HardwareAddr(out[:ethAddrLen]), model)
		}
	}
	sets := refsaEntries(t, rd, false)
	if len(sets) != refsaWays {
		t.Fatalf("%d ways in use after %d flows into one set, want %d", len(sets), len(flows), refsaWays)
	}
	for _, set := range sets {
		if set != want {
			t.Errorf("a way of set %d in use, want only set %d", set, want)
		}
	}
}

// refsaSetBits is bpf/refdr.c's REFSA_SET_BITS: refsa's table has
// 2^refsaSetBits sets, picked by the flow hash's top bits.
const refsaSetBits = 18

// refsaEntries returns the set of each occupied way of refsa's table of
// one family (a way is empty while its protocol word is 0), in set order.
func refsaEntries(tb testing.TB, rd *bpf.RefdrObjects, v6 bool) []uint32 {
	tb.Helper()
	var sets []uint32
	inUse := func(set uint32, ways []byte, protoWord int) {
		way := len(ways) / refsaWays
		for w := range refsaWays {
			if binary.NativeEndian.Uint32(ways[w*way+4*protoWord:]) != 0 {
				sets = append(sets, set)
			}
		}
	}
	var err error
	if v6 {
		err = walkArray(rd.RefsaConns6, func(set uint32, v *[256]byte) { inUse(set, v[:], 9) })
	} else {
		err = walkArray(rd.RefsaConns4, func(set uint32, v *[128]byte) { inUse(set, v[:], 3) })
	}
	if err != nil {
		tb.Fatal(err)
	}
	return sets
}

// refsaWays is bpf/refdr.c's REFSA_WAYS: entries per set.
const refsaWays = 4

// countEntries counts m's entries by walking it.
func countEntries(tb testing.TB, m *ebpf.Map) int {
	tb.Helper()
	var k, v []byte
	n := 0
	it := m.Iterate()
	for it.Next(&k, &v) {
		n++
	}
	if err := it.Err(); err != nil {
		tb.Fatal(err)
	}
	return n
}
