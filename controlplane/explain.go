package controlplane

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"xlb/controlplane/maglev"
	"xlb/controlplane/sched"
	"xlb/maps"
)

// ConnTimeouts are the connection table's idle timeouts, as loaded into
// the data plane (zero: the data plane's defaults, IPVS's).
type ConnTimeouts struct {
	TCP, TCPFin, UDP, SYN time.Duration
}

// SetConnTimeouts tells the backend the timeouts the data plane was loaded
// with, so Explain can tell a live tracked flow from an expired one.
func (x *XDP) SetConnTimeouts(t ConnTimeouts) { x.timeouts = t }

// timeout is how long a tracked flow in state may stay idle.
func (t ConnTimeouts) timeout(state maps.ConnState) time.Duration {
	or := func(d, def time.Duration) time.Duration {
		if d == 0 {
			return def
		}
		return d
	}
	switch state {
	case maps.ConnSYN:
		return or(t.SYN, maps.DefaultSYNTimeout)
	case maps.ConnEstablished:
		return or(t.TCP, maps.DefaultTCPTimeout)
	case maps.ConnClosing:
		return or(t.TCPFin, maps.DefaultTCPFinTimeout)
	}
	return or(t.UDP, maps.DefaultUDPTimeout)
}

// Explanation says which real the data plane sends a flow to, and why: its
// connection-table entry, or the scheduler's table slot.
type Explanation struct {
	Service ServiceKey
	Client  netip.AddrPort
	// Real is where the flow's next packet goes; invalid when nowhere.
	Real netip.AddrPort
	// DecidedBy is "connection table", "scheduler", or for lblc/lblcr
	// "locality table" (the destination's entry, not wlc, picks).
	DecidedBy string
	// Conn is the flow's connection-table entry, when it has one.
	Conn *TrackedConn
	// Template is the client's persistence template, when the service is
	// persistent and has one.
	Template *PersistTemplate
	// The scheduler's choice for a new flow: the table slot of a hash of
	// the flow (mh), the client address (sh) or the destination (dh); for
	// lblc/lblcr SlotReal alone, the real the locality table or wlc gives.
	Scheduler string
	Hash      uint32
	Slot      uint32
	TableSize uint32
	SlotReal  netip.AddrPort // the real in that slot; invalid when empty
	Notes     []string
}

// TrackedConn is a flow's connection-table entry, as Explain reads it.
type TrackedConn struct {
	Real    netip.AddrPort // invalid when the entry's real is gone
	State   string         // "syn", "established", "closing", "udp"
	Idle    time.Duration
	Timeout time.Duration
}

// PersistTemplate is a client's persistence template, as Explain reads it.
type PersistTemplate struct {
	Client  netip.Addr     // the client address masked by persistence_granularity
	Real    netip.AddrPort // invalid when the template's real is gone
	Idle    time.Duration
	Timeout time.Duration // persistence_timeout
}

var connStateNames = map[maps.ConnState]string{
	maps.ConnSYN: "syn", maps.ConnEstablished: "established", maps.ConnClosing: "closing", maps.ConnUDP: "udp",
}

// Explain answers which real the data plane sends client's flow to service
// k, and why, from the same inputs as the program: its connection-table
// entry, else the slot the flow's hash picks in the service's table.
func (x *XDP) Explain(k ServiceKey, client netip.AddrPort) (Explanation, error) {
	svc := x.services[k]
	if svc == nil {
		return Explanation{}, fmt.Errorf("%w: service %s is not configured", ErrNotFound, k)
	}
	if svc.unsupported != "" {
		return Explanation{}, fmt.Errorf("%w: service %s is not served: %s", ErrInvalid, k, svc.unsupported)
	}
	client = netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	if client.Addr().Is4() != k.VIP.Is4() {
		return Explanation{}, fmt.Errorf("%w: client: %s is not of the VIP's family", ErrInvalid, client.Addr())
	}
	byID := make(map[uint32]netip.AddrPort, len(svc.reals))
	for a, r := range svc.reals {
		byID[r.id] = a
	}
	vip := netip.AddrPortFrom(k.VIP, k.Port)
	e := Explanation{Service: k, Client: client, TableSize: x.tableSize, Scheduler: schedName(svc)}
	if k.Port == 0 {
		e.Notes = append(e.Notes, "an all-ports service: the connection table is read for destination port 0; flows to each port have entries of their own")
	}

	// The scheduler's choice, which a new (or rescheduled) flow gets. Only
	// a Maglev table's is a function of the flow; rr/wrr take the next slot
	// of a per-CPU cycle, and the least-connection family the reals' counts
	// at the first packet.
	if svc.sched != maps.SchedMaglev {
		e.TableSize = 0
		if usesLocality(svc.sched) {
			if err := x.explainLocality(&e, svc, byID, k.VIP); err != nil {
				return Explanation{}, fmt.Errorf("explain %s of %s: %w", schedName(svc), k, err)
			}
			return x.explainConn(e, svc, byID, client, vip, k)
		}
		e.Notes = append(e.Notes, fmt.Sprintf("lb_algo %s: a new flow's real depends on %s at its first packet, not on the flow",
			schedName(svc), map[bool]string{true: "the reals' connection counts", false: "the CPU's place in the cycle"}[usesList(svc.sched)]))
		return x.explainConn(e, svc, byID, client, vip, k)
	}
	switch svc.hash {
	case maps.HashSource:
		e.Hash = sched.AddrHash(client.Addr())
	case maps.HashDest:
		e.Hash = sched.AddrHash(k.VIP)
	default:
		e.Hash = sched.FlowHash(sched.Flow{Src: client, Dst: vip, Proto: uint8(k.Protocol)})
	}
	e.Slot = sched.Slot(e.Hash, x.tableSize)
	table, err := maglev.Build(tableBackends(svc), x.tableSize)
	if err != nil {
		return Explanation{}, fmt.Errorf("rebuild table of %s: %w", k, err)
	}
	e.SlotReal = byID[table[e.Slot]]

	return x.explainConn(e, svc, byID, client, vip, k)
}

// explainConn completes e with what the connection table says of the
// flow; without a usable entry the scheduler decides (e.SlotReal for a
// Maglev table, unknown ahead of time for the others).
func (x *XDP) explainConn(e Explanation, svc *xdpService, byID map[uint32]netip.AddrPort, client, vip netip.AddrPort, k ServiceKey) (Explanation, error) {
	conn, tracked, err := x.dp.LookupConn(maps.Flow{Src: client, Dst: vip, Proto: uint8(k.Protocol)})
	if err != nil {
		return Explanation{}, err
	}
	if tracked {
		tc := &TrackedConn{
			Real:    byID[conn.RealID],
			State:   connStateNames[conn.State],
			Idle:    max(0, maps.MonotonicNow()-conn.LastSeen),
			Timeout: x.timeouts.timeout(conn.State),
		}
		e.Conn = tc
		real, ok := svc.reals[tc.Real]
		switch {
		case !tc.Real.IsValid() || !ok:
			e.Notes = append(e.Notes, "the tracked real is no longer configured: the next packet is scheduled afresh")
		case tc.Idle > tc.Timeout:
			e.Notes = append(e.Notes, fmt.Sprintf("the entry is idle past its %s timeout: the next packet is scheduled afresh", tc.Timeout))
		case real.hop.DstMAC == nil:
			e.Notes = append(e.Notes, "the tracked real has no next hop yet")
		default:
			e.Real, e.DecidedBy = tc.Real, "connection table"
			if conn.State == maps.ConnClosing {
				e.Notes = append(e.Notes, "the flow is closing: a new SYN on this 5-tuple is scheduled afresh")
			}
			if real.weight == 0 {
				e.Notes = append(e.Notes, "its real has weight 0: tracked flows stay, new flows avoid it")
			}
			return e, nil
		}
	}
	if svc.persist > 0 {
		decided, err := x.explainTemplate(&e, svc, byID, k, client)
		if err != nil || decided {
			return e, err
		}
	}
	if e.DecidedBy == "" {
		e.DecidedBy = "scheduler"
	}
	e.Real = e.SlotReal
	if !e.Real.IsValid() && svc.sched == maps.SchedMaglev {
		e.Notes = append(e.Notes, "the slot is empty: no real is active, the packet is dropped")
	}
	return e, nil
}

// Explainer is a backend that can explain a flow's forwarding.
type Explainer interface {
	Explain(k ServiceKey, client netip.AddrPort) (Explanation, error)
}

// Explain asks the backend which real a flow goes to and why.
func (r *Reconciler) Explain(k ServiceKey, client netip.AddrPort) (Explanation, error) {
	ex, ok := r.backend.(Explainer)
	if !ok {
		return Explanation{}, errors.New("this backend cannot explain flows")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return ex.Explain(k, client)
}

// explainTemplate completes e with the client's persistence template of a
// persistent service, and says whether the template decides the flow: as
// the program, a template decides while it is fresh and its real is
// configured, active and not quiesced; else the scheduler decides and the
// template is rewritten.
func (x *XDP) explainTemplate(e *Explanation, svc *xdpService, byID map[uint32]netip.AddrPort, k ServiceKey, client netip.AddrPort) (bool, error) {
	masked := maps.PersistClient(k.VIP, client.Addr(), svc.persistBits)
	t, ok, err := x.dp.LookupPersist(svc.id, masked)
	if err != nil {
		return false, err
	}
	if !ok {
		e.Notes = append(e.Notes, fmt.Sprintf("persistent service: no template for %s/%d: the scheduler's pick becomes one",
			masked, persistBits(k.VIP, svc.persistBits)))
		return false, nil
	}
	pt := &PersistTemplate{Client: masked, Real: byID[t.RealID], Idle: max(0, maps.MonotonicNow()-t.LastSeen), Timeout: svc.persist}
	e.Template = pt
	real, configured := svc.reals[pt.Real]
	switch {
	case !pt.Real.IsValid() || !configured:
		e.Notes = append(e.Notes, "the template's real is no longer configured: the scheduler decides and the template is rewritten")
	case pt.Idle > pt.Timeout:
		e.Notes = append(e.Notes, fmt.Sprintf("the template is idle past persistence_timeout %s: the scheduler decides and the template is rewritten", pt.Timeout))
	case real.weight == 0 || real.state != RealActive:
		e.Notes = append(e.Notes, "the template's real is quiesced or out: the scheduler decides and the template is rewritten")
	default:
		e.Real, e.DecidedBy = pt.Real, "persistence template"
		return true, nil
	}
	return false, nil
}

// persistBits is the prefix length a persistent service at vip groups
// clients by: persistence_granularity, or a host when 0 or too long.
func persistBits(vip netip.Addr, bits int) int {
	width := 128
	if vip.Is4() {
		width = 32
	}
	if bits <= 0 || bits > width {
		return width
	}
	return bits
}
