package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"xlb/controlplane/api"
)

// DaemonOptions say which xlbd to run in the lab and with what.
type DaemonOptions struct {
	XLBD   string // path of the xlbd binary
	XLBCtl string // path of the xlbctl binary
	Config string // keepalived.conf for -f
	// Ready bounds the wait for the socket, a working `services` and every
	// weighted real resolved; 0 means 20 s.
	Ready time.Duration
}

// Daemon is xlbd running in the lab's load balancer.
type Daemon struct {
	Proc   *Proc
	Socket string // the API socket, Dir/xlbd.sock
	BPFFS  string // the pin directory, /sys/fs/bpf/<lab name>
	ctl    string
}

// logTail is how many lines of xlbd's log an error carries.
const logTail = 30

// StartDaemon runs xlbd in the load balancer's namespace with nsenter
// --net (LAB-NOTES: `ip netns exec` would hide the host's bpffs), pinning
// under /sys/fs/bpf/<lab name> and serving its API on Dir/xlbd.sock. It
// returns once the daemon is ready: the socket answers `services` and no
// real is unresolved. Errors carry the tail of xlbd's log.
func (l *Lab) StartDaemon(ctx context.Context, opts DaemonOptions) (*Daemon, error) {
	if opts.Ready <= 0 {
		opts.Ready = 20 * time.Second
	}
	var bins [3]string
	for i, p := range []string{opts.XLBD, opts.XLBCtl, opts.Config} {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, err
		}
		bins[i] = abs
	}
	xlbd, ctl, conf := bins[0], bins[1], bins[2]
	d := &Daemon{
		Socket: filepath.Join(l.Dir, "xlbd.sock"),
		BPFFS:  "/sys/fs/bpf/" + l.Name,
		ctl:    ctl,
	}
	// sun_path holds 108 bytes with the terminating NUL.
	if len(d.Socket) > 107 {
		return nil, fmt.Errorf("socket path %s: longer than a unix socket allows", d.Socket)
	}
	l.mu.Lock()
	if l.daemon != nil {
		l.mu.Unlock()
		return nil, errors.New("a daemon already runs in this lab")
	}
	l.daemon = d
	l.pins = append(l.pins, d.BPFFS)
	l.mu.Unlock()

	p, err := l.Start("xlbd", "nsenter", "--net="+l.LB.Path(), "--",
		xlbd, "-f", conf, "-i", "eth0", "--bpffs", d.BPFFS, "--socket", d.Socket)
	if err != nil {
		return nil, err
	}
	d.Proc = p
	l.log.Info("wait for xlbd", "socket", d.Socket, "within", opts.Ready)
	if err := d.waitReady(ctx, opts.Ready); err != nil {
		return nil, fmt.Errorf("%w\n--- xlbd log (last %d lines) ---\n%s", err, logTail, p.Tail(logTail))
	}
	l.log.Info("xlbd ready", "pid", p.PID(), "bpffs", d.BPFFS)
	return d, nil
}

// waitReady polls until the daemon answers with every real resolved, the
// daemon exits, or within passes.
func (d *Daemon) waitReady(ctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := errors.New("socket not there yet")
	for {
		select {
		case <-d.Proc.Done():
			return fmt.Errorf("xlbd exited before it was ready: %v", d.Proc.Err())
		case <-ctx.Done():
			return fmt.Errorf("xlbd not ready after %v: %w", within, last)
		case <-tick.C:
		}
		if _, err := os.Stat(d.Socket); err != nil {
			continue
		}
		svcs, err := d.Services(ctx)
		if err != nil {
			last = err
			continue
		}
		last = unresolved(svcs)
		if last == nil {
			return nil
		}
	}
}

// unresolved names the first real still waiting for its MAC.
func unresolved(svcs []api.Service) error {
	if len(svcs) == 0 {
		return errors.New("no services yet")
	}
	for _, s := range svcs {
		for _, r := range s.Reals {
			if r.State == api.RealUnresolved {
				return fmt.Errorf("real %s of %s:%d still unresolved", r.Address, s.VIP, s.Port)
			}
		}
	}
	return nil
}

// CtlResult is how one xlbctl run ended.
type CtlResult struct {
	Stdout, Stderr string
	Code           int // exit status
}

// RunCtl runs `xlbctl --socket socket args...` on the host (the socket is
// a file; no namespace needed), bounded to 10 s. The error is only for
// an xlbctl that could not run or was killed; exit codes are in the result.
func RunCtl(ctx context.Context, xlbctl, socket string, args ...string) (CtlResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, xlbctl, append([]string{"--socket", socket}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := CtlResult{Stdout: out.String(), Stderr: errb.String(), Code: -1}
	if cmd.ProcessState != nil {
		res.Code = cmd.ProcessState.ExitCode() // -1 when killed by a signal
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && res.Code >= 0 {
		err = nil
	}
	if err != nil {
		return res, fmt.Errorf("xlbctl %v: %w", args, err)
	}
	return res, nil
}

// Ctl runs xlbctl against this daemon.
func (d *Daemon) Ctl(ctx context.Context, args ...string) (CtlResult, error) {
	return RunCtl(ctx, d.ctl, d.Socket, args...)
}

// Services returns `xlbctl services -o json`, decoded into the API's own
// types: xlbctl prints what the API answers.
func (d *Daemon) Services(ctx context.Context) ([]api.Service, error) {
	res, err := d.Ctl(ctx, "services", "-o", "json")
	if err != nil {
		return nil, err
	}
	if res.Code != 0 {
		return nil, fmt.Errorf("xlbctl services: exit %d: %s", res.Code, res.Stderr)
	}
	var st api.Services
	if err := json.Unmarshal([]byte(res.Stdout), &st); err != nil {
		return nil, fmt.Errorf("decode xlbctl services: %w", err)
	}
	return st.Services, nil
}

// SetWeight runs `xlbctl weight SERVICE REAL WEIGHT`, service written as
// "198.18.0.100:80/tcp".
func (d *Daemon) SetWeight(ctx context.Context, service string, real netip.AddrPort, weight int) error {
	res, err := d.Ctl(ctx, "weight", service, real.String(), strconv.Itoa(weight))
	if err != nil {
		return err
	}
	if res.Code != 0 {
		return fmt.Errorf("xlbctl weight %s %s %d: exit %d: %s", service, real, weight, res.Code, res.Stderr)
	}
	return nil
}

// Stop sends SIGTERM and waits for a clean exit; the error says how it
// ended otherwise, with the tail of its log.
func (d *Daemon) Stop() error {
	if err := d.Proc.Stop(stopGrace); err != nil {
		return fmt.Errorf("stop xlbd: %w\n--- xlbd log (last %d lines) ---\n%s", err, logTail, d.Proc.Tail(logTail))
	}
	return nil
}

// Tail returns the last n lines of xlbd's log.
func (d *Daemon) Tail(n int) string { return d.Proc.Tail(n) }

// FindService returns the service on vip:port from an xlbctl listing.
func FindService(svcs []api.Service, vip netip.Addr, port uint16) (api.Service, bool) {
	for _, s := range svcs {
		if a, err := netip.ParseAddr(s.VIP); err == nil && a == vip && s.Port == port {
			return s, true
		}
	}
	return api.Service{}, false
}

// RealOf returns the lab's node behind a real that xlbctl lists.
func (l *Lab) RealOf(r api.Real) (Node, error) {
	addr, err := netip.ParseAddr(r.Address)
	if err != nil {
		return Node{}, fmt.Errorf("xlbd reports real %q: %w", r.Address, err)
	}
	n, ok := l.Real(addr)
	if !ok {
		return Node{}, fmt.Errorf("xlbd reports real %s, which is not in the lab", addr)
	}
	return n, nil
}

// Weights maps each real of s to the lab's name for it ("r1") and the
// effective weight xlbd uses, for Compare. Names come in xlbd's order.
func (l *Lab) Weights(s api.Service) (weights map[string]int, names []string, err error) {
	weights = make(map[string]int, len(s.Reals))
	for _, r := range s.Reals {
		n, err := l.RealOf(r)
		if err != nil {
			return nil, nil, err
		}
		weights[n.Role] = r.EffectiveWeight
		names = append(names, n.Role)
	}
	return weights, names, nil
}
