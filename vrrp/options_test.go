package vrrp

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name    string
		opts    func(*Options)
		wantErr string
	}{
		{"vrid 0", func(o *Options) { o.VRID = 0 }, "vrid: want 1..255, got 0"},
		{"version 4", func(o *Options) { o.Version = 4 }, "version: want 2 or 3, got 4"},
		{"priority 256", func(o *Options) { o.Priority = 256 }, "priority: want 1..255, got 256"},
		{"v2 fractional interval", func(o *Options) { o.AdvertInterval = 1500 * time.Millisecond }, "version 2 wants whole seconds"},
		{"v3 millisecond interval", func(o *Options) { o.Version, o.AdvertInterval = 3, 15*time.Millisecond }, "version 3 wants centiseconds"},
		{"v3 interval too long", func(o *Options) { o.Version, o.AdvertInterval = 3, 41*time.Second }, "version 3 wants centiseconds"},
		{"no vips", func(o *Options) { o.VIPs = nil }, "vips: want 1..255 addresses, got 0"},
		{"mixed families", func(o *Options) { o.Version, o.VIPs = 3, []netip.Addr{vip, vip6} }, "want addresses of one family"},
		{"v2 ipv6", func(o *Options) { o.VIPs, o.Primary = []netip.Addr{vip6}, netip.MustParseAddr("fe80::1") }, "version 2 carries IPv4 only"},
		{"primary of other family", func(o *Options) { o.Primary = netip.MustParseAddr("fe80::1") }, "primary: want an address of the vips' family"},
		{"long password", func(o *Options) { o.AuthPass = "123456789" }, "auth pass: want at most 8 bytes, got 9"},
		{"no sender", func(o *Options) { o.Sender = nil }, "sender and addresser: required"},
		{"initial state fault", func(o *Options) { o.InitialState = StateFault }, "initial state: want MASTER or BACKUP, got FAULT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeClock()
			o := testOptions("A", 1, newRecorder(c), c)
			tc.opts(&o)
			_, err := New(o)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("New: got %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}

// TestNewKeepalivedDefaults checks the settings keepalived derives or clears.
func TestNewKeepalivedDefaults(t *testing.T) {
	tests := []struct {
		name string
		opts func(*Options)
		want func(*Options)
	}{
		{"priority 0 is 100", func(o *Options) { o.Priority = 0 }, func(o *Options) { o.Priority = 100 }},
		{"owner is initially master", func(o *Options) { o.Priority = 255 }, func(o *Options) { o.Priority, o.InitialState = 255, StateMaster }},
		{"owner clears nopreempt", func(o *Options) { o.Priority, o.NoPreempt = 255, true }, func(o *Options) { o.Priority, o.InitialState = 255, StateMaster }},
		{"state MASTER clears nopreempt and preempt delay",
			func(o *Options) { o.InitialState, o.NoPreempt, o.PreemptDelay = StateMaster, true, time.Second },
			func(o *Options) { o.InitialState = StateMaster }},
		{"nopreempt clears preempt delay", func(o *Options) { o.NoPreempt, o.PreemptDelay = true, time.Second }, func(o *Options) { o.NoPreempt = true }},
		{"v3 ignores auth", func(o *Options) { o.Version, o.AuthPass = 3, "x" }, func(o *Options) { o.Version = 3 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeClock()
			o := testOptions("A", 1, newRecorder(c), c)
			tc.opts(&o)
			i, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			// The settings compared, without addresses and interfaces.
			type settings struct {
				Priority, Version int
				InitialState      State
				AdvertInterval    time.Duration
				NoPreempt         bool
				PreemptDelay      time.Duration
				AuthPass          string
			}
			pick := func(o Options) settings {
				return settings{o.Priority, o.Version, o.InitialState, o.AdvertInterval, o.NoPreempt, o.PreemptDelay, o.AuthPass}
			}
			wantOpts := Options{Priority: 100, InitialState: StateBackup, AdvertInterval: time.Second, Version: 2}
			tc.want(&wantOpts)
			if diff := cmp.Diff(pick(wantOpts), pick(i.o)); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatusJSON(t *testing.T) {
	c := newFakeClock()
	r := newRecorder(c)
	i, err := New(testOptions("A", 7, r, c))
	if err != nil {
		t.Fatal(err)
	}
	i.SetTracked("chk", Track{Up: true, Weight: 5})
	play(t, i.d, c, r, map[string]*Instance{"A": i}, nil, sec(4))
	b, err := json.Marshal(i.Status())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"name": "A", "vrid": 7.0, "version": 2.0, "state": "MASTER", "priority": 100.0, "effective_priority": 105.0,
		"master": "198.18.0.10", "master_priority": 105.0, "advert_interval": 1e9, "master_advert_interval": 1e9,
		"preempt": true, "accept": false, "vips": []any{"198.18.1.1"},
		"since": "2026-01-01T00:00:03.58984375Z", "last_advert_sent": "2026-01-01T00:00:03.58984375Z", "reason": "no master within the master down interval of start",
		"tracks":   []any{map[string]any{"name": "chk", "track": map[string]any{"kind": "script", "up": true, "weight": 5.0}, "delta": 5.0}},
		"counters": map[string]any{"adverts_sent": 1.0, "adverts_received": 0.0, "adverts_dropped": 0.0, "priority_zero_received": 0.0, "became_master": 1.0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status JSON (-want +got):\n%s", diff)
	}
}
