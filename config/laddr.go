package config

import (
	"fmt"
	"net/netip"
	"strconv"
)

// LocalAddressGroup is "local_address_group NAME { ADDR[-LAST] [IFNAME] ... }", the
// Alibaba LVS fork's pool of local addresses for lb_kind FNAT: a virtual server names it
// with laddr_group_name, and its clients' source becomes one of these addresses. Ranges
// run as in virtual_server_group; an interface name after an address (DPVS's dpdk0) is
// accepted and ignored, xlb's addresses being the node's own.
//
// An xlb word may stand among the addresses: "port_range MIN MAX", the local ports the
// group's flows get (default 1024-65535). A range outside the kernel's own ephemeral
// ports (net.ipv4.ip_local_port_range) keeps full-NAT flows from ever sharing a 5-tuple
// with a connection this node opens to a real from the same address (a health check).
type LocalAddressGroup struct {
	Pos   Pos          `json:"-"`
	Name  string       `json:"name"`
	Addrs []netip.Addr `json:"addresses"`
	Ports PortRange    `json:"port_range,omitzero"`
}

// PortRange is a local_address_group's port_range: Min to Max inclusive; zero: the
// data plane's default, 1024-65535.
type PortRange struct {
	Min uint16 `json:"min"`
	Max uint16 `json:"max"`
}

// maxLocalAddrs bounds one local_address_group: the data plane holds at most 16 local
// addresses of a family per service (maps.MaxFNATPool); far more would be a typo in a
// range.
const maxLocalAddrs = 256

// decodeLocalAddressGroup reads "local_address_group NAME { ADDR[-LAST] [IFNAME] ... }".
func decodeLocalAddressGroup(d *decoder, n *node, c *configDraft) {
	name, ok := nameArg(d, n)
	if !ok {
		return
	}
	item := n.String()
	g := LocalAddressGroup{Pos: n.Key.Pos, Name: name}
	seen := map[netip.Addr]bool{}
	for _, l := range n.Block.Nodes {
		if l.Block != nil {
			d.errorf(l.Block.Open, "%s: unexpected block", item)
			continue
		}
		if l.Key.Text == "port_range" {
			decodePortRange(d, l, item, &g)
			continue
		}
		addrs, ok := addrRange(l.Key.Text)
		if !ok {
			d.errorf(l.Key.Pos, "%s: %q: want ADDRESS[-LAST] [INTERFACE]", item, l.Key.Text)
			continue
		}
		if len(l.Args) > 1 {
			d.errorf(l.Args[1].Pos, "%s: %s: unexpected argument %q", item, l.Key.Text, l.Args[1].Text)
			continue
		}
		for _, a := range addrs {
			a = a.Unmap()
			if seen[a] {
				d.errorf(l.Key.Pos, "%s: %s listed twice", item, a)
				continue
			}
			seen[a] = true
			g.Addrs = append(g.Addrs, a)
		}
	}
	switch {
	case len(g.Addrs) == 0:
		d.errorf(n.Key.Pos, "%s: no addresses", item)
		return
	case len(g.Addrs) > maxLocalAddrs:
		d.errorf(n.Key.Pos, "%s: %d addresses, want at most %d", item, len(g.Addrs), maxLocalAddrs)
		return
	}
	c.cfg.LocalAddressGroups = append(c.cfg.LocalAddressGroups, g)
}

// decodePortRange reads "port_range MIN MAX" in local_address_group g (item names it).
func decodePortRange(d *decoder, l *node, item string, g *LocalAddressGroup) {
	if g.Ports != (PortRange{}) {
		d.errorf(l.Key.Pos, "%s: port_range given twice", item)
		return
	}
	if len(l.Args) != 2 {
		d.errorf(l.Key.Pos, "%s: port_range: want MIN MAX (1-65535), got %d arguments", item, len(l.Args))
		return
	}
	var ends [2]uint16
	for i, a := range l.Args {
		v, err := strconv.ParseUint(a.Text, 10, 16)
		if err != nil || v == 0 {
			d.errorf(a.Pos, "%s: port_range: %q is no port (1-65535)", item, a.Text)
			return
		}
		ends[i] = uint16(v)
	}
	if ends[0] > ends[1] {
		d.errorf(l.Key.Pos, "%s: port_range %d %d: MIN above MAX", item, ends[0], ends[1])
		return
	}
	if ends[0] < 1024 {
		d.warnf(l.Key.Pos, "%s: port_range from %d: ports below 1024 are where this node's own services listen", item, ends[0])
	}
	g.Ports = PortRange{Min: ends[0], Max: ends[1]}
}

// decodeLaddrGroupName reads "laddr_group_name NAME" in a virtual server.
func decodeLaddrGroupName(d *decoder, n *node, v *vsDraft) {
	t, ok := value(d, v.name, n)
	if ok {
		v.vs.LocalAddressGroup = t.Text
	}
}

// checkLocalAddrs resolves the local addresses of every virtual server once all groups
// are known: lb_kind FNAT needs a local_address_group that exists and has addresses of
// the virtual server's family, and reals of that family too (the data plane translates
// no family to the other); other kinds ignore laddr_group_name with a warning.
func checkLocalAddrs(d *decoder, cfg *Config) {
	groups := make(map[string]*LocalAddressGroup, len(cfg.LocalAddressGroups))
	for i := range cfg.LocalAddressGroups {
		g := &cfg.LocalAddressGroups[i]
		if first, dup := groups[g.Name]; dup {
			d.errorf(g.Pos, "local_address_group %s: defined twice, first at %s", g.Name, first.Pos)
			continue
		}
		groups[g.Name] = g
	}
	warned := map[Pos]bool{} // a virtual_server_group's services share their block
	for i := range cfg.VirtualServers {
		vs := &cfg.VirtualServers[i]
		name := fmt.Sprintf("virtual_server %s %d", vs.Addr, vs.Port)
		if vs.Kind != KindFNAT {
			if vs.LocalAddressGroup != "" && !warned[vs.Pos] {
				warned[vs.Pos] = true
				d.warnf(vs.Pos, "%s: laddr_group_name is for lb_kind FNAT; ignored with lb_kind %s", name, vs.Kind)
			}
			continue
		}
		if vs.LocalAddressGroup == "" {
			d.errorf(vs.Pos, "%s: lb_kind FNAT needs laddr_group_name naming a local_address_group", name)
			continue
		}
		g, ok := groups[vs.LocalAddressGroup]
		if !ok {
			if s, ok := suggestName(groups, vs.LocalAddressGroup); ok {
				d.errorf(vs.Pos, "%s: no local_address_group %s; did you mean %s?", name, vs.LocalAddressGroup, s)
			} else {
				d.errorf(vs.Pos, "%s: no local_address_group %s", name, vs.LocalAddressGroup)
			}
			continue
		}
		is4 := vs.Addr.Unmap().Is4()
		vs.LocalPorts = g.Ports
		vs.LocalAddrs = nil
		for _, a := range g.Addrs {
			if a.Is4() == is4 {
				vs.LocalAddrs = append(vs.LocalAddrs, a)
			}
		}
		if len(vs.LocalAddrs) == 0 {
			d.errorf(vs.Pos, "%s: local_address_group %s (%s) has no %s address for its reals", name, g.Name, g.Pos, family(is4))
		}
		for _, r := range vs.Reals {
			if r.Addr.Unmap().Is4() != is4 {
				d.errorf(r.Pos, "%s: real_server %s: lb_kind FNAT needs reals of the virtual server's family (%s)", name, r.Addr, family(is4))
			}
		}
	}
}

// family names an address family in messages.
func family(is4 bool) string {
	if is4 {
		return "IPv4"
	}
	return "IPv6"
}
