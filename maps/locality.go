package maps

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/cilium/ebpf"

	"xlb/bpf"
)

// MaxLocalitySet is the most reals an lblcr set holds (LOCALITY_SET_MAX in
// bpf/consts.h); IPVS's sets are unbounded. A full set makes room for a
// joining real by shedding its most loaded member.
const MaxLocalitySet = len(bpf.XlbLocality{}.Members)

// Locality is what the lblc/lblcr table (bpf/lblc.h) holds for one
// service and destination address: where new flows to that destination
// go.
type Locality struct {
	// Reals are the real ids, newest first (lblc: one), each with the
	// generation it was recorded under: a real id whose generation has
	// moved on names another real, and leaves the set when next used.
	Reals []LocalityReal
	// LastUse is when a new flow last went to the destination (the
	// MonotonicNow clock, at most a second stale); LastMod when the lblcr
	// set last changed.
	LastUse, LastMod time.Duration
}

// LocalityReal is one member of a Locality.
type LocalityReal struct {
	ID  uint32
	Gen uint16
}

// localityKey is the localities key of service id and destination dst.
func localityKey(serviceID uint32, dst netip.Addr) bpf.XlbLocalityKey {
	// IPv4 as v4-mapped: As16 of an IPv4 address is its mapped form.
	return bpf.XlbLocalityKey{ServiceId: serviceID, Addr: dst.Unmap().As16()}
}

// LookupLocality returns the lblc/lblcr entry of service serviceID for
// destination dst, and false when there is none. An entry unused for
// Options.LocalityExpiration is still returned (the program treats it as
// absent); the caller compares LastUse with MonotonicNow.
func (d *Dataplane) LookupLocality(serviceID uint32, dst netip.Addr) (Locality, bool, error) {
	if err := d.checkServiceID(serviceID); err != nil {
		return Locality{}, false, fmt.Errorf("lookup locality: %w", err)
	}
	if !dst.IsValid() {
		return Locality{}, false, errors.New("lookup locality: dst: missing")
	}
	key := localityKey(serviceID, dst)
	var v bpf.XlbLocality
	if err := d.localities.Lookup(&key, &v); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return Locality{}, false, nil
		}
		return Locality{}, false, fmt.Errorf("lookup locality of service %d to %s: %w", serviceID, dst, err)
	}
	l := Locality{LastUse: time.Duration(v.LastUse), LastMod: time.Duration(v.LastMod)}
	for _, m := range v.Members[:min(int(v.Count), MaxLocalitySet)] {
		l.Reals = append(l.Reals, LocalityReal{ID: m.RealId, Gen: m.RealGen})
	}
	return l, true, nil
}

// LocalityExpiration is how long an lblc/lblcr entry may go unused, as
// loaded (Options.LocalityExpiration).
func (d *Dataplane) LocalityExpiration() time.Duration { return d.opts.LocalityExpiration }

// DeleteLocalities removes every lblc/lblcr entry of service serviceID,
// so that a service id handed to another service starts without them, and
// returns how many it removed. It walks the whole table.
func (d *Dataplane) DeleteLocalities(serviceID uint32) (int, error) {
	if err := d.checkServiceID(serviceID); err != nil {
		return 0, fmt.Errorf("delete localities: %w", err)
	}
	var keys []bpf.XlbLocalityKey
	var key bpf.XlbLocalityKey
	var v bpf.XlbLocality
	iter := d.localities.Iterate()
	for iter.Next(&key, &v) {
		if key.ServiceId == serviceID {
			keys = append(keys, key)
		}
	}
	if err := iter.Err(); err != nil {
		return 0, fmt.Errorf("delete localities of service %d: %w", serviceID, err)
	}
	n := 0
	for _, k := range keys {
		err := d.localities.Delete(&k)
		switch {
		case err == nil:
			n++
		case !errors.Is(err, ebpf.ErrKeyNotExist): // evicted meanwhile
			return n, fmt.Errorf("delete localities of service %d: %w", serviceID, err)
		}
	}
	return n, nil
}
