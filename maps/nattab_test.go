package maps

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"xlb/bpf"
	"xlb/internal/testutil"
)

// TestNATSetReplacement checks the NAT reverse tables' sets
// (bpf/nattab.h), for both families, in a reverse table of one set and a
// connection table large enough to keep every flow: ConnWays new NAT flows
// each get a reverse entry; a forward packet that changes a flow's state
// rewrites its entry in place, clearing the cached hop's interface and
// keeping its MACs; one more flow takes the way of oldest last_seen, and
// only that flow's replies lose their entry.
func TestNATSetReplacement(t *testing.T) {
	for _, tc := range []struct {
		name, fixture, client string
	}{
		{"v4", "nat_v4_tcp_forward_resolved", "198.18.1.10"},
		{"v6", "nat_v6_tcp_forward", "2001:db8:1::10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openTest(t, Options{MaxServices: 4, MaxReals: 4, ConnTableSize: 256, ConnTableSize6: 256,
				NATTableSize: ConnWays, NATTableSize6: ConnWays})
			fx := *loadFixtures(t)[tc.fixture]
			// The real's next hop resolved (as DR's: lo), so that no FIB
			// and no lab is needed.
			real := fx.Reals[0]
			real.MAC, real.SrcMAC, real.Ifindex = "02:00:00:00:02:0b", "02:00:00:00:00:02", loIfindex
			fx.Reals = []fixtureReal{real}
			fx.fill(t, d)
			vip := netip.MustParseAddrPort(fx.Services[0].VIP)
			realAt := netip.AddrPortFrom(netip.MustParseAddr(real.Addr), real.Port)
			client := func(i int) netip.AddrPort {
				return netip.AddrPortFrom(netip.MustParseAddr(tc.client), uint16(40000+i))
			}
			reply := func(i int) Flow { return Flow{Src: realAt, Dst: client(i), Proto: unix.IPPROTO_TCP} }
			send := func(frame []byte) {
				t.Helper()
				if v, _ := run(t, d.Program(), frame); testutil.VerdictName(v) != "XDP_TX" {
					t.Fatalf("verdict %s, want XDP_TX (the real is on the ingress interface)", testutil.VerdictName(v))
				}
			}
			lookup := func(i int) (Reply, bool) {
				t.Helper()
				r, ok, err := d.LookupReply(reply(i))
				if err != nil {
					t.Fatal(err)
				}
				return r, ok
			}
			nat, key, err := d.replyKey(reply(0))
			if err != nil {
				t.Fatal(err)
			}
			if nat.sets != 1 {
				t.Fatalf("reverse table of %d sets, want 1", nat.sets)
			}

			for i := range ConnWays {
				send(tcpSYN(client(i), vip))
			}
			for i := range ConnWays {
				if r, ok := lookup(i); !ok || r.VIP != vip || r.RealID != real.ID || r.State != ConnSYN {
					t.Fatalf("flow %d: reply entry %+v (found %v), want VIP %s, real %d, syn", i, r, ok, vip, real.ID)
				}
			}

			// Flow 0 has a cached hop; its ACK (syn -> established)
			// rewrites its entry in place: the hop's interface cleared (the
			// next reply asks the FIB), the MACs left for a reply that
			// read the interface a moment before.
			mac := [6]byte{0x02, 0, 0, 0, 0x09, 0x09}
			nat.modifyReply(t, key, func(v *bpf.XlbNatRev) {
				v.Hop = bpf.XlbNatHop{Ifindex: 7, Dmac: mac, Smac: mac}
				v.HopMtu = 1500
			})
			send(tcpAckFrame(client(0), vip))
			raw, ok, err := nat.lookup(key)
			if err != nil || !ok {
				t.Fatalf("flow 0 after its ACK: found %v (%v)", ok, err)
			}
			if raw.Hop.Ifindex != 0 || raw.Hop.Dmac != mac || raw.State != uint8(ConnEstablished) {
				t.Errorf("flow 0 after its ACK: hop %+v, state %d; want interface 0, MACs %s kept, established",
					raw.Hop, raw.State, net.HardwareAddr(mac[:]))
			}

			// Flow 2 seen longest ago: the next flow takes its way.
			_, key2, _ := d.replyKey(reply(2))
			nat.modifyReply(t, key2, func(v *bpf.XlbNatRev) { v.LastSeen -= uint64(10 * time.Second) })
			send(tcpSYN(client(ConnWays), vip))
			for i := range ConnWays + 1 {
				if _, ok := lookup(i); ok != (i != 2) {
					t.Errorf("flow %d: reply entry found %v, want %v", i, ok, i != 2)
				}
			}
		})
	}
}

// tcpAckFrame is tcpSYN with the ACK flag instead of SYN.
func tcpAckFrame(src, dst netip.AddrPort) []byte {
	frame := tcpSYN(src, dst)
	frame[len(frame)-20+13] = tcpACK
	return frame
}
