package sched

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// reals returns n backends with ids 1..n, lab keys in id order and the
// given weight.
func reals(n int, weight uint32) []Backend {
	bs := make([]Backend, n)
	for i := range bs {
		bs[i] = Backend{ID: uint32(i + 1), Key: fmt.Sprintf("198.18.%d.%d:80", (i+11)/256, (i+11)%256), Weight: weight}
	}
	return bs
}

// weighted returns backends with ids 1..len(weights) and the given weights;
// their Key order is their id order for up to 245 backends.
func weighted(weights ...uint32) []Backend {
	bs := reals(len(weights), 0)
	for i, w := range weights {
		bs[i].Weight = w
	}
	return bs
}

func reversed(bs []Backend) []Backend {
	r := slices.Clone(bs)
	slices.Reverse(r)
	return r
}

func mustWRR(t testing.TB, bs []Backend) []uint32 {
	t.Helper()
	seq, err := WRRSequence(bs)
	if err != nil {
		t.Fatalf("WRRSequence: %v", err)
	}
	return seq
}

func counts(seq []uint32) map[uint32]int {
	c := make(map[uint32]int)
	for _, id := range seq {
		c[id]++
	}
	return c
}

// TestWRRSequence checks the kernel's pass order on hand-computed cycles.
func TestWRRSequence(t *testing.T) {
	tests := []struct {
		name     string
		backends []Backend
		want     []uint32
	}{
		// mw 4: cw 4 picks 1; cw 3 picks 1, 2; cw 2 and cw 1 pick all.
		{"4:3:2", weighted(4, 3, 2), []uint32{1, 1, 2, 1, 2, 3, 1, 2, 3}},
		// cw 3 and 2 pick only 1; cw 1 picks both.
		{"3:1", weighted(3, 1), []uint32{1, 1, 1, 2}},
		// gcd 2: di 2, mw 3; cw 3 picks 1, cw 1 picks both.
		{"4:2 reduces to 2:1", weighted(4, 2), []uint32{1, 1, 2}},
		{"equal", weighted(5, 5, 5), []uint32{1, 2, 3}},
		{"weight 0 skipped", weighted(2, 0, 1), []uint32{1, 1, 3}},
		// Key order decides, not slice order.
		{"reversed input", reversed(weighted(4, 3, 2)), []uint32{1, 1, 2, 1, 2, 3, 1, 2, 3}},
		{"one", weighted(7), []uint32{1}},
		{"none", nil, []uint32{}},
		{"all weight 0", weighted(0, 0), []uint32{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, mustWRR(t, tc.backends)); diff != "" {
				t.Errorf("sequence (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRRSequence(t *testing.T) {
	got, err := RRSequence(weighted(3, 1, 0, 7))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]uint32{1, 2, 4}, got); diff != "" {
		t.Errorf("rr sequence (-want +got):\n%s", diff)
	}
}

// TestWRRSequenceIsModel checks the builder against the kernel state
// machine in Model: with backends in Key order, wrr picks walk the sequence
// cycle after cycle.
func TestWRRSequenceIsModel(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 10))
	for i := range 50 {
		n := 1 + rnd.IntN(12)
		ws := make([]uint32, n)
		for j := range ws {
			ws[j] = rnd.Uint32N(20) * []uint32{1, 2, 3, 6}[rnd.IntN(4)] // gcds > 1, some 0
		}
		bs := weighted(ws...)
		seq := mustWRR(t, bs)
		m := mustNew(t, WRR, Sorted(bs))
		var got []uint32
		for range 3 * len(seq) {
			id, ok := m.Pick(Flow{})
			if !ok {
				break
			}
			got = append(got, id)
		}
		want := slices.Concat(seq, seq, seq)
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []uint32) bool { return slices.Equal(a, b) })); diff != "" {
			t.Errorf("case %d weights %v: Model picks vs 3 cycles of WRRSequence (-want +got):\n%s", i, ws, diff)
		}
	}
}

// shareBound is WRRSequence's documented share error for n scaled reals.
func shareBound(n int) float64 {
	return float64(n+1) / float64(MaxSequenceLen-2*n)
}

// TestWRRScaling covers weights whose exact cycle would exceed
// MaxSequenceLen: the sequence fits, every weighted real keeps a slot and
// shares stay within the documented bound.
func TestWRRScaling(t *testing.T) {
	rnd := rand.New(rand.NewPCG(11, 12))
	random := make([]uint32, 100)
	for i := range random {
		random[i] = 1 + rnd.Uint32N(65535)
	}
	many := make([]uint32, 5000)
	for i := range many {
		many[i] = 1 + rnd.Uint32N(math.MaxUint32)
	}
	tests := []struct {
		name    string
		weights []uint32
	}{
		{"65535:1", []uint32{65535, 1}},
		{"65535:65534:3", []uint32{65535, 65534, 3}},
		{"max uint32", []uint32{math.MaxUint32, 1, math.MaxUint32 / 2}},
		{"100 random", random},
		{"5000 random huge", many},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bs := weighted(tc.weights...)
			for i := range bs {
				bs[i].Key = fmt.Sprintf("198.18.%d.%d:80", i/256, i%256) // unique beyond 245
			}
			seq := mustWRR(t, bs)
			if len(seq) > MaxSequenceLen {
				t.Fatalf("sequence has %d entries, want at most %d", len(seq), MaxSequenceLen)
			}
			var total float64
			for _, w := range tc.weights {
				total += float64(w)
			}
			got := counts(seq)
			worst := 0.0
			for _, b := range bs {
				if got[b.ID] == 0 {
					t.Fatalf("id %d (weight %d) has no slot", b.ID, b.Weight)
				}
				dev := math.Abs(float64(got[b.ID])/float64(len(seq)) - float64(b.Weight)/total)
				worst = max(worst, dev)
			}
			if bound := shareBound(len(bs)); worst > bound {
				t.Errorf("largest share error %.5f, want ≤ %.5f", worst, bound)
			}
			t.Logf("%d reals: cycle %d, largest share error %.4f%% (bound %.4f%%)", len(bs), len(seq), worst*100, shareBound(len(bs))*100)
		})
	}
}

// perCPU replays the data plane's plan: each CPU keeps its own position
// and takes seq[pos++ % len]. cpuOf says which CPU sees flow i.
func perCPU(seq []uint32, cpus, flows int, cpuOf func(i int) int) map[uint32]int {
	pos := make([]int, cpus)
	c := make(map[uint32]int)
	for i := range flows {
		cpu := cpuOf(i)
		c[seq[pos[cpu]%len(seq)]]++
		pos[cpu]++
	}
	return c
}

// maxPrefixDeviation returns, per id, the largest |count in seq[:p] −
// p·share| over all prefixes p: the most one CPU's partial cycle can be
// off.
func maxPrefixDeviation(seq []uint32) map[uint32]float64 {
	total := counts(seq)
	seen := make(map[uint32]int)
	dev := make(map[uint32]float64)
	for p := 1; p <= len(seq); p++ {
		seen[seq[p-1]]++
		for id, n := range total {
			d := math.Abs(float64(seen[id]) - float64(p)*float64(n)/float64(len(seq)))
			dev[id] = max(dev[id], d)
		}
	}
	return dev
}

// TestWRRPerCPU bounds the deviation of per-CPU positions from LVS's one
// global position: each CPU walks whole cycles plus a partial one, so over
// N flows on C CPUs a real's count is off by at most C times its largest
// prefix deviation, which is at most cycle/4; for C ≤ 4 the share is within
// ±cycle/N of its weight share.
func TestWRRPerCPU(t *testing.T) {
	const flows = 100000
	tests := []struct {
		name    string
		weights []uint32
		cpus    int
		cpuOf   func(rnd *rand.Rand) func(i int) int
		// within2 asks for every share within ±2 % of its weight share
		// (the 3:1 figure); the bounds apply to every row.
		within2 bool
	}{
		{"3:1 one cpu", []uint32{3, 1}, 1, func(*rand.Rand) func(int) int { return func(int) int { return 0 } }, true},
		{"3:1 two cpus alternating", []uint32{3, 1}, 2, func(*rand.Rand) func(int) int { return func(i int) int { return i % 2 } }, true},
		{"3:1 two cpus random", []uint32{3, 1}, 2, func(rnd *rand.Rand) func(int) int { return func(int) int { return rnd.IntN(2) } }, true},
		{"5:3:2:1 four cpus random", []uint32{5, 3, 2, 1}, 4, func(rnd *rand.Rand) func(int) int { return func(int) int { return rnd.IntN(4) } }, false},
		{"100:1 two cpus bursts", []uint32{100, 1}, 2, func(*rand.Rand) func(int) int { return func(i int) int { return (i / 37) % 2 } }, false},
		{"1000:999:1 two cpus alternating", []uint32{1000, 999, 1}, 2, func(*rand.Rand) func(int) int { return func(i int) int { return i % 2 } }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bs := weighted(tc.weights...)
			seq := mustWRR(t, bs)
			got := perCPU(seq, tc.cpus, flows, tc.cpuOf(rand.New(rand.NewPCG(13, 14))))
			prefix := maxPrefixDeviation(seq)
			var total float64
			for _, w := range tc.weights {
				total += float64(w)
			}
			loose := float64(len(seq)) / flows
			worst := 0.0
			for _, b := range bs {
				want := float64(b.Weight) / total
				dev := math.Abs(float64(got[b.ID])/flows - want)
				worst = max(worst, dev)
				if tight := float64(tc.cpus) * prefix[b.ID] / flows; dev > tight+1e-12 {
					t.Errorf("id %d: share off by %.6f, want ≤ %d·%.1f/%d = %.6f", b.ID, dev, tc.cpus, prefix[b.ID], flows, tight)
				}
				if dev > loose {
					t.Errorf("id %d: share off by %.6f, want ≤ cycle/N = %.6f", b.ID, dev, loose)
				}
				if tc.within2 && dev > 0.02*want {
					t.Errorf("id %d: share %.4f, want %.4f ± 2%%", b.ID, float64(got[b.ID])/flows, want)
				}
			}
			t.Logf("cycle %d, %d cpus, %d flows: largest share error %.5f (cycle/N %.5f)", len(seq), tc.cpus, flows, worst, loose)
		})
	}
}

func TestWRRErrors(t *testing.T) {
	tests := []struct {
		name     string
		backends []Backend
		wantErr  string
	}{
		{"duplicate id", []Backend{{ID: 1, Key: "a", Weight: 1}, {ID: 1, Key: "b", Weight: 1}}, `id 1: already used by "a"`},
		{"duplicate key", []Backend{{ID: 1, Key: "a", Weight: 1}, {ID: 2, Key: "a", Weight: 1}}, `key "a": duplicate`},
		{"id 0 weighted", []Backend{{ID: 0, Key: "a", Weight: 1}}, "id: want non-zero"},
		{"empty key weighted", []Backend{{ID: 1, Key: "", Weight: 1}}, "key: want non-empty"},
		{"too many", func() []Backend {
			bs := reals(MaxSequenceLen/4+1, 1)
			for i := range bs {
				bs[i].Key = fmt.Sprint(i)
			}
			return bs
		}(), "want at most 16384 of weight > 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seq, err := WRRSequence(tc.backends)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("WRRSequence = %v, %v; want error containing %q", seq, err, tc.wantErr)
			}
		})
	}
}

func BenchmarkWRRSequence(b *testing.B) {
	rnd := rand.New(rand.NewPCG(15, 16))
	for _, n := range []int{10, 100, 1000} {
		small := reals(n, 0) // cycle below the cap: no scaling
		large := reals(n, 0) // 16-bit weights: scaled
		for i := range small {
			small[i].Weight = 1 + rnd.Uint32N(10)
			large[i].Weight = 1 + rnd.Uint32N(65535)
		}
		for _, bc := range []struct {
			name     string
			backends []Backend
		}{
			{fmt.Sprintf("%d weights 1-10", n), small},
			{fmt.Sprintf("%d weights 1-65535", n), large},
		} {
			b.Run(bc.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := WRRSequence(bc.backends); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
