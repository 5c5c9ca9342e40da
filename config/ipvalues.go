package config

import (
	"net/netip"
	"strconv"
	"strings"
)

// parsePrefix reads "ADDR[/LEN]"; an address alone is a host prefix (/32, /128). The
// address keeps its host bits: "198.18.0.100/24" is the address 198.18.0.100 on a /24, as
// ip(8) reads it. fixed is set when the text was an IPv4 address cut short with a dot
// ("192.168.100./24", as in keepalived's own sample), read with zeros filled in.
func parsePrefix(s string) (p netip.Prefix, fixed bool, ok bool) {
	addr, bits, hasBits := strings.Cut(s, "/")
	if strings.HasSuffix(addr, ".") && !strings.Contains(addr, ":") {
		n := strings.Count(addr, ".")
		if n >= 1 && n <= 3 {
			addr += strings.TrimSuffix(strings.Repeat("0.", 4-n), ".")
			fixed = true
		}
	}
	a, ok := parseAddr(addr)
	if !ok {
		return netip.Prefix{}, false, false
	}
	n := a.BitLen()
	if hasBits {
		v, ok := parseUint(bits, uint64(a.BitLen()))
		if !ok {
			return netip.Prefix{}, false, false
		}
		n = int(v)
	}
	return netip.PrefixFrom(a, n), fixed, true
}

// prefixValue reads a prefix word for item, reporting a bad one and warning about a
// fixed one. It returns false after an error.
func prefixValue(d *decoder, item string, t token) (netip.Prefix, bool) {
	p, fixed, ok := parsePrefix(t.Text)
	if !ok {
		d.errorf(t.Pos, "%s: %q: want an address or ADDRESS/LENGTH", item, t.Text)
		return p, false
	}
	if fixed {
		d.warnf(t.Pos, "%s: %q: read as %s; write the address in full", item, t.Text, p)
	}
	return p, true
}

// scopes are the address and route scopes ip(8) names; a number is taken too.
var scopes = []string{"host", "link", "site", "global", "nowhere"}

func validScope(s string) bool {
	if _, err := strconv.ParseUint(s, 10, 8); err == nil {
		return true
	}
	for _, v := range scopes {
		if s == v {
			return true
		}
	}
	return false
}

// decodeVirtualIP reads a virtual_ipaddress line:
// "ADDR[/LEN] [brd ADDR] [dev IF] [scope S] [label L] [peer ADDR[/LEN]] [no_track] ...".
func decodeVirtualIP(d *decoder, item string, c *node) (VirtualIP, bool) {
	ws := lineWords(c)
	v := VirtualIP{Pos: c.Key.Pos}
	var ok bool
	if v.Prefix, ok = prefixValue(d, item, ws[0]); !ok {
		return v, false
	}
	for i := 1; i < len(ws); i++ {
		w := ws[i]
		switch w.Text {
		case "no_track":
			v.NoTrack = true
			continue
		case "brd", "broadcast", "dev", "scope", "label", "peer":
		default:
			v.Options = append(v.Options, w.Text)
			continue
		}
		if i+1 >= len(ws) {
			d.errorf(w.Pos, "%s: %s %s: missing value", item, ws[0].Text, w.Text)
			return v, false
		}
		i++
		val := ws[i]
		switch w.Text {
		case "brd", "broadcast":
			a, ok := parseAddr(val.Text)
			if !ok && val.Text != "+" && val.Text != "-" {
				d.errorf(val.Pos, "%s: %s brd %q: want an address", item, ws[0].Text, val.Text)
				return v, false
			}
			v.Broadcast = a
		case "dev":
			v.Dev = val.Text
		case "label":
			v.Label = val.Text
		case "scope":
			if !validScope(val.Text) {
				d.errorf(val.Pos, "%s: %s scope %q: want %s", item, ws[0].Text, val.Text, orList(append(scopes[:len(scopes):len(scopes)], "a number")))
				return v, false
			}
			v.Scope = val.Text
		case "peer":
			if v.Peer, ok = prefixValue(d, item, val); !ok {
				return v, false
			}
		}
	}
	return v, true
}

// routeTypes are the route types ip-route(8) writes before the destination.
var routeTypes = map[string]bool{
	"unicast": true, "blackhole": true, "unreachable": true, "prohibit": true, "throw": true,
	"local": true, "broadcast": true, "anycast": true, "multicast": true, "nat": true,
}

// decodeRoute reads a static_routes or virtual_routes line.
func decodeRoute(d *decoder, item string, c *node) (Route, bool) {
	ws := lineWords(c)
	r := Route{Pos: c.Key.Pos}
	haveTo := false
	for i := 0; i < len(ws); i++ {
		w := ws[i]
		if routeTypes[w.Text] && i == 0 {
			r.Type = w.Text
			continue
		}
		switch w.Text {
		case "src", "via", "gw", "dev", "table", "metric", "scope", "to":
		default:
			if !haveTo {
				if w.Text == "default" {
					r.To, haveTo = netip.Prefix{}, true
					continue
				}
				p, ok := prefixValue(d, item, w)
				if !ok {
					return r, false
				}
				r.To, haveTo = p, true
				continue
			}
			r.Options = append(r.Options, w.Text)
			continue
		}
		if i+1 >= len(ws) {
			d.errorf(w.Pos, "%s: %s: missing value", item, w.Text)
			return r, false
		}
		i++
		val := ws[i]
		var ok bool
		switch w.Text {
		case "to":
			i--
		case "src", "via", "gw":
			a, good := parseAddr(val.Text)
			if !good {
				d.errorf(val.Pos, "%s: %s %q: want an address", item, w.Text, val.Text)
				return r, false
			}
			if w.Text == "src" {
				r.Src = a
			} else {
				r.Via = a
			}
		case "dev":
			r.Dev = val.Text
		case "table":
			r.Table = val.Text
		case "scope":
			if !validScope(val.Text) {
				d.errorf(val.Pos, "%s: scope %q: want %s", item, val.Text, orList(append(scopes[:len(scopes):len(scopes)], "a number")))
				return r, false
			}
			r.Scope = val.Text
		case "metric":
			if r.Metric, ok = parseIntRange(val.Text, 0, 1<<31-1); !ok {
				d.errorf(val.Pos, "%s: metric %q: want 0..%d", item, val.Text, 1<<31-1)
				return r, false
			}
		}
	}
	if !haveTo {
		d.errorf(c.Key.Pos, "%s: %s: no destination", item, words(ws))
		return r, false
	}
	if !r.To.IsValid() {
		// "default": the whole address family of the gateway (or source), IPv4 without one.
		r.To = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if r.Via.Is6() || r.Src.Is6() {
			r.To = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
	}
	return r, true
}

// decodeRule reads a static_rules or virtual_rules line.
func decodeRule(d *decoder, item string, c *node) (Rule, bool) {
	ws := lineWords(c)
	r := Rule{Pos: c.Key.Pos}
	for i := 0; i < len(ws); i++ {
		w := ws[i]
		switch w.Text {
		case "from", "to", "table", "lookup":
			if i+1 >= len(ws) {
				d.errorf(w.Pos, "%s: %s: missing value", item, w.Text)
				return r, false
			}
		default:
			r.Options = append(r.Options, w.Text)
			continue
		}
		i++
		val := ws[i]
		switch w.Text {
		case "table", "lookup":
			r.Table = val.Text
		default:
			if val.Text == "all" {
				continue
			}
			p, ok := prefixValue(d, item, val)
			if !ok {
				return r, false
			}
			if w.Text == "from" {
				r.From = p
			} else {
				r.To = p
			}
		}
	}
	return r, true
}
