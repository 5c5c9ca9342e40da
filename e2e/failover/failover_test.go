package failover

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"xlb/controlplane/api"
	"xlb/e2e/lab"
	"xlb/internal/testutil"
)

// Binaries under test, built once for the package.
var bin struct {
	xlbd, xlbctl, xlblab string
}

func TestMain(m *testing.M) {
	os.Exit(testutil.MainWithBinaries(m, map[string]*string{
		"xlb/cmd/xlbd":       &bin.xlbd,
		"xlb/cmd/xlbctl":     &bin.xlbctl,
		"xlb/e2e/cmd/xlblab": &bin.xlblab,
	}))
}

const (
	testdata = "../../testdata/e2e/"
	// dataPlane is xlbd with the DR service alone, the data plane beside
	// keepalived.
	dataPlane = "../../testdata/demo/keepalived.conf"
	// maxIterations bounds b.N: every iteration builds a lab.
	maxIterations = 20
)

// A version is the VRRP flavour both speakers of a pair run: the
// configurations testdata/e2e/<prefix>-{ka,xlbd}-{master,backup}.conf.
type version struct {
	name   string
	prefix string
	advert time.Duration
}

var versions = []version{
	{name: "v3-advert-100ms", prefix: "vrrp3", advert: 100 * time.Millisecond},
	{name: "v2-advert-1s", prefix: "vrrp", advert: time.Second},
}

// A pair is which VRRP speaker both load balancers run.
type pair struct {
	name string
	// start runs the speaker (and the data plane) on lb as master and on
	// lb2 as backup, returns once both are in their state, and returns
	// what to kill to crash the master node and, where the speaker can
	// tell, when the backup became master.
	start func(b *testing.B, ctx context.Context, l *lab.Lab, lb2 lab.Node, v version) (victims []*lab.Proc, since func() (time.Time, error))
}

var pairs = []pair{
	{name: "xlbd-xlbd", start: startXLBDPair},
	{name: "keepalived-keepalived", start: startKeepalivedPair},
}

// BenchmarkFailover reports failover-ms: the mean time from the SIGKILL of
// the master node's processes until the first of the client's requests to
// the VIP (one started every 10 ms, each with a 200 ms timeout) is
// answered by a real through the backup; and max-failover-ms. Each
// iteration builds a fresh lab; run it with -benchtime Nx.
func BenchmarkFailover(b *testing.B) {
	testutil.RequireRoot(b)
	for _, v := range versions {
		for _, p := range pairs {
			b.Run(p.name+"/"+v.name, func(b *testing.B) {
				if b.N > maxIterations {
					b.Fatalf("b.N %d: each iteration builds a lab; run with -benchtime Nx, N ≤ %d", b.N, maxIterations)
				}
				var took []time.Duration
				for i := range b.N {
					d := failover(b, p, v, i)
					b.Logf("iteration %d: failover %v (Master_Down_Interval %v)", i, d, masterDown(v))
					took = append(took, d)
				}
				var sum time.Duration
				for _, d := range took {
					sum += d
				}
				ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
				b.ReportMetric(0, "ns/op") // the lab's setup, not what is measured
				b.ReportMetric(ms(sum/time.Duration(len(took))), "failover-ms")
				b.ReportMetric(ms(slices.Max(took)), "max-failover-ms")
			})
		}
	}
}

// masterDown is the backup's Master_Down_Interval (RFC 5798 section
// 6.1): three adverts and its skew, (256 - 100) / 256 of one.
func masterDown(v version) time.Duration {
	return 3*v.advert + time.Duration(256-100)*v.advert/256
}

// failover builds a lab, starts pair p's master on lb and backup on lb2,
// crashes the master node and returns how long until the client is
// answered again.
func failover(b *testing.B, p pair, v version, iteration int) time.Duration {
	ctx := b.Context()
	dir, err := os.MkdirTemp("", "xlb-failover-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	var steps strings.Builder
	l, err := lab.New(ctx, lab.Options{
		Name:   testutil.UniqueName("xlbf-"),
		Dir:    dir,
		Logger: slog.New(slog.NewTextHandler(&steps, nil)),
		NoVIP:  true,
	})
	if err != nil {
		b.Fatal(err)
	}
	// Each iteration's lab goes before the next one is built.
	defer func() {
		if err := l.Close(); err != nil {
			b.Errorf("tear down lab %s: %v", l.Name, err)
		}
		if b.Failed() {
			b.Logf("lab steps of iteration %d:\n%s", iteration, steps.String())
		}
	}()
	lb2, err := l.AddLB(ctx, "lb2")
	if err != nil {
		b.Fatal(err)
	}
	if err := l.StartServers(ctx, bin.xlblab); err != nil {
		b.Fatal(err)
	}
	victims, since := p.start(b, ctx, l, lb2, v)
	defer func() {
		if b.Failed() {
			for _, pr := range l.Procs() {
				b.Logf("%s log (last 30 lines):\n%s", pr.Name, pr.Tail(30))
			}
		}
	}()
	vip := netip.AddrPortFrom(lab.VIP, 80)
	if _, _, err := l.Poll(ctx, lab.PollOptions{Target: vip, Within: 10 * time.Second}); err != nil {
		b.Fatalf("before the crash: %v", err)
	}
	requireNeighbour(b, ctx, l, l.LB)
	// The backup has heard the master for a while. The crash falls at a
	// random point between two adverts: the steps before it take about
	// the same time each run, and would otherwise fix its phase.
	time.Sleep(2*v.advert + rand.N(v.advert))

	killed := time.Now()
	for _, pr := range victims {
		if err := pr.Crash(); err != nil {
			b.Fatal(err)
		}
	}
	at, _, err := l.Poll(ctx, lab.PollOptions{Target: vip, Within: masterDown(v) + 10*time.Second})
	if err != nil {
		b.Fatalf("after the crash: %v", err)
	}
	took := at.Sub(killed)
	// The answer came through lb2: the dead node's data plane is gone,
	// and its kernel would only reset connections to the VIP it still has.
	requireNeighbour(b, ctx, l, lb2)
	if since != nil {
		if at, err := since(); err == nil {
			b.Logf("iteration %d: the backup became master %v after the crash", iteration, at.Sub(killed))
		}
	}
	return took
}

// requireNeighbour fails unless the client's neighbour entry for the VIP
// carries n's MAC.
func requireNeighbour(b *testing.B, ctx context.Context, l *lab.Lab, n lab.Node) {
	b.Helper()
	got, err := lab.NeighMAC(ctx, l.Client, lab.VIP)
	if err != nil {
		b.Fatal(err)
	}
	if got.String() != n.MAC.String() {
		b.Fatalf("client's neighbour entry for %v: got %v, want %s's %v", lab.VIP, got, n.Role, n.MAC)
	}
}

func conf(v version, speaker, role string) string {
	return fmt.Sprintf("%s%s-%s-%s.conf", testdata, v.prefix, speaker, role)
}

func startXLBD(b *testing.B, ctx context.Context, l *lab.Lab, n lab.Node, config string) *lab.Daemon {
	b.Helper()
	d, err := l.StartDaemonOn(ctx, n, lab.DaemonOptions{XLBD: bin.xlbd, XLBCtl: bin.xlbctl, Config: config})
	if err != nil {
		b.Fatal(err) // the error carries the log tail
	}
	return d
}

// startXLBDPair runs xlbd on both nodes, VRRP and data plane in one.
func startXLBDPair(b *testing.B, ctx context.Context, l *lab.Lab, lb2 lab.Node, v version) ([]*lab.Proc, func() (time.Time, error)) {
	master := startXLBD(b, ctx, l, l.LB, conf(v, "xlbd", "master"))
	if in, err := master.WaitInstance(ctx, "VI_1", 10*time.Second, func(in api.VRRPInstance) bool { return in.State == "MASTER" }); err != nil {
		b.Fatalf("xlbd on lb: %v; last status %+v", err, in)
	}
	backup := startXLBD(b, ctx, l, lb2, conf(v, "xlbd", "backup"))
	if in, err := backup.WaitInstance(ctx, "VI_1", 10*time.Second, func(in api.VRRPInstance) bool {
		return in.State == "BACKUP" && in.Master == lab.LBAddr.String()
	}); err != nil {
		b.Fatalf("xlbd on lb2: %v; last status %+v", err, in)
	}
	since := func() (time.Time, error) {
		in, err := backup.WaitInstance(ctx, "VI_1", time.Second, func(in api.VRRPInstance) bool { return in.State == "MASTER" })
		return in.Since, err
	}
	return []*lab.Proc{master.Proc}, since
}

// startKeepalivedPair runs keepalived for VRRP and xlbd with the service
// alone as the data plane on both nodes.
func startKeepalivedPair(b *testing.B, ctx context.Context, l *lab.Lab, lb2 lab.Node, v version) ([]*lab.Proc, func() (time.Time, error)) {
	var victims []*lab.Proc
	for _, n := range []struct {
		node  lab.Node
		role  string
		state string
	}{{l.LB, "master", "MASTER"}, {lb2, "backup", "BACKUP"}} {
		d := startXLBD(b, ctx, l, n.node, dataPlane)
		ka, err := l.StartKeepalived(n.node, conf(v, "ka", n.role))
		if err != nil {
			b.Fatal(err)
		}
		if err := ka.WaitLog(ctx, "Entering "+n.state+" STATE", 1, 15*time.Second); err != nil {
			b.Fatal(err)
		}
		if n.role == "master" {
			// The VRRP speaker first, then the data plane: the node dies.
			victims = []*lab.Proc{ka, d.Proc}
		}
	}
	return victims, nil
}
