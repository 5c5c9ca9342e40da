package config

import (
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// This file holds the model of the blocks xlb parses and checks but does not act on yet:
// global_defs, the static_* blocks, VRRP and the health checkers. Field comments give
// keepalived's word where the Go name differs.

// GlobalDefs is "global_defs { ... }". Words not modelled here draw a "not supported"
// warning.
type GlobalDefs struct {
	RouterID              string        `json:"router_id,omitempty"`
	NotificationEmail     []string      `json:"notification_email,omitempty"`
	NotificationEmailFrom string        `json:"notification_email_from,omitempty"`
	SMTPServer            string        `json:"smtp_server,omitempty"` // address or host name
	SMTPPort              uint16        `json:"smtp_port,omitempty"`   // second word of smtp_server; 0: 25
	SMTPHeloName          string        `json:"smtp_helo_name,omitempty"`
	SMTPConnectTimeout    time.Duration `json:"smtp_connect_timeout,omitempty"`
	EnableTraps           bool          `json:"enable_traps,omitempty"`
	ScriptUser            string        `json:"script_user,omitempty"`  // user
	ScriptGroup           string        `json:"script_group,omitempty"` // optional second word of script_user
	EnableScriptSecurity  bool          `json:"enable_script_security,omitempty"`
	DefaultInterface      string        `json:"default_interface,omitempty"`
	McastGroup4           netip.Addr    `json:"vrrp_mcast_group4,omitzero"`
	McastGroup6           netip.Addr    `json:"vrrp_mcast_group6,omitzero"`
	VRRPVersion           int           `json:"vrrp_version,omitempty"`
	VRRPStrict            bool          `json:"vrrp_strict,omitempty"`
	SkipCheckAdvAddr      bool          `json:"vrrp_skip_check_adv_addr,omitempty"`
	Garp                  Garp          `json:"garp"` // vrrp_garp_* defaults of every instance
	LVSTimeouts           LVSTimeouts   `json:"lvs_timeouts"`
	// LVSSyncDaemon is lvs_sync_daemon, or what an instance's deprecated
	// lvs_sync_daemon_interface stands for; nil: no IPVS connection sync.
	LVSSyncDaemon *LVSSyncDaemon `json:"lvs_sync_daemon,omitempty"`

	// Tuning of keepalived's processes and surroundings (model_global.go), nil until one
	// of a group's words is written.
	Process         *Processes       `json:"process,omitempty"`
	NotifyFifo      *NotifyFifos     `json:"notify_fifo,omitempty"`
	SNMP            *SNMP            `json:"snmp,omitempty"`
	DBus            *DBus            `json:"dbus,omitempty"`
	Firewall        *Firewall        `json:"firewall,omitempty"`
	RcvBufs         *RcvBufs         `json:"rcv_bufs,omitempty"`
	VRRPDefaults    *VRRPDefaults    `json:"vrrp,omitempty"`
	CheckerDefaults *CheckerDefaults `json:"checker,omitempty"`
	Alerts          *Alerts          `json:"alerts,omitempty"`
	Scripts         *LifeScripts     `json:"scripts,omitempty"`
	Reload          *Reload          `json:"reload,omitempty"`
	Files           *Files           `json:"files,omitempty"`
}

// LVSSyncDaemon is global_defs' "lvs_sync_daemon IF [[inst] INSTANCE] [id N] [maxlen N]
// [port N] [ttl N] [group ADDR]": IPVS's connection sync daemon, whose master/backup role
// follows the VRRP instance when one is named.
type LVSSyncDaemon struct {
	Pos       Pos    `json:"-"` // of the lvs_sync_daemon (or lvs_sync_daemon_interface) keyword
	Interface string `json:"interface"`
	Instance  string `json:"inst,omitempty"` // vrrp_instance name; empty: both daemons always run
	// SyncID is "id", 0..255; nil: the instance's virtual_router_id (0 without instance).
	SyncID *int       `json:"id,omitempty"`
	MaxLen int        `json:"maxlen,omitempty"` // largest sync message, 1..65507; 0: the kernel's
	Port   uint16     `json:"port,omitempty"`   // UDP port; 0: 8848
	TTL    int        `json:"ttl,omitempty"`    // 1..255; 0: the kernel's
	Group  netip.Addr `json:"group,omitzero"`   // multicast group; invalid: 224.0.0.81
}

// Garp holds the gratuitous ARP / unsolicited NA settings, keepalived's vrrp_garp_* in
// global_defs and garp_* in an instance. Zero means keepalived's default.
type Garp struct {
	MasterDelay         time.Duration `json:"master_delay,omitempty"`  // second burst after becoming master; default 5s
	MasterRepeat        int           `json:"master_repeat,omitempty"` // messages per burst; default 5
	MasterRefresh       time.Duration `json:"master_refresh,omitempty"`
	MasterRefreshRepeat int           `json:"master_refresh_repeat,omitempty"`
	LowerPrioDelay      time.Duration `json:"lower_prio_delay,omitempty"`
	LowerPrioRepeat     int           `json:"lower_prio_repeat,omitempty"`
	Interval            time.Duration `json:"interval,omitempty"` // vrrp_garp_interval: between two ARPs
	GNAInterval         time.Duration `json:"gna_interval,omitempty"`
	// ExtraIf is garp_extra_if (vrrp_garp_extra_if in global_defs; vmac_garp_intvl before
	// keepalived 2.2.3); nil: not written, the global setting (or off).
	ExtraIf *GarpExtraIf `json:"extra_if,omitempty"`
}

// GarpExtraIf is "garp_extra_if [all] SECONDS": the pace of the extra gratuitous ARPs a
// master with a VMAC sends on its base interface (all: on every interface with a VIP).
type GarpExtraIf struct {
	Interval time.Duration `json:"interval"` // whole seconds, 0..86400; 0 turns it off
	All      bool          `json:"all,omitempty"`
}

// ChecksumCompat is an instance's old_unicast_checksum: keepalived up to 1.3.6 computed
// VRRPv3 IPv4 unicast checksums over the multicast group instead of the destination.
type ChecksumCompat string

const (
	// ChecksumCompatAuto (not written) sends RFC 5798 checksums and switches to the old
	// ones when a peer sends them.
	ChecksumCompatAuto ChecksumCompat = ""
	// ChecksumCompatOld (old_unicast_checksum) sends the old checksums.
	ChecksumCompatOld ChecksumCompat = "old"
	// ChecksumCompatNever (old_unicast_checksum never) never switches to the old ones.
	ChecksumCompatNever ChecksumCompat = "never"
)

// AuthHMAC is an instance's "auth_hmac { key ID VALUE; active_key ID; ... }".
type AuthHMAC struct {
	Keys      []HMACKey `json:"key"`
	ActiveKey int       `json:"active_key"` // the id of the key adverts are signed with
	// AntiReplay is "time" (sequence numbers are times, within TimeWindow; the default)
	// or "monotonic" (sequence numbers only grow).
	AntiReplay string `json:"anti_replay"`
	// TimeWindow is time_window, 1..300 whole seconds; 0: 3 × advert_int, at least 5s.
	TimeWindow time.Duration `json:"time_window,omitempty"`
	// Mode is "enforce" (the default), "permissive" (also take unsigned adverts) or
	// "receive-only" (take unsigned adverts and send none).
	Mode string `json:"mode"`
}

// HMACKey is one "key ID VALUE" of auth_hmac: the secret inline (VALUE as ASCII, or
// hex:DIGITS) or, with file:PATH, the file that holds it, read when xlb acts on it.
type HMACKey struct {
	Pos    Pos      `json:"-"`
	ID     int      `json:"id"` // 1..255
	Secret HexBytes `json:"secret,omitempty"`
	File   string   `json:"file,omitempty"`
}

// IPVlan is "use_ipvlan [[name] IF] [ADDR[/LEN]] [bridge|private|vepa] [group G]": the
// instance runs on an ipvlan interface it creates.
type IPVlan struct {
	Name  string       `json:"name,omitempty"`   // empty: keepalived's vrrp.VRID
	Addr  netip.Prefix `json:"address,omitzero"` // required for IPv4 instances
	Mode  string       `json:"mode,omitempty"`   // bridge (empty), private or vepa
	Group string       `json:"group,omitempty"`  // link group, number or name
}

// LVSTimeouts is "lvs_timeouts [tcp T] [tcpfin T] [udp T]": IPVS connection timeouts.
type LVSTimeouts struct {
	TCP    time.Duration `json:"tcp,omitempty"`
	TCPFin time.Duration `json:"tcpfin,omitempty"`
	UDP    time.Duration `json:"udp,omitempty"`
}

// VirtualIP is one line of virtual_ipaddress, virtual_ipaddress_excluded or
// static_ipaddress: "ADDR[/LEN] [brd ADDR] [dev IF] [scope S] [label L] [peer ADDR] ...".
type VirtualIP struct {
	Pos       Pos          `json:"-"`
	Prefix    netip.Prefix `json:"prefix"` // an address without /LEN is a host: /32 or /128
	Broadcast netip.Addr   `json:"brd,omitzero"`
	Peer      netip.Prefix `json:"peer,omitzero"`
	Dev       string       `json:"dev,omitempty"`
	Scope     string       `json:"scope,omitempty"`
	Label     string       `json:"label,omitempty"`
	NoTrack   bool         `json:"no_track,omitempty"`
	Options   []string     `json:"options,omitempty"` // other words, as written (home, -nodad, ...)
}

// Route is one line of static_routes or virtual_routes:
// "[TYPE] [src ADDR] [to] DEST [via|gw ADDR] [dev IF] [table T] [metric N] ...".
type Route struct {
	Pos     Pos          `json:"-"`
	Type    string       `json:"type,omitempty"` // blackhole, unreachable, prohibit, throw; empty for unicast
	To      netip.Prefix `json:"to"`
	Via     netip.Addr   `json:"via,omitzero"`
	Src     netip.Addr   `json:"src,omitzero"`
	Dev     string       `json:"dev,omitempty"`
	Table   string       `json:"table,omitempty"`
	Metric  int          `json:"metric,omitempty"`
	Scope   string       `json:"scope,omitempty"`
	Options []string     `json:"options,omitempty"` // other words, as written (or ADDR, onlink, ...)
}

// Rule is one line of static_rules or virtual_rules: "[from P] [to P] [table T] ...".
type Rule struct {
	Pos     Pos          `json:"-"`
	From    netip.Prefix `json:"from,omitzero"`
	To      netip.Prefix `json:"to,omitzero"`
	Table   string       `json:"table,omitempty"`
	Options []string     `json:"options,omitempty"`
}

// Script is "vrrp_script NAME { ... }": a command whose exit status moves the priority of
// the instances that track it.
type Script struct {
	Pos      Pos           `json:"-"`
	Name     string        `json:"name"`
	Script   string        `json:"script"`   // the command line, as written
	Interval time.Duration `json:"interval"` // default 1s
	Timeout  time.Duration `json:"timeout,omitempty"`
	Weight   int           `json:"weight,omitempty"` // -253..253; 0: a failure means FAULT
	Reverse  bool          `json:"weight_reverse,omitempty"`
	Rise     int           `json:"rise"` // default 1
	Fall     int           `json:"fall"` // default 1
	User     string        `json:"user,omitempty"`
	Group    string        `json:"group,omitempty"` // second word of user
	InitFail bool          `json:"init_fail,omitempty"`
}

// TrackFile is "vrrp_track_file NAME { file PATH; weight N }": a file whose number moves
// the priority of the instances that track it.
type TrackFile struct {
	Pos     Pos    `json:"-"`
	Name    string `json:"name"`
	File    string `json:"file"`
	Weight  int    `json:"weight"` // default 1
	Reverse bool   `json:"weight_reverse,omitempty"`
	Init    string `json:"init_file,omitempty"` // the init_file line's words, as written
}

// Track is one line of track_script, track_interface, track_file, track_process or
// track_bfd: a name and an optional weight.
type Track struct {
	Pos     Pos    `json:"-"`
	Name    string `json:"name"`
	Weight  *int   `json:"weight,omitempty"`  // nil: the tracked object's own weight
	Reverse bool   `json:"reverse,omitempty"` // reverse; noreverse leaves it false
}

// TrackProcess is "vrrp_track_process NAME { ... }": a process whose count of running
// copies moves the priority of the instances that track it.
type TrackProcess struct {
	Pos     Pos      `json:"-"`
	Name    string   `json:"name"`
	Process string   `json:"process"`          // the command name (first word of process)
	Params  []string `json:"params,omitempty"` // the rest of the process line
	// ParamMatch is how Params are matched: "exact" (the default once parameters or a bare
	// param_match are given), "initial" (the last may be longer) or "partial" (the first
	// ones match); empty when only the name is matched.
	ParamMatch string `json:"param_match,omitempty"`
	// FullCommand matches /proc/PID/cmdline instead of the name; set by full_command, and
	// implied by parameters or param_match, as in keepalived.
	FullCommand bool `json:"full_command,omitempty"`
	Weight      int  `json:"weight,omitempty"` // -254..254; 0: a failure means FAULT
	Reverse     bool `json:"weight_reverse,omitempty"`
	Quorum      int  `json:"quorum"` // least running copies for success, default 1 (0 with quorum_max 0)
	// QuorumMax is the most running copies for success; nil: no limit. 0 means the
	// process must not run.
	QuorumMax      *int          `json:"quorum_max,omitempty"`
	ForkDelay      time.Duration `json:"fork_delay,omitempty"`      // fork_delay, or delay
	TerminateDelay time.Duration `json:"terminate_delay,omitempty"` // terminate_delay, or delay
}

// BFDInstance is "bfd_instance NAME { ... }": a BFD session (RFC 5880) to a neighbor,
// tracked by VRRP instances (track_bfd) and checkers (BFD_CHECK). keepalived writes the
// intervals in milliseconds; the model and the dump hold durations.
type BFDInstance struct {
	Pos        Pos           `json:"-"`
	Name       string        `json:"name"`
	Neighbor   netip.Addr    `json:"neighbor_ip"`        // neighbor_ip, alias neighbour_ip
	Source     netip.Addr    `json:"source_ip,omitzero"` // the neighbor's family
	MinRx      time.Duration `json:"min_rx"`             // default 10ms
	MinTx      time.Duration `json:"min_tx"`             // default 10ms
	IdleTx     time.Duration `json:"idle_tx"`            // default 1s, at least 1s
	Multiplier int           `json:"multiplier"`         // missed packets before down, 1..255; default 5
	Passive    bool          `json:"passive,omitempty"`
	// TTL is ttl (IPv4) or hoplimit (IPv6), 1..255; default 255 for IPv4, 64 for IPv6.
	TTL      int  `json:"ttl"`
	MaxHops  int  `json:"max_hops,omitempty"` // -1..TTL; 255 (or -1) turns the hop check off
	Multihop bool `json:"multihop,omitempty"` // RFC 5883: port 4784 instead of 3784
	Weight   int  `json:"weight,omitempty"`   // -253..253, the default of track_bfd lines
	Reverse  bool `json:"weight_reverse,omitempty"`
	// VRRP and Checker send the session's events only to that process; neither: both.
	VRRP    bool `json:"vrrp,omitempty"`
	Checker bool `json:"checker,omitempty"`
}

// SSL is the top-level "SSL { ... }" block of keepalived's checker process: files PEM
// encoded, as written.
type SSL struct {
	Password    string `json:"password,omitempty"` // of Key
	CA          string `json:"ca,omitempty"`       // the CA file SSL_GET verifies servers with
	Certificate string `json:"certificate,omitempty"`
	Key         string `json:"key,omitempty"`
}

// PeerTTL is a unicast_peer line's "ADDR [min_ttl N] [max_ttl N]", 0..255;
// unset bounds are 0 and 255.
type PeerTTL struct {
	Addr   netip.Addr `json:"address"`
	MinTTL int        `json:"min_ttl"`
	MaxTTL int        `json:"max_ttl"`
}

// GarpGroup is "garp_group { ... }": the pace of gratuitous ARPs and unsolicited NAs on
// one interface, or on a set of interfaces behind one switch.
type GarpGroup struct {
	Pos          Pos           `json:"-"`
	GarpInterval time.Duration `json:"garp_interval,omitempty"`
	GNAInterval  time.Duration `json:"gna_interval,omitempty"`
	Interface    string        `json:"interface,omitempty"`  // the limits apply per interface
	Interfaces   []string      `json:"interfaces,omitempty"` // the limits apply to them together
}

// Notify holds the notify scripts of an instance or sync group, each a command line as
// written.
type Notify struct {
	Master string `json:"notify_master,omitempty"`
	Backup string `json:"notify_backup,omitempty"`
	Fault  string `json:"notify_fault,omitempty"`
	Stop   string `json:"notify_stop,omitempty"`
	Any    string `json:"notify,omitempty"` // notify: called on every change with the state
	// Deleted is notify_deleted's script (instances only): run when a reload removes the
	// instance.
	Deleted string `json:"notify_deleted,omitempty"`
}

// SyncGroup is "vrrp_sync_group NAME { group { INSTANCE ... } ... }": instances that
// change state together.
type SyncGroup struct {
	Pos             Pos      `json:"-"`
	Name            string   `json:"name"`
	Group           []string `json:"group"` // vrrp_instance names
	Notify          Notify   `json:"notify"`
	SMTPAlert       bool     `json:"smtp_alert,omitempty"`
	GlobalTracking  bool     `json:"global_tracking,omitempty"`
	TrackScripts    []Track  `json:"track_script,omitempty"`
	TrackInterfaces []Track  `json:"track_interface,omitempty"`
	TrackFiles      []Track  `json:"track_file,omitempty"`
	TrackProcesses  []Track  `json:"track_process,omitempty"`
	TrackBFDs       []Track  `json:"track_bfd,omitempty"`
	// NotifyPriorityChanges sends notify on priority changes too.
	NotifyPriorityChanges bool `json:"notify_priority_changes,omitempty"`
	// TrackingWeight lets the members' tracked objects move their priorities
	// (sync_group_tracking_weight) instead of putting the group in FAULT.
	TrackingWeight bool `json:"sync_group_tracking_weight,omitempty"`
}

// Instance is "vrrp_instance NAME { ... }": one VRRP virtual router (RFC 5798).
type Instance struct {
	Pos       Pos    `json:"-"`
	Name      string `json:"name"`
	State     string `json:"state"` // MASTER or BACKUP, the initial state; default BACKUP
	Interface string `json:"interface,omitempty"`
	VRID      int    `json:"virtual_router_id"` // 1..255
	Priority  int    `json:"priority"`          // 1..255; default 100
	// AdvertInt is advert_int: default 1s; VRRPv3 counts in centiseconds.
	AdvertInt time.Duration `json:"advert_int"`
	Version   int           `json:"version,omitempty"` // 2 or 3; 0: global_defs' vrrp_version

	UseVMAC  bool   `json:"use_vmac,omitempty"`
	VMACName string `json:"vmac_name,omitempty"` // optional word after use_vmac
	// VMACAddr is use_vmac's MAC address; nil: VRRP's virtual MAC.
	VMACAddr          MAC          `json:"vmac_addr,omitempty"`
	VMACNetlinkNotify bool         `json:"vmac_netlink_notify_msg,omitempty"` // use_vmac netlink_notify_msg
	VMACGroup         string       `json:"vmac_group,omitempty"`              // use_vmac group G: link group
	VMACXmitBase      bool         `json:"vmac_xmit_base,omitempty"`
	DontTrackPrimary  bool         `json:"dont_track_primary,omitempty"`
	McastSrcIP        netip.Addr   `json:"mcast_src_ip,omitzero"`
	UnicastSrcIP      netip.Addr   `json:"unicast_src_ip,omitzero"`
	UnicastPeers      []netip.Addr `json:"unicast_peer,omitempty"`
	// UnicastPeerTTLs are the peers written with min_ttl / max_ttl: the TTL
	// range their adverts must arrive with.
	UnicastPeerTTLs        []PeerTTL     `json:"unicast_peer_ttl,omitempty"`
	LVSSyncDaemonInterface string        `json:"lvs_sync_daemon_interface,omitempty"`
	Garp                   Garp          `json:"garp"` // garp_*: this instance's own settings
	Auth                   *Auth         `json:"authentication,omitempty"`
	NoPreempt              bool          `json:"nopreempt,omitempty"`
	PreemptDelay           time.Duration `json:"preempt_delay,omitempty"`
	Accept                 *bool         `json:"accept,omitempty"` // accept / no_accept; nil: keepalived's default
	StrictMode             bool          `json:"strict_mode,omitempty"`
	NativeIPv6             bool          `json:"native_ipv6,omitempty"`
	SMTPAlert              bool          `json:"smtp_alert,omitempty"`
	Notify                 Notify        `json:"notify"`
	// NotifyMasterRxLowerPri runs when a master hears a lower priority master.
	NotifyMasterRxLowerPri string     `json:"notify_master_rx_lower_pri,omitempty"`
	NotifyPriorityChanges  bool       `json:"notify_priority_changes,omitempty"`
	McastDstIP             netip.Addr `json:"mcast_dst_ip,omitzero"` // multicast (IPv6: link-local); invalid: the VRRP group
	UnicastTTL             int        `json:"unicast_ttl,omitempty"` // 0..255; 0: 255
	CheckUnicastSrc        bool       `json:"check_unicast_src,omitempty"`
	UnicastFaultNoPeer     bool       `json:"unicast_fault_no_peer,omitempty"`
	TrackSrcIP             bool       `json:"track_src_ip,omitempty"`
	PromoteSecondaries     bool       `json:"promote_secondaries,omitempty"`
	SkipCheckAdvAddr       bool       `json:"skip_check_adv_addr,omitempty"`
	HigherPrioSendAdvert   bool       `json:"higher_prio_send_advert,omitempty"`
	LowerPrioNoAdvert      bool       `json:"lower_prio_no_advert,omitempty"`
	OwnerIgnoreAdverts     bool       `json:"owner_ignore_adverts,omitempty"`
	DownTimerAdverts       int        `json:"down_timer_adverts,omitempty"` // 1..100; 0: 3 adverts
	VRF                    string     `json:"vrf,omitempty"`

	// AuthHMAC is auth_hmac { ... }: keepalived's HMAC-SHA256 trailer on adverts, which
	// replaces authentication; nil when not written.
	AuthHMAC    *AuthHMAC `json:"auth_hmac,omitempty"`
	UseVMACAddr bool      `json:"use_vmac_addr,omitempty"` // a VMAC on every interface a VIP names
	IPVlan      *IPVlan   `json:"use_ipvlan,omitempty"`    // use_ipvlan; nil: not written
	// NotifyDeleted sends DELETED instead of FAULT when a reload removes the instance
	// (notify_deleted); Notify.Deleted is its optional script.
	NotifyDeleted bool `json:"notify_deleted,omitempty"`
	// OldUnicastChecksum is old_unicast_checksum: how VRRPv3 IPv4 unicast checksums
	// keepalived 1.3.6 and older computed are sent and recognised.
	OldUnicastChecksum ChecksumCompat `json:"old_unicast_checksum,omitempty"`
	// V3ChecksumAsV2 leaves the pseudo-header out of VRRPv3 IPv4 checksums; nil:
	// global_defs' v3_checksum_as_v2.
	V3ChecksumAsV2  *bool  `json:"v3_checksum_as_v2,omitempty"`
	KernelRxBufSize uint32 `json:"kernel_rx_buf_size,omitempty"` // SO_RCVBUF bytes; 0: vrrp_rx_bufs_policy
	Debug           int    `json:"debug,omitempty"`              // 0..4
	// NoVirtualIPs allows an instance without virtual_ipaddress (no_virtual_ipaddress).
	NoVirtualIPs bool `json:"no_virtual_ipaddress,omitempty"`
	// TimerExpiredBackup is timer_expired_backup (alias thread_timer_expired): with
	// nopreempt, go back to BACKUP after running late, assuming another instance of this
	// priority, 1..254 (254 when written bare), could have taken over; 0: not written.
	TimerExpiredBackup int `json:"timer_expired_backup,omitempty"`
	// LinkbeatUsePolling polls the interface's link state (deprecated here; keepalived
	// wants linkbeat_interfaces).
	LinkbeatUsePolling bool `json:"linkbeat_use_polling,omitempty"`

	TrackInterfaces []Track     `json:"track_interface,omitempty"`
	TrackScripts    []Track     `json:"track_script,omitempty"`
	TrackFiles      []Track     `json:"track_file,omitempty"`
	TrackProcesses  []Track     `json:"track_process,omitempty"`
	TrackBFDs       []Track     `json:"track_bfd,omitempty"`
	VirtualIPs      []VirtualIP `json:"virtual_ipaddress,omitempty"`
	ExcludedIPs     []VirtualIP `json:"virtual_ipaddress_excluded,omitempty"`
	VirtualRoutes   []Route     `json:"virtual_routes,omitempty"`
	VirtualRules    []Rule      `json:"virtual_rules,omitempty"`
}

// Auth is an instance's "authentication { auth_type PASS|AH; auth_pass SECRET }".
// RFC 5798 removed authentication from VRRPv3; keepalived keeps it for v2.
type Auth struct {
	Type string `json:"auth_type"` // PASS or AH
	Pass string `json:"auth_pass"` // at most 8 bytes
}

// ServerGroup is "virtual_server_group NAME { ... }": addresses (ranges expanded) and
// fwmarks that share one set of real servers.
type ServerGroup struct {
	Pos     Pos          `json:"-"`
	Name    string       `json:"name"`
	Addrs   []GroupEntry `json:"addresses,omitempty"`
	Fwmarks []uint32     `json:"fwmarks,omitempty"`
}

// GroupEntry is one address of a virtual_server_group; "198.18.0.80-82 8080" is three.
type GroupEntry struct {
	Pos  Pos        `json:"-"`
	Addr netip.Addr `json:"address"`
	Port uint16     `json:"port"`
}

// CheckerType names a health checker block in a real_server.
type CheckerType string

// Checkers keepalived has, all modelled.
const (
	CheckHTTP CheckerType = "HTTP_GET"
	CheckSSL  CheckerType = "SSL_GET"
	CheckTCP  CheckerType = "TCP_CHECK"
	CheckSMTP CheckerType = "SMTP_CHECK"
	CheckMisc CheckerType = "MISC_CHECK"
	CheckDNS  CheckerType = "DNS_CHECK"
	CheckUDP  CheckerType = "UDP_CHECK"
	CheckPing CheckerType = "PING_CHECK"
	CheckFile CheckerType = "FILE_CHECK"
	CheckBFD  CheckerType = "BFD_CHECK"
)

// connects reports whether checkers of type t open a connection to the real, and so take
// the connect_*, bind* and fwmark options (keepalived's install_checker_common_keywords).
func (t CheckerType) connects() bool {
	switch t {
	case CheckMisc, CheckFile, CheckBFD:
		return false
	}
	return true
}

// Checker is one health checker of a real server. Fields a type does not use stay zero.
type Checker struct {
	Pos  Pos         `json:"-"`
	Type CheckerType `json:"type"`

	// The connection, every type but MISC_CHECK, FILE_CHECK and BFD_CHECK. Unset address
	// and port mean the real's.
	ConnectIP      netip.Addr    `json:"connect_ip,omitzero"`
	ConnectPort    uint16        `json:"connect_port,omitempty"`
	BindTo         netip.Addr    `json:"bindto,omitzero"` // source address
	BindPort       uint16        `json:"bind_port,omitempty"`
	BindIf         string        `json:"bind_if,omitempty"`
	ConnectTimeout time.Duration `json:"connect_timeout,omitempty"` // 0: 5s
	Fwmark         uint32        `json:"fwmark,omitempty"`          // SO_MARK of the checker's packets; 0: none

	// Scheduling, every type but FILE_CHECK (BFD_CHECK: alpha only).
	Retry            int           `json:"retry,omitempty"`              // retry, alias nb_get_retry
	DelayBeforeRetry time.Duration `json:"delay_before_retry,omitempty"` // RetryDelay
	DelayLoop        time.Duration `json:"delay_loop,omitempty"`         // 0: the virtual server's
	Warmup           time.Duration `json:"warmup,omitempty"`
	Alpha            bool          `json:"alpha,omitempty"`
	LogAllFailures   bool          `json:"log_all_failures,omitempty"`
	// Rise and Fall are xlb's words, not keepalived's (its checkers have
	// none; vrrp_script's are the model): how many checks in a row, each
	// with its retries, must pass to bring a down real up, and fail to
	// take an up real down. 0: 1, keepalived's behaviour.
	Rise int `json:"rise,omitempty"`
	Fall int `json:"fall,omitempty"`

	// HTTP_GET, SSL_GET.
	VirtualHost  string `json:"virtualhost,omitempty"`
	URLs         []URL  `json:"url,omitempty"`
	HTTPProtocol string `json:"http_protocol,omitempty"` // "1.0", "1.0C" or "1.1"; empty: 1.0
	EnableSNI    bool   `json:"enable_sni,omitempty"`    // set by sni_name too
	SNIName      string `json:"sni_name,omitempty"`      // empty: the virtual host
	FastRecovery bool   `json:"fast_recovery,omitempty"` // check all urls at once when coming up
	TLSCompliant bool   `json:"tls_compliant,omitempty"` // SSL_GET: send close_notify

	HeloName string `json:"helo_name,omitempty"` // SMTP_CHECK

	// MISC_CHECK.
	MiscPath    string        `json:"misc_path,omitempty"` // the command line
	MiscTimeout time.Duration `json:"misc_timeout,omitempty"`
	MiscDynamic bool          `json:"misc_dynamic,omitempty"` // exit status sets the weight
	User        string        `json:"user,omitempty"`

	// DNS_CHECK: the query. Parse fills keepalived's defaults, SOA for the root.
	DNSType string `json:"dns_type,omitempty"` // type: A, NS, CNAME, SOA, MX, TXT, AAAA, RRSIG or DNSKEY
	DNSName string `json:"dns_name,omitempty"` // name, fully qualified ("." is the root)

	// UDP_CHECK.
	Payload      HexBytes `json:"payload,omitempty"` // sent as the datagram; none: random bytes
	RequireReply bool     `json:"require_reply,omitempty"`
	// Reply is require_reply's data: the reply must start with it, except the nibbles set
	// in ReplyMask (written x in the configuration).
	Reply          HexBytes `json:"reply,omitempty"`
	ReplyMask      HexBytes `json:"reply_mask,omitempty"`
	MinReplyLength int      `json:"min_reply_length,omitempty"` // 0..65535
	MaxReplyLength int      `json:"max_reply_length,omitempty"` // 0..65535; Parse sets 255 for UDP_CHECK

	// FILE_CHECK: the number in a track_file's file scales the real's weight.
	TrackFile string `json:"track_file,omitempty"` // a vrrp_track_file or track_file name
	// FileWeight is FILE_CHECK's weight, -2147483647..2147483647; Parse sets the track
	// file's own when none is written.
	FileWeight  *int `json:"weight,omitempty"`
	FileReverse bool `json:"weight_reverse,omitempty"`

	BFD string `json:"bfd_instance,omitempty"` // BFD_CHECK: name of the bfd_instance
}

// URL is one "url { path P; digest MD5; status_code N ... }" of an HTTP or SSL check.
type URL struct {
	Pos    Pos    `json:"-"`
	Path   string `json:"path"`
	Digest string `json:"digest,omitempty"` // MD5 of the body, 32 hex digits, lower case
	// StatusCodes are the accepted codes; Parse sets keepalived's default, 200-299, when
	// none is written.
	StatusCodes []StatusRange `json:"status_code"`
	VirtualHost string        `json:"virtualhost,omitempty"` // empty: the checker's, real's or virtual server's
	// Regex must match the body (PCRE2), or must not with RegexNoMatch; searched from
	// RegexMinOffset, a match starting at most at RegexMaxOffset (0: anywhere).
	Regex          string   `json:"regex,omitempty"`
	RegexNoMatch   bool     `json:"regex_no_match,omitempty"`
	RegexOptions   []string `json:"regex_options,omitempty"`
	RegexMinOffset int      `json:"regex_min_offset,omitempty"`
	RegexMaxOffset int      `json:"regex_max_offset,omitempty"`
	// RegexStack is regex_stack: the PCRE2 JIT stack the regex may use; nil: PCRE2's.
	RegexStack   *RegexStack `json:"regex_stack,omitempty"`
	TLSCompliant bool        `json:"tls_compliant,omitempty"` // SSL_GET
}

// RegexStack is "regex_stack START MAX", in bytes.
type RegexStack struct {
	Start uint32 `json:"start"`
	Max   uint32 `json:"max"`
}

// StatusRange is one word of status_code: HTTP codes Min through Max, 100..599. It
// writes itself as keepalived's "200" or "200-299".
type StatusRange struct {
	Min, Max int
}

// Contains reports whether code is in r.
func (r StatusRange) Contains(code int) bool { return code >= r.Min && code <= r.Max }

// MarshalText writes "N" or "N-M".
func (r StatusRange) MarshalText() ([]byte, error) {
	if r.Min == r.Max {
		return []byte(strconv.Itoa(r.Min)), nil
	}
	return []byte(strconv.Itoa(r.Min) + "-" + strconv.Itoa(r.Max)), nil
}

// MAC is an Ethernet address; it writes itself as "02:00:00:00:00:3d".
type MAC []byte

// MarshalText writes m as colon-separated lower-case hex octets.
func (m MAC) MarshalText() ([]byte, error) {
	parts := make([]string, len(m))
	for i, b := range m {
		parts[i] = hex.EncodeToString([]byte{b})
	}
	return []byte(strings.Join(parts, ":")), nil
}

// HexBytes is binary data written in the configuration as keepalived's hex strings
// (UDP_CHECK payload); it writes itself as lower-case hex.
type HexBytes []byte

// MarshalText writes b as lower-case hex digits.
func (b HexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(b)), nil }
