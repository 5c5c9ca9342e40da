package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"xlb/config"
	"xlb/controlplane/maglev"
	"xlb/controlplane/neigh"
	"xlb/controlplane/sched"
	"xlb/maps"
)

// Dataplane is what the XDP backend writes: the typed maps of package maps.
// *maps.Dataplane implements it; tests use a fake.
type Dataplane interface {
	PutService(k maps.ServiceKey, s maps.Service) error
	DeleteService(k maps.ServiceKey) error
	PutReal(id uint32, r maps.Real) error
	DeleteReal(id uint32) error
	SwapTable(serviceID uint32, slots []uint32) error
	DeleteTable(serviceID uint32) error
	RealCounters(id uint32) (maps.Counters, error)
	ClearRealCounters(id uint32) error
	Reasons() (map[string]uint64, error)
	LookupConn(f maps.Flow) (maps.Conn, bool, error)
	SetInside(ifindex int, inside bool) error
	SwapSequence(serviceID uint32, ids []uint32) error
	SwapSchedReals(serviceID uint32, reals []maps.SchedReal) error
	DeleteSchedReals(serviceID uint32) error
	RealConnCounts(id uint32) (active, inactive uint64, err error)
	ResyncConnCounts() (expired int, err error)
	LookupPersist(serviceID uint32, client netip.Addr) (maps.Template, bool, error)
	PutFNATPool(serviceID uint32, pool maps.FNATPool) error
	DeleteFNATPool(serviceID uint32) error
	SetFNATInside(ifindex int, inside bool) error
	LookupFNATReply(reply maps.Flow) (maps.FNATReply, bool, error)
}

// Neighbours tells how to reach a real server on a connected segment.
// *neigh.Table implements it.
type Neighbours interface {
	// Lookup finds a directly connected real (DR).
	Lookup(addr netip.Addr) (neigh.Hop, error)
	// LookupRouted finds the next hop towards a real, perhaps a gateway (TUN).
	LookupRouted(addr netip.Addr) (neigh.Hop, error)
	// Forget stops following addr, once no service has it as a real.
	Forget(addr netip.Addr) error
}

// XDP is the Backend that programs xlb's XDP maps. It remembers what it
// wrote, so each Apply writes only the difference, and it changes a
// service's real set by swapping in a whole new Maglev table: packets see
// the old table or the new one, never a half-written one.
type XDP struct {
	dp        Dataplane
	nb        Neighbours
	log       *slog.Logger
	tableSize uint32

	timeouts   ConnTimeouts
	services   map[ServiceKey]*xdpService
	followed   map[netip.Addr]bool // real addresses looked up in nb
	inside     map[int]bool        // interfaces marked as facing NAT reals
	fnatInside map[int]bool        // interfaces marked as facing full-NAT reals
	// localAddrs lists this node's addresses, to check full NAT's local
	// addresses against (net.InterfaceAddrs; tests replace it).
	localAddrs   func() ([]netip.Addr, error)
	missingLocal map[netip.Addr]bool // local addresses warned about as not this node's
	serviceIDs   idPool
	realIDs      idPool
}

// xdpService is what XDP wrote for one service.
type xdpService struct {
	id          uint32
	kind        maps.Kind
	unsupported string // non-empty: not programmed, and why
	scheduler   string
	hash        maps.HashKey   // what the data plane keys the table by: mh, sh or dh
	sched       maps.Scheduler // how it picks a real for a new flow
	tableInputs string         // the Maglev inputs the installed table was built from
	entry       maps.Service   // the services map entry as written; ID 0 until then
	reals       map[netip.AddrPort]*xdpReal
	sorry       *xdpReal // the sorry_server's entry, when one is configured
	sorryAddr   netip.AddrPort
	sorryOnly   bool       // quorum lost: the sorry server takes the whole table
	tunnelSrc   netip.Addr // tunnel_source; invalid: tunnelSource picks one
	allPorts    bool       // port 0: a NAT real keeps the client's destination port
	persist     time.Duration
	persistBits int
	ops         bool
	pool        []netip.Addr // FNAT: the local addresses written (PutFNATPool); nil: none
	poolPorts   [2]uint16    // and its port range as written (0, 0: the default)
	// retired is the traffic of the reals (and sorry servers) the
	// service had and no longer has: the data plane counts per real
	// only, so a service's counters are this plus its reals' (Observe).
	retired maps.Counters
}

// xdpReal is what XDP wrote for one real server.
type xdpReal struct {
	id       uint32
	weight   int
	hop      neigh.Hop // written to the reals map when resolved
	port     uint16    // NAT: the real's port as written; 0 otherwise
	quiesced bool      // written with weight 0: persistence templates skip it
	written  bool      // the reals map has an entry for id
	state    string
	reason   string
}

// NewXDP returns an XDP backend writing to dp, resolving next hops with nb
// and building Maglev tables of tableSize slots (a prime).
func NewXDP(dp Dataplane, nb Neighbours, tableSize uint32, logger *slog.Logger) (*XDP, error) {
	if !maglev.IsPrime(tableSize) {
		return nil, fmt.Errorf("maglev table size %d: want a prime", tableSize)
	}
	return &XDP{
		dp:           dp,
		nb:           nb,
		log:          logger,
		tableSize:    tableSize,
		services:     map[ServiceKey]*xdpService{},
		followed:     map[netip.Addr]bool{},
		inside:       map[int]bool{},
		fnatInside:   map[int]bool{},
		localAddrs:   interfaceAddrs,
		missingLocal: map[netip.Addr]bool{},
		// Ids start at 1: real id 0 means "no real" in a Maglev slot, and
		// the maps keep 0 unused for services too.
		serviceIDs: idPool{next: 1},
		realIDs:    idPool{next: 1},
	}, nil
}

// mapsKind is the data plane's forwarding kind for an lb_kind, and whether
// the XDP data plane has it.
func mapsKind(lbKind string) (maps.Kind, bool) {
	switch strings.ToUpper(lbKind) {
	case "DR":
		return maps.KindDR, true
	case "TUN":
		return maps.KindTUN, true
	case "NAT":
		return maps.KindNAT, true
	case "FNAT":
		return maps.KindFNAT, true
	}
	return 0, false
}

// schedulerFor is how the data plane serves an lb_algo, and whether it
// serves that lb_algo as such: rr and wrr from a sequence, lc, wlc, sed and
// nq by scanning the service's reals with their connection counts, lblc and
// lblcr from a table of destinations with that scan to fill it, and mh, sh
// and dh from a Maglev table keyed by the flow, the client address or the
// destination. Any other lb_algo (fo, ovf, twos) is served by mh until its
// scheduler lands.
func schedulerFor(lbAlgo string) (maps.Scheduler, maps.HashKey, bool) {
	switch strings.ToLower(lbAlgo) {
	case "rr":
		return maps.SchedRR, maps.HashFlow, true
	case "wrr":
		return maps.SchedWRR, maps.HashFlow, true
	case "lc":
		return maps.SchedLC, maps.HashFlow, true
	case "wlc":
		return maps.SchedWLC, maps.HashFlow, true
	case "sed":
		return maps.SchedSED, maps.HashFlow, true
	case "nq":
		return maps.SchedNQ, maps.HashFlow, true
	case "lblc":
		return maps.SchedLBLC, maps.HashFlow, true
	case "lblcr":
		return maps.SchedLBLCR, maps.HashFlow, true
	}
	hash, native := schedulerHash(lbAlgo)
	return maps.SchedMaglev, hash, native
}

// usesList says whether s picks from the service's real list (the
// least-connection family, and lblc/lblcr whose wlc fills their table).
func usesList(s maps.Scheduler) bool {
	return s == maps.SchedLC || s == maps.SchedWLC || s == maps.SchedSED || s == maps.SchedNQ || usesLocality(s)
}

// schedName is the name of what serves a service: its lb_algo when the
// data plane runs that scheduler, else the Maglev table's key.
func schedName(svc *xdpService) string {
	if svc.sched != maps.SchedMaglev {
		return strings.ToLower(svc.scheduler)
	}
	return svc.hash.String()
}

// schedulerHash is the Maglev table's key for mh, sh and dh, and whether
// the lb_algo is one of them.
func schedulerHash(lbAlgo string) (maps.HashKey, bool) {
	switch strings.ToLower(lbAlgo) {
	case "mh":
		return maps.HashFlow, true
	case "sh":
		return maps.HashSource, true
	case "dh":
		return maps.HashDest, true
	}
	return maps.HashFlow, false
}

// unsupportedReason says why the XDP data plane cannot serve svc yet, or ""
// when it can.
func unsupportedReason(svc Service) string {
	if _, ok := mapsKind(svc.Kind); !ok {
		return fmt.Sprintf("lb_kind %s is not served by the XDP data plane (DR, TUN, NAT and FNAT are)", svc.Kind)
	}
	if strings.EqualFold(svc.Kind, "FNAT") && len(svc.LocalAddrs) == 0 {
		return "lb_kind FNAT without local addresses (laddr_group_name)"
	}
	if s, _, _ := schedulerFor(svc.Scheduler); strings.EqualFold(svc.Kind, "FNAT") && usesLocality(s) {
		// bpf/xlb.c schedule: full NAT's frame and lblc's would pass
		// the program's 512 bytes of stack.
		return fmt.Sprintf("lb_algo %s is not served with lb_kind FNAT by the XDP data plane", svc.Scheduler)
	}
	if s, _, _ := schedulerFor(svc.Scheduler); usesList(s) && len(svc.Reals) > maps.MaxSchedReals {
		return fmt.Sprintf("lb_algo %s serves at most %d reals in the XDP data plane; this service has %d (mh, rr or wrr serve any number)",
			svc.Scheduler, maps.MaxSchedReals, len(svc.Reals))
	}
	return ""
}

// Apply makes the maps match st. Errors are collected per service so one
// bad service does not keep the others from being written.
func (x *XDP) Apply(ctx context.Context, st State) error {
	var errs []error
	want := map[ServiceKey]bool{}
	for _, svc := range st.Services {
		want[svc.Key] = true
		if err := x.applyService(svc); err != nil {
			errs = append(errs, fmt.Errorf("service %s: %w", svc.Key, err))
		}
	}
	for k := range x.services {
		if !want[k] {
			if err := x.removeService(k); err != nil {
				errs = append(errs, fmt.Errorf("remove service %s: %w", k, err))
			}
		}
	}
	x.forgetUnused(st)
	return errors.Join(errs...)
}

// forgetUnused tells the neighbour table to stop following addresses that
// no service has as a real any more, so the kernel stops probing them. A
// real that is out of the data plane because its health checks fail is
// still configured: its neighbour entry is kept, so checks that go the
// clients' way (to its MAC) still reach it and it returns at once.
func (x *XDP) forgetUnused(st State) {
	inUse := map[netip.Addr]bool{}
	for _, svc := range st.Services {
		for _, r := range svc.Down {
			inUse[r.Addr.Addr()] = true
		}
	}
	for _, svc := range x.services {
		for a := range svc.reals {
			inUse[a.Addr()] = true
		}
		if svc.sorry != nil {
			inUse[svc.sorryAddr.Addr()] = true
		}
	}
	for a := range x.followed {
		if inUse[a] {
			continue
		}
		if err := x.nb.Forget(a); err != nil {
			x.log.Warn("forget neighbour of a removed real", "real", a.String(), "err", err)
		}
		delete(x.followed, a)
	}
}

func (x *XDP) applyService(svc Service) error {
	cur := x.services[svc.Key]
	if why := unsupportedReason(svc); why != "" {
		if cur != nil && cur.unsupported == "" {
			// It was served and no longer can be: take it out.
			if err := x.removeService(svc.Key); err != nil {
				return err
			}
			cur = nil
		}
		if cur == nil {
			x.log.Warn("virtual service not served", "service", svc.Key.String(), "reason", why)
			x.services[svc.Key] = &xdpService{unsupported: why, reals: map[netip.AddrPort]*xdpReal{}}
		}
		return nil
	}
	if cur != nil && cur.unsupported != "" {
		delete(x.services, svc.Key)
		cur = nil
	}
	if cur == nil {
		id, err := x.serviceIDs.get()
		if err != nil {
			return err
		}
		cur = &xdpService{id: id, reals: map[netip.AddrPort]*xdpReal{}}
		x.services[svc.Key] = cur
	}
	cur.kind, _ = mapsKind(svc.Kind)
	cur.tunnelSrc = svc.TunnelSource
	cur.allPorts = svc.Key.Port == 0
	cur.persist, cur.persistBits, cur.ops = svc.Persistence, svc.PersistenceGranularity, svc.OPS
	if cur.ops && svc.Key.Protocol != UDP {
		// The configuration resets it with a warning, as keepalived; a
		// State from elsewhere gets the same.
		cur.ops = false
	}
	if cur.scheduler != svc.Scheduler {
		kind, hash, native := schedulerFor(svc.Scheduler)
		switch {
		case !native:
			x.log.Warn("scheduler served by weighted Maglev until it lands in the data plane",
				"service", svc.Key.String(), "lb_algo", svc.Scheduler, "served_by", hash.String())
		case kind == maps.SchedMaglev && hash != maps.HashFlow:
			// A documented deviation (controlplane/sched doc.go, 3): LVS
			// fills a 256-bucket table in list order.
			x.log.Info("scheduler served by consistent hashing of the address: a weighted Maglev table, not LVS's 256-bucket table",
				"service", svc.Key.String(), "lb_algo", svc.Scheduler, "served_by", hash.String())
		}
		if usesList(cur.sched) && !usesList(kind) && cur.entry.ID != 0 {
			if err := x.dp.DeleteSchedReals(cur.id); err != nil {
				return err
			}
		}
		if usesLocality(cur.sched) && kind != cur.sched {
			x.forgetLocalities(cur)
		}
		cur.scheduler, cur.hash, cur.sched = svc.Scheduler, hash, kind
	}

	// New and changed reals first: their entries must exist before a
	// table that names them is swapped in.
	var errs []error
	wantReals := map[netip.AddrPort]bool{}
	for _, r := range svc.Reals {
		wantReals[r.Addr] = true
		if err := x.applyReal(cur, r); err != nil {
			errs = append(errs, fmt.Errorf("real %s: %w", r.Addr, err))
		}
	}

	cur.sorryOnly = svc.SorryOnly
	if err := x.applySorry(cur, svc.Sorry); err != nil {
		errs = append(errs, fmt.Errorf("sorry_server %s: %w", svc.Sorry, err))
	}

	if err := x.applyPool(svc, cur); err != nil {
		errs = append(errs, err)
	}

	gone := map[netip.AddrPort]*xdpReal{}
	for a, r := range cur.reals {
		if !wantReals[a] {
			gone[a] = r
			delete(cur.reals, a)
		}
	}
	if err := x.installTable(svc.Key, cur); err != nil {
		// The old table may still name the reals that left: keep them.
		for a, r := range gone {
			cur.reals[a] = r
		}
		return errors.Join(append(errs, err)...)
	}

	// Reals that left are removed only now that no table names them.
	for a, r := range gone {
		if err := x.retireReal(cur, r.id); err != nil {
			errs = append(errs, fmt.Errorf("delete real %s: %w", a, err))
			cur.reals[a] = r // retried by the next Apply
			continue
		}
		x.realIDs.put(r.id)
	}
	return errors.Join(errs...)
}

// retireReal deletes real id of svc and adds the traffic it counted to
// svc.retired, so that the service's counters keep it. Read after the
// delete, so that packets counted up to it are in; the counters stay
// until the id is handed out again (writeReal clears them then).
func (x *XDP) retireReal(svc *xdpService, id uint32) error {
	if err := x.dp.DeleteReal(id); err != nil {
		return err
	}
	c, err := x.dp.RealCounters(id)
	if err != nil {
		x.log.Warn("counters of a removed real lost from its service's", "real_id", id, "err", err)
		return nil
	}
	svc.retired = svc.retired.Add(c)
	return nil
}

func (x *XDP) applyReal(svc *xdpService, r Real) error {
	cur, err := x.writeReal(svc, svc.reals[r.Addr], r, r.Weight == 0)
	if cur != nil {
		svc.reals[r.Addr] = cur
	}
	return err
}

// writeReal brings one real's entry (cur, or a new one when nil) in step
// with r for service svc, quiesced or not (persistence templates skip a
// quiesced real), and returns it: nil only when no id could be had.
func (x *XDP) writeReal(svc *xdpService, cur *xdpReal, r Real, quiesced bool) (*xdpReal, error) {
	kind := svc.kind
	if cur == nil {
		id, err := x.realIDs.get()
		if err != nil {
			return nil, err
		}
		if err := x.dp.ClearRealCounters(id); err != nil {
			x.realIDs.put(id)
			return nil, err
		}
		cur = &xdpReal{id: id, state: RealUnresolved}
	}
	cur.weight = r.Weight

	x.followed[r.Addr.Addr()] = true
	lookup := x.nb.Lookup
	if kind == maps.KindTUN || kind == maps.KindNAT || kind == maps.KindFNAT {
		// A tunnelled or NATed real may sit behind a router: the frame
		// goes to the next hop's MAC; for TUN the route's source is the
		// outer source.
		lookup = x.nb.LookupRouted
	}
	var port uint16
	if (kind == maps.KindNAT || kind == maps.KindFNAT) && !svc.allPorts {
		// An all-ports service keeps the client's destination port.
		port = r.Addr.Port()
	}
	hop, err := lookup(r.Addr.Addr())
	routed := false
	if err != nil {
		switch {
		case cur.hop.DstMAC != nil:
			// Keep the last written hop: a MAC we knew is better than
			// none while the kernel re-resolves it.
			x.log.Debug("next hop lookup failed; keeping the last one", "real", r.Addr.String(), "err", err)
			hop = cur.hop
		case kind == maps.KindNAT || kind == maps.KindFNAT:
			// NAT needs no MAC from us: the data plane asks the kernel's
			// FIB per packet (slower) until the neighbour is known.
			hop, routed = neigh.Hop{}, true
		default:
			cur.state, cur.reason = RealUnresolved, err.Error()
			return cur, nil
		}
	}
	if !cur.written || !sameHop(hop, cur.hop) || port != cur.port || quiesced != cur.quiesced {
		err := x.dp.PutReal(cur.id, maps.Real{
			Addr:     r.Addr.Addr(),
			Port:     port,
			MAC:      hop.DstMAC,
			SrcMAC:   hop.SrcMAC,
			Ifindex:  hop.Ifindex,
			MTU:      hop.MTU,
			Quiesced: quiesced,
			// Each service has reals (and real ids) of its own: the
			// data plane may find a tracked flow's service through its
			// real (bpf/fast.h).
			ServiceID: svc.id,
		})
		if err != nil {
			return cur, err
		}
		if cur.hop.DstMAC != nil && hop.DstMAC != nil && !slices.Equal(cur.hop.DstMAC, hop.DstMAC) {
			x.log.Info("real server moved", "real", r.Addr.String(),
				"mac", hop.DstMAC.String(), "was", cur.hop.DstMAC.String(), "iface", hop.Ifname)
		}
		cur.hop, cur.port, cur.quiesced, cur.written = hop, port, quiesced, true
	}
	if kind == maps.KindNAT && hop.Ifindex != 0 && !x.inside[hop.Ifindex] {
		// Replies from this real arrive on this interface: the data plane
		// looks them up in the NAT table there.
		if err := x.dp.SetInside(hop.Ifindex, true); err != nil {
			return cur, err
		}
		x.inside[hop.Ifindex] = true
		x.log.Info("interface faces NAT reals: replies are translated there", "iface", hop.Ifname)
	}
	if kind == maps.KindFNAT && hop.Ifindex != 0 && !x.fnatInside[hop.Ifindex] {
		// Replies to the local addresses arrive here.
		if err := x.dp.SetFNATInside(hop.Ifindex, true); err != nil {
			return cur, err
		}
		x.fnatInside[hop.Ifindex] = true
		x.log.Info("interface faces full-NAT reals: replies to the local addresses are translated there", "iface", hop.Ifname)
	}
	cur.state, cur.reason = RealActive, ""
	if routed {
		cur.reason = "next hop unresolved: routed through the kernel's FIB per packet"
	}
	if r.Weight == 0 {
		cur.state, cur.reason = RealOut, "weight 0"
	}
	return cur, nil
}

func sameHop(a, b neigh.Hop) bool {
	return a.Ifindex == b.Ifindex && slices.Equal(a.DstMAC, b.DstMAC) && slices.Equal(a.SrcMAC, b.SrcMAC) &&
		a.Src == b.Src && a.MTU == b.MTU
}

// tunnelSource picks a TUN service's outer source address: tunnel_source
// when configured, else the source the kernel's route gives towards its
// first active real (by address), so replies to ICMP errors about the
// tunnel come back to this host.
func tunnelSource(svc *xdpService) netip.Addr {
	if svc.tunnelSrc.IsValid() {
		return svc.tunnelSrc
	}
	addrs := make([]netip.AddrPort, 0, len(svc.reals))
	for a, r := range svc.reals {
		if r.state == RealActive && r.hop.Src.IsValid() {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return netip.Addr{}
	}
	slices.SortFunc(addrs, netip.AddrPort.Compare)
	return svc.reals[addrs[0]].hop.Src
}

// tableBackends are the inputs of a service's Maglev table: its active
// reals, by address — or, while none is active or quorum is lost, its
// sorry_server.
func tableBackends(svc *xdpService) []maglev.Backend {
	if svc.sorryOnly && svc.sorry != nil && svc.sorry.state == RealActive {
		return []maglev.Backend{{ID: svc.sorry.id, Key: svc.sorryAddr.String(), Weight: 1}}
	}
	var backends []maglev.Backend
	for a, r := range svc.reals {
		if r.state != RealActive {
			continue
		}
		backends = append(backends, maglev.Backend{ID: r.id, Key: a.String(), Weight: uint32(r.weight)})
	}
	if len(backends) == 0 && svc.sorry != nil && svc.sorry.state == RealActive {
		return []maglev.Backend{{ID: svc.sorry.id, Key: svc.sorryAddr.String(), Weight: 1}}
	}
	slices.SortFunc(backends, func(a, b maglev.Backend) int { return strings.Compare(a.Key, b.Key) })
	return backends
}

// applySorry keeps the service's sorry_server entry in step with the
// configuration: written (with its next hop) while configured, so it can
// take the table the moment the last real goes, and deleted when not.
func (x *XDP) applySorry(svc *xdpService, addr netip.AddrPort) error {
	if svc.sorry != nil && svc.sorryAddr != addr {
		// Deleted only after the next table swap would be cleaner; the
		// sorry server is in the table only while no real is, and a
		// changed sorry_server is a reload, so a brief drop is accepted.
		if err := x.retireReal(svc, svc.sorry.id); err != nil {
			return err
		}
		x.realIDs.put(svc.sorry.id)
		svc.sorry, svc.sorryAddr = nil, netip.AddrPort{}
	}
	if !addr.IsValid() {
		return nil
	}
	// The sorry server lives beside the reals, not among them, so it may
	// share an address with one of them.
	// Quiesced while the reals hold the table (tableBackends): a
	// persistence template written while the sorry server stood in must
	// not keep its client there once the reals are back.
	standsIn := svc.sorryOnly
	if !standsIn {
		standsIn = true
		for _, r := range svc.reals {
			if r.state == RealActive {
				standsIn = false
			}
		}
	}
	cur, err := x.writeReal(svc, svc.sorry, Real{Addr: addr, Weight: 1}, !standsIn)
	if cur != nil {
		svc.sorry, svc.sorryAddr = cur, addr
	}
	return err
}

// minSlotsPerReal is the fewest Maglev slots a real should have: below it
// a table follows its weights and keeps flows in place on a change visibly
// worse than the ideal (already at 100, removing one of 10 equal reals
// moves 13 % of the flows, not 10 %: TestDisruptionBySize in
// controlplane/maglev), so xlbd warns (operator guide, "Choosing
// --maglev-size").
const minSlotsPerReal = 100

// weightedCount is how many of backends take slots (weight above 0).
func weightedCount(backends []maglev.Backend) uint32 {
	n := uint32(0)
	for _, b := range backends {
		if b.Weight > 0 {
			n++
		}
	}
	return n
}

// installTable builds the service's Maglev table from its active reals and
// swaps it in when its inputs changed, then writes the service entry.
func (x *XDP) installTable(k ServiceKey, svc *xdpService) error {
	backends := tableBackends(svc)
	var inputs strings.Builder
	fmt.Fprintf(&inputs, "%d:", svc.sched)
	for _, b := range backends {
		fmt.Fprintf(&inputs, "%d=%s*%d;", b.ID, b.Key, b.Weight)
	}
	size := x.tableSize
	switch {
	case svc.sched == maps.SchedRR || svc.sched == maps.SchedWRR:
		seq, err := sequence(svc.sched, backends)
		if err != nil {
			return err
		}
		size = uint32(len(seq))
		if inputs.String() != svc.tableInputs {
			if err := x.dp.SwapSequence(svc.id, seq); err != nil {
				return fmt.Errorf("install %s sequence: %w", schedName(svc), err)
			}
			svc.tableInputs = inputs.String()
			x.log.Info("service sequence installed", "service", k.String(), "reals", len(backends), "length", len(seq))
		}
	case usesList(svc.sched):
		size = 0
		if inputs.String() != svc.tableInputs {
			list := make([]maps.SchedReal, 0, len(backends))
			for _, b := range sched.Sorted(backends) {
				list = append(list, maps.SchedReal{ID: b.ID, Weight: b.Weight})
			}
			if err := x.dp.SwapSchedReals(svc.id, list); err != nil {
				return fmt.Errorf("install %s reals: %w", schedName(svc), err)
			}
			svc.tableInputs = inputs.String()
			x.log.Info("service real list installed", "service", k.String(), "reals", len(list))
		}
	case inputs.String() != svc.tableInputs:
		slots, err := maglev.Build(backends, x.tableSize)
		if err != nil {
			return fmt.Errorf("build maglev table: %w", err)
		}
		if err := x.dp.SwapTable(svc.id, slots); err != nil {
			return fmt.Errorf("install maglev table: %w", err)
		}
		svc.tableInputs = inputs.String()
		x.log.Info("service table installed", "service", k.String(), "reals", len(backends))
		if n := weightedCount(backends); n > 0 && x.tableSize/n < minSlotsPerReal {
			x.log.Warn("Maglev table small for its reals: a change of reals moves more flows than it must and shares stray from the weights; raise --maglev-size",
				"service", k.String(), "slots", x.tableSize, "reals", n, "slots_wanted", n*minSlotsPerReal)
		}
	}

	// The service entry goes in after its table, so the first packet that
	// matches it finds a table; it is rewritten when its kind, hash (the
	// lb_algo) or tunnel source changes.
	entry := maps.Service{ID: svc.id, TableSize: size, Kind: svc.kind, Hash: svc.hash, Scheduler: svc.sched,
		Persist: svc.persist, PersistPrefix: svc.persistBits, OnePacket: svc.ops}
	if svc.kind == maps.KindTUN {
		entry.TunnelSrc = tunnelSource(svc)
		if !entry.TunnelSrc.IsValid() {
			// No real resolved yet: without an outer source nothing can be
			// sent, and a missing entry lets the packets pass untouched.
			return nil
		}
	}
	if entry == svc.entry {
		return nil
	}
	if err := x.dp.PutService(toMapsKey(k), entry); err != nil {
		return fmt.Errorf("put service: %w", err)
	}
	svc.entry = entry
	return nil
}

func (x *XDP) removeService(k ServiceKey) error {
	svc := x.services[k]
	if svc.unsupported != "" {
		delete(x.services, k)
		return nil
	}
	// The service entry goes first: from then on its packets pass
	// untouched and nothing reads the table or the reals.
	if svc.entry.ID != 0 {
		if err := x.dp.DeleteService(toMapsKey(k)); err != nil {
			return err
		}
	}
	var errs []error
	if err := x.dp.DeleteTable(svc.id); err != nil {
		errs = append(errs, err)
	}
	if usesList(svc.sched) {
		if err := x.dp.DeleteSchedReals(svc.id); err != nil {
			errs = append(errs, err)
		}
	}
	if usesLocality(svc.sched) {
		x.forgetLocalities(svc)
	}
	if svc.pool != nil {
		if err := x.dp.DeleteFNATPool(svc.id); err != nil {
			errs = append(errs, err)
		}
	}
	for a, r := range svc.reals {
		if err := x.dp.DeleteReal(r.id); err != nil {
			errs = append(errs, fmt.Errorf("delete real %s: %w", a, err))
			continue
		}
		x.realIDs.put(r.id)
	}
	if svc.sorry != nil {
		if err := x.dp.DeleteReal(svc.sorry.id); err != nil {
			errs = append(errs, fmt.Errorf("delete sorry_server %s: %w", svc.sorryAddr, err))
		} else {
			x.realIDs.put(svc.sorry.id)
		}
	}
	x.serviceIDs.put(svc.id)
	delete(x.services, k)
	x.log.Info("service removed", "service", k.String())
	return errors.Join(errs...)
}

func toMapsKey(k ServiceKey) maps.ServiceKey {
	return maps.ServiceKey{Addr: k.VIP, Port: k.Port, Proto: uint8(k.Protocol)}
}

// Observe reports states and counters of what XDP wrote. Counter read
// errors leave the counters at zero; they are not worth failing a listing.
func (x *XDP) Observe() map[ServiceKey]ServiceObservation {
	out := make(map[ServiceKey]ServiceObservation, len(x.services))
	for k, svc := range x.services {
		obs := ServiceObservation{Status: "active", Served: schedName(svc), Reals: map[netip.AddrPort]RealObservation{}}
		if svc.unsupported != "" {
			obs.Status, obs.Reason, obs.Served = "unsupported", svc.unsupported, ""
			out[k] = obs
			continue
		}
		// The service's traffic: its reals' (the sorry server's too) and
		// what its former reals counted.
		total := svc.retired
		if svc.sorry != nil {
			if c, err := x.dp.RealCounters(svc.sorry.id); err == nil {
				total = total.Add(c)
			}
		}
		for a, r := range svc.reals {
			ro := RealObservation{State: r.state, Reason: r.reason, Ifname: r.hop.Ifname}
			if r.hop.DstMAC != nil {
				ro.MAC = net.HardwareAddr(r.hop.DstMAC).String()
			}
			if c, err := x.dp.RealCounters(r.id); err == nil {
				ro.Packets, ro.Bytes, ro.OutPackets, ro.OutBytes = c.Packets, c.Bytes, c.OutPackets, c.OutBytes
				ro.Connections = c.Connections
				total = total.Add(c)
			}
			if a, i, err := x.dp.RealConnCounts(r.id); err == nil {
				ro.ActiveConns, ro.InactiveConns = a, i
			}
			obs.Reals[a] = ro
		}
		obs.Packets, obs.Bytes, obs.OutPackets, obs.OutBytes = total.Packets, total.Bytes, total.OutPackets, total.OutBytes
		obs.Connections = total.Connections
		if b := tableBackends(svc); svc.sorry != nil && len(b) == 1 && b[0].ID == svc.sorry.id {
			obs.SorryActive = true
		}
		out[k] = obs
	}
	return out
}

// Reasons reports the XDP program's per-reason packet counters.
func (x *XDP) Reasons() (map[string]uint64, error) { return x.dp.Reasons() }

// Unresolved counts the reals whose next hop is not known yet.
func (x *XDP) Unresolved() int {
	n := 0
	for _, svc := range x.services {
		for _, r := range svc.reals {
			if r.state == RealUnresolved {
				n++
			}
		}
	}
	return n
}

// idPool hands out small integer ids and takes them back for reuse, so
// ids stay below the maps' capacity however often things come and go.
type idPool struct {
	next uint32
	free []uint32
}

// maxIDs bounds ids to what uint32 map indexes and the maps' capacities
// allow; the maps reject ids past their own capacity with a clear error.
const maxIDs = 1 << 24

func (p *idPool) get() (uint32, error) {
	if n := len(p.free); n > 0 {
		id := p.free[n-1]
		p.free = p.free[:n-1]
		return id, nil
	}
	if p.next >= maxIDs {
		return 0, errors.New("out of ids")
	}
	p.next++
	return p.next - 1, nil
}

func (p *idPool) put(id uint32) { p.free = append(p.free, id) }

// ErrFwmarkNotServed is why the XDP backend refuses a configuration with
// fwmark virtual servers: an XDP program runs before netfilter, so it never
// sees the mark that iptables or nftables would set.
var ErrFwmarkNotServed = errors.New("the XDP backend cannot see firewall marks")

// CheckXDPConfig refuses what the XDP backend can never serve, rather than
// starting without it: each "virtual_server fwmark N" and each fwmark entry
// of a virtual_server_group, TUN with GUE or GRE, and FNAT with more local addresses than
// a pool holds (maps.MaxFNATPool), at its FILE:LINE. `xlbd -t` only warns about
// them (the check does not know which backend will run the file); xlbd
// with the XDP backend fails to start, or keeps the old config on reload.
func CheckXDPConfig(cfg *config.Config) error {
	var errs []error
	for _, vs := range cfg.FwmarkServers {
		errs = append(errs, fmt.Errorf("%s: virtual_server fwmark %d: %w; remove it, or serve it with IPVS%s",
			vs.Pos, vs.Fwmark, ErrFwmarkNotServed, vs.Pos.Includes()))
	}
	seen := map[config.Pos]bool{} // a group's entries share their block
	for _, vs := range cfg.VirtualServers {
		if seen[vs.Pos] {
			continue
		}
		seen[vs.Pos] = true
		// The data plane encapsulates in plain IP-in-IP; a real set up
		// for GUE or GRE would drop what it sends.
		if vs.Tunnel != nil && vs.Tunnel.Type != config.TunnelIPIP {
			errs = append(errs, fmt.Errorf("%s: virtual_server %s: lb_kind TUN type %s: the XDP backend encapsulates in IPIP only%s",
				vs.Pos, vs.Key(), vs.Tunnel.Type, vs.Pos.Includes()))
		}
		if len(vs.LocalAddrs) > maps.MaxFNATPool {
			errs = append(errs, fmt.Errorf("%s: virtual_server %s: local_address_group %s: %d %s addresses, the XDP backend takes at most %d per service%s",
				vs.Pos, vs.Key(), vs.LocalAddressGroup, len(vs.LocalAddrs), addrFamily(vs.Addr), maps.MaxFNATPool, vs.Pos.Includes()))
		}
		for _, rs := range vs.Reals {
			if rs.Tunnel != nil && rs.Tunnel.Type != config.TunnelIPIP {
				errs = append(errs, fmt.Errorf("%s: real_server %s: lvs_method TUN type %s: the XDP backend encapsulates in IPIP only%s",
					rs.Pos, rs.Addr, rs.Tunnel.Type, rs.Pos.Includes()))
			}
		}
	}
	return errors.Join(errs...)
}

// sequence is the rr or wrr cycle of a service's table inputs, in Key
// order; with no real it is one empty slot (new flows find no real).
func sequence(s maps.Scheduler, backends []maglev.Backend) ([]uint32, error) {
	if len(backends) == 0 {
		return []uint32{0}, nil
	}
	build := sched.WRRSequence
	if s == maps.SchedRR {
		build = sched.RRSequence
	}
	seq, err := build(sched.Sorted(backends))
	if err != nil {
		return nil, fmt.Errorf("build %v sequence: %w", s, err)
	}
	return seq, nil
}

// ResyncConnCounts rebuilds the data plane's per-real connection counts
// from its connection tables: flows that expired, and flows full NAT's
// LRU tables evicted, are otherwise never taken off. It returns how many
// expired flows it found.
func (x *XDP) ResyncConnCounts() (int, error) { return x.dp.ResyncConnCounts() }
