package config

// crossCheck reports references between blocks that lead nowhere and clashes between
// blocks, once every block is decoded (keepalived allows a reference before the
// definition).
func crossCheck(d *decoder, cfg *Config) {
	scripts := uniqueNames(d, "vrrp_script", cfg.Scripts, func(s Script) (string, Pos) { return s.Name, s.Pos })
	files := uniqueNames(d, "vrrp_track_file", cfg.TrackFiles, func(t TrackFile) (string, Pos) { return t.Name, t.Pos })
	instances := uniqueNames(d, "vrrp_instance", cfg.Instances, func(i Instance) (string, Pos) { return i.Name, i.Pos })
	uniqueNames(d, "vrrp_sync_group", cfg.SyncGroups, func(g SyncGroup) (string, Pos) { return g.Name, g.Pos })

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
	}

	member := make(map[string]string) // instance → its sync group
	for _, g := range cfg.SyncGroups {
		owner := "vrrp_sync_group " + g.Name
		refs(owner+": track_script", g.TrackScripts, "vrrp_script", scripts)
		refs(owner+": track_file", g.TrackFiles, "vrrp_track_file", files)
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
