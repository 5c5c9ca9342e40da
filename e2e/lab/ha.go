package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"xlb/controlplane/api"
	"xlb/internal/nsrun"
)

// The second load balancer's addresses, for labs with a VRRP pair (AddLB).
var (
	LB2Addr  = netip.MustParseAddr("198.18.0.3")
	LB2Addr6 = netip.MustParseAddr("2001:db8::3")
)

// AddLB adds a second load balancer, named role ("lb2"), on the lab's
// bridge at LB2Addr and LB2Addr6, with the load balancer's MTU and, like
// the first, a pass-all XDP program on its bridge port so that frames its
// xlbd sends back out with XDP_TX leave the veth (LAB-NOTES). It does not
// put the VIPs on it: VRRP does. A lab has at most one second load
// balancer.
func (l *Lab) AddLB(ctx context.Context, role string) (Node, error) {
	l.mu.Lock()
	prog := l.prog
	for _, ns := range l.namespaces {
		if ns == l.Name+"-"+role {
			l.mu.Unlock()
			return Node{}, fmt.Errorf("add load balancer %s: the lab has a node of that name", role)
		}
	}
	l.mu.Unlock()
	if prog == nil {
		return Node{}, errors.New("add load balancer: lab has no pass-all program (closed?)")
	}
	n, err := l.addNode(ctx, role, LB2Addr, LB2Addr6, pathMTU)
	if err != nil {
		return Node{}, err
	}
	// Attached through netlink rather than a bpf link, the program stays
	// on the port without an fd of ours and goes when Close deletes the
	// switch with the port.
	err = nsrun.DoNamed(l.Switch, func() error {
		port, err := netlink.LinkByName(role)
		if err != nil {
			return err
		}
		return netlink.LinkSetXdpFdWithFlags(port, prog.FD(), unix.XDP_FLAGS_DRV_MODE)
	})
	if err != nil {
		return Node{}, fmt.Errorf("attach pass-all xdp to %s in %s: %w", role, l.Switch, err)
	}
	if err := l.waitSettled(ctx); err != nil {
		return Node{}, err
	}
	return n, nil
}

// StartDaemonOn runs xlbd in node n as StartDaemon does in the load
// balancer, with flags added to its command line. Its socket is
// Dir/<role>.sock and its pins go under /sys/fs/bpf/<lab>-<role>, so each
// load balancer of a pair has its own; its log is Dir/xlbd-<role>.log, or
// -2, -3, ... for later runs on the same node. It returns once the daemon
// is ready; errors carry the tail of its log. Unlike StartDaemon it may be
// called for several nodes and again after the daemon ended.
func (l *Lab) StartDaemonOn(ctx context.Context, n Node, opts DaemonOptions, flags ...string) (*Daemon, error) {
	if opts.Ready <= 0 {
		opts.Ready = 20 * time.Second
	}
	var abs [3]string
	for i, p := range []string{opts.XLBD, opts.XLBCtl, opts.Config} {
		a, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(a); err != nil {
			return nil, err
		}
		abs[i] = a
	}
	d := &Daemon{
		Socket: filepath.Join(l.Dir, n.Role+".sock"),
		BPFFS:  "/sys/fs/bpf/" + l.Name + "-" + n.Role,
		ctl:    abs[1],
	}
	if len(d.Socket) > 107 { // sun_path holds 108 bytes with the NUL
		return nil, fmt.Errorf("socket path %s: longer than a unix socket allows", d.Socket)
	}
	l.mu.Lock()
	l.pins = append(l.pins, d.BPFFS)
	l.mu.Unlock()
	argv := append([]string{"nsenter", "--net=" + n.Path(), "--",
		abs[0], "-f", abs[2], "-i", "eth0", "--bpffs", d.BPFFS, "--socket", d.Socket}, flags...)
	p, err := l.Start(l.runName("xlbd-"+n.Role), argv...)
	if err != nil {
		return nil, err
	}
	d.Proc = p
	l.log.Info("wait for xlbd", "node", n.Role, "socket", d.Socket, "within", opts.Ready)
	if err := d.waitReady(ctx, opts.Ready); err != nil {
		return nil, fmt.Errorf("%s: %w\n--- xlbd log (last %d lines) ---\n%s", n.Role, err, logTail, p.Tail(logTail))
	}
	l.log.Info("xlbd ready", "node", n.Role, "pid", p.PID(), "bpffs", d.BPFFS)
	return d, nil
}

// runName returns base, or base-2, base-3, ... when a process of that
// name already ran, so each run keeps its own log.
func (l *Lab) runName(base string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	taken := map[string]bool{}
	for _, p := range l.procs {
		taken[p.Name] = true
	}
	name := base
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	return name
}

// StartKeepalived runs Debian's keepalived, VRRP only (-P: this kernel
// has no IPVS for its checkers), in the foreground in node n with config
// conf and pid files of its own under Dir, as LAB-NOTES describe. Its
// console log is the process's log. It returns at once; WaitLog tells
// when it reached a state.
func (l *Lab) StartKeepalived(n Node, conf string) (*Proc, error) {
	conf, err := filepath.Abs(conf)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(conf); err != nil {
		return nil, err
	}
	name := l.runName("keepalived-" + n.Role)
	pid := func(kind string) string { return filepath.Join(l.Dir, name+"."+kind+".pid") }
	// ip netns exec execs keepalived in place, so the process the lab
	// starts, and whose group it leads, is keepalived's parent.
	return l.Start(name, "ip", "netns", "exec", n.NS, "keepalived", "-n", "-l", "-D", "-P", "-f", conf,
		"-p", pid("main"), "-r", pid("vrrp"), "-c", pid("checkers"), "-b", pid("bfd"))
}

// Crash kills the process and everything in its process group with
// SIGKILL at once (keepalived's VRRP child too, which would otherwise
// still send priority 0 when its parent dies; LAB-NOTES), and waits for
// it to be reaped.
func (p *Proc) Crash() error {
	select {
	case <-p.done:
		return fmt.Errorf("crash %s: already exited: %v", p.Name, p.waitErr)
	default:
	}
	p.stopped = true
	if err := syscall.Kill(-p.PID(), syscall.SIGKILL); err != nil {
		return fmt.Errorf("crash %s (process group %d): %w", p.Name, p.PID(), err)
	}
	<-p.done
	return nil
}

// WaitLog waits up to within for the process's log to contain s at
// least n times.
func (p *Proc) WaitLog(ctx context.Context, s string, n int, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(p.Log); err == nil && strings.Count(string(b), s) >= n {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v) before logging %q %d times", p.Name, p.waitErr, s, n)
		case <-ctx.Done():
			return fmt.Errorf("%s did not log %q %d times within %v", p.Name, s, n, within)
		case <-tick.C:
		}
	}
}

// VRRP returns `xlbctl vrrp -o json`, decoded into the API's types.
func (d *Daemon) VRRP(ctx context.Context) (api.VRRP, error) {
	res, err := d.Ctl(ctx, "vrrp", "-o", "json")
	if err != nil {
		return api.VRRP{}, err
	}
	if res.Code != 0 {
		return api.VRRP{}, fmt.Errorf("xlbctl vrrp: exit %d: %s", res.Code, res.Stderr)
	}
	var v api.VRRP
	if err := json.Unmarshal([]byte(res.Stdout), &v); err != nil {
		return api.VRRP{}, fmt.Errorf("decode xlbctl vrrp: %w", err)
	}
	return v, nil
}

// WaitInstance polls `xlbctl vrrp` up to within until instance name
// satisfies ok, and returns its last status either way.
func (d *Daemon) WaitInstance(ctx context.Context, name string, within time.Duration, ok func(api.VRRPInstance) bool) (api.VRRPInstance, error) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var (
		last api.VRRPInstance
		err  error
	)
	for {
		var v api.VRRP
		if v, err = d.VRRP(ctx); err == nil {
			err = fmt.Errorf("no vrrp_instance %s", name)
			for _, in := range v.Instances {
				if in.Name == name {
					last, err = in, nil
					if ok(in) {
						return in, nil
					}
				}
			}
		}
		select {
		case <-d.Proc.Done():
			return last, fmt.Errorf("xlbd exited: %v", d.Proc.Err())
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("instance %s is %s under master %q", name, last.State, last.Master)
			}
			return last, fmt.Errorf("within %v: %w", within, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Holds reports whether node n has addr on eth0.
func Holds(ctx context.Context, n Node, addr netip.Addr) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "-n", n.NS, "-j", "addr", "show", "dev", "eth0").Output()
	if err != nil {
		return false, fmt.Errorf("list addresses of %s: %w", n.Role, err)
	}
	var links []struct {
		AddrInfo []struct {
			Local string `json:"local"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return false, fmt.Errorf("decode addresses of %s: %w", n.Role, err)
	}
	for _, ln := range links {
		for _, a := range ln.AddrInfo {
			if got, err := netip.ParseAddr(a.Local); err == nil && got == addr {
				return true, nil
			}
		}
	}
	return false, nil
}

// NeighMAC returns the MAC in node n's neighbour entry for addr on eth0;
// nil when there is none (or it has no address, as while incomplete).
func NeighMAC(ctx context.Context, n Node, addr netip.Addr) (net.HardwareAddr, error) {
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "-n", n.NS, "-j", "neigh", "show", addr.String(), "dev", "eth0").Output()
	if err != nil {
		return nil, fmt.Errorf("show neighbour %s of %s: %w", addr, n.Role, err)
	}
	var entries []struct {
		LLAddr string `json:"lladdr"`
	}
	if err := json.Unmarshal(out, &entries); err != nil {
		return nil, fmt.Errorf("decode neighbour %s of %s: %w", addr, n.Role, err)
	}
	for _, e := range entries {
		if e.LLAddr != "" {
			return net.ParseMAC(e.LLAddr)
		}
	}
	return nil, nil
}

// PollOptions configure Poll.
type PollOptions struct {
	Target  netip.AddrPort // the service, HTTP on TCP
	Every   time.Duration  // between request starts; 0 means 10 ms
	Timeout time.Duration  // one request; 0 means 200 ms
	Within  time.Duration  // the whole poll; 0 means 30 s
}

// Poll starts a request from the client to opts.Target every opts.Every,
// each on a new connection with a short timeout and independent of the
// earlier ones still waiting (a SYN lost to a dead load balancer is only
// sent again after a second), and returns when the first one is answered
// by a server: the time it was answered and who answered. It gives up
// after opts.Within.
func (l *Lab) Poll(ctx context.Context, opts PollOptions) (time.Time, string, error) {
	if opts.Every <= 0 {
		opts.Every = 10 * time.Millisecond
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 200 * time.Millisecond
	}
	if opts.Within <= 0 {
		opts.Within = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Within)
	defer cancel()
	type answer struct {
		at   time.Time
		name string
	}
	var (
		wg       sync.WaitGroup
		answered = make(chan answer, 1)
		mu       sync.Mutex
		lastErr  error
		tries    int
	)
	// Every request has ended before Poll returns.
	defer wg.Wait()
	tick := time.NewTicker(opts.Every)
	defer tick.Stop()
	for {
		tries++
		wg.Add(1)
		go func() {
			defer wg.Done()
			name, _, err := Post(l.Client, opts.Target, 0, opts.Timeout)
			if err != nil {
				mu.Lock()
				lastErr = err
				mu.Unlock()
				return
			}
			select {
			case answered <- answer{time.Now(), name}:
			default:
			}
		}()
		select {
		case a := <-answered:
			return a.at, a.name, nil
		case <-ctx.Done():
			mu.Lock()
			defer mu.Unlock()
			return time.Time{}, "", fmt.Errorf("no answer from %s in %d requests within %v; last error: %v", opts.Target, tries, opts.Within, lastErr)
		case <-tick.C:
		}
	}
}

// Procs returns every process the lab started, in start order, for logs.
func (l *Lab) Procs() []*Proc {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Proc(nil), l.procs...)
}
