package controlplane

import (
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"xlb/maps"
)

// applyPool keeps a full-NAT service's local addresses in the data plane
// in step with svc: written before the service entry (a new flow must
// find its pool), rewritten when they change, deleted when the service
// is no longer FNAT. Addresses this node does not have are written all
// the same, with a warning once: the kernel would not answer the reals'
// ARP/ND for them, so their replies would not come back.
func (x *XDP) applyPool(svc Service, cur *xdpService) error {
	if cur.kind != maps.KindFNAT {
		if cur.pool == nil {
			return nil
		}
		if err := x.dp.DeleteFNATPool(cur.id); err != nil {
			return fmt.Errorf("delete fnat pool: %w", err)
		}
		cur.pool, cur.poolPorts = nil, [2]uint16{}
		return nil
	}
	want := svc.LocalAddrs
	if len(want) > maps.MaxFNATPool {
		// CheckXDPConfig refuses such a file; a caller that skipped it
		// gets the first ones.
		want = want[:maps.MaxFNATPool]
	}
	x.checkLocal(svc.Key, want)
	ports := [2]uint16{svc.LocalPortMin, svc.LocalPortMax}
	if slices.Equal(want, cur.pool) && ports == cur.poolPorts {
		return nil
	}
	if err := x.dp.PutFNATPool(cur.id, maps.FNATPool{Addrs: want, PortMin: ports[0], PortMax: ports[1]}); err != nil {
		return fmt.Errorf("put fnat pool: %w", err)
	}
	cur.pool, cur.poolPorts = slices.Clone(want), ports
	x.log.Info("full-NAT local addresses installed", "service", svc.Key.String(), "local_addrs", fmt.Sprint(want),
		"ports", fmt.Sprintf("%d-%d", cmp.Or(ports[0], maps.DefaultFNATPortMin), cmp.Or(ports[1], maps.DefaultFNATPortMax)))
	return nil
}

// checkLocal warns once per address about local addresses this node
// does not have.
func (x *XDP) checkLocal(k ServiceKey, addrs []netip.Addr) {
	own, err := x.localAddrs()
	if err != nil {
		x.log.Warn("list this node's addresses", "err", err)
		return
	}
	for _, a := range addrs {
		if slices.Contains(own, a) {
			delete(x.missingLocal, a)
			continue
		}
		if !x.missingLocal[a] {
			x.missingLocal[a] = true
			x.log.Warn("full-NAT local address is not on this node: the reals' replies to it will not reach xlb; add it to the interface facing the reals",
				"service", k.String(), "local_addr", a.String())
		}
	}
}

// interfaceAddrs lists the addresses of this node's interfaces.
func interfaceAddrs() ([]netip.Addr, error) {
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(ifaddrs))
	for _, a := range ifaddrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out, nil
}

// addrFamily names a's family in messages.
func addrFamily(a netip.Addr) string {
	if a.Unmap().Is4() {
		return "IPv4"
	}
	return "IPv6"
}
