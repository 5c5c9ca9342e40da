package sched

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"xlb/controlplane/maglev"
)

// DefaultExpiration is how long lblc and lblcr keep an unused destination
// entry, and how long an lblcr set must go unchanged before it sheds its
// most loaded member: the kernel's default for the lblc_expiration and
// lblcr_expiration sysctls (24 hours).
const DefaultExpiration = 24 * time.Hour

// ErrUnknownReal is returned by the connection counters for an id the Model
// has never seen.
var ErrUnknownReal = errors.New("unknown real")

// dest is what the kernel keeps per real (struct ip_vs_dest): its weight
// and connection counts. A dest outlives its removal from the list, as the
// kernel's trash keeps it while connections or lblc entries refer to it.
type dest struct {
	weight           uint32
	active, inactive int64
	// listed is false once the real is removed from the service (the
	// kernel clears IP_VS_DEST_F_AVAILABLE).
	listed bool
}

// overhead is ip_vs_dest_conn_overhead: an active connection costs 256
// inactive ones.
func (d *dest) overhead() int64 { return d.active<<8 + d.inactive }

// lblcEntry maps a destination address to one real.
type lblcEntry struct {
	id      uint32
	lastUse time.Duration
}

// lblcrEntry maps a destination address to a set of reals, newest first
// (the kernel adds set members at the head of the set's list).
type lblcrEntry struct {
	set              []uint32
	lastUse, lastMod time.Duration
}

// Model is a reference implementation of one service's LVS scheduler, with
// the kernel's selection rules, state and tie-breaks: the oracle the XDP
// data plane is tested against. It is not safe for concurrent use.
//
// The list order of the backends passed to New and Update plays the role
// of the kernel's destination list: ties go to the earlier backend. The
// kernel adds each new real at the head of its list, so `ipvsadm -Ln`
// order is newest first; xlb's data plane walks reals in Key order
// (Sorted). Pick counts nothing: call Connect for the flow Pick placed,
// then Establish, Close and Expire as it changes state, as the kernel's
// protocol handlers move a real's active and inactive counts.
type Model struct {
	name       string
	list       []uint32 // ids in list order
	dests      map[uint32]*dest
	now        time.Duration
	expiration time.Duration

	// rrLast is the id rr picked last; 0 means the list head.
	rrLast uint32
	// wrr is ip_vs_wrr_mark: current position (-1 is the list head),
	// current weight, maximum weight and decrement.
	wrrPos              int
	wrrCW, wrrMW, wrrDI int64

	// table is the sh, dh or mh lookup table.
	table []uint32

	lblc  map[netip.Addr]*lblcEntry
	lblcr map[netip.Addr]*lblcrEntry
	// setBound, when not 0, bounds lblcr sets as xlb's data plane does
	// (SetBound).
	setBound int
	// shrink is how long an lblcr set must go unchanged before it sheds a
	// member; 0: the expiration, as IPVS.
	shrink time.Duration
}

// New returns a Model of scheduler name (one of Names) over backends in
// list order.
func New(name string, backends []Backend) (*Model, error) {
	if !Known(name) {
		return nil, fmt.Errorf("scheduler %q: unknown, want one of %v", name, Names)
	}
	m := &Model{
		name:       name,
		dests:      make(map[uint32]*dest),
		expiration: DefaultExpiration,
		wrrPos:     -1,
		lblc:       make(map[netip.Addr]*lblcEntry),
		lblcr:      make(map[netip.Addr]*lblcrEntry),
	}
	if err := m.Update(backends); err != nil {
		return nil, err
	}
	return m, nil
}

// Name returns the scheduler's name.
func (m *Model) Name() string { return m.name }

// Advance moves the Model's clock forward by d (lblc and lblcr expiry).
func (m *Model) Advance(d time.Duration) { m.now += d }

// SetExpiration sets the lblc/lblcr expiration (the sysctls
// lblc_expiration and lblcr_expiration); DefaultExpiration unless set.
func (m *Model) SetExpiration(d time.Duration) { m.expiration = d }

// SetShrink sets how long an lblcr set of two or more reals must go
// unchanged before it sheds its most loaded member. IPVS uses the
// expiration (lblcr_expiration) for both; so does the Model unless set.
func (m *Model) SetShrink(d time.Duration) { m.shrink = d }

// SetBound makes lblcr sets behave as in xlb's data plane
// (maps.MaxLocalitySet, bpf/lblc.h): a set holds at most n reals, and
// when full, its most loaded member (the oldest if none has weight > 0)
// makes room for a joining one; a member removed from the service leaves
// the set when the set is next used, without counting as a change. n = 0
// restores IPVS's unbounded sets, whose removed members stay until shed.
func (m *Model) SetBound(n int) { m.setBound = n }

// Update replaces the service's backends, as ipvsadm -a/-e/-d would one by
// one. Reals that stay keep their connection counts; removed reals keep
// theirs too (their connections still exist) but are no longer picked. A
// backend with id 0 and weight 0 is ignored.
func (m *Model) Update(backends []Backend) error {
	if err := validate(backends); err != nil {
		return err
	}
	old := m.list
	list := make([]uint32, 0, len(backends))
	for _, d := range m.dests {
		d.listed = false
	}
	changed := false
	for _, b := range backends {
		if b.ID == 0 {
			continue
		}
		d, ok := m.dests[b.ID]
		if !ok {
			d = &dest{}
			m.dests[b.ID] = d
		}
		changed = changed || d.weight != b.Weight
		d.weight, d.listed = b.Weight, true
		list = append(list, b.ID)
	}
	m.list = list
	changed = changed || !slices.Equal(old, list)

	// rr: when the real rr picked last is removed, the kernel
	// (ip_vs_rr_del_dest) steps back to its predecessor so the next pick
	// is the real that followed it.
	if m.rrLast != 0 && !m.dests[m.rrLast].listed {
		at := slices.Index(old, m.rrLast)
		m.rrLast = 0
		for i := at - 1; i >= 0; i-- {
			if m.dests[old[i]].listed {
				m.rrLast = old[i]
				break
			}
		}
	}
	// The kernel tells wrr about each added, removed or edited real.
	if changed || old == nil {
		m.wrrChanged()
	}

	switch m.name {
	case SH, DH, MH:
		table, err := maglev.Build(backends, maglev.DefaultSize)
		if err != nil {
			return err
		}
		m.table = table
	}
	return nil
}

// wrrChanged is ip_vs_wrr_dest_changed: restart at the list head with the
// decrement and maximum recomputed, and the current weight kept in range.
func (m *Model) wrrChanged() {
	var g, maxWeight uint64
	for _, id := range m.list {
		w := uint64(m.dests[id].weight)
		if w > 0 {
			g = gcd(w, g)
		}
		maxWeight = max(maxWeight, w)
	}
	if g == 0 {
		g = 1
	}
	m.wrrPos = -1
	m.wrrDI = int64(g)
	// Reduced by di-1 so that the last pass runs with cw = 1.
	m.wrrMW = int64(maxWeight) - (m.wrrDI - 1)
	if m.wrrCW > m.wrrMW || m.wrrCW == 0 {
		m.wrrCW = m.wrrMW
	} else if m.wrrDI > 1 {
		m.wrrCW = (m.wrrCW/m.wrrDI)*m.wrrDI + 1
	}
}

// Pick returns the real the scheduler places a new flow on, or ok false
// when none is available. It advances rr/wrr positions and lblc/lblcr
// entries as the kernel's schedule functions do; connection counts are
// left to Connect.
func (m *Model) Pick(f Flow) (id uint32, ok bool) {
	switch m.name {
	case RR:
		return m.pickRR()
	case WRR:
		return m.pickWRR()
	case LC:
		return m.pickLC()
	case WLC:
		return m.pickWLC()
	case SED:
		return m.pickSED()
	case NQ:
		return m.pickNQ()
	case SH:
		return m.pickTable(AddrHash(f.Src.Addr()))
	case DH:
		return m.pickTable(AddrHash(f.Dst.Addr()))
	case MH:
		return m.pickTable(FlowHash(f))
	case LBLC:
		return m.pickLBLC(f.Dst.Addr())
	case LBLCR:
		return m.pickLBLCR(f.Dst.Addr())
	}
	return 0, false
}

// pickRR is ip_vs_rr_schedule: the first real of weight > 0 after the last
// one picked, wrapping once round the list (the last one itself comes
// last).
func (m *Model) pickRR() (uint32, bool) {
	start := slices.Index(m.list, m.rrLast) // -1: the head
	n := len(m.list)
	for k := 1; k <= n; k++ {
		i := start + k
		if i >= n {
			i -= n
			if start == -1 {
				break // started at the head: one pass covers the list
			}
		}
		if id := m.list[i]; m.dests[id].weight > 0 {
			m.rrLast = id
			return id, true
		}
	}
	return 0, false
}

// pickWRR is ip_vs_wrr_schedule: scan on from the current position for a
// real whose weight is at least cw; each time the scan passes the list
// head, cw drops by di, wrapping to mw below 1.
func (m *Model) pickWRR() (uint32, bool) {
	if m.wrrMW <= 0 {
		return 0, false
	}
	n := len(m.list)
	// cw reaches 1 within mw/di+1 passes and some real has weight ≥ 1.
	limit := (n + 1) * int(m.wrrMW/m.wrrDI+2)
	for range limit {
		m.wrrPos++
		if m.wrrPos == n {
			m.wrrPos = -1
			m.wrrCW -= m.wrrDI
			if m.wrrCW <= 0 {
				m.wrrCW = m.wrrMW
			}
			continue
		}
		if id := m.list[m.wrrPos]; int64(m.dests[id].weight) >= m.wrrCW {
			return id, true
		}
	}
	return 0, false
}

// pickLC is ip_vs_lc_schedule: the smallest overhead among reals of weight
// > 0, the first in list order on a tie.
func (m *Model) pickLC() (uint32, bool) {
	var least uint32
	var loh int64
	for _, id := range m.list {
		d := m.dests[id]
		if d.weight == 0 {
			continue
		}
		if doh := d.overhead(); least == 0 || doh < loh {
			least, loh = id, doh
		}
	}
	return least, least != 0
}

// pickWLC is ip_vs_wlc_schedule over the whole list (also lblc's and
// lblcr's fallback).
func (m *Model) pickWLC() (uint32, bool) {
	return m.leastWeighted(m.list, (*dest).overhead)
}

// pickSED is ip_vs_sed_schedule: wlc's rule with (active+1) as the cost.
func (m *Model) pickSED() (uint32, bool) {
	return m.leastWeighted(m.list, func(d *dest) int64 { return d.active + 1 })
}

// leastWeighted picks the real with the smallest cost/weight: the first
// real of weight > 0 is the candidate, and a later real replaces it only
// when strictly cheaper, compared by cross-multiplying (cost1·w2 > cost2·w1
// ⇔ cost1/w1 > cost2/w2) as the kernel avoids division. A later real of
// weight 0 can never win the comparison.
func (m *Model) leastWeighted(ids []uint32, cost func(*dest) int64) (uint32, bool) {
	first := slices.IndexFunc(ids, func(id uint32) bool { return m.dests[id].weight > 0 })
	if first < 0 {
		return 0, false
	}
	least := ids[first]
	loh := cost(m.dests[least])
	for _, id := range ids[first+1:] {
		d := m.dests[id]
		doh := cost(d)
		if loh*int64(d.weight) > doh*int64(m.dests[least].weight) {
			least, loh = id, doh
		}
	}
	return least, true
}

// pickNQ is ip_vs_nq_schedule: the first real of weight > 0 with no active
// connection; failing that, sed's choice.
func (m *Model) pickNQ() (uint32, bool) {
	var least uint32
	var loh int64
	for _, id := range m.list {
		d := m.dests[id]
		if d.weight == 0 {
			continue
		}
		doh := d.active + 1
		if d.active == 0 {
			return id, true
		}
		if least == 0 || loh*int64(d.weight) > doh*int64(m.dests[least].weight) {
			least, loh = id, doh
		}
	}
	return least, least != 0
}

// pickTable looks hash up in the sh, dh or mh table; an empty slot (no
// real of weight > 0) schedules nothing.
func (m *Model) pickTable(hash uint32) (uint32, bool) {
	id := m.table[Slot(hash, uint32(len(m.table)))]
	return id, id != 0
}

// overloaded is lblc's and lblcr's is_overloaded: a real with more active
// connections than its weight counts as overloaded only while some listed
// real is below half its weight (active·2 < weight).
func (m *Model) overloaded(id uint32) bool {
	d := m.dests[id]
	if d.active <= int64(d.weight) {
		return false
	}
	for _, other := range m.list {
		if o := m.dests[other]; o.active*2 < int64(o.weight) {
			return true
		}
	}
	return false
}

// expired reports whether an entry last used at lastUse has been collected
// by the kernel's expiry timer (see doc.go on timer granularity).
func (m *Model) expired(lastUse time.Duration) bool {
	return m.now >= lastUse+m.expiration
}

// pickLBLC is ip_vs_lblc_schedule: keep the destination's cached real
// unless it is gone, quiesced or overloaded; otherwise schedule by wlc and
// cache the choice.
func (m *Model) pickLBLC(key netip.Addr) (uint32, bool) {
	en := m.lblc[key]
	if en != nil && m.expired(en.lastUse) {
		delete(m.lblc, key)
		en = nil
	}
	if en != nil {
		en.lastUse = m.now
		if d := m.dests[en.id]; d.listed && d.weight > 0 && !m.overloaded(en.id) {
			return en.id, true
		}
	}
	id, ok := m.pickWLC()
	if !ok {
		return 0, false
	}
	// ip_vs_lblc_new keeps an entry already naming id, else replaces it.
	if en == nil || en.id != id {
		m.lblc[key] = &lblcEntry{id: id, lastUse: m.now}
	}
	return id, true
}

// pickLBLCR is ip_vs_lblcr_schedule: the weighted least-loaded member of
// the destination's set; a set unchanged for the expiration sheds its most
// loaded member; when the member is overloaded (or none is usable) wlc
// picks a real, which joins the set.
func (m *Model) pickLBLCR(key netip.Addr) (uint32, bool) {
	en := m.lblcr[key]
	if en != nil && m.expired(en.lastUse) {
		delete(m.lblcr, key)
		en = nil
	}
	if en == nil {
		id, ok := m.pickWLC()
		if !ok {
			return 0, false
		}
		m.lblcr[key] = &lblcrEntry{set: []uint32{id}, lastUse: m.now, lastMod: m.now}
		return id, true
	}
	en.lastUse = m.now
	if m.setBound > 0 {
		en.set = slices.DeleteFunc(en.set, func(x uint32) bool { return !m.dests[x].listed })
	}
	shrink := m.shrink
	if shrink == 0 {
		shrink = m.expiration
	}
	id, ok := m.setMin(en.set)
	if len(en.set) > 1 && m.now > en.lastMod+shrink {
		if most, found := m.setMax(en.set); found {
			en.set = slices.DeleteFunc(en.set, func(x uint32) bool { return x == most })
			en.lastMod = m.now
		}
	}
	// The kernel still returns the set's choice when the shrink just
	// removed it: it had been picked before.
	if ok && !m.overloaded(id) {
		return id, true
	}
	id, ok = m.pickWLC()
	if !ok {
		return 0, false
	}
	if !slices.Contains(en.set, id) {
		if m.setBound > 0 && len(en.set) >= m.setBound {
			most, found := m.setMax(en.set)
			at := len(en.set) - 1
			if found {
				at = slices.Index(en.set, most)
			}
			en.set = slices.Delete(en.set, at, at+1)
		}
		en.set = slices.Insert(en.set, 0, id)
		en.lastMod = m.now
	}
	return id, true
}

// setMin is ip_vs_dest_set_min: wlc over the set's listed members, the
// first listed member of weight > 0 as the starting candidate.
func (m *Model) setMin(set []uint32) (uint32, bool) {
	var listed []uint32
	for _, id := range set {
		if m.dests[id].listed {
			listed = append(listed, id)
		}
	}
	return m.leastWeighted(listed, (*dest).overhead)
}

// setMax is ip_vs_dest_set_max: the member of weight > 0 with the largest
// overhead/weight, the first on a tie. Like the kernel it does not skip
// removed reals.
func (m *Model) setMax(set []uint32) (uint32, bool) {
	var most uint32
	var moh int64
	for _, id := range set {
		d := m.dests[id]
		if d.weight == 0 {
			continue
		}
		doh := d.overhead()
		if most == 0 || moh*int64(d.weight) < doh*int64(m.dests[most].weight) {
			most, moh = id, doh
		}
	}
	return most, most != 0
}

// Connect counts a new connection on real id as inactive: the kernel binds
// a new TCP connection in SYN_RECV, which is not ESTABLISHED.
func (m *Model) Connect(id uint32) error {
	d, err := m.dest(id)
	if err != nil {
		return err
	}
	if !d.listed {
		return fmt.Errorf("connect to id %d: removed from the service", id)
	}
	d.inactive++
	return nil
}

// Establish moves one of id's connections from inactive to active (TCP
// reached ESTABLISHED).
func (m *Model) Establish(id uint32) error {
	d, err := m.dest(id)
	if err != nil {
		return err
	}
	if d.inactive == 0 {
		return fmt.Errorf("establish on id %d: no inactive connection", id)
	}
	d.inactive--
	d.active++
	return nil
}

// Close moves one of id's connections from active to inactive (FIN or RST:
// the entry lingers in a closing state until it expires).
func (m *Model) Close(id uint32) error {
	d, err := m.dest(id)
	if err != nil {
		return err
	}
	if d.active == 0 {
		return fmt.Errorf("close on id %d: no active connection", id)
	}
	d.active--
	d.inactive++
	return nil
}

// Expire forgets one of id's inactive connections (its entry timed out).
func (m *Model) Expire(id uint32) error {
	d, err := m.dest(id)
	if err != nil {
		return err
	}
	if d.inactive == 0 {
		return fmt.Errorf("expire on id %d: no inactive connection", id)
	}
	d.inactive--
	return nil
}

// Conns returns id's active and inactive connection counts.
func (m *Model) Conns(id uint32) (active, inactive int64, err error) {
	d, err := m.dest(id)
	if err != nil {
		return 0, 0, err
	}
	return d.active, d.inactive, nil
}

func (m *Model) dest(id uint32) (*dest, error) {
	d, ok := m.dests[id]
	if !ok {
		return nil, fmt.Errorf("id %d: %w", id, ErrUnknownReal)
	}
	return d, nil
}
