package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"time"

	"xlb/health/check"
)

// Defaults applied where an option is zero.
const (
	// DefaultInterval is keepalived's delay_loop default.
	DefaultInterval = 60 * time.Second
	// DefaultTimeout is keepalived's connect_timeout default.
	DefaultTimeout = 5 * time.Second
	// DefaultConcurrency bounds the checks running at once. Checks mostly
	// wait on the network, so this is well above the CPU count.
	DefaultConcurrency = 128
	// DefaultShutdownTimeout bounds the notify commands run as Run ends
	// (pending ones and omega's).
	DefaultShutdownTimeout = 5 * time.Second
	// slowStartSteps is how many weight steps a slow start takes at most:
	// each step is a change event and a table rebuild, so keep them few.
	slowStartSteps = 10
	// dispatchSlack lets the scheduler start attempts due this soon along
	// with the one it woke for: one wake-up per batch instead of one per
	// check, at the price of starting some attempts a little early. Go's
	// timers sleep at least about a millisecond anyway.
	dispatchSlack = time.Millisecond
)

// Service is one virtual service as the health checks see it. Name is its
// stable identity across reloads (the control plane uses the service key,
// e.g. "198.18.0.1:80/tcp").
type Service struct {
	Name string
	// Quorum is quorum: the live reals' weights must sum to at least this
	// (values below 1 mean 1). Hysteresis is hysteresis: a service with
	// quorum keeps it down to Quorum-Hysteresis, one without needs
	// Quorum+Hysteresis to gain it.
	Quorum, Hysteresis int
	// QuorumUp and QuorumDown are quorum_up and quorum_down, run when the
	// quorum state changes (not for the initial state).
	QuorumUp, QuorumDown Command
	// Omega is omega: when the Monitor stops, or a reload removes the
	// service or a real, run notify_down of each live real and quorum_down
	// of a service with quorum.
	Omega bool
	// HASuspend is ha_suspend: the service's checks run only while
	// SetActive says this node holds its address. Such a service starts
	// suspended.
	HASuspend bool
	Reals     []Real
}

// Real is one real server and its checks. A real is up when all its checks
// are up; a real with no checks is always up, with its configured weight.
type Real struct {
	Addr netip.AddrPort
	// Weight is weight, the configured weight.
	Weight int
	// SlowStart, when not zero, ramps a recovering real's weight from 1 to
	// its full weight over this time, in at most 10 steps (xlb's own; not
	// in keepalived).
	SlowStart time.Duration
	// NotifyUp and NotifyDown are notify_up and notify_down.
	NotifyUp, NotifyDown Command
	Checks               []Check
}

// Check is one checker of a real and how it is run.
type Check struct {
	// ID names the check within its real, stable across reloads: a check
	// whose ID survives a reload keeps its state. Empty means
	// Checker.String(); a second check with the same ID gets "#2", and so on.
	ID      string
	Checker check.Checker
	Options CheckOptions
}

// CheckOptions are one check's schedule and thresholds, keepalived's words
// in the field comments. The zero value is a check every 60 s with a 5 s
// timeout, no retry, no warmup, starting up, one result to change state.
type CheckOptions struct {
	// Interval is delay_loop, the wait between rounds. Zero means 60 s.
	Interval time.Duration
	// Timeout is connect_timeout (misc_timeout for MISC_CHECK), each
	// attempt's deadline. Zero means 5 s.
	Timeout time.Duration
	// Retry is retry (nb_get_retry): how many more attempts follow a failed
	// one, while the check is up, before the round counts as failed. A
	// check that is down is not retried (keepalived).
	Retry int
	// RetryDelay is delay_before_retry, the wait before each retry.
	RetryDelay time.Duration
	// Warmup is warmup: the first attempt waits a random time up to this,
	// so checks configured together spread out. Zero means none.
	Warmup time.Duration
	// Alpha is alpha: the check starts down, so its real starts down.
	Alpha bool
	// Rise and Fall are how many rounds in a row must pass (fail) to bring
	// the check up (down), as vrrp_script's rise and fall. A round is an
	// attempt and its retries. Zero means 1, keepalived's checker
	// behaviour.
	Rise, Fall int
}

func (o CheckOptions) interval() time.Duration {
	if o.Interval <= 0 {
		return DefaultInterval
	}
	return o.Interval
}

func (o CheckOptions) timeout() time.Duration {
	if o.Timeout <= 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

func (o CheckOptions) rise() int { return max(o.Rise, 1) }
func (o CheckOptions) fall() int { return max(o.Fall, 1) }

// Command is a notify command as configured: the argv keepalived would
// run (it adds no arguments of its own) and the user and group to run it
// as. The zero Command runs nothing.
type Command struct {
	Argv        []string
	User, Group string
}

// IsZero says whether c runs nothing.
func (c Command) IsZero() bool { return len(c.Argv) == 0 }

// Notification asks the Notifier to run one command.
type Notification struct {
	Service string
	// Real is the real that went up or down; not valid for a quorum change.
	Real    netip.AddrPort
	Up      bool
	Command Command
}

// Notifier runs notify commands (the control plane passes internal/script).
// The Monitor calls it from one goroutine, in the order of the changes.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(ctx context.Context, n Notification) error

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, n Notification) error { return f(ctx, n) }

// RealHealth is a real's health as its checks see it.
type RealHealth struct {
	Up bool `json:"up"`
	// Weight, when HasWeight, replaces the configured weight: misc_dynamic
	// asked for it, or a slow start is ramping the real up.
	Weight    int  `json:"weight"`
	HasWeight bool `json:"has_weight"`
	// Reason says why, e.g. "TCP_CHECK 198.18.0.11:80: connect: connection refused".
	Reason string `json:"reason,omitempty"`
}

// Event is one change: a real's health (Real valid) or a service's quorum
// state (Real not valid). Initial events give the state of a service or
// real as it is added, before any check has run.
type Event struct {
	Time     time.Time
	Service  string
	Real     netip.AddrPort
	Health   RealHealth
	QuorumUp bool
	Initial  bool
	// UpChanged says a real went up or down with this event (not at its
	// first state, nor a weight change alone): what notify_up/notify_down
	// and smtp_alert follow.
	UpChanged bool
}

// IsQuorum says whether e is a quorum change.
func (e Event) IsQuorum() bool { return !e.Real.IsValid() }

// Config configures a Monitor. The zero value works: system clock, 128
// checks at once, no jitter, no commands, changes dropped.
type Config struct {
	Logger *slog.Logger
	Clock  Clock
	// Rand draws warmup and jitter; nil means a randomly seeded one.
	Rand *rand.Rand
	// Concurrency bounds the checks running at once. Zero means 128.
	Concurrency int
	// Jitter lengthens each wait by a random part of it up to this
	// fraction (0.1: up to 10 %), so checks that started together drift
	// apart. Zero means none.
	Jitter float64
	// Notifier runs notify commands; nil runs none.
	Notifier Notifier
	// OnChange receives every change, in order, from one goroutine; it may
	// block (the checks go on) but must not call back into the Monitor's
	// Run. Nil drops changes (Snapshot still tells).
	OnChange func(Event)
	// ShutdownTimeout bounds the commands run as Run ends. Zero means 5 s.
	ShutdownTimeout time.Duration
}

// validate checks svcs for what Update cannot repair.
func validate(svcs []Service) error {
	names := map[string]bool{}
	for _, s := range svcs {
		if s.Name == "" {
			return errors.New("service: empty name")
		}
		if names[s.Name] {
			return fmt.Errorf("service %q: listed twice", s.Name)
		}
		names[s.Name] = true
		if s.Hysteresis < 0 {
			return fmt.Errorf("service %q: hysteresis: want >= 0, got %d", s.Name, s.Hysteresis)
		}
		addrs := map[netip.AddrPort]bool{}
		for _, r := range s.Reals {
			if !r.Addr.IsValid() {
				return fmt.Errorf("service %q: real: invalid address", s.Name)
			}
			if addrs[r.Addr] {
				return fmt.Errorf("service %q: real %s: listed twice", s.Name, r.Addr)
			}
			addrs[r.Addr] = true
			if r.Weight < 0 {
				return fmt.Errorf("service %q: real %s: weight: want >= 0, got %d", s.Name, r.Addr, r.Weight)
			}
			if r.SlowStart < 0 {
				return fmt.Errorf("service %q: real %s: slow start: want >= 0, got %s", s.Name, r.Addr, r.SlowStart)
			}
			for i, c := range r.Checks {
				if err := validateCheck(c); err != nil {
					return fmt.Errorf("service %q: real %s: check %d: %w", s.Name, r.Addr, i+1, err)
				}
			}
		}
	}
	return nil
}

func validateCheck(c Check) error {
	o := c.Options
	switch {
	case c.Checker == nil:
		return errors.New("checker: nil")
	case o.Interval < 0:
		return fmt.Errorf("interval: want >= 0, got %s", o.Interval)
	case o.Timeout < 0:
		return fmt.Errorf("timeout: want >= 0, got %s", o.Timeout)
	case o.Retry < 0:
		return fmt.Errorf("retry: want >= 0, got %d", o.Retry)
	case o.RetryDelay < 0:
		return fmt.Errorf("retry delay: want >= 0, got %s", o.RetryDelay)
	case o.Warmup < 0:
		return fmt.Errorf("warmup: want >= 0, got %s", o.Warmup)
	case o.Rise < 0:
		return fmt.Errorf("rise: want >= 0, got %d", o.Rise)
	case o.Fall < 0:
		return fmt.Errorf("fall: want >= 0, got %d", o.Fall)
	}
	return nil
}
