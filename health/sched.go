package health

import (
	"container/heap"
	"context"
	"time"

	"xlb/health/check"
)

// timerHeap orders items by due time.
type timerHeap []*item

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	it := x.(*item)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *timerHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	it.index = -1
	return it
}

// schedule puts it in the heap at due, or moves it there, and wakes the
// scheduler when it became the earliest. Callers hold mu.
func (m *Monitor) schedule(it *item, due time.Time) {
	it.due = due
	if it.index >= 0 {
		heap.Fix(&m.heap, it.index)
	} else {
		heap.Push(&m.heap, it)
	}
	if it.index == 0 {
		select {
		case m.wake <- struct{}{}:
		default:
		}
	}
}

func (m *Monitor) unschedule(it *item) {
	if it.index >= 0 {
		heap.Remove(&m.heap, it.index)
	}
}

// job is one attempt handed to a worker, with what it needs copied out of
// the check's state so the worker runs it without the lock.
type job struct {
	c       *checkState
	checker check.Checker
	timeout time.Duration
	due     time.Time
}

// next pops what is due at now (give or take dispatchSlack): slow-start steps are applied at once, a
// check becomes a job. Without a job it returns how long until the next
// item is due, or -1 when the heap is empty.
func (m *Monitor) next() (job, bool, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	for len(m.heap) > 0 {
		it := m.heap[0]
		if it.due.After(now.Add(m.slack)) {
			return job{}, false, it.due.Sub(now)
		}
		heap.Pop(&m.heap)
		if r := it.ramp; r != nil {
			if m.refresh(r, now, "slow start", false) {
				m.refreshQuorum(r.svc, now, false)
			}
			continue
		}
		c := it.check
		if c.real.svc.suspended() {
			c.parked = true
			continue
		}
		c.running = true
		return job{c: c, checker: c.checker, timeout: c.opts.timeout(), due: it.due}, true, 0
	}
	return job{}, false, -1
}

// dispatch is the scheduler: it waits for the earliest item and hands due
// checks to the workers, blocking while all are busy (that is the bound on
// concurrency, and shows as drift).
func (m *Monitor) dispatch(ctx context.Context, jobs chan<- job) error {
	timer := m.clock.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		j, ok, wait := m.next()
		if ok {
			select {
			case jobs <- j:
			case <-ctx.Done():
				m.requeue(j)
				return nil
			}
			continue
		}
		var fire <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait)
			fire = timer.C()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-m.wake:
		case <-fire:
		}
		timer.Stop()
	}
}

// requeue puts back a job that did not run to its end.
func (m *Monitor) requeue(j job) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j.c.running = false
	if !j.c.removed {
		m.schedule(&j.c.item, j.due)
	}
}

// execute runs one attempt under its timeout and applies the result.
func (m *Monitor) execute(ctx context.Context, j job) {
	start := m.clock.Now()
	drift := start.Sub(j.due)
	if m.observe != nil {
		m.observe(drift)
	}
	actx, cancel := m.clock.WithTimeout(ctx, j.timeout)
	res := j.checker.Check(actx)
	cancel()
	if ctx.Err() != nil {
		// Stopping: a cancelled attempt says nothing of the real. Put it
		// back so that a later Run starts where this one stopped.
		m.requeue(j)
		return
	}
	if res.Latency == 0 {
		res.Latency = m.clock.Now().Sub(start)
	}
	m.finish(j.c, res, drift)
}

// finish applies one attempt's result to its check, its real and its
// service, and schedules the next attempt from now, so a slow check never
// piles attempts up.
func (m *Monitor) finish(c *checkState, res check.Result, drift time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c.running = false
	if c.removed {
		return
	}
	now := m.clock.Now()
	c.lastDrift = drift
	changed, wait := c.apply(res, now)
	if c.real.svc.suspended() {
		c.parked = true
	} else {
		if j := m.cfg.Jitter; j > 0 && wait > 0 {
			if n := int64(float64(wait) * j); n > 0 {
				wait += time.Duration(m.rnd.Int64N(n))
			}
		}
		m.schedule(&c.item, now.Add(wait))
	}
	if !changed {
		return
	}
	r := c.real
	trigger := c.id + ": " + res.Reason
	if res.Reason == "" {
		trigger = c.reason()
	}
	if m.refresh(r, now, trigger, false) {
		m.refreshQuorum(r.svc, now, false)
	}
}
