package e2e

import (
	"context"
	"math"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"xlb/e2e/lab"
)

// Configurations of the full-NAT tests.
const (
	fnatConfig    = "../testdata/e2e/fnat.conf"
	fnat6Config   = "../testdata/e2e/fnat6.conf"
	fnatUDPConfig = "../testdata/e2e/fnat-udp.conf"
)

// The local addresses of the configurations' local_address_group, on the
// reals' segment (lab.InsideSubnet, lab.InsideSubnet6).
var (
	fnatLocal4 = []netip.Addr{netip.MustParseAddr("198.19.0.200"), netip.MustParseAddr("198.19.0.201")}
	fnatLocal6 = []netip.Addr{netip.MustParseAddr("2001:db8:19::200")}
	// fnatPortMin and fnatPortMax are fnat.conf's port_range.
	fnatPortMin, fnatPortMax uint16 = 20000, 29999
)

// startFNATLab builds a NAT lab and makes it a full-NAT one: the reals
// lose their default routes (they reach their own segment only, not the
// client), and the load balancer's inside interface eth1 gets the local
// addresses, so the kernel answers the reals' ARP and ND for them. Then
// it runs xlbd on both of the load balancer's interfaces with config.
func startFNATLab(t *testing.T, ctx context.Context, config string) (*lab.Lab, *lab.Daemon) {
	t.Helper()
	l := newLab(t, ctx, "xf-", lab.Options{Mode: lab.NAT})
	var steps [][]string
	for _, r := range l.Reals {
		steps = append(steps,
			[]string{"ip", "-n", r.NS, "route", "del", "default"},
			[]string{"ip", "-n", r.NS, "-6", "route", "del", "default"})
	}
	for _, a := range fnatLocal4 {
		steps = append(steps, []string{"ip", "-n", l.LB.NS, "addr", "add", netip.PrefixFrom(a, 32).String(), "dev", "eth1"})
	}
	for _, a := range fnatLocal6 {
		steps = append(steps, []string{"ip", "-n", l.LB.NS, "addr", "add", netip.PrefixFrom(a, 128).String(), "dev", "eth1", "nodad"})
	}
	for _, s := range steps {
		if out, err := exec.CommandContext(ctx, s[0], s[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	// The premise: a real cannot reach the client by itself.
	for _, r := range l.Reals {
		out, err := exec.CommandContext(ctx, "ip", "-n", r.NS, "route", "get", lab.ClientAddr.String()).CombinedOutput()
		if err == nil {
			t.Fatalf("real %s has a route to the client: %s", r.Role, out)
		}
	}
	d := startNATDaemon(t, ctx, l, config)
	tail := d.Tail(200)
	if !strings.Contains(tail, "interface faces full-NAT reals") || !strings.Contains(tail, "eth1") {
		t.Errorf("xlbd did not mark eth1 as facing the full-NAT reals:\n%s", tail)
	}
	if strings.Contains(tail, "local address is not on this node") {
		t.Errorf("xlbd says a local address is missing:\n%s", tail)
	}
	return l, d
}

// checkFNATRound checks rep, a round of connections to vip:80 (service
// of lab l, weights as xlbd reports them now): every connection answered,
// spread by weight within ±maxZ, and every real saw only local addresses
// (never the client), with ports other than the client's.
func checkFNATRound(t *testing.T, ctx context.Context, l *lab.Lab, d *lab.Daemon, vip netip.Addr, local []netip.Addr, rep lab.Report) {
	t.Helper()
	svcs, err := d.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	svc, ok := lab.FindService(svcs, vip, 80)
	if !ok {
		t.Fatalf("xlbctl services lists no %s port 80: %+v", vip, svcs)
	}
	weights, names, err := l.Weights(svc)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors > 0 || rep.OK() != connections {
		t.Errorf("%d of %d connections answered, %d failed; first error: %s", rep.OK(), connections, rep.Errors, rep.FirstError)
	}
	rows := lab.Compare(weights, names, rep.Counts())
	var table strings.Builder
	lab.WriteTable(&table, rows)
	t.Logf("lab %s, %s, %d ms:\n%s", l.Name, rep.URL, rep.ElapsedMS, table.String())
	for _, r := range rows {
		if math.Abs(r.Z) > maxZ {
			t.Errorf("%s: %d connections, want about %.0f (weight %d): z %+.2f beyond ±%.0f",
				r.Name, r.Count, r.P*float64(rep.OK()), r.Weight, r.Z, maxZ)
		}
	}
	for name, s := range rep.Servers {
		for _, p := range s.Peers {
			if !slices.Contains(local, p) {
				t.Errorf("%s saw client %s, want only the local addresses %v", name, p, local)
			}
		}
		if s.Translated != s.Count {
			t.Errorf("%s: %d of %d requests came from the client's own address and port, want none", name, s.Count-s.Translated, s.Count)
		}
	}
}

// TestFNAT serves the demo's weights with lb_kind FNAT to reals that have
// no route to the client: every HTTP connection must be answered (the
// replies went to a local address of the load balancer, which rewrote
// them back to VIP:80 and the client), spread 3:2:1, and no real may see
// the client's address. Full-sized segments both ways check the
// incremental checksums of both rewrites.
func TestFNAT(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	l, d := startFNATLab(t, ctx, fnatConfig)
	checkService(t, ctx, d, lab.VIP, "tcp", "FNAT")
	rep, err := l.Measure(ctx, bin.xlblab, lab.ClientOptions{
		URL: "http://" + netip.AddrPortFrom(lab.VIP, 80).String() + "/", Count: connections, Timeout: 40 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkFNATRound(t, ctx, l, d, lab.VIP, fnatLocal4, rep)
	checkNATCounters(t, ctx, l, d, lab.VIP, rep)
	for range largeRequests / 3 {
		name, peer, err := lab.Post(l.Client, netip.AddrPortFrom(lab.VIP, 80), 64<<10, 5*time.Second)
		if err != nil {
			t.Fatalf("POST 64 KiB to %s: %v", lab.VIP, err)
		}
		if !slices.Contains(fnatLocal4, peer.Addr().Unmap()) || peer.Port() < fnatPortMin || peer.Port() > fnatPortMax {
			t.Errorf("%s saw the POST from %s, want a local address %v and a port of the group's port_range %d-%d",
				name, peer, fnatLocal4, fnatPortMin, fnatPortMax)
		}
	}
}

// TestFNATIPv6 is TestFNAT for an IPv6 VIP, IPv6 reals and the group's
// IPv6 local address.
func TestFNATIPv6(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	l, d := startFNATLab(t, ctx, fnat6Config)
	checkService(t, ctx, d, lab.VIP6, "tcp", "FNAT")
	rep, err := l.Measure(ctx, bin.xlblab, lab.ClientOptions{
		URL: "http://" + netip.AddrPortFrom(lab.VIP6, 80).String() + "/", Count: connections, Timeout: 40 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkFNATRound(t, ctx, l, d, lab.VIP6, fnatLocal6, rep)
	checkNATCounters(t, ctx, l, d, lab.VIP6, rep)
}

// TestFNATUDP serves a UDP echo service with lb_kind FNAT: each datagram
// from a new client socket is a new flow with a local address and port
// of its own; the answer must come back from VIP:80 (the client's
// connected socket takes nothing else), and the real must have seen a
// local address.
func TestFNATUDP(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	l, d := startFNATLab(t, ctx, fnatUDPConfig)
	checkService(t, ctx, d, lab.VIP, "udp", "FNAT")
	rep, err := lab.UDPRound(l.Client, netip.AddrPortFrom(lab.VIP, 80), connections, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	checkFNATRound(t, ctx, l, d, lab.VIP, fnatLocal4, rep)
	checkNATCounters(t, ctx, l, d, lab.VIP, rep)
}
