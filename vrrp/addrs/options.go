package addrs

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Scope is an address's or route's scope (rtnetlink's rt_scope). Its zero
// value is global (universe), keepalived's default for an address.
type Scope uint8

// Scopes keepalived and ip(8) name.
const (
	ScopeGlobal  Scope = unix.RT_SCOPE_UNIVERSE
	ScopeSite    Scope = unix.RT_SCOPE_SITE
	ScopeLink    Scope = unix.RT_SCOPE_LINK
	ScopeHost    Scope = unix.RT_SCOPE_HOST
	ScopeNowhere Scope = unix.RT_SCOPE_NOWHERE
)

var scopeNames = map[Scope]string{
	ScopeGlobal: "global", ScopeSite: "site", ScopeLink: "link", ScopeHost: "host", ScopeNowhere: "nowhere",
}

// ParseScope parses keepalived's scope word (global, site, link, host,
// nowhere; "universe" for global) or a number 0..255.
func ParseScope(s string) (Scope, error) {
	if s == "universe" {
		return ScopeGlobal, nil
	}
	for sc, n := range scopeNames {
		if n == s {
			return sc, nil
		}
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("scope %q: want global, site, link, host, nowhere or 0..255", s)
	}
	return Scope(n), nil
}

// String returns the scope's name, or its number if it has none.
func (s Scope) String() string {
	if n, ok := scopeNames[s]; ok {
		return n
	}
	return strconv.Itoa(int(s))
}

// Routing tables with names (rtnetlink's rt_class_t).
const (
	TableDefault = unix.RT_TABLE_DEFAULT
	TableMain    = unix.RT_TABLE_MAIN
	TableLocal   = unix.RT_TABLE_LOCAL
)

// ParseTable parses keepalived's table word: main, local, default or a
// number 1..2^32-1. Names from /etc/iproute2/rt_tables are the caller's.
func ParseTable(s string) (int, error) {
	switch s {
	case "main":
		return TableMain, nil
	case "local":
		return TableLocal, nil
	case "default":
		return TableDefault, nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("table %q: want main, local, default or 1..4294967295", s)
	}
	return int(n), nil
}

// RouteType is a route's type. Its zero value is a unicast route.
type RouteType uint8

// Route types keepalived's virtual_routes accept.
const (
	RouteUnicast RouteType = iota
	RouteBlackhole
	RouteUnreachable
	RouteProhibit
	RouteThrow
)

// kernelTypes maps a RouteType to rtnetlink's RTN_ value.
var kernelTypes = [...]int{
	RouteUnicast: unix.RTN_UNICAST, RouteBlackhole: unix.RTN_BLACKHOLE, RouteUnreachable: unix.RTN_UNREACHABLE,
	RouteProhibit: unix.RTN_PROHIBIT, RouteThrow: unix.RTN_THROW,
}

var routeTypeNames = map[RouteType]string{
	RouteUnicast: "unicast", RouteBlackhole: "blackhole", RouteUnreachable: "unreachable",
	RouteProhibit: "prohibit", RouteThrow: "throw",
}

// ParseRouteType parses the type word of a virtual_routes line; the empty
// string is unicast.
func ParseRouteType(s string) (RouteType, error) {
	if s == "" {
		return RouteUnicast, nil
	}
	for t, n := range routeTypeNames {
		if n == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("route type %q: want unicast, blackhole, unreachable, prohibit or throw", s)
}

// String returns the type's word.
func (t RouteType) String() string {
	if n, ok := routeTypeNames[t]; ok {
		return n
	}
	return strconv.Itoa(int(t))
}

// Address is one virtual_ipaddress line:
// "ADDR[/LEN] [brd ADDR] [dev IF] [scope S] [label L]".
type Address struct {
	// Prefix is ADDR/LEN; an address written without LEN is a host
	// prefix (/32, /128).
	Prefix netip.Prefix
	// Broadcast is brd; zero adds none, as ip(8) and keepalived do.
	Broadcast netip.Addr
	// Dev is dev; empty means the instance's interface, or its VMAC.
	Dev string
	// Scope is scope; zero is global. The kernel wants a secondary
	// address (one in the subnet of an address already on the interface)
	// to have its primary's scope.
	Scope Scope
	// Label is label; the kernel wants it to start with the interface's
	// name ("eth0:1").
	Label string
}

// Route is one virtual_routes line:
// "[TYPE] [src ADDR] [to] DEST [via ADDR] [dev IF] [table T] [metric N] [scope S]".
type Route struct {
	Type RouteType
	To   netip.Prefix
	Via  netip.Addr // via or gw; zero: none
	Src  netip.Addr // src; zero: none
	Dev  string     // dev; empty: none (the kernel finds it from Via)
	// Table is table; zero means main.
	Table  int
	Metric int // metric (preference, priority)
	// Scope is scope; zero is global, also for a route without Via, as
	// keepalived adds it (ip(8) would pick link).
	Scope Scope
}

// Rule is one virtual_rules line:
// "[from P] [to P] [table T] [priority N] [fwmark M[/MASK]]".
type Rule struct {
	From, To netip.Prefix // zero: all
	// Table is table; zero means main.
	Table int
	// Priority is priority (preference, pref); zero lets the kernel pick.
	Priority int
	FwMark   uint32 // fwmark; zero: none
	FwMask   uint32 // the mask after fwmark's "/"; zero: all bits
	// IPv6 picks the family of a rule with neither From nor To.
	IPv6 bool
}

// Announce sets the pace of gratuitous ARPs and unsolicited neighbour
// advertisements, keepalived's garp_* words. The zero value is keepalived's
// defaults: 5 messages per address on taking over and 5 more 5 s later.
type Announce struct {
	// Repeat is garp_master_repeat: messages per address in each burst;
	// zero means 5.
	Repeat int
	// Delay is garp_master_delay: when the second burst follows the first;
	// zero means 5 s, negative means no second burst.
	Delay time.Duration
	// Refresh is garp_master_refresh: a burst every Refresh while master;
	// zero means none.
	Refresh time.Duration
	// RefreshRepeat is garp_master_refresh_repeat: messages per address in
	// a refresh burst; zero means 1.
	RefreshRepeat int
	// Interval is garp_interval (gna_interval for IPv6): the pause between
	// two messages; zero means none.
	Interval time.Duration
}

// Defaults of keepalived 2.2 for Announce's zero fields.
const (
	DefaultRepeat = 5
	DefaultDelay  = 5 * time.Second
)

// Options configure a Host. Field comments give keepalived's words.
type Options struct {
	// Interface is interface: the instance's (base) interface.
	Interface string
	// VRID is virtual_router_id, 1..255; it names the VMAC.
	VRID uint8
	// IPv6 says the instance is IPv6, so its VMAC is 00-00-5E-00-02-VRID
	// (RFC 5798 §7.3), not 00-00-5E-00-01-VRID.
	IPv6 bool
	// UseVMAC is use_vmac: the addresses go on a macvlan interface with the
	// virtual MAC, created by Open and deleted by Close.
	UseVMAC bool
	// VMACName is the name after use_vmac; empty means "vrrp.VRID".
	VMACName string

	Addresses []Address // virtual_ipaddress
	Routes    []Route   // virtual_routes
	Rules     []Rule    // virtual_rules
	Announce  Announce  // garp_*

	Logger *slog.Logger // nil: discard
}

// vmacName returns the VMAC's interface name: name, or keepalived's
// default vrrp.VRID.
func (o Options) vmacName() string {
	if o.VMACName != "" {
		return o.VMACName
	}
	return fmt.Sprintf("vrrp.%d", o.VRID)
}

// validate checks what the kernel would reject less clearly.
func (o Options) validate() error {
	if o.Interface == "" {
		return fmt.Errorf("interface: empty")
	}
	if o.UseVMAC && o.VRID == 0 {
		return fmt.Errorf("use_vmac: virtual_router_id: want 1..255, got 0")
	}
	for _, a := range o.Addresses {
		if !a.Prefix.IsValid() {
			return fmt.Errorf("virtual_ipaddress: invalid prefix")
		}
		if a.Broadcast.IsValid() && (!a.Prefix.Addr().Is4() || !a.Broadcast.Is4()) {
			return fmt.Errorf("virtual_ipaddress %s: brd %s: only for IPv4", a.Prefix, a.Broadcast)
		}
	}
	for _, r := range o.Routes {
		if !r.To.IsValid() {
			return fmt.Errorf("virtual_routes: invalid destination")
		}
		if int(r.Type) >= len(kernelTypes) {
			return fmt.Errorf("virtual_routes %s: type %d: unknown", r.To, r.Type)
		}
		if r.Via.IsValid() && r.Via.Is4() != r.To.Addr().Is4() {
			return fmt.Errorf("virtual_routes %s: via %s: wrong family", r.To, r.Via)
		}
	}
	for _, r := range o.Rules {
		if r.From.IsValid() && r.To.IsValid() && r.From.Addr().Is4() != r.To.Addr().Is4() {
			return fmt.Errorf("virtual_rules from %s to %s: mixed families", r.From, r.To)
		}
	}
	if a := o.Announce; a.Repeat < 0 || a.RefreshRepeat < 0 || a.Refresh < 0 || a.Interval < 0 {
		return fmt.Errorf("garp: negative repeat or interval: %+v", a)
	}
	return nil
}

func (a Announce) repeat() int {
	if a.Repeat == 0 {
		return DefaultRepeat
	}
	return a.Repeat
}

func (a Announce) delay() time.Duration {
	if a.Delay == 0 {
		return DefaultDelay
	}
	return a.Delay
}

func (a Announce) refreshRepeat() int {
	if a.RefreshRepeat == 0 {
		return 1
	}
	return a.RefreshRepeat
}
