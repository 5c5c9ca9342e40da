package vrrp

import (
	"context"
	"testing"
	"time"

	"xlb/vrrp/packet"
)

// waitState waits (boundedly) for a notification that name entered want.
func waitState(t *testing.T, r *recorder, name string, want State) Notification {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case n := <-r.notes:
			if n.Name == name && n.State == want {
				return n
			}
		case <-deadline:
			t.Fatalf("%s did not enter %v within 10s", name, want)
		}
	}
}

// TestRun drives Run on the system clock with a short version 3 interval:
// takeover, yielding, takeover again, then the priority 0 goodbye.
func TestRun(t *testing.T) {
	r := newRecorder(systemClock{})
	o := testOptions("A", 1, r, nil)
	o.Version, o.AdvertInterval = 3, 20*time.Millisecond
	i, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- i.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-errc
	})

	waitState(t, r, "A", StateMaster)
	i.Receive(hi, packet.Advertisement{Version: 3, VRID: 1, Priority: 200, Interval: 300 * time.Millisecond, Addrs: o.VIPs})
	waitState(t, r, "A", StateBackup)
	if got := i.Status(); got.Master != hi || got.MasterAdvertInterval != 300*time.Millisecond {
		t.Errorf("backup's master %v interval %v, want %v 300ms", got.Master, got.MasterAdvertInterval, hi)
	}
	// hi falls silent: A takes over again after 3×300ms and the skew. The
	// status above is read well inside that second.
	waitState(t, r, "A", StateMaster)

	if err := i.d.run(ctx); err == nil {
		t.Error("second Run did not fail")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	errc <- nil // for the cleanup
	waitState(t, r, "A", StateStop)
	r.mu.Lock()
	defer r.mu.Unlock()
	if last := r.sent["A"]; last.Priority != PriorityStop || r.held["A"] {
		t.Errorf("after stop: last advert priority %d, addresses held %v; want 0, false", last.Priority, r.held["A"])
	}
	if len(r.misuse) > 0 {
		t.Errorf("addresser misused: %v", r.misuse)
	}
}

// TestRunFakeClock checks that Run sleeps on the Clock it is given.
func TestRunFakeClock(t *testing.T) {
	c := newFakeClock()
	r := newRecorder(c)
	i, err := New(testOptions("A", 1, r, c))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- i.Run(ctx) }()
	waitState(t, r, "A", StateBackup)
	// Run's wait on the fake clock may not be registered yet: move time
	// until the takeover shows, a bounded number of times.
	for n := 0; n < 1000 && i.Status().State != StateMaster; n++ {
		c.set(t0.Add(sec(3.609375)))
		time.Sleep(time.Millisecond)
	}
	n := waitState(t, r, "A", StateMaster)
	if want := t0.Add(sec(3.609375)); !n.Time.Equal(want) {
		t.Errorf("master at %v, want %v", n.Time, want)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}
