package config

import (
	"math"
	"net/netip"
	"strings"
	"time"
)

// Defaults keepalived applies to a virtual server (check/check_data.c alloc_vs and the
// checks that follow the parse).
const (
	defaultDelayLoop = 60 * time.Second
	defaultScheduler = SchedulerWLC
	defaultKind      = KindNAT
	defaultWeight    = 1
	// maxWeight is IPVS's weight limit: keepalived reads weights as a signed 32-bit value.
	maxWeight = math.MaxInt32
)

// vsDraft is a virtual server being decoded, with what its reals inherit.
type vsDraft struct {
	vs     VirtualServer
	name   string // "virtual_server 198.18.0.100 80", as written, for messages
	weight int    // the virtual server's "weight": the default of its reals
	reals  []rsDraft
}

// rsDraft is a real server being decoded.
type rsDraft struct {
	rs        RealServer
	name      string // "virtual_server ...: real_server 198.18.0.1 80"
	weightSet bool
}

var virtualServerSchema = &schema[vsDraft]{
	words: virtualServerWords,
	fields: map[string]field[vsDraft]{
		"delay_loop":  decodeDelayLoop,
		"lb_algo":     decodeScheduler,
		"lvs_sched":   decodeScheduler,
		"lb_kind":     decodeKind,
		"lvs_method":  decodeKind,
		"protocol":    decodeProtocol,
		"weight":      decodeDefaultWeight,
		"real_server": decodeRealServer,
	},
}

var realServerSchema = &schema[rsDraft]{
	words: realServerWords,
	fields: map[string]field[rsDraft]{
		"weight": decodeWeight,
	},
}

// decodeVirtualServer decodes "virtual_server IP [PORT] { ... }" and adds it to cfg. A
// virtual server with errors is left out but its block is still decoded, so that one
// reload reports every mistake.
func decodeVirtualServer(d *decoder, n *node, cfg *configDraft) {
	name := n.String()
	if len(n.Args) == 0 {
		d.errorf(n.Key.Pos, "virtual_server: want an address and port, \"fwmark N\" or \"group NAME\"")
		d.check(virtualServerWords, n)
		return
	}
	if a := n.Args[0].Text; a == "fwmark" || a == "group" {
		d.warnf(n.Key.Pos, "%s: %s virtual servers are not supported by xlb yet; ignored", name, a)
		d.check(virtualServerWords, n)
		return
	}
	nerr := len(d.errs)
	v := &vsDraft{name: name, weight: defaultWeight, vs: VirtualServer{
		Pos:       n.Key.Pos,
		Scheduler: defaultScheduler,
		Kind:      defaultKind,
		DelayLoop: defaultDelayLoop,
	}}
	v.vs.Addr, v.vs.Port = decodeAddrPort(d, name, n)
	if n.Block == nil {
		d.errorf(n.Key.Pos, "%s: want a { block } of real_server and options", name)
		return
	}
	virtualServerSchema.decode(d, name, n.Block.Nodes, v)
	if v.vs.Protocol == "" {
		if len(d.errs) == nerr {
			d.warnf(n.Key.Pos, "%s: no protocol line; using UDP, keepalived's default", name)
		}
		// IPVS takes protocol 0 as UDP, so keepalived sets UDP and says so; a TCP default
		// would turn the same file into different services.
		v.vs.Protocol = ProtocolUDP
	}
	if v.vs.Addr.IsValid() {
		k := serviceKey{v.vs.Addr.Unmap(), v.vs.Port, v.vs.Protocol}
		if first, dup := cfg.seen[k]; dup {
			d.errorf(n.Key.Pos, "%s: duplicate of %s at %s", name, v.vs.Key(), first)
		} else {
			cfg.seen[k] = n.Key.Pos
		}
	}
	if len(d.errs) > nerr {
		return
	}
	if len(v.reals) == 0 {
		// keepalived drops such a virtual server too ("has no real servers - ignoring").
		d.warnf(n.Key.Pos, "%s: no real_server; ignored", name)
		return
	}
	for _, r := range v.reals {
		if !r.weightSet {
			r.rs.Weight = v.weight
		}
		switch {
		case r.rs.Port == 0:
			r.rs.Port = v.vs.Port
		case v.vs.Kind != KindNAT && r.rs.Port != v.vs.Port:
			// Only NAT rewrites the port; keepalived resets it likewise.
			d.warnf(r.rs.Pos, "%s: port %d differs from the virtual server's with lb_kind %s; using %d",
				r.name, r.rs.Port, v.vs.Kind, v.vs.Port)
			r.rs.Port = v.vs.Port
		}
		v.vs.Reals = append(v.vs.Reals, r.rs)
	}
	cfg.cfg.VirtualServers = append(cfg.cfg.VirtualServers, v.vs)
}

// serviceKey is what makes a virtual server unique: keepalived and IPVS key services by
// address, port and protocol.
type serviceKey struct {
	addr  netip.Addr
	port  uint16
	proto Protocol
}

// decodeAddrPort reads the "IP [PORT]" arguments of a virtual_server or real_server line.
// A missing port is 0, as keepalived allows.
func decodeAddrPort(d *decoder, name string, n *node) (netip.Addr, uint16) {
	var (
		addr netip.Addr
		port uint16
		ok   bool
	)
	a := n.Args[0]
	if addr, ok = parseAddr(a.Text); !ok {
		d.errorf(a.Pos, "%s: address %q: want an IPv4 or IPv6 address", name, a.Text)
	}
	if len(n.Args) > 1 {
		p := n.Args[1]
		if port, ok = parsePort(p.Text); !ok {
			d.errorf(p.Pos, "%s: port %q: want 0..65535", name, p.Text)
		}
	}
	if len(n.Args) > 2 {
		d.errorf(n.Args[2].Pos, "%s: unexpected argument %q", name, n.Args[2].Text)
	}
	return addr, port
}

// decodeRealServer decodes "real_server IP [PORT] { ... }" into the virtual server.
func decodeRealServer(d *decoder, n *node, v *vsDraft) {
	name := v.name + ": " + n.String()
	if len(n.Args) == 0 {
		d.errorf(n.Key.Pos, "%s: real_server: want an address and port", v.name)
		d.check(realServerWords, n)
		return
	}
	r := &rsDraft{name: name, rs: RealServer{Pos: n.Key.Pos}}
	r.rs.Addr, r.rs.Port = decodeAddrPort(d, name, n)
	if n.Block == nil {
		// keepalived wants the block even when it is empty.
		d.errorf(n.Key.Pos, "%s: want a { block }, even an empty one", name)
		return
	}
	realServerSchema.decode(d, n.String(), n.Block.Nodes, r)
	for _, o := range v.reals {
		if o.rs.Addr.IsValid() && o.rs.Addr.Unmap() == r.rs.Addr.Unmap() && o.rs.Port == r.rs.Port {
			d.errorf(n.Key.Pos, "%s: duplicate real_server, first at %s", name, o.rs.Pos)
			return
		}
	}
	v.reals = append(v.reals, *r)
}

// value returns the single argument of a one-value keyword, reporting a missing value,
// extra arguments or a block. item names the enclosing block for messages.
func value(d *decoder, item string, n *node) (token, bool) {
	ok := true
	if n.Block != nil {
		d.errorf(n.Block.Open, "%s: %s takes no block", item, n.Key.Text)
		ok = false
	}
	switch {
	case len(n.Args) == 0:
		d.errorf(n.Key.Pos, "%s: %s: missing value", item, n.Key.Text)
		return token{}, false
	case len(n.Args) > 1:
		d.errorf(n.Args[1].Pos, "%s: %s: unexpected argument %q", item, n.Key.Text, n.Args[1].Text)
		ok = false
	}
	return n.Args[0], ok
}

func decodeDelayLoop(d *decoder, n *node, v *vsDraft) {
	t, ok := value(d, v.name, n)
	if !ok {
		return
	}
	dl, ok := parseSeconds(t.Text)
	if !ok {
		d.errorf(t.Pos, "%s: %s %q: want seconds, at least 0.000001, at most 6 decimal places", v.name, n.Key.Text, t.Text)
		return
	}
	v.vs.DelayLoop = dl
}

func decodeScheduler(d *decoder, n *node, v *vsDraft) {
	t, ok := value(d, v.name, n)
	if !ok {
		return
	}
	for _, s := range schedulers {
		if t.Text == string(s) {
			v.vs.Scheduler = s
			return
		}
	}
	names := make([]string, len(schedulers))
	for i, s := range schedulers {
		names[i] = string(s)
	}
	d.errorf(t.Pos, "%s: %s %q: unknown scheduler (want one of %s)", v.name, n.Key.Text, t.Text, strings.Join(names, ", "))
}

func decodeKind(d *decoder, n *node, v *vsDraft) {
	if len(n.Args) > 1 && n.Args[0].Text == string(KindTUN) {
		// keepalived reads "TUN type gue port N [csum]" here.
		d.errorf(n.Args[1].Pos, "%s: %s: tunnel options are not supported by xlb yet", v.name, n.String())
		return
	}
	t, ok := value(d, v.name, n)
	if !ok {
		return
	}
	switch k := Kind(t.Text); k {
	case KindNAT, KindDR, KindTUN:
		v.vs.Kind = k
	default:
		d.errorf(t.Pos, "%s: %s %q: want NAT, DR or TUN", v.name, n.Key.Text, t.Text)
	}
}

func decodeProtocol(d *decoder, n *node, v *vsDraft) {
	t, ok := value(d, v.name, n)
	if !ok {
		return
	}
	switch strings.ToUpper(t.Text) {
	case "TCP":
		v.vs.Protocol = ProtocolTCP
	case "UDP":
		v.vs.Protocol = ProtocolUDP
	case "SCTP":
		d.errorf(t.Pos, "%s: protocol %q: not supported by xlb yet", v.name, t.Text)
	default:
		d.errorf(t.Pos, "%s: protocol %q: want TCP or UDP", v.name, t.Text)
	}
}

// decodeDefaultWeight reads the virtual server's "weight": the weight of its reals that set
// none. keepalived wants it at least 1.
func decodeDefaultWeight(d *decoder, n *node, v *vsDraft) {
	t, ok := value(d, v.name, n)
	if !ok {
		return
	}
	w, ok := parseUint(t.Text, maxWeight)
	if !ok || w < 1 {
		d.errorf(t.Pos, "%s: weight %q: want 1..%d", v.name, t.Text, maxWeight)
		return
	}
	v.weight = int(w)
}

func decodeWeight(d *decoder, n *node, r *rsDraft) {
	t, ok := value(d, r.name, n)
	if !ok {
		return
	}
	w, ok := parseUint(t.Text, maxWeight)
	if !ok {
		d.errorf(t.Pos, "%s: weight %q: want 0..%d", r.name, t.Text, maxWeight)
		return
	}
	r.rs.Weight, r.weightSet = int(w), true
}
