package controlplane

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Protocol is a virtual service's transport protocol, as IANA numbers it
// (the value the data plane keys on).
type Protocol uint8

// Protocols a virtual service can have.
const (
	TCP Protocol = 6
	UDP Protocol = 17
)

// String returns the lower-case name used in service keys ("tcp").
func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return "proto-" + strconv.Itoa(int(p))
}

// ParseProtocol reads "tcp" or "udp", in any case.
func ParseProtocol(s string) (Protocol, error) {
	switch strings.ToLower(s) {
	case "tcp":
		return TCP, nil
	case "udp":
		return UDP, nil
	}
	return 0, fmt.Errorf("protocol %q: want tcp or udp", s)
}

// ServiceKey names a virtual service the way LVS does: VIP, port, protocol.
// Its zero value names no service.
type ServiceKey struct {
	VIP      netip.Addr
	Port     uint16
	Protocol Protocol
}

// String formats the key as "198.18.0.100:80/tcp" (IPv6 in brackets).
func (k ServiceKey) String() string {
	return netip.AddrPortFrom(k.VIP, k.Port).String() + "/" + k.Protocol.String()
}

// ParseServiceKey reads "VIP:PORT[/tcp|/udp]"; the protocol defaults to tcp,
// as ipvsadm's -t does.
func ParseServiceKey(s string) (ServiceKey, error) {
	addr, proto, hasProto := strings.Cut(s, "/")
	k := ServiceKey{Protocol: TCP}
	if hasProto {
		p, err := ParseProtocol(proto)
		if err != nil {
			return ServiceKey{}, fmt.Errorf("service %q: %w", s, err)
		}
		k.Protocol = p
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return ServiceKey{}, fmt.Errorf("service %q: want VIP:PORT[/tcp|/udp]: %w", s, err)
	}
	k.VIP, k.Port = ap.Addr().Unmap(), ap.Port()
	return k, nil
}

// MustParseServiceKey is ParseServiceKey for tests and constants.
func MustParseServiceKey(s string) ServiceKey {
	k, err := ParseServiceKey(s)
	if err != nil {
		panic(err)
	}
	return k
}

// State is the desired state of every virtual service: what the data plane
// must do, with no kernel detail in it. Services are sorted by key and reals
// by address, so two States compare equal exactly when they mean the same.
type State struct {
	Services []Service
}

// Service is one virtual service and its real servers.
type Service struct {
	Key       ServiceKey
	Scheduler string // lb_algo as configured ("wrr")
	Kind      string // lb_kind as configured ("DR")
	// LocalAddrs are lb_kind FNAT's local addresses (its local_address_group's of the
	// VIP's family), in file order; nil for other kinds.
	LocalAddrs []netip.Addr
	// LocalPortMin and LocalPortMax bound FNAT's local ports (its group's
	// port_range); zero: the data plane's default, 1024-65535.
	LocalPortMin, LocalPortMax uint16
	Reals                      []Real // in the data plane (inhibited failed reals too, at weight 0)
	// Down are the reals whose checks fail, without inhibit_on_failure:
	// out of the data plane, listed so operators see them.
	Down []Real
	// Sorry is keepalived's sorry_server: where new flows go while no real
	// has weight, or quorum is lost (invalid when none is configured).
	Sorry netip.AddrPort
	// Quorum and Hysteresis are as configured (quorum 1 when not), and
	// QuorumUpScript and QuorumDownScript are quorum_up and quorum_down:
	// command lines run when quorum is gained or lost.
	Quorum, Hysteresis               int
	QuorumUpScript, QuorumDownScript string
	// QuorumUp says whether the live reals' weights meet the quorum, and
	// SorryOnly that they do not and a sorry server takes every new flow.
	QuorumUp, SorryOnly bool
	// TunnelSource is lb_kind TUN's outer source as configured
	// (tunnel_source); invalid: the route's source to the first real.
	TunnelSource netip.Addr
	// Persistence is persistence_timeout (0: none): a client's new flows
	// go to the real of its last ones while its template is this fresh.
	// PersistenceGranularity is persistence_granularity as a prefix
	// length (0: a host), and OPS is one-packet scheduling (UDP only).
	Persistence            time.Duration
	PersistenceGranularity int
	OPS                    bool
}

// Real is one real server of a service with its weights.
type Real struct {
	Addr         netip.AddrPort
	ConfigWeight int  // weight from the configuration
	Override     *int // runtime override from xlbctl weight; nil when none
	Weight       int  // effective weight: what the data plane uses
	// DynamicWeight is the weight MISC_CHECK's misc_dynamic asks for; nil
	// when none.
	DynamicWeight *int
	// Down says the real's checks fail; HealthReason says why (or what the
	// last check saw). Inhibit is inhibit_on_failure: a failed real stays
	// at weight 0 instead of leaving.
	Down         bool
	HealthReason string
	Inhibit      bool
	// Checked says a health check has reported on the real.
	Checked bool
}

// MaxWeight is the largest weight a real can have; keepalived and IPVS
// keep weights in a signed 32-bit field, xlb keeps them to 16 bits so a
// Maglev table stays proportionate.
const MaxWeight = 65535

// Service returns the service with key k, if State has one.
func (s State) Service(k ServiceKey) (Service, bool) {
	for _, svc := range s.Services {
		if svc.Key == k {
			return svc, true
		}
	}
	return Service{}, false
}

// Real returns the real with address a, if the service has one, in the
// data plane or down.
func (s Service) Real(a netip.AddrPort) (Real, bool) {
	for _, list := range [][]Real{s.Reals, s.Down} {
		for _, r := range list {
			if r.Addr == a {
				return r, true
			}
		}
	}
	return Real{}, false
}

func compareKeys(a, b ServiceKey) int {
	if c := a.VIP.Compare(b.VIP); c != 0 {
		return c
	}
	if a.Port != b.Port {
		return int(a.Port) - int(b.Port)
	}
	return int(a.Protocol) - int(b.Protocol)
}
