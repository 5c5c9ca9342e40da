package vrrp

import (
	"maps"
	"net/netip"
	"slices"
	"time"
)

// Counters count an instance's adverts and takeovers since New.
type Counters struct {
	Sent                 uint64 `json:"adverts_sent"`
	Received             uint64 `json:"adverts_received"`
	Dropped              uint64 `json:"adverts_dropped"` // failed the receive checks
	PriorityZeroReceived uint64 `json:"priority_zero_received"`
	BecameMaster         uint64 `json:"became_master"`
}

// TrackStatus is one tracked object as Status shows it.
type TrackStatus struct {
	Name  string `json:"name"`
	Track Track  `json:"track"`
	Delta int    `json:"delta"` // what it adds to the priority now
	Fault bool   `json:"fault,omitempty"`
}

// Status is a snapshot of an instance, for xlbctl vrrp. Durations are
// nanoseconds in JSON.
type Status struct {
	Name              string `json:"name"`
	VRID              uint8  `json:"vrid"`
	Version           int    `json:"version"`
	State             State  `json:"state"`
	Priority          int    `json:"priority"` // configured
	EffectivePriority int    `json:"effective_priority"`
	// Master is the current master's address (ours in Master), zero if none
	// is known.
	Master               netip.Addr    `json:"master,omitzero"`
	MasterPriority       int           `json:"master_priority,omitempty"`
	AdvertInterval       time.Duration `json:"advert_interval"`
	MasterAdvertInterval time.Duration `json:"master_advert_interval"`
	Preempt              bool          `json:"preempt"`
	PreemptDelay         time.Duration `json:"preempt_delay,omitempty"`
	Accept               bool          `json:"accept"`
	VIPs                 []netip.Addr  `json:"vips"`
	Unicast              []netip.Addr  `json:"unicast_peers,omitempty"`
	SyncGroup            string        `json:"sync_group,omitempty"`
	// Since and Reason describe the last transition.
	Since    time.Time     `json:"since"`
	Reason   string        `json:"reason"`
	LastSent time.Time     `json:"last_advert_sent,omitzero"`
	Tracks   []TrackStatus `json:"tracks,omitempty"`
	Counters Counters      `json:"counters"`
}

// Status returns a snapshot of the instance.
func (i *Instance) Status() Status {
	i.d.mu.Lock()
	defer i.d.mu.Unlock()
	s := Status{
		Name:                 i.o.Name,
		VRID:                 i.o.VRID,
		Version:              i.o.Version,
		State:                i.state,
		Priority:             i.o.Priority,
		EffectivePriority:    i.effective,
		Master:               i.master,
		MasterPriority:       i.masterPrio,
		AdvertInterval:       i.o.AdvertInterval,
		MasterAdvertInterval: i.masterAdv,
		Preempt:              !i.o.NoPreempt,
		PreemptDelay:         i.o.PreemptDelay,
		Accept:               i.o.Accept,
		VIPs:                 slices.Clone(i.o.VIPs),
		Unicast:              slices.Clone(i.o.Unicast),
		Since:                i.since,
		Reason:               i.reason,
		LastSent:             i.lastSent,
		Counters:             i.counters,
	}
	if i.group != nil {
		s.SyncGroup = i.group.name
	}
	for _, name := range slices.Sorted(maps.Keys(i.tracks)) {
		t := i.tracks[name]
		d, f := i.trackEffect(t)
		s.Tracks = append(s.Tracks, TrackStatus{Name: name, Track: t, Delta: d, Fault: f})
	}
	return s
}
