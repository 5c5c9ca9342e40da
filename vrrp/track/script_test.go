package track

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestCounter plays result sequences ('s' success, 'f' failure) and
// checks after each what changed: 'u' turned up, 'd' turned down, '.'
// nothing.
func TestCounter(t *testing.T) {
	tests := []struct {
		name       string
		rise, fall int
		initFail   bool
		results    string
		want       string
	}{
		{"first success decides", 1, 1, false, "ss", "u."},
		{"first failure decides", 1, 1, false, "ff", "d."},
		{"first success is enough despite rise 3", 3, 1, false, "sfs", "ud."},
		{"first failure is enough despite fall 3", 1, 3, false, "fs", "du"},
		{"init_fail needs rise successes", 3, 1, true, "sss", "..u"},
		{"init_fail failures reset the rise count", 3, 1, true, "ssfsss", ".....u"},
		{"init_fail stays down on failures", 2, 2, true, "fff", "..."},
		{"fall needs consecutive failures", 1, 3, false, "sffsfff", "u.....d"},
		{"rise needs consecutive successes", 2, 1, false, "fssfss", "d.ud.u"},
		{"fall 1 goes down at once", 2, 1, true, "ssf", ".ud"},
		{"alternating with rise 2 fall 2 never moves", 2, 2, false, "ssfsfsf", "u......"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCounter(tc.rise, tc.fall, tc.initFail)
			var got strings.Builder
			for _, r := range tc.results {
				switch {
				case !c.observe(r == 's'):
					got.WriteByte('.')
				case c.up():
					got.WriteByte('u')
				default:
					got.WriteByte('d')
				}
			}
			if diff := cmp.Diff(tc.want, got.String()); diff != "" {
				t.Errorf("changes for %q (-want +got):\n%s", tc.results, diff)
			}
		})
	}
}

// fakeRun is one scripted result of a fakeRunner.
type fakeRun struct {
	took time.Duration // fake time the run takes
	code int
	err  error
}

// fakeRunner returns its runs in order, moving the fake clock by each
// run's time, and ends the test's watcher after the last.
type fakeRunner struct {
	clock  *fakeClock
	runs   []fakeRun
	cancel context.CancelFunc
	starts []time.Duration // each run's start, from t0
	users  []string
}

func (r *fakeRunner) Run(ctx context.Context, argv []string, user string) (int, error) {
	if len(r.runs) == 0 {
		r.cancel()
		<-ctx.Done()
		return -1, ctx.Err()
	}
	run := r.runs[0]
	r.runs = r.runs[1:]
	r.starts = append(r.starts, r.clock.Now().Sub(t0))
	r.users = append(r.users, user)
	r.clock.Advance(run.took)
	return run.code, run.err
}

func TestScriptSchedule(t *testing.T) {
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	timedOut := fmt.Errorf("run chk: %w", context.DeadlineExceeded)
	tests := []struct {
		name       string
		s          Script
		runs       []fakeRun
		wantEvents []Event
		wantStarts []time.Duration
	}{
		{
			name: "exit codes with rise 2 fall 2",
			s:    Script{Rise: 2, Fall: 2, Interval: sec(2)},
			runs: []fakeRun{{code: 0}, {code: 1}, {code: 0}, {code: 1}, {code: 3}, {code: 0}, {code: 0}},
			wantEvents: []Event{
				{Up: true, Reason: "exited with status 0", At: t0},
				{Up: false, Reason: "exited with status 3", At: t0.Add(sec(8))},
				{Up: true, Reason: "exited with status 0", At: t0.Add(sec(12))},
			},
			wantStarts: []time.Duration{0, sec(2), sec(4), sec(6), sec(8), sec(10), sec(12)},
		},
		{
			name: "a timeout and a start error are failures",
			s:    Script{Interval: sec(1), Timeout: sec(0.5), Fall: 1},
			runs: []fakeRun{{code: 0}, {took: sec(0.5), err: timedOut}, {code: 0}, {err: errors.New("start chk: no such file")}},
			wantEvents: []Event{
				{Up: true, Reason: "exited with status 0", At: t0},
				{Up: false, Reason: "timed out after 500ms", At: t0.Add(sec(1.5))},
				{Up: true, Reason: "exited with status 0", At: t0.Add(sec(2))},
				{Up: false, Reason: "start chk: no such file", At: t0.Add(sec(3))},
			},
			wantStarts: []time.Duration{0, sec(1), sec(2), sec(3)},
		},
		{
			name: "a run longer than the interval skips ticks",
			s:    Script{Interval: sec(1), Timeout: sec(10)},
			runs: []fakeRun{{took: sec(2.5), code: 0}, {took: sec(1), code: 1}, {code: 1}},
			wantEvents: []Event{
				{Up: true, Reason: "exited with status 0", At: t0.Add(sec(2.5))},
				{Up: false, Reason: "exited with status 1", At: t0.Add(sec(4))},
			},
			// A run ending exactly on a tick was still running then.
			wantStarts: []time.Duration{0, sec(3), sec(5)},
		},
		{
			name: "init_fail starts down and needs rise",
			s:    Script{Interval: sec(1), Rise: 2, InitFail: true, User: "nobody"},
			runs: []fakeRun{{code: 0}, {code: 0}},
			wantEvents: []Event{
				{Up: false, Reason: "init_fail", At: t0},
				{Up: true, Reason: "exited with status 0", At: t0.Add(sec(1))},
			},
			wantStarts: []time.Duration{0, sec(1)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: t0}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := &fakeRunner{clock: clock, runs: tc.runs, cancel: cancel}
			ev := newEvents()
			s := tc.s
			s.Name, s.Argv = "chk", []string{"/bin/chk", "arg"}
			w, err := New(Options{Scripts: []Script{s}, Runner: r, Clock: clock, Notify: ev.notify}, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Run(ctx); err != nil {
				t.Fatalf("Run: %v", err)
			}
			close(ev.ch)
			var got []Event
			for e := range ev.ch {
				got = append(got, e)
			}
			for i := range tc.wantEvents {
				tc.wantEvents[i].Name, tc.wantEvents[i].Kind = "chk", KindScript
			}
			if diff := cmp.Diff(tc.wantEvents, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantStarts, r.starts); diff != "" {
				t.Errorf("run starts (-want +got):\n%s", diff)
			}
			for _, u := range r.users {
				if u != s.User {
					t.Errorf("runner got user %q, want %q", u, s.User)
				}
			}
			last := tc.wantEvents[len(tc.wantEvents)-1]
			st := w.Status()
			if len(st) != 1 || st[0].State != map[bool]State{true: StateUp, false: StateDown}[last.Up] || st[0].Since != last.At {
				t.Errorf("Status = %+v, want state up=%v since %v", st, last.Up, last.At)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	argv := []string{"/bin/true"}
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"script without command", Options{Scripts: []Script{{Name: "a"}}}, "empty command"},
		{"script weight", Options{Scripts: []Script{{Name: "a", Argv: argv, Weight: 254}}}, "weight: want -253..253, got 254"},
		{"negative rise", Options{Scripts: []Script{{Name: "a", Argv: argv, Rise: -1}}}, "rise -1"},
		{"unnamed script", Options{Scripts: []Script{{Argv: argv}}}, "empty name"},
		{"duplicate", Options{Scripts: []Script{{Name: "a", Argv: argv}, {Name: "a", Argv: argv}}}, `script "a": configured twice`},
		{"file weight", Options{Files: []File{{Name: "f", Path: "/x", Weight: -255}}}, "weight: want -254..254, got -255"},
		{"file path", Options{Files: []File{{Name: "f"}}}, "empty path"},
		{"quorum_max below quorum", Options{Processes: []Process{{Name: "p", Command: "x", Quorum: 3, QuorumMax: 2}}}, "quorum_max: want 3..65535, got 2"},
		{"none running with quorum", Options{Processes: []Process{{Name: "p", Command: "x", NoneRunning: true, Quorum: 1}}}, "want none with quorum_max 0"},
		{"process interval", Options{ProcessInterval: time.Millisecond}, "process interval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.o, testLogger(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// Two kinds may share a name: an interface and a script both "eth0".
	if _, err := New(Options{Scripts: []Script{{Name: "eth0", Argv: argv}}, Interfaces: []string{"eth0"}}, testLogger(t)); err != nil {
		t.Errorf("New with a script and an interface named alike: %v", err)
	}
}

// writeScript writes an executable shell script into dir.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExecRunnerExit(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		body     string
		wantCode int
		wantErr  string
	}{
		{"success", "exit 0\n", 0, ""},
		{"failure", "exit 1\n", 1, ""},
		{"other status", "exit 7\n", 7, ""},
		{"signal", "kill -USR1 $$\nsleep 5\n", -1, "killed by user defined signal 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeScript(t, dir, strings.ReplaceAll(tc.name, " ", "-"), tc.body)
			code, err := ExecRunner{}.Run(context.Background(), []string{p}, "")
			if code != tc.wantCode || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Run = %d, %v; want %d, error %q", code, err, tc.wantCode, tc.wantErr)
			}
		})
	}
	if _, err := (ExecRunner{}).Run(context.Background(), []string{filepath.Join(dir, "absent")}, ""); err == nil {
		t.Error("Run of a missing program: no error")
	}
	if _, err := (ExecRunner{}).Run(context.Background(), []string{"/bin/true"}, "no-such-user-xlb"); err == nil {
		t.Error("Run as a missing user: no error")
	}
}

func TestExecRunnerUser(t *testing.T) {
	dir := t.TempDir()
	// The script must be reachable for nobody: open up the test's
	// temporary directories (t.TempDir makes them 0700).
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := writeScript(t, dir, "uid", `test "$(id -u)" = 65534`+"\n")
	code, err := ExecRunner{}.Run(context.Background(), []string{p}, "nobody")
	if err != nil || code != 0 {
		t.Errorf("Run as nobody = %d, %v; want 0 (uid 65534)", code, err)
	}
}

// TestExecRunnerTimeoutKillsGroup runs scripts that outlive their timeout
// and leave a child behind; the child must die with them.
func TestExecRunnerTimeoutKillsGroup(t *testing.T) {
	tests := []struct {
		name string
		trap string
	}{
		{"leader dies of SIGTERM", ""},
		// The leader ignores SIGTERM: SIGKILL follows after the grace.
		{"leader ignores SIGTERM", "trap '' TERM\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pidFile := filepath.Join(dir, "child.pid")
			// The child ignores SIGTERM too, so only the group SIGKILL
			// ends it.
			p := writeScript(t, dir, "slow", tc.trap+
				"sh -c \"trap '' TERM; sleep 30\" &\necho $! > "+pidFile+"\nwait\n")
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			code, err := ExecRunner{}.Run(ctx, []string{p}, "")
			if code != -1 || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Run = %d, %v; want -1 and a deadline error", code, err)
			}
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatal(err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			waitGone(t, pid)
		})
	}
}

// waitGone waits (up to 5 s) until pid no longer runs; a zombie waiting
// for a reaper that does not reap counts as gone.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for range 100 {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if _, state, ok := parseStat(stat); ok && state == 'Z' {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("process %d still runs after the timeout", pid)
}

// TestWatcherRealScript runs a real script through the watcher, turning
// it from success to failure by a flag file.
func TestWatcherRealScript(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "fail")
	p := writeScript(t, dir, "chk", "test ! -e "+flag+"\n")
	ev := newEvents()
	w, err := New(Options{
		Scripts: []Script{{Name: "chk", Argv: []string{p}, Interval: 20 * time.Millisecond, Timeout: 5 * time.Second}},
		Notify:  ev.notify,
	}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	start(t, w)
	if e := ev.next(t); !e.Up || e.Name != "chk" {
		t.Fatalf("first event %+v, want chk up", e)
	}
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if e := ev.next(t); e.Up || e.Reason != "exited with status 1" {
		t.Fatalf("event %+v, want chk down, exited with status 1", e)
	}
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	if e := ev.next(t); !e.Up {
		t.Fatalf("event %+v, want chk up", e)
	}
}
