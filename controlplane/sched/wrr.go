package sched

import (
	"fmt"
	"slices"

	"xlb/controlplane/maglev"
)

// MaxSequenceLen is the longest sequence WRRSequence returns: as many slots
// as a default Maglev table, so the data plane can keep a service's
// sequence in the same per-service table map Maglev uses (256 KiB of ids).
const MaxSequenceLen = maglev.DefaultSize

// WRRSequence returns the cycle of real ids that LVS's wrr scheduler walks,
// one id per new flow, for backends taken in Key order. Backends of weight
// 0 never appear. With no backend of weight > 0 the sequence is empty.
//
// The kernel (ip_vs_wrr.c) keeps a current weight cw that starts at the
// largest weight and drops by the weights' gcd each time the scan passes
// the end of the list; a pass picks, in list order, every real whose weight
// is at least cw. Over one cycle each real is picked weight/gcd times, so
// the cycle is sum(weight)/gcd long and heavy reals are front-loaded.
//
// When sum(weight)/gcd exceeds MaxSequenceLen the weights are first scaled
// down to w' = max(1, floor(w·S/sum)) with S = MaxSequenceLen − n for n
// weighted reals (then divided by their gcd), so that sum(w') ≤
// MaxSequenceLen. Every real keeps at least one slot, and its share of the
// cycle differs from its exact weight share by at most (n+1)/(MaxSequenceLen
// − 2n): 0.15 percentage points for 100 reals. Unscaled shares are exact.
//
// The result depends only on the backends' (ID, Key, Weight) values, not on
// their order in the slice.
func WRRSequence(backends []Backend) ([]uint32, error) {
	reals, err := wrrWeights(backends)
	if err != nil {
		return nil, err
	}
	return wrrCycle(reals), nil
}

// RRSequence returns the cycle LVS's rr scheduler walks: every backend of
// weight > 0 once, in Key order. It is WRRSequence with equal weights.
func RRSequence(backends []Backend) ([]uint32, error) {
	equal := slices.Clone(backends)
	for i := range equal {
		equal[i].Weight = min(equal[i].Weight, 1)
	}
	return WRRSequence(equal)
}

// wrrReal is a weighted backend reduced to its id and cycle weight.
type wrrReal struct {
	id     uint32
	weight uint64
}

// wrrWeights validates backends and returns the weighted ones in Key order
// with weights divided by their gcd and, when the cycle would be longer
// than MaxSequenceLen, scaled down as WRRSequence documents.
func wrrWeights(backends []Backend) ([]wrrReal, error) {
	if err := validate(backends); err != nil {
		return nil, err
	}
	var reals []wrrReal
	for _, b := range Sorted(backends) {
		if b.Weight > 0 {
			reals = append(reals, wrrReal{id: b.ID, weight: uint64(b.Weight)})
		}
	}
	if len(reals) > MaxSequenceLen/4 {
		// The scaling budget S = MaxSequenceLen − n must leave room for
		// shares; a service this large should use Maglev anyway.
		return nil, fmt.Errorf("backends: want at most %d of weight > 0 for wrr, got %d", MaxSequenceLen/4, len(reals))
	}
	reduce(reals)
	var total uint64
	for _, r := range reals {
		total += r.weight
	}
	if total <= MaxSequenceLen {
		return reals, nil
	}
	budget := uint64(MaxSequenceLen - len(reals))
	for i := range reals {
		// weight < 2^32 and budget < 2^17: the product fits in 64 bits.
		reals[i].weight = max(1, reals[i].weight*budget/total)
	}
	reduce(reals)
	return reals, nil
}

// reduce divides every weight by the weights' gcd.
func reduce(reals []wrrReal) {
	var g uint64
	for _, r := range reals {
		g = gcd(r.weight, g)
	}
	for i := range reals {
		reals[i].weight /= g
	}
}

// wrrCycle emits the kernel's pass structure for gcd-reduced weights: pass
// k = 0, 1, ..., max−1 picks, in list order, each real with weight ≥ max−k.
// (With weights reduced by the gcd g, the kernel's cw = mw − k·g where
// mw = max·g − (g−1) selects exactly these reals.) Reals join the pass set
// as the threshold falls and never leave, so the work is O(len + n²) rather
// than O(max·n).
func wrrCycle(reals []wrrReal) []uint32 {
	if len(reals) == 0 {
		return []uint32{}
	}
	// byWeight: indexes into reals, heaviest first, to add as the
	// threshold falls.
	byWeight := make([]int, len(reals))
	var total, maxWeight uint64
	for i, r := range reals {
		byWeight[i] = i
		total += r.weight
		maxWeight = max(maxWeight, r.weight)
	}
	slices.SortStableFunc(byWeight, func(a, b int) int {
		switch wa, wb := reals[a].weight, reals[b].weight; {
		case wa > wb:
			return -1
		case wa < wb:
			return 1
		}
		return 0
	})
	seq := make([]uint32, 0, total)
	active := make([]int, 0, len(reals)) // list positions, ascending
	next := 0
	for threshold := maxWeight; threshold >= 1; threshold-- {
		for next < len(byWeight) && reals[byWeight[next]].weight >= threshold {
			pos := byWeight[next]
			at, _ := slices.BinarySearch(active, pos)
			active = slices.Insert(active, at, pos)
			next++
		}
		for _, pos := range active {
			seq = append(seq, reals[pos].id)
		}
	}
	return seq
}
