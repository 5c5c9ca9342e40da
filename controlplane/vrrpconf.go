package controlplane

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"xlb/config"
	"xlb/vrrp"
	"xlb/vrrp/addrs"
	"xlb/vrrp/router"
)

// VRRPPlan is what keepalived.conf's VRRP blocks ask of xlbd: the router's
// options, and what the router leaves to its caller, the notify scripts,
// mail alerts and tracked objects.
type VRRPPlan struct {
	// Options are the router's instances and sync groups; Notify and Logger
	// are the caller's to set.
	Options router.Options
	// Notify are the notify_* lines of each instance and sync group with
	// any, by name.
	Notify map[string]config.Notify
	// SMTPAlert names the instances and sync groups with smtp_alert.
	SMTPAlert map[string]bool
	// Tracks are the objects whose states the caller feeds to
	// Router.SetTracked(Target, Name, vrrp.Track{Kind, Up or Value, Weight,
	// Reverse}), in configuration order.
	Tracks []VRRPTrack
}

// VRRPTrack is one tracked object of an instance or sync group: a
// track_* line, or the instance's own interface.
type VRRPTrack struct {
	// Target is the vrrp_instance or vrrp_sync_group name.
	Target string
	// Name is the name to give SetTracked: "KIND:OBJECT", such as
	// "interface:eth1" or "script:chk_nginx".
	Name string
	Kind vrrp.TrackKind
	// Source is what Object names: interface, script (vrrp_script),
	// file (vrrp_track_file), process (vrrp_track_process) or bfd
	// (bfd_instance).
	Source string
	Object string
	// Weight and Reverse are the line's, or else the tracked object's.
	Weight  int
	Reverse bool
}

// Defaults keepalived applies to VRRP.
const defaultVRRPVersion = 2

// VRRPConfig maps the VRRP blocks of cfg (vrrp_instance, vrrp_sync_group
// and their global_defs defaults) onto the router's options. It returns
// warnings for settings it changes or does not act on, and every error at
// once as a config.ErrorList, each naming FILE:LINE:COL and the item.
func VRRPConfig(cfg *config.Config) (VRRPPlan, []config.Diagnostic, error) {
	m := vrrpMapper{cfg: cfg, plan: VRRPPlan{Notify: map[string]config.Notify{}, SMTPAlert: map[string]bool{}}}
	for _, in := range cfg.Instances {
		m.instance(in)
	}
	for _, g := range cfg.SyncGroups {
		m.syncGroup(g)
	}
	if len(m.errs) > 0 {
		return VRRPPlan{}, m.warns, m.errs
	}
	return m.plan, m.warns, nil
}

type vrrpMapper struct {
	cfg   *config.Config
	plan  VRRPPlan
	warns []config.Diagnostic
	errs  config.ErrorList
}

func (m *vrrpMapper) errorf(pos config.Pos, format string, args ...any) {
	m.errs = append(m.errs, config.Diagnostic{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (m *vrrpMapper) warnf(pos config.Pos, format string, args ...any) {
	m.warns = append(m.warns, config.Diagnostic{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (m *vrrpMapper) instance(in config.Instance) {
	g := m.cfg.Global
	item := "vrrp_instance " + in.Name
	nerr := len(m.errs)
	o := vrrp.Options{
		Name:         in.Name,
		VRID:         uint8(in.VRID),
		Priority:     in.Priority,
		NoPreempt:    in.NoPreempt,
		PreemptDelay: in.PreemptDelay,
		Unicast:      in.UnicastPeers,
	}
	if in.State == "MASTER" {
		o.InitialState = vrrp.StateMaster
	}
	// keepalived's default is accept unless strict mode forbids it.
	o.Accept = !g.VRRPStrict && !in.StrictMode
	if in.Accept != nil {
		o.Accept = *in.Accept
	}
	c := router.InstanceConfig{
		Interface:    in.Interface,
		UseVMAC:      in.UseVMAC,
		VMACName:     in.VMACName,
		VMACXmitBase: in.VMACXmitBase,
	}
	if c.Interface == "" {
		c.Interface = g.DefaultInterface
	}
	if c.Interface == "" {
		m.errorf(in.Pos, "%s: no interface (and no global_defs default_interface)", item)
	}

	c.Addresses = m.addresses(item, "virtual_ipaddress", in.VirtualIPs)
	c.Excluded = m.addresses(item, "virtual_ipaddress_excluded", in.ExcludedIPs)
	v6 := false
	if len(in.VirtualIPs) == 0 {
		m.errorf(in.Pos, "%s: no virtual_ipaddress: xlb needs at least one", item)
	} else {
		v6 = in.VirtualIPs[0].Prefix.Addr().Is6()
		for _, a := range in.VirtualIPs[1:] {
			if a.Prefix.Addr().Is6() != v6 {
				m.errorf(a.Pos, "%s: virtual_ipaddress %s: all must be of one family (the first is IPv%d); put others in virtual_ipaddress_excluded", item, a.Prefix, ipVersion(v6))
			}
		}
	}

	// Version: the instance's, else global_defs' vrrp_version, else 2 for
	// IPv4 and 3 for IPv6, which version 2 cannot carry.
	o.Version = in.Version
	if o.Version == 0 {
		o.Version = g.VRRPVersion
	}
	switch {
	case o.Version == 0 && v6:
		o.Version = 3
	case o.Version == 0:
		o.Version = defaultVRRPVersion
	case o.Version == 2 && v6:
		m.errorf(in.Pos, "%s: IPv6 virtual_ipaddress needs VRRP version 3, got version 2", item)
	}
	o.AdvertInterval = m.advertInt(in, item, o.Version)

	if a := in.Auth; a != nil {
		switch {
		case a.Type == "AH":
			m.errorf(in.Pos, "%s: authentication: auth_type AH: not supported (use PASS, or none)", item)
		case o.Version == 3:
			m.warnf(in.Pos, "%s: authentication: VRRP version 3 has none, ignoring it", item)
		default:
			o.AuthPass = a.Pass
		}
	}
	if in.AuthHMAC != nil {
		m.errorf(in.Pos, "%s: auth_hmac: not supported", item)
	}

	if len(in.UnicastPeers) > 0 {
		c.Source = in.UnicastSrcIP
		if !c.Source.IsValid() {
			c.Source = in.McastSrcIP
		}
	} else {
		c.Source = in.McastSrcIP
		if in.UnicastSrcIP.IsValid() {
			m.warnf(in.Pos, "%s: unicast_src_ip without unicast_peer: sending multicast from it", item)
			c.Source = in.UnicastSrcIP
		}
		c.Group = g.McastGroup4
		if v6 {
			c.Group = g.McastGroup6
		}
	}
	if c.Source.IsValid() && len(in.VirtualIPs) > 0 && c.Source.Is6() != v6 {
		m.errorf(in.Pos, "%s: source address %s: want an IPv%d address like the virtual_ipaddress", item, c.Source, ipVersion(v6))
	}
	for _, p := range in.UnicastPeers {
		if len(in.VirtualIPs) > 0 && p.Is6() != v6 {
			m.errorf(in.Pos, "%s: unicast_peer %s: want an IPv%d address like the virtual_ipaddress", item, p, ipVersion(v6))
		}
	}

	c.Routes = m.routes(item, in.VirtualRoutes)
	c.Rules = m.rules(item, in.VirtualRules, v6)
	c.Announce = announce(g.Garp, in.Garp, v6)

	c.V3ChecksumAsV2 = g.VRRPDefaults != nil && g.VRRPDefaults.V3ChecksumAsV2
	if in.V3ChecksumAsV2 != nil {
		c.V3ChecksumAsV2 = *in.V3ChecksumAsV2
	}
	c.OldUnicastChecksum = in.OldUnicastChecksum == config.ChecksumCompatOld
	c.NeverOldUnicastChecksum = in.OldUnicastChecksum == config.ChecksumCompatNever

	if in.Notify != (config.Notify{}) {
		m.plan.Notify[in.Name] = in.Notify
	}
	if in.SMTPAlert || vrrpAlert(m.cfg.Global) {
		m.plan.SMTPAlert[in.Name] = true
	}
	// keepalived tracks the instance's own interface, unweighted: down
	// means FAULT, unless dont_track_primary.
	if !in.DontTrackPrimary && c.Interface != "" {
		m.plan.Tracks = append(m.plan.Tracks, VRRPTrack{
			Target: in.Name, Name: "interface:" + c.Interface, Kind: vrrp.TrackInterface, Source: "interface", Object: c.Interface,
		})
	}
	m.tracks(in.Name, in.TrackInterfaces, in.TrackScripts, in.TrackFiles, in.TrackProcesses, in.TrackBFDs)

	if len(m.errs) > nerr {
		return
	}
	c.VRRP = o
	m.plan.Options.Instances = append(m.plan.Options.Instances, c)
}

// advertInt returns advert_int as the version counts it: whole seconds for
// version 2, centiseconds for version 3, rounded as keepalived rounds.
func (m *vrrpMapper) advertInt(in config.Instance, item string, version int) time.Duration {
	unit, lo, hi := time.Second, time.Second, 255*time.Second
	if version == 3 {
		unit, lo, hi = 10*time.Millisecond, 10*time.Millisecond, 4095*10*time.Millisecond
	}
	d := in.AdvertInt.Round(unit)
	d = min(max(d, lo), hi)
	if d != in.AdvertInt {
		m.warnf(in.Pos, "%s: advert_int %v: VRRP version %d sends %v", item, in.AdvertInt, version, d)
	}
	return d
}

func (m *vrrpMapper) addresses(item, kw string, list []config.VirtualIP) []addrs.Address {
	var out []addrs.Address
	for _, v := range list {
		a := addrs.Address{Prefix: v.Prefix, Broadcast: v.Broadcast, Dev: v.Dev, Label: v.Label}
		if v.Scope != "" {
			s, err := addrs.ParseScope(v.Scope)
			if err != nil {
				m.errorf(v.Pos, "%s: %s %s: %v", item, kw, v.Prefix, err)
			}
			a.Scope = s
		}
		if v.Peer.IsValid() || len(v.Options) > 0 || v.NoTrack {
			m.warnf(v.Pos, "%s: %s %s: only brd, dev, scope and label are acted on", item, kw, v.Prefix)
		}
		out = append(out, a)
	}
	return out
}

func (m *vrrpMapper) routes(item string, list []config.Route) []addrs.Route {
	var out []addrs.Route
	for _, r := range list {
		ar := addrs.Route{To: r.To, Via: r.Via, Src: r.Src, Dev: r.Dev, Metric: r.Metric}
		var err error
		if ar.Type, err = addrs.ParseRouteType(r.Type); err != nil {
			m.errorf(r.Pos, "%s: virtual_routes %s: %v", item, r.To, err)
		}
		if r.Table != "" {
			if ar.Table, err = addrs.ParseTable(r.Table); err != nil {
				m.errorf(r.Pos, "%s: virtual_routes %s: %v", item, r.To, err)
			}
		}
		if r.Scope != "" {
			if ar.Scope, err = addrs.ParseScope(r.Scope); err != nil {
				m.errorf(r.Pos, "%s: virtual_routes %s: %v", item, r.To, err)
			}
		}
		if len(r.Options) > 0 {
			m.warnf(r.Pos, "%s: virtual_routes %s: not acted on: %s", item, r.To, strings.Join(r.Options, " "))
		}
		out = append(out, ar)
	}
	return out
}

// rules maps virtual_rules; of the words the model keeps as written it
// acts on priority (preference, pref) and fwmark.
func (m *vrrpMapper) rules(item string, list []config.Rule, v6 bool) []addrs.Rule {
	var out []addrs.Rule
	for _, r := range list {
		ar := addrs.Rule{From: r.From, To: r.To, IPv6: v6}
		if r.Table != "" {
			t, err := addrs.ParseTable(r.Table)
			if err != nil {
				m.errorf(r.Pos, "%s: virtual_rules: %v", item, err)
			}
			ar.Table = t
		}
		var ignored []string
		for i := 0; i < len(r.Options); i++ {
			w := r.Options[i]
			if i+1 >= len(r.Options) {
				ignored = append(ignored, w)
				continue
			}
			arg := r.Options[i+1]
			switch w {
			case "priority", "preference", "pref":
				n, err := strconv.ParseUint(arg, 10, 32)
				if err != nil {
					m.errorf(r.Pos, "%s: virtual_rules: %s %q: want a number", item, w, arg)
				}
				ar.Priority = int(n)
				i++
			case "fwmark":
				mark, mask, _ := strings.Cut(arg, "/")
				v, err := strconv.ParseUint(mark, 0, 32)
				if err == nil && mask != "" {
					var mk uint64
					mk, err = strconv.ParseUint(mask, 0, 32)
					ar.FwMask = uint32(mk)
				}
				if err != nil {
					m.errorf(r.Pos, "%s: virtual_rules: fwmark %q: want MARK[/MASK]", item, arg)
				}
				ar.FwMark = uint32(v)
				i++
			default:
				ignored = append(ignored, w)
			}
		}
		if len(ignored) > 0 {
			m.warnf(r.Pos, "%s: virtual_rules: not acted on: %s", item, strings.Join(ignored, " "))
		}
		out = append(out, ar)
	}
	return out
}

// announce merges global_defs' vrrp_garp_* with the instance's garp_*, the
// instance's winning where written. A zero field in the model means not
// written, so a written garp_master_delay 0 cannot yet turn the second
// burst off.
func announce(global, own config.Garp, v6 bool) addrs.Announce {
	pick := func(g, o time.Duration) time.Duration {
		if o != 0 {
			return o
		}
		return g
	}
	pickN := func(g, o int) int {
		if o != 0 {
			return o
		}
		return g
	}
	a := addrs.Announce{
		Repeat:        pickN(global.MasterRepeat, own.MasterRepeat),
		Delay:         pick(global.MasterDelay, own.MasterDelay),
		Refresh:       pick(global.MasterRefresh, own.MasterRefresh),
		RefreshRepeat: pickN(global.MasterRefreshRepeat, own.MasterRefreshRepeat),
		Interval:      pick(global.Interval, own.Interval),
	}
	if v6 {
		a.Interval = pick(global.GNAInterval, own.GNAInterval)
	}
	return a
}

// tracks adds the track_* lines of an instance or sync group, with the
// weight of the line or else of the tracked object, as keepalived does.
func (m *vrrpMapper) tracks(target string, ifaces, scripts, files, procs, bfds []config.Track) {
	add := func(source string, kind vrrp.TrackKind, t config.Track, weight int, reverse bool) {
		if t.Weight != nil {
			weight = *t.Weight
		}
		m.plan.Tracks = append(m.plan.Tracks, VRRPTrack{
			Target: target, Name: source + ":" + t.Name, Kind: kind, Source: source, Object: t.Name,
			Weight: weight, Reverse: reverse || t.Reverse,
		})
	}
	for _, t := range ifaces {
		add("interface", vrrp.TrackInterface, t, 0, false)
	}
	for _, t := range scripts {
		w, rev := tracked(m.cfg.Scripts, t.Name, 0, func(s config.Script) (string, int, bool) { return s.Name, s.Weight, s.Reverse })
		add("script", vrrp.TrackScript, t, w, rev)
	}
	for _, t := range files {
		w, rev := tracked(m.cfg.TrackFiles, t.Name, 1, func(f config.TrackFile) (string, int, bool) { return f.Name, f.Weight, f.Reverse })
		add("file", vrrp.TrackFile, t, w, rev)
	}
	for _, t := range procs {
		w, rev := tracked(m.cfg.TrackProcesses, t.Name, 0, func(p config.TrackProcess) (string, int, bool) { return p.Name, p.Weight, p.Reverse })
		add("process", vrrp.TrackScript, t, w, rev)
	}
	for _, t := range bfds {
		w, rev := tracked(m.cfg.BFDInstances, t.Name, 0, func(b config.BFDInstance) (string, int, bool) { return b.Name, b.Weight, b.Reverse })
		add("bfd", vrrp.TrackScript, t, w, rev)
	}
}

// tracked returns the weight and reverse flag of the object called name in
// objs, as of (name, weight, reverse), the last one of that name winning;
// weight def when there is none.
func tracked[T any](objs []T, name string, def int, of func(T) (string, int, bool)) (weight int, reverse bool) {
	weight = def
	for _, o := range objs {
		if n, w, r := of(o); n == name {
			weight, reverse = w, r
		}
	}
	return weight, reverse
}

func (m *vrrpMapper) syncGroup(g config.SyncGroup) {
	m.plan.Options.Groups = append(m.plan.Options.Groups, router.GroupConfig{
		Name: g.Name, Members: g.Group, TrackingWeight: g.TrackingWeight || g.GlobalTracking,
	})
	if g.Notify != (config.Notify{}) {
		m.plan.Notify[g.Name] = g.Notify
	}
	if g.SMTPAlert || vrrpAlert(m.cfg.Global) {
		m.plan.SMTPAlert[g.Name] = true
	}
	m.tracks(g.Name, g.TrackInterfaces, g.TrackScripts, g.TrackFiles, g.TrackProcesses, g.TrackBFDs)
}

func ipVersion(v6 bool) int {
	if v6 {
		return 6
	}
	return 4
}
