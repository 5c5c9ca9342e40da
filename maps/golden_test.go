package maps

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"

	"xlb/bpf"

	"xlb/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the expected results in testdata/xdp")

const goldenDir = "../testdata/xdp"

// fixture is one golden case: map contents and an input frame, then the
// expected verdict, output frame and counters (rewritten by -update).
type fixture struct {
	Comment  string           `json:"comment"`
	Services []fixtureService `json:"services,omitempty"`
	Reals    []fixtureReal    `json:"reals,omitempty"`
	Tables   []fixtureTable   `json:"tables,omitempty"`
	Conns    []fixtureConn    `json:"conns,omitempty"` // tracked before the run
	// Sequences are rr/wrr services' sequences (SwapSequence), SchedReals
	// lc/wlc/sed/nq services' lists (SwapSchedReals), and ConnCounts the
	// reals' active/inactive counts before the run (written into
	// real_conns as the scripted state a least-connection pick sees).
	Sequences  []fixtureSequence       `json:"sequences,omitempty"`
	SchedReals []fixtureSchedList      `json:"sched_reals,omitempty"`
	ConnCounts map[uint32]fixtureCount `json:"conn_counts,omitempty"`
	// Templates are persistence templates before the run.
	Templates []fixtureTemplate `json:"templates,omitempty"`
	// Localities are lblc/lblcr entries before the run (locality_test.go).
	Localities []fixtureLocality `json:"localities,omitempty"`
	// Ingress names the NAT lab's interface ("outside" or "inside") the
	// frames arrive on: the case runs in the lab (natLab), where
	// bpf_fib_lookup finds routes and neighbours. Empty: lo, no lab.
	Ingress string `json:"ingress,omitempty"`
	// Before are frames run first, arriving on the lab's outside
	// interface (a client's packets that set up a NAT flow), or on lo
	// when the case runs outside the lab; their results are not checked,
	// but count in the reasons and counters.
	Before []testutil.HexFrame `json:"before,omitempty"`
	// BeforeInside are frames run after Before, arriving on the lab's
	// inside interface (a real's replies before the one In is), results
	// unchecked as Before's.
	BeforeInside []testutil.HexFrame `json:"before_inside,omitempty"`
	In           testutil.HexFrame   `json:"in"`

	lab *natLab // resolves reals' ifname; set by TestGolden for lab cases

	Verdict      string              `json:"verdict"`
	Out          testutil.HexFrame   `json:"out"`
	Reasons      map[string]uint64   `json:"reasons"` // non-zero counts only
	RealCounters map[uint32]Counters `json:"real_counters,omitempty"`
	ConnsAfter   []fixtureConn       `json:"conns_after,omitempty"`   // the whole table after the run
	RepliesAfter []fixtureReply      `json:"replies_after,omitempty"` // the whole NAT reverse table after the run
	// ConnCountsAfter are the fixture's reals' counts after the run
	// (RealConnCounts), non-zero ones only.
	ConnCountsAfter map[uint32]fixtureCount `json:"conn_counts_after,omitempty"`
	// LocalitiesAfter is the whole lblc/lblcr table after the run.
	LocalitiesAfter []fixtureLocality `json:"localities_after,omitempty"`
	// TemplatesAfter are both persistence tables after the run.
	TemplatesAfter []fixtureTemplate `json:"templates_after,omitempty"`

	// FNATPools are full-NAT services' local addresses (PutFNATPool);
	// FNATAfter and FNATRepliesAfter the whole full-NAT forward and
	// reverse tables after the run (fnat_test.go).
	FNATPools        []fixtureFNATPool  `json:"fnat_pools,omitempty"`
	FNATAfter        []fixtureFNATConn  `json:"fnat_after,omitempty"`
	FNATRepliesAfter []fixtureFNATReply `json:"fnat_replies_after,omitempty"`
}

// fixtureTemplate is a persistence template: before the run idle_s ages
// it; after the run it is left out.
type fixtureTemplate struct {
	ServiceID uint32 `json:"service_id"`
	Client    string `json:"client"` // the masked address
	RealID    uint32 `json:"real_id"`
	IdleS     int    `json:"idle_s,omitempty"`
}

// fixtureCount is a real's active and inactive connection counts.
type fixtureCount struct {
	Active   uint64 `json:"active"`
	Inactive uint64 `json:"inactive"`
}

// fixtureSequence is an rr/wrr service's sequence of real ids.
type fixtureSequence struct {
	ServiceID uint32   `json:"service_id"`
	IDs       []uint32 `json:"ids"`
}

// fixtureSchedList is an lc/wlc/sed/nq service's reals.
type fixtureSchedList struct {
	ServiceID uint32      `json:"service_id"`
	Reals     []SchedReal `json:"reals"`
}

// schedByName maps a fixture service's sched to Service.Scheduler.
var schedByName = map[string]Scheduler{"": SchedMaglev, "rr": SchedRR, "wrr": SchedWRR, "lc": SchedLC, "wlc": SchedWLC, "sed": SchedSED, "nq": SchedNQ,
	"lblc": SchedLBLC, "lblcr": SchedLBLCR}

// connCounts reads the counts of reals, non-zero ones only.
func connCounts(tb testing.TB, d *Dataplane, reals []fixtureReal) map[uint32]fixtureCount {
	tb.Helper()
	out := make(map[uint32]fixtureCount)
	for _, r := range reals {
		a, in, err := d.RealConnCounts(r.ID)
		if err != nil {
			tb.Fatal(err)
		}
		if a != 0 || in != 0 {
			out[r.ID] = fixtureCount{Active: a, Inactive: in}
		}
	}
	return out
}

// fixtureReply is a NAT reverse entry after the run: the reply's 5-tuple
// and what its source becomes.
type fixtureReply struct {
	Src       string `json:"src"` // the real
	Dst       string `json:"dst"` // the client
	Proto     string `json:"proto"`
	VIP       string `json:"vip"`
	ServiceID uint32 `json:"service_id"`
	RealID    uint32 `json:"real_id"`
	State     string `json:"state"`
	Hop       string `json:"hop,omitempty"` // the cached next hop (hopString)
}

// fixtureConn is a connection table entry. Before the run, idle_s ages it
// and stale_gen gives it the previous generation of its real (a real that
// was replaced); after the run both are left out.
type fixtureConn struct {
	Src      string `json:"src"` // "198.18.1.10:40000"
	Dst      string `json:"dst"`
	Proto    string `json:"proto"`
	RealID   uint32 `json:"real_id"`
	State    string `json:"state"` // syn, established, closing, udp
	IdleS    int    `json:"idle_s,omitempty"`
	StaleGen bool   `json:"stale_gen,omitempty"`
}

var connStateNames = map[ConnState]string{ConnSYN: "syn", ConnEstablished: "established", ConnClosing: "closing", ConnUDP: "udp"}

func connStateByName(tb testing.TB, name string) ConnState {
	for st, n := range connStateNames {
		if n == name {
			return st
		}
	}
	tb.Fatalf("conn state %q unknown", name)
	return 0
}

type fixtureService struct {
	VIP         string `json:"vip"`   // "198.18.0.100:80"
	Proto       string `json:"proto"` // "tcp" or "udp"
	ID          uint32 `json:"id"`
	TableSize   uint32 `json:"table_size"`
	Kind        Kind   `json:"kind"`
	TunnelSrc   string `json:"tunnel_src,omitempty"`
	DropRemoved bool   `json:"drop_removed,omitempty"`
	Hash        string `json:"hash,omitempty"`           // lb_algo "sh" or "dh"; omitted: mh (the flow)
	Sched       string `json:"sched,omitempty"`          // lb_algo rr, wrr, lc, wlc, sed, nq, lblc, lblcr; omitted: Maglev (see hash)
	PersistS    int    `json:"persist_s,omitempty"`      // persistence_timeout
	PersistBits int    `json:"persist_prefix,omitempty"` // persistence_granularity
	OPS         bool   `json:"ops,omitempty"`
}

// hashKeys maps a fixture service's hash to Service.Hash.
var hashKeys = map[string]HashKey{"": HashFlow, "mh": HashFlow, "sh": HashSource, "dh": HashDest}

type fixtureReal struct {
	ID       uint32 `json:"id"`
	Addr     string `json:"addr"`
	Port     uint16 `json:"port,omitempty"` // NAT
	MAC      string `json:"mac,omitempty"`  // omitted with src_mac and ifindex: routed (NAT)
	SrcMAC   string `json:"src_mac,omitempty"`
	Ifindex  int    `json:"ifindex,omitempty"`
	Removed  bool   `json:"removed,omitempty"`  // RemoveReal after PutReal
	Quiesced bool   `json:"quiesced,omitempty"` // weight 0
	// Ifname names an interface of the NAT lab (cases with ingress) whose
	// ifindex the real gets instead of Ifindex: "tunnel" (MTU 1400) and
	// "narrow" (MTU 1300) put TUN reals behind a small MTU.
	Ifname string `json:"ifname,omitempty"`
	MTU    int    `json:"mtu,omitempty"` // Real.MTU: the interface's MTU as xlbd read it
}

// fixtureTable fills a service's table of size slots with Fill repeated.
type fixtureTable struct {
	ServiceID uint32   `json:"service_id"`
	Size      int      `json:"size"`
	Fill      []uint32 `json:"fill"`
}

func (tb fixtureTable) slots() []uint32 {
	s := make([]uint32, tb.Size)
	for i := range s {
		if len(tb.Fill) > 0 {
			s[i] = tb.Fill[i%len(tb.Fill)]
		}
	}
	return s
}

var protoNumbers = map[string]uint8{"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP}

func loadFixtures(tb testing.TB) map[string]*fixture {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no fixtures in %s: %v", goldenDir, err)
	}
	out := make(map[string]*fixture)
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		var f fixture
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".json")] = &f
	}
	return out
}

// fill writes the fixture's services, reals and tables into d.
func (f *fixture) fill(tb testing.TB, d *Dataplane) {
	tb.Helper()
	for _, s := range f.Services {
		k := ServiceKey{Addr: netip.MustParseAddrPort(s.VIP).Addr(), Port: netip.MustParseAddrPort(s.VIP).Port(), Proto: protoNumbers[s.Proto]}
		hash, ok := hashKeys[s.Hash]
		if !ok {
			tb.Fatalf("service %s: hash %q unknown", s.VIP, s.Hash)
		}
		sched, ok := schedByName[s.Sched]
		if !ok {
			tb.Fatalf("service %s: sched %q unknown", s.VIP, s.Sched)
		}
		svc := Service{ID: s.ID, TableSize: s.TableSize, Kind: s.Kind, DropRemoved: s.DropRemoved, Hash: hash, Scheduler: sched,
			Persist: time.Duration(s.PersistS) * time.Second, PersistPrefix: s.PersistBits, OnePacket: s.OPS}
		if s.TunnelSrc != "" {
			svc.TunnelSrc = netip.MustParseAddr(s.TunnelSrc)
		}
		if err := d.PutService(k, svc); err != nil {
			tb.Fatal(err)
		}
	}
	for _, r := range f.Reals {
		var mac, src net.HardwareAddr
		var err error
		if r.MAC != "" || r.SrcMAC != "" {
			if mac, err = net.ParseMAC(r.MAC); err != nil {
				tb.Fatal(err)
			}
			if src, err = net.ParseMAC(r.SrcMAC); err != nil {
				tb.Fatal(err)
			}
		}
		ifindex := r.Ifindex
		if r.Ifname != "" {
			if f.lab == nil || f.lab.ifindex[r.Ifname] == 0 {
				tb.Fatalf("real %d: ifname %q: not a lab interface (the case needs an ingress)", r.ID, r.Ifname)
			}
			ifindex = int(f.lab.ifindex[r.Ifname])
		}
		if err := d.PutReal(r.ID, Real{Addr: netip.MustParseAddr(r.Addr), Port: r.Port, MAC: mac, SrcMAC: src, Ifindex: ifindex, Quiesced: r.Quiesced, MTU: r.MTU}); err != nil {
			tb.Fatal(err)
		}
		if r.Removed {
			if err := d.RemoveReal(r.ID); err != nil {
				tb.Fatal(err)
			}
		}
	}
	now := MonotonicNow()
	for _, c := range f.Conns {
		flow := Flow{Src: netip.MustParseAddrPort(c.Src), Dst: netip.MustParseAddrPort(c.Dst), Proto: protoNumbers[c.Proto]}
		var r bpf.XlbReal
		if err := d.reals.Lookup(c.RealID, &r); err != nil {
			tb.Fatal(err)
		}
		if c.StaleGen {
			r.Gen--
		}
		val := bpf.XlbConn{RealId: c.RealID, RealGen: r.Gen, State: uint8(connStateByName(tb, c.State)),
			LastSeen: uint64(now - time.Duration(c.IdleS)*time.Second)}
		putConn(tb, d, flow, val, ebpf.UpdateNoExist)
		// Counted as the program would have when it tracked the flow
		// (conns_add in bpf/ct.h); a stale generation's flow is not.
		if !c.StaleGen {
			var cc bpf.XlbConnCounts
			if err := d.realConns.Lookup(c.RealID, &cc); err != nil {
				tb.Fatal(err)
			}
			if ConnState(val.State) == ConnEstablished {
				cc.Active++
			} else {
				cc.Inactive++
			}
			if err := d.realConns.Update(c.RealID, &cc, ebpf.UpdateAny); err != nil {
				tb.Fatal(err)
			}
		}
	}
	for _, t := range f.Templates {
		m, key, err := d.persistKey(t.ServiceID, netip.MustParseAddr(t.Client))
		if err != nil {
			tb.Fatal(err)
		}
		var r bpf.XlbReal
		if err := d.reals.Lookup(t.RealID, &r); err != nil {
			tb.Fatal(err)
		}
		v := bpf.XlbPersist{RealId: t.RealID, RealGen: r.Gen, LastSeen: uint64(now - time.Duration(t.IdleS)*time.Second)}
		if err := m.Update(key, &v, ebpf.UpdateNoExist); err != nil {
			tb.Fatal(err)
		}
	}
	for _, t := range f.Tables {
		if err := d.SwapTable(t.ServiceID, t.slots()); err != nil {
			tb.Fatal(err)
		}
	}
	for _, q := range f.Sequences {
		if err := d.SwapSequence(q.ServiceID, q.IDs); err != nil {
			tb.Fatal(err)
		}
	}
	for _, l := range f.SchedReals {
		if err := d.SwapSchedReals(l.ServiceID, l.Reals); err != nil {
			tb.Fatal(err)
		}
	}
	for _, p := range f.FNATPools {
		pool := FNATPool{PortMin: p.PortMin, PortMax: p.PortMax}
		for _, a := range p.Addrs {
			pool.Addrs = append(pool.Addrs, netip.MustParseAddr(a))
		}
		if err := d.PutFNATPool(p.ServiceID, pool); err != nil {
			tb.Fatal(err)
		}
	}
	for id, c := range f.ConnCounts {
		if err := d.realConns.Update(id, &bpf.XlbConnCounts{Active: int64(c.Active), Inactive: int64(c.Inactive)}, ebpf.UpdateAny); err != nil {
			tb.Fatal(err)
		}
	}
	fillLocalities(tb, d, f.Localities)
}

// run passes frame through d's program once, arriving on lo.
func run(tb testing.TB, prog *ebpf.Program, in []byte) (verdict uint32, out []byte) {
	tb.Helper()
	return runOn(tb, prog, in, loIfindex)
}

// runOn passes frame through d's program once, arriving on ifindex of
// the calling thread's network namespace.
func runOn(tb testing.TB, prog *ebpf.Program, in []byte, ifindex uint32) (verdict uint32, out []byte) {
	tb.Helper()
	out = make([]byte, len(in)+256)
	ctx := xdpMD{DataEnd: uint32(len(in)), IngressIfindex: ifindex}
	opts := ebpf.RunOptions{Data: in, DataOut: out, Context: ctx}
	verdict, err := prog.Run(&opts)
	if err != nil {
		tb.Fatalf("run program: %v", err)
	}
	return verdict, opts.DataOut
}

// goldenOptions size the Dataplane every golden case runs on. The
// connection tables are small: they are arrays, which resetDataplane
// zeroes whole before each case, and at the default million flows that
// took a minute over the cases (2 s now).
var goldenOptions = Options{MaxServices: 16, MaxReals: 16, ConnTableSize: 4096}

// goldenRig is one Dataplane, and the NAT lab if a case needs it, that
// golden cases run on one after the other, each on a reset data plane
// (resetDataplane): one verifier run (~4 s) for all of them, instead of
// one a case. Loads stay one at a time: two at once take both CPUs in the
// kernel and starve the timing-sensitive tests of packages running beside
// this one (VRRP at 0.1 s adverts).
type goldenRig struct {
	d   *Dataplane
	lab *natLab // nil when no case has an ingress
}

func newGoldenRig(tb testing.TB, fixtures map[string]*fixture) *goldenRig {
	tb.Helper()
	b := &goldenRig{d: openTest(tb, goldenOptions)}
	for _, f := range fixtures {
		if f.Ingress != "" {
			b.lab = newNATLab(tb)
			break
		}
	}
	return b
}

// run resets the data plane, fills f into it, runs f's frames and returns
// what the case checks: f's expected fields as they came out.
func (b *goldenRig) run(tb testing.TB, f *fixture) *fixture {
	tb.Helper()
	// One CPU for the case's frames: rr and wrr keep their position per
	// CPU, and a case whose frames ran on two CPUs started over
	// (persist_host_default failed once in a dozen runs).
	pinCPU(tb)
	d := b.d
	resetDataplane(tb, d)
	if f.Ingress != "" {
		f.lab = b.lab
	}
	f.fill(tb, d)

	var verdict uint32
	var out []byte
	if f.Ingress != "" {
		verdict, out = b.lab.run(tb, d, f)
	} else {
		for _, in := range f.Before {
			run(tb, d.Program(), in)
		}
		verdict, out = run(tb, d.Program(), f.In)
	}
	got := &fixture{
		Verdict:          testutil.VerdictName(verdict),
		Out:              out,
		Reasons:          nonZero(tb, d),
		RealCounters:     make(map[uint32]Counters),
		ConnsAfter:       dumpConns(tb, d),
		RepliesAfter:     dumpReplies(tb, d, b.lab),
		ConnCountsAfter:  connCounts(tb, d, f.Reals),
		TemplatesAfter:   dumpTemplates(tb, d),
		LocalitiesAfter:  dumpLocalities(tb, d),
		FNATAfter:        dumpFNAT(tb, d),
		FNATRepliesAfter: dumpFNATReplies(tb, d, b.lab),
	}
	for _, r := range f.Reals {
		c, err := d.RealCounters(r.ID)
		if err != nil {
			tb.Fatal(err)
		}
		got.RealCounters[r.ID] = c
	}
	return got
}

// sortedNames lists the fixtures' names in order.
func sortedNames(fixtures map[string]*fixture) []string {
	names := make([]string, 0, len(fixtures))
	for name := range fixtures {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func TestGolden(t *testing.T) {
	fixtures := loadFixtures(t)
	b := newGoldenRig(t, fixtures)
	for _, name := range sortedNames(fixtures) {
		f := fixtures[name]
		t.Run(name, func(t *testing.T) {
			got := b.run(t, f)
			if *update {
				f.Verdict, f.Out, f.Reasons = got.Verdict, got.Out, got.Reasons
				f.RealCounters = got.RealCounters
				f.ConnsAfter, f.RepliesAfter = got.ConnsAfter, got.RepliesAfter
				f.ConnCountsAfter = got.ConnCountsAfter
				f.TemplatesAfter = got.TemplatesAfter
				f.LocalitiesAfter = got.LocalitiesAfter
				f.FNATAfter, f.FNATRepliesAfter = got.FNATAfter, got.FNATRepliesAfter
				writeFixture(t, name, f)
				return
			}
			checkGolden(t, f, got)
		})
	}
}

// TestGoldenOrders runs every golden case again, twice, on one shared
// Dataplane, in two orders unlike TestGolden's (reversed, then every
// seventh case wrapping around), and checks each against its expected
// results: state a case leaks through something resetDataplane forgets
// shows as a failure of whichever case it reaches and disturbs, in the
// order where the leaking case runs first. TestResetMatchesFresh checks
// the maps and the Go side directly.
func TestGoldenOrders(t *testing.T) {
	fixtures := loadFixtures(t)
	b := newGoldenRig(t, fixtures)
	names := sortedNames(fixtures)
	reversed := slices.Clone(names)
	slices.Reverse(reversed)
	// A stride coprime to the count visits every case once.
	stride := goldenStride
	for gcd(stride, len(names)) != 1 {
		stride++
	}
	strided := make([]string, len(names))
	for i := range names {
		strided[i] = names[i*stride%len(names)]
	}
	for _, order := range []struct {
		name  string
		names []string
	}{{"reversed", reversed}, {"strided", strided}} {
		t.Run(order.name, func(t *testing.T) {
			for _, name := range order.names {
				f := fixtures[name]
				t.Run(name, func(t *testing.T) { checkGolden(t, f, b.run(t, f)) })
			}
		})
	}
}

// goldenStride is the step of TestGoldenOrders's second order.
const goldenStride = 7

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// checkGolden compares a case's results with its expected ones.
func checkGolden(t *testing.T, f, got *fixture) {
	t.Helper()
	if diff := cmp.Diff(f.Verdict, got.Verdict); diff != "" {
		t.Errorf("verdict (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]byte(f.Out), []byte(got.Out)); diff != "" {
		t.Errorf("output frame (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(f.Reasons, got.Reasons); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(f.RealCounters, got.RealCounters, cmpEmptyMaps); diff != "" {
		t.Errorf("real counters (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(f.ConnsAfter, got.ConnsAfter, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("conns after the run (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(f.RepliesAfter, got.RepliesAfter, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("nat replies after the run (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(f.ConnCountsAfter, got.ConnCountsAfter, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("conn counts after the run (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(f.TemplatesAfter, got.TemplatesAfter, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("templates after the run (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(f.LocalitiesAfter, got.LocalitiesAfter, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("localities after the run (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(f.FNATAfter, got.FNATAfter, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("fnat flows after the run (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(f.FNATRepliesAfter, got.FNATRepliesAfter, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("fnat replies after the run (-want +got):\n%s", diff)
	}
	// NAT rewrites checksums: whatever leaves must verify, as the input
	// did.
	if f.Ingress != "" {
		if err := checkChecksums(got.Out); err != nil {
			t.Errorf("output frame: %v", err)
		}
	}
	// ICMP errors forwarded, rewritten or made (PTB): every checksum of
	// what leaves verifies (icmp_test.go).
	if (isICMP(f.In) || isICMP(got.Out)) && !bytes.Equal(f.In, got.Out) {
		if err := checkICMP(got.Out); err != nil {
			t.Errorf("output frame: %v", err)
		}
	}
}

// cmpEmptyMaps treats a nil map (omitted in JSON) as equal to an empty one.
var cmpEmptyMaps = cmp.FilterValues(func(a, b map[uint32]Counters) bool {
	return len(a) == 0 && len(b) == 0
}, cmp.Ignore())

// dumpConns lists both connection tables, sorted, without idle times (the
// run's clock is not the fixture's).
func dumpConns(tb testing.TB, d *Dataplane) []fixtureConn {
	tb.Helper()
	var out []fixtureConn
	protoNames := map[uint8]string{unix.IPPROTO_TCP: "tcp", unix.IPPROTO_UDP: "udp"}
	for _, e := range dumpConnKeys(tb, d) {
		f := flowFromKey(e.key)
		out = append(out, fixtureConn{Src: f.Src.String(), Dst: f.Dst.String(), Proto: protoNames[f.Proto],
			RealID: e.val.RealId, State: connStateNames[ConnState(e.val.State)]})
	}
	slices.SortFunc(out, func(a, b fixtureConn) int { return strings.Compare(a.Src+a.Dst, b.Src+b.Dst) })
	return out
}

func nonZero(tb testing.TB, d *Dataplane) map[string]uint64 {
	tb.Helper()
	all, err := d.Reasons()
	if err != nil {
		tb.Fatal(err)
	}
	out := make(map[string]uint64)
	for name, n := range all {
		if n != 0 {
			out[name] = n
		}
	}
	return out
}

func writeFixture(tb testing.TB, name string, f *fixture) {
	tb.Helper()
	raw, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(goldenDir, name+".json"), append(raw, '\n'), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// dumpTemplates lists both persistence tables, sorted, without clocks.
func dumpTemplates(tb testing.TB, d *Dataplane) []fixtureTemplate {
	tb.Helper()
	var out []fixtureTemplate
	var v bpf.XlbPersist
	var k4 bpf.XlbPersist4Key
	it := d.persist4.Iterate()
	for it.Next(&k4, &v) {
		var a [4]byte
		binary.NativeEndian.PutUint32(a[:], k4.Client)
		out = append(out, fixtureTemplate{ServiceID: k4.ServiceId, Client: netip.AddrFrom4(a).String(), RealID: v.RealId})
	}
	if err := it.Err(); err != nil {
		tb.Fatal(err)
	}
	var k6 bpf.XlbPersist6Key
	it = d.persist6.Iterate()
	for it.Next(&k6, &v) {
		out = append(out, fixtureTemplate{ServiceID: k6.ServiceId, Client: netip.AddrFrom16(k6.Client).String(), RealID: v.RealId})
	}
	if err := it.Err(); err != nil {
		tb.Fatal(err)
	}
	slices.SortFunc(out, func(a, b fixtureTemplate) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	return out
}
