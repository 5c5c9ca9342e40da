package config

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// This file decodes global_defs, the static_* blocks and the VRRP blocks. Defaults are
// keepalived's (vrrp/vrrp_data.c alloc_vrrp, vrrp_script defaults).

const (
	defaultPriority     = 100
	defaultAdvertInt    = time.Second
	defaultScriptPeriod = time.Second
	// maxAuthPass is the length of the VRRPv2 authentication data (RFC 3768 section 5.3.10).
	maxAuthPass = 8
	// maxTrackWeight bounds a tracked object's weight so that a priority stays in 1..254.
	maxTrackWeight = 253
)

var globalDefsSchema = &schema[GlobalDefs]{
	words: globalDefsWords,
	fields: withFields(globalMoreFields(), map[string]field[GlobalDefs]{
		"router_id":                       stringField(func(g *GlobalDefs) *string { return &g.RouterID }),
		"notification_email":              listField(func(g *GlobalDefs) *[]string { return &g.NotificationEmail }),
		"notification_email_from":         stringField(func(g *GlobalDefs) *string { return &g.NotificationEmailFrom }),
		"smtp_server":                     decodeSMTPServer,
		"smtp_helo_name":                  stringField(func(g *GlobalDefs) *string { return &g.SMTPHeloName }),
		"smtp_connect_timeout":            secondsField(func(g *GlobalDefs) *time.Duration { return &g.SMTPConnectTimeout }, false),
		"enable_traps":                    flagField(func(g *GlobalDefs) *bool { return &g.EnableTraps }),
		"script_user":                     decodeScriptUser,
		"enable_script_security":          flagField(func(g *GlobalDefs) *bool { return &g.EnableScriptSecurity }),
		"default_interface":               stringField(func(g *GlobalDefs) *string { return &g.DefaultInterface }),
		"vrrp_mcast_group4":               familyAddrField(func(g *GlobalDefs) *netip.Addr { return &g.McastGroup4 }, 4),
		"vrrp_mcast_group6":               familyAddrField(func(g *GlobalDefs) *netip.Addr { return &g.McastGroup6 }, 6),
		"vrrp_version":                    intField(func(g *GlobalDefs) *int { return &g.VRRPVersion }, 2, 3),
		"vrrp_strict":                     flagField(func(g *GlobalDefs) *bool { return &g.VRRPStrict }),
		"vrrp_skip_check_adv_addr":        flagField(func(g *GlobalDefs) *bool { return &g.SkipCheckAdvAddr }),
		"vrrp_garp_master_delay":          secondsField(func(g *GlobalDefs) *time.Duration { return &g.Garp.MasterDelay }, true),
		"vrrp_garp_master_repeat":         intField(func(g *GlobalDefs) *int { return &g.Garp.MasterRepeat }, 1, 1<<16),
		"vrrp_garp_master_refresh":        secondsField(func(g *GlobalDefs) *time.Duration { return &g.Garp.MasterRefresh }, true),
		"vrrp_garp_master_refresh_repeat": intField(func(g *GlobalDefs) *int { return &g.Garp.MasterRefreshRepeat }, 1, 1<<16),
		"vrrp_garp_lower_prio_delay":      secondsField(func(g *GlobalDefs) *time.Duration { return &g.Garp.LowerPrioDelay }, true),
		"vrrp_garp_lower_prio_repeat":     intField(func(g *GlobalDefs) *int { return &g.Garp.LowerPrioRepeat }, 1, 1<<16),
		"vrrp_garp_interval":              secondsField(func(g *GlobalDefs) *time.Duration { return &g.Garp.Interval }, true),
		"vrrp_gna_interval":               secondsField(func(g *GlobalDefs) *time.Duration { return &g.Garp.GNAInterval }, true),
		"lvs_timeouts":                    decodeLVSTimeouts,
		"lvs_sync_daemon":                 decodeLVSSyncDaemon,
	}),
}

// familyAddrField stores an address of one family (4 or 6).
func familyAddrField[T any](get func(*T) *netip.Addr, family int) field[T] {
	return func(d *decoder, n *node, into *T) {
		t, ok := value(d, d.where, n)
		if !ok {
			return
		}
		a, ok := parseAddr(t.Text)
		if !ok || a.Is4() != (family == 4) {
			d.errorf(t.Pos, "%s: %s %q: want an IPv%d address", d.where, n.Key.Text, t.Text, family)
			return
		}
		*get(into) = a
	}
}

func decodeSMTPServer(d *decoder, n *node, g *GlobalDefs) {
	if !noBlock(d, n) || len(n.Args) == 0 || len(n.Args) > 2 {
		d.errorf(n.Key.Pos, "%s: smtp_server: want ADDRESS|NAME [PORT]", d.where)
		return
	}
	g.SMTPServer = n.Args[0].Text
	if len(n.Args) == 2 {
		p, ok := parsePort(n.Args[1].Text)
		if !ok || p == 0 {
			d.errorf(n.Args[1].Pos, "%s: smtp_server port %q: want 1..65535", d.where, n.Args[1].Text)
			return
		}
		g.SMTPPort = p
	}
}

func decodeScriptUser(d *decoder, n *node, g *GlobalDefs) {
	if !noBlock(d, n) || len(n.Args) == 0 || len(n.Args) > 2 {
		d.errorf(n.Key.Pos, "%s: script_user: want USER [GROUP]", d.where)
		return
	}
	g.ScriptUser = n.Args[0].Text
	if len(n.Args) == 2 {
		g.ScriptGroup = n.Args[1].Text
	}
}

// decodeLVSTimeouts reads "lvs_timeouts [tcp T] [tcpfin T] [udp T]".
func decodeLVSTimeouts(d *decoder, n *node, g *GlobalDefs) {
	if !noBlock(d, n) {
		return
	}
	if len(n.Args) == 0 || len(n.Args)%2 != 0 {
		d.errorf(n.Key.Pos, "%s: lvs_timeouts: want pairs of tcp|tcpfin|udp SECONDS", d.where)
		return
	}
	for i := 0; i < len(n.Args); i += 2 {
		k, v := n.Args[i], n.Args[i+1]
		var dst *time.Duration
		switch k.Text {
		case "tcp":
			dst = &g.LVSTimeouts.TCP
		case "tcpfin":
			dst = &g.LVSTimeouts.TCPFin
		case "udp":
			dst = &g.LVSTimeouts.UDP
		default:
			d.errorf(k.Pos, "%s: lvs_timeouts %q: want tcp, tcpfin or udp", d.where, k.Text)
			continue
		}
		s, ok := parseUint(v.Text, 86400*31)
		if !ok || s == 0 {
			d.errorf(v.Pos, "%s: lvs_timeouts %s %q: want whole seconds, 1..%d", d.where, k.Text, v.Text, 86400*31)
			continue
		}
		*dst = time.Duration(s) * time.Second
	}
}

// nameArg reads the NAME of "keyword NAME { ... }", reporting a missing block too.
func nameArg(d *decoder, n *node) (string, bool) {
	ok := true
	if len(n.Args) != 1 {
		d.errorf(n.Key.Pos, "%s: want one name: %s NAME { ... }", n.String(), n.Key.Text)
		ok = false
	}
	if n.Block == nil {
		d.errorf(n.Key.Pos, "%s: want a { block }", n.String())
		ok = false
	}
	if !ok {
		return "", false
	}
	return n.Args[0].Text, true
}

func decodeGlobalDefs(d *decoder, n *node, c *configDraft) {
	if len(n.Args) > 0 || n.Block == nil {
		d.errorf(n.Key.Pos, "global_defs: want global_defs { ... }")
		return
	}
	globalDefsSchema.decode(d, "global_defs", n.Block.Nodes, &c.cfg.Global)
}

// staticField decodes a top-level static_ipaddress, static_routes or static_rules.
func decodeStaticAddresses(d *decoder, n *node, c *configDraft) {
	d.where = n.Key.Text
	for _, l := range lines(d, n) {
		if v, ok := decodeVirtualIP(d, n.Key.Text, l); ok {
			c.cfg.StaticAddresses = append(c.cfg.StaticAddresses, v)
		}
	}
}

func decodeStaticRoutes(d *decoder, n *node, c *configDraft) {
	d.where = n.Key.Text
	for _, l := range lines(d, n) {
		if r, ok := decodeRoute(d, n.Key.Text, l); ok {
			c.cfg.StaticRoutes = append(c.cfg.StaticRoutes, r)
		}
	}
}

func decodeStaticRules(d *decoder, n *node, c *configDraft) {
	d.where = n.Key.Text
	for _, l := range lines(d, n) {
		if r, ok := decodeRule(d, n.Key.Text, l); ok {
			c.cfg.StaticRules = append(c.cfg.StaticRules, r)
		}
	}
}

var scriptSchema = &schema[Script]{
	words: vrrpScriptWords,
	fields: map[string]field[Script]{
		"script":    commandField(func(s *Script) *string { return &s.Script }),
		"interval":  secondsField(func(s *Script) *time.Duration { return &s.Interval }, false),
		"timeout":   secondsField(func(s *Script) *time.Duration { return &s.Timeout }, false),
		"weight":    decodeScriptWeight,
		"rise":      intField(func(s *Script) *int { return &s.Rise }, 1, 1<<30),
		"fall":      intField(func(s *Script) *int { return &s.Fall }, 1, 1<<30),
		"user":      decodeScriptRunAs,
		"init_fail": flagField(func(s *Script) *bool { return &s.InitFail }),
	},
}

// decodeScriptWeight reads "weight N [reverse]".
func decodeScriptWeight(d *decoder, n *node, s *Script) {
	s.Weight, s.Reverse = weightReverse(d, n)
}

func weightReverse(d *decoder, n *node) (int, bool) {
	if !noBlock(d, n) || len(n.Args) == 0 || len(n.Args) > 2 || len(n.Args) == 2 && n.Args[1].Text != "reverse" {
		d.errorf(n.Key.Pos, "%s: weight: want N [reverse]", d.where)
		return 0, false
	}
	w, ok := parseIntRange(n.Args[0].Text, -maxTrackWeight, maxTrackWeight)
	if !ok {
		d.errorf(n.Args[0].Pos, "%s: weight %q: want %d..%d", d.where, n.Args[0].Text, -maxTrackWeight, maxTrackWeight)
	}
	return w, len(n.Args) == 2
}

func decodeScriptRunAs(d *decoder, n *node, s *Script) {
	if !noBlock(d, n) || len(n.Args) == 0 || len(n.Args) > 2 {
		d.errorf(n.Key.Pos, "%s: user: want USER [GROUP]", d.where)
		return
	}
	s.User = n.Args[0].Text
	if len(n.Args) == 2 {
		s.Group = n.Args[1].Text
	}
}

func decodeScript(d *decoder, n *node, c *configDraft) {
	name, ok := nameArg(d, n)
	if !ok {
		return
	}
	s := Script{Pos: n.Key.Pos, Name: name, Interval: defaultScriptPeriod, Rise: 1, Fall: 1}
	nerr := len(d.errs)
	scriptSchema.decode(d, n.String(), n.Block.Nodes, &s)
	if s.Script == "" && len(d.errs) == nerr {
		d.errorf(n.Key.Pos, "%s: no script line", n.String())
		return
	}
	c.cfg.Scripts = append(c.cfg.Scripts, s)
}

var trackFileSchema = &schema[TrackFile]{
	words: vrrpTrackFileWords,
	fields: map[string]field[TrackFile]{
		"file":      stringField(func(t *TrackFile) *string { return &t.File }),
		"weight":    func(d *decoder, n *node, t *TrackFile) { t.Weight, t.Reverse = weightReverse(d, n) },
		"init_file": func(d *decoder, n *node, t *TrackFile) { t.Init = words(n.Args) },
	},
}

func decodeTrackFile(d *decoder, n *node, c *configDraft) {
	name, ok := nameArg(d, n)
	if !ok {
		return
	}
	t := TrackFile{Pos: n.Key.Pos, Name: name, Weight: 1}
	nerr := len(d.errs)
	trackFileSchema.decode(d, n.String(), n.Block.Nodes, &t)
	if t.File == "" && len(d.errs) == nerr {
		d.errorf(n.Key.Pos, "%s: no file line", n.String())
		return
	}
	c.cfg.TrackFiles = append(c.cfg.TrackFiles, t)
}

// notifyFields are the notify_* rows shared by instances and sync groups.
func notifyFields[T any](get func(*T) *Notify) map[string]field[T] {
	return map[string]field[T]{
		"notify_master": commandField(func(t *T) *string { return &get(t).Master }),
		"notify_backup": commandField(func(t *T) *string { return &get(t).Backup }),
		"notify_fault":  commandField(func(t *T) *string { return &get(t).Fault }),
		"notify_stop":   commandField(func(t *T) *string { return &get(t).Stop }),
		"notify":        commandField(func(t *T) *string { return &get(t).Any }),
	}
}

func withFields[T any](base map[string]field[T], more map[string]field[T]) map[string]field[T] {
	for k, v := range more {
		base[k] = v
	}
	return base
}

var syncGroupSchema = &schema[SyncGroup]{
	words: vrrpSyncGroupWords,
	fields: withFields(notifyFields(func(g *SyncGroup) *Notify { return &g.Notify }), map[string]field[SyncGroup]{
		"group":                      listField(func(g *SyncGroup) *[]string { return &g.Group }),
		"smtp_alert":                 flagField(func(g *SyncGroup) *bool { return &g.SMTPAlert }),
		"global_tracking":            flagField(func(g *SyncGroup) *bool { return &g.GlobalTracking }),
		"track_script":               trackField(func(g *SyncGroup) *[]Track { return &g.TrackScripts }),
		"track_interface":            trackField(func(g *SyncGroup) *[]Track { return &g.TrackInterfaces }),
		"track_file":                 trackField(func(g *SyncGroup) *[]Track { return &g.TrackFiles }),
		"track_process":              trackField(func(g *SyncGroup) *[]Track { return &g.TrackProcesses }),
		"track_bfd":                  trackFieldLimit(func(g *SyncGroup) *[]Track { return &g.TrackBFDs }, maxTrackWeight),
		"notify_priority_changes":    flagField(func(g *SyncGroup) *bool { return &g.NotifyPriorityChanges }),
		"sync_group_tracking_weight": flagField(func(g *SyncGroup) *bool { return &g.TrackingWeight }),
	}),
	// keepalived before 1.2.? listed the instances on bare lines; keepalived 2.2 refuses
	// them, xlb reads what the operator meant and says how to write it.
	other: func(d *decoder, n *node, g *SyncGroup) bool {
		if len(n.Args) > 0 || n.Block != nil || n.Key.Kind != tokWord {
			return false
		}
		g.Group = append(g.Group, n.Key.Text)
		d.warnf(n.Key.Pos, "%s: %q on a line of its own is old syntax for a member; write group { %s }", d.where, n.Key.Text, n.Key.Text)
		return true
	},
}

func decodeSyncGroup(d *decoder, n *node, c *configDraft) {
	name, ok := nameArg(d, n)
	if !ok {
		return
	}
	g := SyncGroup{Pos: n.Key.Pos, Name: name}
	syncGroupSchema.decode(d, n.String(), n.Block.Nodes, &g)
	c.cfg.SyncGroups = append(c.cfg.SyncGroups, g)
}

var instanceSchema = &schema[Instance]{
	words: vrrpInstanceWords,
	fields: withFields(withFields(notifyFields(func(i *Instance) *Notify { return &i.Notify }), instanceMoreFields()), map[string]field[Instance]{
		"state":                      enumField(func(i *Instance) *string { return &i.State }, "MASTER", "BACKUP"),
		"interface":                  stringField(func(i *Instance) *string { return &i.Interface }),
		"virtual_router_id":          intField(func(i *Instance) *int { return &i.VRID }, 1, 255),
		"priority":                   intField(func(i *Instance) *int { return &i.Priority }, 1, 255),
		"advert_int":                 secondsField(func(i *Instance) *time.Duration { return &i.AdvertInt }, false),
		"version":                    intField(func(i *Instance) *int { return &i.Version }, 2, 3),
		"use_vmac":                   decodeUseVMAC,
		"vmac_xmit_base":             flagField(func(i *Instance) *bool { return &i.VMACXmitBase }),
		"dont_track_primary":         flagField(func(i *Instance) *bool { return &i.DontTrackPrimary }),
		"mcast_src_ip":               addrField(func(i *Instance) *netip.Addr { return &i.McastSrcIP }),
		"unicast_src_ip":             addrField(func(i *Instance) *netip.Addr { return &i.UnicastSrcIP }),
		"unicast_peer":               decodeUnicastPeers,
		"lvs_sync_daemon_interface":  decodeLVSSyncDaemonInterface,
		"garp_master_delay":          secondsField(func(i *Instance) *time.Duration { return &i.Garp.MasterDelay }, true),
		"garp_master_repeat":         intField(func(i *Instance) *int { return &i.Garp.MasterRepeat }, 1, 1<<16),
		"garp_master_refresh":        secondsField(func(i *Instance) *time.Duration { return &i.Garp.MasterRefresh }, true),
		"garp_master_refresh_repeat": intField(func(i *Instance) *int { return &i.Garp.MasterRefreshRepeat }, 1, 1<<16),
		"garp_lower_prio_delay":      secondsField(func(i *Instance) *time.Duration { return &i.Garp.LowerPrioDelay }, true),
		"garp_lower_prio_repeat":     intField(func(i *Instance) *int { return &i.Garp.LowerPrioRepeat }, 1, 1<<16),
		"authentication":             decodeAuth,
		"nopreempt":                  flagField(func(i *Instance) *bool { return &i.NoPreempt }),
		"preempt":                    func(d *decoder, n *node, i *Instance) { i.NoPreempt = false },
		"preempt_delay":              secondsField(func(i *Instance) *time.Duration { return &i.PreemptDelay }, true),
		"accept":                     func(d *decoder, n *node, i *Instance) { t := true; i.Accept = &t },
		"no_accept":                  func(d *decoder, n *node, i *Instance) { f := false; i.Accept = &f },
		"strict_mode":                flagField(func(i *Instance) *bool { return &i.StrictMode }),
		"native_ipv6":                flagField(func(i *Instance) *bool { return &i.NativeIPv6 }),
		"smtp_alert":                 flagField(func(i *Instance) *bool { return &i.SMTPAlert }),
		"track_interface":            trackField(func(i *Instance) *[]Track { return &i.TrackInterfaces }),
		"track_script":               trackField(func(i *Instance) *[]Track { return &i.TrackScripts }),
		"track_file":                 trackField(func(i *Instance) *[]Track { return &i.TrackFiles }),
		"track_process":              trackField(func(i *Instance) *[]Track { return &i.TrackProcesses }),
		"track_bfd":                  trackFieldLimit(func(i *Instance) *[]Track { return &i.TrackBFDs }, maxTrackWeight),
		"notify_master_rx_lower_pri": commandField(func(i *Instance) *string { return &i.NotifyMasterRxLowerPri }),
		"notify_priority_changes":    flagField(func(i *Instance) *bool { return &i.NotifyPriorityChanges }),
		"mcast_dst_ip":               decodeMcastDstIP,
		"unicast_ttl":                intField(func(i *Instance) *int { return &i.UnicastTTL }, 0, 255),
		"check_unicast_src":          flagField(func(i *Instance) *bool { return &i.CheckUnicastSrc }),
		"unicast_fault_no_peer":      flagField(func(i *Instance) *bool { return &i.UnicastFaultNoPeer }),
		"track_src_ip":               flagField(func(i *Instance) *bool { return &i.TrackSrcIP }),
		"promote_secondaries":        flagField(func(i *Instance) *bool { return &i.PromoteSecondaries }),
		"skip_check_adv_addr":        flagField(func(i *Instance) *bool { return &i.SkipCheckAdvAddr }),
		"higher_prio_send_advert":    flagField(func(i *Instance) *bool { return &i.HigherPrioSendAdvert }),
		"lower_prio_no_advert":       flagField(func(i *Instance) *bool { return &i.LowerPrioNoAdvert }),
		"owner_ignore_adverts":       flagField(func(i *Instance) *bool { return &i.OwnerIgnoreAdverts }),
		"down_timer_adverts":         intField(func(i *Instance) *int { return &i.DownTimerAdverts }, 1, 100),
		"vrf":                        stringField(func(i *Instance) *string { return &i.VRF }),
		"virtual_ipaddress":          vipField(func(i *Instance) *[]VirtualIP { return &i.VirtualIPs }),
		"virtual_ipaddress_excluded": vipField(func(i *Instance) *[]VirtualIP { return &i.ExcludedIPs }),
		"virtual_routes":             decodeVirtualRoutes,
		"virtual_rules":              decodeVirtualRules,
	}),
}

// decodeMcastDstIP reads the multicast group an instance sends to instead of VRRP's:
// IPv4 multicast or IPv6 link-local multicast, as keepalived wants.
func decodeMcastDstIP(d *decoder, n *node, i *Instance) {
	t, ok := value(d, d.where, n)
	if !ok {
		return
	}
	a, ok := parseAddr(t.Text)
	if !ok || !a.IsMulticast() || a.Is6() && !a.IsLinkLocalMulticast() {
		d.errorf(t.Pos, "%s: mcast_dst_ip %q: want an IPv4 multicast or IPv6 link-local multicast address", d.where, t.Text)
		return
	}
	i.McastDstIP = a
}

func vipField(get func(*Instance) *[]VirtualIP) field[Instance] {
	return func(d *decoder, n *node, i *Instance) {
		item := d.where + ": " + n.Key.Text
		for _, l := range lines(d, n) {
			if v, ok := decodeVirtualIP(d, item, l); ok {
				*get(i) = append(*get(i), v)
			}
		}
	}
}

func decodeVirtualRoutes(d *decoder, n *node, i *Instance) {
	item := d.where + ": " + n.Key.Text
	for _, l := range lines(d, n) {
		if r, ok := decodeRoute(d, item, l); ok {
			i.VirtualRoutes = append(i.VirtualRoutes, r)
		}
	}
}

func decodeVirtualRules(d *decoder, n *node, i *Instance) {
	item := d.where + ": " + n.Key.Text
	for _, l := range lines(d, n) {
		if r, ok := decodeRule(d, item, l); ok {
			i.VirtualRules = append(i.VirtualRules, r)
		}
	}
}

// decodeUseVMAC reads "use_vmac [[name] NAME] [MAC] [netlink_notify_msg] [group G]". A MAC
// of five octets takes the VRID as its sixth (decodeInstance adds it).
func decodeUseVMAC(d *decoder, n *node, i *Instance) {
	if !noBlock(d, n) {
		return
	}
	i.UseVMAC = true
	args := n.Args
	for k := 0; k < len(args); k++ {
		a := args[k]
		switch {
		case strings.Contains(a.Text, ":"): // interface names cannot hold a colon
			mac, ok := parseVMAC(a.Text)
			if !ok || i.VMACAddr != nil {
				d.errorf(a.Pos, "%s: use_vmac %q: want one MAC address, 5 or 6 octets, unicast, not VRRP's own 00:00:5e:00:01/02:XX", d.where, a.Text)
				return
			}
			i.VMACAddr = mac
			continue
		case a.Text == "netlink_notify_msg":
			i.VMACNetlinkNotify = true
			continue
		case a.Text == "group" || a.Text == "name":
			if k+1 == len(args) {
				d.errorf(a.Pos, "%s: use_vmac: %s: missing value", d.where, a.Text)
				return
			}
			k++
			if a.Text == "group" {
				i.VMACGroup = args[k].Text
				continue
			}
			a = args[k]
		}
		if i.VMACName != "" || len(a.Text) >= ifNameSize {
			d.errorf(a.Pos, "%s: use_vmac: interface name %q: want one name of at most %d bytes", d.where, a.Text, ifNameSize-1)
			return
		}
		i.VMACName = a.Text
	}
}

// parseVMAC reads a MAC address of 5 or 6 hex octets separated by colons ("02:00:00:00:00"
// leaves the last to the VRID), refusing multicast ones and VRRP's own virtual MACs
// (RFC 5798 section 7.3), which use_vmac makes anyway without one.
func parseVMAC(s string) (MAC, bool) {
	parts := strings.Split(strings.TrimSuffix(s, ":"), ":")
	if len(parts) != 5 && len(parts) != 6 {
		return nil, false
	}
	mac := make(MAC, 0, 6)
	for _, p := range parts {
		if p == "" || len(p) > 2 {
			return nil, false
		}
		v, err := strconv.ParseUint(p, 16, 8)
		if err != nil {
			return nil, false
		}
		mac = append(mac, byte(v))
	}
	vrrp := mac[0] == 0 && mac[1] == 0 && mac[2] == 0x5e && mac[3] == 0 && (mac[4] == 1 || mac[4] == 2)
	if mac[0]&1 != 0 || vrrp {
		return nil, false
	}
	return mac, true
}

// decodeUnicastPeers reads "unicast_peer { ADDR [min_ttl N] [max_ttl N] ... }".
func decodeUnicastPeers(d *decoder, n *node, i *Instance) {
	for _, l := range lines(d, n) {
		a, ok := parseAddr(l.Key.Text)
		if !ok {
			d.errorf(l.Key.Pos, "%s: unicast_peer %q: want an IPv4 or IPv6 address", d.where, l.Key.Text)
			continue
		}
		i.UnicastPeers = append(i.UnicastPeers, a)
		if len(l.Args) == 0 {
			continue
		}
		p := PeerTTL{Addr: a, MaxTTL: 255}
		args := l.Args
		for len(args) > 0 {
			word := args[0].Text
			if (word != "min_ttl" && word != "max_ttl") || len(args) < 2 {
				d.errorf(args[0].Pos, "%s: unicast_peer %s: %q: want min_ttl N or max_ttl N", d.where, a, word)
				break
			}
			v, err := strconv.Atoi(args[1].Text)
			if err != nil || v < 0 || v > 255 {
				d.errorf(args[1].Pos, "%s: unicast_peer %s: %s %q: want 0..255", d.where, a, word, args[1].Text)
				break
			}
			if word == "min_ttl" {
				p.MinTTL = v
			} else {
				p.MaxTTL = v
			}
			args = args[2:]
		}
		if p.MinTTL > p.MaxTTL {
			d.errorf(l.Args[0].Pos, "%s: unicast_peer %s: min_ttl %d is above max_ttl %d", d.where, a, p.MinTTL, p.MaxTTL)
		}
		d.warnf(l.Args[0].Pos, "%s: unicast_peer %s: min_ttl/max_ttl: parsed, but xlb does not act on it yet (VRRP checks no unicast TTL)", d.where, a)
		i.UnicastPeerTTLs = append(i.UnicastPeerTTLs, p)
	}
}

var authSchema = &schema[Auth]{
	words: authenticationWords,
	fields: map[string]field[Auth]{
		"auth_type": enumField(func(a *Auth) *string { return &a.Type }, "PASS", "AH"),
		"auth_pass": decodeAuthPass,
	},
}

func decodeAuthPass(d *decoder, n *node, a *Auth) {
	t, ok := value(d, d.where, n)
	if !ok {
		return
	}
	a.Pass = t.Text
	if len(t.Text) > maxAuthPass {
		// keepalived cuts it too; both ends must agree on the cut secret.
		a.Pass = t.Text[:maxAuthPass]
		d.warnf(t.Pos, "%s: auth_pass is longer than %d bytes; VRRP sends only %q", d.where, maxAuthPass, a.Pass)
	}
}

func decodeAuth(d *decoder, n *node, i *Instance) {
	if n.Block == nil {
		d.errorf(n.Key.Pos, "%s: authentication: want a { block }", d.where)
		return
	}
	item := d.where + ": authentication"
	a := Auth{}
	nerr := len(d.errs)
	authSchema.decode(d, item, n.Block.Nodes, &a)
	if a.Type == "" && len(d.errs) == nerr {
		d.errorf(n.Key.Pos, "%s: no auth_type", item)
		return
	}
	i.Auth = &a
}

func decodeInstance(d *decoder, n *node, c *configDraft) {
	name, ok := nameArg(d, n)
	if !ok {
		return
	}
	nerr := len(d.errs)
	i := Instance{Pos: n.Key.Pos, Name: name, State: "BACKUP", Priority: defaultPriority, AdvertInt: defaultAdvertInt}
	instanceSchema.decode(d, n.String(), n.Block.Nodes, &i)
	if i.VRID == 0 && len(d.errs) == nerr {
		d.errorf(n.Key.Pos, "%s: no virtual_router_id (want 1..255)", n.String())
	}
	if len(i.VMACAddr) == 5 {
		i.VMACAddr = append(i.VMACAddr, byte(i.VRID))
	}
	if i.Auth != nil && i.Auth.Type == "AH" && i.State == "MASTER" {
		// keepalived 2.2 warns (and -t exits non-zero) too.
		d.warnf(n.Key.Pos, "%s: auth_type AH with state MASTER: keepalived starts such an instance as BACKUP", n.String())
	}
	if h := i.AuthHMAC; h != nil {
		// keepalived drops the legacy authentication, or the weaker mode, and runs on;
		// xlb asks the operator to say which was meant.
		if i.Auth != nil {
			d.errorf(n.Key.Pos, "%s: auth_hmac and authentication exclude each other; keep one", n.String())
		}
		if i.StrictMode && h.Mode != "enforce" {
			d.errorf(n.Key.Pos, "%s: strict_mode needs auth_hmac mode enforce, got %s", n.String(), h.Mode)
		}
	}
	c.cfg.Instances = append(c.cfg.Instances, i)
}

// decodeLVSSyncDaemonInterface reads the instance's lvs_sync_daemon_interface, which
// keepalived deprecates in favour of global_defs' lvs_sync_daemon.
func decodeLVSSyncDaemonInterface(d *decoder, n *node, i *Instance) {
	t, ok := value(d, d.where, n)
	if !ok {
		return
	}
	i.LVSSyncDaemonInterface = t.Text
	d.warnf(n.Key.Pos, "%s: lvs_sync_daemon_interface is deprecated (keepalived too); write lvs_sync_daemon %s %s in global_defs", d.where, t.Text, i.Name)
}
