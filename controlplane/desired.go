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

// Desired computes the desired state from a configuration and the runtime
// overrides. It is the one place where a real's effective weight is
// decided: later, health results and misc_dynamic join the overrides here.
func Desired(cfg *config.Config, ov Overrides) (State, error) {
	var st State
	for _, vs := range cfg.VirtualServers {
		proto, err := ParseProtocol(fmt.Sprint(vs.Protocol))
		if err != nil {
			return State{}, fmt.Errorf("%s: virtual_server %s %d: %w", vs.Pos, vs.Addr, vs.Port, err)
		}
		svc := Service{
			Key:       ServiceKey{VIP: vs.Addr.Unmap(), Port: vs.Port, Protocol: proto},
			Scheduler: fmt.Sprint(vs.Scheduler),
			Kind:      fmt.Sprint(vs.Kind),
		}
		if ss := vs.SorryServer; ss != nil {
			svc.Sorry = netip.AddrPortFrom(ss.Addr.Unmap(), ss.Port)
		}
		for _, rs := range vs.Reals {
			r := Real{
				Addr:         netip.AddrPortFrom(rs.Addr.Unmap(), rs.Port),
				ConfigWeight: rs.Weight,
				Weight:       rs.Weight,
			}
			if w, ok := ov[svc.Key][r.Addr]; ok {
				r.Override = &w
				r.Weight = w
			}
			svc.Reals = append(svc.Reals, r)
		}
		slices.SortFunc(svc.Reals, func(a, b Real) int { return a.Addr.Compare(b.Addr) })
		st.Services = append(st.Services, svc)
	}
	slices.SortFunc(st.Services, func(a, b Service) int { return compareKeys(a.Key, b.Key) })
	return st, nil
}
