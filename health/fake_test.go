package health

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"xlb/health/check"
)

// fakeClock is a Clock whose time moves only when a test says so.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[*fakeTimer]struct{}
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), timers: map[*fakeTimer]struct{}{}}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves time to t and fires the timers due by then.
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	var due []*fakeTimer
	for ft := range c.timers {
		if !ft.when.After(t) {
			due = append(due, ft)
			delete(c.timers, ft)
		}
	}
	c.mu.Unlock()
	for _, ft := range due {
		if ft.f != nil {
			ft.f()
			continue
		}
		select {
		case ft.c <- t:
		default:
		}
	}
}

func (c *fakeClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	ft := &fakeTimer{clk: c, c: make(chan time.Time, 1)}
	ft.Reset(d)
	return ft
}

func (c *fakeClock) WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	ft := &fakeTimer{clk: c, f: func() { cancel(context.DeadlineExceeded) }}
	ft.Reset(d)
	return ctx, func() { ft.Stop(); cancel(context.Canceled) }
}

type fakeTimer struct {
	clk  *fakeClock
	c    chan time.Time
	f    func()
	when time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	_, armed := t.clk.timers[t]
	delete(t.clk.timers, t)
	t.clk.mu.Unlock()
	if t.c != nil {
		select { // no stale value after Stop, as time.Timer since Go 1.23
		case <-t.c:
		default:
		}
	}
	return armed
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	armed := t.Stop()
	t.clk.mu.Lock()
	t.when = t.clk.now.Add(d)
	t.clk.timers[t] = struct{}{}
	t.clk.mu.Unlock()
	if d <= 0 {
		t.clk.Set(t.clk.Now())
	}
	return armed
}

// fakeChecker returns scripted results: the i-th attempt gets results[i],
// and the last one repeats. Each attempt's time is recorded.
type fakeChecker struct {
	name string
	clk  Clock

	mu       sync.Mutex
	results  []check.Result
	attempts []time.Time
}

func (f *fakeChecker) String() string { return f.name }

func (f *fakeChecker) Check(ctx context.Context) check.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts = append(f.attempts, f.clk.Now())
	if len(f.results) == 0 {
		return check.Result{Up: true, Reason: "ok"}
	}
	r := f.results[0]
	if len(f.results) > 1 {
		f.results = f.results[1:]
	}
	return r
}

// script replaces the results still to come.
func (f *fakeChecker) script(rs ...check.Result) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.results = rs
}

func (f *fakeChecker) times(start time.Time) []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []time.Duration
	for _, t := range f.attempts {
		out = append(out, t.Sub(start))
	}
	return out
}

var (
	pass = check.Result{Up: true, Reason: "ok"}
	fail = check.Result{Up: false, Reason: "connection refused"}
)

func weighted(w int) check.Result {
	return check.Result{Up: true, Reason: "exit " + fmt.Sprint(w+2), Weight: w, HasWeight: true}
}

// offset is a FILE_CHECK pass asking to add w to the configured weight.
func offset(w int) check.Result {
	return check.Result{Up: true, Reason: "value " + fmt.Sprint(w), Weight: w, HasWeight: true, WeightOffset: true}
}

// results spells a script as "+-+": + passes, - fails.
func results(s string) []check.Result {
	var out []check.Result
	for _, c := range s {
		if c == '+' {
			out = append(out, pass)
		} else {
			out = append(out, fail)
		}
	}
	return out
}

// harness drives a Monitor in fake time without Run: it runs each due
// attempt inline, in due order, so scenarios are exact and instant while
// sharing all of Run's logic but the goroutines.
type harness struct {
	t     *testing.T
	clk   *fakeClock
	m     *Monitor
	start time.Time
	notes []Notification
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, clk: newFakeClock()}
	h.start = h.clk.Now()
	cfg.Clock = h.clk
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(1, 2))
	}
	cfg.Notifier = NotifierFunc(func(ctx context.Context, n Notification) error { return nil })
	h.m = New(cfg)
	return h
}

func (h *harness) checker(name string, rs ...check.Result) *fakeChecker {
	return &fakeChecker{name: name, clk: h.clk, results: rs}
}

// until runs everything due up to start+at.
func (h *harness) until(at time.Duration) {
	h.t.Helper()
	end := h.start.Add(at)
	for range 1_000_000 {
		j, ok, wait := h.m.next()
		if ok {
			h.m.execute(context.Background(), j)
			continue
		}
		if wait < 0 || h.clk.Now().Add(wait).After(end) {
			h.clk.Set(end)
			return
		}
		h.clk.Advance(wait)
	}
	h.t.Fatal("until: runaway schedule")
}

func (h *harness) update(svcs ...Service) {
	h.t.Helper()
	if err := h.m.Update(svcs); err != nil {
		h.t.Fatal(err)
	}
}

// events drains the changes so far, each spelled as short does.
func (h *harness) events() []string { return h.spell(h.m.events.take()) }

// spell is events' words for es.
func (h *harness) spell(es []Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, h.short(e))
	}
	return out
}

// commands drains the notify commands so far, as their argv joined.
func (h *harness) commands() []string {
	var out []string
	for _, n := range h.m.notes.take() {
		out = append(out, strings.Join(n.Command.Argv, " "))
	}
	return out
}

// short spells an event for tables: "12s 198.18.0.11:80 down w1 (init)",
// "12s quorum up".
func (h *harness) short(e Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s ", e.Time.Sub(h.start))
	if e.IsQuorum() {
		b.WriteString("quorum " + upDown(e.QuorumUp))
	} else {
		fmt.Fprintf(&b, "%s %s w%d", e.Real, upDown(e.Health.Up), e.Health.Weight)
		if e.Health.HasWeight {
			b.WriteString("!")
		}
	}
	if e.Initial {
		b.WriteString(" (init)")
	}
	return b.String()
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

var (
	rs1 = netip.MustParseAddrPort("198.18.0.11:80")
	rs2 = netip.MustParseAddrPort("198.18.0.12:80")
	rs3 = netip.MustParseAddrPort("198.18.0.13:80")
)

func cmd(argv ...string) Command { return Command{Argv: argv} }

// netipPort returns a distinct real address for i.
func netipPort(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), 80)
}
