package maglev

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// reals returns n backends with ids 1..n, lab keys and the given weight.
func reals(n int, weight uint32) []Backend {
	bs := make([]Backend, n)
	for i := range bs {
		bs[i] = Backend{ID: uint32(i + 1), Key: fmt.Sprintf("198.18.0.%d:80", i+11), Weight: weight}
	}
	return bs
}

// weighted returns backends with ids 1..len(weights) and the given weights.
func weighted(weights ...uint32) []Backend {
	bs := reals(len(weights), 0)
	for i, w := range weights {
		bs[i].Weight = w
	}
	return bs
}

// counts returns how many slots of table hold each id.
func counts(table []uint32) map[uint32]int {
	c := make(map[uint32]int)
	for _, id := range table {
		c[id]++
	}
	return c
}

// moved returns the fraction of slots whose id differs between a and b.
func moved(a, b []uint32) float64 {
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return float64(n) / float64(len(a))
}

func mustBuild(t testing.TB, bs []Backend, size uint32) []uint32 {
	t.Helper()
	table, err := Build(bs, size)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return table
}

func TestIsPrime(t *testing.T) {
	tests := []struct {
		n    uint32
		want bool
	}{
		{0, false},
		{1, false},
		{2, true},
		{3, true},
		{4, false},
		{61, true},
		{65536, false},
		{65537, true},
		{561, false},        // Carmichael number
		{25326001, false},   // strong pseudoprime to bases 2, 3, 5
		{3215031751, false}, // strong pseudoprime to bases 2, 3, 5, 7
		{4294967291, true},  // largest uint32 prime
		{4294967295, false},
		{65521 * 65521, false}, // square of the largest 16-bit prime
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			if got := IsPrime(tc.n); got != tc.want {
				t.Errorf("IsPrime(%d) = %v, want %v", tc.n, got, tc.want)
			}
		})
	}
}

// TestIsPrimeTrialDivision cross-checks IsPrime against the definition for
// every n below 200000 and around the top of uint32.
func TestIsPrimeTrialDivision(t *testing.T) {
	isPrime := func(n uint32) bool {
		if n < 2 {
			return false
		}
		for d := uint64(2); d*d <= uint64(n); d++ {
			if uint64(n)%d == 0 {
				return false
			}
		}
		return true
	}
	check := func(n uint32) {
		if got, want := IsPrime(n), isPrime(n); got != want {
			t.Fatalf("IsPrime(%d) = %v, want %v", n, got, want)
		}
	}
	for n := range uint32(200000) {
		check(n)
	}
	for n := uint32(math.MaxUint32); n > math.MaxUint32-2000; n-- {
		check(n)
	}
}

func TestShares(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	hundred := make([]uint32, 100)
	for i := range hundred {
		hundred[i] = 1 + rnd.Uint32N(1000)
	}
	tests := []struct {
		name     string
		backends []Backend
	}{
		{"equal", reals(10, 100)},
		{"3:2:1", weighted(3, 2, 1)},
		{"1:100", weighted(1, 100)},
		{"one", reals(1, 7)},
		{"100 random", weighted(hundred...)},
		{"max weights", weighted(math.MaxUint32, 1, math.MaxUint32/3)},
		{"with weight 0", weighted(5, 0, 5, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			table := mustBuild(t, tc.backends, DefaultSize)
			var total float64
			wantShare := make(map[uint32]float64)
			for _, b := range tc.backends {
				total += float64(b.Weight)
			}
			for _, b := range tc.backends {
				if b.Weight > 0 {
					wantShare[b.ID] = float64(b.Weight) / total
				}
			}
			got := counts(table)
			for id, c := range got {
				if _, ok := wantShare[id]; !ok {
					t.Errorf("id %d holds %d slots, want none (not a weighted backend)", id, c)
				}
			}
			for id, want := range wantShare {
				// Proportional shares leave out a backend whose share is
				// under one slot; any larger one must be present.
				if want*float64(len(table)) >= 1 && got[id] == 0 {
					t.Errorf("id %d holds no slot, want about %.1f", id, want*float64(len(table)))
				}
			}
			worst := 0.0
			for id, want := range wantShare {
				share := float64(got[id]) / float64(len(table))
				dev := math.Abs(share - want)
				worst = max(worst, dev)
				if dev > 0.01 {
					t.Errorf("id %d: share %.4f, want %.4f ± 0.01", id, share, want)
				}
			}
			t.Logf("largest share deviation %.5f percentage points", worst*100)
		})
	}
}

func sortedKeys[V any](m map[uint32]V) []uint32 {
	keys := make([]uint32, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestDisruption(t *testing.T) {
	ten := reals(10, 100)
	full := mustBuild(t, ten, DefaultSize)

	t.Run("remove one", func(t *testing.T) {
		worst := 0.0
		for i := range ten {
			less := slices.Delete(slices.Clone(ten), i, i+1)
			got := moved(full, mustBuild(t, less, DefaultSize))
			worst = max(worst, got)
			// Moving and adding back are the same pair of tables.
			if got > 0.12 {
				t.Errorf("removing id %d moved %.2f%% of slots, want ≤ 12%%", ten[i].ID, got*100)
			}
		}
		t.Logf("removing one of 10 moved at most %.2f%% of slots (ideal 10%%)", worst*100)
	})

	t.Run("add one", func(t *testing.T) {
		eleven := reals(11, 100)
		got := moved(full, mustBuild(t, eleven, DefaultSize))
		if got > 0.12 {
			t.Errorf("adding an 11th moved %.2f%% of slots, want ≤ 12%%", got*100)
		}
		t.Logf("adding an 11th to 10 moved %.2f%% of slots (ideal 9.09%%)", got*100)
	})

	t.Run("change one weight", func(t *testing.T) {
		tests := []struct {
			name   string
			weight uint32
		}{
			{"drain to 0", 0},
			{"halve", 50},
			{"double", 200},
			{"+10%", 110},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				changed := slices.Clone(ten)
				changed[3].Weight = tc.weight
				table := mustBuild(t, changed, DefaultSize)
				got := moved(full, table)
				// Minimum: the change in the backend's own share.
				ideal := math.Abs(float64(tc.weight)/float64(900+tc.weight) - 0.1)
				// The weighted turn pattern shifts a little for everyone;
				// allow up to three times the minimum plus 2 points.
				if limit := 3*ideal + 0.02; got > limit {
					t.Errorf("weight 100 -> %d moved %.2f%% of slots, want ≤ %.2f%%", tc.weight, got*100, limit*100)
				}
				t.Logf("weight 100 -> %d on one of 10 moved %.2f%% of slots (ideal %.2f%%)", tc.weight, got*100, ideal*100)
			})
		}
	})
}

func TestDeterministic(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	bs := reals(50, 0)
	for i := range bs {
		bs[i].Weight = rnd.Uint32N(10) // some weight 0
	}
	want := mustBuild(t, bs, DefaultSize)
	for i := range 5 {
		t.Run(fmt.Sprintf("shuffle %d", i), func(t *testing.T) {
			shuffled := slices.Clone(bs)
			rnd.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
			if diff := cmp.Diff(want, mustBuild(t, shuffled, DefaultSize)); diff != "" {
				t.Errorf("table after shuffle (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("repeat", func(t *testing.T) {
		if diff := cmp.Diff(want, mustBuild(t, bs, DefaultSize)); diff != "" {
			t.Errorf("second Build (-want +got):\n%s", diff)
		}
	})
	t.Run("input untouched", func(t *testing.T) {
		rev := slices.Clone(bs)
		slices.Reverse(rev)
		before := slices.Clone(rev)
		mustBuild(t, rev, DefaultSize)
		if diff := cmp.Diff(before, rev); diff != "" {
			t.Errorf("Build changed its input (-want +got):\n%s", diff)
		}
	})
}

// TestGolden pins the hashes and one table. Every node in a cluster, and
// every xlb version in a rolling upgrade, must build the same table from the
// same reals; if this test fails, the change reshuffles flows in production.
func TestGolden(t *testing.T) {
	type perm struct {
		Key          string
		Offset, Skip uint64
	}
	var got []perm
	for _, key := range []string{"198.18.0.11:80", "198.18.0.12:80", "[2001:db8::1]:443"} {
		o, s := permutation(key, DefaultSize)
		got = append(got, perm{key, o, s})
	}
	want := []perm{
		{"198.18.0.11:80", 12502, 53390},
		{"198.18.0.12:80", 21752, 37471},
		{"[2001:db8::1]:443", 58232, 17497},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("permutations (-want +got):\n%s", diff)
	}

	table := mustBuild(t, weighted(3, 2, 1, 5), 13)
	if diff := cmp.Diff([]uint32{4, 1, 4, 1, 1, 1, 2, 4, 2, 4, 3, 4, 4}, table); diff != "" {
		t.Errorf("table of 13 (-want +got):\n%s", diff)
	}

	big := mustBuild(t, reals(10, 100), DefaultSize)
	h := fnv.New64a()
	for _, id := range big {
		fmt.Fprintf(h, "%d,", id)
	}
	if got, want := h.Sum64(), uint64(0xd82d7d7d1515fae1); got != want {
		t.Errorf("digest of the 10-real table = %#x, want %#x", got, want)
	}
}

func TestEmpty(t *testing.T) {
	tests := []struct {
		name     string
		backends []Backend
	}{
		{"nil", nil},
		{"all weight 0", reals(3, 0)},
		{"id 0 weight 0", []Backend{{ID: 0, Key: "198.18.0.11:80"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mustBuild(t, tc.backends, 101)
			if diff := cmp.Diff(make([]uint32, 101), got); diff != "" {
				t.Errorf("table (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWeightZeroAbsent(t *testing.T) {
	bs := weighted(4, 0, 1, 0, 9)
	table := mustBuild(t, bs, DefaultSize)
	got := counts(table)
	for _, b := range bs {
		if b.Weight == 0 && got[b.ID] != 0 {
			t.Errorf("id %d with weight 0 holds %d slots", b.ID, got[b.ID])
		}
	}
	if diff := cmp.Diff([]uint32{1, 3, 5}, sortedKeys(got)); diff != "" {
		t.Errorf("ids in table (-want +got):\n%s", diff)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name     string
		backends []Backend
		size     uint32
		wantErr  string
	}{
		{"size 0", reals(2, 1), 0, "size: want a prime, got 0"},
		{"size 1", reals(2, 1), 1, "size: want a prime, got 1"},
		{"size not prime", reals(2, 1), 65536, "size: want a prime, got 65536"},
		{"size too large", reals(2, 1), 4294967291, "size: want at most"},
		{"size 0 no backends", nil, 0, "size: want a prime"},
		{"duplicate id", []Backend{
			{ID: 1, Key: "198.18.0.11:80", Weight: 1},
			{ID: 1, Key: "198.18.0.12:80", Weight: 1},
		}, 13, `id 1: already used by "198.18.0.11:80"`},
		{"duplicate id weight 0", []Backend{
			{ID: 1, Key: "198.18.0.11:80", Weight: 1},
			{ID: 1, Key: "198.18.0.12:80"},
		}, 13, "id 1: already used"},
		{"id 0 weighted", []Backend{{ID: 0, Key: "198.18.0.11:80", Weight: 1}}, 13, "id: want non-zero"},
		{"duplicate key", []Backend{
			{ID: 1, Key: "198.18.0.11:80", Weight: 1},
			{ID: 2, Key: "198.18.0.11:80", Weight: 2},
		}, 13, `key "198.18.0.11:80": duplicate`},
		{"empty key weighted", []Backend{{ID: 1, Key: "", Weight: 1}}, 13, "key: want non-empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			table, err := Build(tc.backends, tc.size)
			if err == nil {
				t.Fatalf("Build succeeded with %d slots, want error containing %q", len(table), tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Build error %q, want it to contain %q", err, tc.wantErr)
			}
			if table != nil {
				t.Errorf("Build returned a table of %d slots with its error", len(table))
			}
		})
	}
}

// TestSmallSizes checks that tables smaller than the number of backends fill
// completely and that the fill ends for every small prime.
func TestSmallSizes(t *testing.T) {
	for _, size := range []uint32{2, 3, 5, 7, 11, 13, 101} {
		for _, n := range []int{1, 2, 10, 150} {
			t.Run(fmt.Sprintf("%d slots %d backends", size, n), func(t *testing.T) {
				table := mustBuild(t, reals(n, 1), size)
				for i, id := range table {
					if id < 1 || id > uint32(n) {
						t.Fatalf("slot %d holds id %d, want 1..%d", i, id, n)
					}
				}
				if n <= int(size) {
					// Equal weights: every backend gets size/n slots, ±1.
					for id, c := range counts(table) {
						if lo, hi := int(size)/n, (int(size)+n-1)/n; c < lo || c > hi {
							t.Errorf("id %d holds %d slots, want %d..%d", id, c, lo, hi)
						}
					}
				}
			})
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	rnd := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{10, 100} {
		equal := reals(n, 100)
		random := reals(n, 0)
		for i := range random {
			random[i].Weight = 1 + rnd.Uint32N(1000)
		}
		// One heavy real among light ones: the heavy one takes a turn
		// every round, so the fill runs about size rounds over all n.
		skewed := reals(n, 1)
		skewed[0].Weight = 1000
		for _, bc := range []struct {
			name     string
			backends []Backend
		}{
			{fmt.Sprintf("%d equal", n), equal},
			{fmt.Sprintf("%d random weights", n), random},
			{fmt.Sprintf("%d skewed 1000:1", n), skewed},
		} {
			b.Run(bc.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Build(bc.backends, DefaultSize); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestDisruptionBySize bounds what the operator guide's "Choosing
// --maglev-size" table says a smaller table costs in consistency: for
// each size, the most slots removing one of 10 (and of 16) equal reals
// moves, over every real removed (ideal 10 % and 6.25 %), and the busiest
// real's slots over the idlest's with 10.
func TestDisruptionBySize(t *testing.T) {
	for _, tc := range []struct {
		size          uint32
		of10, of16    float64 // most moved, a fraction of the slots
		busiestIdlest float64
	}{
		{DefaultSize, 0.105, 0.068, 1.001},
		{16381, 0.110, 0.072, 1.001},
		{4093, 0.118, 0.084, 1.003},
		{1021, 0.133, 0.099, 1.010},
	} {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			for _, c := range []struct {
				n     int
				limit float64
			}{{10, tc.of10}, {16, tc.of16}} {
				n, limit := c.n, c.limit
				all := reals(n, 100)
				full := mustBuild(t, all, tc.size)
				worst := 0.0
				for i := range all {
					less := slices.Delete(slices.Clone(all), i, i+1)
					worst = max(worst, moved(full, mustBuild(t, less, tc.size)))
				}
				if worst > limit {
					t.Errorf("removing one of %d moved up to %.2f%% of slots, want ≤ %.1f%%", n, worst*100, limit*100)
				}
				t.Logf("removing one of %d moved up to %.2f%% of slots (ideal %.2f%%)", n, worst*100, 100/float64(n))
			}
			c := counts(mustBuild(t, reals(10, 100), tc.size))
			lo, hi := int(tc.size), 0
			for _, k := range c {
				lo, hi = min(lo, k), max(hi, k)
			}
			if ratio := float64(hi) / float64(lo); ratio > tc.busiestIdlest {
				t.Errorf("busiest real holds %d slots, idlest %d: %.4f, want ≤ %.3f", hi, lo, ratio, tc.busiestIdlest)
			}
			t.Logf("busiest/idlest of 10: %d/%d", hi, lo)
		})
	}
}
