package health

import (
	"context"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"xlb/health/check"
)

type nopChecker struct{}

func (nopChecker) String() string                     { return "NOP" }
func (nopChecker) Check(context.Context) check.Result { return check.Result{Up: true} }

// BenchmarkMonitor10k runs 10,000 checks with delay_loop 1 s (warmup 1 s,
// as keepalived's default warmup is delay_loop) on the system clock for a
// few seconds, and reports how late attempts start against their schedule
// (drift) and the process CPU time per attempt. Each iteration takes 3 s,
// so the default -benchtime runs one.
func BenchmarkMonitor10k(b *testing.B) {
	const (
		n      = 10_000
		window = 3 * time.Second
	)
	for b.Loop() {
		var mu sync.Mutex
		drifts := make([]time.Duration, 0, 4*n)
		m := New(Config{})
		m.observe = func(d time.Duration) {
			mu.Lock()
			drifts = append(drifts, d)
			mu.Unlock()
		}
		reals := make([]Real, n)
		for i := range reals {
			reals[i] = Real{Addr: netipPort(i), Weight: 1, Checks: []Check{{
				Checker: nopChecker{}, Options: CheckOptions{Interval: time.Second, Warmup: time.Second},
			}}}
		}
		if err := m.Update([]Service{{Name: "svc", Reals: reals}}); err != nil {
			b.Fatal(err)
		}
		var before syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &before); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), window)
		if err := m.Run(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
		var after syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &after); err != nil {
			b.Fatal(err)
		}
		cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
		mu.Lock()
		slices.Sort(drifts)
		k := len(drifts)
		mu.Unlock()
		if k == 0 {
			b.Fatal("no attempt ran")
		}
		b.ReportMetric(float64(k)/window.Seconds(), "checks/s")
		b.ReportMetric(float64(drifts[k/2].Microseconds()), "drift-p50-µs")
		b.ReportMetric(float64(drifts[k*99/100].Microseconds()), "drift-p99-µs")
		b.ReportMetric(float64(drifts[k-1].Microseconds()), "drift-max-µs")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(k)/1000, "cpu-µs/check")
	}
}
