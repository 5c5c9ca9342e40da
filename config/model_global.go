package config

import (
	"fmt"
	"time"
)

// This file holds the model of global_defs' tuning words: groups of settings about
// keepalived's processes and what surrounds them. xlb parses and checks them and acts on
// none (each draws a warning); each group is nil until one of its words is written.

// Processes are the process words of global_defs.
type Processes struct {
	VRRP    *ProcessTuning `json:"vrrp,omitempty"`    // vrrp_*
	Checker *ProcessTuning `json:"checker,omitempty"` // checker_* (lvs_process_name)
	BFD     *ProcessTuning `json:"bfd,omitempty"`     // bfd_*
	Name    string         `json:"process_name,omitempty"`
	Names   bool           `json:"process_names,omitempty"` // name the children keepalived_vrrp, ...
	// MaxAutoPriority is max_auto_priority: the realtime priority keepalived may raise
	// itself to when it runs late, -1 (never) ..99.
	MaxAutoPriority *int `json:"max_auto_priority,omitempty"`
	// MinAutoPriorityDelay is min_auto_priority_delay (microseconds in the file): how late
	// counts as late.
	MinAutoPriorityDelay   time.Duration `json:"min_auto_priority_delay,omitempty"`
	UseSymlinkPaths        bool          `json:"use_symlink_paths,omitempty"`
	SetSupplementaryGroups bool          `json:"set_supplementary_groups,omitempty"`
	Umask                  *FileMode     `json:"umask,omitempty"`
}

// FileMode is a set of permission bits, 0..0777; it writes itself in octal ("022").
type FileMode uint32

// MarshalText writes m as an octal number with a leading 0.
func (m FileMode) MarshalText() ([]byte, error) { return []byte(fmt.Sprintf("%#o", uint32(m))), nil }

// ProcessTuning is how one of keepalived's child processes runs: PREFIX_process_name,
// _priority, _rt_priority, _no_swap, _cpu_affinity, _rlimit_rttime.
type ProcessTuning struct {
	Name         string        `json:"name,omitempty"`
	Priority     *int          `json:"priority,omitempty"`    // nice, -20..19
	RTPriority   int           `json:"rt_priority,omitempty"` // SCHED_RR priority, 1..99
	NoSwap       bool          `json:"no_swap,omitempty"`     // mlockall
	CPUAffinity  []int         `json:"cpu_affinity,omitempty"`
	RlimitRTTime time.Duration `json:"rlimit_rttime,omitempty"` // RLIMIT_RTTIME (microseconds in the file)
}

// NotifyFifos are the FIFOs keepalived writes state changes to.
type NotifyFifos struct {
	Global *NotifyFifo `json:"notify_fifo,omitempty"`      // notify_fifo, notify_fifo_script
	VRRP   *NotifyFifo `json:"vrrp_notify_fifo,omitempty"` // vrrp_notify_fifo, ..._script
	LVS    *NotifyFifo `json:"lvs_notify_fifo,omitempty"`  // lvs_notify_fifo, ..._script
	// WriteVRRPStatesOnReload writes every instance's state to the FIFOs after a reload.
	WriteVRRPStatesOnReload bool `json:"fifo_write_vrrp_states_on_reload,omitempty"`
}

// NotifyFifo is "notify_fifo PATH [USER [GROUP]]" with its "notify_fifo_script COMMAND".
type NotifyFifo struct {
	Path   string `json:"path,omitempty"`
	User   string `json:"user,omitempty"`
	Group  string `json:"group,omitempty"`
	Script string `json:"script,omitempty"` // command line reading the FIFO, as written
}

// SNMP is keepalived's AgentX subagent.
type SNMP struct {
	Socket  string `json:"snmp_socket,omitempty"`      // the master agent, as written
	VRRP    bool   `json:"enable_snmp_vrrp,omitempty"` // also enable_snmp_keepalived
	Checker bool   `json:"enable_snmp_checker,omitempty"`
	RFC     bool   `json:"enable_snmp_rfc,omitempty"`
	RFCv2   bool   `json:"enable_snmp_rfcv2,omitempty"`
	RFCv3   bool   `json:"enable_snmp_rfcv3,omitempty"`
	// The stats refresh intervals, 0.001..30 s.
	VSStatsUpdateInterval time.Duration `json:"snmp_vs_stats_update_interval,omitempty"`
	RSStatsUpdateInterval time.Duration `json:"snmp_rs_stats_update_interval,omitempty"`
}

// DBus is keepalived's D-Bus service.
type DBus struct {
	Enable          bool   `json:"enable_dbus,omitempty"`
	ServiceName     string `json:"dbus_service_name,omitempty"`
	NoInterfaceName string `json:"dbus_no_interface_name,omitempty"`
}

// Firewall holds the nftables, iptables and ipsets keepalived fills (VIPs under
// vrrp_strict, and the fwmarks of IPVS services).
type Firewall struct {
	Nftables                *string  `json:"nftables,omitempty"` // table; "keepalived" when written bare
	NftablesPriority        int      `json:"nftables_priority,omitempty"`
	NftablesIfindex         bool     `json:"nftables_ifindex,omitempty"`
	NftablesCounters        bool     `json:"nftables_counters,omitempty"`
	NftablesIPVS            *string  `json:"nftables_ipvs,omitempty"` // table; "keepalived_ipvs" when written bare
	NftablesIPVSPriority    int      `json:"nftables_ipvs_priority,omitempty"`
	NftablesIPVSStartFwmark uint32   `json:"nftables_ipvs_start_fwmark,omitempty"`
	IPTables                []string `json:"vrrp_iptables,omitempty"` // chain names, as written
	IPSets                  []string `json:"vrrp_ipsets,omitempty"`   // set names, as written
}

// RcvBufs are the receive buffers of keepalived's netlink and process monitor sockets.
type RcvBufs struct {
	VRRPCmd        *RcvBuf `json:"vrrp_netlink_cmd,omitempty"`
	VRRPMonitor    *RcvBuf `json:"vrrp_netlink_monitor,omitempty"`
	LVSCmd         *RcvBuf `json:"lvs_netlink_cmd,omitempty"`
	LVSMonitor     *RcvBuf `json:"lvs_netlink_monitor,omitempty"`
	ProcessMonitor *RcvBuf `json:"process_monitor,omitempty"`
}

// RcvBuf is PREFIX_rcv_bufs BYTES with PREFIX_rcv_bufs_force (SO_RCVBUFFORCE).
type RcvBuf struct {
	Bytes uint32 `json:"rcv_bufs,omitempty"`
	Force bool   `json:"rcv_bufs_force,omitempty"`
}

// VRRPDefaults are global_defs' VRRP words not in GlobalDefs itself: defaults of every
// instance and how the VRRP process runs.
type VRRPDefaults struct {
	CheckUnicastSrc       bool `json:"vrrp_check_unicast_src,omitempty"`
	DownTimerAdverts      int  `json:"vrrp_down_timer_adverts,omitempty"` // 1..100
	HigherPrioSendAdvert  bool `json:"vrrp_higher_prio_send_advert,omitempty"`
	LowerPrioNoAdvert     bool `json:"vrrp_lower_prio_no_advert,omitempty"`
	MinGarp               bool `json:"vrrp_min_garp,omitempty"`
	NotifyPriorityChanges bool `json:"vrrp_notify_priority_changes,omitempty"`
	OwnerIgnoreAdverts    bool `json:"vrrp_owner_ignore_adverts,omitempty"`
	// RxBufsPolicy is vrrp_rx_bufs_policy: MTU, ADVERT or a size in bytes.
	RxBufsPolicy     string        `json:"vrrp_rx_bufs_policy,omitempty"`
	RxBufsMultiplier int           `json:"vrrp_rx_bufs_multiplier,omitempty"`
	StartupDelay     time.Duration `json:"vrrp_startup_delay,omitempty"`
	DelayAfterBoot   time.Duration `json:"vrrp_delay_after_boot,omitempty"` // since boot, not start
	LogUnknownVRIDs  bool          `json:"log_unknown_vrids,omitempty"`
	VMACPrefix       string        `json:"vmac_prefix,omitempty"`      // of VMAC interface names
	VMACAddrPrefix   string        `json:"vmac_addr_prefix,omitempty"` // of their addresses' names
	// V3ChecksumAsV2 is every instance's v3_checksum_as_v2 default.
	V3ChecksumAsV2    bool `json:"v3_checksum_as_v2,omitempty"`
	DisableLocalIGMP  bool `json:"disable_local_igmp,omitempty"`
	DynamicInterfaces bool `json:"dynamic_interfaces,omitempty"`
	AllowIfChanges    bool `json:"allow_if_changes,omitempty"` // dynamic_interfaces allow_if_changes
}

// CheckerDefaults are global_defs' words for the checker process and IPVS.
type CheckerDefaults struct {
	LogAllFailures bool `json:"checker_log_all_failures,omitempty"`
	LVSFlush       bool `json:"lvs_flush,omitempty"`
	// LVSFlushOnStop is lvs_flush_on_stop: "all", or "VS" for keepalived's own services.
	LVSFlushOnStop  string `json:"lvs_flush_on_stop,omitempty"`
	RSInitNotifies  bool   `json:"rs_init_notifies,omitempty"`
	NoCheckerEmails bool   `json:"no_checker_emails,omitempty"`
}

// Alerts are global_defs' smtp_alert words; nil pointers are not written.
type Alerts struct {
	SMTPAlert     *bool `json:"smtp_alert,omitempty"`
	VRRP          *bool `json:"smtp_alert_vrrp,omitempty"`
	Checker       *bool `json:"smtp_alert_checker,omitempty"`
	NoEmailFaults bool  `json:"no_email_faults,omitempty"`
}

// LifeScripts are the commands keepalived runs when it starts and stops.
type LifeScripts struct {
	Startup         string        `json:"startup_script,omitempty"`
	StartupTimeout  time.Duration `json:"startup_script_timeout,omitempty"` // 1..1000 s
	Shutdown        string        `json:"shutdown_script,omitempty"`
	ShutdownTimeout time.Duration `json:"shutdown_script_timeout,omitempty"` // 1..1000 s
}

// Reload holds how keepalived reloads its configuration.
type Reload struct {
	CheckConfig        *string  `json:"reload_check_config,omitempty"` // log file; "" when written bare
	TimeFile           string   `json:"reload_time_file,omitempty"`
	Repeat             bool     `json:"reload_repeat,omitempty"`
	File               *string  `json:"reload_file,omitempty"` // "" when written bare: keepalived's default
	ConfigSaveDir      string   `json:"config_save_dir,omitempty"`
	TmpConfigDirectory string   `json:"tmp_config_directory,omitempty"`
	IncludeCheck       []string `json:"include_check,omitempty"` // its options, as written
	DataUseInstance    bool     `json:"data_use_instance,omitempty"`
}

// Files are the files keepalived writes its state to, and where iproute2's tables are.
type Files struct {
	JSONVersion   int    `json:"json_version,omitempty"` // 1 or 2
	StateDump     string `json:"state_dump_file,omitempty"`
	StatsDump     string `json:"stats_dump_file,omitempty"`
	JSONDump      string `json:"json_dump_file,omitempty"`
	IProuteEtcDir string `json:"iproute_etc_dir,omitempty"`
	IProuteUsrDir string `json:"iproute_usr_dir,omitempty"`
	RandomSeed    uint32 `json:"random_seed,omitempty"`
}
