package addrs_test

import (
	"net/netip"
	"testing"

	"xlb/internal/testutil"
	"xlb/vrrp/addrs"
)

func TestParseScope(t *testing.T) {
	tests := []struct {
		in      string
		want    addrs.Scope
		wantErr bool
	}{
		{"global", addrs.ScopeGlobal, false},
		{"universe", addrs.ScopeGlobal, false},
		{"site", addrs.ScopeSite, false},
		{"link", addrs.ScopeLink, false},
		{"host", addrs.ScopeHost, false},
		{"nowhere", addrs.ScopeNowhere, false},
		{"100", 100, false},
		{"256", 0, true},
		{"Link", 0, true},
		{"", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := addrs.ParseScope(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ParseScope(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseTable(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"main", 254, false},
		{"local", 255, false},
		{"default", 253, false},
		{"100", 100, false},
		{"4294967295", 4294967295, false},
		{"0", 0, true},
		{"4294967296", 0, true},
		{"-1", 0, true},
		{"mgmt", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := addrs.ParseTable(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ParseTable(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseRouteType(t *testing.T) {
	tests := []struct {
		in      string
		want    addrs.RouteType
		wantErr bool
	}{
		{"", addrs.RouteUnicast, false},
		{"unicast", addrs.RouteUnicast, false},
		{"blackhole", addrs.RouteBlackhole, false},
		{"unreachable", addrs.RouteUnreachable, false},
		{"prohibit", addrs.RouteProhibit, false},
		{"throw", addrs.RouteThrow, false},
		{"local", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := addrs.ParseRouteType(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ParseRouteType(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// FuzzParseScope checks that ParseScope never panics and that a parsed
// scope's String parses back to it.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"global", "link", "host", "site", "nowhere", "universe", "7", "300", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := addrs.ParseScope(s)
		if err != nil {
			return
		}
		back, err := addrs.ParseScope(sc.String())
		if err != nil || back != sc {
			t.Errorf("ParseScope(%q) = %v, whose String %q parses to %v, %v", s, sc, sc.String(), back, err)
		}
	})
}

// FuzzParseRouteType is FuzzParseScope for route types.
func FuzzParseRouteType(f *testing.F) {
	for _, s := range []string{"", "unicast", "blackhole", "throw", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rt, err := addrs.ParseRouteType(s)
		if err != nil {
			return
		}
		back, err := addrs.ParseRouteType(rt.String())
		if err != nil || back != rt {
			t.Errorf("ParseRouteType(%q) = %v, whose String %q parses to %v, %v", s, rt, rt.String(), back, err)
		}
	})
}

// TestOpenInvalid checks the options Open refuses before touching the
// kernel.
func TestOpenInvalid(t *testing.T) {
	p := netip.MustParsePrefix
	tests := []struct {
		name string
		opts addrs.Options
	}{
		{"no interface", addrs.Options{}},
		{"use_vmac without vrid", addrs.Options{Interface: "eth0", UseVMAC: true}},
		{"zero prefix", addrs.Options{Interface: "eth0", Addresses: []addrs.Address{{}}}},
		{"ipv6 brd", addrs.Options{Interface: "eth0", Addresses: []addrs.Address{
			{Prefix: p("2001:db8::1/64"), Broadcast: netip.MustParseAddr("198.18.0.255")}}}},
		{"route without destination", addrs.Options{Interface: "eth0", Routes: []addrs.Route{{}}}},
		{"route via other family", addrs.Options{Interface: "eth0", Routes: []addrs.Route{
			{To: p("198.18.9.0/24"), Via: netip.MustParseAddr("2001:db8::1")}}}},
		{"unknown route type", addrs.Options{Interface: "eth0", Routes: []addrs.Route{{To: p("198.18.9.0/24"), Type: 99}}}},
		{"rule of mixed families", addrs.Options{Interface: "eth0", Rules: []addrs.Rule{
			{From: p("198.18.0.0/24"), To: p("2001:db8::/32")}}}},
		{"negative repeat", addrs.Options{Interface: "eth0", Announce: addrs.Announce{Repeat: -1}}},
	}
	// In a namespace of its own, so an Open that wrongly succeeds changes
	// nothing on the host.
	ns := testutil.NetNS(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ns.Do(func() error {
				h, err := addrs.Open(tc.opts)
				if err == nil {
					h.Close()
				}
				return err
			})
			if err == nil {
				t.Errorf("Open(%+v) succeeded, want an error", tc.opts)
			}
		})
	}
}

func TestVMACAddr(t *testing.T) {
	if got, want := addrs.VMACAddr(1, false).String(), "00:00:5e:00:01:01"; got != want {
		t.Errorf("VMACAddr(1, false) = %s, want %s", got, want)
	}
	if got, want := addrs.VMACAddr(255, true).String(), "00:00:5e:00:02:ff"; got != want {
		t.Errorf("VMACAddr(255, true) = %s, want %s", got, want)
	}
}
