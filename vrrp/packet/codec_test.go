package packet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var (
	src4 = netip.MustParseAddr("198.18.0.1")
	dst4 = GroupV4
	src6 = netip.MustParseAddr("fe80::1")
	dst6 = GroupV6
	vip4 = netip.MustParseAddr("198.18.1.10")
	vip6 = netip.MustParseAddr("2001:db8:1::10")

	cmpAddr = cmpopts.EquateComparable(netip.Addr{})
)

// errAny in a table means "some error, no sentinel to match".
var errAny = errors.New("any error")

func checkErr(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want == errAny && err == nil, want != nil && want != errAny && !errors.Is(err, want):
		t.Fatalf("error = %v, want %v", err, want)
	}
}

// v2 and v3 return valid advertisements to start test cases from.
func v2() Advertisement {
	return Advertisement{Version: 2, VRID: 51, Priority: 100, Interval: time.Second, Addrs: []netip.Addr{vip4}}
}

func v3(addrs ...netip.Addr) Advertisement {
	return Advertisement{Version: 3, VRID: 52, Priority: 100, Interval: time.Second, Addrs: addrs}
}

func mustMarshal(t testing.TB, a Advertisement, src, dst netip.Addr, opt MarshalOptions) []byte {
	t.Helper()
	b, err := Marshal(a, src, dst, opt)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// resum rewrites b's checksum after a test changed b, so the check the
// test aims at is the one that fails, not the checksum.
func resum(b []byte, src, dst netip.Addr) []byte {
	binary.BigEndian.PutUint16(b[6:8], 0)
	var sum uint32
	if b[0]>>4 != 2 {
		sum = pseudoSum(src, dst, len(b))
	}
	binary.BigEndian.PutUint16(b[6:8], checksum(sum, b))
	return b
}

func TestParseErrors(t *testing.T) {
	good2 := func() []byte { return mustMarshal(t, v2(), src4, dst4, MarshalOptions{}) }
	good3 := func() []byte { return mustMarshal(t, v3(vip4), src4, dst4, MarshalOptions{}) }
	good6 := func() []byte { return mustMarshal(t, v3(vip6), src6, dst6, MarshalOptions{}) }
	edit := func(b []byte, f func([]byte)) []byte { f(b); return b }
	asV2 := mustMarshal(t, v3(vip4), src4, dst4, MarshalOptions{V3ChecksumAsV2: true})

	tests := []struct {
		name     string
		b        []byte
		src, dst netip.Addr
		opt      ParseOptions
		want     error
	}{
		{"empty", nil, src4, dst4, ParseOptions{}, ErrTruncated},
		{"short header", good3()[:7], src4, dst4, ParseOptions{}, ErrTruncated},
		{"version 1", resum(edit(good2(), func(b []byte) { b[0] = 0x11 }), src4, dst4), src4, dst4, ParseOptions{}, ErrVersion},
		{"version 4", resum(edit(good3(), func(b []byte) { b[0] = 0x41 }), src4, dst4), src4, dst4, ParseOptions{}, ErrVersion},
		{"type 2", resum(edit(good3(), func(b []byte) { b[0] = 0x32 }), src4, dst4), src4, dst4, ParseOptions{}, ErrType},
		{"type 0", resum(edit(good2(), func(b []byte) { b[0] = 0x20 }), src4, dst4), src4, dst4, ParseOptions{}, ErrType},
		{"v2 over IPv6", good2(), src6, dst6, ParseOptions{}, ErrFamily},
		{"mixed families", good3(), src4, dst6, ParseOptions{}, ErrFamily},
		{"no source", good3(), netip.Addr{}, dst4, ParseOptions{}, ErrFamily},
		{"count beyond data v3", resum(edit(good3(), func(b []byte) { b[3] = 2 }), src4, dst4), src4, dst4, ParseOptions{}, ErrTruncated},
		{"count beyond data v2", resum(edit(good2(), func(b []byte) { b[3] = 2 }), src4, dst4), src4, dst4, ParseOptions{}, ErrTruncated},
		{"v2 without auth field", good2()[:12], src4, dst4, ParseOptions{}, ErrTruncated},
		{"IPv4 addresses read as IPv6", good3(), netip.MustParseAddr("::1"), dst6, ParseOptions{}, ErrTruncated},
		{"trailing byte", resum(append(good3(), 0), src4, dst4), src4, dst4, ParseOptions{}, ErrTrailing},
		{"count below data", resum(edit(good6(), func(b []byte) { b[3] = 0 }), src6, dst6), src6, dst6, ParseOptions{}, ErrTrailing},
		{"v2 checksum", edit(good2(), func(b []byte) { b[7]++ }), src4, dst4, ParseOptions{}, ErrChecksum},
		{"v3 IPv4 checksum", edit(good3(), func(b []byte) { b[2]++ }), src4, dst4, ParseOptions{}, ErrChecksum},
		{"v3 IPv6 checksum", edit(good6(), func(b []byte) { b[len(b)-1]++ }), src6, dst6, ParseOptions{}, ErrChecksum},
		{"v3 pseudo-header source", good3(), netip.MustParseAddr("198.18.0.9"), dst4, ParseOptions{}, ErrChecksum},
		{"v3 pseudo-header destination", good6(), src6, netip.MustParseAddr("ff02::1"), ParseOptions{}, ErrChecksum},
		{"v3 checksum as v2 not accepted", asV2, src4, dst4, ParseOptions{}, ErrChecksum},
		{"v3 checksum as v2 is IPv4 only", resumPlain(good6()), src6, dst6, ParseOptions{AcceptV3ChecksumAsV2: true}, ErrChecksum},
		{"old unicast checksum not accepted",
			mustMarshal(t, v3(vip4), src4, netip.MustParseAddr("198.18.0.2"), MarshalOptions{OldUnicastChecksum: true}),
			src4, netip.MustParseAddr("198.18.0.2"), ParseOptions{AcceptV3ChecksumAsV2: true}, ErrChecksum},
		{"vrid 0", resum(edit(good3(), func(b []byte) { b[1] = 0 }), src4, dst4), src4, dst4, ParseOptions{}, ErrVRID},
		{"v2 interval 0", resum(edit(good2(), func(b []byte) { b[5] = 0 }), src4, dst4), src4, dst4, ParseOptions{}, ErrInterval},
		{"v3 interval 0, reserved bits set", resum(edit(good3(), func(b []byte) { b[4], b[5] = 0xf0, 0 }), src4, dst4), src4, dst4, ParseOptions{}, ErrInterval},
		{"v2 auth AH", resum(edit(good2(), func(b []byte) { b[4] = AuthTypeAH }), src4, dst4), src4, dst4, ParseOptions{}, ErrUnsupportedAuth},
		{"v2 auth unknown", resum(edit(good2(), func(b []byte) { b[4] = 3 }), src4, dst4), src4, dst4, ParseOptions{}, ErrUnsupportedAuth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Parse(tc.b, tc.src, tc.dst, tc.opt)
			if err == nil {
				t.Fatalf("Parse = %+v, want error %v", a, tc.want)
			}
			checkErr(t, err, tc.want)
		})
	}
}

// resumPlain rewrites a version 3 message's checksum in the version 2 form.
func resumPlain(b []byte) []byte {
	binary.BigEndian.PutUint16(b[6:8], 0)
	binary.BigEndian.PutUint16(b[6:8], checksum(0, b))
	return b
}

func TestParse(t *testing.T) {
	peer := netip.MustParseAddr("198.18.0.2")
	tests := []struct {
		name     string
		b        []byte
		src, dst netip.Addr
		opt      ParseOptions
		want     Advertisement
	}{{
		name: "v3 reserved bits ignored",
		b:    resum([]byte{0x31, 52, 100, 1, 0xf0, 100, 0, 0, 198, 18, 1, 10}, src4, dst4),
		src:  src4, dst: dst4,
		want: v3(vip4),
	}, {
		name: "v2 auth none: data ignored",
		b:    resum([]byte{0x21, 51, 100, 1, 0, 1, 0, 0, 198, 18, 1, 10, 1, 2, 3, 4, 5, 6, 7, 8}, src4, dst4),
		src:  src4, dst: dst4,
		want: v2(),
	}, {
		name: "v2 PASS: data returned",
		b:    resum([]byte{0x21, 51, 100, 1, 1, 1, 0, 0, 198, 18, 1, 10, 'p', 'w', 0, 0, 0, 0, 0, 0}, src4, dst4),
		src:  src4, dst: dst4,
		want: func() Advertisement { a := v2(); a.AuthType, a.AuthData = AuthTypePass, AuthPass("pw"); return a }(),
	}, {
		name: "v2 largest interval",
		b:    resum([]byte{0x21, 51, 100, 1, 0, 255, 0, 0, 198, 18, 1, 10, 0, 0, 0, 0, 0, 0, 0, 0}, src4, dst4),
		src:  src4, dst: dst4,
		want: func() Advertisement { a := v2(); a.Interval = 255 * time.Second; return a }(),
	}, {
		name: "v3 no addresses, largest interval",
		b:    resum([]byte{0x31, 52, 0, 0, 0x0f, 0xff, 0, 0}, src6, dst6),
		src:  src6, dst: dst6,
		want: Advertisement{Version: 3, VRID: 52, Interval: 40950 * time.Millisecond},
	}, {
		name: "v3 checksum as v2 accepted when asked",
		b:    mustMarshal(t, v3(vip4), src4, dst4, MarshalOptions{V3ChecksumAsV2: true}),
		src:  src4, dst: dst4,
		opt:  ParseOptions{AcceptV3ChecksumAsV2: true},
		want: v3(vip4),
	}, {
		name: "RFC checksum still accepted with v3 checksum as v2",
		b:    mustMarshal(t, v3(vip4), src4, dst4, MarshalOptions{}),
		src:  src4, dst: dst4,
		opt:  ParseOptions{AcceptV3ChecksumAsV2: true},
		want: v3(vip4),
	}, {
		name: "old unicast checksum accepted when asked",
		b:    mustMarshal(t, v3(vip4), src4, peer, MarshalOptions{OldUnicastChecksum: true}),
		src:  src4, dst: peer,
		opt:  ParseOptions{AcceptOldUnicastChecksum: true},
		want: v3(vip4),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.b, tc.src, tc.dst, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpAddr); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	with := func(a Advertisement, f func(*Advertisement)) Advertisement { f(&a); return a }
	many := make([]netip.Addr, 256)
	for i := range many {
		many[i] = vip4
	}
	tests := []struct {
		name     string
		a        Advertisement
		src, dst netip.Addr
		want     error
	}{
		{"version 0", with(v2(), func(a *Advertisement) { a.Version = 0 }), src4, dst4, ErrVersion},
		{"version 4", with(v3(vip4), func(a *Advertisement) { a.Version = 4 }), src4, dst4, ErrVersion},
		{"vrid 0", with(v3(vip4), func(a *Advertisement) { a.VRID = 0 }), src4, dst4, ErrVRID},
		{"v2 fractional interval", with(v2(), func(a *Advertisement) { a.Interval = 1500 * time.Millisecond }), src4, dst4, ErrInterval},
		{"v2 interval 0", with(v2(), func(a *Advertisement) { a.Interval = 0 }), src4, dst4, ErrInterval},
		{"v2 interval 256s", with(v2(), func(a *Advertisement) { a.Interval = 256 * time.Second }), src4, dst4, ErrInterval},
		{"v3 interval 5ms", with(v3(vip4), func(a *Advertisement) { a.Interval = 5 * time.Millisecond }), src4, dst4, ErrInterval},
		{"v3 interval 15ms", with(v3(vip4), func(a *Advertisement) { a.Interval = 15 * time.Millisecond }), src4, dst4, ErrInterval},
		{"v3 interval 40.96s", with(v3(vip4), func(a *Advertisement) { a.Interval = 40960 * time.Millisecond }), src4, dst4, ErrInterval},
		{"v3 interval negative", with(v3(vip4), func(a *Advertisement) { a.Interval = -time.Second }), src4, dst4, ErrInterval},
		{"v2 over IPv6", with(v2(), func(a *Advertisement) { a.Addrs = []netip.Addr{vip6} }), src6, dst6, ErrFamily},
		{"IPv6 address from IPv4 source", v3(vip6), src4, dst4, ErrFamily},
		{"IPv4 address from IPv6 source", v3(vip4), src6, dst6, ErrFamily},
		{"4-in-6 address from IPv4 source", v3(netip.AddrFrom16(vip4.As16())), src4, dst4, ErrFamily},
		{"zero address", v3(netip.Addr{}), src4, dst4, ErrFamily},
		{"mixed source and destination", v3(vip4), src4, dst6, ErrFamily},
		{"no destination", v3(vip4), src4, netip.Addr{}, ErrFamily},
		{"256 addresses", v3(many...), src4, dst4, errAny},
		{"v2 auth AH", with(v2(), func(a *Advertisement) { a.AuthType = AuthTypeAH }), src4, dst4, ErrUnsupportedAuth},
		{"v2 auth none with data", with(v2(), func(a *Advertisement) { a.AuthData = AuthPass("x") }), src4, dst4, errAny},
		{"v3 with auth type", with(v3(vip4), func(a *Advertisement) { a.AuthType = AuthTypePass }), src4, dst4, errAny},
		{"v3 with auth data", with(v3(vip4), func(a *Advertisement) { a.AuthData = AuthPass("x") }), src4, dst4, errAny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Marshal(tc.a, tc.src, tc.dst, MarshalOptions{})
			if err == nil {
				t.Fatalf("Marshal = % x, want error %v", b, tc.want)
			}
			checkErr(t, err, tc.want)
		})
	}
}

// TestRoundTrip marshals values at the edges of each field and parses
// them back.
func TestRoundTrip(t *testing.T) {
	many := make([]netip.Addr, 255)
	for i := range many {
		many[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)})
	}
	tests := []struct {
		name     string
		a        Advertisement
		src, dst netip.Addr
		opt      MarshalOptions
		wantLen  int
	}{
		{"v2 smallest", Advertisement{Version: 2, VRID: 1, Interval: time.Second}, src4, dst4, MarshalOptions{}, 16},
		{"v2 largest", Advertisement{Version: 2, VRID: 255, Priority: 255, Interval: 255 * time.Second,
			Addrs: []netip.Addr{vip4, vip4}, AuthType: AuthTypePass, AuthData: AuthPass("12345678")}, src4, dst4, MarshalOptions{}, 24},
		{"v3 10ms", Advertisement{Version: 3, VRID: 1, Interval: 10 * time.Millisecond, Addrs: []netip.Addr{vip4}}, src4, dst4, MarshalOptions{}, 12},
		{"v3 40.95s", Advertisement{Version: 3, VRID: 9, Interval: 40950 * time.Millisecond, Addrs: []netip.Addr{vip4}}, src4, dst4, MarshalOptions{}, 12},
		{"v3 255 IPv6 addresses", Advertisement{Version: 3, VRID: 9, Interval: time.Second, Addrs: many}, src6, dst6, MarshalOptions{}, 8 + 255*16},
		{"v3 IPv6 ignores checksum as v2", v3(vip6), src6, dst6, MarshalOptions{V3ChecksumAsV2: true}, 24},
		{"v3 unicast", v3(vip4), src4, netip.MustParseAddr("198.18.0.2"), MarshalOptions{}, 12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := mustMarshal(t, tc.a, tc.src, tc.dst, tc.opt)
			if len(b) != tc.wantLen {
				t.Errorf("len = %d, want %d", len(b), tc.wantLen)
			}
			got, err := Parse(b, tc.src, tc.dst, ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.a, got, cmpAddr, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Parse(Marshal) (-want +got):\n%s", diff)
			}
		})
	}
}

// TestChecksumForms checks the three IPv4 version 3 checksum forms differ,
// so each option really changes what goes on the wire.
func TestChecksumForms(t *testing.T) {
	peer := netip.MustParseAddr("198.18.0.2")
	rfc := mustMarshal(t, v3(vip4), src4, peer, MarshalOptions{})
	plain := mustMarshal(t, v3(vip4), src4, peer, MarshalOptions{V3ChecksumAsV2: true})
	old := mustMarshal(t, v3(vip4), src4, peer, MarshalOptions{OldUnicastChecksum: true})
	both := mustMarshal(t, v3(vip4), src4, peer, MarshalOptions{V3ChecksumAsV2: true, OldUnicastChecksum: true})
	if bytes.Equal(rfc, plain) || bytes.Equal(rfc, old) || bytes.Equal(plain, old) {
		t.Errorf("forms not distinct: rfc % x, as v2 % x, old unicast % x", rfc, plain, old)
	}
	if !bytes.Equal(both, plain) {
		t.Errorf("V3ChecksumAsV2 with OldUnicastChecksum = % x, want the as-v2 form % x", both, plain)
	}
	// To the multicast group the old unicast form is the RFC one.
	if a, b := mustMarshal(t, v3(vip4), src4, dst4, MarshalOptions{}), mustMarshal(t, v3(vip4), src4, dst4, MarshalOptions{OldUnicastChecksum: true}); !bytes.Equal(a, b) {
		t.Errorf("old unicast form to %s = % x, want % x", dst4, b, a)
	}
}

func TestAuthPass(t *testing.T) {
	tests := []struct {
		in   string
		want [8]byte
	}{
		{"", [8]byte{}},
		{"pw", [8]byte{'p', 'w'}},
		{"12345678", [8]byte([]byte("12345678"))},
		{"secret12345", [8]byte([]byte("secret12"))},
		// keepalived counts bytes, so a multi-byte character may be cut.
		{"ééééé", [8]byte([]byte("éééé"))},
		{"abcdefgé", [8]byte([]byte("abcdefg\xc3"))},
	}
	for _, tc := range tests {
		if got := AuthPass(tc.in); got != tc.want {
			t.Errorf("AuthPass(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCheckHopLimit(t *testing.T) {
	for _, tc := range []struct {
		hl   int
		want error
	}{{255, nil}, {254, ErrTTL}, {1, ErrTTL}, {0, ErrTTL}, {-1, ErrTTL}, {256, ErrTTL}} {
		if err := CheckHopLimit(tc.hl); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("CheckHopLimit(%d) = %v, want %v", tc.hl, err, tc.want)
		}
	}
}
