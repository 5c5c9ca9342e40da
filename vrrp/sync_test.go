package vrrp

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// newGroup returns instances A (VRID 1) and B (VRID 2) in sync group G.
func newGroup(t *testing.T, c *fakeClock, r *recorder, opts func(name string, o *Options), g SyncGroupOptions) (*SyncGroup, map[string]*Instance) {
	t.Helper()
	byName := map[string]*Instance{}
	var members []*Instance
	for n, name := range []string{"A", "B"} {
		o := testOptions(name, uint8(n+1), r, c)
		if opts != nil {
			opts(name, &o)
		}
		i, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		byName[name] = i
		members = append(members, i)
	}
	g.Name, g.Notifier = "G", r
	sg, err := NewSyncGroup(g, members...)
	if err != nil {
		t.Fatal(err)
	}
	return sg, byName
}

func TestSyncGroupScenarios(t *testing.T) {
	both := func(until time.Duration) []string {
		return []string{"0s A BACKUP", "0s B BACKUP", "0s G BACKUP",
			// A times out first but waits for B, which times out at the same time.
			"3.609375s B send 100", "3.609375s B take", "3.609375s B MASTER", "3.609375s G MASTER",
			"3.609375s A send 100", "3.609375s A take", "3.609375s A MASTER"}
	}
	tests := []struct {
		name   string
		opts   func(name string, o *Options)
		group  SyncGroupOptions
		events []event
		until  time.Duration
		want   []string
	}{
		{
			name:  "members become master together",
			until: sec(4),
			want:  both(sec(4)),
		},
		{
			name: "a member stays backup while another hears its master",
			events: []event{{at: sec(1), to: "B", from: hi, prio: 150}, {at: sec(2), to: "B", from: hi, prio: 150},
				{at: sec(3), to: "B", from: hi, prio: 150}, {at: sec(4), to: "B", from: hi, prio: 150}},
			// A's timer runs out at 3.609375s and again at 7.21875s; B's at
			// 7.609375s, and then both go.
			until: sec(8),
			want: []string{"0s A BACKUP", "0s B BACKUP", "0s G BACKUP",
				"7.609375s B send 100", "7.609375s B take", "7.609375s B MASTER", "7.609375s G MASTER",
				"7.609375s A send 100", "7.609375s A take", "7.609375s A MASTER"},
		},
		{
			name:   "one member's fault takes all to fault, its recovery all to backup",
			events: []event{trk(sec(4), "eth0", Track{Kind: TrackInterface}), trk(sec(5), "eth0", Track{Kind: TrackInterface, Up: true})},
			until:  sec(6),
			want: append(both(0),
				"4s A send 0", "4s A release", "4s A FAULT", "4s G FAULT", "4s B send 0", "4s B release", "4s B FAULT",
				"5s A BACKUP", "5s G BACKUP", "5s B BACKUP"),
		},
		{
			name: "the group stays in fault until every member recovers",
			events: []event{trk(sec(1), "x", Track{}), {at: sec(1), to: "B", track: "y"},
				trk(sec(2), "x", Track{Up: true}), {at: sec(3), to: "B", track: "y", t: Track{Up: true}}},
			until: sec(3.5),
			want: []string{"0s A BACKUP", "0s B BACKUP", "0s G BACKUP",
				"1s A FAULT", "1s G FAULT", "1s B FAULT", "3s B BACKUP", "3s G BACKUP", "3s A BACKUP"},
		},
		{
			name:   "a master that yields takes the group to backup",
			events: []event{{at: sec(4), to: "A", from: hi, prio: 150}},
			until:  sec(4.5),
			want: append(both(0),
				"4s A release", "4s A BACKUP", "4s G BACKUP", "4s B release", "4s B BACKUP"),
		},
		{
			name:   "without tracking weight a weighted script counts for nothing",
			events: []event{trk(sec(1), "chk", Track{Up: false, Weight: -90})},
			until:  sec(4),
			want:   both(0),
		},
		{
			name:   "with tracking weight it moves the priority",
			group:  SyncGroupOptions{TrackingWeight: true},
			events: []event{trk(sec(1), "chk", Track{Up: true, Weight: 50})},
			// A's timer moves to 3.4140625s but it waits for B.
			until: sec(4),
			want: []string{"0s A BACKUP", "0s B BACKUP", "0s G BACKUP",
				"3.609375s B send 100", "3.609375s B take", "3.609375s B MASTER", "3.609375s G MASTER",
				"3.609375s A send 150", "3.609375s A take", "3.609375s A MASTER"},
		},
		{
			name:  "address owners all start master",
			opts:  func(_ string, o *Options) { o.Priority = 255 },
			until: sec(0.5),
			want:  []string{"0s A send 255", "0s A take", "0s A MASTER", "0s B send 255", "0s B take", "0s B MASTER", "0s G MASTER"},
		},
		{
			name:   "a fault before start starts all in fault",
			opts:   func(name string, o *Options) {},
			events: []event{trk(0, "chk", Track{})},
			until:  sec(0.5),
			want:   []string{"0s A BACKUP", "0s B BACKUP", "0s G BACKUP", "0s A FAULT", "0s G FAULT", "0s B FAULT"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeClock()
			r := newRecorder(c)
			g, byName := newGroup(t, c, r, tc.opts, tc.group)
			got := play(t, g.d, c, r, byName, tc.events, tc.until)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSyncGroupFaultBeforeStart(t *testing.T) {
	c := newFakeClock()
	r := newRecorder(c)
	g, byName := newGroup(t, c, r, nil, SyncGroupOptions{})
	byName["B"].SetTracked("chk", Track{})
	got := play(t, g.d, c, r, byName, []event{{at: sec(1), to: "B", track: "chk", t: Track{Up: true}}}, sec(2))
	want := []string{"0s A FAULT", "0s B FAULT", "0s G FAULT", "1s B BACKUP", "1s G BACKUP", "1s A BACKUP"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

func TestSyncGroupTrackingWeight(t *testing.T) {
	for _, weighted := range []bool{false, true} {
		c := newFakeClock()
		r := newRecorder(c)
		_, byName := newGroup(t, c, r, nil, SyncGroupOptions{TrackingWeight: weighted})
		a := byName["A"]
		a.SetTracked("chk", Track{Up: true, Weight: 50})
		a.SetTracked("eth1", Track{Kind: TrackInterface, Up: false, Weight: -10})
		s := a.Status()
		var faults []string
		for _, tr := range s.Tracks {
			if tr.Fault {
				faults = append(faults, tr.Name)
			}
		}
		want, wantFaults := 140, []string(nil)
		if !weighted {
			// keepalived: weights off, a weighted interface is unweighted.
			want, wantFaults = 100, []string{"eth1"}
		}
		if s.EffectivePriority != want || !cmp.Equal(faults, wantFaults) || s.SyncGroup != "G" {
			t.Errorf("tracking weight %v: effective priority %d, faults %v, group %q; want %d, %v, G",
				weighted, s.EffectivePriority, faults, s.SyncGroup, want, wantFaults)
		}
	}
}

func TestSyncGroupMembership(t *testing.T) {
	c := newFakeClock()
	r := newRecorder(c)
	g, byName := newGroup(t, c, r, nil, SyncGroupOptions{})
	if err := byName["A"].Run(t.Context()); !errors.Is(err, ErrInSyncGroup) {
		t.Errorf("member's Run = %v, want ErrInSyncGroup", err)
	}
	if _, err := NewSyncGroup(SyncGroupOptions{Name: "H"}, byName["A"]); err == nil {
		t.Error("NewSyncGroup took a member of another group")
	}
	if _, err := NewSyncGroup(SyncGroupOptions{Name: "H"}); err == nil {
		t.Error("NewSyncGroup took no members")
	}
	if diff := cmp.Diff(GroupStatus{Name: "G", Members: []string{"A", "B"}}, g.Status()); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
}
