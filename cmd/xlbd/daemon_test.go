package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"xlb/controlplane/api"
	"xlb/internal/testutil"
)

// xlbdBin is this package built as a binary: the daemon tests run it as a
// separate process inside a network namespace, as an operator would.
var xlbdBin string

func TestMain(m *testing.M) {
	os.Exit(testutil.MainWithBinaries(m, map[string]*string{"xlb/cmd/xlbd": &xlbdBin}))
}

// daemonLab is a load balancer namespace with eth0 towards a namespace
// holding two real servers' addresses, and the paths one xlbd uses.
type daemonLab struct {
	lb, reals *testutil.NS
	dir       string
	conf      string
	bpffs     string
	socket    string
}

func newDaemonLab(t *testing.T) *daemonLab {
	t.Helper()
	lb := testutil.NetNS(t)
	reals := testutil.NetNS(t)
	testutil.Veth(t, lb, "eth0", reals, "eth0")
	lb.MustRun(t, "ip", "addr", "add", "198.18.0.2/24", "dev", "eth0")
	reals.MustRun(t, "ip", "addr", "add", "198.18.0.11/24", "dev", "eth0")
	reals.MustRun(t, "ip", "addr", "add", "198.18.0.12/24", "dev", "eth0")
	dir := t.TempDir()
	return &daemonLab{
		lb: lb, reals: reals, dir: dir,
		conf:   filepath.Join(dir, "keepalived.conf"),
		bpffs:  "/sys/fs/bpf/" + lb.Name,
		socket: filepath.Join(dir, "xlbd.sock"),
	}
}

func daemonConf(reals ...string) string {
	var b strings.Builder
	b.WriteString("virtual_server 198.18.0.100 80 {\n  lb_algo wrr\n  lb_kind DR\n  protocol TCP\n")
	for _, r := range reals {
		fmt.Fprintf(&b, "  real_server %s 80 {\n    weight 2\n  }\n", r)
	}
	b.WriteString("}\n")
	return b.String()
}

// daemon is one running xlbd.
type daemon struct {
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan error
}

// syncBuffer collects a process's output while tests read it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs xlbd in the lb namespace (nsenter keeps the host's bpffs) and
// waits until its API answers.
func (l *daemonLab) start(t *testing.T) *daemon {
	t.Helper()
	d := &daemon{log: &syncBuffer{}, done: make(chan error, 1)}
	d.cmd = exec.Command("nsenter", "--net="+l.lb.Path, "--", xlbdBin,
		"-f", l.conf, "-i", "eth0", "--bpffs", l.bpffs, "--socket", l.socket)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("xlbd log:\n%s", d.log.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := api.NewClient(l.socket).Services(context.Background()); err == nil {
			return d
		}
		select {
		case err := <-d.done:
			d.done <- err
			t.Fatalf("xlbd exited before it was ready: %v\n%s", err, d.log.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("xlbd not ready after 20s:\n%s", d.log.String())
		}
	}
}

// stop sends sig and returns xlbd's exit error (nil for status 0).
func (d *daemon) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("xlbd did not exit within 10s of %v", sig)
		return nil
	}
}

// waitFor polls cond until it holds, failing the test after a bound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func reals(t *testing.T, socket string) map[string]api.Real {
	t.Helper()
	svcs, err := api.NewClient(socket).Services(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]api.Real{}
	for _, s := range svcs.Services {
		for _, r := range s.Reals {
			out[fmt.Sprintf("%s:%d", r.Address, r.Port)] = r
		}
	}
	return out
}

func writeConf(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDaemonLifecycle(t *testing.T) {
	l := newDaemonLab(t)
	writeConf(t, l.conf, daemonConf("198.18.0.11"))
	d := l.start(t)

	// Ready means attached, written and resolved.
	if st, err := os.Stat(l.socket); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("socket %s: mode %v, err %v; want 0600", l.socket, st.Mode().Perm(), err)
	}
	if r := reals(t, l.socket)["198.18.0.11:80"]; r.State != "active" || r.MAC == "" {
		t.Errorf("real 198.18.0.11:80 = %+v, want active with a MAC", r)
	}
	if out := l.lb.MustRun(t, "ip", "link", "show", "eth0"); !strings.Contains(out, "xdp") {
		t.Errorf("no XDP program on eth0:\n%s", out)
	}
	if out, err := exec.Command("bpftool", "map", "dump", "pinned", l.bpffs+"/services4").CombinedOutput(); err != nil ||
		!strings.Contains(string(out), `"table_size": 1,`) || !strings.Contains(string(out), `"sched": 2,`) {
		// lb_algo wrr over one real: a sequence of one slot.
		t.Errorf("bpftool dump of pinned services lacks named fields: %v\n%s", err, out)
	}

	// An override survives a good reload that adds a real.
	c := api.NewClient(l.socket)
	zero := 0
	if _, err := c.SetWeight(context.Background(), api.WeightRequest{Service: "198.18.0.100:80", Real: "198.18.0.11:80", Weight: &zero}); err != nil {
		t.Fatal(err)
	}
	writeConf(t, l.conf, daemonConf("198.18.0.11", "198.18.0.12"))
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload to add 198.18.0.12", func() bool { return reals(t, l.socket)["198.18.0.12:80"].State == "active" })
	if r := reals(t, l.socket)["198.18.0.11:80"]; r.EffectiveWeight != 0 || r.Override == nil {
		t.Errorf("after reload 198.18.0.11:80 = %+v, want the override 0 kept", r)
	}

	// A bad reload is rejected with FILE:LINE:COL and the old config serves.
	writeConf(t, l.conf, strings.Replace(daemonConf("198.18.0.11"), "lb_algo wrr", "lb_algo wrrr", 1))
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	wantLog := fmt.Sprintf("at=%s:2:11", l.conf)
	waitFor(t, "the bad reload to be logged", func() bool { return strings.Contains(d.log.String(), wantLog) })
	if !strings.Contains(d.log.String(), "reload rejected") {
		t.Errorf("log does not say the reload was rejected:\n%s", d.log.String())
	}
	if _, ok := reals(t, l.socket)["198.18.0.12:80"]; !ok {
		t.Error("after a bad reload the previous configuration is gone, want it kept")
	}

	// SIGTERM: exit 0, program detached, pins and socket removed.
	if err := d.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("xlbd exit after SIGTERM: %v\n%s", err, d.log.String())
	}
	if _, err := os.Stat(l.bpffs); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pin directory %s still there after SIGTERM (err %v)", l.bpffs, err)
	}
	if _, err := os.Stat(l.socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket %s still there after SIGTERM (err %v)", l.socket, err)
	}
	if out := l.lb.MustRun(t, "ip", "link", "show", "eth0"); strings.Contains(out, "xdp") {
		t.Errorf("XDP program still on eth0 after SIGTERM:\n%s", out)
	}
}

func TestDaemonReplacesStalePins(t *testing.T) {
	l := newDaemonLab(t)
	writeConf(t, l.conf, daemonConf("198.18.0.11"))
	t.Cleanup(func() { os.RemoveAll(l.bpffs) })

	// A killed xlbd leaves its pins (and socket) but not its program.
	d := l.start(t)
	if err := d.stop(t, syscall.SIGKILL); err == nil {
		t.Fatal("xlbd killed with SIGKILL exited 0")
	}
	if _, err := os.Stat(filepath.Join(l.bpffs, "services")); err != nil {
		t.Fatalf("a killed xlbd left no pins: %v", err)
	}
	waitFor(t, "the dead xlbd's program to detach", func() bool {
		return !strings.Contains(l.lb.MustRun(t, "ip", "link", "show", "eth0"), "xdp")
	})

	// The next xlbd replaces them and serves.
	d = l.start(t)
	if r := reals(t, l.socket)["198.18.0.11:80"]; r.State != "active" {
		t.Errorf("after restart real 198.18.0.11:80 = %+v, want active", r)
	}
	if !strings.Contains(d.log.String(), "replaced stale pin") {
		t.Errorf("log does not mention replacing stale pins:\n%s", d.log.String())
	}
	if err := d.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("xlbd exit after SIGTERM: %v", err)
	}
}

func TestDaemonRefusesSecondOnSamePins(t *testing.T) {
	l := newDaemonLab(t)
	writeConf(t, l.conf, daemonConf("198.18.0.11"))
	d := l.start(t)
	out, err := exec.Command("nsenter", "--net="+l.lb.Path, "--", xlbdBin, "-f", l.conf, "-i", "eth0",
		"--bpffs", l.bpffs, "--socket", filepath.Join(l.dir, "second.sock")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), l.bpffs) {
		t.Errorf("second xlbd on %s: err %v, output:\n%s\nwant a failure naming the directory", l.bpffs, err, out)
	}
	if r := reals(t, l.socket)["198.18.0.11:80"]; r.State != "active" {
		t.Errorf("first xlbd disturbed by the second: real = %+v", r)
	}
	if err := d.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("xlbd exit after SIGTERM: %v", err)
	}
}

func TestDaemonFollowsMACMove(t *testing.T) {
	l := newDaemonLab(t)
	writeConf(t, l.conf, daemonConf("198.18.0.11"))
	d := l.start(t)

	// The real's MAC changes and it announces itself with a gratuitous ARP
	// (as a moved VM or a replaced NIC does): xlbd rewrites its entry.
	const moved = "02:00:5e:10:00:2b"
	l.reals.MustRun(t, "ip", "link", "set", "eth0", "address", moved)
	l.reals.MustRun(t, "arping", "-U", "-c", "1", "-I", "eth0", "198.18.0.11")
	waitFor(t, "xlbd to report the moved MAC", func() bool { return reals(t, l.socket)["198.18.0.11:80"].MAC == moved })

	out, err := exec.Command("bpftool", "-j", "map", "dump", "pinned", l.bpffs+"/reals").Output()
	if err != nil {
		t.Fatalf("bpftool dump reals: %v", err)
	}
	// bpftool prints BTF-typed entries under "formatted" with field names.
	var entries []struct {
		Formatted struct {
			Value struct {
				MAC []byte `json:"mac"`
			} `json:"value"`
		} `json:"formatted"`
	}
	if err := json.Unmarshal(out, &entries); err != nil {
		t.Fatalf("decode bpftool dump of reals: %v", err)
	}
	var macs []string
	for _, e := range entries {
		if mac := net.HardwareAddr(e.Formatted.Value.MAC); len(mac) == 6 && mac.String() != "00:00:00:00:00:00" {
			macs = append(macs, mac.String())
		}
	}
	if len(macs) != 1 || macs[0] != moved {
		t.Errorf("MACs in the pinned reals map = %q, want only the moved %s", macs, moved)
	}
	if !strings.Contains(d.log.String(), "real server moved") {
		t.Errorf("log does not report the move:\n%s", d.log.String())
	}
	if err := d.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("xlbd exit after SIGTERM: %v", err)
	}
}

// TestDaemonRefusesFwmark checks that a fwmark virtual server, which `-t`
// only warns about, keeps xlbd with the XDP backend from starting, with a
// message naming the line, and leaves no pins behind.
func TestDaemonRefusesFwmark(t *testing.T) {
	l := newDaemonLab(t)
	writeConf(t, l.conf, daemonConf("198.18.0.11")+"virtual_server fwmark 7 {\n  lb_kind DR\n  real_server 198.18.0.12 80 {\n  }\n}\n")

	check, err := exec.Command(xlbdBin, "-t", "-f", l.conf).CombinedOutput()
	if err != nil || !strings.Contains(string(check), "keepalived.conf:9:1: warning: virtual_server fwmark 7") {
		t.Errorf("xlbd -t: err %v, output:\n%s\nwant exit 0 with a warning at line 9", err, check)
	}

	out, err := exec.Command("nsenter", "--net="+l.lb.Path, "--", xlbdBin, "-f", l.conf, "-i", "eth0",
		"--bpffs", l.bpffs, "--socket", l.socket).CombinedOutput()
	if err == nil {
		t.Fatalf("xlbd started with a fwmark service; output:\n%s", out)
	}
	if want := "keepalived.conf:9:1: virtual_server fwmark 7: the XDP backend cannot see firewall marks"; !strings.Contains(string(out), want) {
		t.Errorf("xlbd output:\n%s\nwant it to contain %q", out, want)
	}
	if _, err := os.Stat(l.bpffs); !os.IsNotExist(err) {
		t.Errorf("%s left behind by a refused start: %v", l.bpffs, err)
	}
}

// TestDaemonReloadRefusesFwmark checks that a reload adding a fwmark
// virtual server is rejected as a whole: the old services keep serving.
func TestDaemonReloadRefusesFwmark(t *testing.T) {
	l := newDaemonLab(t)
	writeConf(t, l.conf, daemonConf("198.18.0.11"))
	d := l.start(t)
	writeConf(t, l.conf, daemonConf("198.18.0.11", "198.18.0.12")+"virtual_server fwmark 7 {\n  real_server 198.18.0.12 80 {\n  }\n}\n")
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload to be rejected", func() bool {
		return strings.Contains(d.log.String(), "reload rejected") && strings.Contains(d.log.String(), "cannot see firewall marks")
	})
	got := reals(t, l.socket)
	if _, ok := got["198.18.0.12:80"]; ok || len(got) != 1 {
		t.Errorf("reals after a rejected reload = %v, want only 198.18.0.11:80", got)
	}
	if err := d.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("xlbd exit after SIGTERM: %v", err)
	}
}
