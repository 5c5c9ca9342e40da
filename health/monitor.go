package health

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// ErrRunning is returned by a second concurrent Run.
var ErrRunning = errors.New("monitor already running")

// Monitor runs the checks of many services and reports changes. Its
// methods are safe for concurrent use.
type Monitor struct {
	cfg   Config
	log   *slog.Logger
	clock Clock

	mu       sync.Mutex
	rnd      *rand.Rand
	services map[string]*service
	wishes   map[string]bool // SetActive's word, also for services not yet added
	heap     timerHeap
	running  bool
	wake     chan struct{}
	events   queue[Event]
	notes    queue[Notification]
	// observe, when set, sees each attempt's drift (how late it started);
	// the benchmark uses it.
	observe func(drift time.Duration)
	slack   time.Duration
}

// New returns a Monitor with no services; add them with Update.
func New(cfg Config) *Monitor {
	m := &Monitor{
		cfg:      cfg,
		log:      cfg.Logger,
		clock:    cfg.Clock,
		rnd:      cfg.Rand,
		services: map[string]*service{},
		wishes:   map[string]bool{},
		wake:     make(chan struct{}, 1),
		slack:    dispatchSlack,
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.clock == nil {
		m.clock = SystemClock{}
	}
	if m.rnd == nil {
		m.rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if m.cfg.Concurrency <= 0 {
		m.cfg.Concurrency = DefaultConcurrency
	}
	if m.cfg.ShutdownTimeout <= 0 {
		m.cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	m.events.init()
	m.notes.init()
	return m
}

// Update replaces the set of services, as a config reload does. Services,
// reals and checks are matched by name, address and check ID: those that
// stay keep their state (a real that is down stays down), those that are
// new start as keepalived starts them (up, or down with alpha) and report
// an initial Event, and those that are gone stop. It may be called before
// or during Run.
func (m *Monitor) Update(svcs []Service) error {
	if err := validate(svcs); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	keep := make(map[string]bool, len(svcs))
	for _, spec := range svcs {
		keep[spec.Name] = true
		s, known := m.services[spec.Name]
		if !known {
			s = &service{reals: map[netip.AddrPort]*realState{}, active: m.wishes[spec.Name]}
			m.services[spec.Name] = s
		}
		wasSuspended := known && s.suspended()
		reals := spec.Reals
		spec.Reals = nil
		s.spec = spec
		m.updateReals(s, reals, now)
		if wasSuspended && !s.suspended() {
			m.unpark(s, now)
		}
		m.refreshQuorum(s, now, !known)
	}
	for name, s := range m.services {
		if !keep[name] {
			m.removeService(s)
			delete(m.services, name)
		}
	}
	return nil
}

func (m *Monitor) updateReals(s *service, reals []Real, now time.Time) {
	keep := make(map[netip.AddrPort]bool, len(reals))
	for _, spec := range reals {
		keep[spec.Addr] = true
		r, known := s.reals[spec.Addr]
		if !known {
			r = &realState{svc: s, lastChange: now}
			r.rampItem = item{index: -1, ramp: r}
			s.reals[spec.Addr] = r
		}
		checks := spec.Checks
		spec.Checks = nil
		r.spec = spec
		m.updateChecks(r, checks, now)
		if known {
			m.refresh(r, now, "config reload", false)
		} else {
			m.refresh(r, now, "", true)
		}
	}
	for a, r := range s.reals {
		if !keep[a] {
			m.removeReal(r)
			delete(s.reals, a)
		}
	}
}

func (m *Monitor) updateChecks(r *realState, checks []Check, now time.Time) {
	old := make(map[string]*checkState, len(r.checks))
	for _, c := range r.checks {
		old[c.id] = c
	}
	seen := map[string]int{}
	out := make([]*checkState, 0, len(checks))
	for _, c := range checks {
		id := c.ID
		if id == "" {
			id = c.Checker.String()
		}
		if seen[id]++; seen[id] > 1 {
			id = fmt.Sprintf("%s#%d", id, seen[id])
		}
		cs, ok := old[id]
		if !ok {
			cs = newCheckState(r, id, c, now)
			m.scheduleFirst(cs, now)
			out = append(out, cs)
			continue
		}
		delete(old, id)
		prev := cs.opts.interval()
		cs.checker, cs.opts = c.Checker, c.Options
		// A shorter delay_loop takes effect now rather than after the old one.
		if cs.ran && cs.item.index >= 0 && cs.retries == 0 && cs.opts.interval() < prev {
			if due := cs.lastRun.Add(cs.opts.interval()); due.Before(cs.item.due) {
				m.schedule(&cs.item, later(due, now))
			}
		}
		out = append(out, cs)
	}
	for _, cs := range old {
		m.dropCheck(cs)
	}
	r.checks = out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (m *Monitor) dropCheck(cs *checkState) {
	cs.removed = true
	m.unschedule(&cs.item)
}

// removeReal stops r's checks; with omega a live real's notify_down runs,
// as keepalived does when a reload removes it.
func (m *Monitor) removeReal(r *realState) {
	for _, c := range r.checks {
		m.dropCheck(c)
	}
	m.unschedule(&r.rampItem)
	m.omegaReal(r)
}

func (m *Monitor) removeService(s *service) {
	for _, r := range s.reals {
		m.removeReal(r)
	}
	m.omegaService(s)
}

// omegaReal queues a live real's notify_down if its service has omega.
func (m *Monitor) omegaReal(r *realState) {
	if r.svc.spec.Omega && r.published.Up {
		m.notify(r.svc, r.spec.Addr, false, r.spec.NotifyDown)
	}
}

// omegaService queues quorum_down of a service with omega and quorum.
func (m *Monitor) omegaService(s *service) {
	if s.spec.Omega && s.quorumUp {
		m.notify(s, netip.AddrPort{}, false, s.spec.QuorumDown)
	}
}

// SetActive tells whether this node holds service name's address (is VRRP
// master for it). The checks of an ha_suspend service run only while
// active; when it becomes active they start again after their warmup. The
// word is kept for a service added later.
func (m *Monitor) SetActive(name string, active bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.wishes[name] = active
	s := m.services[name]
	if s == nil {
		return
	}
	was := s.suspended()
	s.active = active
	if was && !s.suspended() {
		m.unpark(s, m.clock.Now())
	}
}

func (m *Monitor) unpark(s *service, now time.Time) {
	for _, r := range s.reals {
		for _, c := range r.checks {
			if c.parked {
				c.parked = false
				m.scheduleFirst(c, now)
			}
		}
	}
}

// scheduleFirst schedules a check's first attempt, after a random warmup.
func (m *Monitor) scheduleFirst(c *checkState, now time.Time) {
	if c.real.svc.suspended() {
		c.parked = true
		return
	}
	var d time.Duration
	if w := c.opts.Warmup; w > 0 {
		d = time.Duration(m.rnd.Int64N(int64(w)))
	}
	m.schedule(&c.item, now.Add(d))
}

// refresh recomputes r's health after its checks or config changed and
// reports a change. It says whether what quorum counts changed.
func (m *Monitor) refresh(r *realState, now time.Time, trigger string, initial bool) bool {
	h := r.health(trigger)
	full := h.Weight
	wasUp := r.published.Up
	switch {
	case !h.Up:
		r.rampStart = time.Time{}
	case !wasUp && !initial && r.spec.SlowStart > 0:
		r.rampStart = now
	}
	w, next := r.ramped(full, now)
	if next.IsZero() {
		r.rampStart = time.Time{}
		m.unschedule(&r.rampItem)
	} else {
		m.schedule(&r.rampItem, next)
		h.Weight, h.HasWeight = w, true
	}
	quorumChange := initial || h.Up != wasUp || (h.Up && full != r.full)
	r.full = full
	p := r.published
	if !initial && h.Up == p.Up && h.Weight == p.Weight && h.HasWeight == p.HasWeight {
		if !h.Up {
			r.published.Reason = h.Reason // the latest failure, for Snapshot
		}
		return quorumChange
	}
	r.published, r.lastChange = h, now
	s := r.svc
	m.events.push(Event{Time: now, Service: s.spec.Name, Real: r.spec.Addr, Health: h, Initial: initial,
		UpChanged: !initial && h.Up != wasUp})
	if initial || h.Up == wasUp {
		return quorumChange
	}
	if h.Up {
		m.log.Info("real up", "service", s.spec.Name, "real", r.spec.Addr.String(), "weight", h.Weight, "reason", h.Reason)
		m.notify(s, r.spec.Addr, true, r.spec.NotifyUp)
	} else {
		m.log.Info("real down", "service", s.spec.Name, "real", r.spec.Addr.String(), "reason", h.Reason)
		m.notify(s, r.spec.Addr, false, r.spec.NotifyDown)
	}
	return quorumChange
}

// refreshQuorum recomputes s's quorum state and reports a change.
func (m *Monitor) refreshQuorum(s *service, now time.Time, initial bool) {
	sum := s.liveWeight()
	up := quorumMet(sum, s.spec.Quorum, s.spec.Hysteresis, s.quorumUp, !initial)
	if !initial && up == s.quorumUp {
		return
	}
	s.quorumUp = up
	m.events.push(Event{Time: now, Service: s.spec.Name, QuorumUp: up, Initial: initial})
	if initial {
		return
	}
	msg := "quorum lost"
	if up {
		msg = "quorum gained"
	}
	m.log.Info(msg, "service", s.spec.Name, "weight", sum, "quorum", max(s.spec.Quorum, 1), "hysteresis", s.spec.Hysteresis)
	if up {
		m.notify(s, netip.AddrPort{}, true, s.spec.QuorumUp)
	} else {
		m.notify(s, netip.AddrPort{}, false, s.spec.QuorumDown)
	}
}

func (m *Monitor) notify(s *service, real netip.AddrPort, up bool, c Command) {
	if c.IsZero() || m.cfg.Notifier == nil {
		return
	}
	m.notes.push(Notification{Service: s.spec.Name, Real: real, Up: up, Command: c})
}

// Run runs the checks until ctx is done, then runs the pending notify
// commands and, for omega services, the down commands, and returns. Every
// goroutine it starts has ended when it returns.
func (m *Monitor) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		return ErrRunning
	}
	m.running = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.running = false
		m.mu.Unlock()
	}()

	g, gctx := errgroup.WithContext(ctx)
	jobs := make(chan job)
	for range m.cfg.Concurrency {
		g.Go(func() error {
			for {
				select {
				case <-gctx.Done():
					return nil
				case j := <-jobs:
					m.execute(gctx, j)
				}
			}
		})
	}
	g.Go(func() error { return m.dispatch(gctx, jobs) })
	g.Go(func() error {
		m.events.deliver(gctx, func(e Event) {
			if m.cfg.OnChange != nil {
				m.cfg.OnChange(e)
			}
		})
		return nil
	})
	g.Go(func() error {
		m.notes.deliver(gctx, func(n Notification) { m.runNotify(gctx, n) })
		return nil
	})
	err := g.Wait()

	// The commands still owed run on a context of their own: ctx is done.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.ShutdownTimeout)
	defer cancel()
	m.mu.Lock()
	for _, s := range m.services {
		for _, r := range s.reals {
			m.omegaReal(r)
		}
		m.omegaService(s)
	}
	pending := m.notes.take()
	m.mu.Unlock()
	for _, n := range pending {
		m.runNotify(sctx, n)
	}
	return err
}

func (m *Monitor) runNotify(ctx context.Context, n Notification) {
	if err := m.cfg.Notifier.Notify(ctx, n); err != nil {
		m.log.Warn("notify command", "service", n.Service, "argv", n.Command.Argv, "err", err)
	}
}

// Snapshot is the state of every check, for `xlbctl checks`.
type Snapshot struct {
	Time     time.Time       `json:"time"`
	Services []ServiceStatus `json:"services"`
}

// ServiceStatus is one service's state.
type ServiceStatus struct {
	Name string `json:"name"`
	// Suspended says ha_suspend holds its checks (this node is not master).
	Suspended  bool         `json:"suspended"`
	QuorumUp   bool         `json:"quorum_up"`
	LiveWeight int          `json:"live_weight"`
	Quorum     int          `json:"quorum"`
	Hysteresis int          `json:"hysteresis"`
	Reals      []RealStatus `json:"reals"`
}

// RealStatus is one real's state.
type RealStatus struct {
	Addr         netip.AddrPort `json:"addr"`
	ConfigWeight int            `json:"config_weight"`
	RealHealth
	// SlowStartUntil is when a running slow start ends.
	SlowStartUntil *time.Time    `json:"slow_start_until,omitempty"`
	LastChange     time.Time     `json:"last_change"`
	Checks         []CheckStatus `json:"checks"`
}

// CheckStatus is one check's state.
type CheckStatus struct {
	ID string `json:"id"`
	Up bool   `json:"up"`
	// LastUp, Reason and Latency are the last attempt's result.
	LastUp              bool          `json:"last_up"`
	Reason              string        `json:"reason,omitempty"`
	Latency             time.Duration `json:"latency_ns"`
	Weight              *int          `json:"dynamic_weight,omitempty"`
	ConsecutiveFailures int           `json:"consecutive_failures"`
	ConsecutiveSuccess  int           `json:"consecutive_successes"`
	Retries             int           `json:"retries"`
	LastCheck           *time.Time    `json:"last_check,omitempty"`
	NextCheck           *time.Time    `json:"next_check,omitempty"`
	LastChange          time.Time     `json:"last_change"`
	// Drift is how late the last attempt started against its schedule.
	Drift time.Duration `json:"drift_ns"`
}

// Snapshot returns the state of every service, real and check, sorted.
func (m *Monitor) Snapshot() Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	snap := Snapshot{Time: m.clock.Now(), Services: make([]ServiceStatus, 0, len(m.services))}
	for _, s := range m.services {
		ss := ServiceStatus{
			Name: s.spec.Name, Suspended: s.suspended(), QuorumUp: s.quorumUp, LiveWeight: s.liveWeight(),
			Quorum: max(s.spec.Quorum, 1), Hysteresis: s.spec.Hysteresis,
			Reals: make([]RealStatus, 0, len(s.reals)),
		}
		for _, r := range s.reals {
			rs := RealStatus{Addr: r.spec.Addr, ConfigWeight: r.spec.Weight, RealHealth: r.published, LastChange: r.lastChange}
			if !r.rampStart.IsZero() {
				t := r.rampStart.Add(r.spec.SlowStart)
				rs.SlowStartUntil = &t
			}
			for _, c := range r.checks {
				cs := CheckStatus{
					ID: c.id, Up: c.up, LastUp: c.last.Up, Latency: c.last.Latency,
					ConsecutiveFailures: c.failures, ConsecutiveSuccess: c.successes, Retries: c.retries,
					LastChange: c.lastChange, Drift: c.lastDrift,
				}
				if c.ran {
					cs.Reason = c.last.Reason
					t := c.lastRun
					cs.LastCheck = &t
				}
				if c.dynamic {
					w := c.dynWeight
					cs.Weight = &w
				}
				if c.item.index >= 0 {
					t := c.item.due
					cs.NextCheck = &t
				}
				rs.Checks = append(rs.Checks, cs)
			}
			ss.Reals = append(ss.Reals, rs)
		}
		slices.SortFunc(ss.Reals, func(a, b RealStatus) int { return a.Addr.Compare(b.Addr) })
		snap.Services = append(snap.Services, ss)
	}
	slices.SortFunc(snap.Services, func(a, b ServiceStatus) int { return cmp.Compare(a.Name, b.Name) })
	return snap
}
