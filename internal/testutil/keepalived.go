package testutil

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Keepalived is Debian's keepalived running VRRP only (-P) in a namespace,
// as a peer for interoperability tests. It runs in its own process group,
// so its VRRP child can be killed with it (LAB-NOTES: SIGKILL of the parent
// alone leaves the child sending priority 0).
type Keepalived struct {
	cmd    *exec.Cmd
	exited chan struct{}
	once   sync.Once
	mu     sync.Mutex
	out    bytes.Buffer
}

// StartKeepalived writes conf to a file and runs keepalived on it in ns
// with its own pid files, until Stop, Kill or the end of the test.
func StartKeepalived(tb testing.TB, ns *NS, conf string) *Keepalived {
	tb.Helper()
	if _, err := exec.LookPath("keepalived"); err != nil {
		tb.Fatalf("keepalived is not installed (make deps): %v", err)
	}
	dir := tb.TempDir()
	cfg := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	k := &Keepalived{exited: make(chan struct{})}
	k.cmd = exec.Command("ip", "netns", "exec", ns.Name, "keepalived", "-n", "-l", "-D", "-P", "-f", cfg,
		"-p", filepath.Join(dir, "main.pid"), "-r", filepath.Join(dir, "vrrp.pid"),
		"-c", filepath.Join(dir, "checkers.pid"), "-b", filepath.Join(dir, "bfd.pid"))
	k.cmd.Stdout, k.cmd.Stderr = k, k
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := k.cmd.Start(); err != nil {
		tb.Fatalf("start keepalived: %v", err)
	}
	go func() {
		k.cmd.Wait()
		close(k.exited)
	}()
	tb.Cleanup(func() {
		k.Stop()
		if tb.Failed() {
			tb.Logf("keepalived output:\n%s", k.Log())
		}
	})
	return k
}

// Write collects keepalived's output; exec writes from its own goroutine.
func (k *Keepalived) Write(b []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.out.Write(b)
}

// Log returns keepalived's output so far.
func (k *Keepalived) Log() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.out.String()
}

// PID is the keepalived parent's process id (and its process group's).
func (k *Keepalived) PID() int { return k.cmd.Process.Pid }

// Stop stops keepalived as an operator would (SIGTERM: a master sends
// priority 0), waits up to 5 s, then kills what is left of its group.
func (k *Keepalived) Stop() {
	k.once.Do(func() {
		syscall.Kill(k.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-k.exited:
		case <-time.After(5 * time.Second):
		}
		syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
		<-k.exited
	})
}

// Kill crashes keepalived: SIGKILL to the parent and its VRRP child at
// once, so no priority 0 advert goes out.
func (k *Keepalived) Kill() {
	k.once.Do(func() {
		syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
		<-k.exited
	})
}

// WaitLog waits up to limit for keepalived to log s, and fails the test
// if it does not.
func (k *Keepalived) WaitLog(tb testing.TB, s string, limit time.Duration) {
	tb.Helper()
	for begin := time.Now(); time.Since(begin) < limit; time.Sleep(20 * time.Millisecond) {
		if strings.Contains(k.Log(), s) {
			return
		}
	}
	tb.Fatalf("keepalived did not log %q within %v:\n%s", s, limit, k.Log())
}
