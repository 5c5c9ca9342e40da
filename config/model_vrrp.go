package config

import (
	"net/netip"
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

// Track is one line of track_script, track_interface or track_file: a name and an
// optional weight.
type Track struct {
	Pos     Pos    `json:"-"`
	Name    string `json:"name"`
	Weight  *int   `json:"weight,omitempty"` // nil: the tracked object's own weight
	Reverse bool   `json:"reverse,omitempty"`
}

// Notify holds the notify scripts of an instance or sync group, each a command line as
// written.
type Notify struct {
	Master string `json:"notify_master,omitempty"`
	Backup string `json:"notify_backup,omitempty"`
	Fault  string `json:"notify_fault,omitempty"`
	Stop   string `json:"notify_stop,omitempty"`
	Any    string `json:"notify,omitempty"` // notify: called on every change with the state
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

	UseVMAC                bool          `json:"use_vmac,omitempty"`
	VMACName               string        `json:"vmac_name,omitempty"` // optional word after use_vmac
	VMACXmitBase           bool          `json:"vmac_xmit_base,omitempty"`
	DontTrackPrimary       bool          `json:"dont_track_primary,omitempty"`
	McastSrcIP             netip.Addr    `json:"mcast_src_ip,omitzero"`
	UnicastSrcIP           netip.Addr    `json:"unicast_src_ip,omitzero"`
	UnicastPeers           []netip.Addr  `json:"unicast_peer,omitempty"`
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

	TrackInterfaces []Track     `json:"track_interface,omitempty"`
	TrackScripts    []Track     `json:"track_script,omitempty"`
	TrackFiles      []Track     `json:"track_file,omitempty"`
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

// Checkers keepalived has. HTTP_GET, SSL_GET, TCP_CHECK, SMTP_CHECK and MISC_CHECK are
// modelled; the others are recognised, checked and skipped with a warning.
const (
	CheckHTTP CheckerType = "HTTP_GET"
	CheckSSL  CheckerType = "SSL_GET"
	CheckTCP  CheckerType = "TCP_CHECK"
	CheckSMTP CheckerType = "SMTP_CHECK"
	CheckMisc CheckerType = "MISC_CHECK"
)

// Checker is one health checker of a real server. Fields a type does not use stay zero.
type Checker struct {
	Pos              Pos           `json:"-"`
	Type             CheckerType   `json:"type"`
	ConnectIP        netip.Addr    `json:"connect_ip,omitzero"`
	ConnectPort      uint16        `json:"connect_port,omitempty"`
	BindTo           netip.Addr    `json:"bindto,omitzero"`
	BindPort         uint16        `json:"bind_port,omitempty"`
	BindIf           string        `json:"bind_if,omitempty"`
	ConnectTimeout   time.Duration `json:"connect_timeout,omitempty"`    // default 5s
	Retry            int           `json:"retry,omitempty"`              // retry, alias nb_get_retry
	DelayBeforeRetry time.Duration `json:"delay_before_retry,omitempty"` // RetryDelay
	DelayLoop        time.Duration `json:"delay_loop,omitempty"`         // 0: the virtual server's
	Warmup           time.Duration `json:"warmup,omitempty"`
	Alpha            bool          `json:"alpha,omitempty"`
	VirtualHost      string        `json:"virtualhost,omitempty"`
	URLs             []URL         `json:"url,omitempty"`       // HTTP_GET, SSL_GET
	HeloName         string        `json:"helo_name,omitempty"` // SMTP_CHECK
	MiscPath         string        `json:"misc_path,omitempty"` // MISC_CHECK: the command line
	MiscTimeout      time.Duration `json:"misc_timeout,omitempty"`
	MiscDynamic      bool          `json:"misc_dynamic,omitempty"` // exit status sets the weight
	User             string        `json:"user,omitempty"`
}

// URL is one "url { path P; digest MD5; status_code N }" of an HTTP or SSL check.
type URL struct {
	Pos         Pos      `json:"-"`
	Path        string   `json:"path"`
	Digest      string   `json:"digest,omitempty"`      // MD5 of the body, 32 hex digits, lower case
	StatusCodes []string `json:"status_code,omitempty"` // "200" or ranges "200-299"; none: any 2xx
	VirtualHost string   `json:"virtualhost,omitempty"`
}
