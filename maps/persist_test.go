package maps

import (
	"net/netip"
	"testing"
)

// TestPersistClient checks the template key of a client: its address
// masked by the service's persistence_granularity, a host by default, as
// the program masks it (service.persist_mask).
func TestPersistClient(t *testing.T) {
	v4, v6 := netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("2001:db8::100")
	tests := []struct {
		vip    netip.Addr
		client string
		bits   int
		want   string
	}{
		{v4, "198.18.1.10", 0, "198.18.1.10"},
		{v4, "198.18.1.10", 24, "198.18.1.0"},
		{v4, "198.18.1.10", 23, "198.18.0.0"},
		{v4, "198.18.1.10", 64, "198.18.1.10"}, // beyond the family: a host
		{v4, "::ffff:198.18.1.10", 16, "198.18.0.0"},
		{v6, "2001:db8:1:2:3::9", 0, "2001:db8:1:2:3::9"},
		{v6, "2001:db8:1:2:3::9", 64, "2001:db8:1:2::"},
		{v6, "2001:db8:1:2:3::9", 33, "2001:db8::"},
	}
	for _, tc := range tests {
		if got := PersistClient(tc.vip, netip.MustParseAddr(tc.client), tc.bits); got.String() != tc.want {
			t.Errorf("PersistClient(%s, %s, %d) = %s, want %s", tc.vip, tc.client, tc.bits, got, tc.want)
		}
	}
	m := PersistMask(v4, 24)
	if want := [16]byte{12: 0xff, 13: 0xff, 14: 0xff}; m != want {
		t.Errorf("PersistMask(v4, 24) = %x, want %x", m, want)
	}
}
