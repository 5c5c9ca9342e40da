package router_test

import (
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"xlb/internal/testutil"
	"xlb/vrrp"
	"xlb/vrrp/addrs"
	"xlb/vrrp/conn"
	"xlb/vrrp/packet"
	"xlb/vrrp/router"
)

// pair returns two instances on eth0, VI_1 (VRID 51, vip4) and VI_2
// (VRID 52, 198.18.0.101), with priorities p1 and p2.
func pair(p1, p2 int) []router.InstanceConfig {
	i1 := instance("VI_1", 3, p1, 100*time.Millisecond, false)
	i2 := instance("VI_2", 3, p2, 100*time.Millisecond, false)
	i2.VRRP.VRID = 52
	i2.Addresses = []addrs.Address{{Prefix: netip.MustParsePrefix("198.18.0.101/32")}}
	return []router.InstanceConfig{i1, i2}
}

// stateOf returns the state of instance name in r's status.
func stateOf(r *router.Router, name string) vrrp.State {
	for _, s := range r.Status().Instances {
		if s.Name == name {
			return s.State
		}
	}
	return -1
}

// waitStates waits (boundedly) until r's instances are in the states want
// gives by name.
func waitStates(t *testing.T, r *router.Router, want map[string]vrrp.State) {
	t.Helper()
	got := map[string]vrrp.State{}
	for range 500 {
		for name := range want {
			got[name] = stateOf(r, name)
		}
		if cmp.Equal(want, got) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("instance states (-want +got):\n%s", cmp.Diff(want, got))
}

// TestLoadSharing runs two VRIDs on one interface of each router, each
// master on a different node: both share one socket per router, which
// hands each advert to the instance of its VRID. A malformed advert is
// counted against its instance and changes nothing.
func TestLoadSharing(t *testing.T) {
	l := newLab(t)
	a := start(t, l.a, router.Options{Instances: pair(150, 100)})
	b := start(t, l.b, router.Options{Instances: pair(100, 150)})
	waitStates(t, a.r, map[string]vrrp.State{"VI_1": vrrp.StateMaster, "VI_2": vrrp.StateBackup})
	waitStates(t, b.r, map[string]vrrp.State{"VI_1": vrrp.StateBackup, "VI_2": vrrp.StateMaster})
	waitHolds(t, l.a, vip4, true)
	waitHolds(t, l.b, netip.MustParseAddr("198.18.0.101"), true)

	// xlbctl vrrp -o json shows the state machine's fields and the socket's.
	js, err := json.Marshal(a.r.Status())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name":"VI_1"`, `"state":"MASTER"`, `"interface":"eth0"`, `"source":"198.18.0.1"`, `"state":"BACKUP"`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("status JSON lacks %s: %s", want, js)
		}
	}

	// A client sends an advert for VRID 51 with a bad checksum: b drops it.
	good, err := packet.Marshal(packet.Advertisement{
		Version: 3, VRID: 51, Priority: 200, Interval: 100 * time.Millisecond, Addrs: []netip.Addr{vip4},
	}, netip.MustParseAddr("198.18.0.3"), conn.DefaultGroup4, packet.MarshalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad := slices.Clone(good)
	bad[6] ^= 0xff // the checksum
	if err := l.c.Do(func() error {
		c, err := conn.Open(conn.Options{Interface: "eth0"})
		if err != nil {
			return err
		}
		defer c.Close()
		return c.Send(bad, netip.Addr{})
	}); err != nil {
		t.Fatal(err)
	}
	var got map[string]uint64
	for range 200 {
		got = b.r.Status().Instances[0].ReceiveErrors
		if len(got) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if diff := cmp.Diff(map[string]uint64{packet.ErrChecksum.Error(): 1}, got); diff != "" {
		t.Errorf("VI_1 receive errors (-want +got):\n%s", diff)
	}
	if s := stateOf(b.r, "VI_1"); s != vrrp.StateBackup {
		t.Errorf("VI_1 on b is %v after a bad advert, want BACKUP", s)
	}
}

// TestSyncGroupTracking puts both instances of each router in a sync
// group: a failed tracked object of the group (unweighted) takes every
// member of the master's group to FAULT, and the other router's group
// takes over both.
func TestSyncGroupTracking(t *testing.T) {
	l := newLab(t)
	groups := []router.GroupConfig{{Name: "G1", Members: []string{"VI_1", "VI_2"}}}
	a := start(t, l.a, router.Options{Instances: pair(150, 150), Groups: groups})
	b := start(t, l.b, router.Options{Instances: pair(100, 100), Groups: groups})
	// Set before the router runs: kept and applied at start.
	if err := b.r.SetTracked("G1", "script:chk", vrrp.Track{Kind: vrrp.TrackScript, Up: true}); err != nil {
		t.Fatal(err)
	}
	waitStates(t, a.r, map[string]vrrp.State{"VI_1": vrrp.StateMaster, "VI_2": vrrp.StateMaster})
	waitStates(t, b.r, map[string]vrrp.State{"VI_1": vrrp.StateBackup, "VI_2": vrrp.StateBackup})

	if err := a.r.SetTracked("G1", "script:chk", vrrp.Track{Kind: vrrp.TrackScript, Up: false}); err != nil {
		t.Fatal(err)
	}
	waitStates(t, a.r, map[string]vrrp.State{"VI_1": vrrp.StateFault, "VI_2": vrrp.StateFault})
	waitStates(t, b.r, map[string]vrrp.State{"VI_1": vrrp.StateMaster, "VI_2": vrrp.StateMaster})
	if s := a.r.Status().Groups; len(s) != 1 || s[0].State != vrrp.StateFault {
		t.Errorf("a's groups: %+v, want G1 in FAULT", s)
	}
	waitHolds(t, l.a, vip4, false)
	waitHolds(t, l.b, vip4, true)

	a.stop(t)
	var groupStates []vrrp.State
	a.mu.Lock()
	for _, n := range a.notes {
		if n.Type == "GROUP" {
			groupStates = append(groupStates, n.State)
		}
	}
	a.mu.Unlock()
	// The vrrp package notifies no group STOP yet: look at the changes
	// before it.
	if len(groupStates) > 3 {
		groupStates = groupStates[:3]
	}
	if diff := cmp.Diff([]vrrp.State{vrrp.StateBackup, vrrp.StateMaster, vrrp.StateFault}, groupStates); diff != "" {
		t.Errorf("a's group notifications (-want +got):\n%s", diff)
	}
}

func TestNewErrors(t *testing.T) {
	one := instance("VI_1", 2, 100, time.Second, false)
	for _, tc := range []struct {
		name string
		opts router.Options
		want string
	}{
		{"duplicate instance", router.Options{Instances: []router.InstanceConfig{one, one}}, "vrrp instance VI_1: defined twice"},
		{"unknown member", router.Options{Instances: []router.InstanceConfig{one}, Groups: []router.GroupConfig{{Name: "G", Members: []string{"VI_9"}}}},
			"vrrp sync group G: member VI_9: no such vrrp instance or sync group"},
		{"member of two groups", router.Options{Instances: []router.InstanceConfig{one}, Groups: []router.GroupConfig{
			{Name: "G", Members: []string{"VI_1"}}, {Name: "H", Members: []string{"VI_1"}},
		}}, "vrrp sync group H: member VI_1: already in sync group G"},
		{"no interface", router.Options{Instances: []router.InstanceConfig{func() router.InstanceConfig {
			c := one
			c.Interface = ""
			return c
		}()}}, "vrrp instance VI_1: interface: empty"},
		{"group of the wrong family", router.Options{Instances: []router.InstanceConfig{func() router.InstanceConfig {
			c := one
			c.Group = netip.MustParseAddr("ff02::12")
			return c
		}()}}, "vrrp instance VI_1: multicast group ff02::12: want an IPv4 multicast address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := router.New(tc.opts)
			if err == nil || err.Error() != tc.want {
				t.Errorf("New: got error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSetTrackedUnknown(t *testing.T) {
	r, err := router.New(router.Options{Instances: []router.InstanceConfig{instance("VI_1", 2, 100, time.Second, false)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetTracked("VI_9", "script:x", vrrp.Track{}); !errors.Is(err, router.ErrUnknown) {
		t.Errorf("SetTracked of an unknown instance: got %v, want ErrUnknown", err)
	}
	s := r.Status()
	if len(s.Instances) != 1 || s.Instances[0].Name != "VI_1" || s.Instances[0].State != vrrp.StateInit {
		t.Errorf("status before Run: %+v, want VI_1 in INIT", s)
	}
}

// TestRunInterfaceMissing checks that Run fails, leaving nothing open, for
// an interface the namespace lacks.
func TestRunInterfaceMissing(t *testing.T) {
	ns := testutil.NetNS(t)
	c := instance("VI_1", 2, 100, time.Second, false)
	c.Interface = "nosuch0"
	r, err := router.New(router.Options{Instances: []router.InstanceConfig{c}})
	if err != nil {
		t.Fatal(err)
	}
	err = ns.Do(func() error { return r.Run(t.Context()) })
	if err == nil {
		t.Fatal("Run on a missing interface: no error")
	}
	t.Logf("Run: %v", err)
}
