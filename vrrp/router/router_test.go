package router_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"xlb/vrrp"
	"xlb/vrrp/router"
)

// TestFailover runs an instance in each of two routers: the higher
// priority one becomes master and holds the VIP, the other backs it up;
// when the master stops, it sends priority 0 and the backup takes over.
func TestFailover(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version int
		advert  time.Duration
		v6      bool
		unicast bool
		vmac    bool
	}{
		{name: "v2 ipv4 multicast", version: 2, advert: time.Second},
		{name: "v3 ipv6 multicast", version: 3, advert: 100 * time.Millisecond, v6: true},
		{name: "v3 ipv4 unicast", version: 3, advert: 100 * time.Millisecond, unicast: true},
		{name: "v3 ipv4 vmac", version: 3, advert: 100 * time.Millisecond, vmac: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			vip := vip4
			if tc.v6 {
				vip = vip6
			}
			ia := instance("VI_1", tc.version, 150, tc.advert, tc.v6)
			ia.VRRP.InitialState = vrrp.StateMaster
			ib := instance("VI_1", tc.version, 100, tc.advert, tc.v6)
			if tc.unicast {
				ia.Source, ia.VRRP.Unicast = addrA4, []netip.Addr{addrB4}
				ib.Source, ib.VRRP.Unicast = addrB4, []netip.Addr{addrA4}
			}
			dev := "eth0"
			if tc.vmac {
				ia.UseVMAC, ib.UseVMAC = true, true
				dev = "vrrp.51"
			}
			a := start(t, l.a, router.Options{Instances: []router.InstanceConfig{ia}})
			b := start(t, l.b, router.Options{Instances: []router.InstanceConfig{ib}})

			a.waitState(t, vrrp.StateMaster, 10*time.Second)
			b.waitState(t, vrrp.StateBackup, 10*time.Second)
			waitHoldsOn(t, l.a, dev, vip, true)
			if holdsOn(t, l.b, dev, vip) {
				t.Errorf("backup holds %v", vip)
			}
			// The backup knows the master by the source of its adverts.
			wantMaster := a.status(t).Source
			for range 200 {
				if b.status(t).Master == wantMaster {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if got := b.status(t); got.Master != wantMaster || got.MasterPriority != 150 {
				t.Errorf("backup sees master %v priority %d, want %v priority 150", got.Master, got.MasterPriority, wantMaster)
			}

			a.stop(t)
			if holdsOn(t, l.a, dev, vip) {
				t.Errorf("stopped master still holds %v", vip)
			}
			// Priority 0 means Skew_Time, well under Master_Down_Interval;
			// allow that interval plus load.
			took := b.waitState(t, vrrp.StateMaster, 3*tc.advert+time.Second+2*time.Second)
			t.Logf("takeover after graceful stop: %v", took)
			waitHoldsOn(t, l.b, dev, vip, true)
			// Notifications reach the caller from the router's own queue,
			// a moment after the state changed: wait for them, boundedly.
			for deadline := time.Now().Add(2 * time.Second); len(b.states()) < 2 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			if diff := cmp.Diff([]vrrp.State{vrrp.StateBackup, vrrp.StateMaster}, b.states()); diff != "" {
				t.Errorf("backup's notified states (-want +got):\n%s", diff)
			}
			if got := b.status(t).Counters.PriorityZeroReceived; got == 0 {
				t.Errorf("backup counted no priority 0 advert")
			}
			b.stop(t)
			if holdsOn(t, l.b, dev, vip) {
				t.Errorf("stopped router still holds %v", vip)
			}
			if diff := cmp.Diff([]vrrp.State{vrrp.StateBackup, vrrp.StateMaster, vrrp.StateStop}, b.states()); diff != "" {
				t.Errorf("notified states after stop (-want +got):\n%s", diff)
			}
		})
	}
}
