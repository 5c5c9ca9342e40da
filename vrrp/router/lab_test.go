package router_test

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"xlb/internal/testutil"
	"xlb/vrrp"
	"xlb/vrrp/addrs"
	"xlb/vrrp/router"
)

// lab is three hosts on one switch: two load balancers, a and b, and a
// client c, each with eth0 on a bridge in a namespace of its own.
type lab struct {
	a, b, c *testutil.NS
}

// Addresses of the lab: each host's own, and the virtual ones.
var (
	addrA4, addrB4 = netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	addrA6, addrB6 = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	vip4, vip6     = netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("2001:db8::100")
)

func newLab(t *testing.T) *lab {
	t.Helper()
	sw := testutil.NetNS(t)
	l := &lab{a: testutil.NetNS(t), b: testutil.NetNS(t), c: testutil.NetNS(t)}
	// Link-local addresses, VRRP's IPv6 sources, must be usable at once;
	// the bridge must flood ff02::12 without waiting for MLD reports.
	sw.MustRun(t, "ip", "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
	sw.MustRun(t, "ip", "link", "set", "br0", "up")
	for i, h := range []struct {
		ns    *testutil.NS
		addrs []string
	}{
		{l.a, []string{"198.18.0.1/24", "2001:db8::1/64"}},
		{l.b, []string{"198.18.0.2/24", "2001:db8::2/64"}},
		{l.c, []string{"198.18.0.3/24", "2001:db8::3/64"}},
	} {
		port := "p" + string(rune('a'+i))
		testutil.Veth(t, h.ns, "eth0", sw, port)
		sw.MustRun(t, "ip", "link", "set", port, "master", "br0")
		h.ns.AddAddrs(t, "eth0", h.addrs...)
	}
	return l
}

// running is a Router running in a namespace.
type running struct {
	r      *router.Router
	cancel context.CancelFunc
	done   chan error

	mu    sync.Mutex
	notes []vrrp.Notification
}

// start runs a router for opts in ns until stop or the test's end.
func start(t *testing.T, ns *testutil.NS, opts router.Options) *running {
	t.Helper()
	rn := &running{done: make(chan error, 1)}
	opts.Notify = func(n vrrp.Notification) {
		rn.mu.Lock()
		rn.notes = append(rn.notes, n)
		rn.mu.Unlock()
	}
	r, err := router.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	rn.r = r
	ctx, cancel := context.WithCancel(context.Background())
	rn.cancel = cancel
	go func() { rn.done <- ns.Do(func() error { return r.Run(ctx) }) }()
	t.Cleanup(func() { rn.stop(t) })
	return rn
}

// stop ends the router and waits for Run to return, failing the test on
// its error. Later calls do nothing.
func (rn *running) stop(t *testing.T) {
	t.Helper()
	if rn.cancel == nil {
		return
	}
	rn.cancel()
	rn.cancel = nil
	select {
	case err := <-rn.done:
		if err != nil {
			t.Errorf("router Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("router Run did not return 10s after cancel")
	}
}

// states lists the instance state changes notified so far.
func (rn *running) states() []vrrp.State {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	var s []vrrp.State
	for _, n := range rn.notes {
		if n.Type == "INSTANCE" {
			s = append(s, n.State)
		}
	}
	return s
}

// status returns the status of the router's only instance.
func (rn *running) status(t *testing.T) router.InstanceStatus {
	t.Helper()
	s := rn.r.Status()
	if len(s.Instances) != 1 {
		t.Fatalf("status has %d instances, want 1", len(s.Instances))
	}
	return s.Instances[0]
}

// waitState waits up to limit for the instance to be in state want and
// returns how long it took.
func (rn *running) waitState(t *testing.T, want vrrp.State, limit time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	for time.Since(begin) < limit {
		if rn.status(t).State == want {
			return time.Since(begin)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s, _ := json.Marshal(rn.status(t))
	t.Fatalf("instance not %v after %v: %s", want, limit, s)
	return 0
}

// holds reports whether eth0 in ns has the address vip.
func holds(t *testing.T, ns *testutil.NS, vip netip.Addr) bool {
	t.Helper()
	return holdsOn(t, ns, "eth0", vip)
}

// holdsOn reports whether dev in ns has the address vip; a missing dev
// has none.
func holdsOn(t *testing.T, ns *testutil.NS, dev string, vip netip.Addr) bool {
	t.Helper()
	out, err := ns.Run("ip", "-o", "addr", "show", "dev", dev)
	if err != nil && !strings.Contains(out, "does not exist") {
		t.Fatal(err)
	}
	return strings.Contains(out, " "+vip.String()+"/")
}

// waitHolds waits (boundedly) until ns holds vip on eth0, or does not.
func waitHolds(t *testing.T, ns *testutil.NS, vip netip.Addr, want bool) {
	t.Helper()
	waitHoldsOn(t, ns, "eth0", vip, want)
}

// waitHoldsOn waits (boundedly) until dev in ns holds vip, or does not.
func waitHoldsOn(t *testing.T, ns *testutil.NS, dev string, vip netip.Addr, want bool) {
	t.Helper()
	for range 100 {
		if holdsOn(t, ns, dev, vip) == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: holds %v = %v, want %v", ns.Name, vip, !want, want)
}

func mac(t *testing.T, ns *testutil.NS) net.HardwareAddr {
	t.Helper()
	var hw net.HardwareAddr
	if err := ns.Do(func() error {
		link, err := netlink.LinkByName("eth0")
		hw = link.Attrs().HardwareAddr
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return hw
}

// neighMAC returns the MAC ns's neighbour table has for ip on eth0, nil if
// none.
func neighMAC(t *testing.T, ns *testutil.NS, ip netip.Addr) net.HardwareAddr {
	t.Helper()
	out := ns.MustRun(t, "ip", "neigh", "show", ip.String(), "dev", "eth0")
	f := strings.Fields(out)
	for i := range f {
		if f[i] == "lladdr" && i+1 < len(f) {
			hw, err := net.ParseMAC(f[i+1])
			if err != nil {
				t.Fatal(err)
			}
			return hw
		}
	}
	return nil
}

// instance returns the options of a lab instance: VRID 51, the VIP of the
// family, on eth0.
func instance(name string, version, prio int, advert time.Duration, v6 bool) router.InstanceConfig {
	vip := vip4
	if v6 {
		vip = vip6
	}
	return router.InstanceConfig{
		VRRP: vrrp.Options{
			Name: name, VRID: 51, Version: version, Priority: prio, AdvertInterval: advert,
		},
		Interface: "eth0",
		Addresses: []addrs.Address{{Prefix: netip.PrefixFrom(vip, vip.BitLen())}},
		// One short burst: the tests look at the first.
		Announce: addrs.Announce{Repeat: 2, Delay: -1},
	}
}
