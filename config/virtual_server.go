package config

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
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

// defaults returns the checker defaults written in the virtual server, making them.
func (v *vsDraft) defaults() *Checker {
	if v.checks == nil {
		v.checks = &Checker{}
	}
	return v.checks
}

// defaults returns the checker defaults written in the real server, making them.
func (r *rsDraft) defaults() *Checker {
	if r.checks == nil {
		r.checks = &Checker{}
	}
	return r.checks
}

// vsDraft is a virtual server being decoded, with what its reals inherit.
type vsDraft struct {
	vs     VirtualServer
	name   string // "virtual_server 198.18.0.100 80", as written, for messages
	weight int    // the virtual server's "weight": the default of its reals
	reals  []*rsDraft
	bad    bool // had errors: only its address is used, to find duplicates
	// checks holds the checker settings written in the virtual server, defaults of its
	// reals' checkers (keepalived 2.x), nil when there is none (a Checker is large, and
	// a large configuration has thousands); inhibit the reals' inhibit_on_failure default.
	checks  *Checker
	inhibit bool
	// tunnelSourceAt is where tunnel_source was written, for its errors.
	tunnelSourceAt Pos
}

// rsDraft is a real server being decoded.
type rsDraft struct {
	rs         RealServer
	name       string // "virtual_server ...: real_server 198.18.0.1 80"
	weightSet  bool
	inhibitSet bool
	checks     *Checker // checker settings written in the real server: defaults of its checkers; nil: none
}

var virtualServerSchema = &schema[vsDraft]{
	words: virtualServerWords,
	fields: map[string]field[vsDraft]{
		"delay_loop":       decodeDelayLoop,
		"lb_algo":          decodeScheduler,
		"lvs_sched":        decodeScheduler,
		"tunnel_source":    decodeTunnelSource,
		"lb_kind":          kindField(func(v *vsDraft) *Kind { return &v.vs.Kind }, func(v *vsDraft) **Tunnel { return &v.vs.Tunnel }),
		"lvs_method":       kindField(func(v *vsDraft) *Kind { return &v.vs.Kind }, func(v *vsDraft) **Tunnel { return &v.vs.Tunnel }),
		"protocol":         decodeProtocol,
		"weight":           decodeDefaultWeight,
		"laddr_group_name": decodeLaddrGroupName,
		"real_server":      decodeRealServer,

		"persistence_timeout":     decodePersistenceTimeout,
		"persistence_granularity": decodePersistenceGranularity,
		"ha_suspend":              flagField(func(v *vsDraft) *bool { return &v.vs.HASuspend }),
		"ops":                     flagField(func(v *vsDraft) *bool { return &v.vs.OPS }),
		"alpha":                   flagField(func(v *vsDraft) *bool { return &v.vs.Alpha }),
		"omega":                   flagField(func(v *vsDraft) *bool { return &v.vs.Omega }),
		"quorum":                  intField(func(v *vsDraft) *int { return &v.vs.Quorum }, 1, maxWeight),
		"hysteresis":              intField(func(v *vsDraft) *int { return &v.vs.Hysteresis }, 0, maxWeight),
		"quorum_up":               commandField(func(v *vsDraft) *string { return &v.vs.QuorumUp }),
		"quorum_down":             commandField(func(v *vsDraft) *string { return &v.vs.QuorumDown }),
		"sorry_server":            decodeSorryServer,
		"sorry_server_inhibit":    flagField(func(v *vsDraft) *bool { return &v.vs.SorryServerInhibit }),
		"virtualhost":             stringField(func(v *vsDraft) *string { return &v.vs.VirtualHost }),
		"sorry_server_lvs_method": kindField(func(v *vsDraft) *Kind { return &v.vs.SorryServerKind }, func(v *vsDraft) **Tunnel { return &v.vs.SorryServerTunnel }),
		"ip_family":               enumField(func(v *vsDraft) *string { return &v.vs.IPFamily }, "inet", "inet6"),
		"hashed":                  schedFlagField,
		"flag-1":                  schedFlagField,
		"flag-2":                  schedFlagField,
		"flag-3":                  schedFlagField,
		"sh-port":                 schedFlagField,
		"sh-fallback":             schedFlagField,
		"mh-port":                 schedFlagField,
		"mh-fallback":             schedFlagField,
		"persistence_engine":      stringField(func(v *vsDraft) *string { return &v.vs.PersistenceEngine }),
		"smtp_alert":              flagField(func(v *vsDraft) *bool { return &v.vs.SMTPAlert }),
		"snmp_name":               stringField(func(v *vsDraft) *string { return &v.vs.SNMPName }),

		// Defaults of the checkers of every real (keepalived 2.x).
		"connect_timeout":    secondsField(func(v *vsDraft) *time.Duration { return &v.defaults().ConnectTimeout }, false),
		"retry":              intField(func(v *vsDraft) *int { return &v.defaults().Retry }, 0, 1<<30),
		"delay_before_retry": secondsField(func(v *vsDraft) *time.Duration { return &v.defaults().DelayBeforeRetry }, true),
		"warmup":             secondsField(func(v *vsDraft) *time.Duration { return &v.defaults().Warmup }, true),
		"inhibit_on_failure": flagField(func(v *vsDraft) *bool { return &v.inhibit }),
	},
}

var realServerSchema = &schema[rsDraft]{
	words: realServerWords,
	fields: map[string]field[rsDraft]{
		"weight": decodeWeight,
		"inhibit_on_failure": func(d *decoder, n *node, r *rsDraft) {
			flagField(func(r *rsDraft) *bool { return &r.rs.InhibitOnFailure })(d, n, r)
			r.inhibitSet = true
		},
		// Defaults of this real's checkers (keepalived 2.x).
		"connect_timeout":    secondsField(func(r *rsDraft) *time.Duration { return &r.defaults().ConnectTimeout }, false),
		"retry":              intField(func(r *rsDraft) *int { return &r.defaults().Retry }, 0, 1<<30),
		"delay_before_retry": secondsField(func(r *rsDraft) *time.Duration { return &r.defaults().DelayBeforeRetry }, true),
		"warmup":             secondsField(func(r *rsDraft) *time.Duration { return &r.defaults().Warmup }, true),
		"delay_loop":         secondsField(func(r *rsDraft) *time.Duration { return &r.defaults().DelayLoop }, false),
		"alpha":              flagField(func(r *rsDraft) *bool { return &r.defaults().Alpha }),
		"virtualhost":        stringField(func(r *rsDraft) *string { return &r.defaults().VirtualHost }),
		"notify_up":          commandField(func(r *rsDraft) *string { return &r.rs.NotifyUp }),
		"notify_down":        commandField(func(r *rsDraft) *string { return &r.rs.NotifyDown }),
		"lvs_method":         kindField(func(r *rsDraft) *Kind { return &r.rs.Kind }, func(r *rsDraft) **Tunnel { return &r.rs.Tunnel }),
		"uthreshold":         uint32Field(func(r *rsDraft) *uint32 { return &r.rs.UThreshold }),
		"lthreshold":         uint32Field(func(r *rsDraft) *uint32 { return &r.rs.LThreshold }),
		"smtp_alert":         flagField(func(r *rsDraft) *bool { return &r.rs.SMTPAlert }),
		"snmp_name":          stringField(func(r *rsDraft) *string { return &r.rs.SNMPName }),
		"HTTP_GET":           checkerField(CheckHTTP),
		"SSL_GET":            checkerField(CheckSSL),
		"TCP_CHECK":          checkerField(CheckTCP),
		"SMTP_CHECK":         checkerField(CheckSMTP),
		"MISC_CHECK":         checkerField(CheckMisc),
		"DNS_CHECK":          checkerField(CheckDNS),
		"UDP_CHECK":          checkerField(CheckUDP),
		"PING_CHECK":         checkerField(CheckPing),
		"FILE_CHECK":         checkerField(CheckFile),
		"BFD_CHECK":          checkerField(CheckBFD),
	},
}

// decodeVirtualServer decodes "virtual_server IP [PORT] { ... }" (or "fwmark N", "group
// NAME") into a draft that finishServers turns into services once every group is known.
// A virtual server with errors is left out but its block is still decoded, so that one
// reload reports every mistake.
func decodeVirtualServer(d *decoder, n *node, cfg *configDraft) {
	name := n.String()
	if len(n.Args) == 0 {
		d.errorf(n.Key.Pos, "virtual_server: want an address and port, \"fwmark N\" or \"group NAME\"")
		d.check(virtualServerWords, n)
		return
	}
	nerr := len(d.errs)
	v := &vsDraft{name: name, weight: defaultWeight, vs: VirtualServer{
		Pos:       n.Key.Pos,
		Scheduler: defaultScheduler,
		Kind:      defaultKind,
		DelayLoop: defaultDelayLoop,
		Quorum:    1,
	}}
	switch n.Args[0].Text {
	case "fwmark":
		m, ok := uint64(0), len(n.Args) == 2
		if ok {
			m, ok = parseUint(n.Args[1].Text, math.MaxUint32)
		}
		if !ok || m == 0 {
			d.errorf(n.Key.Pos, "%s: want fwmark N, N in 1..%d", name, uint32(math.MaxUint32))
		}
		v.vs.Fwmark = uint32(m)
	case "group":
		if len(n.Args) != 2 {
			d.errorf(n.Key.Pos, "%s: want group NAME", name)
		} else {
			v.vs.Group = n.Args[1].Text
		}
	default:
		v.vs.Addr, v.vs.Port = decodeAddrPort(d, name, n)
	}
	if n.Block == nil {
		d.errorf(n.Key.Pos, "%s: want a { block } of real_server and options", name)
		return
	}
	virtualServerSchema.decode(d, name, n.Block.Nodes, v)
	if f := v.vs.IPFamily; f != "" && v.vs.Addr.IsValid() && v.vs.Addr.Unmap().Is4() != (f == "inet") {
		d.errorf(n.Key.Pos, "%s: ip_family %s: the address is of the other family", name, f)
	}
	switch {
	case v.vs.Fwmark != 0:
		// IPVS keys a fwmark service by the mark alone; keepalived says the same.
		if v.vs.Protocol != "" {
			d.warnf(n.Key.Pos, "%s: protocol is ignored for a fwmark service, as in keepalived", name)
		}
		v.vs.Protocol = ""
	case v.vs.Protocol == "":
		if len(d.errs) == nerr {
			d.warnf(n.Key.Pos, "%s: no protocol line; using UDP, keepalived's default", name)
		}
		// IPVS takes protocol 0 as UDP, so keepalived sets UDP and says so; a TCP default
		// would turn the same file into different services.
		v.vs.Protocol = ProtocolUDP
	}
	persistenceFixups(d, n.Key.Pos, name, v, len(d.errs) > nerr)
	// A virtual server with errors still takes its address, so that a duplicate of it is
	// reported in the same run.
	v.bad = len(d.errs) > nerr
	cfg.servers = append(cfg.servers, v)
}

// finishServers turns the virtual server drafts into services in file order: a group
// is expanded into one service per address, fwmark services go to FwmarkServers, and
// duplicates and virtual servers without reals are reported.
func finishServers(d *decoder, cfg *configDraft) {
	groups := make(map[string]*ServerGroup, len(cfg.cfg.ServerGroups))
	for i := range cfg.cfg.ServerGroups {
		g := &cfg.cfg.ServerGroups[i]
		if first, dup := groups[g.Name]; dup {
			d.errorf(g.Pos, "virtual_server_group %s: defined twice, first at %s", g.Name, first.Pos)
			continue
		}
		groups[g.Name] = g
	}
	seen := make(map[serviceKey]Pos)
	add := func(v *vsDraft, addr netip.Addr, port uint16, warn bool) {
		if !addr.IsValid() {
			return
		}
		k := serviceKey{addr.Unmap(), port, v.vs.Protocol}
		if first, dup := seen[k]; dup {
			key := VirtualServer{Addr: addr, Port: port, Protocol: v.vs.Protocol}.Key()
			d.errorf(v.vs.Pos, "%s: duplicate of %s at %s", v.name, key, first)
			return
		}
		seen[k] = v.vs.Pos
		if v.bad {
			return
		}
		if len(v.reals) == 0 {
			if warn {
				// keepalived drops such a virtual server too ("has no real servers - ignoring").
				d.warnf(v.vs.Pos, "%s: no real_server; ignored", v.name)
			}
			return
		}
		cfg.cfg.VirtualServers = append(cfg.cfg.VirtualServers, v.resolve(d, addr, port, warn))
	}
	for _, v := range cfg.servers {
		switch {
		case v.bad && v.vs.Addr.IsValid():
			add(v, v.vs.Addr, v.vs.Port, false)
		case v.bad:
		case v.vs.Fwmark != 0:
			d.warnf(v.vs.Pos, "%s: the XDP backend cannot see firewall marks; xlbd refuses this file unless it runs the IPVS backend", v.name)
			if len(v.reals) > 0 {
				cfg.cfg.FwmarkServers = append(cfg.cfg.FwmarkServers, v.resolve(d, netip.Addr{}, 0, true))
			}
		case v.vs.Group != "":
			g, ok := groups[v.vs.Group]
			if !ok {
				if s, ok := suggestName(groups, v.vs.Group); ok {
					d.errorf(v.vs.Pos, "%s: no virtual_server_group %s; did you mean %s?", v.name, v.vs.Group, s)
				} else {
					d.errorf(v.vs.Pos, "%s: no virtual_server_group %s", v.name, v.vs.Group)
				}
				continue
			}
			if v.vs.PersistenceTimeout == 0 && slices.ContainsFunc(g.Addrs, func(e GroupEntry) bool { return e.Port == 0 }) {
				// As keepalived: a group with a port-0 entry makes its services persistent.
				d.warnf(v.vs.Pos, "%s: virtual_server_group %s has a port 0 entry, which is only valid for persistent services; persistence_timeout %d set, as keepalived does",
					v.name, g.Name, int(defaultPersistence/time.Second))
				v.vs.PersistenceTimeout = defaultPersistence
			}
			for i, e := range g.Addrs {
				add(v, e.Addr, e.Port, i == 0)
			}
			if len(g.Fwmarks) > 0 {
				d.warnf(v.vs.Pos, "%s: virtual_server_group %s has fwmark entries: the XDP backend cannot see firewall marks; xlbd refuses this file unless it runs the IPVS backend", v.name, g.Name)
			}
			for _, m := range g.Fwmarks {
				vs := v.resolve(d, netip.Addr{}, 0, false)
				vs.Fwmark, vs.Protocol = m, ""
				if len(vs.Reals) > 0 {
					cfg.cfg.FwmarkServers = append(cfg.cfg.FwmarkServers, vs)
				}
			}
		default:
			add(v, v.vs.Addr, v.vs.Port, true)
		}
	}
}

// resolve makes the service of a draft at one address and port: reals get the virtual
// server's weight when they set none, and its port when they set none or when only NAT
// could change the port. warn reports the port fix (once for a group).
func (v *vsDraft) resolve(d *decoder, addr netip.Addr, port uint16, warn bool) VirtualServer {
	vs := v.vs
	vs.Addr, vs.Port = addr, port
	vs.Reals = make([]RealServer, 0, len(v.reals))
	for _, r := range v.reals {
		rs := r.rs // the draft serves every address of a group
		if !r.weightSet {
			rs.Weight = v.weight
		}
		if !r.inhibitSet {
			rs.InhibitOnFailure = v.inhibit
		}
		// Each service gets its own checkers: a group's services must not share them.
		rs.Checkers = slices.Clone(rs.Checkers)
		for i := range rs.Checkers {
			if r.checks != nil {
				inheritChecks(&rs.Checkers[i], r.checks)
			}
			if v.checks != nil {
				inheritChecks(&rs.Checkers[i], v.checks)
			}
		}
		switch {
		case rs.Port == 0:
			rs.Port = port
		case vs.Kind != KindNAT && vs.Kind != KindFNAT && vs.Fwmark == 0 && rs.Port != port:
			// Only NAT (and FNAT) rewrites the port; keepalived resets it likewise.
			if warn {
				d.warnf(rs.Pos, "%s: port %d differs from the virtual server's with lb_kind %s; using %d",
					r.name, rs.Port, vs.Kind, port)
			}
			rs.Port = port
		}
		if warn && vs.TunnelSource.IsValid() && vs.Kind == KindTUN && rs.Addr.Unmap().Is4() != vs.TunnelSource.Is4() {
			d.errorf(rs.Pos, "%s: %s is not of tunnel_source %s's family: the outer header needs both of one family",
				r.name, rs.Addr, vs.TunnelSource)
		}
		vs.Reals = append(vs.Reals, rs)
	}
	if warn && vs.TunnelSource.IsValid() && vs.Kind != KindTUN {
		d.errorf(v.tunnelSourceAt, "%s: tunnel_source: only lb_kind TUN has an outer source (this one is %s)", v.name, vs.Kind)
	}
	return vs
}

// decodeTunnelSource reads xlb's "tunnel_source ADDRESS": the outer source
// of lb_kind TUN's packets.
func decodeTunnelSource(d *decoder, n *node, v *vsDraft) {
	addrField(func(v *vsDraft) *netip.Addr { return &v.vs.TunnelSource })(d, n, v)
	v.vs.TunnelSource = v.vs.TunnelSource.Unmap()
	v.tunnelSourceAt = n.Key.Pos
}

// inheritChecks fills the settings c leaves unset from def, keepalived's order being the
// checker, then its real server, then the virtual server. DelayLoop left unset means the
// virtual server's delay_loop. A checker takes only the settings its type has: FILE_CHECK
// none, BFD_CHECK alpha, MISC_CHECK no connection, only HTTP_GET and SSL_GET a virtualhost.
func inheritChecks(c, def *Checker) {
	switch c.Type {
	case CheckFile:
		return
	case CheckBFD:
		c.Alpha = c.Alpha || def.Alpha
		return
	case CheckHTTP, CheckSSL:
		c.VirtualHost = cmp.Or(c.VirtualHost, def.VirtualHost)
	}
	if c.Type.connects() {
		c.ConnectTimeout = cmp.Or(c.ConnectTimeout, def.ConnectTimeout)
	}
	c.Retry = cmp.Or(c.Retry, def.Retry)
	c.DelayBeforeRetry = cmp.Or(c.DelayBeforeRetry, def.DelayBeforeRetry)
	c.Warmup = cmp.Or(c.Warmup, def.Warmup)
	c.DelayLoop = cmp.Or(c.DelayLoop, def.DelayLoop)
	c.Alpha = c.Alpha || def.Alpha
}

// suggestName returns the name in m closest to name, as suggest does for keywords.
func suggestName[V any](m map[string]V, name string) (string, bool) {
	b := &block{words: make(map[string]*block, len(m))}
	for k := range m {
		b.words[k] = nil
	}
	return suggest(b, name)
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
	realServerSchema.decode(d, name, n.Block.Nodes, r)
	d.where = v.name
	for _, o := range v.reals {
		if o.rs.Addr.IsValid() && o.rs.Addr.Unmap() == r.rs.Addr.Unmap() && o.rs.Port == r.rs.Port {
			d.errorf(n.Key.Pos, "%s: duplicate real_server, first at %s", name, o.rs.Pos)
			return
		}
	}
	v.reals = append(v.reals, r)
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

// kindField reads a forwarding method, NAT, DR, TUN or FNAT (the Alibaba LVS fork's full
// NAT), and after TUN keepalived's tunnel
// options (lb_kind, lvs_method, sorry_server_lvs_method).
func kindField[T any](get func(*T) *Kind, tun func(*T) **Tunnel) field[T] {
	return func(d *decoder, n *node, into *T) {
		if len(n.Args) > 1 && n.Args[0].Text == string(KindTUN) {
			if !noBlock(d, n) {
				return
			}
			t, ok := decodeTunnel(d, n)
			if !ok {
				return
			}
			*get(into), *tun(into) = KindTUN, t
			return
		}
		t, ok := value(d, d.where, n)
		if !ok {
			return
		}
		switch k := Kind(t.Text); k {
		case KindNAT, KindDR, KindTUN, KindFNAT:
			*get(into), *tun(into) = k, nil
		default:
			d.errorf(t.Pos, "%s: %s %q: want NAT, DR, TUN or FNAT", d.where, n.Key.Text, t.Text)
		}
	}
}

// decodeTunnel reads the options after TUN: "[type ipip|gue|gre] [port N] [nocsum|csum|
// remcsum]" (check/check_parser.c svr_forwarding_handler). It returns nil for what means
// keepalived's default, a plain IPIP tunnel, so that both spellings dump the same.
func decodeTunnel(d *decoder, n *node) (*Tunnel, bool) {
	t := Tunnel{Type: TunnelIPIP}
	item := d.where + ": " + n.String()
	args := n.Args[1:]
	for k := 0; k < len(args); k++ {
		a := args[k]
		switch a.Text {
		case "type", "port":
			if k+1 == len(args) {
				d.errorf(a.Pos, "%s: %s: missing value", item, a.Text)
				return nil, false
			}
			k++
			v := args[k]
			if a.Text == "port" {
				p, ok := parsePort(v.Text)
				if !ok || p == 0 {
					d.errorf(v.Pos, "%s: port %q: want 1..65535", item, v.Text)
					return nil, false
				}
				t.Port = p
				continue
			}
			switch typ := TunnelType(v.Text); typ {
			case TunnelIPIP, TunnelGUE, TunnelGRE:
				t.Type = typ
			default:
				d.errorf(v.Pos, "%s: type %q: want ipip, gue or gre", item, v.Text)
				return nil, false
			}
		case "nocsum":
			t.Checksum = ""
		case "csum", "remcsum":
			t.Checksum = a.Text
		default:
			d.errorf(a.Pos, "%s: %q: want type ipip|gue|gre, port N, nocsum, csum or remcsum", item, a.Text)
			return nil, false
		}
	}
	switch {
	case (t.Type == TunnelGUE) != (t.Port != 0):
		d.errorf(args[0].Pos, "%s: a gue tunnel needs a port, and only gue takes one", item)
		return nil, false
	case t.Type == TunnelIPIP && t.Checksum != "":
		d.errorf(args[0].Pos, "%s: ipip tunnels have no checksum option", item)
		return nil, false
	case t.Type == TunnelGRE && t.Checksum == "remcsum":
		d.errorf(args[0].Pos, "%s: gre tunnels have no remcsum option", item)
		return nil, false
	case t.Type == TunnelIPIP:
		return nil, true
	}
	// The XDP backend encapsulates in IPIP (bpf/encap.h): a real expecting GUE or GRE
	// would drop what it gets.
	d.warnf(n.Key.Pos, "%s: parsed, but xlb does not act on it yet (the XDP backend tunnels with IPIP only)", item)
	return &t, true
}

// uint32Field stores a number in 0..4294967295.
func uint32Field[T any](get func(*T) *uint32) field[T] {
	return func(d *decoder, n *node, into *T) {
		t, ok := value(d, d.where, n)
		if !ok {
			return
		}
		v, ok := parseUint(t.Text, math.MaxUint32)
		if !ok {
			d.errorf(t.Pos, "%s: %s %q: want 0..%d", d.where, n.Key.Text, t.Text, uint32(math.MaxUint32))
			return
		}
		*get(into) = uint32(v)
	}
}

// schedFlagField records an IPVS scheduler flag (hashed, sh-port, mh-fallback, ...).
func schedFlagField(d *decoder, n *node, v *vsDraft) {
	if !noBlock(d, n) {
		return
	}
	if len(n.Args) > 0 {
		d.errorf(n.Args[0].Pos, "%s: %s: unexpected argument %q", d.where, n.Key.Text, n.Args[0].Text)
		return
	}
	if !slices.Contains(v.vs.SchedFlags, n.Key.Text) {
		v.vs.SchedFlags = append(v.vs.SchedFlags, n.Key.Text)
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

// defaultPersistence is keepalived's persistence_timeout when persistence is
// asked for without one (IPVS_SVC_PERSISTENT_TIMEOUT).
const defaultPersistence = 360 * time.Second

// persistenceFixups corrects what keepalived corrects, with a warning at the
// virtual server's line (pos): ops on a service that is not UDP is reset
// (IPVS's one-packet scheduling is for UDP only), a port-0 (all ports)
// service without persistence gets the default persistence_timeout (IPVS
// serves port 0 only for persistent services), and
// persistence_granularity alone implies the default persistence_timeout
// (silently, as in keepalived). bad says the virtual server has errors (its
// port may be 0 because it did not parse).
func persistenceFixups(d *decoder, pos Pos, name string, v *vsDraft, bad bool) {
	if v.vs.PersistenceGranularity != 0 && v.vs.PersistenceTimeout == 0 {
		v.vs.PersistenceTimeout = defaultPersistence
	}
	if v.vs.Fwmark != 0 {
		return // IPVS allows ops and port 0 with a firewall mark
	}
	if v.vs.OPS && v.vs.Protocol != ProtocolUDP {
		d.warnf(pos, "%s: ops: one-packet scheduling requires protocol UDP; ignored, as keepalived does", name)
		v.vs.OPS = false
	}
	if !bad && v.vs.Group == "" && v.vs.Addr.IsValid() && v.vs.Port == 0 && v.vs.PersistenceTimeout == 0 {
		d.warnf(pos, "%s: port 0 (all ports) is only valid for persistent services; persistence_timeout %d set, as keepalived does",
			name, int(defaultPersistence/time.Second))
		v.vs.PersistenceTimeout = defaultPersistence
	}
}

// decodePersistenceTimeout reads "persistence_timeout [SECONDS]"; alone it means 360s, as
// in keepalived.
func decodePersistenceTimeout(d *decoder, n *node, v *vsDraft) {
	if len(n.Args) == 0 && n.Block == nil {
		v.vs.PersistenceTimeout = defaultPersistence
		return
	}
	t, ok := value(d, v.name, n)
	if !ok {
		return
	}
	s, ok := parseUint(t.Text, math.MaxUint32)
	if !ok || s == 0 {
		d.errorf(t.Pos, "%s: persistence_timeout %q: want whole seconds, 1..%d", v.name, t.Text, uint32(math.MaxUint32))
		return
	}
	v.vs.PersistenceTimeout = time.Duration(s) * time.Second
}

// decodePersistenceGranularity reads an IPv4 netmask ("255.255.255.0") or a prefix length
// (IPv6: "64"), kept as the prefix length.
func decodePersistenceGranularity(d *decoder, n *node, v *vsDraft) {
	t, ok := value(d, v.name, n)
	if !ok {
		return
	}
	if bits, ok := parseUint(t.Text, 128); ok && bits > 0 {
		v.vs.PersistenceGranularity = int(bits)
		return
	}
	if m, ok := parseAddr(t.Text); ok && m.Is4() {
		b := m.As4()
		ones := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		if bits := onesPrefix(ones); bits > 0 {
			v.vs.PersistenceGranularity = bits
			return
		}
	}
	d.errorf(t.Pos, "%s: persistence_granularity %q: want a netmask (255.255.255.0) or a prefix length 1..128", v.name, t.Text)
}

// onesPrefix returns the length of a contiguous netmask, 0 when m is not one.
func onesPrefix(m uint32) int {
	n := 0
	for m&(1<<31) != 0 {
		m <<= 1
		n++
	}
	if m != 0 {
		return 0
	}
	return n
}

// decodeSorryServer reads "sorry_server ADDR PORT".
func decodeSorryServer(d *decoder, n *node, v *vsDraft) {
	if !noBlock(d, n) {
		return
	}
	if len(n.Args) == 0 {
		d.errorf(n.Key.Pos, "%s: sorry_server: want ADDRESS [PORT]", v.name)
		return
	}
	s := &SorryServer{}
	s.Addr, s.Port = decodeAddrPort(d, v.name+": sorry_server", n)
	v.vs.SorryServer = s
}
