package health

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"xlb/health/check"
)

// blockingChecker holds each attempt until its ctx is done, counting how
// many run at once.
type blockingChecker struct {
	inflight, peak *atomic.Int64
}

func (b blockingChecker) String() string { return "BLOCK" }

func (b blockingChecker) Check(ctx context.Context) check.Result {
	n := b.inflight.Add(1)
	defer b.inflight.Add(-1)
	for {
		p := b.peak.Load()
		if n <= p || b.peak.CompareAndSwap(p, n) {
			break
		}
	}
	<-ctx.Done()
	return check.Result{Up: false, Reason: context.Cause(ctx).Error()}
}

// runMonitor starts m.Run and returns a stop function that cancels it and
// returns Run's error once it has returned.
func runMonitor(t *testing.T, m *Monitor) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				err = errors.New("Run did not return 30 s after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// waitFor polls cond for up to 30 s: long enough for a loaded CI machine,
// and it asserts an outcome, not a duration.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 3000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

// TestRunBoundsConcurrency checks that no more than Concurrency attempts
// run at once, that each attempt ends at its timeout, and that Run ends
// every attempt when cancelled.
func TestRunBoundsConcurrency(t *testing.T) {
	var inflight, peak atomic.Int64
	events := make(chan Event, 1000)
	m := New(Config{Concurrency: 3, OnChange: func(e Event) { events <- e }})
	var reals []Real
	for i := range 20 {
		reals = append(reals, Real{Addr: netipPort(i), Weight: 1, Checks: []Check{{
			Checker: blockingChecker{&inflight, &peak},
			Options: CheckOptions{Interval: 10 * time.Millisecond, Timeout: 50 * time.Millisecond},
		}}})
	}
	if err := m.Update([]Service{{Name: "svc", Reals: reals}}); err != nil {
		t.Fatal(err)
	}
	stop := runMonitor(t, m)
	// Every real goes down by timeout, though only 3 attempts run at once.
	down := map[string]string{}
	waitFor(t, "20 reals down", func() bool {
		for {
			select {
			case e := <-events:
				if !e.IsQuorum() && !e.Health.Up {
					down[e.Real.String()] = e.Health.Reason
				}
			default:
				return len(down) == 20
			}
		}
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := peak.Load(); got != 3 {
		t.Errorf("peak attempts at once = %d, want 3", got)
	}
	if got := inflight.Load(); got != 0 {
		t.Errorf("%d attempts still running after Run returned", got)
	}
	for r, reason := range down {
		if !strings.Contains(reason, "deadline exceeded") {
			t.Errorf("real %s down for %q, want a deadline", r, reason)
		}
	}
}

// TestRunReloadAndOmega adds a service to a running Monitor, sees its
// changes delivered in order, and checks that Run's end runs omega's
// notify_down and quorum_down.
func TestRunReloadAndOmega(t *testing.T) {
	var mu sync.Mutex
	var cmds []string
	var evs []string
	m := New(Config{
		Notifier: NotifierFunc(func(ctx context.Context, n Notification) error {
			mu.Lock()
			defer mu.Unlock()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			cmds = append(cmds, strings.Join(n.Command.Argv, " "))
			return nil
		}),
		OnChange: func(e Event) {
			mu.Lock()
			defer mu.Unlock()
			if e.IsQuorum() {
				evs = append(evs, "quorum "+upDown(e.QuorumUp))
			} else {
				evs = append(evs, e.Real.String()+" "+upDown(e.Health.Up))
			}
		},
	})
	stop := runMonitor(t, m)
	fc := &fakeChecker{name: "A", clk: SystemClock{}, results: results("-+")}
	err := m.Update([]Service{{
		Name: "svc", Omega: true, QuorumDown: cmd("/bin/qdown"), QuorumUp: cmd("/bin/qup"),
		Reals: []Real{{Addr: rs1, Weight: 1, NotifyUp: cmd("/bin/up"), NotifyDown: cmd("/bin/down"),
			Checks: []Check{{Checker: fc, Options: CheckOptions{Interval: 10 * time.Millisecond}}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the real to fail and recover", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(evs) >= 6
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	wantEvs := []string{"198.18.0.11:80 up", "quorum up", "198.18.0.11:80 down", "quorum down", "198.18.0.11:80 up", "quorum up"}
	if diff := cmp.Diff(wantEvs, evs); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	wantCmds := []string{"/bin/down", "/bin/qdown", "/bin/up", "/bin/qup", "/bin/down", "/bin/qdown"}
	if diff := cmp.Diff(wantCmds, cmds); diff != "" {
		t.Errorf("commands, the last two omega's (-want +got):\n%s", diff)
	}
}

func TestRunTwice(t *testing.T) {
	m := New(Config{})
	stop := runMonitor(t, m)
	waitFor(t, "Run to start", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.running
	})
	if err := m.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestRunFakeClock drives Run, not the test harness, in fake time: the
// scheduler must wait on the Clock's timers, not on real time.
func TestRunFakeClock(t *testing.T) {
	clk := newFakeClock()
	start := clk.Now()
	fc := &fakeChecker{name: "A", clk: clk}
	m := New(Config{Clock: clk})
	if err := m.Update([]Service{{Name: "svc", Reals: []Real{{Addr: rs1, Weight: 1,
		Checks: []Check{{Checker: fc, Options: CheckOptions{Interval: time.Hour}}}}}}}); err != nil {
		t.Fatal(err)
	}
	stop := runMonitor(t, m)
	for i := 1; i <= 3; i++ {
		waitFor(t, "an attempt and its next schedule", func() bool {
			c := m.Snapshot().Services[0].Reals[0].Checks[0]
			return len(fc.times(start)) == i && c.NextCheck != nil
		})
		clk.Advance(time.Hour)
	}
	waitFor(t, "the fourth attempt", func() bool { return len(fc.times(start)) == 4 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{0, time.Hour, 2 * time.Hour, 3 * time.Hour}
	if diff := cmp.Diff(want, fc.times(start)); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
}
