package track

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"xlb/internal/testutil"
)

func TestProcessMatches(t *testing.T) {
	cl := func(argv ...string) []byte { return []byte(strings.Join(argv, "\x00") + "\x00") }
	tests := []struct {
		name    string
		p       Process
		comm    string
		cmdline []byte
		want    bool
	}{
		{"comm equal", Process{Command: "haproxy"}, "haproxy", cl("/usr/sbin/haproxy", "-f", "x"), true},
		{"comm is exact, not a pattern", Process{Command: "ssh"}, "sshd", nil, false},
		{"full command compares argv0", Process{Command: "/usr/sbin/haproxy", FullCommand: true}, "haproxy", cl("/usr/sbin/haproxy", "-f", "x"), true},
		{"full command ignores comm", Process{Command: "haproxy", FullCommand: true}, "haproxy", cl("/usr/sbin/haproxy"), false},
		{"kernel thread has no command line", Process{Command: "", FullCommand: true}, "kthreadd", nil, false},
		{"params exact", Process{Command: "a", Params: []string{"-f", "x"}}, "", cl("a", "-f", "x"), true},
		{"params exact wants no more", Process{Command: "a", Params: []string{"-f"}}, "", cl("a", "-f", "x"), false},
		{"params exact wants no less", Process{Command: "a", Params: []string{"-f", "x"}}, "", cl("a", "-f"), false},
		{"param_match without params wants none", Process{Command: "a", ParamMatch: ParamExact}, "", cl("a"), true},
		{"param_match without params rejects some", Process{Command: "a", ParamMatch: ParamExact}, "", cl("a", "-d"), false},
		{"partial allows more", Process{Command: "a", Params: []string{"-f"}, ParamMatch: ParamPartial}, "", cl("a", "-f", "x"), true},
		{"partial wants whole words", Process{Command: "a", Params: []string{"-f"}, ParamMatch: ParamPartial}, "", cl("a", "-foo"), false},
		{"initial allows a longer last word", Process{Command: "a", Params: []string{"-f", "/etc/ha"}, ParamMatch: ParamInitial}, "", cl("a", "-f", "/etc/haproxy.cfg"), true},
		{"initial wants earlier words whole", Process{Command: "a", Params: []string{"-f", "/etc"}, ParamMatch: ParamInitial}, "", cl("a", "-foo", "/etc"), false},
		{"initial without params takes any", Process{Command: "a", ParamMatch: ParamInitial}, "", cl("a", "x"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			p.Name = "p"
			if p.Command != "" {
				if err := p.normalize(); err != nil {
					t.Fatal(err)
				}
			}
			if got := p.matches(tc.comm, tc.cmdline); got != tc.want {
				t.Errorf("matches(%q, %q) = %v, want %v", tc.comm, tc.cmdline, got, tc.want)
			}
		})
	}
}

func TestProcessWithin(t *testing.T) {
	tests := []struct {
		name string
		p    Process
		n    []int
		want []bool
	}{
		{"default quorum 1", Process{}, []int{0, 1, 5}, []bool{false, true, true}},
		{"quorum 2 max 3", Process{Quorum: 2, QuorumMax: 3}, []int{1, 2, 3, 4}, []bool{false, true, true, false}},
		{"quorum_max 1", Process{QuorumMax: 1}, []int{0, 1, 2}, []bool{false, true, false}},
		{"quorum_max 0: none running", Process{NoneRunning: true}, []int{0, 1}, []bool{true, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			p.Command = "x"
			if err := p.normalize(); err != nil {
				t.Fatal(err)
			}
			var got []bool
			for _, n := range tc.n {
				got = append(got, p.within(n))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("within %v (-want +got):\n%s", tc.n, diff)
			}
		})
	}
}

// TestDebounce steps the delay logic through fork and terminate delays.
func TestDebounce(t *testing.T) {
	type step struct {
		at   time.Duration
		want bool // the state seen
		// changed is the expected report: "" none, "up" or "down".
		changed string
	}
	tests := []struct {
		name     string
		up, down time.Duration
		steps    []step
	}{
		{"no delays report at once", 0, 0, []step{
			{0, false, "down"}, {1, true, "up"}, {2, true, ""}, {3, false, "down"}}},
		{"fork delay holds up back", 3, 0, []step{
			{0, false, "down"}, {1, true, ""}, {2, true, ""}, {4, true, "up"}, {5, false, "down"}}},
		{"a bounce shorter than the terminate delay is not reported", 0, 3, []step{
			{0, true, "up"}, {1, false, ""}, {2, true, ""}, {3, false, ""}, {5, false, ""}, {6, false, "down"}}},
		{"the first state is reported without delay", 5, 5, []step{{0, true, "up"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d debounce
			for _, s := range tc.steps {
				got := ""
				if d.step(s.want, t0.Add(s.at*time.Second), tc.up*time.Second, tc.down*time.Second) {
					got = map[bool]string{true: "up", false: "down"}[d.up]
				}
				if got != s.changed {
					t.Errorf("at %ds seeing %v: reported %q, want %q", s.at, s.want, got, s.changed)
				}
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		in        string
		wantComm  string
		wantState byte
		wantOK    bool
	}{
		{"1 (init) S 0 1 1", "init", 'S', true},
		{"42 (a) b) (c) Z 1 2", "a) b) (c", 'Z', true},
		{"42 (x y) R 1", "x y", 'R', true},
		{"42 (broken", "", 0, false},
		{"42 (x)", "", 0, false},
		{"", "", 0, false},
	}
	for _, tc := range tests {
		comm, state, ok := parseStat([]byte(tc.in))
		if comm != tc.wantComm || state != tc.wantState || ok != tc.wantOK {
			t.Errorf("parseStat(%q) = %q, %q, %v; want %q, %q, %v", tc.in, comm, state, ok, tc.wantComm, tc.wantState, tc.wantOK)
		}
	}
}

// TestProcesses starts and stops copies of sleep under a name of their
// own and checks the watcher's events as the count crosses the quorums.
func TestProcesses(t *testing.T) {
	dir := t.TempDir()
	name := strings.ReplaceAll(testutil.UniqueName("xs"), "-", "")
	name = name[:min(len(name), 15)] // comm holds 15 bytes
	bin := filepath.Join(dir, name)
	copyFile(t, "/bin/sleep", bin)

	ev := newEvents()
	w, err := New(Options{
		Processes: []Process{
			// By name: up with two or more.
			{Name: "two", Command: name, Quorum: 2},
			// By command line with "30": up with exactly one.
			{Name: "one", Command: bin, Params: []string{"30"}, QuorumMax: 1},
			// Up while none runs.
			{Name: "none", Command: name, NoneRunning: true},
		},
		ProcessInterval: 20 * time.Millisecond,
		Notify:          ev.notify,
	}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	start(t, w)

	ignore := cmpopts.IgnoreFields(Event{}, "At", "Reason")
	wantEvents := func(want ...Event) {
		t.Helper()
		got := map[string]Event{}
		for range want {
			e := ev.next(t)
			got[e.Name] = e
		}
		wantMap := map[string]Event{}
		for _, e := range want {
			e.Kind = KindProcess
			wantMap[e.Name] = e
		}
		if diff := cmp.Diff(wantMap, got, ignore); diff != "" {
			t.Fatalf("events (-want +got):\n%s", diff)
		}
	}
	wantEvents(Event{Name: "two"}, Event{Name: "one"}, Event{Name: "none", Up: true})

	p1 := startProc(t, bin, "30")
	wantEvents(Event{Name: "one", Up: true, Value: 1}, Event{Name: "none", Value: 1})
	p2 := startProc(t, bin, "31") // matches by name, not by command line
	wantEvents(Event{Name: "two", Up: true, Value: 2})
	p3 := startProc(t, bin, "30")
	wantEvents(Event{Name: "one", Value: 2})
	stopProc(t, p3)
	wantEvents(Event{Name: "one", Up: true, Value: 1})
	stopProc(t, p1)
	wantEvents(Event{Name: "two", Value: 1}, Event{Name: "one"})
	stopProc(t, p2)
	wantEvents(Event{Name: "none", Up: true})
	ev.none(t, 100*time.Millisecond)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// startProc starts a process that the test stops by PID at the latest
// when it ends.
func startProc(t *testing.T, bin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopProc(t, cmd) })
	return cmd
}

// stopProc kills cmd by its PID and reaps it; a second call does nothing.
func stopProc(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if cmd.ProcessState != nil {
		return
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Errorf("kill %d: %v", cmd.Process.Pid, err)
	}
	_ = cmd.Wait()
}

// BenchmarkScanProc measures one scan of /proc as the watcher does it
// when some processes match by name and some by command line.
func BenchmarkScanProc(b *testing.B) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	procs := 0
	for _, e := range ents {
		if e.IsDir() && e.Name()[0] >= '1' && e.Name()[0] <= '9' {
			procs++
		}
	}
	for b.Loop() {
		if _, err := scanProc("/proc", true, true); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(procs), "procs")
}
