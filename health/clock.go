package health

import (
	"context"
	"time"
)

// Clock is the Monitor's source of time. Tests pass a fake one so that
// schedules, retries and timeouts run in fake time, instantly.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
	// WithTimeout returns a copy of ctx that is done after d of this
	// clock's time.
	WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc)
}

// Timer is a Clock's one-shot timer, as time.Timer (Go 1.23 semantics: no
// stale value is received after Stop or Reset returns).
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

// SystemClock is the Clock of the time package.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer returns a time.Timer.
func (SystemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

// WithTimeout is context.WithTimeout, so checkers see a real deadline
// (net.Dialer and friends read ctx.Deadline).
func (SystemClock) WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

type sysTimer struct{ t *time.Timer }

func (s sysTimer) C() <-chan time.Time        { return s.t.C }
func (s sysTimer) Stop() bool                 { return s.t.Stop() }
func (s sysTimer) Reset(d time.Duration) bool { return s.t.Reset(d) }
