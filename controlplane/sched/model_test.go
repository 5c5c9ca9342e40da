package sched

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func mustNew(t testing.TB, name string, bs []Backend) *Model {
	t.Helper()
	m, err := New(name, bs)
	if err != nil {
		t.Fatalf("New(%q): %v", name, err)
	}
	return m
}

// step is one line of a scripted sequence run against a Model.
type step struct {
	// op is one of:
	//   new      Pick, then Connect the real picked (a SYN arrives)
	//   pick     Pick only
	//   est      Establish a connection of id
	//   close    Close an active connection of id
	//   expire   Expire an inactive connection of id
	//   advance  move the clock by d
	//   weights  Update with weighted(w...) in id order
	//   backends Update with bs
	op string
	// id is the real picks must return (0: no real), or the real a
	// counter op acts on.
	id uint32
	// dst is the flow's destination address for lblc, lblcr and dh;
	// "" means the VIP.
	dst string
	d   time.Duration
	w   []uint32
	bs  []Backend
	// set, when not nil, is the lblcr set of dst expected after the step
	// (newest member first).
	set []uint32
	// why says, from the kernel's rules, why the pick is id.
	why string
}

// run plays steps against m, failing on the first pick that differs.
func run(t *testing.T, m *Model, steps []step) {
	t.Helper()
	client := netip.MustParseAddrPort("198.18.50.1:40000")
	for i, s := range steps {
		dst := netip.MustParseAddrPort("198.18.100.1:80")
		if s.dst != "" {
			dst = netip.AddrPortFrom(netip.MustParseAddr(s.dst), 80)
		}
		var err error
		switch s.op {
		case "new", "pick":
			id, ok := m.Pick(Flow{Src: client, Dst: dst, Proto: 6})
			if !ok {
				id = 0
			}
			if id != s.id {
				t.Fatalf("step %d (%s %s): picked %d, want %d: %s\nconns: %s", i, s.op, s.dst, id, s.id, s.why, m.describe())
			}
			if s.op == "new" && ok {
				err = m.Connect(id)
			}
		case "est":
			err = m.Establish(s.id)
		case "close":
			err = m.Close(s.id)
		case "expire":
			err = m.Expire(s.id)
		case "advance":
			m.Advance(s.d)
		case "weights":
			err = m.Update(weighted(s.w...))
		case "backends":
			err = m.Update(s.bs)
		default:
			t.Fatalf("step %d: unknown op %q", i, s.op)
		}
		if err != nil {
			t.Fatalf("step %d (%s %d): %v", i, s.op, s.id, err)
		}
		if s.set != nil {
			var got []uint32
			if en := m.lblcr[dst.Addr()]; en != nil {
				got = en.set
			}
			if diff := cmp.Diff(s.set, got); diff != "" {
				t.Fatalf("step %d: lblcr set of %s (-want +got):\n%s", i, dst.Addr(), diff)
			}
		}
	}
}

// describe lists the listed reals' weight and counts for failure messages.
func (m *Model) describe() string {
	var b strings.Builder
	for _, id := range m.list {
		d := m.dests[id]
		fmt.Fprintf(&b, "%d(w%d a%d i%d) ", id, d.weight, d.active, d.inactive)
	}
	return b.String()
}

func TestModelScripts(t *testing.T) {
	tests := []struct {
		name     string
		sched    string
		backends []Backend
		bound    int           // SetBound, when not 0
		shrink   time.Duration // SetShrink, when not 0
		steps    []step
	}{
		{
			name:  "lc",
			sched: LC,
			// Real 4 (weight 0) heads the list to show quiesced reals
			// are skipped even when least loaded.
			backends: []Backend{weighted(0, 0, 0, 0)[3], weighted(1)[0], weighted(1, 1)[1], weighted(1, 1, 1)[2]},
			steps: []step{
				{op: "new", id: 1, why: "all at overhead 0; 4 is quiesced; the first in list order wins a tie"},
				{op: "new", id: 2, why: "1 has overhead 1 (one inactive); 2 and 3 tie at 0, 2 first"},
				{op: "new", id: 3, why: "3 alone at 0"},
				{op: "est", id: 1},
				{op: "new", id: 2, why: "1 is 256 (one active), 2 and 3 tie at 1, 2 first"},
				{op: "new", id: 3, why: "2 is 2, 3 is 1"},
				{op: "close", id: 1},
				{op: "new", id: 1, why: "1 back to 1 (closing counts inactive), 2 and 3 at 2"},
				{op: "expire", id: 2},
				{op: "expire", id: 2},
				{op: "new", id: 2, why: "2's connections expired: 0"},
			},
		},
		{
			name:     "wlc",
			sched:    WLC,
			backends: weighted(3, 1),
			steps: []step{
				{op: "new", id: 1, why: "0·1 > 0·3 is false: the first keeps the tie"},
				{op: "new", id: 2, why: "1·1 > 0·3: 1/3 against 0/1"},
				{op: "new", id: 1, why: "1·1 > 1·3 is false: 1/3 < 1/1"},
				{op: "new", id: 1, why: "2/3 < 1/1"},
				{op: "new", id: 1, why: "3/3 = 1/1: a tie keeps the first"},
				{op: "new", id: 2, why: "4·1 > 1·3: 4/3 > 1/1"},
				{op: "est", id: 2},
				{op: "new", id: 1, why: "2 is 256+1 = 257 with one active; 1 is 4/3"},
				{op: "est", id: 1},
				{op: "est", id: 1},
				{op: "est", id: 1},
				{op: "new", id: 1, why: "1 is 3·256+2 = 770, 770·1 > 257·3 = 771 is false"},
				{op: "new", id: 1, why: "1 is 771: 771·1 > 771 is false, the tie keeps 1"},
				{op: "new", id: 2, why: "1 is 772: 772 > 771"},
			},
		},
		{
			name:     "sed",
			sched:    SED,
			backends: weighted(1, 3),
			steps: []step{
				{op: "new", id: 2, why: "(0+1)/1 against (0+1)/3: 1·3 > 1·1, where wlc would keep 1"},
				{op: "est", id: 2},
				{op: "new", id: 2, why: "1/1 against 2/3: 1·3 > 2·1"},
				{op: "est", id: 2},
				{op: "new", id: 1, why: "1/1 against 3/3: a tie keeps the first"},
				{op: "est", id: 1},
				{op: "new", id: 2, why: "2/1 against 3/3: 2·3 > 3·1"},
				{op: "est", id: 2},
				{op: "new", id: 2, why: "2/1 against 4/3"},
				{op: "est", id: 2},
				{op: "new", id: 2, why: "2/1 against 5/3"},
				{op: "est", id: 2},
				{op: "new", id: 1, why: "2/1 against 6/3: a tie keeps the first"},
				{op: "new", id: 1, why: "inactive connections do not count for sed: still 2/1 against 6/3"},
			},
		},
		{
			name:     "nq",
			sched:    NQ,
			backends: weighted(1, 3, 1),
			steps: []step{
				{op: "new", id: 1, why: "1 is idle (no active): taken at once, where sed would pick 2"},
				{op: "est", id: 1},
				{op: "new", id: 2, why: "2 is the first idle"},
				{op: "est", id: 2},
				{op: "new", id: 3, why: "3 is idle"},
				{op: "est", id: 3},
				{op: "new", id: 2, why: "none idle: sed's rule, 2/1, 2/3, 2/1: 2 wins"},
				{op: "est", id: 2},
				{op: "new", id: 2, why: "2/1, 3/3, 2/1: 2·3 > 3·1"},
				{op: "est", id: 2},
				{op: "new", id: 2, why: "2/1 against 4/3"},
				{op: "est", id: 2},
				{op: "new", id: 2, why: "2/1 against 5/3"},
				{op: "est", id: 2},
				{op: "new", id: 1, why: "2/1 against 6/3 and 2/1: ties keep 1"},
				{op: "close", id: 3},
				{op: "new", id: 3, why: "3 has no active connection (its closing one is inactive): idle again"},
			},
		},
		{
			name:     "rr",
			sched:    RR,
			backends: weighted(1, 0, 5),
			steps: []step{
				{op: "pick", id: 1, why: "from the head: 1"},
				{op: "pick", id: 3, why: "2 is quiesced; weights do not matter to rr"},
				{op: "pick", id: 1, why: "wraps"},
				{op: "weights", w: []uint32{1, 1, 1, 1}},
				{op: "pick", id: 2, why: "after 1 (a weight change keeps rr's position)"},
				{op: "backends", bs: []Backend{weighted(1)[0], weighted(1, 1, 1)[2], weighted(1, 1, 1, 1)[3]}},
				{op: "pick", id: 3, why: "2, picked last, was removed: rr steps back to 1, so 3 follows"},
				{op: "pick", id: 4},
				{op: "pick", id: 1},
				{op: "weights", w: []uint32{0, 0}},
				{op: "pick", id: 0, why: "every weight 0"},
			},
		},
		{
			name:     "wrr weight change mid-cycle",
			sched:    WRR,
			backends: weighted(4, 3, 2),
			steps: []step{
				{op: "pick", id: 1, why: "cw 4"},
				{op: "pick", id: 1, why: "cw 3"},
				{op: "pick", id: 2, why: "cw 3"},
				{op: "weights", w: []uint32{4, 3, 4}},
				// dest_changed: back to the head, cw 3 stays (≤ mw 4, di 1).
				{op: "pick", id: 1, why: "cw 3 from the head"},
				{op: "pick", id: 2, why: "cw 3"},
				{op: "pick", id: 3, why: "cw 3: 3 now weighs 4"},
				{op: "pick", id: 1, why: "cw 2"},
				{op: "pick", id: 2},
				{op: "pick", id: 3},
				{op: "pick", id: 1, why: "cw 1"},
				{op: "pick", id: 2},
				{op: "pick", id: 3},
				{op: "pick", id: 1, why: "cw back to mw 4: 1 and 3"},
				{op: "pick", id: 3},
				{op: "weights", w: []uint32{6, 4, 2}},
				// di 2, mw 5; cw 4 → (4/2)·2+1 = 5.
				{op: "pick", id: 1, why: "cw 5: only 1 (6)"},
				{op: "pick", id: 1, why: "cw 3: 1 and 2 (4)"},
				{op: "pick", id: 2},
				{op: "pick", id: 1, why: "cw 1: all"},
				{op: "pick", id: 2},
				{op: "pick", id: 3},
			},
		},
		{
			name:     "lblc locality and overload",
			sched:    LBLC,
			backends: weighted(2, 2, 2),
			steps: []step{
				{op: "new", dst: "198.18.9.1", id: 1, why: "no entry: wlc, all idle, first"},
				{op: "est", id: 1},
				{op: "new", dst: "198.18.9.1", id: 1, why: "cached; 1 has 1 active ≤ weight 2"},
				{op: "est", id: 1},
				{op: "new", dst: "198.18.9.2", id: 2, why: "another destination: wlc, 1 is 512/2, 2 and 3 at 0"},
				{op: "est", id: 2},
				{op: "new", dst: "198.18.9.1", id: 1, why: "cached; 2 active = weight 2 is not over it"},
				{op: "est", id: 1},
				{op: "new", dst: "198.18.9.1", id: 3, why: "1 has 3 active > 2 and 3 is under half load (0·2 < 2): overloaded, wlc picks 3"},
				{op: "new", dst: "198.18.9.1", id: 3, why: "locality kept on the new real"},
				{op: "new", dst: "198.18.9.2", id: 2, why: "the other entry is untouched"},
				{op: "weights", w: []uint32{2, 0, 2}},
				{op: "new", dst: "198.18.9.2", id: 3, why: "2 quiesced: rescheduled by wlc, 1 is 768/2, 3 is 2/2 (two inactive)"},
			},
		},
		{
			name:     "lblc overload needs a half-loaded real",
			sched:    LBLC,
			backends: weighted(1, 1),
			steps: []step{
				{op: "new", dst: "198.18.9.1", id: 1},
				{op: "est", id: 1},
				{op: "new", dst: "198.18.9.1", id: 1, why: "1 active is not > weight 1"},
				{op: "est", id: 1},
				{op: "new", dst: "198.18.9.1", id: 2, why: "2 > 1 and 2 is idle (0 < 1/2): wlc moves to 2"},
				{op: "est", id: 2},
				{op: "new", dst: "198.18.9.1", id: 2},
				{op: "est", id: 2},
				{op: "new", dst: "198.18.9.1", id: 2, why: "2 has 2 > 1 but no real is under half load (2·2 < 1 is false for both): kept"},
			},
		},
		{
			name:     "lblc expiry",
			sched:    LBLC,
			backends: weighted(1, 1),
			steps: []step{
				{op: "new", dst: "198.18.9.1", id: 1},
				{op: "advance", d: 23 * time.Hour},
				{op: "pick", dst: "198.18.9.1", id: 1, why: "cached; wlc alone would pick 2 (1 has an inactive connection)"},
				{op: "advance", d: 23 * time.Hour},
				{op: "pick", dst: "198.18.9.1", id: 1, why: "the last pick renewed the entry"},
				{op: "advance", d: DefaultExpiration},
				{op: "pick", dst: "198.18.9.1", id: 2, why: "unused for the expiration: collected, wlc picks 2 (0 < 1)"},
			},
		},
		{
			name:     "lblcr set growth and shrink",
			sched:    LBLCR,
			backends: weighted(1, 1, 1),
			steps: []step{
				{op: "new", dst: "198.18.9.1", id: 1, set: []uint32{1}, why: "no entry: wlc, first"},
				{op: "est", id: 1},
				{op: "new", dst: "198.18.9.1", id: 1, why: "set min 1 has 1 active, not > 1"},
				{op: "est", id: 1},
				{op: "new", dst: "198.18.9.1", id: 2, set: []uint32{2, 1}, why: "1 overloaded (2 > 1, 2 idle): wlc picks 2, which joins the set at its head"},
				{op: "est", id: 2},
				{op: "new", dst: "198.18.9.1", id: 2, why: "set min: 2 (257) < 1 (512)"},
				{op: "est", id: 2},
				{op: "new", dst: "198.18.9.1", id: 3, set: []uint32{3, 2, 1}, why: "2 and 1 tie at 512, 2 first (newest) and overloaded: wlc picks 3, the set grows"},
				{op: "est", id: 3},
				{op: "new", dst: "198.18.9.1", id: 3, set: []uint32{3, 2, 1}, why: "set min 3 (256), not overloaded"},
				{op: "advance", d: 12 * time.Hour},
				{op: "pick", dst: "198.18.9.1", id: 3, set: []uint32{3, 2, 1}, why: "renews last use; the set changed only 12 h ago"},
				{op: "advance", d: 12*time.Hour + time.Second},
				{op: "pick", dst: "198.18.9.1", id: 3, set: []uint32{3, 1}, why: "set unchanged for > 24 h: the most loaded leaves (2 and 1 tie at 512, 2 first); 3 (257) is still least"},
				{op: "backends", bs: weighted(1, 1, 1)[:2]},
				{op: "new", dst: "198.18.9.1", id: 1, set: []uint32{3, 1}, why: "3 removed: set min over listed members is 1; it has 2 > 1 active but no real is under half load, so it stays"},
			},
		},
		{
			name:     "lblcr bounded set, as xlb's data plane",
			sched:    LBLCR,
			backends: weighted(1, 1, 1),
			bound:    2,
			steps: []step{
				{op: "new", dst: "198.18.9.1", id: 1, set: []uint32{1}},
				{op: "est", id: 1},
				{op: "new", dst: "198.18.9.1", id: 1},
				{op: "est", id: 1},
				{op: "new", dst: "198.18.9.1", id: 2, set: []uint32{2, 1}, why: "1 overloaded (2 > 1, 3 idle): wlc picks 2"},
				{op: "est", id: 2},
				{op: "new", dst: "198.18.9.1", id: 2, why: "set min 2 (257) < 1 (512)"},
				{op: "est", id: 2},
				{op: "new", dst: "198.18.9.1", id: 3, set: []uint32{3, 1}, why: "2 overloaded: wlc picks 3; the set is full, and its most loaded (2 and 1 tie at 512, 2 first) makes room"},
				{op: "backends", bs: weighted(1, 1, 1)[1:]},
				{op: "new", dst: "198.18.9.1", id: 3, set: []uint32{3}, why: "1 left the service: it leaves the set at once"},
			},
		},
		{
			name:     "lblcr shrink sooner than the expiration",
			sched:    LBLCR,
			backends: weighted(1, 1),
			shrink:   6 * time.Minute,
			steps: []step{
				{op: "new", dst: "198.18.9.1", id: 1, set: []uint32{1}},
				{op: "est", id: 1},
				{op: "new", dst: "198.18.9.1", id: 1},
				{op: "est", id: 1},
				{op: "new", dst: "198.18.9.1", id: 2, set: []uint32{2, 1}, why: "1 overloaded (2 > 1, 2 idle): 2 joins"},
				{op: "advance", d: 5 * time.Minute},
				{op: "pick", dst: "198.18.9.1", id: 2, set: []uint32{2, 1}, why: "changed 5 minutes ago: kept whole"},
				{op: "advance", d: time.Minute + time.Second},
				{op: "pick", dst: "198.18.9.1", id: 2, set: []uint32{2}, why: "unchanged for over 6 minutes: the most loaded (1, 512) leaves"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mustNew(t, tc.sched, tc.backends)
			m.SetBound(tc.bound)
			m.SetShrink(tc.shrink)
			run(t, m, tc.steps)
		})
	}
}

// randFlow returns a random TCP or UDP flow to one of a few VIPs (lblc,
// lblcr and dh key on the destination).
func randFlow(rnd *rand.Rand) Flow {
	v6 := rnd.IntN(2) == 0
	vip := netip.AddrFrom4([4]byte{198, 18, 100, byte(rnd.IntN(8))})
	if v6 {
		vip = netip.MustParseAddr(fmt.Sprintf("2001:db8:100::%d", rnd.IntN(8)))
	}
	return Flow{
		Src:   netip.AddrPortFrom(randAddr(rnd, v6), uint16(1024+rnd.IntN(60000))),
		Dst:   netip.AddrPortFrom(vip, 80),
		Proto: []uint8{6, 17}[rnd.IntN(2)],
	}
}

func TestNoBackend(t *testing.T) {
	for _, name := range Names {
		for _, bs := range [][]Backend{nil, weighted(0, 0, 0)} {
			t.Run(fmt.Sprintf("%s %d backends", name, len(bs)), func(t *testing.T) {
				m := mustNew(t, name, bs)
				rnd := rand.New(rand.NewPCG(17, 18))
				for range 100 {
					if id, ok := m.Pick(randFlow(rnd)); ok {
						t.Fatalf("Pick = %d, true; want no real", id)
					}
				}
			})
		}
	}
}

// TestWeightZeroNeverPicked drives every scheduler with random flows and
// connection churn: quiesced reals must never be picked, even when they are
// the least loaded or cached by lblc/lblcr from before the quiesce.
func TestWeightZeroNeverPicked(t *testing.T) {
	for _, name := range Names {
		t.Run(name, func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(19, 20))
			m := mustNew(t, name, weighted(1, 2, 1, 3))
			var open []uint32
			churn := func(steps int, allowed func(uint32) bool) {
				for range steps {
					id, ok := m.Pick(randFlow(rnd))
					if !ok {
						t.Fatalf("Pick found no real")
					}
					if !allowed(id) {
						t.Fatalf("picked id %d, quiesced (weights %s)", id, m.describe())
					}
					if err := m.Connect(id); err != nil {
						t.Fatal(err)
					}
					if rnd.IntN(2) == 0 {
						if err := m.Establish(id); err != nil {
							t.Fatal(err)
						}
						open = append(open, id)
					}
					if len(open) > 0 && rnd.IntN(3) == 0 {
						i := rnd.IntN(len(open))
						if err := m.Close(open[i]); err != nil {
							t.Fatal(err)
						}
						open = append(open[:i], open[i+1:]...)
					}
				}
			}
			churn(500, func(uint32) bool { return true }) // build lblc entries on every real
			if err := m.Update(weighted(0, 2, 0, 3)); err != nil {
				t.Fatal(err)
			}
			churn(2000, func(id uint32) bool { return id == 2 || id == 4 })
		})
	}
}

func TestMHFollowsFlowHash(t *testing.T) {
	bs := weighted(1, 1, 1, 1, 1)
	m := mustNew(t, MH, bs)
	table, err := HashTable(bs, MaxSequenceLen)
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(21, 22))
	for range 1000 {
		f := randFlow(rnd)
		id, ok := m.Pick(f)
		if want := table[Slot(FlowHash(f), uint32(len(table)))]; !ok || id != want {
			t.Fatalf("Pick(%v) = %d, %v; want %d from the table", f, id, ok, want)
		}
	}
}

func TestModelErrors(t *testing.T) {
	if _, err := New("rrr", nil); err == nil || !strings.Contains(err.Error(), `scheduler "rrr": unknown`) {
		t.Errorf(`New("rrr") error = %v, want unknown scheduler`, err)
	}
	if _, err := New(WLC, []Backend{{ID: 1, Key: "a", Weight: 1}, {ID: 1, Key: "b", Weight: 1}}); err == nil {
		t.Error("New with duplicate ids succeeded")
	}
	m := mustNew(t, WLC, weighted(1, 1))
	tests := []struct {
		name    string
		do      func() error
		wantErr string
	}{
		{"establish idle", func() error { return m.Establish(1) }, "no inactive connection"},
		{"close idle", func() error { return m.Close(1) }, "no active connection"},
		{"expire idle", func() error { return m.Expire(2) }, "no inactive connection"},
		{"unknown", func() error { return m.Connect(9) }, "id 9: unknown real"},
		{"removed", func() error {
			if err := m.Update(weighted(1)); err != nil {
				return err
			}
			return m.Connect(2)
		}, "removed from the service"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
	if _, _, err := m.Conns(9); !errors.Is(err, ErrUnknownReal) {
		t.Errorf("Conns(9) error = %v, want ErrUnknownReal", err)
	}
}

// TestCountsSurviveUpdate: a removed real keeps its connections (they still
// exist in the kernel's trash) and they count again when it returns.
func TestCountsSurviveUpdate(t *testing.T) {
	m := mustNew(t, LC, weighted(1, 1))
	run(t, m, []step{
		{op: "new", id: 1},
		{op: "est", id: 1},
		{op: "weights", w: []uint32{0, 1}},
		{op: "weights", w: []uint32{1, 1}},
		{op: "new", id: 2, why: "1 came back with its active connection: 256 against 0"},
	})
	type conns struct{ Active, Inactive int64 }
	var got []conns
	for _, id := range []uint32{1, 2} {
		a, i, err := m.Conns(id)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, conns{a, i})
	}
	if diff := cmp.Diff([]conns{{1, 0}, {0, 1}}, got); diff != "" {
		t.Errorf("conns (-want +got):\n%s", diff)
	}
}

func BenchmarkModelPick(b *testing.B) {
	for _, name := range []string{WRR, WLC, LBLCR, SH} {
		b.Run(name, func(b *testing.B) {
			m := mustNew(b, name, reals(100, 10))
			rnd := rand.New(rand.NewPCG(23, 24))
			flows := make([]Flow, 1024)
			for i := range flows {
				flows[i] = randFlow(rnd)
			}
			i := 0
			for b.Loop() {
				m.Pick(flows[i%len(flows)])
				i++
			}
		})
	}
}
