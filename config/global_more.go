package config

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// This file decodes global_defs' tuning words of keepalived's processes: scheduling and
// names, notify FIFOs, SNMP and D-Bus, firewall sets, netlink buffers, VRRP and checker
// defaults, alerts, start-up and shutdown scripts, reload and the files keepalived writes
// (core/global_parser.c). Each group is a sub-struct of GlobalDefs allocated when one of
// its words is written, so a configuration without them costs nothing.

// lazy returns the sub-struct *p, allocating it on first use.
func lazy[S any](p **S) *S {
	if *p == nil {
		*p = new(S)
	}
	return *p
}

// globalMoreFields are the rows of globalDefsSchema this file decodes.
func globalMoreFields() map[string]field[GlobalDefs] {
	f := map[string]field[GlobalDefs]{}
	// One set of process words per child process.
	for _, p := range []struct {
		prefix string
		get    func(*Processes) **ProcessTuning
	}{
		{"vrrp", func(p *Processes) **ProcessTuning { return &p.VRRP }},
		{"checker", func(p *Processes) **ProcessTuning { return &p.Checker }},
		{"bfd", func(p *Processes) **ProcessTuning { return &p.BFD }},
	} {
		tune := func(g *GlobalDefs) *ProcessTuning { return lazy(p.get(lazy(&g.Process))) }
		f[p.prefix+"_process_name"] = stringField(func(g *GlobalDefs) *string { return &tune(g).Name })
		f[p.prefix+"_priority"] = optIntField(func(g *GlobalDefs) **int { return &tune(g).Priority }, -20, 19)
		f[p.prefix+"_rt_priority"] = intField(func(g *GlobalDefs) *int { return &tune(g).RTPriority }, 1, 99)
		f[p.prefix+"_no_swap"] = flagField(func(g *GlobalDefs) *bool { return &tune(g).NoSwap })
		f[p.prefix+"_cpu_affinity"] = cpuListField(func(g *GlobalDefs) *[]int { return &tune(g).CPUAffinity })
		rl := rlimitField(func(g *GlobalDefs) *time.Duration { return &tune(g).RlimitRTTime })
		f[p.prefix+"_rlimit_rttime"] = rl
		f[p.prefix+"_rlimit_rtime"] = rl
	}
	// keepalived's first name for the checker process.
	f["lvs_process_name"] = deprecated("checker_process_name", f["checker_process_name"])
	proc := func(g *GlobalDefs) *Processes { return lazy(&g.Process) }
	f["process_name"] = stringField(func(g *GlobalDefs) *string { return &proc(g).Name })
	f["process_names"] = flagField(func(g *GlobalDefs) *bool { return &proc(g).Names })
	f["max_auto_priority"] = decodeMaxAutoPriority
	f["min_auto_priority_delay"] = func(d *decoder, n *node, g *GlobalDefs) {
		var us int
		nerr := d.errCount()
		intField(func(*GlobalDefs) *int { return &us }, 1, 10000000)(d, n, g)
		if d.errCount() == nerr {
			proc(g).MinAutoPriorityDelay = time.Duration(us) * time.Microsecond
		}
	}
	f["use_symlink_paths"] = flagField(func(g *GlobalDefs) *bool { return &proc(g).UseSymlinkPaths })
	f["set_supplementary_groups"] = flagField(func(g *GlobalDefs) *bool { return &proc(g).SetSupplementaryGroups })
	f["umask"] = decodeUmask

	// Notify FIFOs.
	for _, p := range []struct {
		prefix string
		get    func(*NotifyFifos) **NotifyFifo
	}{
		{"", func(n *NotifyFifos) **NotifyFifo { return &n.Global }},
		{"vrrp_", func(n *NotifyFifos) **NotifyFifo { return &n.VRRP }},
		{"lvs_", func(n *NotifyFifos) **NotifyFifo { return &n.LVS }},
	} {
		fifo := func(g *GlobalDefs) *NotifyFifo { return lazy(p.get(lazy(&g.NotifyFifo))) }
		f[p.prefix+"notify_fifo"] = func(d *decoder, n *node, g *GlobalDefs) {
			if !noBlock(d, n) {
				return
			}
			if len(n.Args) == 0 || len(n.Args) > 3 {
				d.errorf(n.Key.Pos, "%s: %s: want PATH [USER [GROUP]]", d.where, n.Key.Text)
				return
			}
			ff := fifo(g)
			ff.Path, ff.User, ff.Group = n.Args[0].Text, argText(n, 1), argText(n, 2)
		}
		f[p.prefix+"notify_fifo_script"] = commandField(func(g *GlobalDefs) *string { return &fifo(g).Script })
	}
	f["fifo_write_vrrp_states_on_reload"] = flagField(func(g *GlobalDefs) *bool { return &lazy(&g.NotifyFifo).WriteVRRPStatesOnReload })

	// SNMP and D-Bus.
	snmp := func(g *GlobalDefs) *SNMP { return lazy(&g.SNMP) }
	f["snmp_socket"] = stringField(func(g *GlobalDefs) *string { return &snmp(g).Socket })
	f["enable_snmp_vrrp"] = flagField(func(g *GlobalDefs) *bool { return &snmp(g).VRRP })
	f["enable_snmp_keepalived"] = deprecated("enable_snmp_vrrp", f["enable_snmp_vrrp"])
	f["enable_snmp_checker"] = flagField(func(g *GlobalDefs) *bool { return &snmp(g).Checker })
	f["enable_snmp_rfc"] = flagField(func(g *GlobalDefs) *bool { return &snmp(g).RFC })
	f["enable_snmp_rfcv2"] = flagField(func(g *GlobalDefs) *bool { return &snmp(g).RFCv2 })
	f["enable_snmp_rfcv3"] = flagField(func(g *GlobalDefs) *bool { return &snmp(g).RFCv3 })
	f["snmp_vs_stats_update_interval"] = boundedSecondsField(func(g *GlobalDefs) *time.Duration { return &snmp(g).VSStatsUpdateInterval }, time.Millisecond, 30*time.Second)
	f["snmp_rs_stats_update_interval"] = boundedSecondsField(func(g *GlobalDefs) *time.Duration { return &snmp(g).RSStatsUpdateInterval }, time.Millisecond, 30*time.Second)
	dbus := func(g *GlobalDefs) *DBus { return lazy(&g.DBus) }
	f["enable_dbus"] = flagField(func(g *GlobalDefs) *bool { return &dbus(g).Enable })
	f["dbus_service_name"] = stringField(func(g *GlobalDefs) *string { return &dbus(g).ServiceName })
	f["dbus_no_interface_name"] = stringField(func(g *GlobalDefs) *string { return &dbus(g).NoInterfaceName })

	// Firewall sets.
	fw := func(g *GlobalDefs) *Firewall { return lazy(&g.Firewall) }
	f["nftables"] = optWordField(func(g *GlobalDefs) **string { return &fw(g).Nftables }, "keepalived")
	f["nftables_priority"] = intField(func(g *GlobalDefs) *int { return &fw(g).NftablesPriority }, math.MinInt32+1, math.MaxInt32)
	f["nftables_ifindex"] = flagField(func(g *GlobalDefs) *bool { return &fw(g).NftablesIfindex })
	f["nftables_counters"] = flagField(func(g *GlobalDefs) *bool { return &fw(g).NftablesCounters })
	f["nftables_ipvs"] = optWordField(func(g *GlobalDefs) **string { return &fw(g).NftablesIPVS }, "keepalived_ipvs")
	f["nftables_ipvs_priority"] = intField(func(g *GlobalDefs) *int { return &fw(g).NftablesIPVSPriority }, math.MinInt32+1, math.MaxInt32)
	f["nftables_ipvs_start_fwmark"] = uint32Field(func(g *GlobalDefs) *uint32 { return &fw(g).NftablesIPVSStartFwmark })
	f["vrrp_iptables"] = wordsField(func(g *GlobalDefs) *[]string { return &fw(g).IPTables }, 0, 2)
	f["vrrp_ipsets"] = wordsField(func(g *GlobalDefs) *[]string { return &fw(g).IPSets }, 0, 6)

	// Netlink and process monitor receive buffers.
	for _, p := range []struct {
		prefix string
		get    func(*RcvBufs) **RcvBuf
	}{
		{"vrrp_netlink_cmd", func(r *RcvBufs) **RcvBuf { return &r.VRRPCmd }},
		{"vrrp_netlink_monitor", func(r *RcvBufs) **RcvBuf { return &r.VRRPMonitor }},
		{"lvs_netlink_cmd", func(r *RcvBufs) **RcvBuf { return &r.LVSCmd }},
		{"lvs_netlink_monitor", func(r *RcvBufs) **RcvBuf { return &r.LVSMonitor }},
		{"process_monitor", func(r *RcvBufs) **RcvBuf { return &r.ProcessMonitor }},
	} {
		buf := func(g *GlobalDefs) *RcvBuf { return lazy(p.get(lazy(&g.RcvBufs))) }
		f[p.prefix+"_rcv_bufs"] = uint32Field(func(g *GlobalDefs) *uint32 { return &buf(g).Bytes })
		f[p.prefix+"_rcv_bufs_force"] = flagField(func(g *GlobalDefs) *bool { return &buf(g).Force })
	}

	// VRRP defaults.
	vd := func(g *GlobalDefs) *VRRPDefaults { return lazy(&g.VRRPDefaults) }
	f["vrrp_check_unicast_src"] = flagField(func(g *GlobalDefs) *bool { return &vd(g).CheckUnicastSrc })
	f["vrrp_down_timer_adverts"] = intField(func(g *GlobalDefs) *int { return &vd(g).DownTimerAdverts }, 1, 100)
	f["vrrp_higher_prio_send_advert"] = flagField(func(g *GlobalDefs) *bool { return &vd(g).HigherPrioSendAdvert })
	f["vrrp_lower_prio_no_advert"] = flagField(func(g *GlobalDefs) *bool { return &vd(g).LowerPrioNoAdvert })
	f["vrrp_min_garp"] = flagField(func(g *GlobalDefs) *bool { return &vd(g).MinGarp })
	f["vrrp_notify_priority_changes"] = flagField(func(g *GlobalDefs) *bool { return &vd(g).NotifyPriorityChanges })
	f["vrrp_owner_ignore_adverts"] = flagField(func(g *GlobalDefs) *bool { return &vd(g).OwnerIgnoreAdverts })
	f["vrrp_rx_bufs_policy"] = decodeRxBufsPolicy
	f["vrrp_rx_bufs_multiplier"] = intField(func(g *GlobalDefs) *int { return &vd(g).RxBufsMultiplier }, 1, math.MaxInt32)
	f["vrrp_startup_delay"] = boundedSecondsField(func(g *GlobalDefs) *time.Duration { return &vd(g).StartupDelay }, time.Millisecond, math.MaxUint32*time.Microsecond)
	f["vrrp_delay_after_boot"] = boundedSecondsField(func(g *GlobalDefs) *time.Duration { return &vd(g).DelayAfterBoot }, time.Millisecond, math.MaxUint32*time.Microsecond)
	f["log_unknown_vrids"] = flagField(func(g *GlobalDefs) *bool { return &vd(g).LogUnknownVRIDs })
	f["vmac_prefix"] = stringField(func(g *GlobalDefs) *string { return &vd(g).VMACPrefix })
	f["vmac_addr_prefix"] = stringField(func(g *GlobalDefs) *string { return &vd(g).VMACAddrPrefix })
	f["v3_checksum_as_v2"] = flagField(func(g *GlobalDefs) *bool { return &vd(g).V3ChecksumAsV2 })
	f["disable_local_igmp"] = flagField(func(g *GlobalDefs) *bool { return &vd(g).DisableLocalIGMP })
	f["dynamic_interfaces"] = decodeDynamicInterfaces
	f["vrrp_garp_extra_if"] = garpExtraIfField(func(g *GlobalDefs) *Garp { return &g.Garp })
	f["vrrp_vmac_garp_intvl"] = garpExtraIfField(func(g *GlobalDefs) *Garp { return &g.Garp })

	// Checker defaults.
	cd := func(g *GlobalDefs) *CheckerDefaults { return lazy(&g.CheckerDefaults) }
	f["checker_log_all_failures"] = flagField(func(g *GlobalDefs) *bool { return &cd(g).LogAllFailures })
	f["lvs_flush"] = flagField(func(g *GlobalDefs) *bool { return &cd(g).LVSFlush })
	f["lvs_flush_on_stop"] = decodeLVSFlushOnStop
	f["lvs_flush_onstop"] = deprecated("lvs_flush_on_stop", decodeLVSFlushOnStop)
	f["rs_init_notifies"] = flagField(func(g *GlobalDefs) *bool { return &cd(g).RSInitNotifies })
	f["no_checker_emails"] = flagField(func(g *GlobalDefs) *bool { return &cd(g).NoCheckerEmails })

	// Alerts.
	al := func(g *GlobalDefs) *Alerts { return lazy(&g.Alerts) }
	f["smtp_alert"] = optBoolField(func(g *GlobalDefs) **bool { return &al(g).SMTPAlert })
	f["smtp_alert_vrrp"] = optBoolField(func(g *GlobalDefs) **bool { return &al(g).VRRP })
	f["smtp_alert_checker"] = optBoolField(func(g *GlobalDefs) **bool { return &al(g).Checker })
	f["no_email_faults"] = flagField(func(g *GlobalDefs) *bool { return &al(g).NoEmailFaults })

	// Start-up and shutdown scripts.
	sc := func(g *GlobalDefs) *LifeScripts { return lazy(&g.Scripts) }
	f["startup_script"] = commandField(func(g *GlobalDefs) *string { return &sc(g).Startup })
	f["startup_script_timeout"] = wholeSecondsRangeField(func(g *GlobalDefs) *time.Duration { return &sc(g).StartupTimeout }, 1, 1000)
	f["shutdown_script"] = commandField(func(g *GlobalDefs) *string { return &sc(g).Shutdown })
	f["shutdown_script_timeout"] = wholeSecondsRangeField(func(g *GlobalDefs) *time.Duration { return &sc(g).ShutdownTimeout }, 1, 1000)

	// Reload.
	rl := func(g *GlobalDefs) *Reload { return lazy(&g.Reload) }
	f["reload_check_config"] = optWordField(func(g *GlobalDefs) **string { return &rl(g).CheckConfig }, "")
	f["reload_time_file"] = stringField(func(g *GlobalDefs) *string { return &rl(g).TimeFile })
	f["reload_repeat"] = flagField(func(g *GlobalDefs) *bool { return &rl(g).Repeat })
	f["reload_file"] = optWordField(func(g *GlobalDefs) **string { return &rl(g).File }, "")
	f["config_save_dir"] = stringField(func(g *GlobalDefs) *string { return &rl(g).ConfigSaveDir })
	f["tmp_config_directory"] = stringField(func(g *GlobalDefs) *string { return &rl(g).TmpConfigDirectory })
	f["include_check"] = wordsField(func(g *GlobalDefs) *[]string { return &rl(g).IncludeCheck }, 0, 16)
	f["data_use_instance"] = flagField(func(g *GlobalDefs) *bool { return &rl(g).DataUseInstance })

	// Files keepalived writes or reads.
	fl := func(g *GlobalDefs) *Files { return lazy(&g.Files) }
	f["json_version"] = intField(func(g *GlobalDefs) *int { return &fl(g).JSONVersion }, 1, 2)
	f["state_dump_file"] = stringField(func(g *GlobalDefs) *string { return &fl(g).StateDump })
	f["stats_dump_file"] = stringField(func(g *GlobalDefs) *string { return &fl(g).StatsDump })
	f["json_dump_file"] = stringField(func(g *GlobalDefs) *string { return &fl(g).JSONDump })
	f["iproute_etc_dir"] = stringField(func(g *GlobalDefs) *string { return &fl(g).IProuteEtcDir })
	f["iproute_usr_dir"] = stringField(func(g *GlobalDefs) *string { return &fl(g).IProuteUsrDir })
	f["random_seed"] = uint32Field(func(g *GlobalDefs) *uint32 { return &fl(g).RandomSeed })
	return f
}

// deprecated wraps the field of a keyword's old name: it decodes the same and says the
// new name, as keepalived does.
func deprecated[T any](now string, f field[T]) field[T] {
	return func(d *decoder, n *node, into *T) {
		d.warnf(n.Key.Pos, "%s: %s is deprecated (keepalived too); write %s", d.where, n.Key.Text, now)
		f(d, n, into)
	}
}

// optIntField is intField for a value whose zero is meaningful: nil when not written.
func optIntField[T any](get func(*T) **int, lo, hi int) field[T] {
	return func(d *decoder, n *node, into *T) {
		var v int
		nerr := d.errCount()
		intField(func(*T) *int { return &v }, lo, hi)(d, n, into)
		if d.errCount() == nerr {
			*get(into) = &v
		}
	}
}

// optWordField reads "KEYWORD [WORD]", storing def when the word is left out.
func optWordField[T any](get func(*T) **string, def string) field[T] {
	return func(d *decoder, n *node, into *T) {
		if !noBlock(d, n) {
			return
		}
		if len(n.Args) > 1 {
			d.errorf(n.Args[1].Pos, "%s: %s: unexpected argument %q", d.where, n.Key.Text, n.Args[1].Text)
			return
		}
		w := def
		if len(n.Args) == 1 {
			w = n.Args[0].Text
		}
		*get(into) = &w
	}
}

// wordsField stores the words after a keyword, lo..hi of them.
func wordsField[T any](get func(*T) *[]string, lo, hi int) field[T] {
	return func(d *decoder, n *node, into *T) {
		if !noBlock(d, n) {
			return
		}
		if len(n.Args) < lo || len(n.Args) > hi {
			d.errorf(n.Key.Pos, "%s: %s: want %d..%d words, got %d", d.where, n.Key.Text, lo, hi, len(n.Args))
			return
		}
		list := make([]string, len(n.Args))
		for i, a := range n.Args {
			list[i] = a.Text
		}
		*get(into) = list
	}
}

// boundedSecondsField stores decimal seconds in lo..hi.
func boundedSecondsField[T any](get func(*T) *time.Duration, lo, hi time.Duration) field[T] {
	return func(d *decoder, n *node, into *T) {
		t, ok := value(d, d.where, n)
		if !ok {
			return
		}
		v, ok := parseSeconds(t.Text)
		if !ok || v < lo || v > hi {
			d.errorf(t.Pos, "%s: %s %q: want seconds, %s..%s, at most 6 decimal places", d.where, n.Key.Text, t.Text, seconds(lo), seconds(hi))
			return
		}
		*get(into) = v
	}
}

// wholeSecondsRangeField stores whole seconds in lo..hi.
func wholeSecondsRangeField[T any](get func(*T) *time.Duration, lo, hi int) field[T] {
	return func(d *decoder, n *node, into *T) {
		var s int
		nerr := d.errCount()
		intField(func(*T) *int { return &s }, lo, hi)(d, n, into)
		if d.errCount() == nerr {
			*get(into) = time.Duration(s) * time.Second
		}
	}
}

// maxCPU bounds a CPU number (the kernel's CONFIG_NR_CPUS at most).
const maxCPU = 8191

// cpuListField reads "KEYWORD CPU ...", CPU numbers in 0..maxCPU.
func cpuListField[T any](get func(*T) *[]int) field[T] {
	return func(d *decoder, n *node, into *T) {
		if !noBlock(d, n) {
			return
		}
		if len(n.Args) == 0 {
			d.errorf(n.Key.Pos, "%s: %s: want CPU numbers", d.where, n.Key.Text)
			return
		}
		cpus := make([]int, 0, len(n.Args))
		for _, a := range n.Args {
			c, ok := parseIntRange(a.Text, 0, maxCPU)
			if !ok {
				d.errorf(a.Pos, "%s: %s %q: want a CPU number, 0..%d", d.where, n.Key.Text, a.Text, maxCPU)
				return
			}
			cpus = append(cpus, c)
		}
		*get(into) = cpus
	}
}

// rlimitField reads *_rlimit_rttime: the RLIMIT_RTTIME of a realtime process in
// microseconds, 1..4294967295 (keepalived raises 1 to 2, since it halves the soft limit).
func rlimitField[T any](get func(*T) *time.Duration) field[T] {
	return func(d *decoder, n *node, into *T) {
		t, ok := value(d, d.where, n)
		if !ok {
			return
		}
		if strings.HasSuffix(n.Key.Text, "_rtime") {
			d.warnf(n.Key.Pos, "%s: %s is deprecated (keepalived too); write %s", d.where, n.Key.Text, strings.TrimSuffix(n.Key.Text, "rtime")+"rttime")
		}
		v, ok := parseUint(t.Text, math.MaxUint32)
		if !ok || v == 0 {
			d.errorf(t.Pos, "%s: %s %q: want microseconds, 1..%d", d.where, n.Key.Text, t.Text, uint32(math.MaxUint32))
			return
		}
		*get(into) = time.Duration(max(v, 2)) * time.Microsecond
	}
}

// decodeMaxAutoPriority reads "max_auto_priority [PRIORITY]", -1..99 (-1: never raise);
// left out, the highest realtime priority.
func decodeMaxAutoPriority(d *decoder, n *node, g *GlobalDefs) {
	if !noBlock(d, n) {
		return
	}
	p := maxRTPriority
	if len(n.Args) > 0 {
		v, ok := parseIntRange(n.Args[0].Text, -1, maxRTPriority)
		if !ok || len(n.Args) > 1 {
			d.errorf(n.Args[0].Pos, "%s: max_auto_priority %q: want -1..%d", d.where, words(n.Args), maxRTPriority)
			return
		}
		p = v
	}
	lazy(&g.Process).MaxAutoPriority = &p
}

// maxRTPriority is Linux's highest SCHED_RR priority.
const maxRTPriority = 99

// umaskBits are the words of a symbolic umask, keepalived's names of the mode bits.
var umaskBits = map[string]uint32{
	"IRUSR": 0o400, "IWUSR": 0o200, "IXUSR": 0o100, "IRGRP": 0o40, "IWGRP": 0o20, "IXGRP": 0o10,
	"IROTH": 0o4, "IWOTH": 0o2, "IXOTH": 0o1,
}

// decodeUmask reads "umask NUMBER" (C notation: 022 is octal) or "umask BITS", the bits
// joined by | with or without blanks ("IWGRP | IWOTH").
func decodeUmask(d *decoder, n *node, g *GlobalDefs) {
	if !noBlock(d, n) {
		return
	}
	if len(n.Args) == 0 {
		d.errorf(n.Key.Pos, "%s: umask: missing value", d.where)
		return
	}
	var mask uint64
	if c := n.Args[0].Text[0]; c >= '0' && c <= '9' {
		v, err := strconv.ParseUint(n.Args[0].Text, 0, 32)
		if err != nil || v > 0o777 || len(n.Args) > 1 {
			d.errorf(n.Args[0].Pos, "%s: umask %q: want a number, 0..0777, or bits such as IWGRP|IWOTH", d.where, words(n.Args))
			return
		}
		mask = v
	} else {
		for _, w := range strings.Split(strings.Join(strings.Fields(words(n.Args)), ""), "|") {
			b, ok := umaskBits[w]
			if !ok {
				d.errorf(n.Args[0].Pos, "%s: umask %q: unknown bit %q; want I{R,W,X}{USR,GRP,OTH} joined by |", d.where, words(n.Args), w)
				return
			}
			mask |= uint64(b)
		}
	}
	m := FileMode(mask)
	lazy(&g.Process).Umask = &m
}

// decodeRxBufsPolicy reads "vrrp_rx_bufs_policy MTU|ADVERT|BYTES".
func decodeRxBufsPolicy(d *decoder, n *node, g *GlobalDefs) {
	t, ok := value(d, d.where, n)
	if !ok {
		return
	}
	vd := lazy(&g.VRRPDefaults)
	switch up := strings.ToUpper(t.Text); up {
	case "MTU", "ADVERT":
		vd.RxBufsPolicy = up
	default:
		v, ok := parseUint(t.Text, math.MaxUint32)
		if !ok {
			d.errorf(t.Pos, "%s: vrrp_rx_bufs_policy %q: want MTU, ADVERT or a size in bytes", d.where, t.Text)
			return
		}
		vd.RxBufsPolicy = strconv.FormatUint(v, 10)
	}
}

// decodeDynamicInterfaces reads "dynamic_interfaces [allow_if_changes]".
func decodeDynamicInterfaces(d *decoder, n *node, g *GlobalDefs) {
	if !noBlock(d, n) {
		return
	}
	vd := lazy(&g.VRRPDefaults)
	switch {
	case len(n.Args) == 0:
	case len(n.Args) == 1 && n.Args[0].Text == "allow_if_changes":
		vd.AllowIfChanges = true
	default:
		d.errorf(n.Args[0].Pos, "%s: dynamic_interfaces %q: want no value, or allow_if_changes", d.where, words(n.Args))
		return
	}
	vd.DynamicInterfaces = true
}

// decodeLVSFlushOnStop reads "lvs_flush_on_stop [VS]": flush every IPVS service at exit,
// or (VS) only keepalived's own.
func decodeLVSFlushOnStop(d *decoder, n *node, g *GlobalDefs) {
	if !noBlock(d, n) {
		return
	}
	var mode string
	switch {
	case len(n.Args) == 0:
		mode = "all"
	case len(n.Args) == 1 && n.Args[0].Text == "VS":
		mode = "VS"
	default:
		d.errorf(n.Args[0].Pos, "%s: %s %q: want no value, or VS", d.where, n.Key.Text, words(n.Args))
		return
	}
	lazy(&g.CheckerDefaults).LVSFlushOnStop = mode
}
