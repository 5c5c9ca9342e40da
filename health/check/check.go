package check

import (
	"context"
	"time"
)

// Checker probes one real server once. A Checker holds no schedule and no
// history: retries, delay_before_retry, rise/fall and quorum live in the
// health package, which calls Check once per attempt.
type Checker interface {
	// Check runs one attempt and returns its result. It returns when the
	// attempt ends or ctx is done, whichever comes first; the caller sets
	// ctx's deadline from connect_timeout (or misc_timeout). Check is safe
	// to call from one goroutine at a time.
	Check(ctx context.Context) Result
	// String names the check for logs and `xlbctl checks`, e.g.
	// "HTTP_GET 198.18.0.11:80/health".
	String() string
}

// Result is the outcome of one attempt.
type Result struct {
	// Up says whether the real passed.
	Up bool
	// Reason says why it failed, or what it saw when it passed, in a few
	// words an operator can act on: "connect: connection refused",
	// "status 503 not in 200-299", "digest mismatch".
	Reason string
	// Latency is how long the attempt took.
	Latency time.Duration
	// Weight, when HasWeight, is the weight the check asks for: MISC_CHECK
	// with misc_dynamic exits 2..255 to set weight exit-2.
	Weight    int
	HasWeight bool
	// WeightOffset says Weight is to be added to the real's configured
	// weight rather than replace it: FILE_CHECK's value×weight, which
	// keepalived adds to the IPVS weight.
	WeightOffset bool
}
