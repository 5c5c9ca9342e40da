package vrrp

import (
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"xlb/vrrp/packet"
)

// Priorities with a meaning of their own (RFC 5798 §5.2.4).
const (
	// PriorityStop in an advertisement says its sender stops being master.
	PriorityStop = 0
	// PriorityOwner is the priority of the router that owns the virtual
	// addresses: it becomes master at once and tracking never changes it.
	PriorityOwner = 255
	// DefaultPriority is keepalived's priority when none is configured.
	DefaultPriority = 100
	// DefaultAdvertInterval is keepalived's advert_int when none is configured.
	DefaultAdvertInterval = time.Second
)

// State is the state of an instance or sync group. Its text form is
// keepalived's word, the one notify scripts receive.
type State int

// States of RFC 5798 §6.4, keepalived's FAULT, and STOP once Run has ended.
const (
	// StateInit is the zero State: not running yet. In Options.InitialState
	// it means "derive from the priority", as keepalived does.
	StateInit State = iota
	StateBackup
	StateMaster
	StateFault
	StateStop
)

var stateNames = [...]string{"INIT", "BACKUP", "MASTER", "FAULT", "STOP"}

// String returns keepalived's upper-case name of s.
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("State(%d)", int(s))
	}
	return stateNames[s]
}

// MarshalText returns s's name, so JSON shows "MASTER", not 2.
func (s State) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(stateNames) {
		return nil, fmt.Errorf("state %d: unknown", int(s))
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText parses a name MarshalText returns.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("state %q: unknown", b)
}

// Sender sends this instance's advertisements.
type Sender interface {
	// Send sends a to each of peers, or to the VRRP multicast group
	// (224.0.0.18, ff02::12) when peers is empty. The instance calls it with
	// its lock held: it must not call back into the instance.
	Send(a packet.Advertisement, peers []netip.Addr) error
}

// Addresser holds the virtual addresses while the instance is master.
type Addresser interface {
	// Take adds vips to the interface and announces them (gratuitous ARP,
	// unsolicited neighbour advertisements, and keepalived's later repeats).
	Take(vips []netip.Addr) error
	// Release removes vips from the interface.
	Release(vips []netip.Addr) error
}

// Notifier learns every state change, as keepalived's notify scripts and
// FIFO do. It is called with the instance's lock held, so it must return
// quickly (queue the work) and not call back into the instance.
type Notifier interface {
	Notify(n Notification)
}

// Notification is one state change: keepalived's notify arguments TYPE NAME
// STATE PRIORITY, and why and when it happened.
type Notification struct {
	// Type is "INSTANCE" or "GROUP".
	Type     string    `json:"type"`
	Name     string    `json:"name"`
	State    State     `json:"state"`
	Priority int       `json:"priority"` // effective priority; 0 for a group
	Reason   string    `json:"reason"`
	Time     time.Time `json:"time"`
}

// Clock tells the time and waits; tests pass a fake one.
type Clock interface {
	Now() time.Time
	// After sends the time on the returned channel once d has passed
	// (at once if d <= 0).
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options configure one instance. Field comments give keepalived's
// vrrp_instance words where the Go name differs.
type Options struct {
	// Name is the instance's name, reported to the Notifier.
	Name string
	// VRID is virtual_router_id, 1..255.
	VRID uint8
	// Version is 2 (RFC 3768) or 3 (RFC 5798).
	Version int
	// Priority is 1..255; 0 means keepalived's default, 100. 255 owns the
	// addresses (RFC 5798 §6.1).
	Priority int
	// AdvertInterval is advert_int; 0 means 1s. Version 2 counts whole
	// seconds (1..255), version 3 centiseconds (10ms..40.95s).
	AdvertInterval time.Duration
	// NoPreempt is nopreempt: a backup never takes over from a live
	// master of lower priority (RFC 5798 §6.1 Preempt_Mode false).
	NoPreempt bool
	// PreemptDelay is preempt_delay: a backup that hears a lower priority
	// master keeps accepting its adverts this long before preempting it.
	PreemptDelay time.Duration
	// InitialState is state MASTER or BACKUP, only a hint: keepalived starts
	// every instance in BACKUP, a MASTER one with a down timer of one advert
	// interval instead of three, and only an address owner becomes master at
	// once. StateInit derives it from the priority (255: MASTER).
	InitialState State
	// Accept is accept mode (RFC 5798 §6.1 Accept_Mode): whether the master
	// accepts packets for addresses it does not own. The Addresser's owner
	// enforces it; the instance reports it.
	Accept bool
	// VIPs are virtual_ipaddress, all of one family, in advertisement order.
	VIPs []netip.Addr
	// AuthPass is authentication { auth_type PASS; auth_pass }: version 2's
	// simple text password, at most 8 bytes. Version 3 has none.
	AuthPass string
	// Unicast are unicast_peer; empty means multicast.
	Unicast []netip.Addr
	// Primary is this router's primary address on the interface: the source
	// of its adverts, and the tie breaker between equal priorities (RFC 5798
	// §6.4.3: the greater address wins).
	Primary netip.Addr

	Sender    Sender
	Addresser Addresser
	Notifier  Notifier     // nil: no notifications
	Clock     Clock        // nil: the system clock
	Logger    *slog.Logger // nil: discard
}

// TrackKind says how a tracked object's state counts (keepalived treats
// interfaces, scripts and files differently).
type TrackKind int

const (
	// TrackScript is track_script (and track_process, track_bfd): up or down.
	TrackScript TrackKind = iota
	// TrackInterface is track_interface (or the instance's own interface,
	// unweighted): up or down.
	TrackInterface
	// TrackFile is track_file: a number read from a file.
	TrackFile
)

var trackKindNames = [...]string{"script", "interface", "file"}

// MarshalText returns k's name: script, interface or file.
func (k TrackKind) MarshalText() ([]byte, error) {
	if k < 0 || int(k) >= len(trackKindNames) {
		return nil, fmt.Errorf("track kind %d: unknown", int(k))
	}
	return []byte(trackKindNames[k]), nil
}

// Track is the state of one tracked object as an instance sees it.
type Track struct {
	Kind TrackKind `json:"kind"`
	// Up is the object's state (scripts, interfaces).
	Up bool `json:"up"`
	// Value is a tracked file's number.
	Value int `json:"value,omitempty"`
	// Weight is -253..253 (files -254..254). 0 means a failure puts the
	// instance in FAULT. Otherwise a positive weight adds itself while the
	// object is up, a negative one subtracts its magnitude while it is down;
	// a file adds Value×Weight.
	Weight int `json:"weight"`
	// Reverse is keepalived's reverse: it turns the direction round (a
	// weighted object moves the priority the other way, an unweighted one
	// is in fault while up).
	Reverse bool `json:"reverse,omitempty"`
}

// effect returns what t does to an instance: a priority change, or fault.
// weighted is false where keepalived ignores weights (sync groups without
// sync_group_tracking_weight, address owners): then a weighted interface
// counts as unweighted and other weighted objects count for nothing.
func (t Track) effect(weighted bool) (delta int, fault bool) {
	mult := 1
	if t.Reverse {
		mult = -1
	}
	w := t.Weight
	if !weighted && w != 0 {
		if t.Kind != TrackInterface {
			return 0, false
		}
		w = 0
	}
	if t.Kind == TrackFile {
		if w == 0 {
			return 0, (t.Value != 0) != t.Reverse
		}
		v := t.Value * w * mult
		if v <= -254 {
			return 0, true
		}
		return min(v, 253), false
	}
	switch {
	case w == 0:
		return 0, t.Up == t.Reverse
	case t.Up && w > 0, !t.Up && w < 0:
		return w * mult, false
	}
	return 0, false
}

// withDefaults checks o and fills in defaults. warn receives keepalived's
// configuration warnings for settings it clears.
func (o Options) withDefaults(warn func(msg string)) (Options, error) {
	if o.VRID == 0 {
		return o, fmt.Errorf("vrid: want 1..255, got 0")
	}
	if o.Version != 2 && o.Version != 3 {
		return o, fmt.Errorf("version: want 2 or 3, got %d", o.Version)
	}
	if o.Priority == 0 {
		o.Priority = DefaultPriority
	}
	if o.Priority < 1 || o.Priority > PriorityOwner {
		return o, fmt.Errorf("priority: want 1..255, got %d", o.Priority)
	}
	if o.AdvertInterval == 0 {
		o.AdvertInterval = DefaultAdvertInterval
	}
	switch {
	case o.Version == 2 && (o.AdvertInterval%time.Second != 0 || o.AdvertInterval > 255*time.Second || o.AdvertInterval < 0):
		return o, fmt.Errorf("advert interval: version 2 wants whole seconds 1..255, got %v", o.AdvertInterval)
	case o.Version == 3 && (o.AdvertInterval%(10*time.Millisecond) != 0 || o.AdvertInterval > 4095*10*time.Millisecond || o.AdvertInterval < 0):
		return o, fmt.Errorf("advert interval: version 3 wants centiseconds 0.01..40.95s, got %v", o.AdvertInterval)
	}
	if o.PreemptDelay < 0 {
		return o, fmt.Errorf("preempt delay: want >= 0, got %v", o.PreemptDelay)
	}
	if o.InitialState != StateInit && o.InitialState != StateBackup && o.InitialState != StateMaster {
		return o, fmt.Errorf("initial state: want MASTER or BACKUP, got %v", o.InitialState)
	}
	if len(o.VIPs) == 0 || len(o.VIPs) > 255 {
		return o, fmt.Errorf("vips: want 1..255 addresses, got %d", len(o.VIPs))
	}
	is4 := o.VIPs[0].Is4()
	for _, a := range o.VIPs {
		if !a.IsValid() || a.Zone() != "" || a.Is4In6() || a.Is4() != is4 {
			return o, fmt.Errorf("vips: %v: want addresses of one family, without zone", a)
		}
	}
	if o.Version == 2 && !is4 {
		return o, fmt.Errorf("vips: version 2 carries IPv4 only, got %v", o.VIPs[0])
	}
	if !o.Primary.IsValid() || o.Primary.Is4() != is4 {
		return o, fmt.Errorf("primary: want an address of the vips' family, got %v", o.Primary)
	}
	for _, p := range o.Unicast {
		if !p.IsValid() || p.Is4() != is4 {
			return o, fmt.Errorf("unicast peer %v: want an address of the vips' family", p)
		}
	}
	if len(o.AuthPass) > 8 {
		return o, fmt.Errorf("auth pass: want at most 8 bytes, got %d", len(o.AuthPass))
	}
	if o.Version == 3 && o.AuthPass != "" {
		warn("version 3 has no authentication, ignoring auth_pass")
		o.AuthPass = ""
	}
	if o.Sender == nil || o.Addresser == nil {
		return o, fmt.Errorf("sender and addresser: required")
	}

	// keepalived's vrrp_complete_instance clears settings that cannot work.
	if o.InitialState == StateInit {
		o.InitialState = StateBackup
		if o.Priority == PriorityOwner {
			o.InitialState = StateMaster
		}
	}
	if o.Priority == PriorityOwner && o.NoPreempt {
		warn("nopreempt is incompatible with priority 255, clearing nopreempt")
		o.NoPreempt = false
	}
	if o.InitialState == StateMaster {
		if o.NoPreempt {
			warn("nopreempt will not work with initial state MASTER, clearing nopreempt")
			o.NoPreempt = false
		}
		if o.PreemptDelay > 0 {
			warn("preempt delay will not work with initial state MASTER, clearing it")
			o.PreemptDelay = 0
		}
	}
	if o.NoPreempt && o.PreemptDelay > 0 {
		warn("preempt delay is incompatible with nopreempt, clearing it")
		o.PreemptDelay = 0
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.VIPs = append([]netip.Addr(nil), o.VIPs...)
	o.Unicast = append([]netip.Addr(nil), o.Unicast...)
	return o, nil
}

// skew is Skew_Time for priority prio: RFC 5798 §6.1 counts it in the
// master's advert interval, RFC 3768 §6.1 in seconds.
func skew(version, prio int, masterAdv time.Duration) time.Duration {
	if version == 3 {
		return time.Duration(256-prio) * masterAdv / 256
	}
	return time.Duration(256-prio) * time.Second / 256
}

// masterDown is Master_Down_Interval (RFC 5798 §6.1): three missed adverts
// and the skew, so the highest priority backup times out first.
func masterDown(version, prio int, masterAdv time.Duration) time.Duration {
	return 3*masterAdv + skew(version, prio, masterAdv)
}
