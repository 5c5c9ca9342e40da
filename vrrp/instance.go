package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"xlb/vrrp/packet"
)

// ErrInSyncGroup is returned by Instance.Run for a member of a sync group:
// the group runs its members.
var ErrInSyncGroup = errors.New("instance is run by its sync group")

// Instance is one VRRP virtual router. Its methods are safe for concurrent
// use; the state machine steps under one lock, shared with the other members
// of its sync group.
type Instance struct {
	o     Options
	log   *slog.Logger
	d     *driver
	group *SyncGroup

	auth     [8]byte
	authType uint8

	state      State
	wantMaster bool // keepalived's wantstate MASTER: a sync group held it back
	tracks     map[string]Track
	effective  int
	masterAdv  time.Duration // Master_Adver_Interval (RFC 5798 §6.1)
	master     netip.Addr
	masterPrio int
	deadline   time.Time // Master_Down_Timer in Backup, Adver_Timer in Master; zero: none
	preemptAt  time.Time // preempt_delay: when a lower priority master may be preempted
	lastSent   time.Time
	since      time.Time
	reason     string
	downReason string // why the master down timer would fire, for the transition's reason
	counters   Counters

	dropLogged map[string]bool // reasons for dropping adverts logged since the last transition
	addrsWarn  bool            // logged an address list that differs from ours
	sendFailed bool            // last send failed, to log a failing sender once
}

// New returns an instance for o, not running until Run (or its sync
// group's Run) is called.
func New(o Options) (*Instance, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("instance", o.Name)
	o.Logger = logger
	o, err := o.withDefaults(func(msg string) { logger.Warn(msg) })
	if err != nil {
		return nil, fmt.Errorf("vrrp instance %s: %w", o.Name, err)
	}
	i := &Instance{o: o, log: logger, tracks: map[string]Track{}, effective: o.Priority, masterAdv: o.AdvertInterval}
	if o.AuthPass != "" {
		i.authType = 1
		copy(i.auth[:], o.AuthPass)
	}
	i.d = newDriver(o.Clock, i)
	return i, nil
}

// Receive hands the instance an advertisement received from src for its
// VRID. It is ignored unless the instance is in Backup or Master.
func (i *Instance) Receive(src netip.Addr, a packet.Advertisement) {
	i.d.mu.Lock()
	defer i.d.mu.Unlock()
	i.receive(i.d.clock.Now(), src, a)
	i.d.wake()
}

// SetTracked records the state of the tracked object name (a script,
// interface or file, keepalived's track_* lines), moving the effective
// priority or the instance in and out of Fault. Calls before Run set the
// state Run starts from.
func (i *Instance) SetTracked(name string, t Track) {
	i.d.mu.Lock()
	defer i.d.mu.Unlock()
	i.setTracked(i.d.clock.Now(), name, t)
	i.d.wake()
}

// Run runs the instance until ctx ends, then leaves as keepalived does on
// stop: a master sends one advert of priority 0 (RFC 5798 §6.4.3) and
// releases the addresses. It returns nil then, or at once an error if the
// instance belongs to a sync group or already ran.
func (i *Instance) Run(ctx context.Context) error {
	if i.group != nil {
		return fmt.Errorf("vrrp instance %s: %w", i.o.Name, ErrInSyncGroup)
	}
	return i.d.run(ctx)
}

// owner reports whether the instance owns the addresses (priority 255).
func (i *Instance) owner() bool { return i.o.Priority == PriorityOwner }

// skewTime is the instance's Skew_Time now; an owner's is that of 255.
func (i *Instance) skewTime() time.Duration {
	return skew(i.o.Version, i.effective, i.masterAdv)
}

// downInterval is the instance's Master_Down_Interval now.
func (i *Instance) downInterval() time.Duration {
	return masterDown(i.o.Version, i.effective, i.masterAdv)
}

// ownFault reports whether one of the instance's own tracked objects puts
// it in fault, and which.
func (i *Instance) ownFault() (bool, string) {
	for _, name := range slices.Sorted(maps.Keys(i.tracks)) {
		if _, fault := i.trackEffect(i.tracks[name]); fault {
			return true, name
		}
	}
	return false, ""
}

// trackEffect applies keepalived's rules on where weights count: a sync
// group member without sync_group_tracking_weight treats a weighted
// interface as unweighted and ignores other weights; an address owner
// ignores weighted objects.
func (i *Instance) trackEffect(t Track) (int, bool) {
	if i.group != nil && !i.group.trackingWeight {
		return t.effect(false)
	}
	if i.owner() && t.Weight != 0 {
		return 0, false
	}
	return t.effect(true)
}

// priority computes the effective priority: configured plus tracked
// weights, kept within 1..254 unless the instance owns the addresses
// (keepalived's vrrp_set_effective_priority).
func (i *Instance) priority() int {
	if i.owner() {
		return PriorityOwner
	}
	p := i.o.Priority
	for _, t := range i.tracks {
		d, _ := i.trackEffect(t)
		p += d
	}
	return min(max(p, 1), PriorityOwner-1)
}

func (i *Instance) setTracked(now time.Time, name string, t Track) {
	wasFault, _ := i.ownFault()
	i.tracks[name] = t
	i.updatePriority(now)
	isFault, _ := i.ownFault()
	if i.state == StateInit || i.state == StateStop || wasFault == isFault {
		return
	}
	state := "up"
	if isFault {
		state = "down"
	}
	reason := fmt.Sprintf("tracked %s %s", name, state)
	if i.group != nil {
		i.group.memberFault(now, i, isFault, reason)
		return
	}
	if isFault {
		i.toFault(now, reason)
	} else {
		i.leaveFault(now, reason)
	}
}

// updatePriority recomputes the effective priority. A backup's down timer
// moves by the change of its Master_Down_Interval, as in keepalived; moved
// into the past, it runs out now.
func (i *Instance) updatePriority(now time.Time) {
	p := i.priority()
	if p == i.effective {
		return
	}
	oldDown := i.downInterval()
	i.log.Info("effective priority changed", "from", i.effective, "to", p)
	i.effective = p
	if i.state == StateBackup && !i.deadline.IsZero() {
		i.deadline = i.deadline.Add(i.downInterval() - oldDown)
		if i.deadline.Before(now) {
			i.deadline = now
		}
	}
}

// start is RFC 5798 §6.4.1 Initialize with keepalived's twists (its
// vrrp_init_state): only an address owner that wants MASTER becomes master
// at once; an instance with state MASTER waits one advert interval (and the
// smallest skew) for a master to show itself; others wait
// Master_Down_Interval.
func (i *Instance) start(now time.Time, ownerMaster bool) {
	i.masterAdv = i.o.AdvertInterval
	i.effective = i.priority()
	i.wantMaster = i.o.InitialState == StateMaster
	switch {
	case ownerMaster && i.owner() && i.wantMaster:
		i.toMaster(now, "address owner (priority 255)")
	case i.wantMaster:
		i.downReason = "no master within one advert interval of start (state MASTER)"
		i.toBackup(now, "start", i.masterAdv+skew(i.o.Version, PriorityOwner, i.masterAdv))
	default:
		i.downReason = "no master within the master down interval of start"
		i.toBackup(now, "start", i.downInterval())
	}
}

// valid applies the receive checks of RFC 5798 §7.1 and RFC 3768 §7.1 that
// the decoder cannot: those that need the instance's configuration.
func (i *Instance) valid(src netip.Addr, a packet.Advertisement) (bool, string) {
	switch {
	case a.VRID != i.o.VRID:
		return false, "vrid differs"
	case a.Version != i.o.Version:
		return false, fmt.Sprintf("version %d", a.Version)
	case !src.IsValid() || src.Unmap().Is4() != i.o.Primary.Is4():
		return false, "source of another family"
	case src.Unmap() == i.o.Primary:
		// Our own advert looped back; equal priority from our own address
		// would hold us in Backup for ever.
		return false, "source is our own address"
	}
	if a.Version == 2 {
		if a.AuthType != i.authType || (i.authType == 1 && a.AuthData != i.auth) {
			return false, "authentication mismatch"
		}
		// RFC 3768 §7.1: a router with another interval MUST be ignored,
		// lest two masters run in one VRID.
		if a.Interval != i.o.AdvertInterval {
			return false, fmt.Sprintf("advert interval %v, ours %v", a.Interval, i.o.AdvertInterval)
		}
	}
	return true, ""
}

func (i *Instance) receive(now time.Time, src netip.Addr, a packet.Advertisement) {
	if i.state != StateBackup && i.state != StateMaster {
		return
	}
	src = src.Unmap()
	i.counters.Received++
	if ok, why := i.valid(src, a); !ok {
		i.counters.Dropped++
		// Log each reason once per state, not per packet.
		if !i.dropLogged[why] {
			if i.dropLogged == nil {
				i.dropLogged = map[string]bool{}
			}
			i.dropLogged[why] = true
			i.log.Warn("dropping adverts", "from", src, "why", why)
		}
		return
	}
	// RFC 5798 §7.1: a differing address list MAY be logged; keepalived logs
	// and accepts it.
	if !slices.Equal(a.Addrs, i.o.VIPs) != i.addrsWarn {
		i.addrsWarn = !i.addrsWarn
		if i.addrsWarn {
			i.log.Warn("advert's addresses differ from ours", "from", src, "addrs", a.Addrs)
		}
	}
	if a.Priority == PriorityStop {
		i.counters.PriorityZeroReceived++
	}
	if i.state == StateBackup {
		i.backupReceive(now, src, a)
	} else {
		i.masterReceive(now, src, a)
	}
}

// learnInterval takes the master's advert interval in version 3 (RFC 5798
// §6.4.2: Master_Adver_Interval is the received Max Adver Int).
func (i *Instance) learnInterval(a packet.Advertisement) {
	if i.o.Version == 3 && a.Interval > 0 && a.Interval != i.masterAdv {
		i.log.Debug("master advert interval learnt", "from", i.masterAdv, "to", a.Interval)
		i.masterAdv = a.Interval
	}
}

// backupReceive is RFC 5798 §6.4.2 with keepalived's preempt_delay: an
// advert of priority 0 shortens the down timer to Skew_Time; one of higher
// or equal priority (or any, without preemption, or while the preempt delay
// runs) resets it; a lower one is ignored, so the timer runs out and this
// router preempts.
func (i *Instance) backupReceive(now time.Time, src netip.Addr, a packet.Advertisement) {
	prio := int(a.Priority)
	delaying := i.o.PreemptDelay > 0 && (i.preemptAt.IsZero() || i.preemptAt.After(now))
	switch {
	case prio == PriorityStop:
		i.deadline = now.Add(i.skewTime())
		i.downReason = fmt.Sprintf("master %v left (priority 0)", src)
	case i.o.NoPreempt || prio >= i.effective || delaying:
		i.learnInterval(a)
		i.deadline = now.Add(i.downInterval())
		i.master, i.masterPrio = src, prio
		i.wantMaster = false
		i.downReason = fmt.Sprintf("no advert from master %v for the master down interval", src)
		if i.o.PreemptDelay > 0 {
			if prio >= i.effective {
				i.preemptAt = time.Time{}
			} else if i.preemptAt.IsZero() {
				i.preemptAt = now.Add(i.o.PreemptDelay)
			}
		}
	default:
		i.master, i.masterPrio = src, prio
		i.downReason = fmt.Sprintf("preempting lower priority master %v (priority %d)", src, prio)
	}
}

// masterReceive is RFC 5798 §6.4.3: a master yields to a higher priority,
// or to an equal one from a greater primary address. Like keepalived it
// answers priority 0 and lower priorities with an advert at once, so a
// lower router that took over (split brain) steps back quickly.
func (i *Instance) masterReceive(now time.Time, src netip.Addr, a packet.Advertisement) {
	prio := int(a.Priority)
	cmp := src.Compare(i.o.Primary)
	if prio == PriorityStop || prio < i.effective || (prio == i.effective && cmp < 0) {
		i.sendAdvert(now, i.effective)
		i.deadline = now.Add(i.o.AdvertInterval)
		return
	}
	i.learnInterval(a)
	i.master, i.masterPrio = src, prio
	reason := fmt.Sprintf("higher priority %d advert from %v", prio, src)
	if prio == i.effective {
		reason = fmt.Sprintf("equal priority advert from greater address %v", src)
		if i.owner() {
			i.log.Warn("another router is configured as address owner", "peer", src)
		}
	}
	i.downReason = fmt.Sprintf("no advert from master %v for the master down interval", src)
	i.leaveMaster(now, reason)
	if i.group != nil {
		i.group.syncBackup(now, i)
	}
}

// timeout handles the instance's deadline: a backup's Master_Down_Timer
// (RFC 5798 §6.4.2: become master) or a master's Adver_Timer (§6.4.3:
// advertise).
func (i *Instance) timeout(now time.Time) {
	switch i.state {
	case StateBackup:
		i.wantMaster = true
		if i.group != nil && !i.group.canGoMaster(i) {
			// keepalived prefers Backup until every member wants Master;
			// look again after another down interval.
			i.deadline = now.Add(i.downInterval())
			return
		}
		i.toMaster(now, i.downReason)
		if i.group != nil {
			i.group.syncMaster(now, i)
		}
	case StateMaster:
		i.sendAdvert(now, i.effective)
		i.deadline = now.Add(i.o.AdvertInterval)
	default:
		i.deadline = time.Time{}
	}
}

// toMaster is RFC 5798 §6.4.2's transition: advertise first (so the old
// master releases the addresses before our gratuitous ARPs, as keepalived
// does), take the addresses, start the Adver_Timer.
func (i *Instance) toMaster(now time.Time, reason string) {
	i.wantMaster = true
	i.preemptAt = time.Time{}
	i.sendAdvert(now, i.effective)
	if err := i.o.Addresser.Take(i.o.VIPs); err != nil {
		i.log.Error("take virtual addresses", "err", err)
	}
	i.master, i.masterPrio = i.o.Primary, i.effective
	i.masterAdv = i.o.AdvertInterval
	i.deadline = now.Add(i.o.AdvertInterval)
	i.counters.BecameMaster++
	i.setState(now, StateMaster, reason)
}

// leaveMaster goes from Master to Backup: release the addresses and wait a
// Master_Down_Interval for the new master's adverts.
func (i *Instance) leaveMaster(now time.Time, reason string) {
	if err := i.o.Addresser.Release(i.o.VIPs); err != nil {
		i.log.Error("release virtual addresses", "err", err)
	}
	i.wantMaster = false
	i.preemptAt = time.Time{}
	i.deadline = now.Add(i.downInterval())
	i.setState(now, StateBackup, reason)
}

// toBackup enters Backup from Init or Fault with the down timer set to d.
func (i *Instance) toBackup(now time.Time, reason string, d time.Duration) {
	i.preemptAt = time.Time{}
	i.master, i.masterPrio = netip.Addr{}, 0
	i.deadline = now.Add(d)
	i.setState(now, StateBackup, reason)
}

// toFault enters keepalived's FAULT: a master first says it leaves with
// priority 0 and releases the addresses; no timer runs.
func (i *Instance) toFault(now time.Time, reason string) {
	if i.state == StateMaster {
		i.sendAdvert(now, PriorityStop)
		if err := i.o.Addresser.Release(i.o.VIPs); err != nil {
			i.log.Error("release virtual addresses", "err", err)
		}
	}
	i.wantMaster = false
	i.deadline = time.Time{}
	i.master, i.masterPrio = netip.Addr{}, 0
	if i.state != StateFault {
		i.setState(now, StateFault, reason)
	}
}

// leaveFault comes back up (keepalived's try_up_instance): an owner that
// wants MASTER takes over at once, others start as backups with the
// configured advert interval.
func (i *Instance) leaveFault(now time.Time, reason string) {
	i.masterAdv = i.o.AdvertInterval
	if i.owner() && i.o.InitialState == StateMaster && (i.group == nil || i.group.canGoMaster(i)) {
		i.toMaster(now, reason)
		return
	}
	i.wantMaster = false
	i.downReason = "no master within the master down interval after fault"
	i.toBackup(now, reason, i.downInterval())
}

// stop ends the instance (RFC 5798 §6.4.3 Shutdown).
func (i *Instance) stop(now time.Time) {
	if i.state == StateMaster {
		i.sendAdvert(now, PriorityStop)
		if err := i.o.Addresser.Release(i.o.VIPs); err != nil {
			i.log.Error("release virtual addresses", "err", err)
		}
	}
	i.deadline = time.Time{}
	i.setState(now, StateStop, "stopped")
}

func (i *Instance) sendAdvert(now time.Time, prio int) {
	a := packet.Advertisement{
		Version:  i.o.Version,
		VRID:     i.o.VRID,
		Priority: uint8(prio),
		Interval: i.o.AdvertInterval,
		Addrs:    i.o.VIPs,
		AuthType: i.authType,
		AuthData: i.auth,
	}
	i.lastSent = now
	i.counters.Sent++
	err := i.o.Sender.Send(a, i.o.Unicast)
	if (err != nil) != i.sendFailed {
		i.sendFailed = err != nil
		if err != nil {
			i.log.Error("send advert", "err", err)
		} else {
			i.log.Info("sending adverts again")
		}
	}
}

func (i *Instance) setState(now time.Time, s State, reason string) {
	prev := i.state
	i.state, i.since, i.reason = s, now, reason
	i.dropLogged = nil
	i.log.Info("vrrp state", "from", prev, "to", s, "priority", i.effective, "reason", reason)
	if i.o.Notifier != nil {
		i.o.Notifier.Notify(Notification{Type: "INSTANCE", Name: i.o.Name, State: s, Priority: i.effective, Reason: reason, Time: now})
	}
}

// driver runs the state machines of one instance, or of a sync group's
// members, under one lock with one timer.
type driver struct {
	mu      sync.Mutex
	clock   Clock
	members []*Instance
	group   *SyncGroup
	wakeC   chan struct{}
	ran     bool
}

func newDriver(c Clock, members ...*Instance) *driver {
	return &driver{clock: c, members: members, wakeC: make(chan struct{}, 1)}
}

// wake tells run that a deadline may have changed.
func (d *driver) wake() {
	select {
	case d.wakeC <- struct{}{}:
	default:
	}
}

func (d *driver) start(now time.Time) {
	if d.group != nil {
		d.group.start(now)
		return
	}
	i := d.members[0]
	if fault, name := i.ownFault(); fault {
		i.effective = i.priority()
		i.toFault(now, fmt.Sprintf("tracked %s down", name))
		return
	}
	i.start(now, true)
}

// next returns the earliest deadline of the members, zero if none.
func (d *driver) next() (time.Time, *Instance) {
	var at time.Time
	var who *Instance
	for _, m := range d.members {
		if !m.deadline.IsZero() && (at.IsZero() || m.deadline.Before(at)) {
			at, who = m.deadline, m
		}
	}
	return at, who
}

// expire fires every deadline due at now, earliest first. The bound only
// guards against a deadline that keeps falling due; none does, since every
// timer the machine sets lies in the future.
func (d *driver) expire(now time.Time) {
	for range 4 * (len(d.members) + 1) {
		at, m := d.next()
		if m == nil || at.After(now) {
			return
		}
		m.timeout(now)
	}
}

func (d *driver) stop(now time.Time) {
	for _, m := range d.members {
		m.stop(now)
	}
}

func (d *driver) run(ctx context.Context) error {
	d.mu.Lock()
	if d.ran {
		d.mu.Unlock()
		return errors.New("vrrp: run twice")
	}
	d.ran = true
	d.start(d.clock.Now())
	d.mu.Unlock()
	for {
		d.mu.Lock()
		at, _ := d.next()
		d.mu.Unlock()
		var timer <-chan time.Time
		if !at.IsZero() {
			timer = d.clock.After(at.Sub(d.clock.Now()))
		}
		select {
		case <-ctx.Done():
			d.mu.Lock()
			d.stop(d.clock.Now())
			d.mu.Unlock()
			return nil
		case <-d.wakeC:
		case <-timer:
			d.mu.Lock()
			d.expire(d.clock.Now())
			d.mu.Unlock()
		}
	}
}
