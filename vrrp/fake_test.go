package vrrp

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"xlb/vrrp/packet"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeClock is a Clock whose time moves only when a test sets it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	c  chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	return ch
}

// set moves the clock to t and fires the waiters due.
func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(t) {
			kept = append(kept, w)
			continue
		}
		w.c <- t
	}
	c.waiters = kept
}

// recorder is every side effect's fake: it logs sends, address changes and
// notifications as lines "TIME NAME WHAT", time counted from t0, and checks
// that addresses are taken and released in turn.
type recorder struct {
	mu    sync.Mutex
	clock Clock
	lines []string
	held  map[string]bool
	// misuse records a Take while held or Release while not held.
	misuse []string
	// sent is the last advert per instance, and when.
	sent     map[string]packet.Advertisement
	sentAt   map[string]time.Time
	notified map[string][]State
	reasons  map[string]string
	notes    chan Notification
}

func newRecorder(c Clock) *recorder {
	return &recorder{clock: c, held: map[string]bool{}, sent: map[string]packet.Advertisement{},
		sentAt: map[string]time.Time{}, notified: map[string][]State{}, reasons: map[string]string{},
		notes: make(chan Notification, 1000)}
}

func (r *recorder) logf(name, format string, args ...any) {
	r.lines = append(r.lines, fmt.Sprintf("%v %s %s", r.clock.Now().Sub(t0), name, fmt.Sprintf(format, args...)))
}

// forInstance returns the Sender and Addresser of instance name.
func (r *recorder) forInstance(name string) (Sender, Addresser) {
	return recSender{r, name}, recAddresser{r, name}
}

type recSender struct {
	r    *recorder
	name string
}

func (s recSender) Send(a packet.Advertisement, peers []netip.Addr) error {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.logf(s.name, "send %d", a.Priority)
	s.r.sent[s.name] = a
	s.r.sentAt[s.name] = s.r.clock.Now()
	return nil
}

type recAddresser struct {
	r    *recorder
	name string
}

func (a recAddresser) Take(vips []netip.Addr) error {
	a.r.mu.Lock()
	defer a.r.mu.Unlock()
	a.r.logf(a.name, "take")
	if a.r.held[a.name] {
		a.r.misuse = append(a.r.misuse, a.name+" take while held")
	}
	a.r.held[a.name] = true
	return nil
}

func (a recAddresser) Release(vips []netip.Addr) error {
	a.r.mu.Lock()
	defer a.r.mu.Unlock()
	a.r.logf(a.name, "release")
	if !a.r.held[a.name] {
		a.r.misuse = append(a.r.misuse, a.name+" release while not held")
	}
	a.r.held[a.name] = false
	return nil
}

func (r *recorder) Notify(n Notification) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logf(n.Name, "%v", n.State)
	r.notified[n.Name] = append(r.notified[n.Name], n.State)
	r.reasons[n.Name] = n.Reason
	select {
	case r.notes <- n:
	default:
	}
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.lines
	r.lines = nil
	return l
}

// Addresses of the scenarios: ours, a lower and a greater peer.
var (
	ours = netip.MustParseAddr("198.18.0.10")
	lo   = netip.MustParseAddr("198.18.0.5")
	hi   = netip.MustParseAddr("198.18.0.20")
	vip  = netip.MustParseAddr("198.18.1.1")
	vip6 = netip.MustParseAddr("2001:db8::1")
)

// testOptions returns a version 2 instance's options with fakes wired.
func testOptions(name string, vrid uint8, r *recorder, c Clock) Options {
	s, a := r.forInstance(name)
	return Options{Name: name, VRID: vrid, Version: 2, Priority: 100, VIPs: []netip.Addr{vip},
		Primary: ours, Sender: s, Addresser: a, Notifier: r, Clock: c}
}

// advance moves d's time to to, firing each deadline at its own time.
func advance(d *driver, c *fakeClock, to time.Time, check func()) {
	for range 100000 {
		d.mu.Lock()
		at, _ := d.next()
		if at.IsZero() || at.After(to) {
			d.mu.Unlock()
			break
		}
		c.set(at)
		d.expire(at)
		d.mu.Unlock()
		if check != nil {
			check()
		}
	}
	c.set(to)
}

// startDriver starts d at the clock's time, as Run does.
func startDriver(d *driver) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ran = true
	d.start(d.clock.Now())
}

func stopDriver(d *driver) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stop(d.clock.Now())
}
