package config

import (
	"net/netip"
	"time"
)

// Config is a keepalived.conf decoded. xlb acts on VirtualServers; the rest is parsed,
// checked and kept for the VRRP and health-check components (Parse warns, naming each
// block xlb does not act on yet). The json tags are the schema of `xlbd -t --dump`,
// documented in docs/config.md: keepalived's words, positions left out so that two dumps
// diff by meaning.
type Config struct {
	Global          GlobalDefs  `json:"global_defs"`
	StaticAddresses []VirtualIP `json:"static_ipaddress,omitempty"`
	StaticRoutes    []Route     `json:"static_routes,omitempty"`
	StaticRules     []Rule      `json:"static_rules,omitempty"`
	Scripts         []Script    `json:"vrrp_script,omitempty"`
	// TrackFiles are the vrrp_track_file and track_file blocks (keepalived 2.2's name for
	// the same block), in file order.
	TrackFiles     []TrackFile    `json:"vrrp_track_file,omitempty"`
	TrackProcesses []TrackProcess `json:"vrrp_track_process,omitempty"`
	BFDInstances   []BFDInstance  `json:"bfd_instance,omitempty"`
	GarpGroups     []GarpGroup    `json:"garp_group,omitempty"`
	// SSL is the SSL block: the client certificate and CA of SSL_GET checks; nil: keepalived
	// makes a context of its own (no certificate, no verification).
	SSL          *SSL          `json:"SSL,omitempty"`
	SyncGroups   []SyncGroup   `json:"vrrp_sync_group,omitempty"`
	Instances    []Instance    `json:"vrrp_instance,omitempty"`
	ServerGroups []ServerGroup `json:"virtual_server_group,omitempty"`
	// LocalAddressGroups are the local_address_group blocks (the Alibaba LVS fork's full-NAT
	// local addresses), in file order.
	LocalAddressGroups []LocalAddressGroup `json:"local_address_group,omitempty"`
	// VirtualServers are the services xlb balances, in file order. A "virtual_server group
	// NAME" appears once per address of the group, with Group set.
	VirtualServers []VirtualServer `json:"virtual_server"`
	// FwmarkServers are "virtual_server fwmark N" (and the fwmark entries of groups): the
	// XDP data plane cannot see firewall marks, so they are parsed and not served.
	FwmarkServers []VirtualServer `json:"virtual_server_fwmark,omitempty"`

	// The top-level words about keepalived's process (parsed, not acted on).

	// TrackGroups are the track_group blocks: sets of instances whose state a
	// static_ipaddress, static_routes or static_rules line with "track_group NAME" follows.
	TrackGroups  []TrackGroup `json:"track_group,omitempty"`
	NetNamespace string       `json:"net_namespace,omitempty"` // run in this network namespace
	// NetNamespaceIPVS is the namespace of IPVS; "" the default one; nil: not written
	// (net_namespace's).
	NetNamespaceIPVS    *string       `json:"net_namespace_ipvs,omitempty"`
	NamespaceWithIPSets bool          `json:"namespace_with_ipsets,omitempty"`
	UsePidDir           bool          `json:"use_pid_dir,omitempty"`     // pid files under /run/keepalived
	InstanceName        string        `json:"instance,omitempty"`        // names pid files and the like
	ChildWaitTime       time.Duration `json:"child_wait_time,omitempty"` // whole seconds to wait for children at exit
	LinkbeatUsePolling  bool          `json:"linkbeat_use_polling,omitempty"`
	// LinkbeatInterfaces are polled for link state instead of listening to netlink.
	LinkbeatInterfaces []LinkbeatInterface `json:"linkbeat_interfaces,omitempty"`
	// InterfaceDelays debounce interface state changes (interface_up_down_delays).
	InterfaceDelays []InterfaceDelay `json:"interface_up_down_delays,omitempty"`
}

// TrackGroup is "track_group NAME { group { INSTANCE ... } }".
type TrackGroup struct {
	Pos   Pos      `json:"-"`
	Name  string   `json:"name"`
	Group []string `json:"group"` // vrrp_instance names
}

// LinkbeatInterface is one line of linkbeat_interfaces: "IF [MII|ETHTOOL|IOCTL]".
type LinkbeatInterface struct {
	Pos       Pos    `json:"-"`
	Interface string `json:"interface"`
	Type      string `json:"type,omitempty"` // the polling method; empty: keepalived tries each
}

// InterfaceDelay is one line of interface_up_down_delays: "IF DOWN [UP]", in seconds.
type InterfaceDelay struct {
	Pos       Pos           `json:"-"`
	Interface string        `json:"interface"`
	Down      time.Duration `json:"down_delay"`
	Up        time.Duration `json:"up_delay"`
}

// Protocol is a virtual server's transport protocol (keepalived's "protocol"). The zero
// value means unset; Parse sets it on every entry of Config.VirtualServers (fwmark
// services have none). Without a "protocol" line keepalived (and so
// Parse, with a warning) picks UDP, because IPVS reads protocol 0 as UDP.
type Protocol string

// Protocols xlb balances. keepalived reads the word case-insensitively and also knows SCTP,
// which xlb rejects.
const (
	ProtocolTCP Protocol = "tcp"
	ProtocolUDP Protocol = "udp"
)

// Scheduler is an IPVS scheduling algorithm, spelled as in keepalived's "lb_algo" (alias
// "lvs_sched"). The zero value means unset; Parse defaults to SchedulerWLC, keepalived's
// default.
type Scheduler string

// Schedulers keepalived accepts (check/check_parser.c).
const (
	SchedulerRR    Scheduler = "rr"    // round robin
	SchedulerWRR   Scheduler = "wrr"   // weighted round robin
	SchedulerLC    Scheduler = "lc"    // least connections
	SchedulerWLC   Scheduler = "wlc"   // weighted least connections
	SchedulerLBLC  Scheduler = "lblc"  // locality-based least connections
	SchedulerLBLCR Scheduler = "lblcr" // lblc with replication
	SchedulerDH    Scheduler = "dh"    // destination hashing
	SchedulerSH    Scheduler = "sh"    // source hashing
	SchedulerSED   Scheduler = "sed"   // shortest expected delay
	SchedulerNQ    Scheduler = "nq"    // never queue
	SchedulerMH    Scheduler = "mh"    // Maglev hashing
	SchedulerFO    Scheduler = "fo"    // weighted failover
	SchedulerOVF   Scheduler = "ovf"   // weighted overflow
	SchedulerTWOS  Scheduler = "twos"  // weighted random twos choice
)

// schedulers lists every Scheduler in the order error messages offer them.
var schedulers = []Scheduler{
	SchedulerRR, SchedulerWRR, SchedulerLC, SchedulerWLC, SchedulerLBLC, SchedulerLBLCR,
	SchedulerDH, SchedulerSH, SchedulerSED, SchedulerNQ, SchedulerMH, SchedulerFO, SchedulerOVF,
	SchedulerTWOS,
}

// Kind is how packets reach the real servers, keepalived's "lb_kind" (alias "lvs_method").
// The zero value means unset; Parse defaults to KindNAT, keepalived's default.
type Kind string

// Forwarding kinds, spelled as keepalived spells them.
const (
	KindNAT Kind = "NAT" // rewrite the destination address
	KindDR  Kind = "DR"  // direct routing: rewrite only the MAC
	KindTUN Kind = "TUN" // IP-in-IP tunnel
	// KindFNAT is full NAT, as the Alibaba LVS fork of keepalived spells it: the source is
	// rewritten too, to an address of the virtual server's local_address_group.
	KindFNAT Kind = "FNAT"
)

// TunnelType is the encapsulation of lb_kind TUN (keepalived's "type"), Linux 5.2 and later
// for GUE, 5.3 for GRE.
type TunnelType string

// Tunnel types keepalived knows.
const (
	TunnelIPIP TunnelType = "ipip" // IP in IP (RFC 2003), the default
	TunnelGUE  TunnelType = "gue"  // generic UDP encapsulation, to Port
	TunnelGRE  TunnelType = "gre"
)

// Tunnel is the options after "TUN": "type ipip|gue|gre [port N] [nocsum|csum|remcsum]".
type Tunnel struct {
	Type     TunnelType `json:"type"`
	Port     uint16     `json:"port,omitempty"`     // gue's UDP port, 1..65535
	Checksum string     `json:"checksum,omitempty"` // csum or remcsum (gue, gre); empty: nocsum
}

// VirtualServer is one "virtual_server IP PORT { ... }" block.
type VirtualServer struct {
	Pos       Pos        `json:"-"`                  // of the virtual_server keyword
	Addr      netip.Addr `json:"address,omitzero"`   // IPv4 or IPv6, as written; invalid (left out) for fwmark
	Port      uint16     `json:"port"`               // 0 means all ports, as keepalived's "virtual_server IP 0"
	Fwmark    uint32     `json:"fwmark,omitempty"`   // "virtual_server fwmark N" (FwmarkServers only)
	Group     string     `json:"group,omitempty"`    // the virtual_server_group this entry came from
	Protocol  Protocol   `json:"protocol,omitempty"` // empty for fwmark services, which IPVS keys by mark alone
	Scheduler Scheduler  `json:"lb_algo"`
	Kind      Kind       `json:"lb_kind"`
	// Tunnel is lb_kind TUN's options when they ask for more than plain IPIP; nil: IPIP.
	Tunnel    *Tunnel       `json:"tunnel,omitempty"`
	DelayLoop time.Duration `json:"delay_loop"` // delay_loop: seconds between health checks, to the microsecond; default 60s
	// TunnelSource is xlb's tunnel_source word: lb_kind TUN's outer source
	// address; invalid: the source of the route to the first real.
	TunnelSource netip.Addr `json:"tunnel_source,omitzero"`
	// LocalAddressGroup names the local_address_group whose addresses lb_kind FNAT
	// rewrites the clients' source to (laddr_group_name, the Alibaba LVS fork's word);
	// required with FNAT, ignored (with a warning) otherwise.
	LocalAddressGroup string `json:"laddr_group_name,omitempty"`
	// LocalAddrs are that group's addresses of the virtual server's family, in file
	// order: filled in by Parse.
	LocalAddrs []netip.Addr `json:"-"`
	// LocalPorts are that group's port_range: filled in by Parse.
	LocalPorts PortRange `json:"-"`

	// Parsed, not acted on yet (the parser warns).
	PersistenceTimeout     time.Duration `json:"persistence_timeout,omitempty"`     // 0: no persistence
	PersistenceGranularity int           `json:"persistence_granularity,omitempty"` // prefix length a client is grouped by; 0: unset (a host)
	HASuspend              bool          `json:"ha_suspend,omitempty"`
	OPS                    bool          `json:"ops,omitempty"`   // one-packet scheduling (UDP)
	Alpha                  bool          `json:"alpha,omitempty"` // reals start down until their first check passes
	Omega                  bool          `json:"omega,omitempty"` // run quorum_down when the service goes away
	Quorum                 int           `json:"quorum"`          // default 1
	Hysteresis             int           `json:"hysteresis,omitempty"`
	QuorumUp               string        `json:"quorum_up,omitempty"`   // script
	QuorumDown             string        `json:"quorum_down,omitempty"` // script
	SorryServer            *SorryServer  `json:"sorry_server,omitempty"`
	SorryServerInhibit     bool          `json:"sorry_server_inhibit,omitempty"`
	SorryServerKind        Kind          `json:"sorry_server_lvs_method,omitempty"` // empty: lb_kind
	SorryServerTunnel      *Tunnel       `json:"sorry_server_tunnel,omitempty"`     // TUN options of sorry_server_lvs_method
	VirtualHost            string        `json:"virtualhost,omitempty"`
	IPFamily               string        `json:"ip_family,omitempty"` // inet or inet6, for a fwmark service
	// SchedFlags are the IPVS scheduler flags written, in file order: hashed, flag-1,
	// flag-2, flag-3, sh-port, sh-fallback, mh-port, mh-fallback.
	SchedFlags        []string `json:"sched_flags,omitempty"`
	PersistenceEngine string   `json:"persistence_engine,omitempty"` // an IPVS persistence engine, as sip
	SMTPAlert         bool     `json:"smtp_alert,omitempty"`
	SNMPName          string   `json:"snmp_name,omitempty"`

	Reals []RealServer `json:"real_server"` // in file order; never empty
}

// SorryServer is where a virtual server sends clients when no real server is up.
type SorryServer struct {
	Addr netip.Addr `json:"address"`
	Port uint16     `json:"port"`
}

// RealServer is one "real_server IP PORT { ... }" block inside a virtual server.
type RealServer struct {
	Pos    Pos        `json:"-"` // of the real_server keyword
	Addr   netip.Addr `json:"address"`
	Port   uint16     `json:"port"`   // the virtual server's port when not written, and always under DR and TUN
	Weight int        `json:"weight"` // weight, 0..2147483647; default the virtual server's "weight", itself default 1

	// Parsed, not acted on yet (the parser warns).
	InhibitOnFailure bool   `json:"inhibit_on_failure,omitempty"` // weight 0 instead of removal when down
	NotifyUp         string `json:"notify_up,omitempty"`
	NotifyDown       string `json:"notify_down,omitempty"`
	Kind             Kind   `json:"lvs_method,omitempty"` // lvs_method; empty: the virtual server's lb_kind
	// Tunnel is lvs_method TUN's options; nil: IPIP, or the virtual server's when
	// lvs_method is not written.
	Tunnel     *Tunnel   `json:"tunnel,omitempty"`
	UThreshold uint32    `json:"uthreshold,omitempty"` // most connections; 0: no limit
	LThreshold uint32    `json:"lthreshold,omitempty"` // connections below which a full real takes more again
	SMTPAlert  bool      `json:"smtp_alert,omitempty"`
	SNMPName   string    `json:"snmp_name,omitempty"`
	Checkers   []Checker `json:"checkers,omitempty"`
}

// Key names vs in messages: "198.18.0.100:80/tcp", "[2001:db8::1]:443/udp".
func (vs VirtualServer) Key() string {
	return netip.AddrPortFrom(vs.Addr, vs.Port).String() + "/" + string(vs.Protocol)
}
