package controlplane

import (
	"fmt"
	"net/netip"
	"time"

	"xlb/controlplane/sched"
	"xlb/maps"
)

// localityDataplane is what a Dataplane offers when it serves lblc and
// lblcr from a table of destinations (*maps.Dataplane does). Optional: a
// data plane without it has no such table to read or clear.
type localityDataplane interface {
	LookupLocality(serviceID uint32, dst netip.Addr) (maps.Locality, bool, error)
	DeleteLocalities(serviceID uint32) (int, error)
	LocalityExpiration() time.Duration
}

// usesLocality says whether s keeps a table of destinations (lblc, lblcr).
func usesLocality(s maps.Scheduler) bool { return s == maps.SchedLBLC || s == maps.SchedLBLCR }

// forgetLocalities removes svc's lblc/lblcr entries, so that its service
// id, when another service gets it, starts without them. A failure only
// costs stale entries, which the program checks against the reals'
// generations and the service's list anyway: logged, not returned.
func (x *XDP) forgetLocalities(svc *xdpService) {
	ld, ok := x.dp.(localityDataplane)
	if !ok || svc.entry.ID == 0 {
		return
	}
	if _, err := ld.DeleteLocalities(svc.id); err != nil {
		x.log.Warn("forget lblc/lblcr entries of a removed service", "service_id", svc.id, "err", err)
	}
}

// explainLocality completes e, for an lblc or lblcr service, with what a
// new flow to dst would meet: the destination's entry in the data plane's
// locality table and the reals' connection counts, judged by the
// program's rules (bpf/lblc.h). It sets e.SlotReal to the real the
// program would pick, and e.DecidedBy to "locality table" when the entry
// decides (a table hit), leaving "scheduler" (wlc) otherwise.
func (x *XDP) explainLocality(e *Explanation, svc *xdpService, byID map[uint32]netip.AddrPort, dst netip.Addr) error {
	name := schedName(svc)
	backends := sched.Sorted(tableBackends(svc))
	type load struct {
		weight       uint32
		active, cost uint64
	}
	loads := make(map[uint32]load, len(backends))
	under := false
	for _, b := range backends {
		a, i, err := x.dp.RealConnCounts(b.ID)
		if err != nil {
			return err
		}
		loads[b.ID] = load{weight: b.Weight, active: a, cost: a<<8 + i}
		under = under || (b.Weight > 0 && a*2 < uint64(b.Weight))
	}
	// least picks wlc's real among ids: the smallest cost/weight, the
	// earlier on a tie; ids without a load (not in the list) or of weight
	// 0 do not compete.
	least := func(ids []uint32) uint32 {
		var best uint32
		for _, id := range ids {
			l, ok := loads[id]
			if !ok || l.weight == 0 {
				continue
			}
			if b := loads[best]; best == 0 || b.cost*uint64(l.weight) > l.cost*uint64(b.weight) {
				best = id
			}
		}
		return best
	}
	var all []uint32
	for _, b := range backends {
		all = append(all, b.ID)
	}
	wlc := least(all)
	e.SlotReal = byID[wlc]

	ld, ok := x.dp.(localityDataplane)
	if !ok {
		e.Notes = append(e.Notes, fmt.Sprintf("lb_algo %s: this data plane has no locality table to read; a new flow goes to the least loaded real (wlc)", name))
		return nil
	}
	loc, found, err := ld.LookupLocality(svc.id, dst)
	if err != nil {
		return err
	}
	idle := max(0, maps.MonotonicNow()-loc.LastUse)
	if !found || idle > ld.LocalityExpiration() {
		why := "no entry"
		if found {
			why = fmt.Sprintf("its entry is unused for %s, past the %s expiration", idle.Round(time.Second), ld.LocalityExpiration())
		}
		e.Notes = append(e.Notes, fmt.Sprintf("lb_algo %s: destination %s has %s: a new flow goes to wlc's pick (least connections by weight), which the table then records", name, dst, why))
		return nil
	}
	var members []uint32
	var names []string
	for _, r := range loc.Reals {
		members = append(members, r.ID)
		if a, ok := byID[r.ID]; ok {
			names = append(names, a.String())
		} else {
			names = append(names, fmt.Sprintf("real id %d (gone)", r.ID))
		}
	}
	pick := least(members)
	if pick == 0 {
		e.Notes = append(e.Notes, fmt.Sprintf("lb_algo %s: destination %s → %v (used %s ago), none of them usable now: wlc picks, and its real joins the entry", name, dst, names, idle.Round(time.Second)))
		return nil
	}
	l := loads[pick]
	if l.active > uint64(l.weight) && under {
		e.Notes = append(e.Notes, fmt.Sprintf("lb_algo %s: destination %s → %v; %s is overloaded (%d active > weight %d while a real is under half load): wlc picks, and its real %s the entry",
			name, dst, names, byID[pick], l.active, l.weight, map[bool]string{true: "replaces", false: "joins"}[svc.sched == maps.SchedLBLC]))
		return nil
	}
	e.SlotReal = byID[pick]
	e.DecidedBy = "locality table"
	e.Notes = append(e.Notes, fmt.Sprintf("lb_algo %s: destination %s → %v (used %s ago): a new flow goes to %s (%d active, weight %d: not overloaded)",
		name, dst, names, idle.Round(time.Second), byID[pick], l.active, l.weight))
	return nil
}
