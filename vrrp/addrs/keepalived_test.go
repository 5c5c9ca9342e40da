package addrs_test

import (
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"xlb/internal/testutil"
	"xlb/vrrp/addrs"
)

// TestAnnounceLikeKeepalived checks that a Host's gratuitous ARP and
// neighbour advertisement are, field for field, what keepalived sends from
// the same interface for the same addresses.
func TestAnnounceLikeKeepalived(t *testing.T) {
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Fatalf("keepalived is not installed (make deps): %v", err)
	}
	l := newLab(t)
	vip4 := netip.MustParseAddr("198.18.0.100")
	vip6 := netip.MustParseAddr("2001:db8::100")
	arpc := arpListener(t, l.b)
	ndpc := ndpListener(t, l.b)

	k := testutil.StartKeepalived(t, l.a, `vrrp_instance V4 {
	state MASTER
	interface eth0
	version 3
	virtual_router_id 51
	priority 200
	advert_int 0.1
	virtual_ipaddress {
		198.18.0.100/24
	}
}
vrrp_instance V6 {
	state MASTER
	interface eth0
	version 3
	virtual_router_id 52
	priority 200
	advert_int 0.1
	virtual_ipaddress {
		2001:db8::100/64
	}
}
`)
	deadline := time.Now().Add(15 * time.Second)
	theirARP := readGARPs(t, arpc, vip4, 1, deadline)
	theirNA := readNAs(t, ndpc, vip6, 1, deadline)
	k.Stop()
	if len(theirARP) != 1 || len(theirNA) != 1 {
		t.Fatalf("from keepalived: %d ARPs, %d NAs; want one each\nkeepalived:\n%s", len(theirARP), len(theirNA), k.Log())
	}
	// Drain the rest of keepalived's bursts.
	readGARPs(t, arpc, vip4, 100, time.Now().Add(200*time.Millisecond))
	readNAs(t, ndpc, vip6, 100, time.Now().Add(200*time.Millisecond))

	h := openHost(t, l.a, addrs.Options{Interface: "eth0", Addresses: []addrs.Address{
		{Prefix: netip.PrefixFrom(vip4, 24)}, {Prefix: netip.PrefixFrom(vip6, 64)},
	}, Announce: addrs.Announce{Repeat: 1, Delay: -1}})
	run(t, h)
	take(t, l.a, h)
	deadline = time.Now().Add(10 * time.Second)
	ourARP := readGARPs(t, arpc, vip4, 1, deadline)
	ourNA := readNAs(t, ndpc, vip6, 1, deadline)
	if diff := cmp.Diff(theirARP, ourARP, cmpAddr); diff != "" {
		t.Errorf("gratuitous ARP (-keepalived +xlb):\n%s", diff)
	}
	if diff := cmp.Diff(theirNA, ourNA, cmpAddr); diff != "" {
		t.Errorf("neighbour advertisement (-keepalived +xlb):\n%s", diff)
	}
}
