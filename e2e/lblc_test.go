package e2e

import (
	"context"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"xlb/controlplane/api"
	"xlb/e2e/lab"
)

// TestLBLCSticks serves the demo's service under lb_algo lblc through
// xlbd: xlbctl shows lblc served as such; one connection at a time never
// overloads a real, so every connection to the VIP meets the real the
// locality table recorded for it, and explain says the table decides; a
// weight of 0 on that real moves the destination to another, where it
// stays again.
func TestLBLCSticks(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	l, d := startLabWith(t, ctx, lab.DR, "../testdata/e2e/lblc.conf")

	svcs, err := d.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	svc, ok := lab.FindService(svcs, lab.VIP, 80)
	if !ok || svc.Scheduler != "lblc" || svc.ServedBy != "lblc" {
		t.Fatalf("service %+v (found %v): want lblc served as lblc", svc, ok)
	}
	// round sends n connections, one at a time, and returns the one server
	// that answered them all.
	round := func(n int) string {
		t.Helper()
		rep, err := l.Measure(ctx, bin.xlblab, lab.ClientOptions{
			URL: "http://" + netip.AddrPortFrom(lab.VIP, 80).String() + "/", Count: n, Parallel: 1, Timeout: 60 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		counts := rep.Counts()
		if rep.OK() != n || len(counts) != 1 {
			t.Fatalf("%d of %d connections answered by %v (first error %q): want all by one real", rep.OK(), n, counts, rep.FirstError)
		}
		for name := range counts {
			return name
		}
		return ""
	}
	first := round(100)

	res, err := d.Ctl(ctx, "explain", service, netip.AddrPortFrom(lab.ClientAddr, 55555).String(), "-o", "json")
	if err != nil || res.Code != 0 {
		t.Fatalf("xlbctl explain: %v (exit %d): %s", err, res.Code, res.Stderr)
	}
	var e api.Explanation
	if err := json.Unmarshal([]byte(res.Stdout), &e); err != nil {
		t.Fatalf("decode xlbctl explain: %v\n%s", err, res.Stdout)
	}
	real, err := netip.ParseAddrPort(e.Real)
	if err != nil {
		t.Fatalf("explain names real %q: %v (%+v)", e.Real, err, e)
	}
	n, ok := l.Real(real.Addr())
	if e.DecidedBy != "locality table" || !ok || n.Role != first {
		t.Errorf("explain = %+v, want the locality table deciding for %s", e, first)
	}

	// Quiesced: the entry's real leaves the list, wlc picks another.
	if err := d.SetWeight(ctx, service, real, 0); err != nil {
		t.Fatal(err)
	}
	second := round(50)
	t.Logf("100 connections all to %s (explain: %s by the %s); after its weight went to 0, 50 all to %s", first, e.Real, e.DecidedBy, second)
	if second == first {
		t.Errorf("after weight 0 on %s (%s), connections still went there", real, first)
	}
}
