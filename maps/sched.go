package maps

import (
	"errors"
	"fmt"
	"time"

	"github.com/cilium/ebpf"

	"xlb/bpf"
)

// SwapSchedReals installs reals as the list an lc, wlc, sed, nq, lblc or
// lblcr service scans for a new flow (lblc and lblcr also take their
// members' weights from it: a member missing from the list is not picked): at most MaxSchedReals, in the order ties should
// go by (the control plane's Key order, sched.Sorted). The list is
// replaced whole (a packet reads the old list or the new one, see
// sched_lists in bpf/maps.h). An empty list, or one of weights 0 only,
// drops the service's new flows (drop_no_real). List only reals that are
// present: a picked real that is removed or deleted drops the flow.
func (d *Dataplane) SwapSchedReals(serviceID uint32, reals []SchedReal) error {
	err := d.checkServiceID(serviceID)
	if err == nil && len(reals) > MaxSchedReals {
		err = fmt.Errorf("reals: want at most %d, got %d", MaxSchedReals, len(reals))
	}
	var val bpf.XlbSchedList
	for i, r := range reals {
		if err != nil {
			break
		}
		if err = d.checkRealID(r.ID); err != nil {
			err = fmt.Errorf("real %d: %w", i, err)
			break
		}
		val.Reals[i] = bpf.XlbSchedReal{Id: r.ID, Weight: r.Weight}
	}
	if err == nil {
		val.Count = uint32(len(reals))
		err = d.schedLists.Update(serviceID, &val, ebpf.UpdateAny)
	}
	if err != nil {
		return fmt.Errorf("swap sched reals of service %d: %w", serviceID, err)
	}
	return nil
}

// DeleteSchedReals removes the list of service serviceID (SwapSchedReals);
// ErrNotFound if there is none.
func (d *Dataplane) DeleteSchedReals(serviceID uint32) error {
	err := d.checkServiceID(serviceID)
	if err == nil {
		err = d.schedLists.Delete(serviceID)
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			err = ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("delete sched reals of service %d: %w", serviceID, err)
	}
	return nil
}

// RealConnCounts returns how many tracked flows real id has: active (TCP
// established) and inactive (SYN seen, closing, UDP), as ipvsadm's
// ActiveConn and InActConn. They are the program's running counts, which
// drift from the tables (flows that expire, and full NAT flows its LRU
// tables evict, stay counted; see bpf/conntab.h) until
// ResyncConnCounts; never below 0.
func (d *Dataplane) RealConnCounts(id uint32) (active, inactive uint64, err error) {
	if err := d.checkRealID(id); err != nil {
		return 0, 0, fmt.Errorf("real %d conn counts: %w", id, err)
	}
	var c bpf.XlbConnCounts
	if err := d.realConns.Lookup(id, &c); err != nil {
		return 0, 0, fmt.Errorf("real %d conn counts: %w", id, err)
	}
	return uint64(max(c.Active, 0)), uint64(max(c.Inactive, 0)), nil
}

// ResyncConnCounts rebuilds every real's connection counts from the
// connection tables (full NAT's included): it leaves expired flows out
// (the program takes none off a count: bpf/conntab.h), deletes full NAT's
// expired entries (which the program would otherwise take off the counts
// when it next sees them; conns4 and conns6 keep theirs until a new flow
// of their set takes their way), counts the others
// whose real id is still in the generation they were tracked on, and writes
// the counts. Call it periodically (the control plane: every few
// seconds, or once per TCPFinTimeout at least) so that lc, wlc, sed and nq
// see flows that ended without a packet. It walks the whole tables (about
// 100 ns an entry), and the program's updates during the walk are lost
// from the written counts until the next resync: the counts are
// approximate, as the LVS deviation 4 in controlplane/sched says. It
// returns how many expired flows it found.
func (d *Dataplane) ResyncConnCounts() (expired int, err error) {
	expired, err = d.resyncConnCounts()
	if err != nil {
		return expired, fmt.Errorf("resync conn counts: %w", err)
	}
	return expired, nil
}

func (d *Dataplane) resyncConnCounts() (int, error) {
	n := d.opts.MaxReals + 1
	gens := make([]uint16, n)
	for id := uint32(1); id < n; id++ {
		var r bpf.XlbReal
		if err := d.reals.Lookup(id, &r); err != nil {
			return 0, fmt.Errorf("read real %d: %w", id, err)
		}
		gens[id] = r.Gen
	}
	counts := make([]bpf.XlbConnCounts, n)
	timeouts := map[ConnState]time.Duration{ConnSYN: d.opts.SYNTimeout, ConnEstablished: d.opts.TCPTimeout,
		ConnClosing: d.opts.TCPFinTimeout, ConnUDP: d.opts.UDPTimeout}
	now := MonotonicNow()
	expired := 0
	// Expired flows stay where they are (a new flow of their set takes
	// their way, and the program takes no expired flow off a count,
	// bpf/conntab.h; full NAT's as the connection tables', bpf/fnat.h):
	// they are only left out of the counts. The program compares with >,
	// and refreshes last_seen with a clock that may lag a tick: only flows
	// a second past their timeout count as expired here.
	count := func(c bpf.XlbConn) {
		if now-time.Duration(c.LastSeen) > timeouts[ConnState(c.State)]+time.Second {
			expired++
			return
		}
		// Counted as the program counts: by generation alone (a deleted
		// or removed real's flows are taken off when next seen,
		// conns_forget in bpf/ct.h).
		if c.RealId < n && gens[c.RealId] == c.RealGen {
			if ConnState(c.State) == ConnEstablished {
				counts[c.RealId].Active++
			} else {
				counts[c.RealId].Inactive++
			}
		}
	}
	for _, t := range d.connTables() {
		if err := t.walkConns(func(_ any, c bpf.XlbConn) { count(c) }); err != nil {
			return expired, err
		}
	}
	if err := d.fnatForward().walk(func(_ any, v bpf.XlbFnatConn) { count(v.Conn) }); err != nil {
		return expired, fmt.Errorf("walk full-NAT flows: %w", err)
	}
	keys := make([]uint32, n-1)
	for i := range keys {
		keys[i] = uint32(i + 1)
	}
	if _, err := d.realConns.BatchUpdate(keys, counts[1:], nil); err != nil {
		return expired, fmt.Errorf("write counts: %w", err)
	}
	return expired, nil
}
