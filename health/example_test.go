package health_test

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"xlb/health"
	"xlb/health/check"
)

type tcpCheck struct{ addr netip.AddrPort }

func (c tcpCheck) String() string                         { return "TCP_CHECK " + c.addr.String() }
func (c tcpCheck) Check(ctx context.Context) check.Result { return check.Result{Up: true} }

// A control plane maps keepalived.conf onto Services, feeds changes to its
// reconciler and VRRP state to SetActive, and runs the Monitor in its
// errgroup.
func Example() {
	rs := netip.MustParseAddrPort("198.18.0.11:80")
	m := health.New(health.Config{
		Logger:   slog.Default(),
		Jitter:   0.1,
		OnChange: func(e health.Event) { /* reconciler.SetHealth(...) */ },
		Notifier: health.NotifierFunc(func(ctx context.Context, n health.Notification) error {
			return nil // script.Run(ctx, script.Command{Argv: n.Command.Argv, ...})
		}),
	})
	err := m.Update([]health.Service{{
		Name: "198.18.0.1:80/tcp", Quorum: 1, HASuspend: true,
		Reals: []health.Real{{
			Addr: rs, Weight: 1,
			NotifyDown: health.Command{Argv: []string{"/etc/xlb/down.sh", "rs1"}},
			Checks: []health.Check{{Checker: tcpCheck{rs}, Options: health.CheckOptions{
				Interval: 6 * time.Second, Timeout: 3 * time.Second, Retry: 3,
				RetryDelay: 3 * time.Second, Warmup: 6 * time.Second,
			}}},
		}},
	}})
	if err != nil {
		panic(err)
	}
	m.SetActive("198.18.0.1:80/tcp", true) // this node became VRRP master
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_ = m.Run(ctx)
}
