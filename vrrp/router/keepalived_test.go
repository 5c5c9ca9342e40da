package router_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"xlb/internal/testutil"
	"xlb/vrrp"
	"xlb/vrrp/router"
)

func keepalivedConf(state string, version, prio int, advert time.Duration) string {
	return fmt.Sprintf(`global_defs {
	router_id ka
}
vrrp_instance VI_1 {
	state %s
	interface eth0
	virtual_router_id 51
	version %d
	priority %d
	advert_int %g
	virtual_ipaddress {
		%s
	}
}
`, state, version, prio, advert.Seconds(), vip4)
}

// TestKeepalivedMasterCrash runs keepalived as master and a router as its
// backup: the router sees keepalived's adverts, and when keepalived
// crashes, takes over after Master_Down_Interval, holds the VIP and moves
// the client's ARP entry for it to its own MAC.
func TestKeepalivedMasterCrash(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version int
		advert  time.Duration
	}{
		{name: "v2", version: 2, advert: time.Second},
		{name: "v3", version: 3, advert: 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			k := testutil.StartKeepalived(t, l.a, keepalivedConf("MASTER", tc.version, 150, tc.advert))
			k.WaitLog(t, "Entering MASTER STATE", 10*time.Second)
			waitHolds(t, l.a, vip4, true)

			// The client talks to the VIP through keepalived's node.
			l.c.MustRun(t, "ip", "neigh", "replace", vip4.String(), "lladdr", mac(t, l.a).String(), "dev", "eth0", "nud", "stale")
			want := mac(t, l.b)

			b := start(t, l.b, router.Options{Instances: []router.InstanceConfig{instance("VI_1", tc.version, 100, tc.advert, false)}})
			for range 300 {
				if s := b.status(t); s.State == vrrp.StateBackup && s.Master == addrA4 {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if got := b.status(t); got.State != vrrp.StateBackup || got.Master != addrA4 || got.MasterPriority != 150 {
				t.Fatalf("router is %v and sees master %v priority %d, want BACKUP under %v priority 150", got.State, got.Master, got.MasterPriority, addrA4)
			}

			k.Kill()
			killed := time.Now()
			skew := time.Duration(256-100) * time.Second / 256
			if tc.version == 3 {
				skew = time.Duration(256-100) * tc.advert / 256
			}
			limit := 3*tc.advert + skew + 2*time.Second
			b.waitState(t, vrrp.StateMaster, limit)
			took := time.Since(killed)
			t.Logf("takeover after crash: %v (Master_Down_Interval %v)", took, 3*tc.advert+skew)
			// The last advert came at most one interval before the kill.
			// Only whole seconds leave room for a scheduler's delays.
			if tc.version == 2 && took < 2*tc.advert+skew-100*time.Millisecond {
				t.Errorf("took over %v after the crash, before Master_Down_Interval could end", took)
			}
			waitHolds(t, l.b, vip4, true)
			var got string
			for range 100 {
				got = neighMAC(t, l.c, vip4).String()
				if got == want.String() {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if got != want.String() {
				t.Errorf("client's ARP entry for %v: got %s, want the new master's %s", vip4, got, want)
			}
		})
	}
}

// TestKeepalivedBackup runs a router as master and keepalived as its
// backup: keepalived hears the router's adverts and stays backup, and
// when the router stops (priority 0) keepalived takes over within about
// a skew time, well before Master_Down_Interval.
func TestKeepalivedBackup(t *testing.T) {
	l := newLab(t)
	ia := instance("VI_1", 2, 150, time.Second, false)
	ia.VRRP.InitialState = vrrp.StateMaster
	a := start(t, l.a, router.Options{Instances: []router.InstanceConfig{ia}})
	a.waitState(t, vrrp.StateMaster, 5*time.Second)
	waitHolds(t, l.a, vip4, true)

	k := testutil.StartKeepalived(t, l.b, keepalivedConf("BACKUP", 2, 100, time.Second))
	k.WaitLog(t, "Entering BACKUP STATE", 5*time.Second)
	// Past keepalived's Master_Down_Interval (3.6s): had it not heard us,
	// it would be master by now.
	time.Sleep(4 * time.Second)
	if strings.Contains(k.Log(), "Entering MASTER STATE") || holds(t, l.b, vip4) {
		t.Fatalf("keepalived became master beside a live router master:\n%s", k.Log())
	}

	a.stop(t)
	stopped := time.Now()
	k.WaitLog(t, "Entering MASTER STATE", 3*time.Second)
	t.Logf("keepalived took over %v after the router stopped", time.Since(stopped))
	waitHolds(t, l.b, vip4, true)
	if holds(t, l.a, vip4) {
		t.Errorf("stopped router still holds %v", vip4)
	}
}
