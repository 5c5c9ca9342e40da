package config

import (
	"net/netip"
	"time"
)

// Config is the part of a keepalived.conf that xlb acts on.
type Config struct {
	VirtualServers []VirtualServer // in file order
}

// Protocol is a virtual server's transport protocol (keepalived's "protocol"). The zero
// value means unset; Parse always sets it. Without a "protocol" line keepalived (and so
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
)

// VirtualServer is one "virtual_server IP PORT { ... }" block.
type VirtualServer struct {
	Pos       Pos        // of the virtual_server keyword
	Addr      netip.Addr // IPv4 or IPv6, as written
	Port      uint16     // 0 means all ports, as keepalived's "virtual_server IP 0"
	Protocol  Protocol
	Scheduler Scheduler
	Kind      Kind
	DelayLoop time.Duration // delay_loop: seconds between health checks, to the microsecond; default 60s
	Reals     []RealServer  // in file order; never empty
}

// RealServer is one "real_server IP PORT { ... }" block inside a virtual server.
type RealServer struct {
	Pos    Pos // of the real_server keyword
	Addr   netip.Addr
	Port   uint16 // the virtual server's port when not written, and always under DR and TUN
	Weight int    // weight, 0..2147483647; default the virtual server's "weight", itself default 1
}

// Key names vs in messages: "198.18.0.100:80/tcp", "[2001:db8::1]:443/udp".
func (vs VirtualServer) Key() string {
	return netip.AddrPortFrom(vs.Addr, vs.Port).String() + "/" + string(vs.Protocol)
}
