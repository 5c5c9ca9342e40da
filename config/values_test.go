package config

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestAddrRange(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		in     string
		want   []netip.Addr
		wantOK bool
	}{
		{"198.18.0.1", []netip.Addr{a("198.18.0.1")}, true},
		{"198.18.0.80-82", []netip.Addr{a("198.18.0.80"), a("198.18.0.81"), a("198.18.0.82")}, true},
		{"198.18.0.255-255", []netip.Addr{a("198.18.0.255")}, true},
		{"2001:db8::fffe-ffff", []netip.Addr{a("2001:db8::fffe"), a("2001:db8::ffff")}, true},
		{"198.18.0.82-80", nil, false},
		{"198.18.0.1-256", nil, false},
		{"198.18.0.1-x", nil, false},
		{"2001:db8::1-10000", nil, false},
		{"nope-3", nil, false},
	}
	for _, tc := range tests {
		got, ok := addrRange(tc.in)
		if ok != tc.wantOK {
			t.Errorf("addrRange(%q) ok = %v, want %v", tc.in, ok, tc.wantOK)
		}
		if diff := cmp.Diff(tc.want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
			t.Errorf("addrRange(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		in        string
		want      string
		wantFixed bool
		wantOK    bool
	}{
		{"198.18.0.1", "198.18.0.1/32", false, true},
		{"198.18.0.100/24", "198.18.0.100/24", false, true},
		{"2001:db8::1", "2001:db8::1/128", false, true},
		{"2001:db8::/64", "2001:db8::/64", false, true},
		{"192.168.100./24", "192.168.100.0/24", true, true},
		{"10./8", "10.0.0.0/8", true, true},
		{"198.18.0.1/33", "invalid Prefix", false, false},
		{"2001:db8::/129", "invalid Prefix", false, false},
		{"198.18.0.1/-1", "invalid Prefix", false, false},
		{"fe80::1%eth0/64", "invalid Prefix", false, false},
	}
	for _, tc := range tests {
		p, fixed, ok := parsePrefix(tc.in)
		if p.String() != tc.want || fixed != tc.wantFixed || ok != tc.wantOK {
			t.Errorf("parsePrefix(%q) = %s, %v, %v; want %s, %v, %v", tc.in, p, fixed, ok, tc.want, tc.wantFixed, tc.wantOK)
		}
	}
}

func TestParseSecondsZero(t *testing.T) {
	tests := []struct {
		in     string
		zero   bool
		wantOK bool
	}{
		{"0", true, true}, {"0.0", true, true}, {"0", false, false}, {".", true, false},
		{"", true, false}, {"0.5", false, true}, {"0..0", true, false},
	}
	for _, tc := range tests {
		if _, ok := parseSecondsZero(tc.in, tc.zero); ok != tc.wantOK {
			t.Errorf("parseSecondsZero(%q, %v) ok = %v, want %v", tc.in, tc.zero, ok, tc.wantOK)
		}
	}
}
