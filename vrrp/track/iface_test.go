package track

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"xlb/internal/testutil"
)

func TestLinkUp(t *testing.T) {
	tests := []struct {
		name       string
		flags      uint32
		want       bool
		wantReason string
	}{
		{"up and running", 0x1 | 0x40, true, "up"},
		{"admin down", 0x40, false, "admin down"},
		{"no carrier", 0x1, false, "no carrier"},
		{"nothing", 0, false, "admin down"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := linkUp(tc.flags); got != tc.want {
				t.Errorf("linkUp(%#x) = %v, want %v", tc.flags, got, tc.want)
			}
			if got := linkReason(tc.flags); got != tc.wantReason {
				t.Errorf("linkReason(%#x) = %q, want %q", tc.flags, got, tc.wantReason)
			}
		})
	}
}

// TestInterfaces tracks links in a namespace of their own while the test
// takes them down and up, cuts the carrier, deletes, renames and creates
// them.
func TestInterfaces(t *testing.T) {
	ns := testutil.NetNS(t)
	ns.MustRun(t, "ip", "link", "add", "a0", "type", "veth", "peer", "name", "a1")
	ev := newEvents()
	w, err := New(Options{
		Interfaces: []string{"a0", "b0"},
		Namespace:  &ns.Handle,
		Notify:     ev.notify,
	}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	start(t, w)

	ignoreAt := cmpopts.IgnoreFields(Event{}, "At")
	want := func(name string, up bool, reason string) {
		t.Helper()
		got := ev.next(t)
		if diff := cmp.Diff(Event{Name: name, Kind: KindInterface, Up: up, Reason: reason}, got, ignoreAt); diff != "" {
			t.Fatalf("event (-want +got):\n%s", diff)
		}
	}
	// The initial state comes in map order: collect both.
	first := map[string]Event{}
	for range 2 {
		e := ev.next(t)
		e.At = t0
		first[e.Name] = e
	}
	wantFirst := map[string]Event{
		"a0": {Name: "a0", Kind: KindInterface, Reason: "admin down", At: t0},
		"b0": {Name: "b0", Kind: KindInterface, Reason: "not found", At: t0},
	}
	if diff := cmp.Diff(wantFirst, first); diff != "" {
		t.Fatalf("initial events (-want +got):\n%s", diff)
	}

	ns.MustRun(t, "ip", "link", "set", "a0", "up") // no carrier yet: the peer is down
	ns.MustRun(t, "ip", "link", "set", "a1", "up")
	want("a0", true, "up")
	ns.MustRun(t, "ip", "link", "set", "a1", "down")
	want("a0", false, "no carrier")
	ns.MustRun(t, "ip", "link", "set", "a1", "up")
	want("a0", true, "up")
	ns.MustRun(t, "ip", "link", "set", "a0", "down")
	want("a0", false, "admin down")
	ns.MustRun(t, "ip", "link", "set", "a0", "up")
	want("a0", true, "up")
	// The kernel reports a deleted link down first, so the event may
	// say either; Status ends on "deleted".
	ns.MustRun(t, "ip", "link", "set", "a1", "name", "x1") // peer events must not count
	ns.MustRun(t, "ip", "link", "del", "a0")
	if e := ev.next(t); e.Name != "a0" || e.Up {
		t.Fatalf("event %+v, want a0 down", e)
	}

	ns.MustRun(t, "ip", "link", "add", "b0", "type", "veth", "peer", "name", "b1")
	ns.MustRun(t, "ip", "link", "set", "b1", "up")
	ns.MustRun(t, "ip", "link", "set", "b0", "up")
	want("b0", true, "up")
	ns.MustRun(t, "ip", "link", "set", "b0", "down")
	want("b0", false, "admin down")
	// Rename the tracked link away; its peer takes the name and comes
	// up, its carrier given by the old link now called c0.
	ns.MustRun(t, "ip", "link", "set", "b0", "name", "c0")
	ns.MustRun(t, "ip", "link", "set", "b1", "down")
	ns.MustRun(t, "ip", "link", "set", "b1", "name", "b0")
	ns.MustRun(t, "ip", "link", "set", "b0", "up")
	ns.MustRun(t, "ip", "link", "set", "c0", "up")
	want("b0", true, "up")
	ns.MustRun(t, "ip", "link", "set", "c0", "down") // b0 loses carrier
	want("b0", false, "no carrier")

	wantSt := []Status{
		{Name: "a0", Kind: KindInterface, State: StateDown, Reason: "deleted"},
		{Name: "b0", Kind: KindInterface, State: StateDown, Reason: "no carrier"},
	}
	var diff string
	for range 100 { // the last notes may trail the events
		diff = cmp.Diff(wantSt, w.Status(), cmpopts.IgnoreFields(Status{}, "Since"))
		if diff == "" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
	ev.none(t, 200*time.Millisecond)
}
