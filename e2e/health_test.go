package e2e

import (
	"context"
	"errors"
	"fmt"
	"github.com/google/go-cmp/cmp"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xlb/controlplane/api"
	"xlb/e2e/lab"
	"xlb/internal/testutil"
)

// Configurations of the health-check tests. The misc and quorum ones are
// templates: the test puts its own directory in place of @DIR@.
const (
	healthHTTPConfig    = "../testdata/e2e/health-http.conf"
	healthInhibitConfig = "../testdata/e2e/health-inhibit.conf"
	healthMiscConfig    = "../testdata/e2e/health-misc.conf"
	healthQuorumConfig  = "../testdata/e2e/health-quorum.conf"
	healthAlphaConfig   = "../testdata/e2e/health-alpha.conf"
	healthRiseConfig    = "../testdata/e2e/health-rise.conf"
)

// The checkers' schedule in those configurations, and the bounds issue 7
// sets on it.
const (
	delayLoop      = time.Second // delay_loop 1
	checkRetry     = 1           // retry 1
	connectTimeout = time.Second // connect_timeout 1
	// downWithin is the bound for a real whose server stopped to
	// leave the maps: delay_loop × (retry + 1) + connect_timeout.
	downWithin = delayLoop*(checkRetry+1) + connectTimeout
	// upWithin is the bound for a real whose server is back: one
	// delay_loop, as rise is 1.
	upWithin = delayLoop
	// healthSlack covers the Monitor's 10 % jitter, xlbctl's own run and
	// a 2-core machine that other tests load.
	healthSlack = 3 * time.Second
	// settleWithin bounds the waits the issue gives no figure for
	// (misc_dynamic weights, quorum scripts); they are not timed claims.
	settleWithin = 15 * time.Second
	// pollEvery is how often the waits ask xlbd.
	pollEvery = 100 * time.Millisecond
)

// healthService is the name of the service every health configuration
// checks, as xlbctl checks names it.
var healthService = service

// waitService asks xlbd for the service on the VIP port 80 every
// pollEvery until ok accepts it, and fails the test once within has
// passed, showing the last listing and what was awaited. It returns the
// service and how long the wait took.
func waitService(t *testing.T, ctx context.Context, d *lab.Daemon, within time.Duration, what string, ok func(api.Service) bool) (api.Service, time.Duration) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	var last api.Service
	var lastErr error
	for {
		svcs, err := d.Services(ctx)
		if err == nil {
			svc, found := lab.FindService(svcs, lab.VIP, 80)
			if found && ok(svc) {
				return svc, time.Since(start)
			}
			last, lastErr = svc, nil
			if !found {
				lastErr = fmt.Errorf("xlbctl services lists no %s port 80: %+v", lab.VIP, svcs)
			}
		} else {
			lastErr = err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: not within %v (last error: %v); last listing: %+v", what, within, lastErr, last)
		}
		time.Sleep(pollEvery)
	}
}

// waitReal is waitService for one real, by its lab node.
func waitReal(t *testing.T, ctx context.Context, d *lab.Daemon, node lab.Node, within time.Duration, what string, ok func(api.Real) bool) (api.Real, time.Duration) {
	t.Helper()
	svc, took := waitService(t, ctx, d, within, node.Role+" "+what, func(s api.Service) bool {
		r, found := lab.FindReal(s, node.Addr, 80)
		return found && ok(r)
	})
	r, _ := lab.FindReal(svc, node.Addr, 80)
	return r, took
}

// waitChecked waits until every real's checks have run at least once and
// passed, so a test starts from checks that see the servers up.
func waitChecked(t *testing.T, ctx context.Context, d *lab.Daemon, nodes []lab.Node) {
	t.Helper()
	deadline := time.Now().Add(settleWithin)
	var last api.Checks
	for {
		c, err := d.Checks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		last = c
		up := 0
		for _, n := range nodes {
			r, ok := lab.FindCheckReal(c, healthService, netip.AddrPortFrom(n.Addr, 80))
			if ok && r.Up && len(r.Checks) > 0 && allChecked(r.Checks) {
				up++
			}
		}
		if up == len(nodes) {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("checks of %d reals not all run and up within %v: %+v", len(nodes), settleWithin, last)
		}
		time.Sleep(pollEvery)
	}
}

// allChecked says whether every check has a result and it is up.
func allChecked(cs []api.CheckDetail) bool {
	for _, c := range cs {
		if c.LastCheck == nil || !c.Up {
			return false
		}
	}
	return true
}

// checkOf returns real node's health from `xlbctl checks -o json`.
func checkOf(t *testing.T, ctx context.Context, d *lab.Daemon, node lab.Node) api.CheckReal {
	t.Helper()
	c, err := d.Checks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := lab.FindCheckReal(c, healthService, netip.AddrPortFrom(node.Addr, 80))
	if !ok {
		t.Fatalf("xlbctl checks lists no %s in %s: %+v", node.Addr, healthService, c)
	}
	if len(r.Checks) == 0 {
		t.Fatalf("xlbctl checks lists %s without checks: %+v", node.Addr, r)
	}
	return r
}

// checkStates fails unless each real has the state and effective weight
// in want, by role.
func checkStates(t *testing.T, l *lab.Lab, svc api.Service, want map[string]api.Real) {
	t.Helper()
	for _, r := range svc.Reals {
		node, err := l.RealOf(r)
		if err != nil {
			t.Error(err)
			continue
		}
		w, ok := want[node.Role]
		if !ok {
			t.Errorf("xlbd lists %s (%s), which is not a real of this service", node.Role, r.Address)
			continue
		}
		delete(want, node.Role)
		if r.State != w.State || r.EffectiveWeight != w.EffectiveWeight {
			t.Errorf("%s: state %q effective weight %d (reason %q), want %q with %d",
				node.Role, r.State, r.EffectiveWeight, r.Reason, w.State, w.EffectiveWeight)
		}
	}
	for role := range want {
		t.Errorf("xlbd does not list %s", role)
	}
}

// configFrom writes template with @DIR@ replaced by dir into dir and
// returns the copy's path.
func configFrom(t *testing.T, template, dir string) string {
	t.Helper()
	b, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, filepath.Base(template))
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(b), "@DIR@", dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeScript writes an executable shell script.
func writeScript(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// writeAtomic replaces path's content at once, so a script reading it
// never sees it empty.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestHealthHTTPDown stops a real's web server under an HTTP_GET check:
// the real must leave the data plane within the bound and no new
// connection may reach it; with its server back it must return within one
// delay_loop (plus slack) and take its share again. xlbctl checks shows
// the outage with a reason, and the recovery.
func TestHealthHTTPDown(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	l, d := startLabWith(t, ctx, lab.DR, healthHTTPConfig)
	r1 := l.Reals[0]
	relay := testutil.StartSMTPSink(t, testutil.OpenNS(t, l.LB.NS), "127.0.0.1:2525", &testutil.SMTPSink{})
	waitChecked(t, ctx, d, l.Reals)
	svcs, err := d.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := lab.FindService(svcs, lab.VIP, 80)
	checkStates(t, l, svc, map[string]api.Real{
		"r1": {State: api.RealActive, EffectiveWeight: 3},
		"r2": {State: api.RealActive, EffectiveWeight: 2},
		"r3": {State: api.RealActive, EffectiveWeight: 1},
	})

	if err := l.StopServer(r1); err != nil {
		t.Fatal(err)
	}
	real, took := waitReal(t, ctx, d, r1, downWithin+healthSlack, "down after its server stopped",
		func(r api.Real) bool { return r.State == api.RealDown })
	t.Logf("%s down %v after its server stopped (bound %v + slack %v)", r1.Role, took.Round(time.Millisecond), downWithin, healthSlack)
	if real.EffectiveWeight != 0 || real.Health != "down" || !strings.Contains(real.Reason, "health check failed") {
		t.Errorf("%s while down: effective weight %d, health %q, reason %q; want 0, down, a health check reason",
			r1.Role, real.EffectiveWeight, real.Health, real.Reason)
	}
	c := checkOf(t, ctx, d, r1)
	if c.Up || c.Reason == "" || c.Checks[0].Up || c.Checks[0].Reason == "" || c.Checks[0].ConsecutiveFailures < 1 {
		t.Errorf("xlbctl checks during the outage: %s up %v reason %q, check %+v; want down with a reason and failures counted",
			r1.Role, c.Up, c.Reason, c.Checks[0])
	}
	t.Logf("%s during the outage: %s: %s", r1.Role, c.Checks[0].ID, c.Checks[0].Reason)
	rep := measureVIP(t, ctx, l, d, lab.VIP, lab.ClientAddr) // r1 has p = 0: one connection there is z = +Inf
	if n := rep.Counts()[r1.Role]; n != 0 {
		t.Errorf("%s got %d connections while its server was down", r1.Role, n)
	}

	if err := l.StartServer(ctx, bin.xlblab, r1); err != nil {
		t.Fatal(err)
	}
	real, took = waitReal(t, ctx, d, r1, upWithin+healthSlack, "active after its server came back",
		func(r api.Real) bool { return r.State == api.RealActive })
	t.Logf("%s active %v after its server answered again (bound %v + slack %v)", r1.Role, took.Round(time.Millisecond), upWithin, healthSlack)
	if real.EffectiveWeight != 3 {
		t.Errorf("%s back with effective weight %d, want 3", r1.Role, real.EffectiveWeight)
	}
	rep = measureVIP(t, ctx, l, d, lab.VIP, lab.ClientAddr)
	if rep.Counts()[r1.Role] == 0 {
		t.Errorf("no connection reached %s after it came back", r1.Role)
	}
	c = checkOf(t, ctx, d, r1)
	if !c.Up || !c.Checks[0].Up || !c.Checks[0].LastUp || c.Checks[0].ConsecutiveFailures != 0 {
		t.Errorf("xlbctl checks after recovery: %s up %v, check %+v; want up with 0 consecutive failures", r1.Role, c.Up, c.Checks[0])
	}
	// r1 has smtp_alert: its going down and coming back were mailed (the
	// alerts go from a queue, so allow them a moment), and nothing else.
	want := []string{
		"Subject: [LB1] Realserver 198.18.0.11:80 of virtual server 198.18.0.100:80/tcp - DOWN",
		"Subject: [LB1] Realserver 198.18.0.11:80 of virtual server 198.18.0.100:80/tcp - UP",
	}
	var got []string
	for i := 0; i < 50; i++ {
		got = got[:0]
		for _, m := range relay.Received() {
			for _, line := range strings.Split(m.Data, "\r\n") {
				if strings.HasPrefix(line, "Subject: ") {
					got = append(got, line)
				}
			}
		}
		if len(got) >= len(want) {
			break
		}
		time.Sleep(pollEvery)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("smtp alerts (-want +got):\n%s", diff)
	}
}

// TestHealthRiseFall checks xlb's rise and fall words: r1 (rise 3, fall
// 2) leaves the pool after two failing rounds, within twice the bound of
// one, and returns only after three passing rounds, which cannot take
// less than two delay_loops from the moment its server is back (the
// Monitor's jitter only lengthens waits).
func TestHealthRiseFall(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	l, d := startLabWith(t, ctx, lab.DR, healthRiseConfig)
	r1 := l.Reals[0]
	waitChecked(t, ctx, d, l.Reals[:2])

	if err := l.StopServer(r1); err != nil {
		t.Fatal(err)
	}
	_, took := waitReal(t, ctx, d, r1, 2*downWithin+healthSlack, "down after two failing rounds",
		func(r api.Real) bool { return r.State == api.RealDown })
	t.Logf("%s down %v after its server stopped (fall 2)", r1.Role, took.Round(time.Millisecond))

	const rise = 3
	start := time.Now()
	if err := l.StartServer(ctx, bin.xlblab, r1); err != nil {
		t.Fatal(err)
	}
	waitReal(t, ctx, d, r1, rise*upWithin+healthSlack, "active after three passing rounds",
		func(r api.Real) bool { return r.State == api.RealActive })
	back := time.Since(start)
	t.Logf("%s active %v after its server was restarted (rise %d)", r1.Role, back.Round(time.Millisecond), rise)
	if back < (rise-1)*delayLoop {
		t.Errorf("%s active %v after its server came back, before %d rounds %v apart could pass", r1.Role, back, rise, delayLoop)
	}
}

// TestHealthInhibit is TestHealthHTTPDown with inhibit_on_failure on r1:
// while its server is down r1 stays listed, "out" at effective weight 0,
// and no new connection reaches it.
func TestHealthInhibit(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	l, d := startLabWith(t, ctx, lab.DR, healthInhibitConfig)
	r1 := l.Reals[0]
	waitChecked(t, ctx, d, l.Reals)

	if err := l.StopServer(r1); err != nil {
		t.Fatal(err)
	}
	real, took := waitReal(t, ctx, d, r1, downWithin+healthSlack, "out after its server stopped",
		func(r api.Real) bool { return r.Health == "down" })
	t.Logf("%s failed %v after its server stopped", r1.Role, took.Round(time.Millisecond))
	if real.State != api.RealOut || real.EffectiveWeight != 0 || real.Weight != 3 || !strings.Contains(real.Reason, "inhibit_on_failure") {
		t.Errorf("inhibited %s: state %q effective weight %d weight %d reason %q; want out at 0, configured 3, an inhibit_on_failure reason",
			r1.Role, real.State, real.EffectiveWeight, real.Weight, real.Reason)
	}
	rep := measureVIP(t, ctx, l, d, lab.VIP, lab.ClientAddr)
	if n := rep.Counts()[r1.Role]; n != 0 {
		t.Errorf("%s got %d new connections while inhibited", r1.Role, n)
	}

	if err := l.StartServer(ctx, bin.xlblab, r1); err != nil {
		t.Fatal(err)
	}
	real, took = waitReal(t, ctx, d, r1, upWithin+healthSlack, "active after its server came back",
		func(r api.Real) bool { return r.State == api.RealActive })
	t.Logf("%s active %v after its server answered again", r1.Role, took.Round(time.Millisecond))
	if real.EffectiveWeight != 3 {
		t.Errorf("%s back with effective weight %d, want 3", r1.Role, real.EffectiveWeight)
	}
}

// TestHealthMiscDynamic drives a MISC_CHECK with misc_dynamic through its
// exit codes: 0 keeps the configured weight, 7 sets weight 5 (code − 2,
// as keepalived), which the client's spread follows, and 1 takes the real
// down.
func TestHealthMiscDynamic(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	code := filepath.Join(dir, "misc.code")
	writeAtomic(t, code, "0\n")
	writeScript(t, filepath.Join(dir, "misc.sh"), "exit \"$(cat "+code+")\"\n")
	l, d := startLabWith(t, ctx, lab.DR, configFrom(t, healthMiscConfig, dir))
	r1 := l.Reals[0]
	waitChecked(t, ctx, d, l.Reals[:1])
	real, _ := waitReal(t, ctx, d, r1, settleWithin, "active at weight 3 with exit 0",
		func(r api.Real) bool { return r.State == api.RealActive })
	if real.EffectiveWeight != 3 {
		t.Errorf("%s with exit 0: effective weight %d, want the configured 3", r1.Role, real.EffectiveWeight)
	}

	writeAtomic(t, code, "7\n")
	real, took := waitReal(t, ctx, d, r1, settleWithin, "at effective weight 5 with exit 7",
		func(r api.Real) bool { return r.EffectiveWeight == 5 })
	t.Logf("%s at weight 5 %v after exit 7", r1.Role, took.Round(time.Millisecond))
	if real.State != api.RealActive || real.DynamicWeight == nil || *real.DynamicWeight != 5 || real.Weight != 3 {
		t.Errorf("%s with exit 7: state %q dynamic weight %v weight %d; want active, dynamic 5, configured 3",
			r1.Role, real.State, ptrString(real.DynamicWeight), real.Weight)
	}
	c := checkOf(t, ctx, d, r1)
	if w := c.Checks[0].DynamicWeight; !c.Up || w == nil || *w != 5 {
		t.Errorf("xlbctl checks with exit 7: %s up %v, dynamic weight %s; want up with 5", r1.Role, c.Up, ptrString(w))
	}
	measureVIP(t, ctx, l, d, lab.VIP, lab.ClientAddr) // 5:2:1 now

	writeAtomic(t, code, "1\n")
	real, took = waitReal(t, ctx, d, r1, settleWithin, "down with exit 1",
		func(r api.Real) bool { return r.State == api.RealDown })
	t.Logf("%s down %v after exit 1", r1.Role, took.Round(time.Millisecond))
	if real.EffectiveWeight != 0 {
		t.Errorf("%s with exit 1: effective weight %d, want 0", r1.Role, real.EffectiveWeight)
	}
}

func ptrString(p *int) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprint(*p)
}

// TestHealthQuorumSorry loses quorum: with r1 (weight 3) down only r2's 2
// is live, below quorum 4, so the sorry_server r3 takes every new flow and
// quorum_down runs; with r1 back quorum returns, the reals take the flows
// again and quorum_up runs.
func TestHealthQuorumSorry(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "quorum.log")
	writeScript(t, filepath.Join(dir, "quorum.sh"), "echo \"$1\" >> "+logPath+"\n")
	l, d := startLabWith(t, ctx, lab.DR, configFrom(t, healthQuorumConfig, dir))
	r1, r3 := l.Reals[0], l.Reals[2]
	sorry := netip.AddrPortFrom(r3.Addr, 80).String()
	waitChecked(t, ctx, d, l.Reals[:2])
	svc, _ := waitService(t, ctx, d, settleWithin, "quorum up", func(s api.Service) bool { return s.QuorumUp })
	if svc.Quorum != 4 || svc.SorryServer != sorry || svc.SorryActive {
		t.Errorf("service at start: quorum %d sorry_server %q sorry_active %v; want 4, %s, false", svc.Quorum, svc.SorryServer, svc.SorryActive, sorry)
	}

	if err := l.StopServer(r1); err != nil {
		t.Fatal(err)
	}
	svc, took := waitService(t, ctx, d, downWithin+healthSlack, "quorum lost and sorry_server active after r1 stopped",
		func(s api.Service) bool { return !s.QuorumUp && s.SorryActive })
	t.Logf("quorum lost %v after %s's server stopped", took.Round(time.Millisecond), r1.Role)
	checkStates(t, l, svc, map[string]api.Real{
		"r1": {State: api.RealDown, EffectiveWeight: 0},
		"r2": {State: api.RealActive, EffectiveWeight: 2},
	})
	rep, err := l.Measure(ctx, bin.xlblab, lab.ClientOptions{
		URL: "http://" + netip.AddrPortFrom(lab.VIP, 80).String() + "/", Count: connections, Timeout: 40 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("without quorum: %v", rep.Counts())
	if rep.Errors > 0 || rep.Counts()[r3.Role] != connections {
		t.Errorf("without quorum %s answered %d of %d connections (all answers %v, %d failed, first error %q); want all",
			r3.Role, rep.Counts()[r3.Role], connections, rep.Counts(), rep.Errors, rep.FirstError)
	}
	waitFile(t, logPath, "down\n")

	if err := l.StartServer(ctx, bin.xlblab, r1); err != nil {
		t.Fatal(err)
	}
	_, took = waitService(t, ctx, d, upWithin+healthSlack, "quorum back after r1 returned",
		func(s api.Service) bool { return s.QuorumUp && !s.SorryActive })
	t.Logf("quorum back %v after %s's server answered again", took.Round(time.Millisecond), r1.Role)
	measureVIP(t, ctx, l, d, lab.VIP, lab.ClientAddr) // r3 is no real: one answer from it is z = +Inf
	waitFile(t, logPath, "down\nup\n")
}

// waitFile waits up to settleWithin for path to hold want exactly, and
// fails with what it holds otherwise.
func waitFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(settleWithin)
	for {
		b, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		if string(b) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %q after %v, want %q", path, b, settleWithin, want)
		}
		time.Sleep(pollEvery)
	}
}

// TestHealthAlpha starts xlbd while r1's server is already stopped and
// r1's check has alpha: r1 starts down, never takes a connection while
// its check fails, and joins once its server answers.
func TestHealthAlpha(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	l, d := startLabWith(t, ctx, lab.DR, healthAlphaConfig, 0)
	r1 := l.Reals[0]
	// From the first listing on, over a few check intervals, r1 must
	// never be anything but down.
	until := time.Now().Add(3 * delayLoop)
	for polls := 0; time.Now().Before(until) || polls == 0; polls++ {
		svcs, err := d.Services(ctx)
		if err != nil {
			t.Fatal(err)
		}
		svc, _ := lab.FindService(svcs, lab.VIP, 80)
		real, ok := lab.FindReal(svc, r1.Addr, 80)
		if !ok || real.State != api.RealDown || real.EffectiveWeight != 0 {
			t.Fatalf("alpha %s with its server stopped, poll %d: %+v (listed %v); want down at weight 0", r1.Role, polls, real, ok)
		}
		time.Sleep(pollEvery)
	}
	rep := measureVIP(t, ctx, l, d, lab.VIP, lab.ClientAddr)
	if n := rep.Counts()[r1.Role]; n != 0 {
		t.Errorf("alpha %s got %d connections before its check passed", r1.Role, n)
	}

	if err := l.StartServer(ctx, bin.xlblab, r1); err != nil {
		t.Fatal(err)
	}
	_, took := waitReal(t, ctx, d, r1, upWithin+healthSlack, "active once its server answered",
		func(r api.Real) bool { return r.State == api.RealActive && r.EffectiveWeight == 3 })
	t.Logf("alpha %s active %v after its server answered", r1.Role, took.Round(time.Millisecond))
}

// TestHealthViaVIP runs TCP_CHECKs through the clients' path (xlbd
// --check-via-vip), in DR (a SYN to the VIP in a frame to the real's MAC)
// and TUN (the SYN in IP-in-IP to the real): a real whose server still
// answers on its own address but which lost the VIP from lo goes down,
// and comes back with it (its neighbour entry is kept while it is down).
func TestHealthViaVIP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode   lab.Mode
		config string
		via    string // what the check's ID says of the real
	}{
		{lab.DR, "../testdata/e2e/health-viavip.conf", "via "},
		{lab.TUN, "../testdata/e2e/health-viavip-tun.conf", "via tunnel to "},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			t.Parallel()
			testHealthViaVIP(t, tc.mode, tc.config, tc.via)
		})
	}
}

func testHealthViaVIP(t *testing.T, mode lab.Mode, config, via string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	l, plain := startLabWith(t, ctx, mode, config)
	// A second xlbd in the same lb namespace would clash with the first's
	// XDP program: stop the plain one and start one checking via the VIP.
	if err := plain.Stop(); err != nil {
		t.Fatal(err)
	}
	d, err := l.StartDaemonOn(ctx, l.LB, lab.DaemonOptions{XLBD: bin.xlbd, XLBCtl: bin.xlbctl,
		Config: config}, "--check-via-vip")
	if err != nil {
		t.Fatal(err)
	}
	r1 := l.Reals[0]
	c, err := d.Checks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cr, ok := lab.FindCheckReal(c, healthService, netip.AddrPortFrom(r1.Addr, 80)); !ok || len(cr.Checks) != 1 ||
		!strings.Contains(cr.Checks[0].ID, via+r1.Addr.String()) {
		t.Fatalf("r1's checks %+v, want one TCP_CHECK %s%s", cr, via, r1.Addr)
	}
	waitReal(t, ctx, d, r1, settleWithin, "active", func(r api.Real) bool { return r.State == api.RealActive })

	if _, err := exec.CommandContext(ctx, "ip", "-n", r1.NS, "addr", "del", lab.VIP.String()+"/32", "dev", "lo").CombinedOutput(); err != nil {
		t.Fatal(err)
	}
	waitReal(t, ctx, d, r1, downWithin+healthSlack, "down once the VIP left its lo",
		func(r api.Real) bool { return r.State == api.RealDown })
	if out, err := exec.CommandContext(ctx, "ip", "-n", r1.NS, "addr", "add", lab.VIP.String()+"/32", "dev", "lo").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	waitReal(t, ctx, d, r1, upWithin+healthSlack, "active with the VIP back",
		func(r api.Real) bool { return r.State == api.RealActive })
}
