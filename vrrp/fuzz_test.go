package vrrp

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"xlb/vrrp/packet"
)

// FuzzInstanceEvents plays random sequences of adverts, tracking changes
// and time steps against one instance or a sync group of two, and checks
// the state machine's invariants after every step and every timer.
func FuzzInstanceEvents(f *testing.F) {
	f.Add([]byte{0, 100, 0, 0})
	f.Add([]byte{1, 100, 0, 5, 0, 40, 0, 1, 200, 1, 0, 10, 0})
	f.Add([]byte{2, 150, 0, 0, 1, 1, 0, 0, 4, 0, 2, 8, 1, 0, 16, 0})
	f.Add([]byte{3, 255, 10, 2, 3, 0, 1, 0, 100, 0, 1, 0, 2, 255, 0})
	f.Add([]byte{8, 90, 20, 1, 1, 50, 1, 0, 30, 0, 1, 50, 1, 0, 30, 0, 4, 0, 0})
	f.Add([]byte{6, 100, 0, 50, 2, 0xf6, 8, 2, 1, 2, 0, 50, 0, 2, 0, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 4 {
			return
		}
		flags, prio, delay, ival := data[0], int(data[1]), data[2], data[3]
		data = data[4:]
		c := newFakeClock()
		r := newRecorder(c)
		opts := func(name string, o *Options) {
			o.Priority = prio
			if name == "B" {
				o.Priority = 255 - prio // 0 is the default, 100
			}
			o.AdvertInterval = time.Duration(1+ival%3) * time.Second
			if flags&1 != 0 {
				o.Version, o.AdvertInterval = 3, time.Duration(1+ival%100)*10*time.Millisecond
			}
			o.NoPreempt = flags&4 != 0
			if flags&8 != 0 {
				o.InitialState = StateMaster
			}
			o.PreemptDelay = time.Duration(delay%50) * 100 * time.Millisecond
			o.AuthPass = ""
		}
		var d *driver
		var group *SyncGroup
		byName := map[string]*Instance{}
		if flags&2 != 0 {
			group, byName = newGroup(t, c, r, opts, SyncGroupOptions{TrackingWeight: flags&16 != 0})
			d = group.d
		} else {
			o := testOptions("A", 1, r, c)
			opts("A", &o)
			i, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			byName["A"] = i
			d = i.d
		}
		names := []string{"A", "B"}[:len(byName)]
		stopped := false
		check := func(step string) {
			d.mu.Lock()
			defer d.mu.Unlock()
			r.mu.Lock()
			defer r.mu.Unlock()
			if err := invariants(c.Now(), r, group, byName, names, stopped); err != nil {
				t.Fatalf("after %s: %v", step, err)
			}
		}
		startDriver(d)
		check("start")
		peers := []netip.Addr{lo, hi, ours, vip6}
		for n := 0; n+3 <= len(data) && n < 3*500; n += 3 {
			op, x, y := data[n]%6, data[n+1], data[n+2]
			i := byName[names[int(x)%len(names)]]
			step := fmt.Sprintf("op %d (%d %d %d) at %v", n/3, op, x, y, c.Now().Sub(t0))
			switch op {
			case 0:
				advance(d, c, c.Now().Add(time.Duration(int(x)<<6|int(y)&63)*time.Millisecond), func() { check(step + " timer") })
			case 1, 3:
				a := packet.Advertisement{Version: i.o.Version, VRID: i.o.VRID, Priority: x, Interval: i.o.AdvertInterval, Addrs: i.o.VIPs}
				if op == 3 {
					a.Priority = 0
				}
				if y&4 != 0 {
					a.Interval = time.Duration(1+y) * 10 * time.Millisecond
				}
				i.Receive(peers[int(y)%len(peers)], a)
			case 2:
				i.SetTracked(fmt.Sprint(x%3), Track{Kind: TrackKind(y % 3), Up: y&8 != 0, Weight: int(int8(x)), Value: int(int8(y))})
			case 4:
				stopDriver(d)
				stopped = true
			case 5:
				advance(d, c, c.Now().Add(time.Duration(x)*time.Millisecond), func() { check(step + " timer") })
			}
			check(step)
			if stopped {
				break
			}
		}
		if len(r.misuse) > 0 {
			t.Fatalf("addresser misused: %v", r.misuse)
		}
	})
}

// invariants checks what must hold between any two steps.
func invariants(now time.Time, r *recorder, g *SyncGroup, byName map[string]*Instance, names []string, stopped bool) error {
	var groupFault bool
	for _, name := range names {
		if f, _ := byName[name].ownFault(); f {
			groupFault = true
		}
	}
	for _, name := range names {
		i := byName[name]
		ownFault, _ := i.ownFault()
		fault := ownFault
		if g != nil {
			fault = groupFault
		}
		notes := r.notified[name]
		if len(notes) == 0 || notes[len(notes)-1] != i.state {
			return fmt.Errorf("%s: state %v, notifications %v", name, i.state, notes)
		}
		for k := 1; k < len(notes); k++ {
			if notes[k] == notes[k-1] {
				return fmt.Errorf("%s: notified %v twice in a row: %v", name, notes[k], notes)
			}
		}
		if r.held[name] != (i.state == StateMaster) {
			return fmt.Errorf("%s: state %v but addresses held %v", name, i.state, r.held[name])
		}
		if i.owner() && i.effective != PriorityOwner || !i.owner() && (i.effective < 1 || i.effective > 254 || i.effective != i.priority()) {
			return fmt.Errorf("%s: effective priority %d, configured %d", name, i.effective, i.o.Priority)
		}
		if i.o.Version == 2 && i.masterAdv != i.o.AdvertInterval {
			return fmt.Errorf("%s: version 2 master interval %v", name, i.masterAdv)
		}
		if stopped {
			if i.state != StateStop || !i.deadline.IsZero() {
				return fmt.Errorf("%s: after stop state %v deadline %v", name, i.state, i.deadline)
			}
			continue
		}
		if g != nil && i.state != g.state {
			return fmt.Errorf("%s: state %v, its group's %v", name, i.state, g.state)
		}
		if (i.state == StateFault) != fault {
			return fmt.Errorf("%s: state %v with fault %v", name, i.state, fault)
		}
		switch i.state {
		case StateMaster:
			if since := now.Sub(r.sentAt[name]); since > i.o.AdvertInterval {
				return fmt.Errorf("%s: master silent for %v, interval %v", name, since, i.o.AdvertInterval)
			}
			if !i.deadline.After(now) || i.deadline.After(now.Add(i.o.AdvertInterval)) {
				return fmt.Errorf("%s: master's next advert at %v, now %v", name, i.deadline.Sub(t0), now.Sub(t0))
			}
		case StateBackup:
			// A raised priority can run the timer out now.
			if i.deadline.Before(now) || i.deadline.After(now.Add(i.downInterval())) {
				return fmt.Errorf("%s: backup's down timer at %v, now %v, interval %v", name, i.deadline.Sub(t0), now.Sub(t0), i.downInterval())
			}
		case StateFault:
			if !i.deadline.IsZero() {
				return fmt.Errorf("%s: timer running in fault", name)
			}
		default:
			return fmt.Errorf("%s: state %v while running", name, i.state)
		}
	}
	return nil
}
