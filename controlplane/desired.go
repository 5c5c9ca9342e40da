package controlplane

import (
	"fmt"
	"net/netip"
	"slices"

	"xlb/config"
)

// Overrides are runtime weight overrides set with `xlbctl weight`, by
// service and real. They outlive config reloads while the real exists.
type Overrides map[ServiceKey]map[netip.AddrPort]int

// Set records weight w for real a of service k.
func (o Overrides) Set(k ServiceKey, a netip.AddrPort, w int) {
	if o[k] == nil {
		o[k] = map[netip.AddrPort]int{}
	}
	o[k][a] = w
}

// Prune drops overrides whose service or real is no longer in st and
// returns what it dropped, so a reload can say which overrides ended.
func (o Overrides) Prune(st State) []string {
	var dropped []string
	for k, reals := range o {
		svc, ok := st.Service(k)
		for a := range reals {
			if _, has := svc.Real(a); ok && has {
				continue
			}
			dropped = append(dropped, fmt.Sprintf("%s %s", k, a))
			delete(reals, a)
		}
		if len(reals) == 0 {
			delete(o, k)
		}
	}
	slices.Sort(dropped)
	return dropped
}

// Health is what the health checks say of each real, by service. A real
// with no entry counts as up: it has no checker, or its checks have not
// reported yet and the service has no alpha (keepalived adds such reals at
// start). The control plane fans one check's result out to every service
// of a virtual_server_group.
type Health map[ServiceKey]map[netip.AddrPort]RealHealth

// RealHealth is one real's health as its checks see it.
type RealHealth struct {
	Up     bool
	Reason string // the last result's reason, for xlbctl
	// Weight replaces the configured weight when HasWeight: MISC_CHECK's
	// misc_dynamic exit code, as keepalived.
	Weight    int
	HasWeight bool
}

// Set records h for real a of service k.
func (hl Health) Set(k ServiceKey, a netip.AddrPort, h RealHealth) {
	if hl[k] == nil {
		hl[k] = map[netip.AddrPort]RealHealth{}
	}
	hl[k][a] = h
}

// Prune drops the health of services and reals no longer in st.
func (hl Health) Prune(st State) {
	for k, reals := range hl {
		svc, ok := st.Service(k)
		for a := range reals {
			if _, has := svc.Real(a); !ok || !has {
				delete(reals, a)
			}
		}
		if len(reals) == 0 {
			delete(hl, k)
		}
	}
}

// Inputs are what the desired state is computed from besides the
// configuration.
type Inputs struct {
	Overrides Overrides
	Health    Health
	// Quorum is each service's quorum state as last computed: with
	// hysteresis, whether a service has quorum depends on whether it had.
	// A service not in it starts as keepalived starts one.
	Quorum map[ServiceKey]bool
}

// Desired computes the desired state from a configuration, the runtime
// overrides and the health checks. It is the one place where a real's
// effective weight is decided:
//
//   - the configured weight, or the one misc_dynamic asks for, or the one
//     set with `xlbctl weight` (the operator's word wins);
//   - 0 while the real's checks fail and it has inhibit_on_failure (it stays
//     in the data plane so its flows finish); without inhibit_on_failure a
//     failed real leaves the pool (Service.Down) and its flows are
//     rescheduled;
//   - and, per service, quorum: while the live reals' weights sum below
//     quorum (keepalived's rule, with hysteresis) a configured sorry_server
//     takes every new flow.
func Desired(cfg *config.Config, in Inputs) (State, error) {
	var st State
	for _, vs := range cfg.VirtualServers {
		proto, err := ParseProtocol(fmt.Sprint(vs.Protocol))
		if err != nil {
			return State{}, fmt.Errorf("%s: virtual_server %s %d: %w", vs.Pos, vs.Addr, vs.Port, err)
		}
		svc := Service{
			Key:                    ServiceKey{VIP: vs.Addr.Unmap(), Port: vs.Port, Protocol: proto},
			Scheduler:              fmt.Sprint(vs.Scheduler),
			Kind:                   fmt.Sprint(vs.Kind),
			LocalAddrs:             vs.LocalAddrs,
			LocalPortMin:           vs.LocalPorts.Min,
			LocalPortMax:           vs.LocalPorts.Max,
			Quorum:                 vs.Quorum,
			Hysteresis:             vs.Hysteresis,
			QuorumUpScript:         vs.QuorumUp,
			QuorumDownScript:       vs.QuorumDown,
			TunnelSource:           vs.TunnelSource,
			Persistence:            vs.PersistenceTimeout,
			PersistenceGranularity: vs.PersistenceGranularity,
			OPS:                    vs.OPS,
		}
		if ss := vs.SorryServer; ss != nil {
			svc.Sorry = netip.AddrPortFrom(ss.Addr.Unmap(), ss.Port)
		}
		for _, rs := range vs.Reals {
			r := effectiveReal(svc.Key, rs, in)
			if r.Down && !r.Inhibit {
				svc.Down = append(svc.Down, r)
				continue
			}
			svc.Reals = append(svc.Reals, r)
		}
		byAddr := func(a, b Real) int { return a.Addr.Compare(b.Addr) }
		slices.SortFunc(svc.Reals, byAddr)
		slices.SortFunc(svc.Down, byAddr)
		prev, known := in.Quorum[svc.Key]
		svc.QuorumUp = quorumUp(svc, prev, known)
		svc.SorryOnly = svc.Sorry.IsValid() && !svc.QuorumUp
		st.Services = append(st.Services, svc)
	}
	slices.SortFunc(st.Services, func(a, b Service) int { return compareKeys(a.Key, b.Key) })
	return st, nil
}

// effectiveReal decides one real's weight and health (see Desired).
func effectiveReal(k ServiceKey, rs config.RealServer, in Inputs) Real {
	r := Real{
		Addr:         netip.AddrPortFrom(rs.Addr.Unmap(), rs.Port),
		ConfigWeight: rs.Weight,
		Weight:       rs.Weight,
		Inhibit:      rs.InhibitOnFailure,
	}
	if h, ok := in.Health[k][r.Addr]; ok {
		r.Down, r.HealthReason, r.Checked = !h.Up, h.Reason, true
		if h.HasWeight {
			r.DynamicWeight = &h.Weight
			r.Weight = h.Weight
		}
	}
	if w, ok := in.Overrides[k][r.Addr]; ok {
		r.Override = &w
		r.Weight = w
	}
	if r.Down {
		r.Weight = 0
	}
	return r
}

// quorumUp applies keepalived's quorum rule to svc: the live reals'
// weights must sum to at least quorum; with hysteresis h, a service that
// has quorum keeps it down to quorum-h, and one without it needs quorum+h
// to gain it (and to start with it). A sum of 0 never has quorum.
func quorumUp(svc Service, prev, known bool) bool {
	sum := 0
	for _, r := range svc.Reals {
		if !r.Down {
			sum += r.Weight
		}
	}
	q := max(svc.Quorum, 1)
	switch {
	case sum == 0:
		return false
	case known && prev:
		return sum >= q-svc.Hysteresis
	default:
		return sum >= q+svc.Hysteresis
	}
}

// QuorumStates returns each service's quorum state, the Inputs.Quorum of
// the next computation.
func (s State) QuorumStates() map[ServiceKey]bool {
	out := make(map[ServiceKey]bool, len(s.Services))
	for _, svc := range s.Services {
		out[svc.Key] = svc.QuorumUp
	}
	return out
}
