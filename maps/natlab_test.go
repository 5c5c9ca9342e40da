package maps

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"

	"xlb/bpf"
	"xlb/internal/testutil"
)

// natLab is a network namespace laid out as a NAT node, for golden cases
// whose bpf_fib_lookup must find routes and neighbours: BPF_PROG_TEST_RUN
// routes in the namespace of the ingress interface it is given, looked up
// in the calling thread's namespace.
//
//	outside 02:00:00:00:00:01  198.18.0.1/24  2001:db8::1/64
//	        clients 198.18.1.0/24 and 2001:db8:1::/64 via the router
//	        198.18.0.254 / 2001:db8::254 (02:00:00:00:00:aa, permanent)
//	inside  02:00:00:00:00:02  198.18.2.1/24  2001:db8:2::1/64
//	        real 198.18.2.11 / 2001:db8:2::11 (02:00:00:00:02:0b, permanent);
//	        198.18.2.12 has no neighbour entry; 198.18.3.0/24 and
//	        2001:db8:3::/64 have no route
//	tunnel  MTU 1400, narrow  MTU 1300: no addresses (TUN reals for PTB)
//
// Each interface is one end of a veth pair whose other end stays in the
// namespace, up, so the links have carrier.
type natLab struct {
	ns      *testutil.NS
	ifindex map[string]uint32
}

func newNATLab(tb testing.TB) *natLab {
	tb.Helper()
	ns := testutil.NetNS(tb)
	for _, l := range []struct{ name, mac, v4, v6 string }{
		{"outside", "02:00:00:00:00:01", "198.18.0.1/24", "2001:db8::1/64"},
		{"inside", "02:00:00:00:00:02", "198.18.2.1/24", "2001:db8:2::1/64"},
	} {
		peer := l.name + "-peer"
		ns.MustRun(tb, "ip", "link", "add", l.name, "address", l.mac, "type", "veth", "peer", "name", peer)
		ns.MustRun(tb, "ip", "link", "set", l.name, "up")
		ns.MustRun(tb, "ip", "link", "set", peer, "up")
		ns.MustRun(tb, "ip", "addr", "add", l.v4, "dev", l.name)
		ns.MustRun(tb, "ip", "addr", "add", l.v6, "dev", l.name, "nodad")
	}
	// Two more links without addresses, for TUN reals behind a small
	// MTU (the PTB goldens): bpf_check_mtu reads only the MTU.
	for _, l := range []struct{ name, mtu string }{{"tunnel", "1400"}, {"narrow", "1300"}} {
		ns.MustRun(tb, "ip", "link", "add", l.name, "mtu", l.mtu, "type", "veth", "peer", "name", l.name+"-peer", "mtu", l.mtu)
		ns.MustRun(tb, "ip", "link", "set", l.name, "up")
		ns.MustRun(tb, "ip", "link", "set", l.name+"-peer", "up")
	}
	for _, c := range [][]string{
		{"sysctl", "-qw", "net.ipv4.ip_forward=1"},
		{"sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"},
		{"ip", "route", "add", "198.18.1.0/24", "via", "198.18.0.254"},
		{"ip", "route", "add", "2001:db8:1::/64", "via", "2001:db8::254"},
		{"ip", "neigh", "replace", "198.18.0.254", "lladdr", "02:00:00:00:00:aa", "nud", "permanent", "dev", "outside"},
		{"ip", "neigh", "replace", "2001:db8::254", "lladdr", "02:00:00:00:00:aa", "nud", "permanent", "dev", "outside"},
		{"ip", "neigh", "replace", "198.18.2.11", "lladdr", "02:00:00:00:02:0b", "nud", "permanent", "dev", "inside"},
		{"ip", "neigh", "replace", "2001:db8:2::11", "lladdr", "02:00:00:00:02:0b", "nud", "permanent", "dev", "inside"},
	} {
		ns.MustRun(tb, c[0], c[1:]...)
	}
	lab := &natLab{ns: ns, ifindex: make(map[string]uint32)}
	if err := ns.Do(func() error {
		for _, name := range []string{"outside", "inside", "tunnel", "narrow"} {
			iface, err := net.InterfaceByName(name)
			if err != nil {
				return err
			}
			lab.ifindex[name] = uint32(iface.Index)
		}
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	return lab
}

// run marks the lab's inside interface as such in d, runs f.Before on the
// outside interface and then f.In on f.Ingress, in the lab, and returns
// f.In's verdict and output.
func (lab *natLab) run(tb testing.TB, d *Dataplane, f *fixture) (verdict uint32, out []byte) {
	tb.Helper()
	ifindex, ok := lab.ifindex[f.Ingress]
	if !ok {
		tb.Fatalf("ingress %q: want outside or inside", f.Ingress)
	}
	if err := d.SetInside(int(lab.ifindex["inside"]), true); err != nil {
		tb.Fatal(err)
	}
	if err := d.SetFNATInside(int(lab.ifindex["inside"]), true); err != nil {
		tb.Fatal(err)
	}
	// t.Fatal must not run on the locked thread: collect, then fail.
	var err error
	if doErr := lab.ns.Do(func() error {
		for _, in := range f.Before {
			if _, _, err = runIn(d.Program(), in, lab.ifindex["outside"]); err != nil {
				return nil
			}
		}
		for _, in := range f.BeforeInside {
			if _, _, err = runIn(d.Program(), in, lab.ifindex["inside"]); err != nil {
				return nil
			}
		}
		verdict, out, err = runIn(d.Program(), f.In, ifindex)
		return nil
	}); doErr != nil {
		tb.Fatal(doErr)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return verdict, out
}

// runIn is runOn without a testing.TB, for locked threads.
func runIn(prog *ebpf.Program, in []byte, ifindex uint32) (uint32, []byte, error) {
	out := make([]byte, len(in)+256)
	opts := ebpf.RunOptions{Data: in, DataOut: out, Context: xdpMD{DataEnd: uint32(len(in)), IngressIfindex: ifindex}}
	v, err := prog.Run(&opts)
	if err != nil {
		return 0, nil, fmt.Errorf("run program: %w", err)
	}
	return v, opts.DataOut, nil
}

// hopString shows a cached next hop as "IFACE DMAC from SMAC mtu N", the
// interface by its name in lab (nil: by its index); "" when none.
func hopString(h NextHop, lab *natLab) string {
	if h.Ifindex == 0 {
		return ""
	}
	iface := strconv.Itoa(h.Ifindex)
	if lab != nil {
		for name, i := range lab.ifindex {
			if int(i) == h.Ifindex {
				iface = name
			}
		}
	}
	return fmt.Sprintf("%s %s from %s mtu %d", iface, h.MAC, h.SrcMAC, h.MTU)
}

// dumpReplies lists both NAT reverse tables, sorted, without clocks; lab
// names the cached hops' interfaces (nil: outside the lab).
func dumpReplies(tb testing.TB, d *Dataplane, lab *natLab) []fixtureReply {
	tb.Helper()
	var out []fixtureReply
	protoNames := map[uint8]string{unix.IPPROTO_TCP: "tcp", unix.IPPROTO_UDP: "udp"}
	for _, t := range []natTable{d.natTableOf(new(bpf.XlbFlow4)), d.natTableOf(new(bpf.XlbFlow))} {
		err := t.walk(func(k any, v bpf.XlbNatRev) {
			f, r := flowFromKey(k), replyFromC(v)
			out = append(out, fixtureReply{Src: f.Src.String(), Dst: f.Dst.String(), Proto: protoNames[f.Proto],
				VIP: r.VIP.String(), ServiceID: r.ServiceID, RealID: r.RealID, State: connStateNames[r.State],
				Hop: hopString(r.Hop, lab)})
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	slices.SortFunc(out, func(a, b fixtureReply) int { return strings.Compare(a.Src+a.Dst, b.Src+b.Dst) })
	return out
}

// checkChecksums verifies the IPv4 header checksum and the TCP/UDP
// checksum of an untagged Ethernet frame, independently of the program's
// incremental updates: sums computed over the whole headers (RFC 1071).
func checkChecksums(frame []byte) error {
	if len(frame) < ethHeaderLen {
		return errors.New("short frame")
	}
	var pseudo []byte
	var l4 []byte
	var proto uint8
	switch binary.BigEndian.Uint16(frame[12:]) {
	case 0x0800:
		ip := frame[ethHeaderLen:]
		if len(ip) < ipv4HeaderLen {
			return errors.New("short ipv4 header")
		}
		hl, tot := int(ip[0]&0x0f)*4, int(binary.BigEndian.Uint16(ip[2:]))
		if hl < ipv4HeaderLen || tot < hl+8 || tot > len(ip) {
			return errors.New("bad ipv4 lengths")
		}
		if sum := testutil.OnesSum(ip[:hl]); sum != 0xffff {
			return fmt.Errorf("ipv4 header checksum: sum %#04x, want 0xffff", sum)
		}
		proto = ip[9]
		l4 = ip[hl:tot]
		pseudo = append(slices.Clone(ip[12:20]), 0, proto, byte(len(l4)>>8), byte(len(l4)))
		if proto == unix.IPPROTO_UDP && binary.BigEndian.Uint16(l4[6:]) == 0 {
			return nil // no checksum (RFC 768)
		}
	case 0x86dd:
		ip := frame[ethHeaderLen:]
		if len(ip) < ipv6HeaderLen {
			return errors.New("short ipv6 header")
		}
		proto = ip[6]
		plen := int(binary.BigEndian.Uint16(ip[4:]))
		if plen < 8 || ipv6HeaderLen+plen > len(ip) {
			return errors.New("bad ipv6 payload length")
		}
		l4 = ip[ipv6HeaderLen : ipv6HeaderLen+plen]
		pseudo = append(slices.Clone(ip[8:40]), 0, 0, byte(len(l4)>>8), byte(len(l4)), 0, 0, 0, proto)
	default:
		return nil
	}
	if proto != unix.IPPROTO_TCP && proto != unix.IPPROTO_UDP {
		return nil // not checked (IPv6 extension headers, other protocols)
	}
	if sum := testutil.OnesSum(append(pseudo, l4...)); sum != 0xffff {
		return fmt.Errorf("l4 (proto %d) checksum: sum %#04x, want 0xffff", proto, sum)
	}
	return nil
}

// labInsideMAC is the MAC of the lab's inside interface: FuzzProgram
// feeds frames addressed to it on that interface.
var labInsideMAC = []byte{0x02, 0, 0, 0, 0, 0x02}

// runFuzz runs in through d's program in the lab, arriving on the inside
// interface if it is addressed to its MAC, else on the outside one.
func (lab *natLab) runFuzz(tb testing.TB, d *Dataplane, in []byte) (verdict uint32, out []byte) {
	tb.Helper()
	ifindex := lab.ifindex["outside"]
	if bytes.Equal(in[:6], labInsideMAC) {
		ifindex = lab.ifindex["inside"]
	}
	var err error
	if doErr := lab.ns.Do(func() error {
		verdict, out, err = runIn(d.Program(), in, ifindex)
		return nil
	}); doErr != nil {
		tb.Fatal(doErr)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return verdict, out
}

// natFields locates what a NAT rewrite may change in an Ethernet frame
// (optionally 802.1Q tagged) carrying IPv4 or IPv6 (with up to
// IPV6_EXT_MAX hop-by-hop, routing or destination options headers) and
// TCP or UDP: the byte offsets of the TTL / hop limit, IPv4 header
// checksum and addresses, and of the ports and L4 checksum. ok false if
// the frame is not such a packet.
func natFields(frame []byte) (allowed map[int]bool, ok bool) {
	l3 := ethHeaderLen
	if len(frame) < l3 {
		return nil, false
	}
	etype := binary.BigEndian.Uint16(frame[12:])
	if etype == 0x8100 {
		if len(frame) < l3+vlanTagLen {
			return nil, false
		}
		etype = binary.BigEndian.Uint16(frame[16:])
		l3 += vlanTagLen
	}
	allowed = make(map[int]bool)
	span := func(from, n int) {
		for i := from; i < from+n; i++ {
			allowed[i] = true
		}
	}
	var l4 int
	var proto byte
	switch etype {
	case 0x0800:
		if len(frame) < l3+ipv4HeaderLen {
			return nil, false
		}
		l4 = l3 + int(frame[l3]&0x0f)*4
		proto = frame[l3+9]
		span(l3+8, 1)  // TTL
		span(l3+10, 2) // header checksum
		span(l3+12, 8) // addresses
	case 0x86dd:
		if len(frame) < l3+ipv6HeaderLen {
			return nil, false
		}
		proto = frame[l3+6]
		l4 = l3 + ipv6HeaderLen
		for range 4 {
			if proto != 0 && proto != 43 && proto != 60 {
				break
			}
			if len(frame) < l4+8 {
				return nil, false
			}
			proto, l4 = frame[l4], l4+(int(frame[l4+1])+1)*8
		}
		span(l3+7, 1)  // hop limit
		span(l3+8, 32) // addresses
	default:
		return nil, false
	}
	switch proto {
	case unix.IPPROTO_TCP:
		span(l4+16, 2)
	case unix.IPPROTO_UDP:
		span(l4+6, 2)
	default:
		return nil, false
	}
	span(l4, 4) // ports
	return allowed, true
}

// checkNATRewrite says why out is no NAT rewrite of in (beyond the MACs):
// nil if it differs only where natFields allows, and, for untagged
// frames whose checksums were valid, its checksums are valid too.
func checkNATRewrite(in, out []byte) error {
	if len(in) != len(out) {
		return fmt.Errorf("length %d, want %d", len(out), len(in))
	}
	allowed, ok := natFields(in)
	if !ok {
		return errors.New("changed, but no TCP/UDP over IP")
	}
	for i := 12; i < len(in); i++ {
		if in[i] != out[i] && !allowed[i] {
			return fmt.Errorf("byte %d changed", i)
		}
	}
	if checkChecksums(in) == nil {
		if err := checkChecksums(out); err != nil {
			return fmt.Errorf("checksums were valid, now: %w", err)
		}
	}
	return nil
}

// withL4Dport returns a copy of an untagged IPv4 or IPv6 (no extension
// headers) TCP/UDP frame with destination port p and a recomputed L4
// checksum.
func withL4Dport(tb testing.TB, frame []byte, p uint16) []byte {
	tb.Helper()
	out := bytes.Clone(frame)
	l4, csumOff := ethHeaderLen+ipv4HeaderLen, 0
	var pseudo []byte
	var proto byte
	switch binary.BigEndian.Uint16(out[12:]) {
	case 0x0800:
		proto = out[ethHeaderLen+9]
		pseudo = append(slices.Clone(out[ethHeaderLen+12:ethHeaderLen+20]), 0, proto)
	case 0x86dd:
		l4 = ethHeaderLen + ipv6HeaderLen
		proto = out[ethHeaderLen+6]
		pseudo = append(slices.Clone(out[ethHeaderLen+8:ethHeaderLen+40]), 0, 0, 0, proto)
	default:
		tb.Fatalf("withL4Dport: not IP: %x", frame)
	}
	switch proto {
	case unix.IPPROTO_TCP:
		csumOff = 16
	case unix.IPPROTO_UDP:
		csumOff = 6
	default:
		tb.Fatalf("withL4Dport: not TCP/UDP: %x", frame)
	}
	seg := out[l4:]
	if binary.BigEndian.Uint16(out[12:]) == 0x0800 {
		pseudo = append(pseudo, byte(len(seg)>>8), byte(len(seg)))
	} else {
		pseudo = slices.Insert(pseudo, 32, 0, 0, byte(len(seg)>>8), byte(len(seg)))[:40]
	}
	binary.BigEndian.PutUint16(seg[2:], p)
	binary.BigEndian.PutUint16(seg[csumOff:], 0)
	sum := ^testutil.OnesSum(append(pseudo, seg...))
	if sum == 0 && proto == unix.IPPROTO_UDP {
		sum = 0xffff
	}
	binary.BigEndian.PutUint16(seg[csumOff:], sum)
	if err := checkChecksums(out); err != nil {
		tb.Fatalf("withL4Dport: %v", err)
	}
	return out
}

// TestLookupReply runs a NAT flow's first packet in the lab and reads the
// reverse entry it left through the API, for both families.
func TestLookupReply(t *testing.T) {
	lab := newNATLab(t)
	fx := loadFixtures(t)
	for _, tc := range []struct {
		fixture string
		reply   Flow
		want    Reply
	}{
		{"nat_v4_tcp_forward", Flow{Src: netip.MustParseAddrPort("198.18.2.11:8080"), Dst: netip.MustParseAddrPort("198.18.1.10:40000"), Proto: unix.IPPROTO_TCP},
			Reply{VIP: netip.MustParseAddrPort("198.18.0.100:80"), ServiceID: 1, RealID: 1, State: ConnSYN}},
		{"nat_v6_udp_forward", Flow{Src: netip.MustParseAddrPort("[2001:db8:2::11]:53"), Dst: netip.MustParseAddrPort("[2001:db8:1::10]:40000"), Proto: unix.IPPROTO_UDP},
			Reply{VIP: netip.MustParseAddrPort("[2001:db8::100]:53"), ServiceID: 1, RealID: 1, State: ConnUDP}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			d := openTest(t, Options{MaxServices: 4, MaxReals: 4, ConnTableSize: 1024})
			f := fx[tc.fixture]
			f.fill(t, d)
			if _, ok, err := d.LookupReply(tc.reply); err != nil || ok {
				t.Fatalf("before the flow: LookupReply = %v, %v; want none", ok, err)
			}
			if v, _ := lab.run(t, d, f); testutil.VerdictName(v) != "XDP_REDIRECT" {
				t.Fatalf("verdict %s, want XDP_REDIRECT", testutil.VerdictName(v))
			}
			got, ok, err := d.LookupReply(tc.reply)
			if err != nil || !ok {
				t.Fatalf("LookupReply = %v, %v; want an entry", ok, err)
			}
			if got.LastSeen <= 0 || got.LastSeen > MonotonicNow() {
				t.Errorf("last seen %v, want in (0, now]", got.LastSeen)
			}
			got.LastSeen = 0
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
				t.Errorf("reply (-want +got):\n%s", diff)
			}
		})
	}
}
