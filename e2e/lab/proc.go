package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// stopGrace is how long a process gets between SIGTERM and SIGKILL.
const stopGrace = 5 * time.Second

// Proc is a long-running process the lab started and will stop by PID.
type Proc struct {
	Name string // what the lab calls it: "r1", "xlbd"
	Log  string // file holding its stdout and stderr

	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error // valid once done is closed
	stopped bool  // Stop sent SIGTERM; set before done can close from it
}

// Start runs argv as a process named name, its output going to
// Dir/name.log, and records it so Close stops it. The process gets its own
// process group, so Ctrl-C reaches only the program driving the lab, which
// then stops it in order; and SIGKILL if that program dies first.
func (l *Lab) Start(name string, argv ...string) (*Proc, error) {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("start %s: lab is closed", name)
	}
	logPath := filepath.Join(l.Dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log of %s: %w", name, err)
	}
	defer f.Close() // the child holds its own copy
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	l.log.Info("start process", "name", name, "pid", cmd.Process.Pid, "cmd", strings.Join(argv, " "), "log", logPath)
	return p, nil
}

// PID returns the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited and been reaped.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err returns how the process ended, once Done is closed.
func (p *Proc) Err() error {
	<-p.done
	return p.waitErr
}

// Stop sends SIGTERM and waits up to grace for the process to exit, then
// sends SIGKILL. It returns the exit error (nil for status 0) or says that
// the process had to be killed. Stopping an exited process returns how it
// ended.
func (p *Proc) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return p.waitErr
	default:
	}
	p.stopped = true
	// os.Process signals through a pidfd, so a reused PID is never hit.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s (pid %d): %w", p.Name, p.PID(), err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return p.waitErr
	case <-t.C:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("%s (pid %d) still ran %v after SIGTERM; killed", p.Name, p.PID(), grace)
}

// stopExpected reports whether err from Stop is just the process ending
// by the SIGTERM the lab sent (servers and tools that don't catch it).
func (p *Proc) stopExpected(err error) bool {
	var ee *exec.ExitError
	if !p.stopped || !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM
}

// Tail returns the last n lines of the process's log.
func (p *Proc) Tail(n int) string {
	b, err := os.ReadFile(p.Log)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", p.Log, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
