package controlplane

import (
	"context"
	"net/netip"

	"xlb/controlplane/api"
)

// Backend is a data plane that can be made to match a desired State: the
// XDP maps today, kernel IPVS later. Apply is called with the whole State
// every time; the backend writes only what differs from what it last wrote.
type Backend interface {
	Apply(ctx context.Context, st State) error
	// Observe reports what the data plane does now, per service.
	Observe() map[ServiceKey]ServiceObservation
	// Reasons reports the data plane's named packet counters: why packets
	// passed, were dropped or were forwarded, and what the connection
	// table did, summed over CPUs.
	Reasons() (map[string]uint64, error)
}

// ServiceObservation is what a backend reports about one service.
type ServiceObservation struct {
	// Status is "active", or "unsupported" with the reason in Reason.
	Status  string
	Reason  string
	Served  string // the scheduler that really serves it: "mh", "sh" or "dh"
	Packets uint64
	Bytes   uint64
	// OutPackets and OutBytes count replies translated back (NAT).
	OutPackets, OutBytes uint64
	Connections          uint64 // new flows scheduled
	Reals                map[netip.AddrPort]RealObservation
	// SorryActive says the sorry_server holds the table: no real has weight.
	SorryActive bool
}

// RealObservation is what a backend reports about one real server.
type RealObservation struct {
	// State is RealActive, RealOut or RealUnresolved.
	State   string
	Reason  string // why a real is not active, for operators
	MAC     string
	Ifname  string
	Packets uint64
	Bytes   uint64
	// OutPackets and OutBytes count replies translated back (NAT).
	OutPackets, OutBytes uint64
	Connections          uint64 // new flows scheduled to it
	// ActiveConns and InactiveConns are the data plane's counts of its
	// tracked flows: established TCP, and the rest.
	ActiveConns, InactiveConns uint64
}

// Real states as reported to operators; they are part of the API's schema.
const (
	RealActive     = api.RealActive
	RealOut        = api.RealOut
	RealUnresolved = api.RealUnresolved
)
