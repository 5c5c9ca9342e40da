package e2e

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"xlb/controlplane/api"
	"xlb/e2e/lab"
)

// The HA lab's configurations: the master runs on lb, the backup on lb2;
// every one has vrrp_instance VI_1 (VRID 51, VRRPv2, advert_int 1) for the
// VIP, and xlbd's also the DR service on it.
const (
	kaMasterConf   = "../testdata/e2e/vrrp-ka-master.conf"
	kaBackupConf   = "../testdata/e2e/vrrp-ka-backup.conf"
	xlbdMasterConf = "../testdata/e2e/vrrp-xlbd-master.conf"
	xlbdBackupConf = "../testdata/e2e/vrrp-xlbd-backup.conf"
	instance       = "VI_1"
	masterPrio     = 150
	backupPrio     = 100
	advert         = time.Second
)

// skew is RFC 3768 section 6.1's Skew_Time of the backup: (256 -
// priority) / 256 seconds.
const skew = time.Duration(256-backupPrio) * time.Second / 256

// masterDown is the backup's Master_Down_Interval (RFC 3768 section 6.1).
const masterDown = 3*advert + skew

var vipURL = "http://" + netip.AddrPortFrom(lab.VIP, 80).String() + "/"

// startHALab builds a DR lab without the VIP on lb, with a second load
// balancer lb2 and the reals' servers running; no daemon yet.
func startHALab(t *testing.T, ctx context.Context) (*lab.Lab, lab.Node) {
	t.Helper()
	l := newLab(t, ctx, "xlbh-", lab.Options{NoVIP: true})
	lb2, err := l.AddLB(ctx, "lb2")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.StartServers(ctx, bin.xlblab); err != nil {
		t.Fatal(err)
	}
	return l, lb2
}

// startXLBD runs xlbd with config in node n; on failure the test shows
// the tail of its log.
func startXLBD(t *testing.T, ctx context.Context, l *lab.Lab, n lab.Node, config string) *lab.Daemon {
	t.Helper()
	d, err := l.StartDaemonOn(ctx, n, lab.DaemonOptions{XLBD: bin.xlbd, XLBCtl: bin.xlbctl, Config: config})
	if err != nil {
		t.Fatal(err) // the error carries the log tail
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log (last 40 lines):\n%s", d.Proc.Name, d.Tail(40))
		}
	})
	return d
}

// startKeepalived runs keepalived with config in node n; on failure the
// test shows its log.
func startKeepalived(t *testing.T, l *lab.Lab, n lab.Node, config string) *lab.Proc {
	t.Helper()
	p, err := l.StartKeepalived(n, config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log (last 40 lines):\n%s", p.Name, p.Tail(40))
		}
	})
	return p
}

// waitHolds waits up to 5 s for node n to hold (or not) the VIP on eth0.
func waitHolds(t *testing.T, ctx context.Context, n lab.Node, want bool) {
	t.Helper()
	var got bool
	for range 250 {
		var err error
		if got, err = lab.Holds(ctx, n, lab.VIP); err != nil {
			t.Fatal(err)
		}
		if got == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s holds the VIP %v: got %v, want %v", n.Role, lab.VIP, got, want)
}

// waitClientReaches waits up to 5 s for the client's neighbour entry for
// the VIP to carry n's MAC, sending a request now and then so that the
// client resolves the VIP if it has no entry.
func waitClientReaches(t *testing.T, ctx context.Context, l *lab.Lab, n lab.Node) {
	t.Helper()
	var got net.HardwareAddr
	for i := range 100 {
		if i%10 == 0 {
			// Only the resolution matters here, not the answer.
			_ = lab.Dial(l.Client, netip.AddrPortFrom(lab.VIP, 80), 200*time.Millisecond)
		}
		var err error
		if got, err = lab.NeighMAC(ctx, l.Client, lab.VIP); err != nil {
			t.Fatal(err)
		}
		if got.String() == n.MAC.String() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("client's neighbour entry for %v: got %v, want %s's %v", lab.VIP, got, n.Role, n.MAC)
}

// requireAnswered sends a few requests from the client to the VIP and
// requires each to be answered by a real.
func requireAnswered(t *testing.T, ctx context.Context, l *lab.Lab) {
	t.Helper()
	const n = 30
	rep, err := l.Measure(ctx, bin.xlblab, lab.ClientOptions{URL: vipURL, Count: n, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() != n || rep.Errors > 0 {
		t.Fatalf("%d of %d requests to the VIP answered, %d failed; first error: %s", rep.OK(), n, rep.Errors, rep.FirstError)
	}
}

// isBackupUnder returns a check for an instance that is BACKUP under
// master at priority prio.
func isBackupUnder(master netip.Addr, prio int) func(api.VRRPInstance) bool {
	return func(in api.VRRPInstance) bool {
		return in.State == "BACKUP" && in.Master == master.String() && in.MasterPriority == prio
	}
}

func isMaster(in api.VRRPInstance) bool { return in.State == "MASTER" }

// TestVRRPKeepalivedMasterXlbdBackup runs keepalived as the master on lb
// and xlbd as its backup on lb2: xlbd hears keepalived, and when
// keepalived crashes takes over after Master_Down_Interval, holds the
// VIP, moves the client's ARP entry to lb2 with its gratuitous ARP, and
// balances the client's requests.
func TestVRRPKeepalivedMasterXlbdBackup(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l, lb2 := startHALab(t, ctx)

	ka := startKeepalived(t, l, l.LB, kaMasterConf)
	if err := ka.WaitLog(ctx, "Entering MASTER STATE", 1, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	waitHolds(t, ctx, l.LB, true)
	waitClientReaches(t, ctx, l, l.LB)

	d := startXLBD(t, ctx, l, lb2, xlbdBackupConf)
	if in, err := d.WaitInstance(ctx, instance, 10*time.Second, isBackupUnder(lab.LBAddr, masterPrio)); err != nil {
		t.Fatalf("xlbd on lb2: %v; last status %+v", err, in)
	}
	res, err := d.Ctl(ctx, "vrrp")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^VI_1 +51 +eth0 +BACKUP +100 +198\.18\.0\.2 \(150\) +198\.18\.0\.100(/32)? `)
	if res.Code != 0 || !line.MatchString(res.Stdout) {
		t.Errorf("xlbctl vrrp: exit %d, want 0 and a line matching %s; got:\n%s%s", res.Code, line, res.Stdout, res.Stderr)
	}
	// Past Master_Down_Interval xlbd is still backup: it kept hearing
	// keepalived, not just the first advert.
	time.Sleep(masterDown + 500*time.Millisecond)
	if in, err := d.WaitInstance(ctx, instance, time.Second, isBackupUnder(lab.LBAddr, masterPrio)); err != nil {
		t.Fatalf("xlbd on lb2 after %v: %v; last status %+v", masterDown, err, in)
	}

	if err := ka.Crash(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	in, err := d.WaitInstance(ctx, instance, masterDown+5*time.Second, isMaster)
	took := time.Since(killed)
	if err != nil {
		t.Fatalf("xlbd on lb2 after keepalived's crash: %v; last status %+v", err, in)
	}
	t.Logf("xlbd took over %v after keepalived's crash (Master_Down_Interval %v)", took, masterDown)
	// The last advert came at most one interval before the crash.
	if took < masterDown-advert-100*time.Millisecond {
		t.Errorf("xlbd took over %v after the crash, before Master_Down_Interval could end", took)
	}
	if in.Master != lab.LB2Addr.String() {
		t.Errorf("xlbd is MASTER but reports master %q, want its own %v", in.Master, lab.LB2Addr)
	}
	waitHolds(t, ctx, lb2, true)
	// The client's entry still points at lb, which holds the VIP after
	// the crash as well (LAB-NOTES); only xlbd's gratuitous ARP moves it.
	waitClientReaches(t, ctx, l, lb2)
	requireAnswered(t, ctx, l)
}

// TestVRRPXlbdMasterKeepalivedBackup runs xlbd as the master on lb and
// keepalived as its backup on lb2, where a second xlbd runs the data
// plane alone. Stopping xlbd gracefully (priority 0) hands the VIP to
// keepalived in about a skew time; started again, xlbd preempts it with
// its higher priority and takes the VIP back.
func TestVRRPXlbdMasterKeepalivedBackup(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l, lb2 := startHALab(t, ctx)

	d := startXLBD(t, ctx, l, l.LB, xlbdMasterConf)
	if in, err := d.WaitInstance(ctx, instance, 10*time.Second, isMaster); err != nil {
		t.Fatalf("xlbd on lb: %v; last status %+v", err, in)
	}
	waitHolds(t, ctx, l.LB, true)
	waitClientReaches(t, ctx, l, l.LB)
	requireAnswered(t, ctx, l)

	startXLBD(t, ctx, l, lb2, demoConfig) // the data plane, no VRRP
	ka := startKeepalived(t, l, lb2, kaBackupConf)
	if err := ka.WaitLog(ctx, "Entering BACKUP STATE", 1, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	// Past keepalived's Master_Down_Interval: had it not heard xlbd, it
	// would be master by now.
	time.Sleep(masterDown + 500*time.Millisecond)
	if err := ka.WaitLog(ctx, "Entering MASTER STATE", 1, 0); err == nil {
		t.Fatal("keepalived became master while xlbd was")
	}

	stopped := time.Now()
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := ka.WaitLog(ctx, "Entering MASTER STATE", 1, masterDown+5*time.Second); err != nil {
		t.Fatal(err)
	}
	took := time.Since(stopped)
	t.Logf("keepalived took over %v after xlbd's SIGTERM (skew time %v, Master_Down_Interval %v)", took, skew, masterDown)
	// Without the priority 0 advert keepalived would wait at least
	// Master_Down_Interval less the one advert interval since the last.
	if took >= masterDown-advert {
		t.Errorf("keepalived took over %v after xlbd's SIGTERM: no faster than without a priority 0 advert", took)
	}
	waitHolds(t, ctx, lb2, true)
	waitHolds(t, ctx, l.LB, false)
	waitClientReaches(t, ctx, l, lb2)
	requireAnswered(t, ctx, l)

	// xlbd again, priority 150 over keepalived's 100, preempts.
	d = startXLBD(t, ctx, l, l.LB, xlbdMasterConf)
	if in, err := d.WaitInstance(ctx, instance, masterDown+5*time.Second, isMaster); err != nil {
		t.Fatalf("xlbd on lb, started again: %v; last status %+v", err, in)
	}
	if err := ka.WaitLog(ctx, "Entering BACKUP STATE", 2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	waitHolds(t, ctx, l.LB, true)
	waitHolds(t, ctx, lb2, false)
	waitClientReaches(t, ctx, l, l.LB)
	requireAnswered(t, ctx, l)
}

// TestVRRPUnicastV3 runs two xlbd as a VRRPv3 pair that advertise every
// 100 ms by unicast only: the backup hears the master, the segment sees no
// multicast advert, and when the master crashes the backup takes over,
// holds the VIP and the client's requests go through it.
func TestVRRPUnicastV3(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l, lb2 := startHALab(t, ctx)

	m := startXLBD(t, ctx, l, l.LB, "../testdata/e2e/vrrp3-unicast-master.conf")
	if in, err := m.WaitInstance(ctx, instance, 10*time.Second, isMaster); err != nil {
		t.Fatalf("xlbd on lb: %v; last status %+v", err, in)
	}
	b := startXLBD(t, ctx, l, lb2, "../testdata/e2e/vrrp3-unicast-backup.conf")
	if in, err := b.WaitInstance(ctx, instance, 10*time.Second, isBackupUnder(lab.LBAddr, masterPrio)); err != nil {
		t.Fatalf("xlbd on lb2: %v; last status %+v", err, in)
	}
	waitHolds(t, ctx, l.LB, true)
	waitClientReaches(t, ctx, l, l.LB)
	requireAnswered(t, ctx, l)

	// The client's port gets every multicast frame the bridge floods; in
	// 1.5 s a multicast speaker would send 15 adverts. The unicast ones
	// go to lb2's port alone once the bridge has learnt its MAC.
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", l.Client.NS,
		"timeout", "1.5", "tcpdump", "-n", "-l", "-p", "-i", "eth0", "ip proto 112").Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 124) { // 124: timeout ended it
		t.Fatalf("tcpdump in the client: %v", err)
	}
	if strings.TrimSpace(string(out)) != "" {
		t.Errorf("the client saw VRRP adverts, want none with unicast:\n%s", out)
	}
	if in, err := b.WaitInstance(ctx, instance, time.Second, isBackupUnder(lab.LBAddr, masterPrio)); err != nil {
		t.Fatalf("xlbd on lb2 after 1.5 s: %v; last status %+v", err, in)
	}

	if err := m.Proc.Crash(); err != nil {
		t.Fatal(err)
	}
	if in, err := b.WaitInstance(ctx, instance, 5*time.Second, isMaster); err != nil {
		t.Fatalf("xlbd on lb2 after the master's crash: %v; last status %+v", err, in)
	}
	waitHolds(t, ctx, lb2, true)
	waitClientReaches(t, ctx, l, lb2)
	requireAnswered(t, ctx, l)
}
