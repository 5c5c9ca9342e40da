package maps

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"xlb/bpf"
	"xlb/internal/testutil"
)

// EtherTypes and protocol numbers the ICMP checks read.
const (
	etherIPv4     = 0x0800
	etherIPv6     = 0x86dd
	etherVLAN     = 0x8100
	protoICMP     = 1
	protoIPIP     = 4
	protoIPv6     = 41
	protoICMPv6   = 58
	icmpHeaderLen = 8
)

// l3Of returns the EtherType and the IP packet of an Ethernet frame with
// or without one 802.1Q tag.
func l3Of(frame []byte) (uint16, []byte, error) {
	if len(frame) < ethHeaderLen {
		return 0, nil, errors.New("short frame")
	}
	t, l3 := binary.BigEndian.Uint16(frame[12:]), frame[ethHeaderLen:]
	if t == etherVLAN {
		if len(l3) < vlanTagLen {
			return 0, nil, errors.New("short 802.1Q tag")
		}
		t, l3 = binary.BigEndian.Uint16(l3[2:]), l3[vlanTagLen:]
	}
	return t, l3, nil
}

// isICMP says whether frame carries ICMP or ICMPv6 right after its IP
// header (not tunnelled).
func isICMP(frame []byte) bool {
	t, l3, err := l3Of(frame)
	if err != nil {
		return false
	}
	switch t {
	case etherIPv4:
		return len(l3) >= ipv4HeaderLen && l3[9] == protoICMP
	case etherIPv6:
		return len(l3) >= ipv6HeaderLen && l3[6] == protoICMPv6
	}
	return false
}

// icmpMessage is an ICMP or ICMPv6 message found by findICMP: its bytes,
// the IP header's addresses, and the protocol (1 or 58).
type icmpMessage struct {
	raw      []byte
	src, dst net.IP
	proto    int
	ip4      *ipv4.Header // the IPv4 header carrying it, if IPv4
	ip6      *ipv6.Header // the IPv6 header carrying it, if IPv6
}

// findICMP decodes frame (x/net/ipv4 and ipv6) down to its ICMP or ICMPv6
// message, through at most one tunnel header (IPIP, IPv6 in IP), and
// checks every IPv4 header checksum on the way.
func findICMP(frame []byte) (icmpMessage, error) {
	t, l3, err := l3Of(frame)
	if err != nil {
		return icmpMessage{}, err
	}
	for range 2 {
		var proto int
		var body []byte
		var m icmpMessage
		switch t {
		case etherIPv4:
			h, err := ipv4.ParseHeader(l3)
			if err != nil {
				return icmpMessage{}, err
			}
			if h.TotalLen > len(l3) || h.TotalLen < h.Len {
				return icmpMessage{}, fmt.Errorf("ipv4 total length %d, %d bytes", h.TotalLen, len(l3))
			}
			if sum := testutil.OnesSum(l3[:h.Len]); sum != 0xffff {
				return icmpMessage{}, fmt.Errorf("ipv4 header checksum: sum %#04x, want 0xffff", sum)
			}
			proto, body = h.Protocol, l3[h.Len:h.TotalLen]
			m = icmpMessage{src: h.Src, dst: h.Dst, ip4: h}
		case etherIPv6:
			h, err := ipv6.ParseHeader(l3)
			if err != nil {
				return icmpMessage{}, err
			}
			if ipv6HeaderLen+h.PayloadLen > len(l3) {
				return icmpMessage{}, fmt.Errorf("ipv6 payload length %d, %d bytes", h.PayloadLen, len(l3))
			}
			proto, body = h.NextHeader, l3[ipv6HeaderLen:ipv6HeaderLen+h.PayloadLen]
			m = icmpMessage{src: h.Src, dst: h.Dst, ip6: h}
		default:
			return icmpMessage{}, fmt.Errorf("ethertype %#04x", t)
		}
		switch proto {
		case protoIPIP:
			t, l3 = etherIPv4, body
		case protoIPv6:
			t, l3 = etherIPv6, body
		case protoICMP, protoICMPv6:
			m.raw, m.proto = body, proto
			return m, nil
		default:
			return icmpMessage{}, fmt.Errorf("protocol %d, not ICMP", proto)
		}
	}
	return icmpMessage{}, errors.New("tunnel in a tunnel")
}

// checksumOK verifies the message's ICMP checksum (RFC 792), or its
// ICMPv6 checksum over the pseudo-header (RFC 4443 2.3).
func (m icmpMessage) checksumOK() error {
	b := m.raw
	if m.proto == protoICMPv6 {
		var pseudo []byte
		pseudo = append(pseudo, m.src.To16()...)
		pseudo = append(pseudo, m.dst.To16()...)
		pseudo = binary.BigEndian.AppendUint32(pseudo, uint32(len(m.raw)))
		pseudo = append(pseudo, 0, 0, 0, protoICMPv6)
		b = append(pseudo, m.raw...)
	}
	if sum := testutil.OnesSum(b); sum != 0xffff {
		return fmt.Errorf("icmp (protocol %d) checksum: sum %#04x, want 0xffff", m.proto, sum)
	}
	return nil
}

// quotedIPv4OK verifies the checksum of the IPv4 header an ICMP error
// quotes, when the quote holds one whole.
func (m icmpMessage) quotedIPv4OK() error {
	if m.proto != protoICMP || len(m.raw) < icmpHeaderLen+ipv4HeaderLen {
		return nil
	}
	q := m.raw[icmpHeaderLen:]
	hl := int(q[0]&0x0f) * 4
	if q[0]>>4 != 4 || hl < ipv4HeaderLen || hl > len(q) {
		return nil
	}
	if sum := testutil.OnesSum(q[:hl]); sum != 0xffff {
		return fmt.Errorf("quoted ipv4 header checksum: sum %#04x, want 0xffff", sum)
	}
	return nil
}

// checkICMP verifies, independently of the program's incremental
// updates, every checksum of the ICMP or ICMPv6 error in frame (possibly
// tunnelled): the IPv4 headers', the ICMP one, and the quoted IPv4
// header's.
func checkICMP(frame []byte) error {
	m, err := findICMP(frame)
	if err != nil {
		return err
	}
	if err := m.checksumOK(); err != nil {
		return err
	}
	return m.quotedIPv4OK()
}

// TestPTBDecoded runs the PTB golden inputs and decodes what the program
// sends back with x/net/icmp, field by field: type and code, the MTU the
// client is told, addresses and MACs swapped, the quote being the start of
// the client's packet, and the checksums (checkICMP).
func TestPTBDecoded(t *testing.T) {
	fixtures := loadFixtures(t)
	lab := newNATLab(t)
	type ptb struct {
		Src, Dst       string
		TTL            int
		Len            int // IPv4 total length, or IPv6 payload length
		Type           string
		Code           int
		MTU            int
		QuoteLen       int
		QuoteIsPrefix  bool
		MACsSwapped    bool
		ChecksumsValid bool
	}
	for _, tc := range []struct {
		name string
		want ptb
	}{
		{"ptb_v4", ptb{Src: "198.18.0.100", Dst: "198.18.1.10", TTL: 64, Len: 576, Type: "destination unreachable", Code: 4, MTU: 1380, QuoteLen: 548, QuoteIsPrefix: true, MACsSwapped: true, ChecksumsValid: true}},
		{"ptb_v4_vlan", ptb{Src: "198.18.0.100", Dst: "198.18.1.10", TTL: 64, Len: 576, Type: "destination unreachable", Code: 4, MTU: 1380, QuoteLen: 548, QuoteIsPrefix: true, MACsSwapped: true, ChecksumsValid: true}},
		{"ptb_v6", ptb{Src: "2001:db8::100", Dst: "2001:db8:1::10", TTL: 64, Len: 1240, Type: "packet too big", MTU: 1360, QuoteLen: 1232, QuoteIsPrefix: true, MACsSwapped: true, ChecksumsValid: true}},
		{"ptb_v6_floor", ptb{Src: "2001:db8::100", Dst: "2001:db8:1::10", TTL: 64, Len: 1240, Type: "packet too big", MTU: 1280, QuoteLen: 1232, QuoteIsPrefix: true, MACsSwapped: true, ChecksumsValid: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, ok := fixtures[tc.name]
			if !ok {
				t.Fatalf("no fixture %s", tc.name)
			}
			d := openTest(t, Options{MaxServices: 16, MaxReals: 16})
			f.lab = lab
			f.fill(t, d)
			verdict, out := lab.run(t, d, f)
			if v := testutil.VerdictName(verdict); v != "XDP_TX" {
				t.Fatalf("verdict %s, want XDP_TX", v)
			}
			m, err := findICMP(out)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := icmp.ParseMessage(m.proto, m.raw)
			if err != nil {
				t.Fatal(err)
			}
			_, inL3, err := l3Of(f.In)
			if err != nil {
				t.Fatal(err)
			}
			var got ptb
			got.Src, got.Dst = m.src.String(), m.dst.String()
			got.Type = fmt.Sprint(msg.Type)
			got.Code = msg.Code
			var quote []byte
			switch b := msg.Body.(type) {
			case *icmp.DstUnreach:
				quote = b.Data
				got.MTU = int(binary.BigEndian.Uint16(m.raw[6:])) // RFC 1191: next-hop MTU
			case *icmp.PacketTooBig:
				quote, got.MTU = b.Data, b.MTU
			default:
				t.Fatalf("body %T, want a destination unreachable or packet too big", msg.Body)
			}
			if m.ip4 != nil {
				got.TTL, got.Len = m.ip4.TTL, m.ip4.TotalLen
			} else {
				got.TTL, got.Len = m.ip6.HopLimit, m.ip6.PayloadLen
			}
			got.QuoteLen = len(quote)
			got.QuoteIsPrefix = bytes.HasPrefix(inL3, quote)
			got.MACsSwapped = bytes.Equal(out[:6], f.In[6:12]) && bytes.Equal(out[6:12], f.In[:6])
			got.ChecksumsValid = checkICMP(out) == nil
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("PTB (-want +got):\n%s\nchecksums: %v", diff, checkICMP(out))
			}
		})
	}
}

// icmpFuzzVIP and the other addresses of FuzzICMPError: the client's
// tracked flows are fuzzClient:40000 to each service.
var (
	icmpFuzzVIP    = netip.MustParseAddr("198.18.0.100")
	icmpFuzzVIP6   = netip.MustParseAddr("2001:db8::100")
	icmpFuzzClient = netip.MustParseAddr("198.18.1.10")
	icmpFuzzRouter = netip.MustParseAddr("198.18.0.254")
	icmpFuzzClnt6  = netip.MustParseAddr("2001:db8:1::10")
	icmpFuzzRoutr6 = netip.MustParseAddr("2001:db8::254")
)

// icmpErrorFrame builds the frame of an ICMP (v6 false) or ICMPv6 error of
// type typ from the router to the VIP, quoting quote. The outer headers
// and the ICMP checksum are right, and so is a quoted IPv4 header's
// checksum when the quote holds one whole: only the quote is the fuzzer's.
func icmpErrorFrame(v6 bool, typ byte, quote []byte) []byte {
	msg := append([]byte{typ, 0, 0, 0, 0, 0, 0x05, 0x78}, quote...)
	if !v6 && len(quote) >= ipv4HeaderLen && quote[0]>>4 == 4 {
		if hl := int(quote[0]&0x0f) * 4; hl >= ipv4HeaderLen && hl <= len(quote) {
			q := msg[icmpHeaderLen:]
			q[10], q[11] = 0, 0
			binary.BigEndian.PutUint16(q[10:], ^testutil.OnesSum(q[:hl]))
		}
	}
	frame := []byte{0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0xaa}
	if v6 {
		src, dst := icmpFuzzRoutr6.As16(), icmpFuzzVIP6.As16()
		var pseudo []byte
		pseudo = append(append(pseudo, src[:]...), dst[:]...)
		pseudo = binary.BigEndian.AppendUint32(pseudo, uint32(len(msg)))
		pseudo = append(pseudo, 0, 0, 0, protoICMPv6)
		binary.BigEndian.PutUint16(msg[2:], ^testutil.OnesSum(append(pseudo, msg...)))
		frame = binary.BigEndian.AppendUint16(frame, etherIPv6)
		frame = append(frame, 0x60, 0, 0, 0)
		frame = binary.BigEndian.AppendUint16(frame, uint16(len(msg)))
		frame = append(frame, protoICMPv6, 64)
		frame = append(append(frame, src[:]...), dst[:]...)
		return append(frame, msg...)
	}
	binary.BigEndian.PutUint16(msg[2:], ^testutil.OnesSum(msg))
	src, dst := icmpFuzzRouter.As4(), icmpFuzzVIP.As4()
	ip := []byte{0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 64, protoICMP, 0, 0}
	binary.BigEndian.PutUint16(ip[2:], uint16(ipv4HeaderLen+len(msg)))
	ip = append(append(ip, src[:]...), dst[:]...)
	binary.BigEndian.PutUint16(ip[10:], ^testutil.OnesSum(ip))
	frame = binary.BigEndian.AppendUint16(frame, etherIPv4)
	return append(append(frame, ip...), msg...)
}

// FuzzICMPError feeds ICMP and ICMPv6 errors with fuzzed quotes (truncated
// or odd inner headers, other protocols, fragments) to the VIP, whose
// services (DR port 80, TUN 8080, NAT 8081, IPv4 and IPv6, TCP) each track
// a flow from the client's port 40000, in the NAT lab. Every frame must
// get one of PASS, DROP, TX or REDIRECT; PASS and DROP leave it as it
// came, except an error rewritten for a NAT real that the FIB could not
// route (icmp_pass_route); whatever is forwarded keeps every checksum
// valid (checkICMP), DR changes only the MACs, TUN only adds an outer
// header.
func FuzzICMPError(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		if !isICMP(fx.In) {
			continue
		}
		m, err := findICMP(fx.In)
		if err != nil || len(m.raw) < icmpHeaderLen {
			continue
		}
		f.Add(m.proto == protoICMPv6, m.raw[0], m.raw[icmpHeaderLen:])
	}
	lab := newNATLab(f)
	d := openTest(f, Options{MaxServices: 8, MaxReals: 8})
	if err := d.SetInside(int(lab.ifindex["inside"]), true); err != nil {
		f.Fatal(err)
	}
	for _, r := range []struct {
		id   uint32
		real Real
	}{
		{1, Real{Addr: netip.MustParseAddr("198.18.0.11"), MAC: testMAC, SrcMAC: nodeMAC, Ifindex: int(lab.ifindex["outside"])}},
		{2, Real{Addr: netip.MustParseAddr("2001:db8::11"), MAC: testMAC, SrcMAC: nodeMAC, Ifindex: int(lab.ifindex["outside"])}},
		{3, Real{Addr: netip.MustParseAddr("198.18.2.11"), Port: 8080}},
		{4, Real{Addr: netip.MustParseAddr("2001:db8:2::11"), Port: 8080}},
	} {
		if err := d.PutReal(r.id, r.real); err != nil {
			f.Fatal(err)
		}
	}
	now := MonotonicNow()
	for _, s := range []struct {
		id, real uint32
		port     uint16
		kind     Kind
		v6       bool
	}{
		{1, 1, 80, KindDR, false}, {2, 2, 80, KindDR, true},
		{3, 1, 8080, KindTUN, false}, {4, 2, 8080, KindTUN, true},
		{5, 3, 8081, KindNAT, false}, {6, 4, 8081, KindNAT, true},
	} {
		vip, client, src := icmpFuzzVIP, icmpFuzzClient, netip.MustParseAddr("198.18.0.1")
		if s.v6 {
			vip, client, src = icmpFuzzVIP6, icmpFuzzClnt6, netip.MustParseAddr("2001:db8::1")
		}
		svc := Service{ID: s.id, TableSize: 7, Kind: s.kind}
		if s.kind == KindTUN {
			// An IPv4 tunnel source for the IPv6 real too: drop_tunnel
			// (icmp_drop) is reachable.
			svc.TunnelSrc = netip.MustParseAddr("198.18.0.1")
			if s.v6 {
				svc.TunnelSrc = src
			}
		}
		if err := d.PutService(ServiceKey{Addr: vip, Port: s.port, Proto: unix.IPPROTO_TCP}, svc); err != nil {
			f.Fatal(err)
		}
		if err := d.SwapTable(s.id, []uint32{s.real, s.real, s.real, s.real, s.real, s.real, s.real}); err != nil {
			f.Fatal(err)
		}
		flow := Flow{Src: netip.AddrPortFrom(client, 40000), Dst: netip.AddrPortFrom(vip, s.port), Proto: unix.IPPROTO_TCP}
		putConn(f, d, flow, connValue(f, d, s.real, ConnEstablished, now), 0)
		// Seeds: the reply of each tracked flow, quoted whole.
		f.Add(s.v6, byte(map[bool]byte{false: 3, true: 2}[s.v6]), replyQuote(vip, client, s.port))
	}

	f.Fuzz(func(t *testing.T, v6 bool, typ byte, quote []byte) {
		if len(quote) > maxFuzzFrame-ethHeaderLen-ipv6HeaderLen-icmpHeaderLen {
			return
		}
		in := icmpErrorFrame(v6, typ, quote)
		verdict, out := lab.runFuzz(t, d, in)
		switch v := testutil.VerdictName(verdict); v {
		case "XDP_DROP":
			if !bytes.Equal(in, out) {
				t.Errorf("XDP_DROP changed the frame:\nin  %x\nout %x", in, out)
			}
		case "XDP_PASS":
			if !bytes.Equal(in, out) {
				if err := checkICMP(out); err != nil || len(in) != len(out) {
					t.Errorf("XDP_PASS changed the frame, and not into a valid ICMP error (%v):\nin  %x\nout %x", err, in, out)
				}
			}
		case "XDP_TX", "XDP_REDIRECT":
			if err := checkICMP(out); err != nil {
				t.Errorf("%s: %v:\nin  %x\nout %x", v, err, in, out)
			}
			switch grew := len(out) - len(in); grew {
			case 0: // DR: MACs only; NAT: addresses, ports, TTL, checksums
			case ipv4HeaderLen, ipv6HeaderLen:
				if !bytes.Equal(in[ethHeaderLen:], out[ethHeaderLen+grew:]) {
					t.Errorf("tunnel changed the error:\nin  %x\nout %x", in, out)
				}
			default:
				t.Errorf("frame grew by %d bytes:\nin  %x\nout %x", grew, in, out)
			}
		default:
			t.Errorf("verdict %s, want PASS, DROP, TX or REDIRECT", v)
		}
	})
}

// connValue is a connection table value for real id, fresh at now, of
// the real's current generation.
func connValue(tb testing.TB, d *Dataplane, id uint32, st ConnState, now time.Duration) bpf.XlbConn {
	tb.Helper()
	var r bpf.XlbReal
	if err := d.reals.Lookup(id, &r); err != nil {
		tb.Fatal(err)
	}
	return bpf.XlbConn{RealId: id, RealGen: r.Gen, State: uint8(st), LastSeen: uint64(now.Nanoseconds())}
}

// replyQuote is what a router quotes of a reply of the flow client:40000
// -> vip:port: the IP header and the whole TCP header.
func replyQuote(vip, client netip.Addr, port uint16) []byte {
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:], port)
	binary.BigEndian.PutUint16(tcp[2:], 40000)
	tcp[12], tcp[13] = 0x50, 0x10
	if vip.Is6() {
		s, d := vip.As16(), client.As16()
		h := []byte{0x60, 0, 0, 0, 0, 20, unix.IPPROTO_TCP, 63}
		return append(append(append(h, s[:]...), d[:]...), tcp...)
	}
	s, d := vip.As4(), client.As4()
	h := []byte{0x45, 0, 0, 40, 0, 0, 0x40, 0, 63, unix.IPPROTO_TCP, 0, 0}
	return append(append(append(h, s[:]...), d[:]...), tcp...)
}
