package controlplane

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"xlb/maps"
)

// localityFake is a fakeDataplane with a locality table (one entry per
// service: its VIP's) and settable connection counts.
type localityFake struct {
	*fakeDataplane
	locs    map[uint32]maps.Locality
	counts  map[uint32][2]uint64 // active, inactive
	deleted []uint32
}

func (f *localityFake) LookupLocality(id uint32, _ netip.Addr) (maps.Locality, bool, error) {
	l, ok := f.locs[id]
	return l, ok, nil
}

func (f *localityFake) DeleteLocalities(id uint32) (int, error) {
	f.deleted = append(f.deleted, id)
	delete(f.locs, id)
	return 1, nil
}

func (f *localityFake) LocalityExpiration() time.Duration { return time.Hour }

func (f *localityFake) RealConnCounts(id uint32) (uint64, uint64, error) {
	c := f.counts[id]
	return c[0], c[1], nil
}

// newLocalityFixture reconciles threeReals under lbAlgo (real ids 1, 2, 3
// are .11 of weight 3, .12 of 2, .13 of 1) on a localityFake.
func newLocalityFixture(t *testing.T, lbAlgo string) (*localityFake, *XDP, *Reconciler) {
	t.Helper()
	f := newXDPFixture(t, threeReals)
	dp := &localityFake{fakeDataplane: f.dp, locs: map[uint32]maps.Locality{}, counts: map[uint32][2]uint64{}}
	x, err := NewXDP(dp, f.nb, smallTable, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	rec := NewReconciler(mustParse(t, strings.Replace(threeReals, "lb_algo mh", "lb_algo "+lbAlgo, 1)), x, discardLogger())
	if err := rec.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dp, x, rec
}

// TestExplainLocality checks what explain says of a new flow to an lblc or
// lblcr service: the destination's entry decides (a table hit) unless its
// real is overloaded, expired or absent, when wlc does.
func TestExplainLocality(t *testing.T) {
	now := maps.MonotonicNow()
	entry := func(ids ...uint32) *maps.Locality {
		l := &maps.Locality{LastUse: now, LastMod: now}
		for _, id := range ids {
			l.Reals = append(l.Reals, maps.LocalityReal{ID: id})
		}
		return l
	}
	for _, tc := range []struct {
		name      string
		lbAlgo    string
		loc       *maps.Locality
		counts    map[uint32][2]uint64
		conn      *maps.Conn
		wantReal  string
		wantBy    string
		wantNotes string
	}{
		{name: "no entry", lbAlgo: "lblc", wantReal: "198.18.0.11:80", wantBy: "scheduler", wantNotes: "has no entry"},
		{name: "hit", lbAlgo: "lblc", loc: entry(2), counts: map[uint32][2]uint64{2: {2, 9}},
			wantReal: "198.18.0.12:80", wantBy: "locality table", wantNotes: "2 active, weight 2: not overloaded"},
		{name: "overloaded", lbAlgo: "lblc", loc: entry(2), counts: map[uint32][2]uint64{2: {3, 0}},
			wantReal: "198.18.0.11:80", wantBy: "scheduler", wantNotes: "overloaded (3 active > weight 2"},
		{name: "over weight, nobody under half", lbAlgo: "lblc", loc: entry(2), counts: map[uint32][2]uint64{1: {2, 0}, 2: {3, 0}, 3: {1, 0}},
			wantReal: "198.18.0.12:80", wantBy: "locality table"},
		{name: "expired", lbAlgo: "lblc", loc: &maps.Locality{Reals: []maps.LocalityReal{{ID: 2}}, LastUse: now - 2*time.Hour},
			wantReal: "198.18.0.11:80", wantBy: "scheduler", wantNotes: "past the 1h0m0s expiration"},
		{name: "tracked flow", lbAlgo: "lblc", loc: entry(2), conn: &maps.Conn{RealID: 3, State: maps.ConnEstablished, LastSeen: now},
			wantReal: "198.18.0.13:80", wantBy: "connection table"},
		{name: "lblcr set least", lbAlgo: "lblcr", loc: entry(3, 1), counts: map[uint32][2]uint64{1: {1, 0}, 3: {0, 5}},
			wantReal: "198.18.0.13:80", wantBy: "locality table"},
		{name: "lblcr all overloaded", lbAlgo: "lblcr", loc: entry(3), counts: map[uint32][2]uint64{3: {2, 0}},
			wantReal: "198.18.0.11:80", wantBy: "scheduler", wantNotes: "joins the entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dp, _, rec := newLocalityFixture(t, tc.lbAlgo)
			if tc.loc != nil {
				dp.locs[1] = *tc.loc
			}
			if tc.counts != nil {
				dp.counts = tc.counts
			}
			client := netip.MustParseAddrPort("198.18.1.10:40000")
			if tc.conn != nil {
				dp.conns = map[maps.Flow]maps.Conn{{Src: client, Dst: netip.MustParseAddrPort("198.18.0.100:80"), Proto: 6}: *tc.conn}
			}
			e, err := rec.Explain(MustParseServiceKey("198.18.0.100:80/tcp"), client)
			if err != nil {
				t.Fatal(err)
			}
			if e.Real.String() != tc.wantReal || e.DecidedBy != tc.wantBy || e.Scheduler != tc.lbAlgo {
				t.Errorf("Explain = real %s by %q (%s), want %s by %q (%s); notes %q", e.Real, e.DecidedBy, e.Scheduler, tc.wantReal, tc.wantBy, tc.lbAlgo, e.Notes)
			}
			if notes := strings.Join(e.Notes, "; "); !strings.Contains(notes, tc.wantNotes) {
				t.Errorf("notes %q do not mention %q", notes, tc.wantNotes)
			}
		})
	}
}

// TestXDPLocalityForgotten checks that removing an lblc service, or moving
// it to another scheduler, clears its locality entries.
func TestXDPLocalityForgotten(t *testing.T) {
	dp, _, rec := newLocalityFixture(t, "lblcr")
	if got := dp.services[maps.ServiceKey{Addr: netip.MustParseAddr("198.18.0.100"), Port: 80, Proto: 6}].Scheduler; got != maps.SchedLBLCR {
		t.Fatalf("service scheduler = %d, want lblcr (%d)", got, maps.SchedLBLCR)
	}
	if err := rec.SetConfig(context.Background(), mustParse(t, threeReals)); err != nil { // mh
		t.Fatal(err)
	}
	if err := rec.SetConfig(context.Background(), mustParse(t, strings.Replace(threeReals, "lb_algo mh", "lb_algo lblc", 1))); err != nil {
		t.Fatal(err)
	}
	if err := rec.SetConfig(context.Background(), mustParse(t, "")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]uint32{1, 1}, dp.deleted); diff != "" {
		t.Errorf("DeleteLocalities calls (-want +got):\n%s", diff)
	}
}
