package config

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// maxGroupRange bounds the addresses one range line of a virtual_server_group expands
// to: the last byte of IPv4 (or 16 bits of IPv6) gives at most 65536.
const maxGroupRange = 1 << 16

// decodeServerGroup reads "virtual_server_group NAME { ADDR[-LAST] [PORT] ...; fwmark N }".
// A range "198.18.0.80-82" runs over the last byte of an IPv4 address, or the last 16-bit
// group of an IPv6 address written in hex ("2001:db8::10-1f"), as keepalived reads it.
func decodeServerGroup(d *decoder, n *node, c *configDraft) {
	name, ok := nameArg(d, n)
	if !ok {
		return
	}
	item := n.String()
	g := ServerGroup{Pos: n.Key.Pos, Name: name}
	for _, l := range n.Block.Nodes {
		if l.Block != nil {
			d.errorf(l.Block.Open, "%s: unexpected block", item)
			continue
		}
		if l.Key.Text == "fwmark" {
			if len(l.Args) != 1 {
				d.errorf(l.Key.Pos, "%s: fwmark: want one number", item)
				continue
			}
			m, ok := parseUint(l.Args[0].Text, math.MaxUint32)
			if !ok || m == 0 {
				d.errorf(l.Args[0].Pos, "%s: fwmark %q: want 1..%d", item, l.Args[0].Text, uint32(math.MaxUint32))
				continue
			}
			g.Fwmarks = append(g.Fwmarks, uint32(m))
			continue
		}
		addrs, ok := addrRange(l.Key.Text)
		if !ok {
			d.errorf(l.Key.Pos, "%s: %q: want ADDRESS[-LAST] [PORT] or fwmark N", item, l.Key.Text)
			continue
		}
		var port uint16
		if len(l.Args) > 0 {
			if port, ok = parsePort(l.Args[0].Text); !ok {
				d.errorf(l.Args[0].Pos, "%s: %s port %q: want 0..65535", item, l.Key.Text, l.Args[0].Text)
				continue
			}
		}
		if len(l.Args) > 1 {
			d.errorf(l.Args[1].Pos, "%s: %s: unexpected argument %q", item, l.Key.Text, l.Args[1].Text)
			continue
		}
		for _, a := range addrs {
			g.Addrs = append(g.Addrs, GroupEntry{Pos: l.Key.Pos, Addr: a, Port: port})
		}
	}
	c.cfg.ServerGroups = append(c.cfg.ServerGroups, g)
}

// addrRange expands "ADDR" or "ADDR-LAST".
func addrRange(s string) ([]netip.Addr, bool) {
	first, last, isRange := strings.Cut(s, "-")
	a, ok := parseAddr(first)
	if !ok {
		return nil, false
	}
	if !isRange {
		return []netip.Addr{a}, true
	}
	b := a.As16()
	var lo, hi uint64
	var err error
	if a.Is4() {
		lo = uint64(b[15])
		hi, err = strconv.ParseUint(last, 10, 8)
	} else {
		lo = uint64(b[14])<<8 | uint64(b[15])
		hi, err = strconv.ParseUint(last, 16, 16)
	}
	if err != nil || hi < lo || hi-lo >= maxGroupRange {
		return nil, false
	}
	out := make([]netip.Addr, 0, hi-lo+1)
	for v := lo; v <= hi; v++ {
		b[14], b[15] = byte(v>>8), byte(v)
		if a.Is4() {
			b[14] = a.As16()[14]
			out = append(out, netip.AddrFrom16(b).Unmap())
			continue
		}
		out = append(out, netip.AddrFrom16(b))
	}
	return out, true
}
