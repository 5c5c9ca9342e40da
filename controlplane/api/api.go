package api

import "time"

// Paths of the endpoints.
const (
	PathServices = "/v1/services"
	PathWeight   = "/v1/weight"
	PathReasons  = "/v1/reasons"
	PathExplain  = "/v1/explain"
)

// DefaultSocket is where xlbd listens unless told otherwise.
const DefaultSocket = "/run/xlb/xlbd.sock"

// Services is the answer of GET /v1/services: every virtual service, sorted
// by VIP, port and protocol.
type Services struct {
	Services []Service `json:"services"`
}

// Service is one virtual service as configured and as the data plane
// serves it.
type Service struct {
	VIP       string `json:"vip"`       // "198.18.0.100"
	Port      uint16 `json:"port"`      // 0 = all ports
	Protocol  string `json:"protocol"`  // "tcp" | "udp"
	Scheduler string `json:"scheduler"` // lb_algo as configured
	ServedBy  string `json:"served_by"` // the scheduler really used: "mh", "sh" or "dh"; empty when not served
	Kind      string `json:"kind"`      // lb_kind: "DR"
	Status    string `json:"status"`    // "active" | "unsupported"
	Reason    string `json:"reason,omitempty"`
	Packets   uint64 `json:"packets"` // forwarded by the data plane since the service was added
	Bytes     uint64 `json:"bytes"`
	// OutPackets and OutBytes are replies translated back to the VIP
	// (NAT); DR and TUN replies bypass the load balancer.
	OutPackets uint64 `json:"out_packets,omitempty"`
	OutBytes   uint64 `json:"out_bytes,omitempty"`
	// Connections counts new flows scheduled since the service was added.
	Connections uint64 `json:"connections"`
	Reals       []Real `json:"reals"`
	// SorryServer is the configured sorry_server ("IP:PORT"), if any, and
	// SorryActive whether it takes the new flows now (no real has weight).
	SorryServer string `json:"sorry_server,omitempty"`
	SorryActive bool   `json:"sorry_active,omitempty"`
	// Quorum is the configured quorum (1 unless set) and QuorumUp whether
	// the live reals' weights meet it (keepalived's rule, with hysteresis).
	Quorum   int  `json:"quorum"`
	QuorumUp bool `json:"quorum_up"`
	// PersistenceS is persistence_timeout in seconds (0: not persistent)
	// and PersistenceGranularity the prefix length clients share a
	// template by (32 or 128: a host); OPS is one-packet scheduling.
	PersistenceS           uint32 `json:"persistence_s,omitempty"`
	PersistenceGranularity int    `json:"persistence_granularity,omitempty"`
	OPS                    bool   `json:"ops,omitempty"`
}

// Real is one real server of a service.
type Real struct {
	Address         string `json:"address"`
	Port            uint16 `json:"port"`
	Weight          int    `json:"weight"`                   // from the configuration
	Override        *int   `json:"override,omitempty"`       // set by xlbctl weight
	DynamicWeight   *int   `json:"dynamic_weight,omitempty"` // asked for by MISC_CHECK misc_dynamic
	EffectiveWeight int    `json:"effective_weight"`         // what the scheduler uses
	MAC             string `json:"mac"`                      // next hop MAC; empty when unresolved
	Iface           string `json:"iface"`                    // interface that reaches it
	State           string `json:"state"`                    // "active" | "out" | "unresolved" | "down"
	Health          string `json:"health,omitempty"`         // "up" | "down" once a check has reported
	Reason          string `json:"reason,omitempty"`         // why it is not active
	Packets         uint64 `json:"packets"`
	Bytes           uint64 `json:"bytes"`
	OutPackets      uint64 `json:"out_packets,omitempty"` // NAT replies from this real
	OutBytes        uint64 `json:"out_bytes,omitempty"`
	Connections     uint64 `json:"connections"` // new flows scheduled to it
	// ActiveConns and InactiveConns are the data plane's tracked flows to
	// it: established TCP, and the rest (SYN, closing, UDP), as ipvsadm's
	// ActiveConn and InActConn.
	ActiveConns   uint64 `json:"active_conns"`
	InactiveConns uint64 `json:"inactive_conns"`
}

// States of a Real.
const (
	RealActive     = "active"     // in the scheduler's table
	RealOut        = "out"        // effective weight 0
	RealUnresolved = "unresolved" // next hop (MAC) unknown: left out of the table
	RealDown       = "down"       // health checks fail: out of the data plane (no inhibit_on_failure)
)

// WeightRequest is the body of PUT /v1/weight.
type WeightRequest struct {
	Service string `json:"service"` // "VIP:PORT[/tcp|/udp]"
	Real    string `json:"real"`    // "RIP:PORT"
	Weight  *int   `json:"weight"`  // 0..65535; 0 takes the real out of the table
}

// WeightResponse confirms a weight written to the data plane.
type WeightResponse struct {
	Service string `json:"service"`
	Real    string `json:"real"`
	Weight  int    `json:"weight"`
}

// Reasons is the answer of GET /v1/reasons: the data plane's packet
// counters by name, summed over CPUs since xlbd started — why packets passed
// (pass_not_vip, pass_fragment, …), were dropped (drop_malformed,
// drop_no_real, …) or forwarded (tx, redirect), and what the connection
// table did (ct_hit, ct_miss, ct_expired, ct_real_gone).
type Reasons struct {
	Reasons map[string]uint64 `json:"reasons"`
}

// Explanation is the answer of GET /v1/explain?service=VIP:PORT/PROTO&client=IP:PORT:
// which real the data plane sends that client's flow to, and why.
type Explanation struct {
	Service   string `json:"service"`
	Client    string `json:"client"`
	Real      string `json:"real"`       // RIP:PORT; empty when the packet would be dropped
	DecidedBy string `json:"decided_by"` // "connection table", "scheduler" or (lblc, lblcr) "locality table"
	// Conn is the flow's connection-table entry, when there is one.
	Conn *TrackedConn `json:"conn,omitempty"`
	// Template is the client's persistence template, when the service is
	// persistent and has one.
	Template *Template `json:"template,omitempty"`
	// The scheduler's choice for a new flow: slot = hash mapped onto
	// table_size; slot_real is the real in that slot.
	Scheduler string   `json:"scheduler"` // "mh" (flow), "sh" (client address), "dh" (destination)
	Hash      uint32   `json:"hash"`
	Slot      uint32   `json:"slot"`
	TableSize uint32   `json:"table_size"`
	SlotReal  string   `json:"slot_real"`
	Notes     []string `json:"notes,omitempty"`
}

// TrackedConn is a flow's connection-table entry.
type TrackedConn struct {
	Real     string  `json:"real"` // empty when its real is gone
	State    string  `json:"state"`
	IdleS    float64 `json:"idle_s"`
	TimeoutS float64 `json:"timeout_s"`
}

// Template is a persistence template: the real a client's (or its
// prefix's) new flows go to while it is fresh.
type Template struct {
	Client   string  `json:"client"` // the masked address, e.g. "198.18.1.0"
	Real     string  `json:"real"`   // empty when its real is gone
	IdleS    float64 `json:"idle_s"`
	TimeoutS float64 `json:"timeout_s"`
}

// Error is the body of every non-2xx answer.
type Error struct {
	Error string `json:"error"`
}

// PathChecks is the endpoint of the health checks' state.
const PathChecks = "/v1/checks"

// Checks is the answer of GET /v1/checks: every health-checked service,
// its reals and their checks, as the health monitor last saw them.
type Checks struct {
	Time     time.Time      `json:"time"`
	Services []CheckService `json:"services"`
}

// CheckService is one virtual service's checks. A service over a
// virtual_server_group is checked once, under its first address.
type CheckService struct {
	Name       string      `json:"name"`                // "198.18.0.100:80/tcp"
	Suspended  bool        `json:"suspended,omitempty"` // ha_suspend and this node is not master
	QuorumUp   bool        `json:"quorum_up"`
	LiveWeight int         `json:"live_weight"` // sum of the live reals' health weights
	Quorum     int         `json:"quorum"`
	Reals      []CheckReal `json:"reals"`
}

// CheckReal is one real server's health.
type CheckReal struct {
	Address    string        `json:"address"` // "198.18.0.11:80"
	Up         bool          `json:"up"`
	Weight     int           `json:"weight"` // configured, moved by misc_dynamic / FILE_CHECK
	Reason     string        `json:"reason,omitempty"`
	LastChange time.Time     `json:"last_change"`
	Checks     []CheckDetail `json:"checks"`
}

// CheckDetail is one check of a real.
type CheckDetail struct {
	ID                  string     `json:"id"` // "HTTP_GET 198.18.0.11:80/health"
	Up                  bool       `json:"up"`
	LastUp              bool       `json:"last_up"` // the last attempt's result
	Reason              string     `json:"reason,omitempty"`
	LatencyMS           float64    `json:"latency_ms"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	DynamicWeight       *int       `json:"dynamic_weight,omitempty"`
	LastCheck           *time.Time `json:"last_check,omitempty"`
	NextCheck           *time.Time `json:"next_check,omitempty"`
}

// PathVRRP is the endpoint of the VRRP instances' state.
const PathVRRP = "/v1/vrrp"

// VRRP is the answer of GET /v1/vrrp: every vrrp_instance and
// vrrp_sync_group, in configuration order.
type VRRP struct {
	Instances []VRRPInstance `json:"instances"`
	Groups    []VRRPGroup    `json:"groups"`
}

// VRRPInstance is one vrrp_instance.
type VRRPInstance struct {
	Name      string `json:"name"`
	VRID      uint8  `json:"vrid"`
	Version   int    `json:"version"`
	Interface string `json:"interface"`
	State     string `json:"state"` // INIT, BACKUP, MASTER, FAULT, STOP
	// Priority is the configured one; EffectivePriority adds the tracked
	// objects' weights.
	Priority          int    `json:"priority"`
	EffectivePriority int    `json:"effective_priority"`
	Master            string `json:"master,omitempty"` // the current master's address (ours when MASTER)
	MasterPriority    int    `json:"master_priority,omitempty"`
	AdvertIntervalMS  int64  `json:"advert_interval_ms"`
	// Since and Reason describe the last transition.
	Since     time.Time         `json:"since"`
	Reason    string            `json:"reason"`
	VIPs      []string          `json:"vips"`
	SyncGroup string            `json:"sync_group,omitempty"`
	Errors    map[string]uint64 `json:"receive_errors,omitempty"` // adverts dropped, by reason
}

// VRRPGroup is one vrrp_sync_group.
type VRRPGroup struct {
	Name    string    `json:"name"`
	State   string    `json:"state"`
	Members []string  `json:"members"`
	Since   time.Time `json:"since"`
	Reason  string    `json:"reason"`
}
