package controlplane

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"testing"

	"xlb/config"
	"xlb/controlplane/neigh"
	"xlb/maps"
)

// fakeDataplane records every write in order, and keeps the maps' contents
// so tests can look at what the data plane would do.
type fakeDataplane struct {
	ops       []string
	fnat      map[maps.Flow]maps.FNATReply // full-NAT reverse entries, by the reply's 5-tuple
	services  map[maps.ServiceKey]maps.Service
	reals     map[uint32]maps.Real
	tables    map[uint32][]uint32
	conns     map[maps.Flow]maps.Conn
	templates map[persistKey]maps.Template
	counters  map[uint32]maps.Counters // real counters, by id: what tests set, less what was cleared
	failPut   error                    // returned by PutReal when set
}

func newFakeDataplane() *fakeDataplane {
	return &fakeDataplane{
		services: map[maps.ServiceKey]maps.Service{},
		reals:    map[uint32]maps.Real{},
		tables:   map[uint32][]uint32{},
		counters: map[uint32]maps.Counters{},
	}
}

func (f *fakeDataplane) log(format string, args ...any) {
	f.ops = append(f.ops, fmt.Sprintf(format, args...))
}

func (f *fakeDataplane) PutService(k maps.ServiceKey, s maps.Service) error {
	hash := ""
	if s.Hash != maps.HashFlow {
		hash = " hash=" + s.Hash.String()
	}
	f.log("put service %s:%d/%d id=%d kind=%d src=%s%s", k.Addr, k.Port, k.Proto, s.ID, s.Kind, s.TunnelSrc, hash)
	f.services[k] = s
	return nil
}

func (f *fakeDataplane) DeleteService(k maps.ServiceKey) error {
	f.log("delete service %s:%d/%d", k.Addr, k.Port, k.Proto)
	delete(f.services, k)
	return nil
}

func (f *fakeDataplane) PutReal(id uint32, r maps.Real) error {
	if f.failPut != nil {
		return f.failPut
	}
	addr, mac := r.Addr.String(), r.MAC.String()
	if r.Port != 0 {
		addr = netip.AddrPortFrom(r.Addr, r.Port).String()
	}
	if r.MAC == nil {
		mac = "routed"
	}
	f.log("put real %d %s %s", id, addr, mac)
	f.reals[id] = r
	return nil
}

func (f *fakeDataplane) DeleteReal(id uint32) error {
	f.log("delete real %d", id)
	delete(f.reals, id)
	return nil
}

func (f *fakeDataplane) SwapTable(id uint32, slots []uint32) error {
	f.log("swap table %d", id)
	f.tables[id] = slots
	return nil
}

func (f *fakeDataplane) DeleteTable(id uint32) error {
	f.log("delete table %d", id)
	delete(f.tables, id)
	return nil
}

func (f *fakeDataplane) RealCounters(id uint32) (maps.Counters, error) {
	return f.counters[id], nil
}

func (f *fakeDataplane) ClearRealCounters(id uint32) error {
	f.log("clear real counters %d", id)
	delete(f.counters, id)
	return nil
}

func (f *fakeDataplane) Reasons() (map[string]uint64, error) {
	return map[string]uint64{"tx": 7, "pass_not_vip": 3}, nil
}

func (f *fakeDataplane) LookupPersist(id uint32, client netip.Addr) (maps.Template, bool, error) {
	t, ok := f.templates[persistKey{id, client}]
	return t, ok, nil
}

// persistKey names a template in the fake: service id and masked client.
type persistKey struct {
	id     uint32
	client netip.Addr
}

func (f *fakeDataplane) LookupConn(fl maps.Flow) (maps.Conn, bool, error) {
	c, ok := f.conns[fl]
	return c, ok, nil
}

// takeOps returns the writes since the last call.
func (f *fakeDataplane) SetInside(ifindex int, inside bool) error {
	f.log("inside %d %v", ifindex, inside)
	return nil
}

func (f *fakeDataplane) SwapSequence(id uint32, ids []uint32) error {
	f.log("swap sequence %d", id)
	f.tables[id] = slices.Clone(ids)
	return nil
}

func (f *fakeDataplane) SwapSchedReals(id uint32, reals []maps.SchedReal) error {
	f.log("swap sched reals %d", id)
	// The share of a list scheduler is modelled as weight-proportional:
	// with equal counts, wlc spreads new flows by weight.
	var slots []uint32
	for _, r := range reals {
		for range r.Weight {
			slots = append(slots, r.ID)
		}
	}
	f.tables[id] = slots
	return nil
}

func (f *fakeDataplane) DeleteSchedReals(id uint32) error {
	f.log("delete sched reals %d", id)
	delete(f.tables, id)
	return nil
}

func (f *fakeDataplane) RealConnCounts(id uint32) (uint64, uint64, error) { return 0, 0, nil }

func (f *fakeDataplane) ResyncConnCounts() (int, error) { return 0, nil }

func (f *fakeDataplane) takeOps() []string {
	ops := f.ops
	f.ops = nil
	return ops
}

// share returns, per real id, the fraction of the service's table it holds.
func (f *fakeDataplane) share(serviceID uint32) map[uint32]float64 {
	out := map[uint32]float64{}
	t := f.tables[serviceID]
	for _, id := range t {
		out[id] += 1 / float64(len(t))
	}
	return out
}

// fakeNeighbours answers from a fixed table; a missing address is
// unresolved. Forget records what it was told.
type fakeNeighbours struct {
	hops      map[netip.Addr]neigh.Hop
	routed    map[netip.Addr]neigh.Hop
	forgotten []netip.Addr
}

func (f *fakeNeighbours) Lookup(a netip.Addr) (neigh.Hop, error) {
	h, ok := f.hops[a]
	if !ok {
		return neigh.Hop{}, fmt.Errorf("%s: %w", a, neigh.ErrUnresolved)
	}
	return h, nil
}

// LookupRouted answers from routed when it has the address (a real
// behind a gateway), else as Lookup.
func (f *fakeNeighbours) LookupRouted(a netip.Addr) (neigh.Hop, error) {
	if h, ok := f.routed[a]; ok {
		return h, nil
	}
	return f.Lookup(a)
}

func (f *fakeNeighbours) Forget(a netip.Addr) error {
	f.forgotten = append(f.forgotten, a)
	return nil
}

func hop(mac string) neigh.Hop {
	m, err := net.ParseMAC(mac)
	if err != nil {
		panic(err)
	}
	return neigh.Hop{Ifindex: 2, Ifname: "eth0", SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: m}
}

func mustParse(t *testing.T, src string) *config.Config {
	t.Helper()
	cfg, _, err := config.Parse("test.conf", []byte(src))
	if err != nil {
		t.Fatalf("parse test config: %v", err)
	}
	return cfg
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

const threeReals = `
virtual_server 198.18.0.100 80 {
    lb_algo mh
    lb_kind DR
    protocol TCP
    real_server 198.18.0.11 80 { weight 3 }
    real_server 198.18.0.12 80 { weight 2 }
    real_server 198.18.0.13 80 { weight 1 }
}
`

func (f *fakeDataplane) PutFNATPool(id uint32, pool maps.FNATPool) error {
	if pool.PortMin != 0 || pool.PortMax != 0 {
		f.log("put fnat pool %d %v ports %d-%d", id, pool.Addrs, pool.PortMin, pool.PortMax)
		return nil
	}
	f.log("put fnat pool %d %v", id, pool.Addrs)
	return nil
}

func (f *fakeDataplane) DeleteFNATPool(id uint32) error {
	f.log("delete fnat pool %d", id)
	return nil
}

func (f *fakeDataplane) SetFNATInside(ifindex int, inside bool) error {
	f.log("fnat inside %d %v", ifindex, inside)
	return nil
}

func (f *fakeDataplane) LookupFNATReply(reply maps.Flow) (maps.FNATReply, bool, error) {
	r, ok := f.fnat[reply]
	return r, ok, nil
}
