package health

import (
	"testing"
	"time"

	"xlb/health/check"
)

// FuzzCheckSequence feeds arbitrary options and result sequences to one
// real with two checks and asserts the reporting invariants the control
// plane relies on: every reported change differs from the one before
// (a flapping real costs at most one event per change), attempts never go
// back in time, and the last event matches Snapshot.
func FuzzCheckSequence(f *testing.F) {
	f.Add([]byte{1, 0, 0, 1, 0}, []byte("+-+-++--+"), []byte("++-+"))
	f.Add([]byte{3, 2, 2, 0, 1}, []byte("-----+++++"), []byte("+"))
	f.Add([]byte{0, 1, 1, 1, 3}, []byte("+2-9+5"), []byte("-+-+-+"))
	f.Fuzz(func(t *testing.T, opts, a, b []byte) {
		if len(opts) < 5 || len(a) > 64 || len(b) > 64 {
			return
		}
		o := CheckOptions{
			Interval:   10 * time.Second,
			Retry:      int(opts[0] % 4),
			RetryDelay: time.Duration(opts[1]%4) * time.Second,
			Rise:       int(opts[2] % 4),
			Fall:       int(opts[3] % 4),
			Alpha:      opts[4]&1 == 1,
			Warmup:     time.Duration(opts[4]>>1%4) * time.Second,
		}
		h := newHarness(t, Config{})
		ca := h.checker("A", decode(a)...)
		cb := h.checker("B", decode(b)...)
		h.update(Service{Name: "svc", Reals: []Real{{Addr: rs1, Weight: 10, SlowStart: time.Duration(opts[4]>>3%2) * 30 * time.Second,
			Checks: []Check{{Checker: ca, Options: o}, {Checker: cb, Options: o}}}}})
		h.until(20 * time.Minute)

		var last *RealHealth
		for _, e := range h.m.events.take() {
			if e.IsQuorum() {
				continue
			}
			hh := e.Health
			hh.Reason = ""
			if last != nil && *last == hh {
				t.Fatalf("event repeats the state before it: %+v", e)
			}
			last = &hh
		}
		for _, c := range []*fakeChecker{ca, cb} {
			ts := c.times(h.start)
			for i := 1; i < len(ts); i++ {
				if ts[i] < ts[i-1] {
					t.Fatalf("attempts go back in time: %v", ts)
				}
			}
		}
		got := h.m.Snapshot().Services[0].Reals[0].RealHealth
		got.Reason = ""
		if last == nil || *last != got {
			t.Fatalf("Snapshot says %+v, last event %+v", got, last)
		}
	})
}

// decode spells results: '+' passes, a digit passes asking weight digit
// (misc_dynamic), anything else fails.
func decode(b []byte) []check.Result {
	var out []check.Result
	for _, c := range b {
		switch {
		case c == '+':
			out = append(out, pass)
		case c >= '0' && c <= '9':
			out = append(out, weighted(int(c-'0')))
		default:
			out = append(out, fail)
		}
	}
	return out
}
