package e2e

import (
	"context"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"xlb/e2e/lab"
)

const persistConfig = "../testdata/e2e/persist.conf"

// persistConns is how many connections each client makes: under rr
// without persistence 20 connections over 3 reals all landing on one has
// probability 3 × 3^-20 (below 1e-8).
const persistConns = 20

// TestPersistence serves a persistent DR service with lb_algo rr over
// three reals (persist.conf): persistenceConns connections from the
// client all land on one real, and so do those from a second client
// address in the same /24 (persistence_granularity 255.255.255.0); xlbctl
// services says persistent, and explain names the template.
func TestPersistence(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	l, d := startLabNamed(t, ctx, "xp-", lab.DR, persistConfig)

	svcs, err := d.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	svc, ok := lab.FindService(svcs, lab.VIP, 80)
	if !ok || svc.PersistenceS != 60 || svc.PersistenceGranularity != 24 || svc.Status != "active" {
		t.Fatalf("service %s:80 = %+v, want active, persistent 60 s by /24", lab.VIP, svc)
	}

	// A second client address in the client's /24.
	second := netip.MustParseAddr("198.18.0.20")
	if out, err := exec.CommandContext(ctx, "ip", "-n", l.Client.NS, "addr", "add", second.String()+"/24", "dev", "eth0").CombinedOutput(); err != nil {
		t.Fatalf("add %s to the client: %v: %s", second, err, out)
	}

	vip := netip.AddrPortFrom(lab.VIP, 80)
	seen := map[netip.Addr]map[string]int{}
	for _, src := range []netip.Addr{lab.ClientAddr, second} {
		seen[src] = map[string]int{}
		for i := range persistConns {
			name, peer, err := lab.GetFrom(l.Client, src, vip, 5*time.Second)
			if err != nil {
				t.Fatalf("connection %d from %s: %v (so far %v)", i, src, err, seen)
			}
			if peer.Addr().Unmap() != src {
				t.Errorf("%s saw the client as %s, want %s", name, peer, src)
			}
			seen[src][name]++
		}
	}
	t.Logf("answers by client address: %v", seen)
	var first string
	for name := range seen[lab.ClientAddr] {
		first = name
	}
	for src, names := range seen {
		if len(names) != 1 || names[first] != persistConns {
			t.Errorf("connections from %s went to %v, want all %d to %s (the real of the client's /24)", src, names, persistConns, first)
		}
	}

	res, err := d.Ctl(ctx, "services")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Stdout, "rr persistent 60 mask 255.255.255.0") {
		t.Errorf("xlbctl services does not say the service is persistent:\n%s", res.Stdout)
	}
	res, err = d.Ctl(ctx, "explain", vip.String()+"/tcp", netip.AddrPortFrom(netip.MustParseAddr("198.18.0.99"), 50000).String())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Stdout, "decided by the persistence template") || !strings.Contains(res.Stdout, "persistence template: 198.18.0.0 ->") {
		t.Errorf("xlbctl explain for a new client of the /24 does not name the template:\n%s", res.Stdout)
	}
}
