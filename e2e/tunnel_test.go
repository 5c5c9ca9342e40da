package e2e

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"xlb/controlplane/api"
	"xlb/e2e/lab"
)

// Configurations of the TUN and IPv6 tests.
const (
	tunConfig  = "../testdata/e2e/tun.conf"
	tun6Config = "../testdata/e2e/tun6.conf"
	dr6Config  = "../testdata/e2e/dr6.conf"
	udpConfig  = "../testdata/e2e/dr-udp.conf"
)

// checkKind fails unless xlbd serves vip:80 over TCP with kind.
func checkKind(t *testing.T, ctx context.Context, d *lab.Daemon, vip netip.Addr, kind string) {
	t.Helper()
	checkService(t, ctx, d, vip, "tcp", kind)
}

// checkService fails unless xlbd serves just vip:80 over protocol with
// kind and three active reals.
func checkService(t *testing.T, ctx context.Context, d *lab.Daemon, vip netip.Addr, protocol, kind string) {
	t.Helper()
	svcs, err := d.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	svc, ok := lab.FindService(svcs, vip, 80)
	if !ok || len(svcs) != 1 {
		t.Fatalf("services = %+v, want just %s port 80", svcs, vip)
	}
	if svc.Protocol != protocol || svc.Kind != kind || len(svc.Reals) != 3 {
		t.Fatalf("service %s: protocol %q kind %q with %d reals, want %s %s with 3", vip, svc.Protocol, svc.Kind, len(svc.Reals), protocol, kind)
	}
	for _, r := range svc.Reals {
		if r.State != api.RealActive {
			t.Errorf("real %s is %q, want active", r.Address, r.State)
		}
	}
}

// decapCounts reads every real's decapsulator counters.
func decapCounts(t *testing.T, l *lab.Lab) map[string]map[string]uint64 {
	t.Helper()
	out := make(map[string]map[string]uint64, len(l.Reals))
	for _, r := range l.Reals {
		c, err := l.Decap(r.Role)
		if err != nil {
			t.Fatal(err)
		}
		out[r.Role] = c
	}
	return out
}

// checkDecapsulated fails unless each real that answered connections
// counted at least one decapsulated packet per connection under reason
// (each connection sends SYN, request and FIN or ACK through the tunnel),
// and none counted a drop.
func checkDecapsulated(t *testing.T, before, after map[string]map[string]uint64, rep lab.Report, reason string) {
	t.Helper()
	for role, n := range rep.Counts() {
		got := after[role][reason] - before[role][reason]
		if got < uint64(n) {
			t.Errorf("%s answered %d connections but decapsulated %d packets as %s; counters %v", role, n, got, reason, after[role])
		}
	}
	for role, c := range after {
		for name, v := range c {
			if strings.HasPrefix(name, "drop_") && v > before[role][name] {
				t.Errorf("%s's decapsulator dropped %d packets as %s", role, v-before[role][name], name)
			}
		}
	}
}

// largeRequests is how many 64 KiB POSTs checkLarge sends: enough that
// each real gets some (P(a 1/6 real gets none) = (5/6)^30 < 0.5%).
const largeRequests = 30

// checkLarge sends POSTs with 64 KiB bodies to vip:80 from the client,
// each on a new connection: the client's frames are full-sized (1500
// bytes), so in TUN mode they reach the reals only if the encapsulated
// frame fits the lb-real path (see lab's pathMTU). Every real must answer
// some and see the client as from.
func checkLarge(t *testing.T, l *lab.Lab, vip, from netip.Addr) {
	t.Helper()
	seen := map[string]int{}
	for range largeRequests {
		name, peer, err := lab.Post(l.Client, netip.AddrPortFrom(vip, 80), 64<<10, 5*time.Second)
		if err != nil {
			t.Fatalf("POST 64 KiB to %s after %v: %v", vip, seen, err)
		}
		if peer.Addr().Unmap() != from {
			t.Errorf("%s saw the POST from %s, want %s", name, peer, from)
		}
		seen[name]++
	}
	for _, r := range l.Reals {
		if seen[r.Role] == 0 {
			t.Errorf("no 64 KiB POST reached %s: %v", r.Role, seen)
		}
	}
}

// TestTunnel runs the demo's service with lb_kind TUN: xlbd encapsulates
// each client packet in IPv4 (IPIP) to the real, whose XDP decapsulator
// strips the outer header; the real answers the client directly. It
// checks the 3:2:1 spread, that reals saw the client's own address (the
// inner header is the client's), and the decapsulators' counters.
func TestTunnel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, d := startLabWith(t, ctx, lab.TUN, tunConfig)
	checkKind(t, ctx, d, lab.VIP, "TUN")
	before := decapCounts(t, l)
	rep := measureVIP(t, ctx, l, d, lab.VIP, lab.ClientAddr)
	after := decapCounts(t, l)
	t.Logf("decapsulator counters: %v", after)
	checkDecapsulated(t, before, after, rep, "decap_ipip")
	checkLarge(t, l, lab.VIP, lab.ClientAddr)
	checkTeardown(t, l)
}

// checkTeardown closes l early and checks that no decapsulator pin and
// no namespace of it is left.
func checkTeardown(t *testing.T, l *lab.Lab) {
	t.Helper()
	trs, names := l.TunReals(), l.Namespaces()
	if len(trs) != len(l.Reals) {
		t.Errorf("lab has %d TUN reals, want %d", len(trs), len(l.Reals))
	}
	if err := l.Close(); err != nil {
		t.Fatalf("close lab: %v", err)
	}
	for _, tr := range trs {
		if _, err := os.Stat(tr.PinDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s's decapsulator pins %s survived Close (stat: %v)", tr.Role, tr.PinDir, err)
		}
	}
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	for _, ns := range names {
		if strings.Contains(string(out), ns) {
			t.Errorf("namespace %s survived Close", ns)
		}
	}
}

// TestTunnelIPv6 is TestTunnel for an IPv6 VIP and IPv6 reals: IPv6 in
// IPv6.
func TestTunnelIPv6(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, d := startLabWith(t, ctx, lab.TUN, tun6Config)
	checkKind(t, ctx, d, lab.VIP6, "TUN")
	before := decapCounts(t, l)
	rep := measureVIP(t, ctx, l, d, lab.VIP6, lab.ClientAddr6)
	after := decapCounts(t, l)
	t.Logf("decapsulator counters: %v", after)
	checkDecapsulated(t, before, after, rep, "decap_ip6ip6")
	checkLarge(t, l, lab.VIP6, lab.ClientAddr6)
}

// TestIPv6DR serves an IPv6 VIP with direct routing: the client connects
// from its IPv6 address, xlbd spreads 3:2:1 by rewriting the Ethernet
// destination, and the reals (VIP6 on lo) see the client's own address.
func TestIPv6DR(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, d := startLabWith(t, ctx, lab.DR, dr6Config)
	checkKind(t, ctx, d, lab.VIP6, "DR")
	measureVIP(t, ctx, l, d, lab.VIP6, lab.ClientAddr6)
	checkLarge(t, l, lab.VIP6, lab.ClientAddr6)
}

// TestUDPDR serves a UDP service with direct routing: each datagram from
// a new client socket is a new flow, spread 3:2:1, and the reals' answers
// name the client's own address and port.
func TestUDPDR(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, d := startLabWith(t, ctx, lab.DR, udpConfig)
	checkService(t, ctx, d, lab.VIP, "udp", "DR")
	measureWith(t, ctx, l, d, lab.VIP, lab.ClientAddr, func() (lab.Report, error) {
		return lab.UDPRound(l.Client, netip.AddrPortFrom(lab.VIP, 80), connections, 2*time.Second)
	})
}
