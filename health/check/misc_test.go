package check

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"xlb/internal/script"
)

func TestMisc(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		dynamic bool
		want    Result
	}{
		{"exit 0", `/bin/sh -c "exit 0"`, false, Result{Up: true, Reason: "exit 0"}},
		{"exit 1", `/bin/sh -c "exit 1"`, false, Result{Reason: "exit 1"}},
		{"exit 5 without misc_dynamic", `/bin/sh -c "exit 5"`, false, Result{Reason: "exit 5"}},
		{"exit 0 dynamic keeps weight", `/bin/sh -c "exit 0"`, true, Result{Up: true, Reason: "exit 0"}},
		{"exit 1 dynamic", `/bin/sh -c "exit 1"`, true, Result{Reason: "exit 1"}},
		{"exit 5 dynamic is weight 3", `/bin/sh -c "exit 5"`, true, Result{Up: true, Reason: "exit 5, weight 3", Weight: 3, HasWeight: true}},
		{"exit 255 dynamic is weight 253", `/bin/sh -c "exit 255"`, true, Result{Up: true, Reason: "exit 255, weight 253", Weight: 253, HasWeight: true}},
		{"signal", `/bin/sh -c 'kill -KILL $$'`, true, Result{Reason: "killed by signal 9 (killed)"}},
		{"missing program", `/nonexistent/check`, false, Result{Reason: "start /nonexistent/check"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			argv, err := script.SplitWords(tc.line)
			if err != nil {
				t.Fatal(err)
			}
			c, err := NewMisc(MiscOptions{Argv: argv, Dynamic: tc.dynamic, Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			got := c.Check(t.Context())
			// Reasons with OS text are checked by prefix.
			if strings.HasPrefix(got.Reason, tc.want.Reason) {
				got.Reason = tc.want.Reason
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(Result{}, "Latency")); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMiscTimeout checks that misc_timeout, and separately the caller's
// deadline, kill the script's whole process group.
func TestMiscTimeout(t *testing.T) {
	for _, tc := range []struct {
		name     string
		timeout  time.Duration // misc_timeout
		deadline time.Duration // caller's ctx
	}{
		{"misc_timeout", 500 * time.Millisecond, time.Minute},
		{"ctx deadline", 0, 500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			c, err := NewMisc(MiscOptions{
				Argv:    []string{"/bin/sh", "-c", `sleep 60 & echo $! > "$1"; wait`, "sh", pidFile},
				Timeout: tc.timeout,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), tc.deadline)
			defer cancel()
			wantResult(t, c.Check(ctx), false, "timed out, killed")
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatalf("script did not record its child: %v", err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			waitGone(t, pid)
		})
	}
}

// waitGone fails the test unless pid ends (or is a zombie awaiting a
// late reap by init) within a few seconds.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for range 50 {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		if s := string(b); strings.Contains(s[strings.LastIndexByte(s, ')'):], ") Z") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("grandchild %d of the timed-out check is still running", pid)
}

func TestMiscResult(t *testing.T) {
	tests := []struct {
		res     script.Result
		dynamic bool
		want    Result
	}{
		{script.Result{ExitCode: 0}, false, Result{Up: true, Reason: "exit 0"}},
		{script.Result{ExitCode: 2}, true, Result{Up: true, Reason: "exit 2, weight 0", HasWeight: true}},
		{script.Result{ExitCode: 2}, false, Result{Reason: "exit 2"}},
		{script.Result{ExitCode: -1, Signal: syscall.SIGTERM}, true, Result{Reason: "killed by signal 15 (terminated)"}},
		{script.Result{ExitCode: 0, TimedOut: true}, true, Result{Reason: "timed out, killed"}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, MiscResult(tc.res, tc.dynamic)); diff != "" {
			t.Errorf("MiscResult(%+v, %v) (-want +got):\n%s", tc.res, tc.dynamic, diff)
		}
	}
}
