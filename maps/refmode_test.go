package maps

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"xlb/bpf"
	"xlb/controlplane/sched"
	"xlb/internal/testutil"
)

// The references with a mode's rewrite (refct_tun_xdp, refct_nat_xdp in
// bpf/refdr.c) read what they need of real i from refmode_reals, which
// loadRefdr fills from these.
const (
	refNATPort   = 8080 // every real's NAT port
	tcpHeaderLen = 20   // bytes of a TCP header without options
)

var (
	refTunnelSrc4 = netip.MustParseAddr("198.18.0.1")  // outer source of refct_tun's IPv4 services
	refTunnelSrc6 = netip.MustParseAddr("2001:db8::1") // and of its IPv6 ones
)

// refModeRealAddr is real i's address of each family in refmode_reals.
func refModeRealAddr(i uint32, v6 bool) netip.Addr {
	if v6 {
		a := netip.MustParseAddr("2001:db8:3::").As16()
		binary.BigEndian.PutUint32(a[12:], i+1)
		return netip.AddrFrom16(a)
	}
	return netip.AddrFrom4([4]byte{198, 18, byte(4 + i>>8), byte(i)})
}

// putRefModeReals fills refmode_reals for reals reals: MACs as
// refdr_reals', the addresses of refModeRealAddr, port refNATPort and
// egress interface ifindex (refct_nat redirects there, or sends XDP_TX
// if it is the frame's ingress).
func putRefModeReals(tb testing.TB, rd *bpf.RefdrObjects, reals, ifindex uint32) {
	tb.Helper()
	for i := range reals {
		r := bpf.RefdrRefmodeReal{
			Mac: [6]byte(refdrRealMAC(i)), SrcMac: [6]byte(nodeMAC),
			Port: htons(refNATPort), Ifindex: ifindex,
			Addr4: binary.NativeEndian.Uint32(refModeRealAddr(i, false).AsSlice()),
			Addr6: refModeRealAddr(i, true).As16(),
		}
		if err := rd.RefmodeReals.Put(i, &r); err != nil {
			tb.Fatal(err)
		}
	}
}

// refTunFrame is the Go model of refct_tun's output for frame (untagged,
// as refdr parses it) sent to real idx: an Ethernet header to the real,
// then an outer header of the frame's family (IPIP: DF, TTL 64, id 0,
// length the inner header's plus 20, checksum; IP6IP6: hop limit 64,
// payload length the inner's plus 40, no traffic class or flow label),
// then the frame's IP packet unchanged.
func refTunFrame(frame []byte, idx uint32, v6 bool) []byte {
	out := append(bytes.Clone(refdrRealMAC(idx)), nodeMAC...)
	inner := frame[ethHeaderLen:]
	if v6 {
		out = binary.BigEndian.AppendUint16(out, unix.ETH_P_IPV6)
		h := make([]byte, ipv6HeaderLen)
		h[0] = 0x60
		binary.BigEndian.PutUint16(h[4:], binary.BigEndian.Uint16(inner[4:])+ipv6HeaderLen)
		h[6], h[7] = unix.IPPROTO_IPV6, 64
		s, d := refTunnelSrc6.As16(), refModeRealAddr(idx, true).As16()
		copy(h[8:], s[:])
		copy(h[24:], d[:])
		return append(append(out, h...), inner...)
	}
	out = binary.BigEndian.AppendUint16(out, unix.ETH_P_IP)
	h := make([]byte, ipv4HeaderLen)
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], binary.BigEndian.Uint16(inner[2:])+ipv4HeaderLen)
	binary.BigEndian.PutUint16(h[6:], 0x4000) // DF
	h[8], h[9] = 64, unix.IPPROTO_IPIP
	s, d := refTunnelSrc4.As4(), refModeRealAddr(idx, false).As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	binary.BigEndian.PutUint16(h[10:], ^testutil.OnesSum(h))
	return append(append(out, h...), inner...)
}

// refNATFrame is the Go model of refct_nat's output for frame (untagged;
// its TCP or UDP header, proto, at l4) sent to real idx: the real's MACs,
// destination address and port (refNATPort), and the IPv4 header and L4
// checksums updated by RFC 1624 from whatever they held; an IPv4 UDP
// checksum of 0 stays 0, a computed 0 becomes 0xffff. Each step reads
// and writes the frame in refct_nat's order, so that a header length
// which makes the L4 header overlap the IP header's fields gives what
// the program gives.
func refNATFrame(frame []byte, idx uint32, v6 bool, proto uint8, l4 int) []byte {
	out := bytes.Clone(frame)
	csumOff := l4 + 16
	udp := proto == unix.IPPROTO_UDP
	if udp {
		csumOff = l4 + 6
	}
	be := binary.BigEndian
	newPort := be.AppendUint16(nil, refNATPort)
	newAddr := refModeRealAddr(idx, v6).AsSlice()
	// The changes as (old, new) pairs of 16-bit words, summed at the end.
	var olds, news []byte
	olds, news = append(olds, out[l4+2:l4+4]...), append(news, newPort...)
	copy(out[l4+2:], newPort)
	dst := out[ethHeaderLen+16 : ethHeaderLen+20]
	if v6 {
		dst = out[ethHeaderLen+24 : ethHeaderLen+40]
	}
	olds, news = append(olds, dst...), append(news, newAddr...)
	if !v6 {
		old := bytes.Clone(dst)
		copy(dst, newAddr)
		ipSum := out[ethHeaderLen+10:]
		be.PutUint16(ipSum, csumUpdate(be.Uint16(ipSum), old, newAddr))
	} else {
		copy(dst, newAddr)
	}
	if !udp || v6 || be.Uint16(out[csumOff:]) != 0 {
		s := csumUpdate(be.Uint16(out[csumOff:]), olds, news)
		if s == 0 && udp {
			s = 0xffff
		}
		be.PutUint16(out[csumOff:], s)
	}
	copy(out, refdrRealMAC(idx))
	copy(out[ethAddrLen:], nodeMAC)
	return out
}

// withIPv4Sum sets the header checksum of an untagged IPv4 frame without
// options in place (withL4Proto leaves it stale) and returns the frame;
// other frames come back as they are.
func withIPv4Sum(frame []byte) []byte {
	if binary.BigEndian.Uint16(frame[2*ethAddrLen:]) == unix.ETH_P_IP {
		ip := frame[ethHeaderLen : ethHeaderLen+ipv4HeaderLen]
		binary.BigEndian.PutUint16(ip[10:], 0)
		binary.BigEndian.PutUint16(ip[10:], ^testutil.OnesSum(ip))
	}
	return frame
}

// csumUpdate is RFC 1624's eqn. 3, HC' = ~(~HC + ~m + m'), for the
// 16-bit words of old (m) becoming those of new (m'), folded with end-
// around carries as bpf/csum.h's csum_apply does.
func csumUpdate(check uint16, old, new []byte) uint16 {
	s := uint64(^check)
	for i := 0; i < len(old); i += 2 {
		s += uint64(^binary.BigEndian.Uint16(old[i:])) + uint64(binary.BigEndian.Uint16(new[i:]))
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// TestRefctModes checks the references with a mode's rewrite against
// their models, for each family, TCP and UDP: refct_tun's frame
// (refTunFrame) and refct_nat's (refNATFrame, whose checksums must also
// verify from scratch: the incremental update is right), both to the
// real refdr's hash picks; a tracked flow keeps that real after the
// service's run moves; IPv4 UDP without a checksum keeps none; and a
// frame to another port passes untouched.
func TestRefctModes(t *testing.T) {
	const reals = 8
	for _, v6 := range []bool{false, true} {
		vip := map[bool]netip.AddrPort{
			false: netip.MustParseAddrPort("198.18.0.100:80"),
			true:  netip.MustParseAddrPort("[2001:db8::100]:80"),
		}[v6]
		client := map[bool]netip.AddrPort{
			false: netip.MustParseAddrPort("198.18.1.10:40000"),
			true:  netip.MustParseAddrPort("[2001:db8:1::10]:40000"),
		}[v6]
		dns := netip.AddrPortFrom(vip.Addr(), 53)
		svcs := []refdrService{{vip, unix.IPPROTO_TCP, 1, 3}, {dns, unix.IPPROTO_UDP, 4, 2}}
		l4 := ethHeaderLen + map[bool]int{false: ipv4HeaderLen, true: ipv6HeaderLen}[v6]
		tcp := withL4Dport(t, tcpSYN(client, vip), vip.Port())
		udp := withL4Dport(t, withIPv4Sum(withL4Proto(tcpSYN(client, dns), unix.IPPROTO_UDP)), dns.Port())
		udpNoSum := bytes.Clone(udp)
		binary.BigEndian.PutUint16(udpNoSum[l4+6:], 0)
		for _, tc := range []struct {
			name  string
			in    []byte
			svc   refdrService
			proto uint8
		}{
			{"tcp", tcp, svcs[0], unix.IPPROTO_TCP},
			{"udp", udp, svcs[1], unix.IPPROTO_UDP},
			{"udp_no_checksum", udpNoSum, svcs[1], unix.IPPROTO_UDP},
		} {
			if v6 && tc.name == "udp_no_checksum" {
				continue // IPv6 UDP must carry one (RFC 8200 8.1)
			}
			t.Run(map[bool]string{false: "v4_", true: "v6_"}[v6]+tc.name, func(t *testing.T) {
				rd := loadRefdr(t, reals, svcs)
				idx := tc.svc.first + sched.Slot(refdrHash(client, tc.svc.vip, tc.proto), tc.svc.count)
				wantTun := refTunFrame(tc.in, idx, v6)
				wantNAT := refNATFrame(tc.in, idx, v6, tc.proto, l4)
				if tc.name != "udp_no_checksum" {
					if err := checkChecksums(wantNAT); err != nil {
						t.Fatalf("model's NAT frame: %v", err)
					}
				} else if s := binary.BigEndian.Uint16(wantNAT[l4+6:]); s != 0 {
					t.Fatalf("model's NAT frame: UDP checksum %#04x, want none (0)", s)
				}
				check := func(name string, prog *bpf.RefdrObjects, want []byte) {
					t.Helper()
					p := map[string]*ebpf.Program{"tun": prog.RefctTunXdp, "nat": prog.RefctNatXdp}[name]
					v, out := run(t, p, tc.in)
					if got := testutil.VerdictName(v); got != "XDP_TX" {
						t.Fatalf("%s: verdict %s, want XDP_TX", name, got)
					}
					if diff := cmp.Diff(want, out); diff != "" {
						t.Errorf("%s: frame (-want +got):\n%s", name, diff)
					}
				}
				check("tun", rd, wantTun)
				check("nat", rd, wantNAT)

				// Tracked: the run moves, the flow stays.
				putRefdrService(t, rd, refdrService{tc.svc.vip, tc.proto, 7, 1})
				check("tun", rd, wantTun)
				check("nat", rd, wantNAT)

				other := withL4Dport(t, tc.in, 81)
				for name, p := range map[string]*ebpf.Program{"tun": rd.RefctTunXdp, "nat": rd.RefctNatXdp} {
					v, out := run(t, p, other)
					if got := testutil.VerdictName(v); got != "XDP_PASS" {
						t.Errorf("%s: port 81: verdict %s, want XDP_PASS", name, got)
					}
					if !bytes.Equal(out, other) {
						t.Errorf("%s: port 81: frame changed", name)
					}
				}
			})
		}
	}
}
