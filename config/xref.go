package config

import "net/netip"

// crossCheck reports references between blocks that lead nowhere and clashes between
// blocks, once every block is decoded (keepalived allows a reference before the
// definition).
func crossCheck(d *decoder, cfg *Config) {
	scripts := uniqueNames(d, "vrrp_script", cfg.Scripts, func(s Script) (string, Pos) { return s.Name, s.Pos })
	files := uniqueNames(d, "vrrp_track_file", cfg.TrackFiles, func(t TrackFile) (string, Pos) { return t.Name, t.Pos })
	instances := uniqueNames(d, "vrrp_instance", cfg.Instances, func(i Instance) (string, Pos) { return i.Name, i.Pos })
	uniqueNames(d, "vrrp_sync_group", cfg.SyncGroups, func(g SyncGroup) (string, Pos) { return g.Name, g.Pos })
	processes := uniqueNames(d, "vrrp_track_process", cfg.TrackProcesses, func(p TrackProcess) (string, Pos) { return p.Name, p.Pos })
	bfds := uniqueNames(d, "bfd_instance", cfg.BFDInstances, func(b BFDInstance) (string, Pos) { return b.Name, b.Pos })

	refs := func(owner string, list []Track, kind string, known map[string]Pos) {
		for _, t := range list {
			if _, ok := known[t.Name]; ok {
				continue
			}
			if s, ok := suggestName(known, t.Name); ok {
				d.errorf(t.Pos, "%s: %s: no %s %s; did you mean %s?", owner, t.Name, kind, t.Name, s)
				continue
			}
			d.errorf(t.Pos, "%s: %s: no %s %s", owner, t.Name, kind, t.Name)
		}
	}
	for _, i := range cfg.Instances {
		owner := "vrrp_instance " + i.Name
		refs(owner+": track_script", i.TrackScripts, "vrrp_script", scripts)
		refs(owner+": track_file", i.TrackFiles, "vrrp_track_file", files)
		refs(owner+": track_process", i.TrackProcesses, "vrrp_track_process", processes)
		refs(owner+": track_bfd", i.TrackBFDs, "bfd_instance", bfds)
	}

	member := make(map[string]string) // instance → its sync group
	for _, g := range cfg.SyncGroups {
		owner := "vrrp_sync_group " + g.Name
		refs(owner+": track_script", g.TrackScripts, "vrrp_script", scripts)
		refs(owner+": track_file", g.TrackFiles, "vrrp_track_file", files)
		refs(owner+": track_process", g.TrackProcesses, "vrrp_track_process", processes)
		refs(owner+": track_bfd", g.TrackBFDs, "bfd_instance", bfds)
		for _, name := range g.Group {
			if _, ok := instances[name]; !ok {
				if s, ok := suggestName(instances, name); ok {
					d.errorf(g.Pos, "%s: group: no vrrp_instance %s; did you mean %s?", owner, name, s)
				} else {
					d.errorf(g.Pos, "%s: group: no vrrp_instance %s", owner, name)
				}
				continue
			}
			if other, ok := member[name]; ok {
				d.errorf(g.Pos, "%s: vrrp_instance %s is already in vrrp_sync_group %s", owner, name, other)
				continue
			}
			member[name] = g.Name
		}
	}

	groups := uniqueNames(d, "track_group", cfg.TrackGroups, func(g TrackGroup) (string, Pos) { return g.Name, g.Pos })
	for _, g := range cfg.TrackGroups {
		for _, name := range g.Group {
			nameRef(d, g.Pos, "track_group "+g.Name+": group", "vrrp_instance", name, instances)
		}
	}
	// A static line follows a track_group's instances ("... track_group NAME"); the
	// line keeps the words as written, so the reference is found among them.
	trackGroupRef := func(what string, pos Pos, opts []string) {
		for k, o := range opts {
			if o == "track_group" && k+1 < len(opts) {
				nameRef(d, pos, what+": track_group", "track_group", opts[k+1], groups)
			}
		}
	}
	for _, a := range cfg.StaticAddresses {
		trackGroupRef("static_ipaddress "+a.Prefix.String(), a.Pos, a.Options)
	}
	for _, r := range cfg.StaticRoutes {
		trackGroupRef("static_routes "+r.To.String(), r.Pos, r.Options)
	}
	for _, r := range cfg.StaticRules {
		trackGroupRef("static_rules", r.Pos, r.Options)
	}

	// Two instances with one VRID on one interface would answer each other's adverts
	// (RFC 5798 section 5.2.3: the VRID names the router on the LAN). IPv4 and IPv6
	// instances are separate routers.
	type routerKey struct {
		iface string
		vrid  int
		v6    bool
	}
	routers := make(map[routerKey]Instance)
	for _, i := range cfg.Instances {
		if i.VRID == 0 {
			continue
		}
		k := routerKey{i.Interface, i.VRID, i.NativeIPv6 || len(i.VirtualIPs) > 0 && i.VirtualIPs[0].Prefix.Addr().Is6()}
		if first, dup := routers[k]; dup {
			d.errorf(i.Pos, "vrrp_instance %s: virtual_router_id %d on interface %q is taken by vrrp_instance %s at %s",
				i.Name, i.VRID, i.Interface, first.Name, first.Pos)
			continue
		}
		routers[k] = i
	}

	checkBFDSessions(d, cfg.BFDInstances)
	checkGarpGroups(d, cfg.GarpGroups)
	checkLVSSyncDaemon(d, cfg, instances)
	checkCheckerRefs(d, cfg, files, bfds)
}

// nameRef reports name as missing from known, with a suggestion when one is close. what
// names the referring item, kind the kind of block it names.
func nameRef(d *decoder, pos Pos, what, kind, name string, known map[string]Pos) bool {
	if _, ok := known[name]; ok {
		return true
	}
	if s, ok := suggestName(known, name); ok {
		d.errorf(pos, "%s: no %s %s; did you mean %s?", what, kind, name, s)
		return false
	}
	d.errorf(pos, "%s: no %s %s", what, kind, name)
	return false
}

// checkBFDSessions reports two bfd_instances for one session: keepalived tells sessions
// apart by neighbor, source and multihop, so the second would never see a packet.
func checkBFDSessions(d *decoder, list []BFDInstance) {
	type session struct {
		neighbor, source netip.Addr
		multihop         bool
	}
	seen := make(map[session]BFDInstance, len(list))
	for _, b := range list {
		if !b.Neighbor.IsValid() {
			continue // reported where it is written
		}
		k := session{b.Neighbor, b.Source, b.Multihop}
		if first, dup := seen[k]; dup {
			d.errorf(b.Pos, "bfd_instance %s: neighbor_ip %s is the session of bfd_instance %s at %s", b.Name, b.Neighbor, first.Name, first.Pos)
			continue
		}
		seen[k] = b
	}
}

// checkGarpGroups reports an interface in two garp_groups, whose paces would conflict
// (keepalived keeps the first).
func checkGarpGroups(d *decoder, list []GarpGroup) {
	owner := make(map[string]Pos)
	for _, g := range list {
		ifaces := g.Interfaces
		if g.Interface != "" {
			ifaces = []string{g.Interface}
		}
		for _, ifname := range ifaces {
			if first, dup := owner[ifname]; dup {
				d.errorf(g.Pos, "garp_group: interface %s is already in the garp_group at %s", ifname, first)
				continue
			}
			owner[ifname] = g.Pos
		}
	}
}

// checkLVSSyncDaemon checks the instance lvs_sync_daemon names and folds the deprecated
// lvs_sync_daemon_interface of instances into Global.LVSSyncDaemon, as keepalived does:
// the first one counts when global_defs sets none, the others are ignored (warning).
func checkLVSSyncDaemon(d *decoder, cfg *Config, instances map[string]Pos) {
	for _, i := range cfg.Instances {
		if i.LVSSyncDaemonInterface == "" {
			continue
		}
		if s := cfg.Global.LVSSyncDaemon; s != nil {
			d.warnf(i.Pos, "vrrp_instance %s: lvs_sync_daemon_interface %s is ignored: lvs_sync_daemon is %s, set at %s",
				i.Name, i.LVSSyncDaemonInterface, s.Interface, s.Pos)
			continue
		}
		cfg.Global.LVSSyncDaemon = &LVSSyncDaemon{Pos: i.Pos, Interface: i.LVSSyncDaemonInterface, Instance: i.Name}
	}
	if s := cfg.Global.LVSSyncDaemon; s != nil && s.Instance != "" {
		nameRef(d, s.Pos, "global_defs: lvs_sync_daemon", "vrrp_instance", s.Instance, instances)
	}
}

// checkCheckerRefs checks the names FILE_CHECK and BFD_CHECK give, once per checker as
// written (a group's services share them), and gives a FILE_CHECK without weight its
// track file's.
func checkCheckerRefs(d *decoder, cfg *Config, files, bfds map[string]Pos) {
	byName := make(map[string]TrackFile, len(cfg.TrackFiles))
	for _, t := range cfg.TrackFiles {
		if _, dup := byName[t.Name]; !dup {
			byName[t.Name] = t
		}
	}
	reported := make(map[Pos]bool)
	check := func(vs []VirtualServer) {
		for i := range vs {
			for j := range vs[i].Reals {
				rs := &vs[i].Reals[j]
				for k := range rs.Checkers {
					c := &rs.Checkers[k]
					// Built only for a message: there are thousands of checkers.
					what := func() string {
						return "real_server " + netip.AddrPortFrom(rs.Addr, rs.Port).String() + ": " + string(c.Type)
					}
					switch c.Type {
					case CheckFile:
						if t, ok := byName[c.TrackFile]; ok {
							if c.FileWeight == nil {
								w := t.Weight
								c.FileWeight, c.FileReverse = &w, t.Reverse
							}
							continue
						}
						if !reported[c.Pos] {
							nameRef(d, c.Pos, what()+": track_file", "vrrp_track_file or track_file", c.TrackFile, files)
							reported[c.Pos] = true
						}
					case CheckBFD:
						if _, ok := bfds[c.BFD]; !ok && !reported[c.Pos] {
							nameRef(d, c.Pos, what()+": name", "bfd_instance", c.BFD, bfds)
							reported[c.Pos] = true
						}
					}
				}
			}
		}
	}
	check(cfg.VirtualServers)
	check(cfg.FwmarkServers)
}

// uniqueNames maps the names of list to their positions, reporting a name defined twice.
func uniqueNames[T any](d *decoder, kind string, list []T, key func(T) (string, Pos)) map[string]Pos {
	m := make(map[string]Pos, len(list))
	for _, v := range list {
		name, pos := key(v)
		if first, dup := m[name]; dup {
			d.errorf(pos, "%s %s: defined twice, first at %s", kind, name, first)
			continue
		}
		m[name] = pos
	}
	return m
}
