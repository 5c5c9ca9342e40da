package conn_test

import (
	"net/netip"

	"github.com/google/go-cmp/cmp"

	"xlb/vrrp/conn"
)

// cmpPacket diffs two packets, comparing addresses by value.
func cmpPacket(want, got conn.Packet) string {
	return cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }))
}
