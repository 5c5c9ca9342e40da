package decap

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	dt "xlb/bpf/decap/decaptest"

	"xlb/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Addresses of the golden cases: lb sends from lb4/lb6 to the real at
// real4/real6; clients reach the VIPs vip4/vip6.
var (
	lb4    = netip.MustParseAddr("198.18.0.1")
	real4  = netip.MustParseAddr("198.18.0.2")
	other4 = netip.MustParseAddr("198.18.0.3")
	vip4   = netip.MustParseAddr("198.18.0.100")
	cli4   = netip.MustParseAddr("198.18.1.1")
	lb6    = netip.MustParseAddr("2001:db8::1")
	real6  = netip.MustParseAddr("2001:db8::2")
	vip6   = netip.MustParseAddr("2001:db8:100::100")
	cli6   = netip.MustParseAddr("2001:db8:1::1")

	goldenDsts = []netip.Addr{real4, real6}
	goldenVIPs = []netip.Addr{vip4, vip6}
)

// golden is one case's file in testdata/: the maps, the input frame and
// what the program did with it (rewritten by -update).
type golden struct {
	Comment   string            `json:"comment"`
	DecapDsts []netip.Addr      `json:"decap_dsts"`
	VIPs      []netip.Addr      `json:"vips"`
	In        testutil.HexFrame `json:"in"`
	Verdict   string            `json:"verdict"`
	Out       testutil.HexFrame `json:"out"`
	Reasons   map[string]uint64 `json:"reasons"`
}

// goldenCase builds a case's input and, independently of the program,
// the output it must produce.
type goldenCase struct {
	name, comment string
	in            []byte
	verdict       string
	out           []byte // nil: the input, unchanged
	reason        string
}

func udp4(dst netip.Addr, port uint16) []byte {
	return dt.UDP(netip.AddrPortFrom(cli4, 40000), netip.AddrPortFrom(dst, port), []byte("hello xlb"))
}

func udp6(dst netip.Addr, port uint16) []byte {
	return dt.UDP(netip.AddrPortFrom(cli6, 40000), netip.AddrPortFrom(dst, port), []byte("hello xlb"))
}

func goldenCases() []goldenCase {
	in4 := udp4(vip4, 53)
	in6 := dt.TCPSYN(netip.AddrPortFrom(cli6, 40001), netip.AddrPortFrom(vip6, 80), 1)

	// Inner IPv4 whose total length claims 8 more bytes than follow.
	long4 := bytes.Clone(in4)
	binary.BigEndian.PutUint16(long4[2:], uint16(len(long4)+8))
	// Inner IPv4 with IHL 4 (RFC 791: at least 5).
	badIHL := bytes.Clone(in4)
	badIHL[0] = 4<<4 | 4
	// IPIP whose outer header says more fragments follow.
	frag := dt.Encap(lb4, real4, in4)
	binary.BigEndian.PutUint16(frag[6:], 0x2000)
	frag[10], frag[11] = 0, 0
	binary.BigEndian.PutUint16(frag[10:], dt.Checksum(frag[:20], 0))
	// IPIP whose outer IHL is 4.
	badOuter := dt.Encap(lb4, real4, in4)
	badOuter[0] = 4<<4 | 4
	// IP6IP6 whose inner payload length claims 100 more bytes.
	long6 := bytes.Clone(in6)
	binary.BigEndian.PutUint16(long6[4:], uint16(len(long6)-40+100))
	// The first 10 bytes of an inner IPv4 header only.
	trunc := dt.IP(lb4, real4, dt.ProtoIPIP, in4[:10])
	arp := dt.Ethernet(dt.DstMAC, dt.SrcMAC, dt.EtherTypeARP, make([]byte, 28))
	padded := append(dt.Frame(dt.Encap(lb4, real4, in4)), 0, 0, 0, 0, 0, 0)

	return []goldenCase{
		{
			name: "ipip_udp", comment: "IPIP to the real, UDP to the VIP inside: outer header stripped, Ethernet header kept.",
			in: dt.Frame(dt.Encap(lb4, real4, in4)), verdict: "XDP_PASS", out: dt.Frame(in4), reason: "decap_ipip",
		},
		{
			name: "ip6ip6_tcp", comment: "IP6IP6 to the real, TCP SYN to the IPv6 VIP inside.",
			in: dt.Frame(dt.Encap(lb6, real6, in6)), verdict: "XDP_PASS", out: dt.Frame(in6), reason: "decap_ip6ip6",
		},
		{
			name: "4in6_udp", comment: "IPv4 in IPv6: outer IPv6 stripped, EtherType rewritten to IPv4.",
			in: dt.Frame(dt.Encap(lb6, real6, in4)), verdict: "XDP_PASS", out: dt.Frame(in4), reason: "decap_4in6",
		},
		{
			name: "6in4_udp", comment: "IPv6 in IPv4 (protocol 41): outer IPv4 stripped, EtherType rewritten to IPv6.",
			in: dt.Frame(dt.Encap(lb4, real4, udp6(vip6, 53))), verdict: "XDP_PASS", out: dt.Frame(udp6(vip6, 53)), reason: "decap_6in4",
		},
		{
			name: "vlan_4in6", comment: "802.1Q-tagged IPv4 in IPv6: the tag is kept, its inner EtherType rewritten.",
			in:      dt.VLANEthernet(dt.DstMAC, dt.SrcMAC, 7, dt.EtherTypeIPv6, dt.Encap(lb6, real6, in4)),
			verdict: "XDP_PASS", out: dt.VLANEthernet(dt.DstMAC, dt.SrcMAC, 7, dt.EtherTypeIPv4, in4), reason: "decap_4in6",
		},
		{
			name: "ipip_outer_options", comment: "Outer IPv4 with 4 bytes of options (IHL 6): all 24 bytes stripped.",
			in:      dt.Frame(dt.IPv4Options(lb4, real4, dt.ProtoIPIP, []byte{1, 1, 1, 0}, in4)),
			verdict: "XDP_PASS", out: dt.Frame(in4), reason: "decap_ipip",
		},
		{
			name: "ipip_ethernet_padding", comment: "Bytes after the outer datagram (Ethernet padding) stay; the stack trims them by the inner length.",
			in: padded, verdict: "XDP_PASS", out: append(dt.Frame(in4), 0, 0, 0, 0, 0, 0), reason: "decap_ipip",
		},
		{
			name: "plain_udp4", comment: "Ordinary UDP to the VIP (DR traffic): untouched.",
			in: dt.Frame(in4), verdict: "XDP_PASS", reason: "pass_not_tunnel",
		},
		{
			name: "plain_tcp6", comment: "Ordinary IPv6 TCP: untouched.",
			in: dt.Frame(in6), verdict: "XDP_PASS", reason: "pass_not_tunnel",
		},
		{
			name: "arp", comment: "ARP: untouched.",
			in: arp, verdict: "XDP_PASS", reason: "pass_not_ip",
		},
		{
			name: "ipip_other_dst", comment: "IPIP to an address not in decap_dsts: untouched.",
			in: dt.Frame(dt.Encap(lb4, other4, in4)), verdict: "XDP_PASS", reason: "pass_not_dst",
		},
		{
			name: "ipip_not_vip", comment: "IPIP to the real whose inner destination is no VIP: untouched (the real forwards nothing).",
			in: dt.Frame(dt.Encap(lb4, real4, udp4(other4, 53))), verdict: "XDP_PASS", reason: "pass_not_vip",
		},
		{
			name: "ipip_outer_fragment", comment: "IPIP outer fragment (MF): left to the stack untouched.",
			in: dt.Frame(frag), verdict: "XDP_PASS", reason: "pass_outer_fragment",
		},
		{
			name: "ipip_bad_outer_ihl", comment: "Outer IHL 4: not a valid header, left to the stack to count and drop.",
			in: dt.Frame(badOuter), verdict: "XDP_PASS", reason: "pass_bad_outer",
		},
		{
			name: "ipip_truncated_inner", comment: "IPIP carrying 10 bytes of an inner header: dropped.",
			in: dt.Frame(trunc), verdict: "XDP_DROP", reason: "drop_inner_truncated",
		},
		{
			name: "ipip_inner_too_long", comment: "Inner IPv4 total length beyond the outer payload: dropped.",
			in: dt.Frame(dt.Encap(lb4, real4, long4)), verdict: "XDP_DROP", reason: "drop_inner_truncated",
		},
		{
			name: "ipip_inner_bad_ihl", comment: "Inner IPv4 IHL 4: dropped.",
			in: dt.Frame(dt.Encap(lb4, real4, badIHL)), verdict: "XDP_DROP", reason: "drop_inner_malformed",
		},
		{
			name: "ipip_inner_version", comment: "Protocol 4 (IPv4 inside) carrying an IPv6 packet: dropped.",
			in: dt.Frame(dt.IP(lb4, real4, dt.ProtoIPIP, in6)), verdict: "XDP_DROP", reason: "drop_inner_version",
		},
		{
			name: "ip6ip6_inner_too_long", comment: "Inner IPv6 payload length beyond the outer payload: dropped.",
			in: dt.Frame(dt.Encap(lb6, real6, long6)), verdict: "XDP_DROP", reason: "drop_inner_truncated",
		},
	}
}

// cmpAddr compares netip.Addr by value (its fields are unexported).
var cmpAddr = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func TestGolden(t *testing.T) {
	objs := loadTest(t, goldenDsts, goldenVIPs)
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			clearReasons(t, objs.Reasons)
			verdict, out := run(t, objs.DecapXdp, tc.in)
			got := golden{
				Comment:   tc.comment,
				DecapDsts: goldenDsts,
				VIPs:      goldenVIPs,
				In:        tc.in,
				Verdict:   testutil.VerdictName(verdict),
				Out:       out,
				Reasons:   reasonCounts(t, objs.Reasons),
			}
			path := filepath.Join("testdata", tc.name+".json")
			if *update {
				raw, err := json.MarshalIndent(got, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, append(raw, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}

			// The program against the case's own expectation, built
			// independently of it ...
			wantOut := tc.out
			if wantOut == nil {
				wantOut = tc.in
			}
			want := golden{
				Comment: tc.comment, DecapDsts: goldenDsts, VIPs: goldenVIPs, In: tc.in,
				Verdict: tc.verdict, Out: wantOut, Reasons: map[string]uint64{tc.reason: 1},
			}
			if diff := cmp.Diff(want, got, cmpAddr); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			// ... and against the reviewed file, whose maps and input
			// must be the ones this case builds.
			var file golden
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if err := json.Unmarshal(raw, &file); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if diff := cmp.Diff(file, got, cmpAddr); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
		})
	}
}
