package maps

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"xlb/bpf"
	"xlb/internal/testutil"
)

// fixtureFNATPool is a full-NAT service's pool in a golden case.
type fixtureFNATPool struct {
	ServiceID uint32   `json:"service_id"`
	Addrs     []string `json:"addrs"`
	PortMin   uint16   `json:"port_min,omitempty"`
	PortMax   uint16   `json:"port_max,omitempty"`
}

// fixtureFNATConn is a full-NAT forward entry after the run.
type fixtureFNATConn struct {
	Src    string `json:"src"` // the client
	Dst    string `json:"dst"` // the VIP
	Proto  string `json:"proto"`
	RealID uint32 `json:"real_id"`
	State  string `json:"state"`
	Local  string `json:"local"` // the local address and port the real sees
	Real   uint16 `json:"real_port"`
}

// fixtureFNATReply is a full-NAT reverse entry after the run.
type fixtureFNATReply struct {
	Src       string `json:"src"` // the real
	Dst       string `json:"dst"` // the local address and port
	Proto     string `json:"proto"`
	Client    string `json:"client"`
	VIP       string `json:"vip"`
	ServiceID uint32 `json:"service_id"`
	RealID    uint32 `json:"real_id"`
	State     string `json:"state"`
	Hop       string `json:"hop,omitempty"` // the cached next hop (hopString)
}

var protoNames = map[uint8]string{unix.IPPROTO_TCP: "tcp", unix.IPPROTO_UDP: "udp"}

// walkFNATFlows calls fn with every full-NAT forward entry (its key as a
// Flow), all of them read before the first call: fn may write them
// (putFNATFlow).
func walkFNATFlows(tb testing.TB, d *Dataplane, fn func(Flow, *bpf.XlbFnatConn)) {
	tb.Helper()
	type entry struct {
		f Flow
		v bpf.XlbFnatConn
	}
	var all []entry
	if err := d.fnatForward().walk(func(key any, v bpf.XlbFnatConn) { all = append(all, entry{flowFromKey(key), v}) }); err != nil {
		tb.Fatal(err)
	}
	for _, e := range all {
		fn(e.f, &e.v)
	}
}

// putFNATFlow writes v as the forward entry of client flow f, and
// putFNATReply as the reverse entry of reply flow f (putFNATWay).
func putFNATFlow(tb testing.TB, d *Dataplane, f Flow, v bpf.XlbFnatConn) {
	tb.Helper()
	putFNATWay(tb, d, d.fnatForward(), f, v,
		func(s *bpf.XlbFnatSet4) ([]bpf.XlbFlow4, []bpf.XlbFnatConn) { return s.Key[:], s.Val[:] },
		func(s *bpf.XlbFnatSet6) ([]bpf.XlbFlow, []bpf.XlbFnatConn) { return s.Key[:], s.Val[:] })
}

func putFNATReply(tb testing.TB, d *Dataplane, f Flow, v bpf.XlbFnatRev) {
	tb.Helper()
	putFNATWay(tb, d, d.fnatReverse(), f, v,
		func(s *bpf.XlbFnatRevSet4) ([]bpf.XlbFlow4, []bpf.XlbFnatRev) { return s.Key[:], s.Val[:] },
		func(s *bpf.XlbFnatRevSet6) ([]bpf.XlbFlow, []bpf.XlbFnatRev) { return s.Key[:], s.Val[:] })
}

// putFNATWay writes v as the entry of flow f in t, whose set must hold
// it: the set read, the way whose key is f's changed, the set written
// back. ways4 and ways6 give a set's keys and values.
func putFNATWay[S4, S6, V any](tb testing.TB, d *Dataplane, t fnatTables[S4, S6, V], f Flow, v V,
	ways4 func(*S4) ([]bpf.XlbFlow4, []V), ways6 func(*S6) ([]bpf.XlbFlow, []V)) {
	tb.Helper()
	_, key, err := d.flowKey(f)
	if err != nil {
		tb.Fatal(err)
	}
	if k4, v4 := key.(*bpf.XlbFlow4); v4 {
		rewriteSet(tb, t.m4, connSetIndex(key, t.sets4), func(s *S4) bool {
			keys, vals := ways4(s)
			return setWayValue(keys, vals, *k4, v)
		})
		return
	}
	k6 := key.(*bpf.XlbFlow)
	rewriteSet(tb, t.m6, connSetIndex(key, t.sets6), func(s *S6) bool {
		keys, vals := ways6(s)
		return setWayValue(keys, vals, *k6, v)
	})
}

// rewriteSet reads set i of m, lets change edit it (false: it found
// nothing to change, a failure) and writes it back.
func rewriteSet[S any](tb testing.TB, m *ebpf.Map, i uint32, change func(*S) bool) {
	tb.Helper()
	var s S
	if err := m.Lookup(i, &s); err != nil {
		tb.Fatal(err)
	}
	if !change(&s) {
		tb.Fatalf("%s set %d holds no such key", m, i)
	}
	if err := m.Update(i, &s, ebpf.UpdateExist); err != nil {
		tb.Fatal(err)
	}
}

// setWayValue makes v the value of the way whose key is k; false if no
// way's is.
func setWayValue[K comparable, V any](keys []K, vals []V, k K, v V) bool {
	w := slices.Index(keys, k)
	if w < 0 {
		return false
	}
	vals[w] = v
	return true
}

// dumpFNAT lists the full-NAT forward tables, sorted, without clocks.
func dumpFNAT(tb testing.TB, d *Dataplane) []fixtureFNATConn {
	var out []fixtureFNATConn
	walkFNATFlows(tb, d, func(f Flow, v *bpf.XlbFnatConn) {
		c := fnatConnFromC(*v)
		out = append(out, fixtureFNATConn{Src: f.Src.String(), Dst: f.Dst.String(), Proto: protoNames[f.Proto],
			RealID: c.RealID, State: connStateNames[c.State], Local: c.Local.String(), Real: c.Real})
	})
	slices.SortFunc(out, func(a, b fixtureFNATConn) int { return strings.Compare(a.Src+a.Dst, b.Src+b.Dst) })
	return out
}

// dumpFNATReplies lists the full-NAT reverse tables, sorted, without
// clocks; lab names the cached hops' interfaces (nil: outside the lab).
func dumpFNATReplies(tb testing.TB, d *Dataplane, lab *natLab) []fixtureFNATReply {
	var out []fixtureFNATReply
	err := d.fnatReverse().walk(func(key any, v bpf.XlbFnatRev) {
		f, r := flowFromKey(key), fnatReplyFromC(v)
		out = append(out, fixtureFNATReply{Src: f.Src.String(), Dst: f.Dst.String(), Proto: protoNames[f.Proto],
			Client: r.Client.String(), VIP: r.VIP.String(), ServiceID: r.ServiceID, RealID: r.RealID, State: connStateNames[r.State],
			Hop: hopString(r.Hop, lab)})
	})
	if err != nil {
		tb.Fatal(err)
	}
	slices.SortFunc(out, func(a, b fixtureFNATReply) int { return strings.Compare(a.Src+a.Dst, b.Src+b.Dst) })
	return out
}

// withSaddr4 returns a copy of an untagged, option-less IPv4 frame with
// the last byte of its source address set to b: another client. The
// checksums are left stale; the program does not check them.
func withSaddr4(frame []byte, b byte) []byte {
	out := bytes.Clone(frame)
	out[ethHeaderLen+15] = b
	return out
}

// TestFNATPortAllocation opens flows from clients that share a source
// port until a pool of one address and four ports is full: every flow
// must get its own local port (the later ones find the earlier ones'
// pairs taken and try on), and the fifth is dropped as drop_fnat_no_port,
// tracked nowhere. ResyncConnCounts then counts the four and, once their
// entries are aged past the timeout, deletes them, which frees the
// pairs: a new flow gets one again.
func TestFNATPortAllocation(t *testing.T) {
	fx := loadFixtures(t)["fnat_v4_tcp_forward"]
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4, ConnTableSize: 1024})
	fx.fill(t, d)
	pool := FNATPool{Addrs: []netip.Addr{netip.MustParseAddr("198.18.2.100")}, PortMin: 5000, PortMax: 5003}
	if err := d.PutFNATPool(1, pool); err != nil {
		t.Fatal(err)
	}
	dst := netip.MustParseAddrPort("198.18.0.100:80")
	client := func(i int) Flow {
		return Flow{Src: netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 1, byte(10 + i)}), 40000), Dst: dst, Proto: unix.IPPROTO_TCP}
	}
	seen := map[uint16]int{}
	for i := range 4 {
		run(t, d.Program(), withSaddr4(fx.In, byte(10+i)))
		c, ok, err := d.LookupFNAT(client(i))
		if err != nil || !ok {
			t.Fatalf("client %d: LookupFNAT = %v, %v; want an entry", i, ok, err)
		}
		if c.Local.Addr() != pool.Addrs[0] || c.Local.Port() < pool.PortMin || c.Local.Port() > pool.PortMax {
			t.Errorf("client %d: local %s, want 198.18.2.100:5000-5003", i, c.Local)
		}
		if j, dup := seen[c.Local.Port()]; dup {
			t.Errorf("clients %d and %d share local port %d", j, i, c.Local.Port())
		}
		seen[c.Local.Port()] = i
		r, ok, err := d.LookupFNATReply(Flow{Src: netip.MustParseAddrPort("198.18.2.11:8080"), Dst: c.Local, Proto: unix.IPPROTO_TCP})
		if err != nil || !ok || r.Client != client(i).Src || r.VIP != dst {
			t.Errorf("client %d: reverse entry of %s = %+v, %v, %v; want client %s", i, c.Local, r, ok, err, client(i).Src)
		}
	}
	if v, _ := run(t, d.Program(), withSaddr4(fx.In, 14)); testutil.VerdictName(v) != "XDP_DROP" {
		t.Errorf("fifth client: verdict %s, want XDP_DROP", testutil.VerdictName(v))
	}
	if _, ok, _ := d.LookupFNAT(client(4)); ok {
		t.Error("fifth client: tracked, want no entry")
	}
	if got := nonZero(t, d)["drop_fnat_no_port"]; got != 1 {
		t.Errorf("drop_fnat_no_port = %d, want 1", got)
	}

	if _, err := d.ResyncConnCounts(); err != nil {
		t.Fatal(err)
	}
	if a, in, err := d.RealConnCounts(1); err != nil || a != 0 || in != 4 {
		t.Errorf("after resync: real 1 counts %d active, %d inactive (%v); want 0, 4", a, in, err)
	}
	// Age every entry past the SYN timeout: expired, the resync leaves
	// them out of the counts, and new flows take their pairs over.
	old := uint64(MonotonicNow() - DefaultSYNTimeout - 2*time.Second)
	walkFNATFlows(t, d, func(f Flow, v *bpf.XlbFnatConn) {
		v.Conn.LastSeen = old
		putFNATFlow(t, d, f, *v)
	})
	replies := dumpFNATReplies(t, d, nil)
	if len(replies) != 4 {
		t.Fatalf("reverse entries before the ageing: %v, want 4", replies)
	}
	err := d.fnatReverse().walk(func(key any, v bpf.XlbFnatRev) {
		v.LastSeen = old
		putFNATReply(t, d, flowFromKey(key), v)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.ResyncConnCounts(); err != nil || n != 4 {
		t.Errorf("resync of aged flows: %d expired (%v), want 4", n, err)
	}
	if a, in, _ := d.RealConnCounts(1); a != 0 || in != 0 {
		t.Errorf("after expiry: real 1 counts %d, %d; want 0, 0", a, in)
	}
	if v, _ := run(t, d.Program(), withSaddr4(fx.In, 14)); testutil.VerdictName(v) == "XDP_DROP" {
		t.Error("a new flow after the pairs were freed: dropped, want a local pair")
	}
}

// TestFNATPersistTouch shows that an established full-NAT flow of a
// persistent service keeps its client's template alive, as pick_real
// does for DR, TUN and NAT: with the template gone (as if the LRU had
// evicted it) and the flow's entry older than CONN_TOUCH_NS, the flow's
// next packet writes the template again, naming the flow's real.
func TestFNATPersistTouch(t *testing.T) {
	fx := *loadFixtures(t)["fnat_v4_tcp_forward"]
	fx.Services = slices.Clone(fx.Services)
	fx.Services[0].PersistS = 360
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4, ConnTableSize: 1024})
	fx.fill(t, d)
	if err := d.PutFNATPool(1, FNATPool{Addrs: []netip.Addr{netip.MustParseAddr("198.18.2.100")}, PortMin: 5000, PortMax: 5003}); err != nil {
		t.Fatal(err)
	}
	client := netip.MustParseAddrPort("198.18.1.10:40000")
	vip := netip.MustParseAddrPort("198.18.0.100:80")
	want := []fixtureTemplate{{ServiceID: 1, Client: client.Addr().String(), RealID: 1}}
	run(t, d.Program(), fx.In)
	if got := dumpTemplates(t, d); !slices.Equal(got, want) {
		t.Fatalf("templates after the first packet: %v, want %v", got, want)
	}

	m, key, err := d.persistKey(1, client.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(key); err != nil {
		t.Fatal(err)
	}
	walkFNATFlows(t, d, func(f Flow, v *bpf.XlbFnatConn) {
		v.Conn.LastSeen -= uint64(2 * time.Second)
		putFNATFlow(t, d, f, *v)
	})
	run(t, d.Program(), tcpAckFrame(client, vip))
	if got := dumpTemplates(t, d); !slices.Equal(got, want) {
		t.Errorf("templates after the touch: %v, want %v (written again)", got, want)
	}
	if c, ok, err := d.LookupFNAT(Flow{Src: client, Dst: vip, Proto: unix.IPPROTO_TCP}); err != nil || !ok || c.State != ConnEstablished {
		t.Errorf("flow after its ACK: %+v, %v, %v; want established", c, ok, err)
	}
}

// TestFNATClaim shows the reverse sets' claim (bpf/fnat.h, fnat_claim4)
// in a table of one set: with the set's claim word held (another CPU's
// claim in progress) a new flow claims nothing and is dropped; four flows
// then fill the set's ways; a fifth, with free ports in its pool, finds
// no way it may take (all four live: none is replaced) and is dropped,
// the four entries unchanged; once one of them is stale, the fifth takes
// its way over.
func TestFNATClaim(t *testing.T) {
	fx := loadFixtures(t)["fnat_v4_tcp_forward"]
	d := openTest(t, Options{MaxServices: 4, MaxReals: 4, ConnTableSize: 1024, FNATTableSize: ConnWays, FNATTableSize6: ConnWays})
	fx.fill(t, d)
	pool := FNATPool{Addrs: []netip.Addr{netip.MustParseAddr("198.18.2.100")}, PortMin: 5000, PortMax: 5099}
	if err := d.PutFNATPool(1, pool); err != nil {
		t.Fatal(err)
	}
	setClaim := func(v uint32) {
		rewriteSet(t, d.fnatRev4, 0, func(s *bpf.XlbFnatRevSet4) bool { s.Claim = v; return true })
	}
	verdict := func(i byte) string {
		v, _ := run(t, d.Program(), withSaddr4(fx.In, 10+i))
		return testutil.VerdictName(v)
	}

	setClaim(1)
	if got := verdict(0); got != "XDP_DROP" {
		t.Fatalf("a new flow while the set is claimed: %s, want XDP_DROP", got)
	}
	setClaim(0)
	for i := range byte(ConnWays) {
		if got := verdict(i); got == "XDP_DROP" {
			t.Fatalf("flow %d into a set with a free way: dropped", i)
		}
	}
	before := dumpFNATReplies(t, d, nil)
	if len(before) != ConnWays {
		t.Fatalf("reverse entries: %v, want %d", before, ConnWays)
	}
	if got := verdict(ConnWays); got != "XDP_DROP" {
		t.Errorf("a fifth flow into a set of live flows: %s, want XDP_DROP", got)
	}
	if after := dumpFNATReplies(t, d, nil); !slices.Equal(after, before) {
		t.Errorf("reverse entries after the fifth flow: %v, want them unchanged: %v", after, before)
	}
	if got := nonZero(t, d)["drop_fnat_no_port"]; got != 2 {
		t.Errorf("drop_fnat_no_port = %d, want 2", got)
	}

	stale := uint64(MonotonicNow() - DefaultSYNTimeout - 2*time.Second)
	var staleClient string
	err := d.fnatReverse().walk(func(key any, v bpf.XlbFnatRev) {
		if staleClient == "" {
			staleClient = fnatReplyFromC(v).Client.String()
			v.LastSeen = stale
			putFNATReply(t, d, flowFromKey(key), v)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := verdict(ConnWays); got == "XDP_DROP" {
		t.Fatal("a fifth flow with a stale way in its set: dropped, want it to take the way")
	}
	clients := map[string]bool{}
	for _, r := range dumpFNATReplies(t, d, nil) {
		clients[r.Client] = true
	}
	fifth := client4(ConnWays).String()
	if len(clients) != ConnWays || !clients[fifth] || clients[staleClient] {
		t.Errorf("reverse entries' clients %v: want the fifth (%s) in the stale one's (%s) place", clients, fifth, staleClient)
	}
}

// client4 is the client address:port withSaddr4(fx.In, 10+i) sends from.
func client4(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 1, byte(10 + i)}), 40000)
}
