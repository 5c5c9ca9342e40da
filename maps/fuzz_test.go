package maps

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"xlb/internal/testutil"
)

// maxFuzzFrame bounds fuzz inputs to an Ethernet MTU frame; the test run
// rejects data beyond a page anyway.
const maxFuzzFrame = 1514

// ethHeaderLen is the shortest input BPF_PROG_TEST_RUN accepts for XDP.
const ethHeaderLen = 14

// Header sizes a forwarded frame may grow by or carry.
const (
	vlanTagLen    = 4
	ipv4HeaderLen = 20
	ipv6HeaderLen = 40
)

// FuzzProgram feeds arbitrary frames through the program, with the golden
// tcp_vip_tx maps loaded plus IPv6 DR services, IPv4/IPv6 TUN services and
// IPv4/IPv6 TCP/UDP NAT services with tracked flows, two full-NAT services
// with tracked flows, a wlc (IPv4) and a wrr (IPv6) service on port 8082,
// an lblc (IPv4) and an lblcr (IPv6) service on port 8083 (seeds: every golden
// input, so IPv6 extension chains, fragments, tunnels and NAT replies, and
// the NAT forward frames on the fuzz services' ports). It runs in the NAT
// lab (natLab), so NAT frames really route: a frame to the lab's inside
// MAC arrives on the inside interface, any other on the outside one.
// Every frame must get one of PASS, DROP, TX or REDIRECT; a dropped frame
// must come out unchanged; a forwarded one may differ only in its MAC
// addresses, which must be a real's or a lab neighbour's, or (TUN) grow by
// an outer IPv4 or IPv6 header in front of the unchanged IP packet, or
// (NAT and full NAT, also passed) differ only in addresses and ports, the
// TTL / hop limit and the checksums, which stay valid if they were; an
// ICMP error of a NAT flow may change more (bpf/icmp.h), its checksums
// staying valid if they were (checkICMP).
func FuzzProgram(f *testing.F) {
	fixtures := loadFixtures(f)
	for _, fx := range fixtures {
		f.Add([]byte(fx.In))
	}
	lab := newNATLab(f)
	d := openTest(f, Options{MaxServices: 12, MaxReals: 10})
	std := fixtures["tcp_vip_tx"]
	std.fill(f, d)
	// Real 3 behind another interface, so REDIRECT is reachable too.
	if err := d.PutReal(3, testReal(7)); err != nil {
		f.Fatal(err)
	}
	if err := d.SwapTable(2, []uint32{1, 2, 3, 0, 1, 2, 3}); err != nil {
		f.Fatal(err)
	}
	// IPv6 services with the golden VIPs: 3 is DR, 4 is TUN (its IPv4
	// tunnel source fits reals 1-3, not IPv6 real 4: drop_tunnel).
	// Port 8080 of the IPv4 VIP is TUN too.
	if err := d.PutReal(4, Real{Addr: netip.MustParseAddr("2001:db8:2::11"), MAC: testMAC, SrcMAC: nodeMAC, Ifindex: loIfindex}); err != nil {
		f.Fatal(err)
	}
	for _, s := range []struct {
		vip   string
		proto uint8
		svc   Service
	}{
		{"[2001:db8::100]:80", unix.IPPROTO_TCP, Service{ID: 3, TableSize: 7, Kind: KindDR}},
		{"[2001:db8::100]:53", unix.IPPROTO_UDP, Service{ID: 4, TableSize: 7, Kind: KindTUN, TunnelSrc: netip.MustParseAddr("198.18.0.1")}},
		{"198.18.0.100:8080", unix.IPPROTO_TCP, Service{ID: 4, TableSize: 7, Kind: KindTUN, TunnelSrc: netip.MustParseAddr("198.18.0.1")}},
	} {
		ap := netip.MustParseAddrPort(s.vip)
		if err := d.PutService(ServiceKey{Addr: ap.Addr(), Port: ap.Port(), Proto: s.proto}, s.svc); err != nil {
			f.Fatal(err)
		}
	}
	for id, slots := range map[uint32][]uint32{3: {1, 4, 2, 4, 3, 4, 1}, 4: {1, 2, 3, 4, 1, 2, 3}} {
		if err := d.SwapTable(id, slots); err != nil {
			f.Fatal(err)
		}
	}
	// NAT: reals 5-8 routed, each service on its own real (the real's
	// port is per real), ports 8081/tcp and 54/udp of the golden VIPs.
	for _, n := range []struct {
		id    uint32
		vip   string
		proto uint8
		real  string
		rport uint16
	}{
		{5, "198.18.0.100:8081", unix.IPPROTO_TCP, "198.18.2.11", 8080},
		{6, "198.18.0.100:54", unix.IPPROTO_UDP, "198.18.2.11", 53},
		{7, "[2001:db8::100]:8081", unix.IPPROTO_TCP, "2001:db8:2::11", 8080},
		{8, "[2001:db8::100]:54", unix.IPPROTO_UDP, "2001:db8:2::11", 53},
	} {
		if err := d.PutReal(n.id, Real{Addr: netip.MustParseAddr(n.real), Port: n.rport}); err != nil {
			f.Fatal(err)
		}
		ap := netip.MustParseAddrPort(n.vip)
		if err := d.PutService(ServiceKey{Addr: ap.Addr(), Port: ap.Port(), Proto: n.proto}, Service{ID: n.id, TableSize: 7, Kind: KindNAT}); err != nil {
			f.Fatal(err)
		}
		if err := d.SwapTable(n.id, []uint32{n.id, n.id, n.id, n.id, n.id, n.id, n.id}); err != nil {
			f.Fatal(err)
		}
	}
	// Port 8082 of the golden VIPs: wlc (IPv4, reals 1-3) and wrr (IPv6,
	// reals 1 and 4), with their golden SYNs moved there as seeds.
	if err := d.PutService(ServiceKey{Addr: testVIP.Addr, Port: 8082, Proto: unix.IPPROTO_TCP}, Service{ID: 9, Kind: KindDR, Scheduler: SchedWLC}); err != nil {
		f.Fatal(err)
	}
	if err := d.SwapSchedReals(9, []SchedReal{{ID: 1, Weight: 1}, {ID: 2, Weight: 2}, {ID: 3, Weight: 0}}); err != nil {
		f.Fatal(err)
	}
	if err := d.PutService(ServiceKey{Addr: netip.MustParseAddr("2001:db8::100"), Port: 8082, Proto: unix.IPPROTO_TCP}, Service{ID: 10, TableSize: 3, Kind: KindDR, Scheduler: SchedWRR}); err != nil {
		f.Fatal(err)
	}
	if err := d.SwapSequence(10, []uint32{4, 1, 4}); err != nil {
		f.Fatal(err)
	}
	// Port 8083: lblc (IPv4, reals 1-3) and lblcr (IPv6, reals 1 and 4).
	for _, s := range []struct {
		vip   string
		id    uint32
		sched Scheduler
		list  []SchedReal
	}{
		{"198.18.0.100", 11, SchedLBLC, []SchedReal{{ID: 1, Weight: 1}, {ID: 2, Weight: 2}, {ID: 3, Weight: 1}}},
		{"2001:db8::100", 12, SchedLBLCR, []SchedReal{{ID: 1, Weight: 1}, {ID: 4, Weight: 1}}},
	} {
		if err := d.PutService(ServiceKey{Addr: netip.MustParseAddr(s.vip), Port: 8083, Proto: unix.IPPROTO_TCP}, Service{ID: s.id, Kind: KindDR, Scheduler: s.sched}); err != nil {
			f.Fatal(err)
		}
		if err := d.SwapSchedReals(s.id, s.list); err != nil {
			f.Fatal(err)
		}
	}
	for _, name := range []string{"tcp_vip_tx", "ipv6_tcp_tx"} {
		f.Add(withL4Dport(f, fixtures[name].In, 8082))
		f.Add(withL4Dport(f, fixtures[name].In, 8083))
	}
	if err := d.SetInside(int(lab.ifindex["inside"]), true); err != nil {
		f.Fatal(err)
	}
	// The golden NAT forward frames moved to the fuzz ports, run once so
	// the golden replies find their flows.
	for name, port := range map[string]uint16{"nat_v4_tcp_forward": 8081, "nat_v4_udp_forward": 54, "nat_v6_tcp_forward": 8081, "nat_v6_udp_forward": 54} {
		in := withL4Dport(f, fixtures[name].In, port)
		f.Add(in)
		if v, _ := lab.runFuzz(f, d, in); testutil.VerdictName(v) != "XDP_REDIRECT" {
			f.Fatalf("%s on port %d: verdict %s, want XDP_REDIRECT", name, port, testutil.VerdictName(v))
		}
	}

	// Full NAT: IPv4 TCP port 8083 and IPv6 UDP port 55 of the golden
	// VIPs, routed reals 9 and 10, pools of one address and port 5000 (so
	// the golden FNAT replies find the flows their forward frames, moved
	// to these ports and run once, open).
	for _, n := range []struct {
		id          uint32
		vip         string
		proto       uint8
		real, local string
		rport       uint16
		golden      string
	}{
		{9, "198.18.0.100:8083", unix.IPPROTO_TCP, "198.18.2.11", "198.18.2.100", 8080, "fnat_v4_tcp_forward"},
		{10, "[2001:db8::100]:55", unix.IPPROTO_UDP, "2001:db8:2::11", "2001:db8:2::100", 53, "fnat_v6_udp_forward"},
	} {
		if err := d.PutReal(n.id, Real{Addr: netip.MustParseAddr(n.real), Port: n.rport}); err != nil {
			f.Fatal(err)
		}
		if err := d.SwapTable(n.id+2, []uint32{n.id, n.id, n.id, n.id, n.id, n.id, n.id}); err != nil {
			f.Fatal(err)
		}
		if err := d.PutFNATPool(n.id+2, FNATPool{Addrs: []netip.Addr{netip.MustParseAddr(n.local)}, PortMin: 5000, PortMax: 5000}); err != nil {
			f.Fatal(err)
		}
		ap := netip.MustParseAddrPort(n.vip)
		if err := d.PutService(ServiceKey{Addr: ap.Addr(), Port: ap.Port(), Proto: n.proto}, Service{ID: n.id + 2, TableSize: 7, Kind: KindFNAT}); err != nil {
			f.Fatal(err)
		}
		if err := d.SetFNATInside(int(lab.ifindex["inside"]), true); err != nil {
			f.Fatal(err)
		}
		in := withL4Dport(f, fixtures[n.golden].In, ap.Port())
		f.Add(in)
		if v, _ := lab.runFuzz(f, d, in); testutil.VerdictName(v) != "XDP_REDIRECT" {
			f.Fatalf("%s on port %d: verdict %s, want XDP_REDIRECT", n.golden, ap.Port(), testutil.VerdictName(v))
		}
	}

	realMACs := map[string]bool{}
	for _, r := range std.Reals {
		realMACs[r.MAC] = true
	}
	realMACs[testMAC.String()] = true
	realMACs["02:00:00:00:02:0b"] = true // the lab's real
	realMACs["02:00:00:00:00:aa"] = true // the lab's router to clients

	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < ethHeaderLen || len(in) > maxFuzzFrame {
			return
		}
		verdict, out := lab.runFuzz(t, d, in)
		switch testutil.VerdictName(verdict) {
		case "XDP_DROP":
			if !bytes.Equal(in, out) {
				t.Errorf("%s changed the frame:\nin  %x\nout %x", testutil.VerdictName(verdict), in, out)
			}
		case "XDP_PASS":
			// Unchanged, or NAT-rewritten for the stack (pass_no_neigh,
			// pass_fib): MACs as they came.
			if !bytes.Equal(in, out) {
				if !bytes.Equal(in[:12], out[:12]) {
					t.Errorf("XDP_PASS changed the MACs:\nin  %x\nout %x", in, out)
				}
				if isICMP(in) {
					// An ICMP error rewritten for a NAT real
					// (icmp_pass_route): checksums hold if they did.
					if checkICMP(in) == nil {
						if err := checkICMP(out); err != nil {
							t.Errorf("XDP_PASS: icmp rewrite: %v:\nin  %x\nout %x", err, in, out)
						}
					}
				} else if err := checkNATRewrite(in, out); err != nil {
					t.Errorf("XDP_PASS: %v:\nin  %x\nout %x", err, in, out)
				}
			}
		case "XDP_TX", "XDP_REDIRECT":
			l2 := ethHeaderLen
			if in[12] == 0x81 && in[13] == 0x00 {
				l2 += vlanTagLen
			}
			switch grew := len(out) - len(in); grew {
			case 0:
				if !bytes.Equal(in[12:], out[12:]) && isICMP(in) {
					// An ICMP error of a NAT flow, rewritten
					// (bpf/icmp.h): checksums hold if they did.
					if checkICMP(in) == nil {
						if err := checkICMP(out); err != nil {
							t.Errorf("icmp rewrite: %v:\nin  %x\nout %x", err, in, out)
						}
					}
				} else if !bytes.Equal(in[12:], out[12:]) {
					if err := checkNATRewrite(in, out); err != nil {
						t.Errorf("forwarding changed more than the MACs, and not as NAT: %v:\nin  %x\nout %x", err, in, out)
					}
				}
			case ipv4HeaderLen, ipv6HeaderLen:
				if !bytes.Equal(in[l2:], out[l2+grew:]) || !bytes.Equal(in[12:l2-2], out[12:l2-2]) {
					t.Errorf("tunnel changed more than L2 and the outer header:\nin  %x\nout %x", in, out)
				}
			default:
				t.Errorf("frame grew by %d bytes, want 0, %d or %d:\nin  %x\nout %x", grew, ipv4HeaderLen, ipv6HeaderLen, in, out)
			}
			if dst := net.HardwareAddr(out[:6]).String(); !realMACs[dst] {
				t.Errorf("forwarded to %s, no real's MAC", dst)
			}
		default:
			t.Errorf("verdict %s, want PASS, DROP, TX or REDIRECT", testutil.VerdictName(verdict))
		}
	})
}
