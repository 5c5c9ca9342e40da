package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"xlb/controlplane/neigh"
	"xlb/maps"
)

// smallTable keeps tests fast while still being a prime Maglev size.
const smallTable = 1009

type xdpFixture struct {
	dp  *fakeDataplane
	nb  *fakeNeighbours
	x   *XDP
	rec *Reconciler
}

func newXDPFixture(t *testing.T, conf string) *xdpFixture {
	t.Helper()
	return newLoggedXDPFixture(t, conf, smallTable, discardLogger())
}

// newLoggedXDPFixture is newXDPFixture with Maglev tables of tableSize
// slots, logging to logger: for tests of what xlbd logs.
func newLoggedXDPFixture(t *testing.T, conf string, tableSize uint32, logger *slog.Logger) *xdpFixture {
	t.Helper()
	f := &xdpFixture{
		dp: newFakeDataplane(),
		nb: &fakeNeighbours{hops: map[netip.Addr]neigh.Hop{
			netip.MustParseAddr("198.18.0.11"): hop("aa:00:00:00:00:11"),
			netip.MustParseAddr("198.18.0.12"): hop("aa:00:00:00:00:12"),
			netip.MustParseAddr("198.18.0.13"): hop("aa:00:00:00:00:13"),
		}},
	}
	x, err := NewXDP(f.dp, f.nb, tableSize, logger)
	if err != nil {
		t.Fatal(err)
	}
	f.x = x
	f.rec = NewReconciler(mustParse(t, conf), x, logger)
	return f
}

func (f *xdpFixture) reconcile(t *testing.T) []string {
	t.Helper()
	if err := f.rec.Reconcile(context.Background()); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	return f.dp.takeOps()
}

func TestXDPFirstApplyOrder(t *testing.T) {
	f := newXDPFixture(t, threeReals)
	ops := f.reconcile(t)
	want := []string{
		"clear real counters 1",
		"put real 1 198.18.0.11 aa:00:00:00:00:11",
		"clear real counters 2",
		"put real 2 198.18.0.12 aa:00:00:00:00:12",
		"clear real counters 3",
		"put real 3 198.18.0.13 aa:00:00:00:00:13",
		"swap table 1",
		"put service 198.18.0.100:80/6 id=1 kind=1 src=invalid IP",
	}
	if diff := cmp.Diff(want, ops); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	svc := f.dp.services[maps.ServiceKey{Addr: netip.MustParseAddr("198.18.0.100"), Port: 80, Proto: 6}]
	if svc.TableSize != smallTable || svc.Kind != maps.KindDR {
		t.Errorf("service entry = %+v, want table size %d, kind DR", svc, smallTable)
	}
	assertShares(t, f.dp.share(1), map[uint32]float64{1: 3.0 / 6, 2: 2.0 / 6, 3: 1.0 / 6})
}

func assertShares(t *testing.T, got, want map[uint32]float64) {
	t.Helper()
	for id, w := range want {
		if math.Abs(got[id]-w) > 0.01 {
			t.Errorf("real %d holds %.3f of the table, want %.3f", id, got[id], w)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("real %d holds %.3f of the table, want none", id, got[id])
		}
	}
}

func TestXDPWritesOnlyDifferences(t *testing.T) {
	f := newXDPFixture(t, threeReals)
	f.reconcile(t)

	if ops := f.reconcile(t); len(ops) != 0 {
		t.Errorf("unchanged state wrote %q, want nothing", ops)
	}

	// A weight change rebuilds the table and touches nothing else.
	vip := MustParseServiceKey("198.18.0.100:80/tcp")
	if err := f.rec.SetWeight(context.Background(), vip, netip.MustParseAddrPort("198.18.0.13:80"), 0); err != nil {
		t.Fatal(err)
	}
	// The real's entry says it is quiesced (persistence templates skip it).
	if diff := cmp.Diff([]string{"put real 3 198.18.0.13 aa:00:00:00:00:13", "swap table 1"}, f.dp.takeOps()); diff != "" {
		t.Errorf("weight 0 writes (-want +got):\n%s", diff)
	}
	assertShares(t, f.dp.share(1), map[uint32]float64{1: 3.0 / 5, 2: 2.0 / 5})

	// A moved MAC rewrites the real entry in place; the table stays.
	f.nb.hops[netip.MustParseAddr("198.18.0.12")] = hop("aa:00:00:00:01:12")
	if diff := cmp.Diff([]string{"put real 2 198.18.0.12 aa:00:00:00:01:12"}, f.reconcile(t)); diff != "" {
		t.Errorf("MAC move writes (-want +got):\n%s", diff)
	}
}

func TestXDPUnresolvedRealLeftOut(t *testing.T) {
	f := newXDPFixture(t, threeReals)
	delete(f.nb.hops, netip.MustParseAddr("198.18.0.12"))
	f.reconcile(t)
	assertShares(t, f.dp.share(1), map[uint32]float64{1: 3.0 / 4, 3: 1.0 / 4})
	if got := f.x.Unresolved(); got != 1 {
		t.Errorf("Unresolved() = %d, want 1", got)
	}
	_, obs := f.rec.Snapshot()
	ro := obs[MustParseServiceKey("198.18.0.100:80/tcp")].Reals[netip.MustParseAddrPort("198.18.0.12:80")]
	if ro.State != RealUnresolved || !strings.Contains(ro.Reason, "not resolved") {
		t.Errorf("unresolved real observed as %+v", ro)
	}

	// Once the kernel resolves it, it joins the table.
	f.nb.hops[netip.MustParseAddr("198.18.0.12")] = hop("aa:00:00:00:00:12")
	ops := f.reconcile(t)
	if diff := cmp.Diff([]string{"put real 2 198.18.0.12 aa:00:00:00:00:12", "swap table 1"}, ops); diff != "" {
		t.Errorf("resolution writes (-want +got):\n%s", diff)
	}
	assertShares(t, f.dp.share(1), map[uint32]float64{1: 3.0 / 6, 2: 2.0 / 6, 3: 1.0 / 6})
}

func TestXDPKeepsKnownMACWhenLookupFails(t *testing.T) {
	f := newXDPFixture(t, threeReals)
	f.reconcile(t)
	delete(f.nb.hops, netip.MustParseAddr("198.18.0.11"))
	if ops := f.reconcile(t); len(ops) != 0 {
		t.Errorf("a failed lookup of a known real wrote %q, want nothing", ops)
	}
	if got := f.dp.reals[1].MAC.String(); got != "aa:00:00:00:00:11" {
		t.Errorf("real 1 MAC = %s, want the last known aa:00:00:00:00:11", got)
	}
}

func TestXDPRemovals(t *testing.T) {
	f := newXDPFixture(t, threeReals)
	f.reconcile(t)

	// A real removed by reload: the table without it goes in first.
	two := strings.Replace(threeReals, "real_server 198.18.0.13 80 { weight 1 }", "", 1)
	if err := f.rec.SetConfig(context.Background(), mustParse(t, two)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"swap table 1", "delete real 3"}, f.dp.takeOps()); diff != "" {
		t.Errorf("real removal writes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]netip.Addr{netip.MustParseAddr("198.18.0.13")}, f.nb.forgotten, equateAddrs); diff != "" {
		t.Errorf("neighbours forgotten (-want +got):\n%s", diff)
	}

	// The freed id is reused, with its counters cleared.
	if err := f.rec.SetConfig(context.Background(), mustParse(t, threeReals)); err != nil {
		t.Fatal(err)
	}
	want := []string{"clear real counters 3", "put real 3 198.18.0.13 aa:00:00:00:00:13", "swap table 1"}
	if diff := cmp.Diff(want, f.dp.takeOps()); diff != "" {
		t.Errorf("real re-add writes (-want +got):\n%s", diff)
	}

	// A service removed: its entry goes first so packets pass untouched.
	if err := f.rec.SetConfig(context.Background(), mustParse(t, "")); err != nil {
		t.Fatal(err)
	}
	ops := f.dp.takeOps()
	if len(ops) < 2 || ops[0] != "delete service 198.18.0.100:80/6" || ops[1] != "delete table 1" {
		t.Errorf("service removal writes %q, want the service entry deleted first, then its table", ops)
	}
	if len(f.dp.reals) != 0 || len(f.dp.services) != 0 || len(f.dp.tables) != 0 {
		t.Errorf("maps not empty after removing every service: %d services, %d reals, %d tables",
			len(f.dp.services), len(f.dp.reals), len(f.dp.tables))
	}
}

func TestXDPUnsupportedServices(t *testing.T) {
	var reals strings.Builder
	for i := range maps.MaxSchedReals + 1 {
		fmt.Fprintf(&reals, "    real_server 198.18.1.%d 80 { weight 1 }\n", i+1)
	}
	conf := `
virtual_server 198.18.0.101 80 {
    lb_kind DR
    lb_algo lc
    protocol TCP
` + reals.String() + `}
`
	f := newXDPFixture(t, conf)
	if ops := f.reconcile(t); len(ops) != 0 {
		t.Errorf("unsupported services wrote %q, want nothing", ops)
	}
	_, obs := f.rec.Snapshot()
	o := obs[MustParseServiceKey("198.18.0.101:80/tcp")]
	if o.Status != "unsupported" || !strings.Contains(o.Reason, "at most 64 reals") {
		t.Errorf("service observed as %q (%q), want unsupported naming the 64 reals", o.Status, o.Reason)
	}

	// Another scheduler makes it served.
	if err := f.rec.SetConfig(context.Background(), mustParse(t, strings.ReplaceAll(conf, "lb_algo lc", "lb_algo mh"))); err != nil {
		t.Fatal(err)
	}
	if len(f.dp.services) != 1 {
		t.Errorf("after lc -> mh, %d services written, want 1", len(f.dp.services))
	}
}

// TestXDPFNATLocalityUnsupported checks that full NAT with lblc or lblcr
// is not served (the data plane's stack has no room for both), saying so.
func TestXDPFNATLocalityUnsupported(t *testing.T) {
	for _, algo := range []string{"lblc", "lblcr"} {
		conf := `
local_address_group laddrs { 198.18.9.1 }
virtual_server 198.18.0.101 80 {
    lb_kind FNAT
    laddr_group_name laddrs
    lb_algo ` + algo + `
    protocol TCP
    real_server 198.18.1.1 80 { weight 1 }
}
`
		f := newXDPFixture(t, conf)
		f.reconcile(t)
		_, obs := f.rec.Snapshot()
		o := obs[MustParseServiceKey("198.18.0.101:80/tcp")]
		if want := "lb_algo " + algo + " is not served with lb_kind FNAT"; o.Status != "unsupported" || !strings.Contains(o.Reason, want) {
			t.Errorf("%s: service observed as %q (%q), want unsupported with %q", algo, o.Status, o.Reason, want)
		}
		if len(f.dp.services) != 0 {
			t.Errorf("%s: %d services written, want none", algo, len(f.dp.services))
		}
	}
}

// TestXDPNAT checks what NAT writes: the real's own port, the next hop
// when known, the interface facing the reals marked inside once, and a
// real whose next hop is unknown written without one (the data plane then
// routes it through the FIB) instead of being left out.
func TestXDPNAT(t *testing.T) {
	conf := `
virtual_server 198.18.0.100 80 {
    lb_kind NAT
    lb_algo rr
    protocol TCP
    real_server 198.18.0.11 8080 { weight 1 }
    real_server 198.18.0.12 8081 { weight 1 }
    real_server 198.18.0.19 8082 { weight 1 }
}
`
	f := newXDPFixture(t, conf)
	delete(f.nb.hops, netip.MustParseAddr("198.18.0.19"))
	ops := f.reconcile(t)
	want := []string{
		"put real 1 198.18.0.11:8080 aa:00:00:00:00:11",
		"inside 2 true",
		"put real 2 198.18.0.12:8081 aa:00:00:00:00:12",
		"put real 3 198.18.0.19:8082 routed",
	}
	for _, w := range want {
		if !slices.Contains(ops, w) {
			t.Errorf("ops %q lack %q", ops, w)
		}
	}
	if n := strings.Count(strings.Join(ops, "\n"), "inside"); n != 1 {
		t.Errorf("inside marked %d times, want once: %q", n, ops)
	}
	assertShares(t, f.dp.share(1), map[uint32]float64{1: 1.0 / 3, 2: 1.0 / 3, 3: 1.0 / 3})
	_, obs := f.rec.Snapshot()
	ro := obs[MustParseServiceKey("198.18.0.100:80/tcp")].Reals[netip.MustParseAddrPort("198.18.0.19:8082")]
	if ro.State != RealActive || !strings.Contains(ro.Reason, "FIB") {
		t.Errorf("unresolved NAT real observed %+v, want active, routed through the FIB", ro)
	}
	// Nothing changed: nothing written.
	if ops := f.reconcile(t); len(ops) != 0 {
		t.Errorf("second reconcile wrote %q", ops)
	}
}

func TestXDPIPv6DR(t *testing.T) {
	conf := `
virtual_server 2001:db8::100 80 {
    lb_kind DR
    lb_algo mh
    protocol TCP
    real_server 2001:db8::11 80 { weight 1 }
}
`
	f := newXDPFixture(t, conf)
	f.nb.hops[netip.MustParseAddr("2001:db8::11")] = hop("aa:00:00:00:06:11")
	want := []string{
		"clear real counters 1",
		"put real 1 2001:db8::11 aa:00:00:00:06:11",
		"swap table 1",
		"put service 2001:db8::100:80/6 id=1 kind=1 src=invalid IP",
	}
	if diff := cmp.Diff(want, f.reconcile(t)); diff != "" {
		t.Errorf("IPv6 DR writes (-want +got):\n%s", diff)
	}
}

func TestXDPTunnel(t *testing.T) {
	conf := `
virtual_server 198.18.0.100 80 {
    lb_kind TUN
    lb_algo wrr
    protocol TCP
    real_server 198.18.0.11 80 { weight 1 }
    real_server 198.19.0.7 80 { weight 1 }
}
`
	f := newXDPFixture(t, conf)
	// One real on the segment, one behind a router: both get the route's
	// source; the routed one's frames go to the router's MAC.
	direct := hop("aa:00:00:00:00:11")
	direct.Src = netip.MustParseAddr("198.18.0.2")
	routed := hop("aa:00:00:00:00:fe")
	routed.Src = netip.MustParseAddr("198.18.0.2")
	routed.Gateway = netip.MustParseAddr("198.18.0.254")
	f.nb.routed = map[netip.Addr]neigh.Hop{
		netip.MustParseAddr("198.18.0.11"): direct,
		netip.MustParseAddr("198.19.0.7"):  routed,
	}
	want := []string{
		"clear real counters 1",
		"put real 1 198.18.0.11 aa:00:00:00:00:11",
		"clear real counters 2",
		"put real 2 198.19.0.7 aa:00:00:00:00:fe",
		"swap sequence 1",
		"put service 198.18.0.100:80/6 id=1 kind=3 src=198.18.0.2",
	}
	if diff := cmp.Diff(want, f.reconcile(t)); diff != "" {
		t.Errorf("TUN writes (-want +got):\n%s", diff)
	}
	assertShares(t, f.dp.share(1), map[uint32]float64{1: 0.5, 2: 0.5})

	// A new route source is a new service entry, nothing else.
	for a, h := range f.nb.routed {
		h.Src = netip.MustParseAddr("198.18.0.3")
		f.nb.routed[a] = h
	}
	want = []string{
		"put real 1 198.18.0.11 aa:00:00:00:00:11",
		"put real 2 198.19.0.7 aa:00:00:00:00:fe",
		"put service 198.18.0.100:80/6 id=1 kind=3 src=198.18.0.3",
	}
	if diff := cmp.Diff(want, f.reconcile(t)); diff != "" {
		t.Errorf("TUN source change writes (-want +got):\n%s", diff)
	}

	// The interface's MTU changes: the reals carry it (the data plane
	// decides Packet Too Big by it), so both are rewritten, nothing else.
	for a, h := range f.nb.routed {
		h.MTU = 1400
		f.nb.routed[a] = h
	}
	want = []string{
		"put real 1 198.18.0.11 aa:00:00:00:00:11",
		"put real 2 198.19.0.7 aa:00:00:00:00:fe",
	}
	if diff := cmp.Diff(want, f.reconcile(t)); diff != "" {
		t.Errorf("MTU change writes (-want +got):\n%s", diff)
	}
	for id := uint32(1); id <= 2; id++ {
		if got := f.dp.reals[id].MTU; got != 1400 {
			t.Errorf("real %d MTU = %d, want 1400", id, got)
		}
	}
}

// TestXDPTunnelSource checks that tunnel_source is the outer source,
// whatever the routes to the reals say.
func TestXDPTunnelSource(t *testing.T) {
	conf := `
virtual_server 198.18.0.100 80 {
    lb_kind TUN
    lb_algo wrr
    protocol TCP
    tunnel_source 198.18.9.9
    real_server 198.18.0.11 80 { weight 1 }
}
`
	f := newXDPFixture(t, conf)
	direct := hop("aa:00:00:00:00:11")
	direct.Src = netip.MustParseAddr("198.18.0.2")
	f.nb.routed = map[netip.Addr]neigh.Hop{netip.MustParseAddr("198.18.0.11"): direct}
	want := []string{
		"clear real counters 1",
		"put real 1 198.18.0.11 aa:00:00:00:00:11",
		"swap sequence 1",
		"put service 198.18.0.100:80/6 id=1 kind=3 src=198.18.9.9",
	}
	if diff := cmp.Diff(want, f.reconcile(t)); diff != "" {
		t.Errorf("TUN writes (-want +got):\n%s", diff)
	}
}

func TestXDPTunnelWaitsForASource(t *testing.T) {
	conf := `
virtual_server 198.18.0.100 80 {
    lb_kind TUN
    lb_algo wrr
    protocol TCP
    real_server 198.19.0.7 80 { weight 1 }
}
`
	f := newXDPFixture(t, conf)
	ops := f.reconcile(t)
	for _, op := range ops {
		if strings.HasPrefix(op, "put service") {
			t.Errorf("a TUN service with no resolved real was written (%q): it has no outer source", op)
		}
	}
	// Removing it touches no services entry that was never written.
	if err := f.rec.SetConfig(context.Background(), mustParse(t, "")); err != nil {
		t.Fatal(err)
	}
	for _, op := range f.dp.takeOps() {
		if strings.HasPrefix(op, "delete service") {
			t.Errorf("removal deleted a services entry that was never written: %q", op)
		}
	}
}

func TestXDPWriteErrorsReported(t *testing.T) {
	f := newXDPFixture(t, threeReals)
	f.dp.failPut = errors.New("map full")
	err := f.rec.Reconcile(context.Background())
	if err == nil || !strings.Contains(err.Error(), "198.18.0.11:80") || !strings.Contains(err.Error(), "map full") {
		t.Fatalf("Reconcile error = %v, want one naming the real and the cause", err)
	}
}

func TestNewXDPRejectsNonPrimeTable(t *testing.T) {
	if _, err := NewXDP(newFakeDataplane(), &fakeNeighbours{}, 65536, discardLogger()); err == nil {
		t.Error("NewXDP accepted a table size of 65536, want an error")
	}
}

// TestXDPSchedulerHash checks that lb_algo sh and dh are served as such by
// the data plane (the service entry keys the table by the client or the
// destination address, served_by names them, no fallback warning), as are
// the list schedulers and lblc/lblcr, while an lb_algo the data plane lacks
// (fo) falls back to mh with a warning.
func TestXDPSchedulerHash(t *testing.T) {
	for _, tc := range []struct {
		lbAlgo     string
		wantHash   maps.HashKey
		wantServed string
		wantLog    string // in the log; "" for nothing at Info or above
		notLog     string // never in the log
	}{
		{"mh", maps.HashFlow, "mh", "", "scheduler served by"},
		{"sh", maps.HashSource, "sh", "level=INFO msg=\"scheduler served by consistent hashing of the address", "level=WARN"},
		{"dh", maps.HashDest, "dh", "level=INFO msg=\"scheduler served by consistent hashing of the address", "level=WARN"},
		{"wrr", maps.HashFlow, "wrr", "", "level=WARN"},
		{"wlc", maps.HashFlow, "wlc", "", "level=WARN"},
		{"lblc", maps.HashFlow, "lblc", "", "level=WARN"},
		{"lblcr", maps.HashFlow, "lblcr", "", "level=WARN"},
		{"fo", maps.HashFlow, "mh", "level=WARN msg=\"scheduler served by weighted Maglev until it lands in the data plane\"", "consistent hashing"},
	} {
		t.Run(tc.lbAlgo, func(t *testing.T) {
			var logs strings.Builder
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			conf := strings.Replace(oneReal, "lb_algo mh", "lb_algo "+tc.lbAlgo, 1)
			f := newLoggedXDPFixture(t, conf, smallTable, logger)
			f.reconcile(t)
			k := maps.ServiceKey{Addr: netip.MustParseAddr("198.18.0.100"), Port: 80, Proto: 6}
			if got := f.dp.services[k].Hash; got != tc.wantHash {
				t.Errorf("service entry hash = %v, want %v", got, tc.wantHash)
			}
			_, obs := f.rec.Snapshot()
			if got := obs[MustParseServiceKey("198.18.0.100:80/tcp")].Served; got != tc.wantServed {
				t.Errorf("served by %q, want %q", got, tc.wantServed)
			}
			if tc.wantLog != "" && !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log lacks %q:\n%s", tc.wantLog, logs.String())
			}
			if strings.Contains(logs.String(), tc.notLog) {
				t.Errorf("log has %q:\n%s", tc.notLog, logs.String())
			}
		})
	}
}

// TestXDPSchedulerChange checks that changing lb_algo between mh, sh and
// dh rewrites the service entry alone: the table (weighted Maglev for all
// three) and the reals stay.
func TestXDPSchedulerChange(t *testing.T) {
	f := newXDPFixture(t, strings.Replace(oneReal, "lb_algo mh", "lb_algo sh", 1))
	f.reconcile(t)
	for _, tc := range []struct {
		lbAlgo string
		want   []string
	}{
		{"dh", []string{"put service 198.18.0.100:80/6 id=1 kind=1 src=invalid IP hash=dh"}},
		{"dh", nil},
		{"mh", []string{"put service 198.18.0.100:80/6 id=1 kind=1 src=invalid IP"}},
		{"sh", []string{"put service 198.18.0.100:80/6 id=1 kind=1 src=invalid IP hash=sh"}},
	} {
		conf := strings.Replace(oneReal, "lb_algo mh", "lb_algo "+tc.lbAlgo, 1)
		if err := f.rec.SetConfig(context.Background(), mustParse(t, conf)); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, f.dp.takeOps()); diff != "" {
			t.Errorf("lb_algo → %s writes (-want +got):\n%s", tc.lbAlgo, diff)
		}
	}
}

const oneReal = `
virtual_server 198.18.0.100 80 {
    lb_algo mh
    lb_kind DR
    protocol TCP
    real_server 198.18.0.11 80 { weight 1 }
}
`

// sorryFixture reconciles threeReals with sorry_server 198.18.0.99 80
// (resolved) and returns the fixture, that configuration and the service.
func sorryFixture(t *testing.T) (*xdpFixture, string, ServiceKey) {
	t.Helper()
	conf := strings.Replace(threeReals, "    protocol TCP\n", "    protocol TCP\n    sorry_server 198.18.0.99 80\n", 1)
	f := newXDPFixture(t, conf)
	f.nb.hops[netip.MustParseAddr("198.18.0.99")] = hop("aa:00:00:00:00:99")
	f.reconcile(t)
	return f, conf, MustParseServiceKey("198.18.0.100:80/tcp")
}

func TestXDPSorryServer(t *testing.T) {
	f, _, vip := sorryFixture(t)
	sorryID := uint32(4) // after the three reals
	if got := f.dp.reals[sorryID].MAC.String(); got != "aa:00:00:00:00:99" {
		t.Fatalf("sorry_server entry MAC = %q, want it written ahead of need", got)
	}
	assertShares(t, f.dp.share(1), map[uint32]float64{1: 3.0 / 6, 2: 2.0 / 6, 3: 1.0 / 6})

	// Every real at weight 0: the sorry server takes the whole table.
	for _, r := range []string{"198.18.0.11:80", "198.18.0.12:80", "198.18.0.13:80"} {
		if err := f.rec.SetWeight(context.Background(), vip, netip.MustParseAddrPort(r), 0); err != nil {
			t.Fatal(err)
		}
	}
	assertShares(t, f.dp.share(1), map[uint32]float64{sorryID: 1})
	_, obs := f.rec.Snapshot()
	if !obs[vip].SorryActive {
		t.Error("SorryActive = false while only the sorry_server is in the table")
	}

	// One real back: it has the table to itself again.
	if err := f.rec.SetWeight(context.Background(), vip, netip.MustParseAddrPort("198.18.0.12:80"), 2); err != nil {
		t.Fatal(err)
	}
	assertShares(t, f.dp.share(1), map[uint32]float64{2: 1})
	if _, obs := f.rec.Snapshot(); obs[vip].SorryActive {
		t.Error("SorryActive = true while a real has weight")
	}

	// sorry_server removed from the config: its entry goes.
	if err := f.rec.SetConfig(context.Background(), mustParse(t, threeReals)); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.dp.reals[sorryID]; ok {
		t.Error("sorry_server entry kept after it left the configuration")
	}
}

// TestXDPServiceCounters checks that a service's counters are the sum of
// its reals' and its sorry server's (the data plane counts reals only),
// and keep the traffic of reals and sorry servers it no longer has.
func TestXDPServiceCounters(t *testing.T) {
	f, conf, vip := sorryFixture(t)
	// Ids 1-3: the reals; 4: the sorry server.
	for id, n := range map[uint32]uint64{1: 10, 2: 200, 3: 3000, 4: 40000} {
		f.dp.counters[id] = maps.Counters{Packets: n, Bytes: 100 * n, OutPackets: n / 2, OutBytes: 50 * n, Connections: n / 10}
	}
	want := maps.Counters{Packets: 43210, Bytes: 4321000, OutPackets: 21605, OutBytes: 2160500, Connections: 4321}
	check := func(step string, want maps.Counters) {
		t.Helper()
		_, obs := f.rec.Snapshot()
		o := obs[vip]
		got := maps.Counters{Packets: o.Packets, Bytes: o.Bytes, OutPackets: o.OutPackets, OutBytes: o.OutBytes, Connections: o.Connections}
		if got != want {
			t.Errorf("%s: service counters %+v, want %+v", step, got, want)
		}
	}
	check("three reals and a sorry server", want)

	// Real 3 leaves: its traffic stays in the service's.
	two := strings.Replace(conf, "real_server 198.18.0.13 80 { weight 1 }", "", 1)
	if err := f.rec.SetConfig(context.Background(), mustParse(t, two)); err != nil {
		t.Fatal(err)
	}
	check("real 3 removed", want)
	if _, obs := f.rec.Snapshot(); len(obs[vip].Reals) != 2 {
		t.Fatalf("reals listed after a removal: %d, want 2", len(obs[vip].Reals))
	}

	// It comes back on its old id, whose counters start again from 0:
	// what it counts now adds to what it counted before.
	if err := f.rec.SetConfig(context.Background(), mustParse(t, conf)); err != nil {
		t.Fatal(err)
	}
	check("real 3 back, counters cleared", want)
	f.dp.counters[3] = maps.Counters{Packets: 5}
	want.Packets += 5
	check("real 3 counting again", want)

	// The sorry server leaves the configuration: its traffic stays too.
	if err := f.rec.SetConfig(context.Background(), mustParse(t, threeReals)); err != nil {
		t.Fatal(err)
	}
	check("sorry server removed", want)
}

// TestXDPHealthAndQuorum follows health results through the reconciler
// into the tables: a failed real leaves, quorum loss hands the table to
// the sorry server, and hysteresis decides when the reals get it back.
func TestXDPHealthAndQuorum(t *testing.T) {
	conf := strings.Replace(threeReals, "    protocol TCP\n",
		"    protocol TCP\n    sorry_server 198.18.0.99 80\n    quorum 4\n    hysteresis 1\n", 1)
	f := newXDPFixture(t, conf)
	f.nb.hops[netip.MustParseAddr("198.18.0.99")] = hop("aa:00:00:00:00:99")
	f.reconcile(t)
	ctx := context.Background()
	vip := MustParseServiceKey("198.18.0.100:80/tcp")
	r11, r13 := netip.MustParseAddrPort("198.18.0.11:80"), netip.MustParseAddrPort("198.18.0.13:80")
	// Weights 3:2:1 = 6 >= quorum 4 + hysteresis 1.
	assertAddrShares(t, f, map[string]float64{"198.18.0.11": 3.0 / 6, "198.18.0.12": 2.0 / 6, "198.18.0.13": 1.0 / 6})

	// .13 fails: it leaves the table and the data plane (its flows are
	// rescheduled); 5 >= 4-1 keeps quorum.
	if err := f.rec.SetHealth(ctx, vip, r13, RealHealth{Reason: "connect: connection refused"}); err != nil {
		t.Fatal(err)
	}
	assertAddrShares(t, f, map[string]float64{"198.18.0.11": 3.0 / 5, "198.18.0.12": 2.0 / 5})
	for id, r := range f.dp.reals {
		if r.Addr == r13.Addr() {
			t.Errorf("failed real without inhibit_on_failure still in the reals map as %d", id)
		}
	}
	st, _ := f.rec.Snapshot()
	if svc, _ := st.Service(vip); !svc.QuorumUp || len(svc.Down) != 1 {
		t.Errorf("after .13 failed: QuorumUp %v, Down %v; want quorum, .13 down", svc.QuorumUp, svc.Down)
	}

	// .11 fails too: 2 < 3, quorum lost, the sorry server takes the table
	// although .12 still has weight.
	if err := f.rec.SetHealth(ctx, vip, r11, RealHealth{Reason: "timeout"}); err != nil {
		t.Fatal(err)
	}
	assertAddrShares(t, f, map[string]float64{"198.18.0.99": 1})

	// .13 returns: 3 is not 4+1, so quorum stays lost.
	if err := f.rec.SetHealth(ctx, vip, r13, RealHealth{Up: true}); err != nil {
		t.Fatal(err)
	}
	assertAddrShares(t, f, map[string]float64{"198.18.0.99": 1})

	// .11 returns: 6 >= 5, the reals get the table back.
	if err := f.rec.SetHealth(ctx, vip, r11, RealHealth{Up: true}); err != nil {
		t.Fatal(err)
	}
	assertAddrShares(t, f, map[string]float64{"198.18.0.11": 3.0 / 6, "198.18.0.12": 2.0 / 6, "198.18.0.13": 1.0 / 6})
}

// assertAddrShares checks the table of service 1 by the reals' addresses,
// which outlive the ids a real gets each time it returns.
func assertAddrShares(t *testing.T, f *xdpFixture, want map[string]float64) {
	t.Helper()
	got := map[string]float64{}
	for id, share := range f.dp.share(1) {
		got[f.dp.reals[id].Addr.String()] += share
	}
	for a, w := range want {
		if math.Abs(got[a]-w) > 0.01 {
			t.Errorf("%s holds %.3f of the table, want %.3f (all: %v)", a, got[a], w, got)
		}
	}
}

// TestQuorumHook checks that the reconciler reports quorum changes, with
// the scripts to run, and only changes.
func TestQuorumHook(t *testing.T) {
	conf := strings.Replace(threeReals, "    protocol TCP\n",
		"    protocol TCP\n    quorum 2\n    quorum_up \"/bin/up arg\"\n    quorum_down /bin/down\n", 1)
	f := newXDPFixture(t, conf)
	var got []string
	f.rec.SetHooks(Hooks{QuorumChanged: func(svc Service) {
		got = append(got, fmt.Sprintf("%s up=%v up_script=%q down_script=%q", svc.Key, svc.QuorumUp, svc.QuorumUpScript, svc.QuorumDownScript))
	}})
	f.reconcile(t)
	ctx := context.Background()
	vip := MustParseServiceKey("198.18.0.100:80/tcp")
	for _, step := range []struct {
		real string
		up   bool
	}{{"198.18.0.11:80", false}, {"198.18.0.12:80", false}, {"198.18.0.13:80", false}, {"198.18.0.11:80", true}} {
		if err := f.rec.SetHealth(ctx, vip, netip.MustParseAddrPort(step.real), RealHealth{Up: step.up}); err != nil {
			t.Fatal(err)
		}
	}
	// Weights 3, 2, 1 against quorum 2: losing .11 leaves 3 (kept), losing
	// .12 leaves 1 (lost), losing .13 leaves 0 (still lost), .11 back is 3.
	want := []string{
		`198.18.0.100:80/tcp up=false up_script="/bin/up arg" down_script="/bin/down"`,
		`198.18.0.100:80/tcp up=true up_script="/bin/up arg" down_script="/bin/down"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("quorum changes (-want +got):\n%s", diff)
	}
}

func TestCheckXDPConfig(t *testing.T) {
	tests := []struct {
		name string
		conf string
		want []string // substrings of the error; none: accepted
	}{
		{name: "DR and plain TUN", conf: threeReals},
		{
			name: "fwmark",
			conf: "virtual_server fwmark 7 {\n  lb_kind DR\n  real_server 198.18.0.12 80 {\n  }\n}\n",
			want: []string{"test.conf:1:1: virtual_server fwmark 7: the XDP backend cannot see firewall marks"},
		},
		{
			name: "GUE and GRE",
			conf: "virtual_server 198.18.0.100 80 {\n  protocol TCP\n  lb_kind TUN type gue port 6080\n" +
				"  real_server 198.18.0.12 80 {\n    lvs_method TUN type gre\n  }\n}\n",
			want: []string{
				"test.conf:1:1: virtual_server 198.18.0.100:80/tcp: lb_kind TUN type gue: the XDP backend encapsulates in IPIP only",
				"test.conf:4:3: real_server 198.18.0.12: lvs_method TUN type gre: the XDP backend encapsulates in IPIP only",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckXDPConfig(mustParse(t, tc.conf))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestXDPLVSSchedulers checks what rr/wrr and the least-connection family
// write: a sequence or a real list in place of the Maglev table, the
// service entry naming the scheduler, and the list deleted when the
// scheduler changes to one without it.
func TestXDPLVSSchedulers(t *testing.T) {
	k := maps.ServiceKey{Addr: netip.MustParseAddr("198.18.0.100"), Port: 80, Proto: 6}
	for _, tc := range []struct {
		algo     string
		sched    maps.Scheduler
		op       string
		wantSize uint32
	}{
		{"wrr", maps.SchedWRR, "swap sequence 1", 6},
		{"rr", maps.SchedRR, "swap sequence 1", 3},
		{"wlc", maps.SchedWLC, "swap sched reals 1", 0},
		{"nq", maps.SchedNQ, "swap sched reals 1", 0},
	} {
		t.Run(tc.algo, func(t *testing.T) {
			f := newXDPFixture(t, strings.Replace(threeReals, "lb_algo mh", "lb_algo "+tc.algo, 1))
			ops := f.reconcile(t)
			if !slices.Contains(ops, tc.op) || slices.Contains(ops, "swap table 1") {
				t.Errorf("ops %q, want %q and no Maglev table", ops, tc.op)
			}
			if e := f.dp.services[k]; e.Scheduler != tc.sched || e.TableSize != tc.wantSize {
				t.Errorf("service entry %+v, want scheduler %v, table size %d", e, tc.sched, tc.wantSize)
			}
			if tc.algo != "rr" {
				// 3:2:1 in the sequence (wrr) or the list's weights (wlc, nq).
				assertShares(t, f.dp.share(1), map[uint32]float64{1: 3.0 / 6, 2: 2.0 / 6, 3: 1.0 / 6})
			}
			if err := f.rec.SetConfig(context.Background(), mustParse(t, threeReals)); err != nil {
				t.Fatal(err)
			}
			ops = f.dp.takeOps()
			if want := "delete sched reals 1"; (tc.op == "swap sched reals 1") != slices.Contains(ops, want) {
				t.Errorf("lb_algo %s → mh wrote %q; %q only when leaving a list scheduler", tc.algo, ops, want)
			}
			if !slices.Contains(ops, "swap table 1") || f.dp.services[k].Scheduler != maps.SchedMaglev {
				t.Errorf("lb_algo %s → mh wrote %q, want a Maglev table and entry", tc.algo, ops)
			}
		})
	}
}

// TestXDPSmallTableWarns checks that xlbd warns, naming the service and
// the size it would want, when --maglev-size leaves a Maglev service
// fewer than minSlotsPerReal slots a real, and only then.
func TestXDPSmallTableWarns(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   uint32
		conf   string
		warned bool
	}{
		{"three reals in 1009 slots", smallTable, threeReals, false},
		{"three reals in 293 slots", 293, threeReals, true},
		{"three reals in 307 slots", 307, threeReals, false},
		{"one real in 97 slots", 97, oneReal, true},
		// rr keeps its own sequence, whatever --maglev-size says.
		{"rr in 97 slots", 97, strings.Replace(threeReals, "lb_algo mh", "lb_algo rr", 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs strings.Builder
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			newLoggedXDPFixture(t, tc.conf, tc.size, logger).reconcile(t)
			got := strings.Contains(logs.String(), `level=WARN msg="Maglev table small for its reals`)
			if got != tc.warned {
				t.Fatalf("warned %v, want %v:\n%s", got, tc.warned, logs.String())
			}
			if got && !strings.Contains(logs.String(), "service=198.18.0.100:80/tcp slots="+fmt.Sprint(tc.size)) {
				t.Errorf("warning lacks the service and size:\n%s", logs.String())
			}
		})
	}
}
