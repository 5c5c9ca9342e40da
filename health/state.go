package health

import (
	"net/netip"
	"time"

	"xlb/health/check"
)

// item is one entry of the timer heap: a check's next attempt or a real's
// next slow-start step.
type item struct {
	due   time.Time
	index int // in the heap; -1 when not in it
	check *checkState
	ramp  *realState
}

// service is the Monitor's state of one Service.
type service struct {
	spec     Service // Reals not kept: see reals
	reals    map[netip.AddrPort]*realState
	active   bool // ha_suspend: checks may run
	quorumUp bool
}

func (s *service) suspended() bool { return s.spec.HASuspend && !s.active }

// realState is the Monitor's state of one Real.
type realState struct {
	svc    *service
	spec   Real // Checks not kept: see checks
	checks []*checkState

	// published is the health last reported; full is its weight before
	// the slow-start ramp, which quorum counts.
	published  RealHealth
	full       int
	lastChange time.Time

	rampStart time.Time
	rampItem  item
}

// checkState is the Monitor's state of one Check.
type checkState struct {
	real    *realState
	id      string
	checker check.Checker
	opts    CheckOptions

	up bool
	// rounds counts passing rounds while down (towards Rise) or failing
	// rounds while up (towards Fall); retries counts the current round's
	// retries.
	rounds, retries int
	// consecutive attempts, for Snapshot.
	failures, successes int

	ran        bool
	last       check.Result
	lastRun    time.Time
	lastChange time.Time
	lastDrift  time.Duration

	dynWeight int
	dynamic   bool
	offset    bool // dynWeight adds to the configured weight (FILE_CHECK)

	item    item
	running bool
	parked  bool // due while its service was suspended
	removed bool
}

func newCheckState(r *realState, id string, c Check, now time.Time) *checkState {
	cs := &checkState{real: r, id: id, checker: c.Checker, opts: c.Options, up: !c.Options.Alpha, lastChange: now}
	cs.item = item{index: -1, check: cs}
	return cs
}

// apply records one attempt's result. It returns whether the check's state
// changed and how long to wait before the next attempt: keepalived retries
// only a check that is up, and a check that is down comes back with its
// first passing round (or its Rise-th).
func (c *checkState) apply(r check.Result, now time.Time) (changed bool, wait time.Duration) {
	c.ran, c.last, c.lastRun = true, r, now
	if r.Up {
		c.successes++
		c.failures, c.retries = 0, 0
		if r.HasWeight && (!c.dynamic || c.dynWeight != r.Weight || c.offset != r.WeightOffset) {
			c.dynWeight, c.dynamic, c.offset = r.Weight, true, r.WeightOffset
			changed = true // the real's weight follows
		}
		if c.up {
			c.rounds = 0
			return changed, c.opts.interval()
		}
		c.rounds++
		if c.rounds >= c.opts.rise() {
			c.up, c.rounds, c.lastChange = true, 0, now
			changed = true
		}
		return changed, c.opts.interval()
	}
	c.failures++
	c.successes = 0
	if !c.up {
		c.rounds = 0
		return false, c.opts.interval()
	}
	if c.retries < c.opts.Retry {
		c.retries++
		return false, c.opts.RetryDelay
	}
	c.retries = 0
	c.rounds++
	if c.rounds >= c.opts.fall() {
		c.up, c.rounds, c.lastChange = false, 0, now
		return true, c.opts.interval()
	}
	return false, c.opts.interval()
}

// reason names the check and what it last saw.
func (c *checkState) reason() string {
	switch {
	case !c.ran && !c.up:
		return c.id + ": alpha: not checked yet"
	case !c.ran:
		return c.id + ": not checked yet"
	case c.last.Reason == "":
		if c.last.Up {
			return c.id + ": passed"
		}
		return c.id + ": failed"
	}
	return c.id + ": " + c.last.Reason
}

// health computes the real's health from its checks: up when all are up;
// the weight is the configured one moved by each misc_dynamic check's
// request (keepalived adds each one's difference to the configured weight)
// and by each FILE_CHECK's offset;
// the reason is the first failing check's, or trigger when up.
func (r *realState) health(trigger string) (h RealHealth) {
	h.Up, h.Weight, h.Reason = true, r.spec.Weight, trigger
	for _, c := range r.checks {
		if !c.up && h.Up {
			h.Up, h.Reason = false, c.reason()
		}
		switch {
		case c.dynamic && c.offset:
			h.Weight += c.dynWeight
			h.HasWeight = true
		case c.dynamic:
			h.Weight += c.dynWeight - r.spec.Weight
			h.HasWeight = true
		}
	}
	h.Weight = max(h.Weight, 0)
	return h
}

// ramped is the weight a slow start allows at now for full weight w, and
// when the next step is due (zero once done). Steps are evenly spaced and
// never below 1, so a recovering real takes some traffic at once.
func (r *realState) ramped(w int, now time.Time) (int, time.Time) {
	d := r.spec.SlowStart
	if d <= 0 || r.rampStart.IsZero() || w <= 1 {
		return w, time.Time{}
	}
	steps := min(slowStartSteps, w)
	at := func(k int) time.Time { return r.rampStart.Add(d * time.Duration(k) / time.Duration(steps)) }
	k := int(now.Sub(r.rampStart) * time.Duration(steps) / d)
	// Step times are rounded down to the nanosecond, so the division may
	// land one step short; never return a next step that is already due.
	for k < steps && !at(k+1).After(now) {
		k++
	}
	if k >= steps {
		return w, time.Time{}
	}
	return max(1, w*k/steps), at(k + 1)
}

// quorumMet is keepalived's quorum rule, the same as the control plane's:
// the live weights must sum to at least quorum; with hysteresis h a
// service with quorum keeps it down to quorum-h, one without (or new) needs
// quorum+h. A sum of 0 never has quorum.
func quorumMet(sum, quorum, h int, prev, known bool) bool {
	q := max(quorum, 1)
	switch {
	case sum <= 0:
		return false
	case known && prev:
		return sum >= q-h
	default:
		return sum >= q+h
	}
}

// liveWeight sums the full weight of the service's live reals.
func (s *service) liveWeight() int {
	sum := 0
	for _, r := range s.reals {
		if r.published.Up {
			sum += r.full
		}
	}
	return sum
}
