package maglev

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fuzzBackends decodes spec as 3-byte records (weight, two key bytes) into at
// most 64 backends with ids 1, 2, ... Key bytes repeat now and then, which
// exercises the duplicate-key error.
func fuzzBackends(spec []byte) []Backend {
	var bs []Backend
	for i := 0; i+3 <= len(spec) && len(bs) < 64; i += 3 {
		bs = append(bs, Backend{
			ID:     uint32(len(bs) + 1),
			Key:    fmt.Sprintf("198.18.%d.%d:80", spec[i+1], spec[i+2]),
			Weight: uint32(spec[i]),
		})
	}
	return bs
}

// fuzzSize maps sel to a table size below 4096: the next prime at or above it
// when sel is even, sel itself (usually not prime) when odd.
func fuzzSize(sel uint16) uint32 {
	size := uint32(sel % 4096)
	if sel&1 == 1 {
		return size
	}
	for !IsPrime(size) { // a prime follows within a few dozen numbers here
		size++
	}
	return size
}

func FuzzBuild(f *testing.F) {
	f.Add(uint16(13*2), []byte{1, 0, 11, 2, 0, 12, 3, 0, 13})
	f.Add(uint16(100), []byte{0, 0, 11, 0, 0, 12})
	f.Add(uint16(2), []byte{255, 1, 1, 1, 1, 2})
	f.Add(uint16(7), []byte{5, 0, 11})
	f.Add(uint16(40), []byte{5, 0, 11, 6, 0, 11})
	f.Add(uint16(0), []byte{})
	f.Fuzz(func(t *testing.T, sel uint16, spec []byte) {
		bs := fuzzBackends(spec)
		size := fuzzSize(sel)
		table, err := Build(bs, size)

		keys := make(map[string]bool)
		dupKey := false
		for _, b := range bs {
			dupKey = dupKey || keys[b.Key]
			keys[b.Key] = true
		}
		if wantErr := !IsPrime(size) || dupKey; wantErr {
			if err == nil {
				t.Fatalf("Build(%d backends, size %d) succeeded, want error (prime %v, duplicate key %v)",
					len(bs), size, IsPrime(size), dupKey)
			}
			return
		}
		if err != nil {
			t.Fatalf("Build(%d backends, size %d): %v", len(bs), size, err)
		}
		if len(table) != int(size) {
			t.Fatalf("table has %d slots, want %d", len(table), size)
		}

		// Input order must not matter.
		rev := slices.Clone(bs)
		slices.Reverse(rev)
		again, err := Build(rev, size)
		if err != nil {
			t.Fatalf("Build reversed: %v", err)
		}
		if diff := cmp.Diff(table, again); diff != "" {
			t.Fatalf("table from reversed input (-want +got):\n%s", diff)
		}

		weights := make(map[uint32]uint32)
		var total, maxWeight uint64
		for _, b := range bs {
			if b.Weight > 0 {
				weights[b.ID] = b.Weight
				total += uint64(b.Weight)
				maxWeight = max(maxWeight, uint64(b.Weight))
			}
		}
		got := counts(table)
		if total == 0 {
			if diff := cmp.Diff(map[uint32]int{0: int(size)}, got); diff != "" {
				t.Fatalf("slot counts with no weighted backend (-want +got):\n%s", diff)
			}
			return
		}
		for id := range got {
			if _, ok := weights[id]; !ok {
				t.Fatalf("table holds id %d, not a weighted backend", id)
			}
		}
		// A backend takes floor(rounds·w/maxWeight) turns, give or take the
		// last partial round, so it is at most 2 slots short of its exact
		// share and at most n·w/total + 1 over it (the floors others lose).
		n := float64(len(weights))
		for id, w := range weights {
			exact := float64(size) * float64(w) / float64(total)
			dev := float64(got[id]) - exact
			if over := n*float64(w)/float64(total) + 1; dev < -2 || dev > over {
				t.Errorf("id %d (weight %d of %d) holds %d slots, want %.2f within -2..+%.2f",
					id, w, total, got[id], exact, over)
			}
		}
	})
}
