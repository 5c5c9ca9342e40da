package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"xlb/config"
	"xlb/controlplane/api"
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
	withPorts := strings.Replace(fnatConf, "198.18.9.1-2", "198.18.9.3\n    port_range 20000 29999", 1)
	setConfig(t, f, mustParse(t, withPorts))
	if ops := f.reconcile(t); !slices.Equal(ops, []string{"put fnat pool 1 [198.18.9.3] ports 20000-29999"}) {
		t.Errorf("port_range added: ops %q, want only the pool rewritten with it", ops)
	}
	if ops := f.reconcile(t); len(ops) != 0 {
		t.Errorf("second reconcile with a port_range wrote %q", ops)
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

// TestServerFNATClient asks the API which client is behind a local
// address and port a real saw: the reverse entry's client and service;
// 404 for a flow the data plane does not have, 400 for bad arguments.
func TestServerFNATClient(t *testing.T) {
	f := newXDPFixture(t, fnatConf)
	f.x.localAddrs = func() ([]netip.Addr, error) { return nil, nil }
	f.reconcile(t)
	real, local := netip.MustParseAddrPort("198.18.0.11:8080"), netip.MustParseAddrPort("198.18.9.1:40001")
	f.dp.fnat = map[maps.Flow]maps.FNATReply{
		{Src: real, Dst: local, Proto: 6}: {Client: netip.MustParseAddrPort("198.51.100.7:51000"),
			VIP: netip.MustParseAddrPort("198.18.0.100:80"), ServiceID: 1, RealID: 1, State: maps.ConnEstablished, LastSeen: maps.MonotonicNow()},
	}
	c := startServer(t, f)
	got, err := c.FNATClient(context.Background(), real.String(), local.String(), "tcp")
	if err != nil {
		t.Fatal(err)
	}
	if got.IdleS < 0 || got.IdleS > 60 {
		t.Errorf("idle %v s, want 0..60", got.IdleS)
	}
	got.IdleS = 0
	want := api.FNATClient{Real: "198.18.0.11:8080", Local: "198.18.9.1:40001", Protocol: "tcp",
		Client: "198.51.100.7:51000", Service: "198.18.0.100:80/tcp", State: "established"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fnat client (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		real, local, proto string
		status             int
	}{
		{real.String(), "198.18.9.1:40002", "tcp", http.StatusNotFound},
		{real.String(), local.String(), "udp", http.StatusNotFound},
		{"198.18.0.11", local.String(), "tcp", http.StatusBadRequest},
		{real.String(), local.String(), "sctp", http.StatusBadRequest},
	} {
		_, err := c.FNATClient(context.Background(), tc.real, tc.local, tc.proto)
		var se *api.StatusError
		if !errors.As(err, &se) || se.Status != tc.status {
			t.Errorf("FNATClient(%s, %s, %s) = %v, want status %d", tc.real, tc.local, tc.proto, err, tc.status)
		}
	}
}
