package health

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"xlb/health/check"
)

// TestSnapshot checks what `xlbctl checks` shows midway through a retry,
// and its JSON form.
func TestSnapshot(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.checker("TCP_CHECK 198.18.0.11:80", pass, check.Result{Reason: "connection refused", Latency: 3 * time.Millisecond})
	h.update(Service{Name: "svc", Quorum: 1, Hysteresis: 0, Reals: []Real{{Addr: rs1, Weight: 5,
		Checks: []Check{{Checker: c, Options: CheckOptions{Interval: 10 * s, Retry: 1, RetryDelay: s}}}}}})
	h.until(10 * s)
	at := func(d time.Duration) *time.Time { t := h.start.Add(d); return &t }
	want := Snapshot{
		Time: h.start.Add(10 * s),
		Services: []ServiceStatus{{
			Name: "svc", QuorumUp: true, LiveWeight: 5, Quorum: 1,
			Reals: []RealStatus{{
				Addr: rs1, ConfigWeight: 5, RealHealth: RealHealth{Up: true, Weight: 5}, LastChange: h.start,
				Checks: []CheckStatus{{
					ID: "TCP_CHECK 198.18.0.11:80", Up: true, LastUp: false, Reason: "connection refused",
					Latency: 3 * time.Millisecond, ConsecutiveFailures: 1, Retries: 1,
					LastCheck: at(10 * s), NextCheck: at(11 * s), LastChange: h.start,
				}},
			}},
		}},
	}
	got := h.m.Snapshot()
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
		t.Fatalf("Snapshot (-want +got):\n%s", diff)
	}
	b, err := json.Marshal(got.Services[0].Reals[0])
	if err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"addr":"198.18.0.11:80","config_weight":5,"up":true,"weight":5,"has_weight":false,` +
		`"last_change":"2026-01-01T00:00:00Z","checks":[{"id":"TCP_CHECK 198.18.0.11:80","up":true,"last_up":false,` +
		`"reason":"connection refused","latency_ns":3000000,"consecutive_failures":1,"consecutive_successes":0,` +
		`"retries":1,"last_check":"2026-01-01T00:00:10Z","next_check":"2026-01-01T00:00:11Z",` +
		`"last_change":"2026-01-01T00:00:00Z","drift_ns":0}]}`
	if diff := cmp.Diff(wantJSON, string(b)); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
}
