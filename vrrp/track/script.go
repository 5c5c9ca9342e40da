package track

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Script is a vrrp_script: a command run every Interval whose exit status
// says whether the object is up.
type Script struct {
	Name string // the vrrp_script name
	// Argv is the script line split into words (no shell), argv[0] the
	// program.
	Argv []string
	// Interval is the time between the starts of two runs (interval);
	// 0 means one second. A run still going at a tick skips that tick.
	Interval time.Duration
	// Timeout ends a run that takes longer (timeout); 0 means Interval.
	// A timed-out run is a failure and its whole process group is killed.
	Timeout time.Duration
	// Weight and Reverse are the script's default weight (weight N
	// [reverse], -253..253). The instance applies them (a track_script
	// line may override them); the watcher only checks the range.
	Weight  int
	Reverse bool
	// Rise and Fall are the consecutive successes that bring a down
	// script up and the consecutive failures that bring an up one down
	// (rise, fall); 0 means 1.
	Rise, Fall int
	// User runs the script as "user" or "user:group" (user); "" means
	// the daemon's own user.
	User string
	// InitFail starts the script down (init_fail), so it needs Rise
	// successes to come up. Without it the first result decides.
	InitFail bool
}

func (s *Script) normalize() error {
	if len(s.Argv) == 0 || s.Argv[0] == "" {
		return errors.New("script: empty command")
	}
	if s.Interval < 0 || s.Timeout < 0 {
		return fmt.Errorf("interval %v, timeout %v: want positive", s.Interval, s.Timeout)
	}
	if s.Interval == 0 {
		s.Interval = time.Second
	}
	if s.Timeout == 0 {
		s.Timeout = s.Interval
	}
	if s.Weight < -253 || s.Weight > 253 {
		return fmt.Errorf("weight: want -253..253, got %d", s.Weight)
	}
	if s.Rise < 0 || s.Fall < 0 {
		return fmt.Errorf("rise %d, fall %d: want positive", s.Rise, s.Fall)
	}
	s.Rise, s.Fall = max(s.Rise, 1), max(s.Fall, 1)
	return nil
}

// Runner runs one script to completion. It returns the exit status of a
// run that exited, or an error for one that did not start, was killed by
// a signal, or was stopped because ctx ended (then the error wraps
// ctx.Err(), so a timeout is errors.Is context.DeadlineExceeded).
type Runner interface {
	Run(ctx context.Context, argv []string, user string) (exitCode int, err error)
}

// ExecRunner is the default Runner: os/exec in a new process group. When
// ctx ends it sends SIGTERM to the group and, two seconds later, SIGKILL,
// as keepalived does. It is a stand-in: at integration internal/script's
// runner (script security, grace, environment) replaces it.
type ExecRunner struct{}

// killGrace is the time a timed-out script gets between SIGTERM and
// SIGKILL (keepalived: 2 s).
const killGrace = 2 * time.Second

// Run implements Runner.
func (ExecRunner) Run(ctx context.Context, argv []string, userSpec string) (int, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if userSpec != "" {
		cred, err := credential(userSpec)
		if err != nil {
			return -1, err
		}
		cmd.SysProcAttr.Credential = cred
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = killGrace
	if err := cmd.Start(); err != nil {
		return -1, fmt.Errorf("start %s: %w", argv[0], err)
	}
	pgid := cmd.Process.Pid
	err := cmd.Wait()
	if ctx.Err() != nil {
		// The leader is gone, but children that ignored SIGTERM or
		// outlived it would keep running: end the whole group.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return -1, fmt.Errorf("run %s: %w", argv[0], ctx.Err())
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -1, fmt.Errorf("run %s: killed by %v", argv[0], ws.Signal())
		}
		return exitErr.ExitCode(), nil
	}
	if err != nil {
		return -1, fmt.Errorf("run %s: %w", argv[0], err)
	}
	return 0, nil
}

// credential resolves "user" or "user:group"; the group defaults to the
// user's primary group.
func credential(spec string) (*syscall.Credential, error) {
	name, group, _ := strings.Cut(spec, ":")
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("script user %q: %w", name, err)
	}
	gid := u.Gid
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return nil, fmt.Errorf("script group %q: %w", group, err)
		}
		gid = g.Gid
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("script user %q: uid %q: %w", name, u.Uid, err)
	}
	g, err := strconv.ParseUint(gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("script user %q: gid %q: %w", name, gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(g)}, nil
}

// counter is keepalived's rise/fall count (vrrp_script result): 0..rise-1
// is down, rise..rise+fall-1 up. A success while down counts up and at
// rise turns up, jumping to the top; a failure while up counts down and
// below rise turns down, dropping to 0, so both need consecutive results.
type counter struct {
	rise, fall int
	n          int
	init       bool // no result yet and no init_fail: the first decides
}

func newCounter(rise, fall int, initFail bool) counter {
	if initFail {
		return counter{rise: rise, fall: fall}
	}
	// One success is enough to come up, one failure to go down.
	return counter{rise: rise, fall: fall, n: rise - 1, init: true}
}

// up reports the current state; meaningless while init.
func (c *counter) up() bool { return c.n >= c.rise }

// observe counts one result and reports whether the state changed (the
// first result of a script without init_fail always does).
func (c *counter) observe(ok bool) (changed bool) {
	wasInit := c.init
	c.init = false
	top := c.rise + c.fall - 1
	if ok {
		switch {
		case c.n < c.rise-1:
			c.n++
			return false
		case c.n == top:
			return false
		default:
			changed = c.n < c.rise
			c.n = top
			return changed
		}
	}
	if c.n > c.rise {
		c.n--
		return false
	}
	changed = c.n == c.rise || wasInit
	c.n = 0
	return changed
}

// runScript runs s every Interval until ctx ends, emitting an Event when
// the rise/fall count turns it up or down.
func (w *Watcher) runScript(ctx context.Context, s *Script) {
	c := newCounter(s.Rise, s.Fall, s.InitFail)
	if s.InitFail {
		w.emit(Event{Name: s.Name, Kind: KindScript, Up: false, Reason: "init_fail", At: w.o.Clock.Now()})
	}
	for {
		start := w.o.Clock.Now()
		runCtx, cancel := context.WithTimeout(ctx, s.Timeout)
		code, err := w.o.Runner.Run(runCtx, s.Argv, s.User)
		cancel()
		if ctx.Err() != nil {
			return // a run cut short by shutdown says nothing about the script
		}
		ok, reason := err == nil && code == 0, "exited with status 0"
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			reason = fmt.Sprintf("timed out after %v", s.Timeout)
		case err != nil:
			reason = err.Error()
		case code != 0:
			reason = fmt.Sprintf("exited with status %d", code)
		}
		end := w.o.Clock.Now()
		w.log.Debug("script ran", "name", s.Name, "ok", ok, "reason", reason)
		if c.observe(ok) {
			w.emit(Event{Name: s.Name, Kind: KindScript, Up: c.up(), Reason: reason, At: end})
		} else {
			w.note(KindScript, s.Name, reason)
		}
		next := start.Add(s.Interval)
		for !next.After(end) {
			next = next.Add(s.Interval)
		}
		if !w.sleep(ctx, next.Sub(end)) {
			return
		}
	}
}
