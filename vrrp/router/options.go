package router

import (
	"fmt"
	"log/slog"
	"net/netip"

	"xlb/vrrp"
	"xlb/vrrp/addrs"
)

// Options configure a Router.
type Options struct {
	Instances []InstanceConfig
	Groups    []GroupConfig
	// Notify receives every state change of an instance or group, in
	// order, on a goroutine of the Router's (never under an instance's
	// lock): it may run notify scripts or send mail, but the next
	// notification waits for it. nil: none.
	Notify func(vrrp.Notification)
	Logger *slog.Logger // nil: discard
}

// InstanceConfig is one vrrp_instance. Field comments give keepalived's
// words where the Go name differs.
type InstanceConfig struct {
	// VRRP is the state machine's configuration. The Router sets its
	// Sender, Addresser and Notifier (any given are replaced). A zero
	// VIPs means the addresses of Addresses; a zero Primary means the
	// socket's source address.
	VRRP vrrp.Options

	// Interface is interface.
	Interface string
	// Group is vrrp_mcast_group4 or vrrp_mcast_group6; zero: 224.0.0.18
	// or ff02::12.
	Group netip.Addr
	// Source is mcast_src_ip or unicast_src_ip; zero: the interface's
	// primary IPv4 address or its IPv6 link-local address.
	Source netip.Addr
	// UseVMAC, VMACName and VMACXmitBase are use_vmac [NAME] and
	// vmac_xmit_base: the addresses go on a macvlan with the virtual MAC,
	// and the adverts leave through it unless VMACXmitBase.
	UseVMAC      bool
	VMACName     string
	VMACXmitBase bool

	// Addresses are virtual_ipaddress (the advert carries them), Excluded
	// virtual_ipaddress_excluded (taken and released alike, not carried).
	Addresses []addrs.Address
	Excluded  []addrs.Address
	Routes    []addrs.Route  // virtual_routes
	Rules     []addrs.Rule   // virtual_rules
	Announce  addrs.Announce // garp_*

	// V3ChecksumAsV2 is v3_checksum_as_v2: IPv4 version 3 checksums leave
	// out the pseudo-header, sent and accepted.
	V3ChecksumAsV2 bool
	// OldUnicastChecksum is old_unicast_checksum: unicast IPv4 version 3
	// adverts are sent with keepalived 1.3.6's checksum.
	OldUnicastChecksum bool
	// NeverOldUnicastChecksum is old_unicast_checksum never: the old form
	// is not accepted from unicast peers either (keepalived accepts it by
	// default).
	NeverOldUnicastChecksum bool
}

// GroupConfig is one vrrp_sync_group.
type GroupConfig struct {
	Name    string
	Members []string // vrrp_instance names
	// TrackingWeight is sync_group_tracking_weight.
	TrackingWeight bool
}

// ipv6 reports whether the instance is an IPv6 one, judged by its first
// virtual address.
func (c InstanceConfig) ipv6() bool {
	if len(c.VRRP.VIPs) > 0 {
		return c.VRRP.VIPs[0].Is6()
	}
	return len(c.Addresses) > 0 && c.Addresses[0].Prefix.Addr().Is6()
}

// check finds what vrrp.New and addrs.Open would not report clearly.
func (c InstanceConfig) check() error {
	if c.Interface == "" {
		return fmt.Errorf("interface: empty")
	}
	if len(c.VRRP.VIPs) == 0 && len(c.Addresses) == 0 {
		return fmt.Errorf("virtual_ipaddress: none")
	}
	v6 := c.ipv6()
	if c.Group.IsValid() && (c.Group.Is6() != v6 || !c.Group.IsMulticast()) {
		return fmt.Errorf("multicast group %s: want an IPv%d multicast address", c.Group, ipVersion(v6))
	}
	if c.Source.IsValid() && c.Source.Is6() != v6 {
		return fmt.Errorf("source %s: want an IPv%d address", c.Source, ipVersion(v6))
	}
	return nil
}

func ipVersion(v6 bool) int {
	if v6 {
		return 6
	}
	return 4
}
