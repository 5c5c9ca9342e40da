package health

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"xlb/health/check"
)

const s = time.Second

func secs(ns ...int) []time.Duration {
	out := []time.Duration{}
	for _, n := range ns {
		out = append(out, time.Duration(n)*s)
	}
	return out
}

func realOnly(evs []string) []string {
	out := []string{}
	for _, e := range evs {
		if !strings.Contains(e, "quorum") {
			out = append(out, e)
		}
	}
	return out
}

// TestCheckSemantics follows one check of one real through keepalived's
// retry, delay_before_retry and alpha, and xlb's rise and fall: when each
// attempt runs and which changes are reported.
func TestCheckSemantics(t *testing.T) {
	tests := []struct {
		name         string
		opts         CheckOptions
		script       string // + pass, - fail, one per attempt
		until        int    // seconds
		wantAttempts []time.Duration
		wantEvents   []string
	}{
		{
			name: "defaults: down on the first failure, up on the first pass",
			opts: CheckOptions{Interval: 10 * s}, script: "+-+", until: 25,
			wantAttempts: secs(0, 10, 20),
			wantEvents:   []string{"0s 198.18.0.11:80 up w1 (init)", "10s 198.18.0.11:80 down w1", "20s 198.18.0.11:80 up w1"},
		},
		{
			name: "retry: down once the first attempt and its retries fail",
			opts: CheckOptions{Interval: 10 * s, Retry: 2, RetryDelay: s}, script: "+---+", until: 25,
			wantAttempts: secs(0, 10, 11, 12, 22),
			wantEvents:   []string{"0s 198.18.0.11:80 up w1 (init)", "12s 198.18.0.11:80 down w1", "22s 198.18.0.11:80 up w1"},
		},
		{
			name: "retry: a pass among the retries keeps it up",
			opts: CheckOptions{Interval: 10 * s, Retry: 2, RetryDelay: s}, script: "+-+", until: 25,
			wantAttempts: secs(0, 10, 11, 21),
			wantEvents:   []string{"0s 198.18.0.11:80 up w1 (init)"},
		},
		{
			name: "delay_before_retry spaces the retries",
			opts: CheckOptions{Interval: 10 * s, Retry: 1, RetryDelay: 3 * s}, script: "--+", until: 20,
			wantAttempts: secs(0, 3, 13),
			wantEvents:   []string{"0s 198.18.0.11:80 up w1 (init)", "3s 198.18.0.11:80 down w1", "13s 198.18.0.11:80 up w1"},
		},
		{
			name: "a check that is down is not retried",
			opts: CheckOptions{Interval: 10 * s, Retry: 2, RetryDelay: s, Alpha: true}, script: "--+", until: 25,
			wantAttempts: secs(0, 10, 20),
			wantEvents:   []string{"0s 198.18.0.11:80 down w1 (init)", "20s 198.18.0.11:80 up w1"},
		},
		{
			name: "alpha: starts down, the first pass brings it up",
			opts: CheckOptions{Interval: 10 * s, Alpha: true}, script: "+", until: 5,
			wantAttempts: secs(0),
			wantEvents:   []string{"0s 198.18.0.11:80 down w1 (init)", "0s 198.18.0.11:80 up w1"},
		},
		{
			name: "rise 2, fall 3: rounds in a row, a break starts the count again",
			opts: CheckOptions{Interval: 10 * s, Rise: 2, Fall: 3, Alpha: true}, script: "++---+-++", until: 85,
			wantAttempts: secs(0, 10, 20, 30, 40, 50, 60, 70, 80),
			wantEvents: []string{"0s 198.18.0.11:80 down w1 (init)", "10s 198.18.0.11:80 up w1",
				"40s 198.18.0.11:80 down w1", "1m20s 198.18.0.11:80 up w1"},
		},
		{
			name: "fall counts rounds, each with its retries",
			opts: CheckOptions{Interval: 10 * s, Retry: 1, RetryDelay: s, Fall: 2}, script: "----+", until: 30,
			wantAttempts: secs(0, 1, 11, 12, 22),
			wantEvents:   []string{"0s 198.18.0.11:80 up w1 (init)", "12s 198.18.0.11:80 down w1", "22s 198.18.0.11:80 up w1"},
		},
		{
			name: "flapping under fall 2 reports nothing",
			opts: CheckOptions{Interval: 10 * s, Fall: 2}, script: "+-+-+-+-", until: 75,
			wantAttempts: secs(0, 10, 20, 30, 40, 50, 60, 70),
			wantEvents:   []string{"0s 198.18.0.11:80 up w1 (init)"},
		},
		{
			name: "warmup delays the first attempt",
			opts: CheckOptions{Interval: 10 * s, Warmup: 5 * s}, script: "+", until: 20,
			// rand seeded (1, 2) in newHarness: the draw is fixed.
			wantAttempts: []time.Duration{3846866346, 13846866346},
			wantEvents:   []string{"0s 198.18.0.11:80 up w1 (init)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			c := h.checker("TCP_CHECK", results(tc.script)...)
			h.update(Service{Name: "svc", Reals: []Real{{Addr: rs1, Weight: 1, Checks: []Check{{Checker: c, Options: tc.opts}}}}})
			h.until(time.Duration(tc.until) * s)
			if diff := cmp.Diff(tc.wantAttempts, c.times(h.start)); diff != "" {
				t.Errorf("attempts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantEvents, realOnly(h.events())); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRealNeedsAllChecks checks keepalived's rule that a real is up only
// while every one of its checks is, with one event per real change.
func TestRealNeedsAllChecks(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.checker("A", results("+--+++")...)
	b := h.checker("B", results("++--++")...)
	opts := CheckOptions{Interval: 10 * s}
	h.update(Service{Name: "svc", Reals: []Real{{
		Addr: rs1, Weight: 1,
		NotifyUp: cmd("/bin/up", "rs1"), NotifyDown: cmd("/bin/down", "rs1"),
		Checks: []Check{{Checker: a, Options: opts}, {Checker: b, Options: opts}},
	}}})
	h.until(55 * s)
	want := []string{"0s 198.18.0.11:80 up w1 (init)", "10s 198.18.0.11:80 down w1", "40s 198.18.0.11:80 up w1"}
	if diff := cmp.Diff(want, realOnly(h.events())); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	// notify_up and notify_down run as configured: keepalived adds no
	// arguments to them.
	wantCmds := []string{"/bin/down rs1", "/bin/up rs1"}
	if diff := cmp.Diff(wantCmds, h.commands()); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
}

// TestDynamicWeight checks that MISC_CHECK misc_dynamic results set the
// real's weight, that a repeated weight is no change, and that a plain
// pass (exit 0) keeps the weight asked for last.
func TestDynamicWeight(t *testing.T) {
	tests := []struct {
		name   string
		checks [][]check.Result
		want   []string
	}{
		{
			name:   "one check",
			checks: [][]check.Result{{weighted(5), weighted(5), weighted(9), fail, weighted(7), pass}},
			want: []string{"0s 198.18.0.11:80 up w10 (init)", "0s 198.18.0.11:80 up w5!", "20s 198.18.0.11:80 up w9!",
				"30s 198.18.0.11:80 down w9!", "40s 198.18.0.11:80 up w7!"},
		},
		{
			name: "two checks add their differences to the configured weight",
			// 10 + (14-10) + (8-10) = 12
			checks: [][]check.Result{{pass, weighted(14)}, {pass, pass, weighted(8)}},
			want:   []string{"0s 198.18.0.11:80 up w10 (init)", "10s 198.18.0.11:80 up w14!", "20s 198.18.0.11:80 up w12!"},
		},
		{
			name: "a FILE_CHECK offset adds to the configured weight, beside misc_dynamic",
			// 10 + 3 = 13, then 10 + 3 + (6-10) = 9
			checks: [][]check.Result{{offset(3)}, {pass, weighted(6)}},
			want:   []string{"0s 198.18.0.11:80 up w10 (init)", "0s 198.18.0.11:80 up w13!", "10s 198.18.0.11:80 up w9!"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			var checks []Check
			for i, rs := range tc.checks {
				checks = append(checks, Check{Checker: h.checker(fmt.Sprint("MISC_CHECK ", i), rs...), Options: CheckOptions{Interval: 10 * s}})
			}
			h.update(Service{Name: "svc", Reals: []Real{{Addr: rs1, Weight: 10, Checks: checks}}})
			h.until(55 * s)
			events := h.m.events.take()
			if diff := cmp.Diff(tc.want, realOnly(h.spell(events))); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			// UpChanged marks exactly the events whose up/down differs
			// from the one before: weight changes alone are not.
			var prev *Event
			for i, e := range events {
				if e.IsQuorum() {
					continue
				}
				want := prev != nil && e.Health.Up != prev.Health.Up
				if e.UpChanged != want {
					t.Errorf("event %q: UpChanged %v, want %v", h.short(e), e.UpChanged, want)
				}
				prev = &events[i]
			}
		})
	}
}

// TestQuorum takes three reals of weight 1 down one by one (at 10, 20 and
// 30 s) and back (at 60, 70 and 80 s) and checks keepalived's quorum with
// hysteresis and its quorum_up / quorum_down commands.
func TestQuorum(t *testing.T) {
	tests := []struct {
		name               string
		quorum, hysteresis int
		want, wantCmds     []string
	}{
		{
			name: "quorum 2", quorum: 2,
			want:     []string{"0s quorum up (init)", "20s quorum down", "1m10s quorum up"},
			wantCmds: []string{"/bin/qdown", "/bin/qup"},
		},
		{
			name: "quorum 2 hysteresis 1: kept down to 1, regained at 3", quorum: 2, hysteresis: 1,
			want:     []string{"0s quorum up (init)", "30s quorum down", "1m20s quorum up"},
			wantCmds: []string{"/bin/qdown", "/bin/qup"},
		},
		{
			name: "quorum 3", quorum: 3,
			want:     []string{"0s quorum up (init)", "10s quorum down", "1m20s quorum up"},
			wantCmds: []string{"/bin/qdown", "/bin/qup"},
		},
		{
			name: "quorum 4 is never met", quorum: 4,
			want:     []string{"0s quorum down (init)"},
			wantCmds: nil,
		},
		{
			name: "quorum 0 means 1", quorum: 0,
			want:     []string{"0s quorum up (init)", "30s quorum down", "1m0s quorum up"},
			wantCmds: []string{"/bin/qdown", "/bin/qup"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			opts := CheckOptions{Interval: 10 * s}
			svc := Service{
				Name: "svc", Quorum: tc.quorum, Hysteresis: tc.hysteresis,
				QuorumUp: cmd("/bin/qup"), QuorumDown: cmd("/bin/qdown"),
				Reals: []Real{
					{Addr: rs1, Weight: 1, Checks: []Check{{Checker: h.checker("A", results("+-------+")...), Options: opts}}},
					{Addr: rs2, Weight: 1, Checks: []Check{{Checker: h.checker("B", results("++-----++")...), Options: opts}}},
					{Addr: rs3, Weight: 1, Checks: []Check{{Checker: h.checker("C", results("+++---+++")...), Options: opts}}},
				},
			}
			h.update(svc)
			h.until(95 * s)
			var got []string
			for _, e := range h.events() {
				if strings.Contains(e, "quorum") {
					got = append(got, e)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("quorum events (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantCmds, h.commands()); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHASuspend checks that an ha_suspend service's checks run only while
// the node is active, and that its state outlives a pause.
func TestHASuspend(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.checker("A", results("+-")...)
	h.m.SetActive("other", true) // a word for another service changes nothing here
	h.update(Service{Name: "svc", HASuspend: true, Reals: []Real{{Addr: rs1, Weight: 1,
		Checks: []Check{{Checker: c, Options: CheckOptions{Interval: 10 * s}}}}}})
	h.until(30 * s)
	if !h.m.Snapshot().Services[0].Suspended {
		t.Error("Snapshot: service not suspended before SetActive")
	}
	h.m.SetActive("svc", true)
	h.until(45 * s)
	h.m.SetActive("svc", false)
	h.until(80 * s)
	h.m.SetActive("svc", true)
	h.until(85 * s)
	if diff := cmp.Diff(secs(30, 40, 80), c.times(h.start)); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	want := []string{"0s 198.18.0.11:80 up w1 (init)", "40s 198.18.0.11:80 down w1"}
	if diff := cmp.Diff(want, realOnly(h.events())); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestHASuspendWishFirst checks that SetActive before the service exists
// is remembered (VRRP may report before the config is loaded).
func TestHASuspendWishFirst(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.checker("A")
	h.m.SetActive("svc", true)
	h.update(Service{Name: "svc", HASuspend: true, Reals: []Real{{Addr: rs1, Weight: 1,
		Checks: []Check{{Checker: c, Options: CheckOptions{Interval: 10 * s}}}}}})
	h.until(15 * s)
	if diff := cmp.Diff(secs(0, 10), c.times(h.start)); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
}

// TestReload checks that a reload keeps the state of what stays, starts
// what is new, stops what is gone (with omega's notify_down), and applies
// a shorter delay_loop at once.
func TestReload(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.checker("A", results("+-")...)
	b := h.checker("B")
	c := h.checker("C")
	d := h.checker("D")
	long, short := CheckOptions{Interval: 10 * s}, CheckOptions{Interval: 5 * s}
	rs1Spec := Real{Addr: rs1, Weight: 1, Checks: []Check{{ID: "a", Checker: a, Options: long}, {ID: "b", Checker: b, Options: long}}}
	svc := Service{Name: "svc", Omega: true, Reals: []Real{
		rs1Spec,
		{Addr: rs2, Weight: 1, NotifyDown: cmd("/bin/down", "rs2"), Checks: []Check{{ID: "c", Checker: c, Options: long}}},
	}}
	h.update(svc)
	h.until(15 * s)

	// rs1 is down (a failed at 10 s). Reload: a's delay_loop shrinks, rs2
	// goes, rs3 comes.
	rs1Spec.Checks[0].Options = short
	svc.Reals = []Real{rs1Spec, {Addr: rs3, Weight: 1, Checks: []Check{{ID: "d", Checker: d, Options: long}}}}
	h.update(svc)
	h.until(26 * s)
	// Reload: drop the failing check; rs1 comes up.
	rs1Spec.Checks = rs1Spec.Checks[1:]
	svc.Reals[0] = rs1Spec
	h.update(svc)
	h.until(30 * s)

	want := []string{
		"0s 198.18.0.11:80 up w1 (init)", "0s 198.18.0.12:80 up w1 (init)",
		"10s 198.18.0.11:80 down w1",
		"15s 198.18.0.13:80 up w1 (init)",
		"26s 198.18.0.11:80 up w1",
	}
	if diff := cmp.Diff(want, realOnly(h.events())); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(secs(0, 10, 15, 20, 25), a.times(h.start)); diff != "" {
		t.Errorf("check a's attempts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(secs(0, 10, 20, 30), b.times(h.start)); diff != "" {
		t.Errorf("check b's attempts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(secs(0, 10), c.times(h.start)); diff != "" {
		t.Errorf("removed check c's attempts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"/bin/down rs2"}, h.commands()); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	// b kept its history through both reloads.
	got := h.m.Snapshot().Services[0].Reals[0].Checks[0]
	if got.ID != "b" || got.ConsecutiveSuccess != 4 {
		t.Errorf("check b after reloads: id %q, %d successes; want b, 4", got.ID, got.ConsecutiveSuccess)
	}
}

// TestWarmupSpread checks that warmup scatters the first attempts of many
// checks over the warmup time.
func TestWarmupSpread(t *testing.T) {
	h := newHarness(t, Config{})
	const n = 1000
	var reals []Real
	var checkers []*fakeChecker
	for i := range n {
		c := h.checker("A")
		checkers = append(checkers, c)
		reals = append(reals, Real{Addr: netipPort(i), Weight: 1,
			Checks: []Check{{Checker: c, Options: CheckOptions{Interval: time.Minute, Warmup: 10 * s}}}})
	}
	h.update(Service{Name: "svc", Reals: reals})
	h.until(10 * s)
	var buckets [10]int
	for _, c := range checkers {
		ts := c.times(h.start)
		if len(ts) != 1 {
			t.Fatalf("%d attempts in the warmup, want 1", len(ts))
		}
		buckets[ts[0]/s]++
	}
	for i, b := range buckets {
		// 100 expected per second; 50 is far outside chance (seeded anyway).
		if b < 50 {
			t.Errorf("second %d of the warmup holds %d of %d first attempts, want >= 50: %v", i, b, n, buckets)
		}
	}
}

// TestSlowStart checks the recovering real's weight ramp and that quorum
// counts the full weight meanwhile.
func TestSlowStart(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.checker("A", results("-+")...)
	h.update(Service{Name: "svc", Quorum: 100, Reals: []Real{{Addr: rs1, Weight: 100, SlowStart: 10 * s,
		Checks: []Check{{Checker: c, Options: CheckOptions{Interval: time.Minute}}}}}})
	h.until(65 * s)
	snap := h.m.Snapshot().Services[0]
	if r := snap.Reals[0]; r.SlowStartUntil == nil || !r.SlowStartUntil.Equal(h.start.Add(70*s)) || !snap.QuorumUp {
		t.Errorf("at 65 s: slow start until %v, quorum up %v; want start+70s, true", r.SlowStartUntil, snap.QuorumUp)
	}
	h.until(75 * s)
	want := []string{"0s 198.18.0.11:80 up w100 (init)", "0s quorum up (init)", "0s 198.18.0.11:80 down w100", "0s quorum down",
		"1m0s 198.18.0.11:80 up w1!", "1m0s quorum up"}
	for i := 1; i < 10; i++ {
		want = append(want, fmt.Sprintf("1m%ds 198.18.0.11:80 up w%d!", i, i*10))
	}
	want = append(want, "1m10s 198.18.0.11:80 up w100")
	if diff := cmp.Diff(want, h.events()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestSlowStartAbort checks that a real failing during its ramp drops the
// ramp, and ramps again from 1 when it recovers.
func TestSlowStartAbort(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.checker("A", results("-+-+")...)
	h.update(Service{Name: "svc", Reals: []Real{{Addr: rs1, Weight: 10, SlowStart: 95 * s,
		Checks: []Check{{Checker: c, Options: CheckOptions{Interval: 30 * s}}}}}})
	h.until(95 * s)
	// The ramp's 10 steps come every 9.5 s: w1 at 39.5 s is no change,
	// w2 at 49 s, w3 at 58.5 s; the failure at 60 s ends it, and the
	// recovery at 90 s starts again from 1.
	want := []string{"0s 198.18.0.11:80 up w10 (init)", "0s 198.18.0.11:80 down w10",
		"30s 198.18.0.11:80 up w1!", "49s 198.18.0.11:80 up w2!", "58.5s 198.18.0.11:80 up w3!",
		"1m0s 198.18.0.11:80 down w10", "1m30s 198.18.0.11:80 up w1!"}
	if diff := cmp.Diff(want, realOnly(h.events())); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestValidate(t *testing.T) {
	ok := Check{Checker: &fakeChecker{name: "A"}}
	tests := []struct {
		name string
		svcs []Service
		want string
	}{
		{"empty name", []Service{{}}, "service: empty name"},
		{"twice", []Service{{Name: "a"}, {Name: "a"}}, `service "a": listed twice`},
		{"real twice", []Service{{Name: "a", Reals: []Real{{Addr: rs1}, {Addr: rs1}}}}, `service "a": real 198.18.0.11:80: listed twice`},
		{"weight", []Service{{Name: "a", Reals: []Real{{Addr: rs1, Weight: -1}}}}, `service "a": real 198.18.0.11:80: weight: want >= 0, got -1`},
		{"nil checker", []Service{{Name: "a", Reals: []Real{{Addr: rs1, Checks: []Check{{}}}}}}, `service "a": real 198.18.0.11:80: check 1: checker: nil`},
		{"retry", []Service{{Name: "a", Reals: []Real{{Addr: rs1, Checks: []Check{ok, {Checker: ok.Checker, Options: CheckOptions{Retry: -1}}}}}}},
			`service "a": real 198.18.0.11:80: check 2: retry: want >= 0, got -1`},
		{"valid", []Service{{Name: "a", Reals: []Real{{Addr: rs1, Checks: []Check{ok}}}}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if err := New(Config{}).Update(tc.svcs); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Update error = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDuplicateIDs checks that two checks with one name get distinct
// identities, so each keeps its own state.
func TestDuplicateIDs(t *testing.T) {
	h := newHarness(t, Config{})
	opts := CheckOptions{Interval: 10 * s}
	h.update(Service{Name: "svc", Reals: []Real{{Addr: rs1, Weight: 1, Checks: []Check{
		{Checker: h.checker("TCP_CHECK"), Options: opts}, {Checker: h.checker("TCP_CHECK"), Options: opts},
	}}}})
	var got []string
	for _, c := range h.m.Snapshot().Services[0].Reals[0].Checks {
		got = append(got, c.ID)
	}
	if diff := cmp.Diff([]string{"TCP_CHECK", "TCP_CHECK#2"}, got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

// TestJitter checks that Config.Jitter lengthens each wait by up to its
// fraction, differently each time.
func TestJitter(t *testing.T) {
	h := newHarness(t, Config{Jitter: 0.5})
	c := h.checker("A")
	h.update(Service{Name: "svc", Reals: []Real{{Addr: rs1, Weight: 1,
		Checks: []Check{{Checker: c, Options: CheckOptions{Interval: 10 * s}}}}}})
	h.until(200 * s)
	ts := c.times(h.start)
	gaps := map[time.Duration]bool{}
	for i := 1; i < len(ts); i++ {
		g := ts[i] - ts[i-1]
		if g < 10*s || g >= 15*s {
			t.Errorf("wait %d = %s, want in [10s, 15s)", i, g)
		}
		gaps[g] = true
	}
	if len(ts) < 12 || len(gaps) < len(ts)-1 {
		t.Errorf("%d attempts with %d distinct waits in 200 s; want >= 12, all distinct", len(ts), len(gaps))
	}
}
