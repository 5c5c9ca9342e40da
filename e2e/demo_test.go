package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"xlb/controlplane/api"
	"xlb/e2e/lab"
	"xlb/internal/nsrun"
	"xlb/internal/testutil"
)

const (
	connections = 1200 // per round; the z-scores need n ≥ 1000
	maxZ        = 4.0  // a 1-in-15000 deviation per real
)

var service = netip.AddrPortFrom(lab.VIP, 80).String() + "/tcp"

// startLab builds a DR lab with servers running and xlbd ready with the
// demo's configuration. Cleanup tears it all down; on failure the xlbd log
// tail is in the test output.
func startLab(t *testing.T, ctx context.Context) (*lab.Lab, *lab.Daemon) {
	t.Helper()
	return startLabWith(t, ctx, lab.DR, demoConfig)
}

// startLabWith is startLab with the reals prepared for mode and xlbd
// reading config. The servers of the reals numbered in stopped (0-based)
// are stopped again before xlbd starts.
func startLabWith(t *testing.T, ctx context.Context, mode lab.Mode, config string, stopped ...int) (*lab.Lab, *lab.Daemon) {
	t.Helper()
	return startLabOpts(t, ctx, lab.Options{Mode: mode}, config, stopped...)
}

// startLabNamed is startLabWith with the lab's namespaces named from
// prefix (testutil.UniqueName).
func startLabNamed(t *testing.T, ctx context.Context, prefix string, mode lab.Mode, config string, stopped ...int) (*lab.Lab, *lab.Daemon) {
	t.Helper()
	return startLabOpts(t, ctx, lab.Options{Name: testutil.UniqueName(prefix), Mode: mode}, config, stopped...)
}

// startLabOpts is startLabWith with more of the lab's options (Mode,
// PathMTU, Reals, Name: unique, or empty for "xlbt-" and a unique suffix);
// the rest are filled in here.
func startLabOpts(t *testing.T, ctx context.Context, opts lab.Options, config string, stopped ...int) (*lab.Lab, *lab.Daemon) {
	t.Helper()
	opts.XLBCtl = bin.xlbctl
	l := newLab(t, ctx, "xlbt-", opts)
	if err := l.StartServers(ctx, bin.xlblab); err != nil {
		t.Fatal(err)
	}
	for _, i := range stopped {
		if err := l.StopServer(l.Reals[i]); err != nil {
			t.Fatal(err)
		}
	}
	d, err := l.StartDaemon(ctx, lab.DaemonOptions{XLBD: bin.xlbd, XLBCtl: bin.xlbctl, Config: config})
	if err != nil {
		t.Fatal(err) // the error carries the log tail
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("xlbd log of lab %s (last 40 lines):\n%s", l.Name, d.Tail(40))
		}
	})
	return l, d
}

// newLab builds a lab with opts, named opts.Name or else by prefix and
// unique, logging to the test, in a directory short enough for the
// daemon's socket path, and tears it down when the test ends.
func newLab(t *testing.T, ctx context.Context, prefix string, opts lab.Options) *lab.Lab {
	t.Helper()
	testutil.RequireRoot(t)
	dir := t.TempDir()
	if len(dir) > 80 { // leave room for the socket name in sun_path
		var err error
		if dir, err = os.MkdirTemp("", "xlb-e2e-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	if opts.Name == "" {
		opts.Name = testutil.UniqueName(prefix)
	}
	opts.Dir = dir
	opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	l, err := lab.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("tear down lab %s: %v", l.Name, err)
		}
	})
	return l
}

// testWriter sends the lab's step log to t.Log, shown on failure or -v.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// measure runs one round of connections to the VIP and checks it against
// the weights xlbd reports now: every connection answered, every |z| ≤
// maxZ (a weight-0 real that answers has z = +Inf), and every real saw the
// client's own address and port.
func measure(t *testing.T, ctx context.Context, l *lab.Lab, d *lab.Daemon) lab.Report {
	t.Helper()
	return measureVIP(t, ctx, l, d, lab.VIP, lab.ClientAddr)
}

// measureVIP is measure for the HTTP service on vip port 80, whose reals
// must all see the client as from.
func measureVIP(t *testing.T, ctx context.Context, l *lab.Lab, d *lab.Daemon, vip, from netip.Addr) lab.Report {
	t.Helper()
	return measureWith(t, ctx, l, d, vip, from, func() (lab.Report, error) {
		return l.Measure(ctx, bin.xlblab, lab.ClientOptions{
			URL: "http://" + netip.AddrPortFrom(vip, 80).String() + "/", Count: connections, Timeout: 40 * time.Second,
		})
	})
}

// measureWith checks the report that round returns against the weights
// xlbd reports now for the service on vip port 80: every one of the
// connections answered, every |z| ≤ maxZ, and every real saw the client
// as from, port unchanged.
func measureWith(t *testing.T, ctx context.Context, l *lab.Lab, d *lab.Daemon, vip, from netip.Addr, round func() (lab.Report, error)) lab.Report {
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
	rep, err := round()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors > 0 || rep.OK() != connections {
		t.Errorf("%d of %d connections answered, %d failed; first error: %s", rep.OK(), connections, rep.Errors, rep.FirstError)
		// Why the data plane passed or dropped what it did: a connection
		// reset by the LB's own stack shows as a pass reason.
		if res, err := d.Ctl(ctx, "reasons"); err == nil {
			t.Logf("xlbctl reasons:\n%s", res.Stdout)
		}
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
		if !slices.Equal(s.Peers, []netip.Addr{from}) || s.Translated != 0 {
			t.Errorf("%s saw clients %v (%d with another port), want only %s unchanged", name, s.Peers, s.Translated, from)
		}
	}
	return rep
}

// TestDemoScenario is `make demo` with assertions: xlbd serves the
// configured service, spreads connections 3:2:1, reals see the client
// itself, a weight of 0 drains a real for new connections, xlbctl's exit
// statuses hold, the pinned maps dump with field names, and SIGTERM leaves
// neither pins nor socket.
func TestDemoScenario(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	l, d := startLab(t, ctx)

	t.Run("services", func(t *testing.T) {
		svcs, err := d.Services(ctx)
		if err != nil {
			t.Fatal(err)
		}
		svc, ok := lab.FindService(svcs, lab.VIP, 80)
		if !ok || len(svcs) != 1 {
			t.Fatalf("services = %+v, want just %s", svcs, service)
		}
		if svc.Protocol != "tcp" || svc.Scheduler != "mh" || svc.Kind != "DR" {
			t.Errorf("service %s: protocol %q scheduler %q kind %q, want tcp mh DR", service, svc.Protocol, svc.Scheduler, svc.Kind)
		}
		want := map[netip.Addr]int{lab.RealAddr(1): 3, lab.RealAddr(2): 2, lab.RealAddr(3): 1}
		if len(svc.Reals) != len(want) {
			t.Errorf("service has %d reals, want %d", len(svc.Reals), len(want))
		}
		for _, r := range svc.Reals {
			node, err := l.RealOf(r)
			if err != nil {
				t.Error(err)
				continue
			}
			if r.Weight != want[node.Addr] || r.EffectiveWeight != want[node.Addr] || r.Port != 80 {
				t.Errorf("real %s:%d weight %d effective %d, want port 80 weight %d", r.Address, r.Port, r.Weight, r.EffectiveWeight, want[node.Addr])
			}
			if r.State != api.RealActive || r.MAC != node.MAC.String() {
				t.Errorf("real %s: state %q mac %q, want active with %s's mac %s", r.Address, r.State, r.MAC, node.Role, node.MAC)
			}
		}
	})

	t.Run("balance", func(t *testing.T) {
		rep := measure(t, ctx, l, d)
		svcs, err := d.Services(ctx)
		if err != nil {
			t.Fatal(err)
		}
		svc, _ := lab.FindService(svcs, lab.VIP, 80)
		// Each connection passes the balancer at least with SYN, request
		// and FIN or ACK; replies bypass it (direct routing).
		if svc.Packets < uint64(rep.OK()) {
			t.Errorf("service counted %d packets for %d connections", svc.Packets, rep.OK())
		}
		for _, r := range svc.Reals {
			node, err := l.RealOf(r)
			if err != nil {
				t.Error(err)
				continue
			}
			if rep.Counts()[node.Role] > 0 && r.Packets == 0 {
				t.Errorf("real %s took %d connections but its counter says 0 packets", r.Address, rep.Counts()[node.Role])
			}
		}
	})

	t.Run("drain", func(t *testing.T) {
		r3 := l.Reals[2]
		if err := d.SetWeight(ctx, service, netip.AddrPortFrom(r3.Addr, 80), 0); err != nil {
			t.Fatal(err)
		}
		svcs, err := d.Services(ctx)
		if err != nil {
			t.Fatal(err)
		}
		svc, _ := lab.FindService(svcs, lab.VIP, 80)
		for _, r := range svc.Reals {
			node, err := l.RealOf(r)
			if err != nil {
				t.Error(err)
				continue
			}
			if node.Role == r3.Role && (r.State != api.RealOut || r.EffectiveWeight != 0) {
				t.Errorf("after weight 0, %s is %q with effective weight %d, want out with 0", r3.Role, r.State, r.EffectiveWeight)
			}
		}
		rep := measure(t, ctx, l, d) // r3 has p = 0: one connection there is z = +Inf
		if n := rep.Counts()[r3.Role]; n != 0 {
			t.Errorf("%s got %d new connections after weight 0", r3.Role, n)
		}
	})

	t.Run("xlbctl exit status", func(t *testing.T) {
		dead := filepath.Join(t.TempDir(), "none.sock")
		tests := []struct {
			name   string
			socket string
			args   []string
			want   int
		}{
			{"unknown real", d.Socket, []string{"weight", service, "198.18.0.99:80", "1"}, 2},
			{"unknown service", d.Socket, []string{"weight", "198.18.0.200:80/tcp", "198.18.0.11:80", "1"}, 2},
			{"weight too big", d.Socket, []string{"weight", service, "198.18.0.11:80", "70000"}, 2},
			{"not an address", d.Socket, []string{"weight", "vip:80/tcp", "198.18.0.11:80", "1"}, 2},
			{"missing weight", d.Socket, []string{"weight", service, "198.18.0.11:80"}, 2},
			{"bad output", d.Socket, []string{"services", "-o", "yaml"}, 2},
			{"dead socket", dead, []string{"--timeout", "2s", "services"}, 1},
			{"good", d.Socket, []string{"weight", service, "198.18.0.11:80", "3"}, 0},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				res, err := lab.RunCtl(ctx, bin.xlbctl, tc.socket, tc.args...)
				if err != nil {
					t.Fatal(err)
				}
				if res.Code != tc.want {
					t.Errorf("xlbctl %s: exit %d, want %d; stderr: %s", strings.Join(tc.args, " "), res.Code, tc.want, res.Stderr)
				}
			})
		}
	})

	t.Run("explain", func(t *testing.T) {
		// Ask first, then connect from that very port: the real that
		// answers must be the one explain named (the scheduler's slot),
		// and afterwards explain must find the flow in the connection table.
		client := netip.AddrPortFrom(lab.ClientAddr, 55555)
		ask := func() api.Explanation {
			res, err := d.Ctl(ctx, "explain", service, client.String(), "-o", "json")
			if err != nil || res.Code != 0 {
				t.Fatalf("xlbctl explain: %v (exit %d): %s", err, res.Code, res.Stderr)
			}
			var e api.Explanation
			if err := json.Unmarshal([]byte(res.Stdout), &e); err != nil {
				t.Fatalf("decode xlbctl explain: %v\n%s", err, res.Stdout)
			}
			return e
		}
		before := ask()
		// A Maglev table's choice is a function of the flow; rr/wrr and
		// the least-connection family choose at the first packet.
		predictable := before.Scheduler == "mh" || before.Scheduler == "sh" || before.Scheduler == "dh"
		if before.DecidedBy != "scheduler" || predictable != (before.Real != "") || (!predictable && len(before.Notes) == 0) {
			t.Fatalf("explain of a new flow = %+v, want the scheduler's choice (a real only for a Maglev table, else a note)", before)
		}
		var body string
		// The socket must be made on the thread inside the client's
		// namespace, so dial here rather than from an http.Transport.
		err := nsrun.DoNamed(l.Client.NS, func() error {
			dialer := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(client), Timeout: 5 * time.Second}
			conn, err := dialer.Dial("tcp", netip.AddrPortFrom(lab.VIP, 80).String())
			if err != nil {
				return err
			}
			defer conn.Close()
			if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
				return err
			}
			if _, err := io.WriteString(conn, "GET / HTTP/1.0\r\nHost: vip\r\n\r\n"); err != nil {
				return err
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			body = string(b)
			return err
		})
		if err != nil {
			t.Fatalf("HTTP from %s: %v", client, err)
		}
		name, _, err := lab.ParseReply(body)
		if err != nil {
			t.Fatal(err)
		}
		after := ask()
		if after.DecidedBy != "connection table" || after.Conn == nil || (predictable && after.Conn.Real != before.Real) {
			t.Fatalf("explain after the connection = %+v, want its connection-table entry (on %q when predicted)", after, before.Real)
		}
		got, err := netip.ParseAddrPort(after.Conn.Real)
		if err != nil {
			t.Fatal(err)
		}
		if node, _ := l.Real(got.Addr()); node.Role != name {
			t.Errorf("explain says the flow is on %s (%s), but %s answered", after.Conn.Real, node.Role, name)
		}
	})

	t.Run("reasons", func(t *testing.T) {
		// After the rounds above, the program has forwarded every
		// connection's packets back out of lb (tx) and the connection
		// table has seen new flows; nothing arrived malformed.
		res, err := d.Ctl(ctx, "reasons", "-o", "json")
		if err != nil || res.Code != 0 {
			t.Fatalf("xlbctl reasons: %v (exit %d): %s", err, res.Code, res.Stderr)
		}
		var r api.Reasons
		if err := json.Unmarshal([]byte(res.Stdout), &r); err != nil {
			t.Fatalf("decode xlbctl reasons: %v\n%s", err, res.Stdout)
		}
		if r.Reasons["tx"] < connections || r.Reasons["ct_miss"] < connections {
			t.Errorf("reasons tx %d, ct_miss %d: want each at least the %d connections of a round",
				r.Reasons["tx"], r.Reasons["ct_miss"], connections)
		}
		if r.Reasons["drop_malformed"] != 0 {
			t.Errorf("reasons drop_malformed = %d, want 0", r.Reasons["drop_malformed"])
		}
	})

	t.Run("bpftool dump", func(t *testing.T) {
		// IPv4 VIPs live in services4 (8-byte keys), IPv6 ones in services.
		out, err := exec.CommandContext(ctx, "bpftool", "map", "dump", "pinned", filepath.Join(d.BPFFS, "services4")).CombinedOutput()
		if err != nil {
			t.Fatalf("bpftool map dump: %v: %s", err, out)
		}
		for _, field := range []string{`"port"`, `"proto"`, `"table_size"`} {
			if !strings.Contains(string(out), field) {
				t.Errorf("bpftool dump of services4 lacks %s (BTF field names):\n%s", field, out)
			}
		}
	})

	t.Run("sigterm", func(t *testing.T) {
		if err := d.Stop(); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{d.BPFFS, d.Socket} {
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s still exists after SIGTERM (stat: %v)", p, err)
			}
		}
	})
}

// TestTwoDaemonsSideBySide runs two labs at once, each with its own xlbd,
// pin directory and socket, and checks both balance while both run.
func TestTwoDaemonsSideBySide(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	type site struct {
		l *lab.Lab
		d *lab.Daemon
	}
	var sites [2]site
	for i := range sites {
		sites[i].l, sites[i].d = startLab(t, ctx)
	}
	a, b := sites[0].d, sites[1].d
	if a.BPFFS == b.BPFFS || a.Socket == b.Socket {
		t.Fatalf("daemons share pins or socket: %s %s / %s %s", a.BPFFS, a.Socket, b.BPFFS, b.Socket)
	}
	for _, s := range sites {
		if _, err := os.Stat(s.d.BPFFS); err != nil {
			t.Errorf("pins of %s: %v", s.l.Name, err)
		}
	}

	// Both clients run at the same time; their errors come back here,
	// as t.Fatal only works from the test's own goroutine.
	var g errgroup.Group
	reps := make([]lab.Report, len(sites))
	for i, s := range sites {
		g.Go(func() error {
			rep, err := s.l.Measure(ctx, bin.xlblab, lab.ClientOptions{
				URL: "http://" + lab.VIP.String() + "/", Count: connections, Timeout: 40 * time.Second,
			})
			reps[i] = rep
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	for i, s := range sites {
		svcs, err := s.d.Services(ctx)
		if err != nil {
			t.Fatal(err)
		}
		svc, _ := lab.FindService(svcs, lab.VIP, 80)
		weights, names, err := s.l.Weights(svc)
		if err != nil {
			t.Fatal(err)
		}
		rows := lab.Compare(weights, names, reps[i].Counts())
		var table strings.Builder
		lab.WriteTable(&table, rows)
		t.Logf("lab %s:\n%s", s.l.Name, table.String())
		if reps[i].OK() != connections {
			t.Errorf("lab %s: %d of %d connections answered; first error: %s", s.l.Name, reps[i].OK(), connections, reps[i].FirstError)
		}
		for _, r := range rows {
			if math.Abs(r.Z) > maxZ {
				t.Errorf("lab %s: %s z %+.2f beyond ±%.0f", s.l.Name, r.Name, r.Z, maxZ)
			}
		}
		// Each daemon counted its own lab's traffic, not the other's.
		if svc.Packets < connections || svc.Packets > 20*connections {
			t.Errorf("lab %s: service counted %d packets for %d connections", s.l.Name, svc.Packets, connections)
		}
	}
	for i, s := range sites {
		if err := s.d.Stop(); err != nil {
			t.Errorf("stop xlbd of %s: %v", s.l.Name, err)
		}
		if _, err := os.Stat(s.d.BPFFS); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("pins of daemon %d still at %s", i, s.d.BPFFS)
		}
	}
}

// TestDemoCommand runs `xlblab demo` as `make demo` does and checks it
// passes and leaves none of its namespaces behind.
func TestDemoCommand(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	name := testutil.UniqueName("xlbt-")
	cmd := exec.CommandContext(ctx, bin.xlblab, "demo", "--name", name,
		"--xlbd", bin.xlbd, "--xlbctl", bin.xlbctl, "--config", demoConfig)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "RESULT: PASS") {
		t.Errorf("xlblab demo: %v\n%s", err, out)
	}
	list, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, list)
	}
	if strings.Contains(string(list), name) {
		t.Errorf("xlblab demo left namespaces behind:\n%s", list)
	}
}
