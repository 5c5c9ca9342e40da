package vrrp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"xlb/vrrp/packet"
)

// event is one input of a scenario at a time after start: an advert, a
// tracking change or the stop.
type event struct {
	at    time.Duration
	to    string // instance; "" is "A"
	from  netip.Addr
	prio  int
	ival  time.Duration // advert interval; 0: 1s
	auth  string
	vrid  uint8 // 0: the instance's
	track string
	t     Track
	stop  bool
}

func adv(at time.Duration, from netip.Addr, prio int) event {
	return event{at: at, from: from, prio: prio}
}

func trk(at time.Duration, name string, t Track) event {
	return event{at: at, track: name, t: t}
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func sec(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// play feeds events to the instances driven by d, moving fake time to each
// event's and then to until, and returns the recorded lines.
func play(t *testing.T, d *driver, c *fakeClock, r *recorder, byName map[string]*Instance, events []event, until time.Duration) []string {
	t.Helper()
	startDriver(d)
	for _, e := range events {
		advance(d, c, t0.Add(e.at), nil)
		name := e.to
		if name == "" {
			name = "A"
		}
		i := byName[name]
		switch {
		case e.stop:
			stopDriver(d)
		case e.track != "":
			i.SetTracked(e.track, e.t)
		default:
			a := packet.Advertisement{Version: i.o.Version, VRID: i.o.VRID, Priority: uint8(e.prio),
				Interval: time.Second, Addrs: i.o.VIPs}
			if e.ival != 0 {
				a.Interval = e.ival
			}
			if e.vrid != 0 {
				a.VRID = e.vrid
			}
			if e.auth != "" {
				a.AuthType = 1
				copy(a.AuthData[:], e.auth)
			}
			i.Receive(e.from, a)
		}
	}
	advance(d, c, t0.Add(until), nil)
	if len(r.misuse) > 0 {
		t.Errorf("addresser misused: %v", r.misuse)
	}
	return r.take()
}

func TestInstanceScenarios(t *testing.T) {
	tests := []struct {
		name   string
		opts   func(*Options)
		events []event
		until  time.Duration
		want   []string
	}{
		{
			name:  "backup becomes master after the master down interval",
			until: sec(5),
			// 3×1s + (256-100)/256 s.
			want: []string{"0s A BACKUP", "3.609375s A send 100", "3.609375s A take", "3.609375s A MASTER", "4.609375s A send 100"},
		},
		{
			name:   "higher priority adverts hold it in backup until they stop",
			events: []event{adv(sec(1), hi, 150), adv(sec(2), hi, 150), adv(sec(3), hi, 150), adv(sec(4), hi, 150)},
			until:  sec(8),
			want:   []string{"0s A BACKUP", "7.609375s A send 100", "7.609375s A take", "7.609375s A MASTER"},
		},
		{
			name:   "equal priority adverts hold it in backup whatever the address",
			events: []event{adv(sec(1), lo, 100), adv(sec(4), lo, 100)},
			until:  sec(7),
			want:   []string{"0s A BACKUP"},
		},
		{
			name:   "priority 0 takes over after the skew time",
			events: []event{adv(sec(1), hi, 150), adv(sec(2), hi, 0)},
			until:  sec(3),
			want:   []string{"0s A BACKUP", "2.609375s A send 100", "2.609375s A take", "2.609375s A MASTER"},
		},
		{
			name:   "lower priority adverts are ignored and preempted",
			events: []event{adv(sec(1), lo, 50), adv(sec(2), lo, 50), adv(sec(3), lo, 50)},
			until:  sec(4),
			want:   []string{"0s A BACKUP", "3.609375s A send 100", "3.609375s A take", "3.609375s A MASTER"},
		},
		{
			name:   "nopreempt accepts a lower priority master",
			opts:   func(o *Options) { o.NoPreempt = true },
			events: []event{adv(sec(1), lo, 50), adv(sec(2), lo, 50), adv(sec(3), lo, 50), adv(sec(4), lo, 50)},
			until:  sec(7),
			want:   []string{"0s A BACKUP"},
		},
		{
			name: "preempt_delay accepts a lower master for the delay, then preempts",
			opts: func(o *Options) { o.PreemptDelay = 5 * time.Second },
			// The delay starts with the first lower advert (1s) and ends at
			// 6s; the advert then is ignored, so the timer set at 5s runs out.
			events: []event{adv(sec(1), lo, 50), adv(sec(2), lo, 50), adv(sec(3), lo, 50), adv(sec(4), lo, 50),
				adv(sec(5), lo, 50), adv(sec(6), lo, 50), adv(sec(7), lo, 50), adv(sec(8), lo, 50), adv(sec(9), lo, 50)},
			until: sec(9.5),
			want: []string{"0s A BACKUP", "8.609375s A send 100", "8.609375s A take", "8.609375s A MASTER",
				// A master answers a lower priority advert at once.
				"9s A send 100"},
		},
		{
			name:   "master yields to a higher priority",
			events: []event{adv(sec(4), hi, 150)},
			until:  sec(5),
			want: []string{"0s A BACKUP", "3.609375s A send 100", "3.609375s A take", "3.609375s A MASTER",
				"4s A release", "4s A BACKUP"},
		},
		{
			name:   "master keeps an equal priority from a lower address, yields to a greater",
			events: []event{adv(sec(4), lo, 100), adv(sec(4.5), hi, 100)},
			until:  sec(4.9),
			want: []string{"0s A BACKUP", "3.609375s A send 100", "3.609375s A take", "3.609375s A MASTER",
				"4s A send 100", "4.5s A release", "4.5s A BACKUP"},
		},
		{
			name:   "master answers priority 0 with an advert",
			events: []event{adv(sec(4), lo, 0)},
			until:  sec(4.5),
			want: []string{"0s A BACKUP", "3.609375s A send 100", "3.609375s A take", "3.609375s A MASTER",
				"4s A send 100"},
		},
		{
			name:  "address owner becomes master at once",
			opts:  func(o *Options) { o.Priority = 255 },
			until: sec(2),
			want:  []string{"0s A send 255", "0s A take", "0s A MASTER", "1s A send 255", "2s A send 255"},
		},
		{
			name:  "address owner with state BACKUP waits its short down interval",
			opts:  func(o *Options) { o.Priority, o.InitialState = 255, StateBackup },
			until: sec(3.5),
			want:  []string{"0s A BACKUP", "3.00390625s A send 255", "3.00390625s A take", "3.00390625s A MASTER"},
		},
		{
			name:  "state MASTER waits one advert interval",
			opts:  func(o *Options) { o.InitialState = StateMaster },
			until: sec(1.5),
			want:  []string{"0s A BACKUP", "1.00390625s A send 100", "1.00390625s A take", "1.00390625s A MASTER"},
		},
		{
			name:   "state MASTER still yields to a live master",
			opts:   func(o *Options) { o.InitialState = StateMaster },
			events: []event{adv(sec(0.5), hi, 150)},
			until:  sec(3),
			want:   []string{"0s A BACKUP"},
		},
		{
			name: "version 3 backup learns the master's interval",
			opts: func(o *Options) {
				o.Version = 3
			},
			events: []event{{at: ms(500), from: hi, prio: 150, ival: ms(100)}},
			// 3×100ms + 156×100ms/256 after the advert; then its own 1s.
			until: sec(2),
			want: []string{"0s A BACKUP", "860.9375ms A send 100", "860.9375ms A take", "860.9375ms A MASTER",
				"1.8609375s A send 100"},
		},
		{
			name:   "version 2 drops adverts with another interval",
			events: []event{{at: sec(1), from: hi, prio: 150, ival: 2 * time.Second}},
			until:  sec(4),
			want:   []string{"0s A BACKUP", "3.609375s A send 100", "3.609375s A take", "3.609375s A MASTER"},
		},
		{
			name:   "version 2 drops adverts with a wrong password",
			opts:   func(o *Options) { o.AuthPass = "secret" },
			events: []event{{at: sec(1), from: hi, prio: 150, auth: "wrong"}, {at: sec(2), from: hi, prio: 150}},
			until:  sec(4),
			want:   []string{"0s A BACKUP", "3.609375s A send 100", "3.609375s A take", "3.609375s A MASTER"},
		},
		{
			name:   "version 2 accepts adverts with the password",
			opts:   func(o *Options) { o.AuthPass = "secret" },
			events: []event{{at: sec(1), from: hi, prio: 150, auth: "secret"}},
			until:  sec(4),
			want:   []string{"0s A BACKUP"},
		},
		{
			name:   "adverts of another VRID or from our own address are dropped",
			events: []event{{at: sec(1), from: hi, prio: 150, vrid: 9}, adv(sec(2), ours, 150)},
			until:  sec(4),
			want:   []string{"0s A BACKUP", "3.609375s A send 100", "3.609375s A take", "3.609375s A MASTER"},
		},
		{
			name: "a negative weight lets a lower router preempt",
			events: []event{adv(sec(4), lo, 80), trk(sec(4.2), "chk", Track{Up: false, Weight: -30}),
				adv(sec(4.8), lo, 80)},
			until: sec(5.5),
			want: []string{"0s A BACKUP", "3.609375s A send 100", "3.609375s A take", "3.609375s A MASTER",
				"4s A send 100", "4.8s A release", "4.8s A BACKUP"},
		},
		{
			name: "a raised priority shortens the backup's down timer",
			// Priority 150's skew is 106/256 s.
			events: []event{trk(sec(1), "chk", Track{Up: true, Weight: 50})},
			until:  sec(4),
			want:   []string{"0s A BACKUP", "3.4140625s A send 150", "3.4140625s A take", "3.4140625s A MASTER"},
		},
		{
			name: "a raised priority whose down interval has passed takes over at once",
			// Priority 250's down interval, 3.0234375s, is over at 3.5s.
			events: []event{trk(sec(3.5), "chk", Track{Up: true, Weight: 150})},
			until:  sec(3.6),
			want:   []string{"0s A BACKUP", "3.5s A send 250", "3.5s A take", "3.5s A MASTER"},
		},
		{
			name: "an unweighted tracked object's failure is fault, its recovery backup",
			events: []event{trk(sec(4), "eth0", Track{Kind: TrackInterface, Up: false}),
				trk(sec(5), "eth0", Track{Kind: TrackInterface, Up: true})},
			until: sec(9),
			want: []string{"0s A BACKUP", "3.609375s A send 100", "3.609375s A take", "3.609375s A MASTER",
				"4s A send 0", "4s A release", "4s A FAULT", "5s A BACKUP",
				"8.609375s A send 100", "8.609375s A take", "8.609375s A MASTER"},
		},
		{
			name:   "adverts in fault are ignored",
			events: []event{trk(sec(1), "chk", Track{Up: false}), adv(sec(2), lo, 0)},
			until:  sec(6),
			want:   []string{"0s A BACKUP", "1s A FAULT"},
		},
		{
			name:   "an address owner ignores weights",
			opts:   func(o *Options) { o.Priority = 255 },
			events: []event{trk(sec(0.5), "chk", Track{Up: false, Weight: -100}), adv(sec(0.7), hi, 254)},
			until:  sec(1),
			want:   []string{"0s A send 255", "0s A take", "0s A MASTER", "700ms A send 255"},
		},
		{
			name:   "stop sends priority 0 and releases",
			events: []event{{at: sec(4), stop: true}},
			until:  sec(6),
			want: []string{"0s A BACKUP", "3.609375s A send 100", "3.609375s A take", "3.609375s A MASTER",
				"4s A send 0", "4s A release", "4s A STOP"},
		},
		{
			name:   "stop in backup only notifies",
			events: []event{{at: sec(1), stop: true}},
			until:  sec(6),
			want:   []string{"0s A BACKUP", "1s A STOP"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeClock()
			r := newRecorder(c)
			o := testOptions("A", 1, r, c)
			if tc.opts != nil {
				tc.opts(&o)
			}
			i, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			got := play(t, i.d, c, r, map[string]*Instance{"A": i}, tc.events, tc.until)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFaultBeforeStart(t *testing.T) {
	c := newFakeClock()
	r := newRecorder(c)
	i, err := New(testOptions("A", 1, r, c))
	if err != nil {
		t.Fatal(err)
	}
	i.SetTracked("eth0", Track{Kind: TrackInterface, Up: false})
	i.SetTracked("chk", Track{Up: true, Weight: 20})
	got := play(t, i.d, c, r, map[string]*Instance{"A": i}, []event{
		trk(sec(2), "eth0", Track{Kind: TrackInterface, Up: true}),
	}, sec(6))
	// Priority 120: skew 136/256 s.
	want := []string{"0s A FAULT", "2s A BACKUP", "5.53125s A send 120", "5.53125s A take", "5.53125s A MASTER"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	s := i.Status()
	if s.EffectivePriority != 120 || s.Reason != "no master within the master down interval after fault" {
		t.Errorf("status: effective priority %d, reason %q; want 120, master down after fault", s.EffectivePriority, s.Reason)
	}
}

func TestTrackEffect(t *testing.T) {
	tests := []struct {
		name      string
		t         Track
		weighted  bool
		wantDelta int
		wantFault bool
	}{
		{"unweighted up", Track{Up: true}, true, 0, false},
		{"unweighted down", Track{Up: false}, true, 0, true},
		{"unweighted reverse up is fault", Track{Up: true, Reverse: true}, true, 0, true},
		{"positive weight up adds", Track{Up: true, Weight: 10}, true, 10, false},
		{"positive weight down adds nothing", Track{Up: false, Weight: 10}, true, 0, false},
		{"negative weight down subtracts", Track{Up: false, Weight: -10}, true, -10, false},
		{"negative weight up subtracts nothing", Track{Up: true, Weight: -10}, true, 0, false},
		{"reverse positive up subtracts", Track{Up: true, Weight: 10, Reverse: true}, true, -10, false},
		{"reverse negative down adds", Track{Up: false, Weight: -10, Reverse: true}, true, 10, false},
		{"file value times weight", Track{Kind: TrackFile, Value: 3, Weight: 5}, true, 15, false},
		{"file capped at 253", Track{Kind: TrackFile, Value: 100, Weight: 5}, true, 253, false},
		{"file at -254 is fault", Track{Kind: TrackFile, Value: -254, Weight: 1}, true, 0, true},
		{"unweighted file nonzero is fault", Track{Kind: TrackFile, Value: 1}, true, 0, true},
		{"unweighted file zero is fine", Track{Kind: TrackFile, Value: 0}, true, 0, false},
		{"sync group: weighted interface down is fault", Track{Kind: TrackInterface, Up: false, Weight: -10}, false, 0, true},
		{"sync group: weighted script ignored", Track{Up: false, Weight: -10}, false, 0, false},
		{"sync group: unweighted script down is fault", Track{Up: false}, false, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, f := tc.t.effect(tc.weighted)
			if d != tc.wantDelta || f != tc.wantFault {
				t.Errorf("effect(%+v, %v) = %d, %v; want %d, %v", tc.t, tc.weighted, d, f, tc.wantDelta, tc.wantFault)
			}
		})
	}
}

func TestEffectivePriority(t *testing.T) {
	tests := []struct {
		name     string
		priority int
		tracks   []Track
		want     int
	}{
		{"configured", 100, nil, 100},
		{"weights add", 100, []Track{{Up: true, Weight: 20}, {Up: false, Weight: -50}}, 70},
		{"clamped to 254", 200, []Track{{Up: true, Weight: 253}}, 254},
		{"clamped to 1", 10, []Track{{Up: false, Weight: -253}}, 1},
		{"owner stays 255", 255, []Track{{Up: false, Weight: -253}}, 255},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeClock()
			r := newRecorder(c)
			o := testOptions("A", 1, r, c)
			o.Priority = tc.priority
			i, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			for n, tr := range tc.tracks {
				i.SetTracked(string(rune('a'+n)), tr)
			}
			if got := i.Status().EffectivePriority; got != tc.want {
				t.Errorf("effective priority = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestTiming(t *testing.T) {
	tests := []struct {
		version  int
		prio     int
		adv      time.Duration
		wantSkew time.Duration
		wantDown time.Duration
	}{
		{2, 100, time.Second, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{2, 255, time.Second, 3906250 * time.Nanosecond, 3003906250 * time.Nanosecond},
		// Version 2's skew is in seconds whatever the interval.
		{2, 1, 5 * time.Second, 996093750 * time.Nanosecond, 15996093750 * time.Nanosecond},
		{3, 100, time.Second, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{3, 100, 100 * time.Millisecond, 60937500 * time.Nanosecond, 360937500 * time.Nanosecond},
		{3, 254, 10 * time.Millisecond, 78125 * time.Nanosecond, 30078125 * time.Nanosecond},
	}
	for _, tc := range tests {
		if got := skew(tc.version, tc.prio, tc.adv); got != tc.wantSkew {
			t.Errorf("skew(v%d, %d, %v) = %v, want %v", tc.version, tc.prio, tc.adv, got, tc.wantSkew)
		}
		if got := masterDown(tc.version, tc.prio, tc.adv); got != tc.wantDown {
			t.Errorf("masterDown(v%d, %d, %v) = %v, want %v", tc.version, tc.prio, tc.adv, got, tc.wantDown)
		}
	}
}
