package script

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestRunExit(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Result
	}{
		{"exit 0", `/bin/sh -c "exit 0"`, Result{ExitCode: 0}},
		{"exit 1", `/bin/sh -c "exit 1"`, Result{ExitCode: 1}},
		{"exit 5", `/bin/sh -c "exit 5"`, Result{ExitCode: 5}},
		{"exit 255", `/bin/sh -c "exit 255"`, Result{ExitCode: 255}},
		{"bare name from PATH", `true`, Result{ExitCode: 0}},
		{"killed by a signal", `/bin/sh -c 'kill -USR1 $$'`, Result{ExitCode: -1, Signal: syscall.SIGUSR1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			argv, err := SplitWords(tc.line)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Run(t.Context(), Command{Argv: argv, Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(Result{}, "Duration")); diff != "" {
				t.Errorf("Run(%s) (-want +got):\n%s", tc.line, diff)
			}
		})
	}
}

func TestRunStartErrors(t *testing.T) {
	tests := []struct {
		name string
		cmd  Command
	}{
		{"empty argv", Command{}},
		{"missing program", Command{Argv: []string{"/nonexistent/prog"}}},
		{"unknown user", Command{Argv: []string{"true"}, User: "no-such-user-xlb"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Run(t.Context(), tc.cmd); err == nil {
				t.Errorf("Run(%+v) succeeded, want an error", tc.cmd)
			}
		})
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Run(ctx, Command{Argv: []string{"true"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a done ctx = %v, want context.Canceled", err)
	}
}

func TestRunEnvAndOutput(t *testing.T) {
	var out bytes.Buffer
	_, err := Run(t.Context(), Command{
		Argv:   []string{"/bin/sh", "-c", `echo "$XLB_TEST"`},
		Env:    []string{"XLB_TEST=hello"},
		Stdout: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != "hello" {
		t.Errorf("script saw XLB_TEST=%q, want hello", got)
	}
}

func TestRunAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("running as another user needs root; CI runs as root")
	}
	var out bytes.Buffer
	_, err := Run(t.Context(), Command{
		Argv:   []string{"/bin/sh", "-c", "id -u; id -g; id -G"},
		User:   "nobody",
		Group:  "nogroup",
		Stdout: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "65534\n65534\n65534\n"
	if got := out.String(); got != want {
		t.Errorf("id output as nobody:nogroup = %q, want %q", got, want)
	}
}

// trapTimeout is the timeout of scripts that must have set their SIGTERM
// trap before it strikes: the shell's start can take a few hundred
// milliseconds on a loaded machine (a SIGTERM before the trap ends the
// script as "terminated", and the test with it).
const trapTimeout = 2 * time.Second

// TestRunTimeoutKillsGroup runs a script whose child ignores SIGTERM and
// would live on after its parent; the timeout must kill both.
func TestRunTimeoutKillsGroup(t *testing.T) {
	for _, grace := range []time.Duration{0, 200 * time.Millisecond} {
		t.Run("grace "+grace.String(), func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			line := `/bin/sh -c 'trap "" TERM; sleep 60 & echo $! > ` + pidFile + `; wait'`
			argv, err := SplitWords(line)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Run(t.Context(), Command{Argv: argv, Timeout: trapTimeout, KillGrace: grace})
			if err != nil {
				t.Fatal(err)
			}
			want := Result{ExitCode: -1, Signal: syscall.SIGKILL, TimedOut: true}
			if diff := cmp.Diff(want, res, cmpopts.IgnoreFields(Result{}, "Duration")); diff != "" {
				t.Errorf("Run (-want +got):\n%s", diff)
			}
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

// TestRunGraceLetsScriptExit checks that with KillGrace a script that
// handles SIGTERM ends with its own exit code.
func TestRunGraceLetsScriptExit(t *testing.T) {
	res, err := Run(t.Context(), Command{
		Argv:      []string{"/bin/sh", "-c", `trap "exit 7" TERM; sleep 60 & wait`},
		Timeout:   trapTimeout,
		KillGrace: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Result{ExitCode: 7, TimedOut: true}
	if diff := cmp.Diff(want, res, cmpopts.IgnoreFields(Result{}, "Duration")); diff != "" {
		t.Errorf("Run (-want +got):\n%s", diff)
	}
}

// waitGone fails the test unless pid ends (or is a zombie: the orphan
// belongs to init, which may reap it late) within a few seconds.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for range 50 {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		// Field 3, after the parenthesised command name, is the state.
		if s := string(b); strings.Contains(s[strings.LastIndexByte(s, ')'):], ") Z") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("child %d of the timed-out script is still running", pid)
}
