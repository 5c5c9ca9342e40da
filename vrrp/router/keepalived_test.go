package router_test

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"xlb/internal/testutil"
	"xlb/vrrp"
	"xlb/vrrp/router"
)

// keepalivedConf is a keepalived.conf with one instance, VI_1, for the
// lab's VRID 51 on eth0 with the virtual address vip; extra lines go into
// the instance (unicast_src_ip and unicast_peer).
func keepalivedConf(state string, version, prio int, advert time.Duration, vip netip.Addr, extra string) string {
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
%s	virtual_ipaddress {
		%s
	}
}
`, state, version, prio, advert.Seconds(), extra, vip)
}

// TestKeepalivedMasterCrash runs keepalived as master and a router as its
// backup: the router sees keepalived's adverts, and when keepalived
// crashes, takes over after Master_Down_Interval, holds the VIP and moves
// the client's neighbour entry for it to its own MAC (a gratuitous ARP, or
// an unsolicited NA for IPv6).
func TestKeepalivedMasterCrash(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version int
		advert  time.Duration
		v6      bool
		unicast bool
	}{
		{name: "v2", version: 2, advert: time.Second},
		{name: "v3", version: 3, advert: 100 * time.Millisecond},
		{name: "v3 ipv6", version: 3, advert: 100 * time.Millisecond, v6: true},
		{name: "v3 unicast", version: 3, advert: 100 * time.Millisecond, unicast: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			vip, master := vip4, addrA4
			if tc.v6 {
				// IPv6 adverts come from the link-local address.
				vip, master = vip6, l.a.LinkLocal(t, "eth0")
			}
			ib := instance("VI_1", tc.version, 100, tc.advert, tc.v6)
			extra := ""
			var dump *vrrpCapture
			if tc.unicast {
				extra = fmt.Sprintf("\tunicast_src_ip %s\n\tunicast_peer {\n\t\t%s\n\t}\n", addrA4, addrB4)
				ib.Source, ib.VRRP.Unicast = addrB4, []netip.Addr{addrA4}
				// Everything the router sends and receives passes eth0
				// in its namespace.
				dump = captureVRRP(t, l.b)
			}
			k := testutil.StartKeepalived(t, l.a, keepalivedConf("MASTER", tc.version, 150, tc.advert, vip, extra))
			k.WaitLog(t, "Entering MASTER STATE", 10*time.Second)
			waitHolds(t, l.a, vip, true)

			// The client talks to the VIP through keepalived's node.
			l.c.MustRun(t, "ip", "neigh", "replace", vip.String(), "lladdr", mac(t, l.a).String(), "dev", "eth0", "nud", "stale")
			want := mac(t, l.b)

			b := start(t, l.b, router.Options{Instances: []router.InstanceConfig{ib}})
			for range 300 {
				if s := b.status(t); s.State == vrrp.StateBackup && s.Master == master {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if got := b.status(t); got.State != vrrp.StateBackup || got.Master != master || got.MasterPriority != 150 {
				t.Fatalf("router is %v and sees master %v priority %d, want BACKUP under %v priority 150", got.State, got.Master, got.MasterPriority, master)
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
			waitHolds(t, l.b, vip, true)
			var got string
			for range 100 {
				got = neighMAC(t, l.c, vip).String()
				if got == want.String() {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if got != want.String() {
				t.Errorf("client's neighbour entry for %v: got %s, want the new master's %s", vip, got, want)
			}

			if dump != nil {
				// Wait (boundedly) for adverts of the router's as master.
				toPeer := addrB4.String() + " > " + addrA4.String()
				for range 100 {
					if strings.Count(strings.Join(dump.snapshot(), "\n"), toPeer) >= 3 {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				lines := dump.stop(t)
				var from, to, multicast int
				for _, s := range lines {
					switch {
					case strings.Contains(s, " > 224.0.0.18"):
						multicast++
						t.Errorf("multicast advert with unicast peers: %s", s)
					case strings.Contains(s, addrA4.String()+" > "+addrB4.String()):
						from++
					case strings.Contains(s, toPeer):
						to++
					}
				}
				t.Logf("captured %d VRRP packets: %d keepalived to router, %d router to keepalived, %d multicast", len(lines), from, to, multicast)
				if from == 0 || to == 0 {
					t.Errorf("captured %d unicast adverts from keepalived and %d from the router, want some of each:\n%s", from, to, strings.Join(lines, "\n"))
				}
			}
		})
	}
}

// vrrpCapture is tcpdump printing the VRRP packets on eth0 in a namespace.
type vrrpCapture struct {
	cmd  *exec.Cmd
	done chan struct{}

	mu    sync.Mutex
	lines []string
}

// captureVRRP starts tcpdump in ns and waits until it listens. It stops
// at the end of the test, after 30 s, or after 5000 packets, whichever
// comes first.
func captureVRRP(t *testing.T, ns *testutil.NS) *vrrpCapture {
	t.Helper()
	c := &vrrpCapture{done: make(chan struct{})}
	c.cmd = exec.Command("ip", "netns", "exec", ns.Name, "timeout", "30", "tcpdump", "-i", "eth0", "-n", "-l", "-c", "5000", "ip proto 112")
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errOut, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start tcpdump: %v", err)
	}
	t.Cleanup(func() { c.stop(t) })
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "" {
				continue
			}
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.mu.Unlock()
		}
	}()
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(errOut)
		once := sync.Once{}
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				once.Do(func() { close(listening) })
			}
		}
	}()
	select {
	case <-listening:
	case <-time.After(10 * time.Second):
		t.Fatal("tcpdump did not start listening within 10s")
	}
	return c
}

// stop ends the capture and returns the packets printed. Later calls
// return the same.
func (c *vrrpCapture) stop(t *testing.T) []string {
	t.Helper()
	if c.cmd.ProcessState == nil {
		// timeout passes SIGINT on; tcpdump flushes and exits.
		c.cmd.Process.Signal(os.Interrupt)
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			c.cmd.Process.Kill()
			<-c.done
		}
		c.cmd.Wait()
	}
	return c.snapshot()
}

// snapshot returns the packets printed so far.
func (c *vrrpCapture) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

// TestKeepalivedBackup runs a router as master and keepalived as its
// backup: keepalived hears the router's adverts and stays backup, and
// when the router stops (priority 0) keepalived takes over within about
// a skew time, well before Master_Down_Interval.
func TestKeepalivedBackup(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version int
		advert  time.Duration
		v6      bool
	}{
		{name: "v2", version: 2, advert: time.Second},
		{name: "v3 ipv6", version: 3, advert: 100 * time.Millisecond, v6: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			vip := vip4
			if tc.v6 {
				vip = vip6
			}
			ia := instance("VI_1", tc.version, 150, tc.advert, tc.v6)
			ia.VRRP.InitialState = vrrp.StateMaster
			a := start(t, l.a, router.Options{Instances: []router.InstanceConfig{ia}})
			a.waitState(t, vrrp.StateMaster, 5*time.Second)
			waitHolds(t, l.a, vip, true)

			k := testutil.StartKeepalived(t, l.b, keepalivedConf("BACKUP", tc.version, 100, tc.advert, vip, ""))
			k.WaitLog(t, "Entering BACKUP STATE", 5*time.Second)
			// Past keepalived's Master_Down_Interval (3×advert + skew):
			// had it not heard us, it would be master by now.
			time.Sleep(4*tc.advert + 500*time.Millisecond)
			if strings.Contains(k.Log(), "Entering MASTER STATE") || holds(t, l.b, vip) {
				t.Fatalf("keepalived became master beside a live router master:\n%s", k.Log())
			}

			a.stop(t)
			stopped := time.Now()
			k.WaitLog(t, "Entering MASTER STATE", 3*time.Second)
			t.Logf("keepalived took over %v after the router stopped (skew time %v)", time.Since(stopped), time.Duration(256-100)*tc.advert/256)
			waitHolds(t, l.b, vip, true)
			if holds(t, l.a, vip) {
				t.Errorf("stopped router still holds %v", vip)
			}
		})
	}
}
