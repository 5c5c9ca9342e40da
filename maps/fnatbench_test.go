package maps

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"xlb/internal/testutil"
)

// fnatBenchPort is the VIP port of BenchmarkFNAT's services (DR and TUN
// services of benchDataplane hold 80 and 8080).
const fnatBenchPort = 8083

// BenchmarkFNAT reports the full-NAT paths in the NAT lab as BenchmarkNAT
// does NAT's: an established flow's client packet (fnat4/fnat6 hit, both
// rewrites, FIB, redirect) and the real's reply (one fnat_rev lookup,
// both rewrites, FIB, redirect), IPv4 and IPv6, against refdr as in
// BenchmarkNAT (a DR frame of the same family; x_refdr4 too), batched
// behind restoreProgram (warm) and as repeat=1 calls less a drop
// program's time; and non-VIP packets on an interface facing full-NAT
// reals (the fnat_rev miss). The pools hold one address and one port, so
// the replies' destination is known.
func BenchmarkFNAT(b *testing.B) {
	fx := loadFixtures(b)
	ref := loadReferences(b)
	lab := newNATLab(b)
	d := benchDataplane(b, Options{}, benchReals)
	outside, inside := lab.ifindex["outside"], lab.ifindex["inside"]
	for i, n := range []struct{ vip, real, local string }{
		{"198.18.0.100", "198.18.2.11", "198.18.2.100"}, {"2001:db8::100", "2001:db8:2::11", "2001:db8:2::100"},
	} {
		id := uint32(benchReals + 20 + i)
		if err := d.PutReal(id, Real{Addr: netip.MustParseAddr(n.real), Port: 8080}); err != nil {
			b.Fatal(err)
		}
		slots := make([]uint32, MaxTableSize)
		for j := range slots {
			slots[j] = id
		}
		if err := d.SwapTable(id, slots); err != nil {
			b.Fatal(err)
		}
		if err := d.PutFNATPool(id, FNATPool{Addrs: []netip.Addr{netip.MustParseAddr(n.local)}, PortMin: 5000, PortMax: 5000}); err != nil {
			b.Fatal(err)
		}
		if err := d.PutService(ServiceKey{Addr: netip.MustParseAddr(n.vip), Port: fnatBenchPort, Proto: unix.IPPROTO_TCP},
			Service{ID: id, TableSize: MaxTableSize, Kind: KindFNAT}); err != nil {
			b.Fatal(err)
		}
	}
	if err := d.SetFNATInside(int(inside), true); err != nil {
		b.Fatal(err)
	}
	// Established: SYN, then the ACKs the rows send (no state change).
	ack4 := withL4Dport(b, fx["nat_fin_from_real"].Before[1], fnatBenchPort)
	ack6 := withTCPFlags(b, withL4Dport(b, fx["fnat_v6_tcp_forward"].In, fnatBenchPort), tcpACK)
	for _, in := range [][]byte{withL4Dport(b, fx["fnat_v4_tcp_forward"].In, fnatBenchPort), ack4,
		withL4Dport(b, fx["fnat_v6_tcp_forward"].In, fnatBenchPort), ack6} {
		var v uint32
		var err error
		if doErr := lab.ns.Do(func() error { v, _, err = timedRun(d.Program(), in, outside, 1); return nil }); doErr != nil {
			b.Fatal(doErr)
		}
		if err != nil || testutil.VerdictName(v) != "XDP_REDIRECT" {
			b.Fatalf("set up flow: verdict %s, %v", testutil.VerdictName(v), err)
		}
	}
	reply4, reply6 := fx["fnat_v4_tcp_reply"].In, fx["fnat_v6_tcp_reply"].In
	nonVIP := fx["non_vip_port"].In
	// refdr's frames: an established DR flow to its VIP of each family.
	dr4, dr6 := fx["ct_hit"].In, fx["ipv6_tcp_tx"].In

	// First packets: a resolved real on lo (XDP_TX, no FIB lookup, as
	// benchDataplane's DR reals) and a pool of MaxFNATPool addresses,
	// against DR's first packets measured the same way.
	firstID := uint32(benchReals + 30)
	if err := d.PutReal(firstID, Real{Addr: netip.MustParseAddr("198.18.2.12"), Port: 8080, MAC: fnatBenchRealMAC, SrcMAC: labInsideMAC, Ifindex: loIfindex}); err != nil {
		b.Fatal(err)
	}
	slots := make([]uint32, MaxTableSize)
	for j := range slots {
		slots[j] = firstID
	}
	if err := d.SwapTable(firstID, slots); err != nil {
		b.Fatal(err)
	}
	var big FNATPool
	for i := range MaxFNATPool {
		big.Addrs = append(big.Addrs, netip.AddrFrom4([4]byte{198, 18, 3, byte(100 + i)}))
	}
	if err := d.PutFNATPool(firstID, big); err != nil {
		b.Fatal(err)
	}
	if err := d.PutService(ServiceKey{Addr: netip.MustParseAddr("198.18.0.100"), Port: fnatFirstPort, Proto: unix.IPPROTO_TCP},
		Service{ID: firstID, TableSize: MaxTableSize, Kind: KindFNAT}); err != nil {
		b.Fatal(err)
	}
	b.Run("fnat_v4_first_packet", func(b *testing.B) {
		fnatFrame, drFrame := withL4Dport(b, fx["tcp_vip_tx"].In, fnatFirstPort), fx["tcp_vip_tx"].In
		var lb, rd time.Duration
		var n int
		flow, drFlow := uint32(0), uint32(0)
		for b.Loop() {
			var err error
			if doErr := lab.ns.Do(func() error {
				var t time.Duration
				if t, err = newFlowTimeOn(d.Program(), ref.drop, fnatFrame, loIfindex, &flow); err != nil {
					return nil
				}
				lb += t
				t, err = newFlowTimeOn(d.Program(), ref.drop, drFrame, loIfindex, &drFlow)
				rd += t
				return nil
			}); doErr != nil {
				b.Fatal(doErr)
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64(lb.Nanoseconds())/float64(n), "ns/op")
		b.ReportMetric(float64(lb.Nanoseconds())/float64(n), "ns/pkt")
		b.ReportMetric(float64(rd.Nanoseconds())/float64(n), "dr_first_ns/pkt")
		b.ReportMetric(float64(lb)/float64(rd), "x_dr_first")
	})

	for _, bc := range []labRow{
		{"fnat_v4_established_forward_warm", ack4, dr4, outside, "XDP_REDIRECT", false},
		{"fnat_v4_established_reply_warm", reply4, dr4, inside, "XDP_REDIRECT", false},
		{"fnat_v6_established_forward_warm", ack6, dr6, outside, "XDP_REDIRECT", false},
		{"fnat_v6_established_reply_warm", reply6, dr6, inside, "XDP_REDIRECT", false},
		{"fnat_v4_established_forward", ack4, dr4, outside, "XDP_REDIRECT", true},
		{"fnat_v4_established_reply", reply4, dr4, inside, "XDP_REDIRECT", true},
		{"fnat_v6_established_forward", ack6, dr6, outside, "XDP_REDIRECT", true},
		{"fnat_v6_established_reply", reply6, dr6, inside, "XDP_REDIRECT", true},
		{"non_vip_fnat_inside", nonVIP, nonVIP, inside, "XDP_PASS", false},
	} {
		b.Run(bc.name, func(b *testing.B) { runLabRow(b, lab, d, ref, dr4, bc) })
	}
}

// fnatFirstPort is the VIP port of BenchmarkFNAT's first-packet service.
const fnatFirstPort = 8084

// fnatBenchRealMAC is the MAC of the NAT lab's real (natLab).
var fnatBenchRealMAC = net.HardwareAddr{0x02, 0, 0, 0, 0x02, 0x0b}

// newFlowTimeOn is newFlowTime with an ingress interface: singleRuns
// repeat=1 calls, each on a new IPv4 5-tuple, less the drop program's
// time; the verdict must be XDP_TX.
func newFlowTimeOn(prog, drop *ebpf.Program, frame []byte, ingress uint32, flow *uint32) (time.Duration, error) {
	in := bytes.Clone(frame)
	var total, overhead time.Duration
	for range singleRuns {
		f := *flow % newFlowFlows
		*flow++
		binary.BigEndian.PutUint32(in[ipv4SrcOffset:], 198<<24|19<<16|(f&0xffff))
		binary.BigEndian.PutUint16(in[sportOffset:], uint16(1024+f>>16))
		v, t, err := timedRun(prog, in, ingress, 1)
		if err != nil {
			return 0, err
		}
		if testutil.VerdictName(v) != "XDP_TX" {
			return 0, fmt.Errorf("verdict %s, want XDP_TX", testutil.VerdictName(v))
		}
		_, o, err := timedRun(drop, in, ingress, 1)
		if err != nil {
			return 0, err
		}
		total += t
		overhead += o
	}
	return (total - overhead) / singleRuns, nil
}

// TestFNATMemory reports what the full-NAT tables take per million flows
// (forward and reverse entry) as loaded, and bounds it. The forward
// and reverse tables are arrays of sets, a quarter as many sets as
// flows: 64 and 96 bytes a flow forward (IPv4, IPv6), 96 and 128 back.
// The reverse entries carry the replies' route cache (bpf/natcache.h):
// 72 bytes, 16 more than without it.
func TestFNATMemory(t *testing.T) {
	const entries = 1 << 20
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4, ConnTableSize: 1024, FNATTableSize: entries, FNATTableSize6: entries})
	var total4, total6 uint64
	for _, tc := range []struct {
		name  string
		m     *ebpf.Map
		sum   *uint64
		limit uint64
	}{
		{"fnat4", d.fnat4, &total4, 65 << 20}, // 64 MiB of sets and the map's own few hundred bytes
		{"fnat_rev4", d.fnatRev4, &total4, 97 << 20},
		{"fnat6", d.fnat6, &total6, 97 << 20},
		{"fnat_rev6", d.fnatRev6, &total6, 129 << 20},
	} {
		loaded, _ := mapMemory(t, tc.name, tc.m)
		if loaded > tc.limit {
			t.Errorf("%s takes %d bytes for %d flows, want <= %d", tc.name, loaded, entries, tc.limit)
		}
		*tc.sum += loaded
	}
	t.Logf("full NAT per 1M flows: IPv4 %.1f MiB (%.0f B/flow), IPv6 %.1f MiB (%.0f B/flow)",
		float64(total4)/(1<<20), float64(total4)/entries, float64(total6)/(1<<20), float64(total6)/entries)
}
