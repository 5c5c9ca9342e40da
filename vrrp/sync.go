package vrrp

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// SyncGroupOptions configure a sync group (keepalived's vrrp_sync_group).
type SyncGroupOptions struct {
	Name string
	// TrackingWeight is sync_group_tracking_weight (or the deprecated
	// global_tracking): members' tracking weights count. Without it,
	// keepalived makes a member's weighted interface unweighted (its failure
	// means FAULT) and ignores other weights, since members with differing
	// priorities would not move together. The group's own track_* lines are
	// the caller's to hand to every member's SetTracked.
	TrackingWeight bool
	Notifier       Notifier     // nil: no group notifications
	Logger         *slog.Logger // nil: discard
}

// SyncGroup moves its member instances between states together, as
// keepalived's sync groups do: one member in Fault puts all in Fault; a
// member becomes master only once every member wants to (each one's master
// down timer has run out), and then all do; a master that yields takes the
// others to Backup with it.
type SyncGroup struct {
	name           string
	trackingWeight bool
	members        []*Instance
	d              *driver
	notifier       Notifier
	log            *slog.Logger

	state  State
	since  time.Time
	reason string
}

// GroupStatus is a snapshot of a sync group.
type GroupStatus struct {
	Name    string    `json:"name"`
	State   State     `json:"state"`
	Members []string  `json:"members"`
	Since   time.Time `json:"since"`
	Reason  string    `json:"reason"`
}

// NewSyncGroup makes members one group. They must be new: not yet running
// nor in another group. From then on the group's Run runs them.
func NewSyncGroup(o SyncGroupOptions, members ...*Instance) (*SyncGroup, error) {
	if len(members) == 0 {
		return nil, fmt.Errorf("sync group %s: no members", o.Name)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g := &SyncGroup{name: o.Name, trackingWeight: o.TrackingWeight, members: members, notifier: o.Notifier, log: logger.With("sync_group", o.Name)}
	seen := map[*Instance]bool{}
	for _, m := range members {
		m.d.mu.Lock()
		busy := m.group != nil || m.d.ran
		m.d.mu.Unlock()
		if busy || seen[m] {
			return nil, fmt.Errorf("sync group %s: member %s: already in a group or running", o.Name, m.o.Name)
		}
		seen[m] = true
	}
	if len(members) == 1 {
		g.log.Warn("sync group has one member, which is probably not what was meant")
	}
	g.d = newDriver(members[0].o.Clock, members...)
	g.d.group = g
	for _, m := range members {
		m.d, m.group = g.d, g
		m.effective = m.priority()
	}
	return g, nil
}

// Run runs the members until ctx ends, then stops them as Instance.Run does.
func (g *SyncGroup) Run(ctx context.Context) error {
	if err := g.d.run(ctx); err != nil {
		return fmt.Errorf("sync group %s: %w", g.name, err)
	}
	return nil
}

// Status returns a snapshot of the group; each member's Status has the rest.
func (g *SyncGroup) Status() GroupStatus {
	g.d.mu.Lock()
	defer g.d.mu.Unlock()
	s := GroupStatus{Name: g.name, State: g.state, Since: g.since, Reason: g.reason}
	for _, m := range g.members {
		s.Members = append(s.Members, m.o.Name)
	}
	return s
}

func (g *SyncGroup) setState(now time.Time, s State, reason string) {
	if g.state == s {
		return
	}
	g.log.Info("vrrp sync group state", "from", g.state, "to", s, "reason", reason)
	g.state, g.since, g.reason = s, now, reason
	if g.notifier != nil {
		g.notifier.Notify(Notification{Type: "GROUP", Name: g.name, State: s, Reason: reason, Time: now})
	}
}

// faulted returns a member in fault by its own tracking, other than but.
func (g *SyncGroup) faulted(but *Instance) (*Instance, string) {
	for _, m := range g.members {
		if m == but {
			continue
		}
		if f, name := m.ownFault(); f {
			return m, name
		}
	}
	return nil, ""
}

// start is keepalived's vrrp_init_state for a group: all in Fault if one
// member is; the group is master at once only if every member is an
// address owner wanting MASTER.
func (g *SyncGroup) start(now time.Time) {
	if m, name := g.faulted(nil); m != nil {
		for _, x := range g.members {
			x.effective = x.priority()
			x.toFault(now, fmt.Sprintf("sync group %s: %s tracked %s down", g.name, m.o.Name, name))
		}
		g.setState(now, StateFault, fmt.Sprintf("%s tracked %s down", m.o.Name, name))
		return
	}
	owners := true
	for _, m := range g.members {
		owners = owners && m.owner() && m.o.InitialState == StateMaster
	}
	for _, m := range g.members {
		m.start(now, owners)
	}
	if owners {
		g.setState(now, StateMaster, "all members own their addresses")
	} else {
		g.setState(now, StateBackup, "start")
	}
}

// canGoMaster is keepalived's vrrp_sync_can_goto_master: prefer Backup,
// to avoid thrashing, until every other member wants Master too.
func (g *SyncGroup) canGoMaster(i *Instance) bool {
	if g.state == StateMaster {
		return true
	}
	for _, m := range g.members {
		if m != i && !m.wantMaster {
			return false
		}
	}
	return true
}

// syncMaster takes the other members to Master after i became master.
func (g *SyncGroup) syncMaster(now time.Time, i *Instance) {
	if g.state == StateMaster {
		return
	}
	g.setState(now, StateMaster, fmt.Sprintf("%s became master", i.o.Name))
	for _, m := range g.members {
		if m != i && m.state != StateMaster && m.state != StateFault {
			m.toMaster(now, fmt.Sprintf("sync group %s: %s became master", g.name, i.o.Name))
		}
	}
}

// syncBackup takes the other members to Backup after i went there.
func (g *SyncGroup) syncBackup(now time.Time, i *Instance) {
	if g.state == StateBackup {
		return
	}
	g.setState(now, StateBackup, fmt.Sprintf("%s became backup", i.o.Name))
	reason := fmt.Sprintf("sync group %s: %s became backup", g.name, i.o.Name)
	for _, m := range g.members {
		switch {
		case m == i || m.state == StateBackup:
		case m.state == StateMaster:
			m.leaveMaster(now, reason)
		default:
			m.masterAdv = m.o.AdvertInterval
			m.wantMaster = false
			m.downReason = "no master within the master down interval after fault"
			m.toBackup(now, reason, m.downInterval())
		}
	}
}

// memberFault handles a change of member i's own fault (keepalived's
// down_instance and try_up_instance with a sync group): the first member
// in fault takes all to Fault; the last to recover takes all to Backup.
func (g *SyncGroup) memberFault(now time.Time, i *Instance, fault bool, reason string) {
	other, _ := g.faulted(i)
	if fault {
		i.toFault(now, reason)
		if other != nil {
			return
		}
		g.setState(now, StateFault, fmt.Sprintf("%s %s", i.o.Name, reason))
		for _, m := range g.members {
			if m != i && m.state != StateFault {
				m.toFault(now, fmt.Sprintf("sync group %s: %s %s", g.name, i.o.Name, reason))
			}
		}
		return
	}
	if other != nil {
		return
	}
	i.leaveFault(now, reason)
	if i.state == StateMaster {
		g.syncMaster(now, i)
	} else {
		g.syncBackup(now, i)
	}
}
