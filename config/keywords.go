package config

// This file is the keyword registry: every word keepalived accepts, block by block, taken
// from keepalived's own keyword tables (install_keyword calls in check/, vrrp/, bfd/, core/
// and trackers/, at acassen/keepalived 9cbce3e2, which accepts everything 2.2.7 does). It
// lets the parser tell a keyword xlb does not model yet (warning, skipped) from a typo
// (error, with a suggestion).
//
// A word mapped to a block opens a block of keywords that is checked in turn. Every other
// word is either a one-line keyword or opens a block of values (virtual_ipaddress,
// notification_email, track_script, ...) whose lines are not keywords and are not checked.
// Checkers list the words of SSL_GET's url and TLS only where keepalived has them.

// block is the set of keywords keepalived accepts inside one block.
type block struct {
	name  string            // block keyword, "top level" for the file itself
	words map[string]*block // keyword → the keyword block it opens, or nil
}

// newBlock builds a block from its one-line (or value-block) keywords and the keyword blocks
// nested in it.
func newBlock(name string, leaves []string, subs ...*block) *block {
	b := &block{name: name, words: make(map[string]*block, len(leaves)+len(subs))}
	for _, w := range leaves {
		b.add(w, nil)
	}
	for _, s := range subs {
		b.add(s.name, s)
	}
	return b
}

// add registers word; a word listed twice is a mistake in the table, caught by any test
// of the package since the tables are built when it loads.
func (b *block) add(word string, sub *block) {
	if _, dup := b.words[word]; dup {
		panic("config: keyword " + word + " listed twice in " + b.name)
	}
	b.words[word] = sub
}

// knows reports whether keepalived accepts word in b.
func (b *block) knows(word string) bool {
	_, ok := b.words[word]
	return ok
}

var topLevelWords = newBlock("top level", []string{
	"child_wait_time", "instance", "interface_up_down_delays", "linkbeat_interfaces",
	"linkbeat_use_polling", "namespace_with_ipsets", "net_namespace", "net_namespace_ipvs",
	"static_ipaddress", "static_routes", "static_rules", "use_pid_dir", "virtual_server_group",
	// Not keepalived's: the Alibaba LVS fork's full-NAT local addresses (lb_kind FNAT).
	"local_address_group",
},
	globalDefsWords, sslWords, virtualServerWords, trackGroupWords, vrrpSyncGroupWords,
	garpGroupWords, vrrpInstanceWords, vrrpScriptWords, vrrpTrackProcessWords, bfdInstanceWords,
	trackFileWords, vrrpTrackFileWords,
)

var vrrpTrackFileWords = newBlock("vrrp_track_file", []string{
	"file", "init_file", "weight",
})

var trackFileWords = newBlock("track_file", []string{
	"file", "init_file", "weight",
})

var bfdInstanceWords = newBlock("bfd_instance", []string{
	"checker", "hoplimit", "idle_tx", "max_hops", "min_rx", "min_tx", "multihop", "multiplier",
	"neighbor_ip", "neighbour_ip", "passive", "source_ip", "ttl", "vrrp", "weight",
})

var vrrpTrackProcessWords = newBlock("vrrp_track_process", []string{
	"delay", "fork_delay", "full_command", "param_match", "process", "quorum", "quorum_max",
	"terminate_delay", "weight",
})

var vrrpScriptWords = newBlock("vrrp_script", []string{
	"fall", "init_fail", "interval", "rise", "script", "timeout", "user", "weight",
})

var vrrpInstanceWords = newBlock("vrrp_instance", []string{
	"accept", "advert_int", "check_unicast_src", "debug", "dont_track_primary", "down_timer_adverts",
	"garp_extra_if", "garp_lower_prio_delay", "garp_lower_prio_repeat", "garp_master_delay",
	"garp_master_refresh", "garp_master_refresh_repeat", "garp_master_repeat",
	"higher_prio_send_advert", "interface", "kernel_rx_buf_size", "linkbeat_use_polling",
	"lower_prio_no_advert", "lvs_sync_daemon_interface", "mcast_dst_ip", "mcast_src_ip",
	"native_ipv6", "no_accept", "no_virtual_ipaddress", "nopreempt", "notify", "notify_backup",
	"notify_deleted", "notify_fault", "notify_master", "notify_master_rx_lower_pri",
	"notify_priority_changes", "notify_stop", "old_unicast_checksum", "owner_ignore_adverts",
	"preempt", "preempt_delay", "priority", "promote_secondaries", "skip_check_adv_addr",
	"smtp_alert", "state", "strict_mode", "thread_timer_expired", "timer_expired_backup", "track_bfd",
	"track_file", "track_interface", "track_process", "track_script", "track_src_ip",
	"unicast_fault_no_peer", "unicast_peer", "unicast_src_ip", "unicast_ttl", "use_ipvlan",
	"use_vmac", "use_vmac_addr", "v3_checksum_as_v2", "version", "virtual_ipaddress",
	"virtual_ipaddress_excluded", "virtual_router_id", "virtual_routes", "virtual_rules",
	"vmac_garp_intvl", "vmac_xmit_base", "vrf",
}, authenticationWords, authHMACWords)

var authHMACWords = newBlock("auth_hmac", []string{
	"active_key", "anti_replay", "key", "mode", "time_window",
})

var authenticationWords = newBlock("authentication", []string{
	"auth_pass", "auth_type",
})

var garpGroupWords = newBlock("garp_group", []string{
	"garp_interval", "gna_interval", "interface", "interfaces",
})

var vrrpSyncGroupWords = newBlock("vrrp_sync_group", []string{
	"global_tracking", "group", "notify", "notify_backup", "notify_fault", "notify_master",
	"notify_priority_changes", "notify_stop", "smtp_alert", "sync_group_tracking_weight", "track_bfd",
	"track_file", "track_interface", "track_process", "track_script",
})

var trackGroupWords = newBlock("track_group", []string{
	"group",
})

var virtualServerWords = newBlock("virtual_server", []string{
	"alpha", "connect_timeout", "delay_before_retry", "delay_loop", "flag-1", "flag-2", "flag-3",
	"ha_suspend", "hashed", "hysteresis", "inhibit_on_failure", "ip_family", "lb_algo", "lb_kind",
	"lvs_method", "lvs_sched", "mh-fallback", "mh-port", "omega", "ops", "persistence_engine",
	"persistence_granularity", "persistence_timeout", "protocol", "quorum", "quorum_down",
	"quorum_up", "retry", "sh-fallback", "sh-port", "smtp_alert", "snmp_name", "sorry_server",
	"sorry_server_inhibit", "sorry_server_lvs_method", "virtualhost", "warmup", "weight",
	// Not keepalived's: the Alibaba LVS fork's word for lb_kind FNAT's local_address_group.
	"laddr_group_name",
}, realServerWords)

var realServerWords = newBlock("real_server", []string{
	"alpha", "connect_timeout", "delay_before_retry", "delay_loop", "inhibit_on_failure",
	"lthreshold", "lvs_method", "notify_down", "notify_up", "retry", "smtp_alert", "snmp_name",
	"uthreshold", "virtualhost", "warmup", "weight",
},
	miscCheckWords, smtpCheckWords, tcpCheckWords, pingCheckWords, udpCheckWords, httpGetWords,
	sslGetWords, dnsCheckWords, fileCheckWords, bfdCheckWords,
)

var bfdCheckWords = newBlock("BFD_CHECK", []string{
	"alpha", "name",
})

var fileCheckWords = newBlock("FILE_CHECK", []string{
	"track_file", "weight",
})

var dnsCheckWords = newBlock("DNS_CHECK", []string{
	"alpha", "bind_if", "bind_port", "bindto", "connect_ip", "connect_port", "connect_timeout",
	"delay_before_retry", "delay_loop", "fwmark", "log_all_failures", "name", "retry", "type",
	"warmup",
})

var sslGetWords = newBlock("SSL_GET", []string{
	"alpha", "bind_if", "bind_port", "bindto", "connect_ip", "connect_port", "connect_timeout",
	"delay_before_retry", "delay_loop", "enable_sni", "fast_recovery", "fwmark", "http_protocol",
	"log_all_failures", "nb_get_retry", "retry", "sni_name", "tls_compliant", "virtualhost", "warmup",
}, sslGetURLWords)

var sslGetURLWords = newBlock("url", []string{
	"digest", "path", "regex", "regex_max_offset", "regex_min_offset", "regex_no_match",
	"regex_options", "regex_stack", "status_code", "tls_compliant", "virtualhost",
})

var httpGetWords = newBlock("HTTP_GET", []string{
	"alpha", "bind_if", "bind_port", "bindto", "connect_ip", "connect_port", "connect_timeout",
	"delay_before_retry", "delay_loop", "enable_sni", "fast_recovery", "fwmark", "http_protocol",
	"log_all_failures", "nb_get_retry", "retry", "sni_name", "virtualhost", "warmup",
}, httpGetURLWords)

var httpGetURLWords = newBlock("url", []string{
	"digest", "path", "regex", "regex_max_offset", "regex_min_offset", "regex_no_match",
	"regex_options", "regex_stack", "status_code", "virtualhost",
})

var udpCheckWords = newBlock("UDP_CHECK", []string{
	"alpha", "bind_if", "bind_port", "bindto", "connect_ip", "connect_port", "connect_timeout",
	"delay_before_retry", "delay_loop", "fwmark", "log_all_failures", "max_reply_length",
	"min_reply_length", "payload", "require_reply", "retry", "warmup",
})

var pingCheckWords = newBlock("PING_CHECK", []string{
	"alpha", "bind_if", "bind_port", "bindto", "connect_ip", "connect_port", "connect_timeout",
	"delay_before_retry", "delay_loop", "fwmark", "log_all_failures", "retry", "warmup",
})

var tcpCheckWords = newBlock("TCP_CHECK", []string{
	"alpha", "bind_if", "bind_port", "bindto", "connect_ip", "connect_port", "connect_timeout",
	"delay_before_retry", "delay_loop", "fwmark", "log_all_failures", "retry", "warmup",
})

var smtpCheckWords = newBlock("SMTP_CHECK", []string{
	"alpha", "bind_if", "bind_port", "bindto", "connect_ip", "connect_port", "connect_timeout",
	"delay_before_retry", "delay_loop", "fwmark", "helo_name", "log_all_failures", "retry", "warmup",
}, smtpCheckHostWords)

var smtpCheckHostWords = newBlock("host", []string{
	"alpha", "bind_if", "bind_port", "bindto", "connect_ip", "connect_port", "connect_timeout",
	"delay_before_retry", "delay_loop", "fwmark", "log_all_failures", "retry", "warmup",
})

var miscCheckWords = newBlock("MISC_CHECK", []string{
	"alpha", "delay_before_retry", "delay_loop", "log_all_failures", "misc_dynamic", "misc_path",
	"misc_timeout", "retry", "user", "warmup",
})

var sslWords = newBlock("SSL", []string{
	"ca", "certificate", "key", "password",
})

var globalDefsWords = newBlock("global_defs", []string{
	"bfd_cpu_affinity", "bfd_no_swap", "bfd_priority", "bfd_process_name", "bfd_rlimit_rtime",
	"bfd_rlimit_rttime", "bfd_rt_priority", "checker_cpu_affinity", "checker_log_all_failures",
	"checker_no_swap", "checker_priority", "checker_process_name", "checker_rlimit_rtime",
	"checker_rlimit_rttime", "checker_rt_priority", "config_save_dir", "data_use_instance",
	"dbus_no_interface_name", "dbus_service_name", "default_interface", "disable_local_igmp",
	"dynamic_interfaces", "enable_dbus", "enable_script_security", "enable_snmp_checker",
	"enable_snmp_keepalived", "enable_snmp_rfc", "enable_snmp_rfcv2", "enable_snmp_rfcv3",
	"enable_snmp_vrrp", "enable_traps", "fifo_write_vrrp_states_on_reload", "include_check",
	"iproute_etc_dir", "iproute_usr_dir", "json_dump_file", "json_version", "log_unknown_vrids",
	"lvs_flush", "lvs_flush_on_stop", "lvs_flush_onstop", "lvs_netlink_cmd_rcv_bufs",
	"lvs_netlink_cmd_rcv_bufs_force", "lvs_netlink_monitor_rcv_bufs",
	"lvs_netlink_monitor_rcv_bufs_force", "lvs_notify_fifo", "lvs_notify_fifo_script",
	"lvs_process_name", "lvs_sync_daemon", "lvs_timeouts", "max_auto_priority",
	"min_auto_priority_delay", "nftables", "nftables_counters", "nftables_ifindex", "nftables_ipvs",
	"nftables_ipvs_priority", "nftables_ipvs_start_fwmark", "nftables_priority", "no_checker_emails",
	"no_email_faults", "notification_email", "notification_email_from", "notify_fifo",
	"notify_fifo_script", "process_monitor_rcv_bufs", "process_monitor_rcv_bufs_force",
	"process_name", "process_names", "random_seed", "reload_check_config", "reload_file",
	"reload_repeat", "reload_time_file", "router_id", "rs_init_notifies", "script_user",
	"set_supplementary_groups", "shutdown_script", "shutdown_script_timeout", "smtp_alert",
	"smtp_alert_checker", "smtp_alert_vrrp", "smtp_connect_timeout", "smtp_helo_name", "smtp_server",
	"snmp_rs_stats_update_interval", "snmp_socket", "snmp_vs_stats_update_interval", "startup_script",
	"startup_script_timeout", "state_dump_file", "stats_dump_file", "tmp_config_directory", "umask",
	"use_symlink_paths", "v3_checksum_as_v2", "vmac_addr_prefix", "vmac_prefix",
	"vrrp_check_unicast_src", "vrrp_cpu_affinity", "vrrp_delay_after_boot", "vrrp_down_timer_adverts",
	"vrrp_garp_extra_if", "vrrp_garp_interval", "vrrp_garp_lower_prio_delay",
	"vrrp_garp_lower_prio_repeat", "vrrp_garp_master_delay", "vrrp_garp_master_refresh",
	"vrrp_garp_master_refresh_repeat", "vrrp_garp_master_repeat", "vrrp_gna_interval",
	"vrrp_higher_prio_send_advert", "vrrp_ipsets", "vrrp_iptables", "vrrp_lower_prio_no_advert",
	"vrrp_mcast_group4", "vrrp_mcast_group6", "vrrp_min_garp", "vrrp_netlink_cmd_rcv_bufs",
	"vrrp_netlink_cmd_rcv_bufs_force", "vrrp_netlink_monitor_rcv_bufs",
	"vrrp_netlink_monitor_rcv_bufs_force", "vrrp_no_swap", "vrrp_notify_fifo",
	"vrrp_notify_fifo_script", "vrrp_notify_priority_changes", "vrrp_owner_ignore_adverts",
	"vrrp_priority", "vrrp_process_name", "vrrp_rlimit_rtime", "vrrp_rlimit_rttime",
	"vrrp_rt_priority", "vrrp_rx_bufs_multiplier", "vrrp_rx_bufs_policy", "vrrp_skip_check_adv_addr",
	"vrrp_startup_delay", "vrrp_strict", "vrrp_version", "vrrp_vmac_garp_intvl",
})
