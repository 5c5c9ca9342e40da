package sched

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fuzzBackends decodes spec as 3-byte records (two weight bytes, one key
// byte) into at most 64 backends with ids 1, 2, ... Weights reach 65535, so
// long inputs exceed MaxSequenceLen and exercise scaling; key bytes repeat
// now and then, which exercises the duplicate-key error.
func fuzzBackends(spec []byte) []Backend {
	var bs []Backend
	for i := 0; i+3 <= len(spec) && len(bs) < 64; i += 3 {
		bs = append(bs, Backend{
			ID:     uint32(len(bs) + 1),
			Key:    fmt.Sprintf("198.18.0.%d:80", spec[i+2]),
			Weight: uint32(spec[i])<<8 | uint32(spec[i+1]),
		})
	}
	return bs
}

func FuzzWRRSequence(f *testing.F) {
	f.Add([]byte{0, 4, 1, 0, 3, 2, 0, 2, 3})
	f.Add([]byte{0, 3, 1, 0, 1, 2})
	f.Add([]byte{0, 0, 1, 0, 0, 2})
	f.Add([]byte{255, 255, 1, 0, 1, 2})
	f.Add([]byte{0, 6, 1, 0, 4, 2, 0, 0, 3, 0, 2, 4})
	f.Add([]byte{0, 5, 1, 0, 5, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, spec []byte) {
		bs := fuzzBackends(spec)
		seq, err := WRRSequence(bs)
		keys := make(map[string]bool)
		dup := false
		for _, b := range bs {
			dup = dup || keys[b.Key]
			keys[b.Key] = true
		}
		if dup {
			if err == nil {
				t.Fatalf("WRRSequence with a duplicate key succeeded")
			}
			return
		}
		if err != nil {
			t.Fatalf("WRRSequence(%d backends): %v", len(bs), err)
		}
		if len(seq) > MaxSequenceLen {
			t.Fatalf("sequence of %d, want at most %d", len(seq), MaxSequenceLen)
		}

		again, err := WRRSequence(reversed(bs))
		if err != nil {
			t.Fatalf("WRRSequence reversed: %v", err)
		}
		if !slices.Equal(seq, again) {
			t.Fatalf("sequence from reversed input differs:\n%s", cmp.Diff(seq, again))
		}

		weights := make(map[uint32]uint64)
		var total, g uint64
		for _, b := range bs {
			if b.Weight > 0 {
				weights[b.ID] = uint64(b.Weight)
				total += uint64(b.Weight)
				g = gcd(uint64(b.Weight), g)
			}
		}
		got := counts(seq)
		for id := range got {
			if weights[id] == 0 {
				t.Fatalf("sequence holds id %d of weight 0", id)
			}
		}
		if total == 0 {
			if len(seq) != 0 {
				t.Fatalf("sequence %v with no weighted backend, want empty", seq)
			}
			return
		}
		if total/g <= MaxSequenceLen {
			// Unscaled: one cycle holds each real exactly weight/gcd
			// times, and the kernel state machine walks the same order.
			for id, w := range weights {
				if uint64(got[id]) != w/g {
					t.Fatalf("id %d (weight %d, gcd %d) appears %d times, want %d", id, w, g, got[id], w/g)
				}
			}
			if len(seq) <= 5000 {
				m, err := New(WRR, Sorted(bs))
				if err != nil {
					t.Fatal(err)
				}
				for i, want := range seq {
					if id, _ := m.Pick(Flow{}); id != want {
						t.Fatalf("Model pick %d = %d, sequence has %d", i, id, want)
					}
				}
			}
			return
		}
		bound := shareBound(len(weights))
		for id, w := range weights {
			if got[id] == 0 {
				t.Fatalf("scaled: id %d (weight %d) has no slot", id, w)
			}
			share := float64(got[id]) / float64(len(seq))
			if dev := share - float64(w)/float64(total); dev > bound || -dev > bound {
				t.Fatalf("scaled: id %d share %.5f off by %.5f, want ≤ %.5f", id, share, dev, bound)
			}
		}
	})
}
