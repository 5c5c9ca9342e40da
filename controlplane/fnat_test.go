package controlplane

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"xlb/config"
	"xlb/maps"
)

const fnatConf = `
local_address_group L {
    198.18.9.1-2
    2001:db8:9::1
}
virtual_server 198.18.0.100 80 {
    lb_kind FNAT
    laddr_group_name L
    lb_algo rr
    protocol TCP
    real_server 198.18.0.11 8080 { weight 1 }
    real_server 198.18.0.19 8082 { weight 1 }
}
`

// TestXDPFNAT: a full-NAT service gets its pool (the group's IPv4
// addresses) before its service entry, reals with their ports (routed
// when unresolved, as NAT), and the interface facing a resolved real is
// marked for full-NAT replies once; a local address the node lacks is
// warned about; a change of the group rewrites the pool, and a change of
// kind deletes it.
func TestXDPFNAT(t *testing.T) {
	f := newXDPFixture(t, fnatConf)
	var logs strings.Builder
	f.x.log = slog.New(slog.NewTextHandler(&logs, nil))
	f.x.localAddrs = func() ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr("198.18.9.1")}, nil }
	ops := f.reconcile(t)
	for _, w := range []string{
		"put real 1 198.18.0.11:8080 aa:00:00:00:00:11",
		"fnat inside 2 true",
		"put real 2 198.18.0.19:8082 routed",
		"put fnat pool 1 [198.18.9.1 198.18.9.2]",
	} {
		if !slices.Contains(ops, w) {
			t.Errorf("ops %q lack %q", ops, w)
		}
	}
	pool := slices.Index(ops, "put fnat pool 1 [198.18.9.1 198.18.9.2]")
	svc := slices.IndexFunc(ops, func(op string) bool { return strings.HasPrefix(op, "put service") })
	if pool < 0 || svc < 0 || pool > svc {
		t.Errorf("pool written at %d, service at %d: want the pool first: %q", pool, svc, ops)
	}
	if got := f.dp.services[toMapsKey(MustParseServiceKey("198.18.0.100:80/tcp"))].Kind; got != maps.KindFNAT {
		t.Errorf("service kind %d, want %d (FNAT)", got, maps.KindFNAT)
	}
	if n := strings.Count(strings.Join(ops, "\n"), "inside"); n != 1 {
		t.Errorf("inside marked %d times, want once (fnat only): %q", n, ops)
	}
	if !strings.Contains(logs.String(), "local_addr=198.18.9.2") || strings.Contains(logs.String(), "local_addr=198.18.9.1 ") {
		t.Errorf("want one warning, about 198.18.9.2 only:\n%s", logs.String())
	}
	if ops := f.reconcile(t); len(ops) != 0 {
		t.Errorf("second reconcile wrote %q", ops)
	}

	setConfig(t, f, mustParse(t, strings.Replace(fnatConf, "198.18.9.1-2", "198.18.9.3", 1)))
	if ops := f.reconcile(t); !slices.Contains(ops, "put fnat pool 1 [198.18.9.3]") {
		t.Errorf("changed group: ops %q, want the pool rewritten", ops)
	}
	setConfig(t, f, mustParse(t, strings.Replace(fnatConf, "lb_kind FNAT", "lb_kind NAT", 1)))
	if ops := f.reconcile(t); !slices.Contains(ops, "delete fnat pool 1") {
		t.Errorf("kind NAT: ops %q, want the pool deleted", ops)
	}
	setConfig(t, f, mustParse(t, fnatConf))
	f.reconcile(t)
	setConfig(t, f, mustParse(t, ""))
	if ops := f.reconcile(t); !slices.Contains(ops, "delete fnat pool 1") {
		t.Errorf("service removed: ops %q, want its pool deleted", ops)
	}
}

// TestCheckXDPConfigFNATPool refuses a group with more local addresses of
// one family than a pool holds.
func TestCheckXDPConfigFNATPool(t *testing.T) {
	conf := strings.Replace(fnatConf, "198.18.9.1-2", fmt.Sprintf("198.18.9.1-%d", maps.MaxFNATPool+1), 1)
	err := CheckXDPConfig(mustParse(t, conf))
	want := fmt.Sprintf("test.conf:6:1: virtual_server 198.18.0.100:80/tcp: local_address_group L: %d IPv4 addresses, the XDP backend takes at most %d per service",
		maps.MaxFNATPool+1, maps.MaxFNATPool)
	if diff := cmp.Diff(want, fmt.Sprint(err)); diff != "" {
		t.Errorf("CheckXDPConfig (-want +got):\n%s", diff)
	}
	if err := CheckXDPConfig(mustParse(t, fnatConf)); err != nil {
		t.Errorf("CheckXDPConfig of a valid pool: %v", err)
	}
}

func setConfig(t *testing.T, f *xdpFixture, cfg *config.Config) {
	t.Helper()
	if err := f.rec.SetConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
}
