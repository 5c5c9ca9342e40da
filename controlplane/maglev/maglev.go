package maglev

import (
	"fmt"
	"slices"
	"strings"
)

// DefaultSize is the number of slots in a table unless configured otherwise.
// It is prime, as Build requires, and about 100 times the largest expected
// number of reals per service, which keeps Maglev's disruption on a change
// close to the ideal 1/N (paper section 3.4 recommends M ≫ N).
const DefaultSize = 65537

// MaxSize is the largest table Build accepts: 16 Mi slots, 64 MiB of ids.
// It bounds the allocation a bad configuration can ask for.
const MaxSize = 1 << 24

// Backend is one real server as the table builder sees it.
type Backend struct {
	// ID is the value written into the slots; it must not be 0, which marks an
	// empty slot.
	ID uint32
	// Key is the stable identity the permutation is derived from, such as
	// "198.18.0.11:80". Nodes given the same Keys and weights build the same
	// table.
	Key string
	// Weight is the backend's relative share of the slots; 0 leaves it out of
	// the table.
	Weight uint32
}

// IsPrime reports whether n is a prime number.
func IsPrime(n uint32) bool {
	if n < 2 {
		return false
	}
	for _, p := range []uint32{2, 3, 5, 7, 11, 13, 61} {
		if n == p {
			return true
		}
		if n%p == 0 {
			return false
		}
	}
	// Miller-Rabin with bases 2, 7 and 61 is exact for every n below
	// 4,759,123,141 (Jaeschke 1993), so for all of uint32.
	d, r := uint64(n-1), 0
	for d%2 == 0 {
		d /= 2
		r++
	}
	for _, a := range []uint64{2, 7, 61} {
		if !millerRabinPass(a, d, r, uint64(n)) {
			return false
		}
	}
	return true
}

// millerRabinPass reports whether n (odd, n-1 = d·2^r) passes the strong
// probable-prime test to base a. Products of two values below 2^32 fit in a
// uint64, so plain multiplication is exact.
func millerRabinPass(a, d uint64, r int, n uint64) bool {
	x := powMod(a, d, n)
	if x == 1 || x == n-1 {
		return true
	}
	for range r - 1 {
		x = x * x % n
		if x == n-1 {
			return true
		}
	}
	return false
}

func powMod(base, exp, mod uint64) uint64 {
	result := uint64(1)
	base %= mod
	for exp > 0 {
		if exp&1 == 1 {
			result = result * base % mod
		}
		base = base * base % mod
		exp >>= 1
	}
	return result
}

// walker is a backend's progress along its permutation of the slots while a
// table is filled.
type walker struct {
	key    string
	id     uint32
	weight uint64
	// credit accumulates weight each round; a turn costs maxWeight.
	credit uint64
	// pos is the next slot on the permutation, skip the stride between slots.
	pos, skip uint64
	// steps counts the permutation entries passed, to prove the walk ends.
	steps uint64
}

// Build returns a table of size slots in which each backend of weight > 0
// holds a share of the slots proportional to its weight. size must be a prime
// no larger than MaxSize. With no backend of weight > 0 every slot is 0.
//
// The result depends only on the backends' (ID, Key, Weight) values and size,
// not on their order in the slice.
func Build(backends []Backend, size uint32) ([]uint32, error) {
	if !IsPrime(size) {
		return nil, fmt.Errorf("size: want a prime, got %d", size)
	}
	if size > MaxSize {
		return nil, fmt.Errorf("size: want at most %d, got %d", MaxSize, size)
	}
	walkers, err := newWalkers(backends, uint64(size))
	if err != nil {
		return nil, err
	}
	table := make([]uint32, size)
	if len(walkers) == 0 {
		return table, nil
	}
	if err := fill(table, walkers); err != nil {
		return nil, err
	}
	return table, nil
}

// newWalkers validates backends and returns a walker for each one with weight
// > 0, sorted by Key so that the turn order does not depend on input order.
func newWalkers(backends []Backend, size uint64) ([]walker, error) {
	ids := make(map[uint32]string, len(backends))
	keys := make(map[string]struct{}, len(backends))
	walkers := make([]walker, 0, len(backends))
	for i, b := range backends {
		if _, dup := keys[b.Key]; dup {
			return nil, fmt.Errorf("backend %d: key %q: duplicate", i, b.Key)
		}
		keys[b.Key] = struct{}{}
		if b.ID != 0 {
			if other, dup := ids[b.ID]; dup {
				return nil, fmt.Errorf("backend %d (%q): id %d: already used by %q", i, b.Key, b.ID, other)
			}
			ids[b.ID] = b.Key
		}
		if b.Weight == 0 {
			continue
		}
		if b.ID == 0 {
			return nil, fmt.Errorf("backend %d (%q): id: want non-zero with weight %d", i, b.Key, b.Weight)
		}
		if b.Key == "" {
			return nil, fmt.Errorf("backend %d (id %d): key: want non-empty with weight %d", i, b.ID, b.Weight)
		}
		offset, skip := permutation(b.Key, size)
		walkers = append(walkers, walker{
			key:    b.Key,
			id:     b.ID,
			weight: uint64(b.Weight),
			pos:    offset,
			skip:   skip,
		})
	}
	slices.SortFunc(walkers, func(a, b walker) int { return strings.Compare(a.key, b.key) })
	return walkers, nil
}

// fill lets the walkers take turns claiming free slots until table is full.
// table must be all zeros and walkers non-empty.
//
// Each round every walker earns its weight in credit and takes a turn when
// it holds maxWeight, paying maxWeight. A walker thus takes weight/maxWeight
// turns per round, and its share of slots follows its share of the weight.
// With equal weights every walker takes one turn per round: the paper's
// unweighted algorithm.
func fill(table []uint32, walkers []walker) error {
	size := uint64(len(table))
	var maxWeight uint64
	for _, w := range walkers {
		maxWeight = max(maxWeight, w.weight)
	}
	placed := uint64(0)
	// The heaviest walker takes a turn every round and each turn claims a
	// slot, so size rounds always suffice.
	for round := uint64(0); placed < size; round++ {
		if round >= size {
			return fmt.Errorf("fill %d slots: still %d free after %d rounds", size, size-placed, round)
		}
		for i := range walkers {
			w := &walkers[i]
			w.credit += w.weight
			if w.credit < maxWeight {
				continue
			}
			w.credit -= maxWeight
			// A permutation visits each slot once, so a walker that has
			// passed size entries has seen every slot: with one still free
			// that cannot happen, and the bound proves the walk ends.
			for table[w.pos] != 0 {
				if !w.advance(size) {
					return fmt.Errorf("fill %d slots: backend %q passed its whole permutation with %d free", size, w.key, size-placed)
				}
			}
			table[w.pos] = w.id
			placed++
			if placed == size {
				return nil
			}
			// The slot just claimed is taken; move past it now (the
			// permutation may end here if this was its last entry).
			w.advance(size)
		}
	}
	return nil
}

// advance moves w to the next slot on its permutation, reporting false when
// the permutation is exhausted.
func (w *walker) advance(size uint64) bool {
	if w.steps+1 >= size {
		return false
	}
	w.steps++
	w.pos += w.skip
	if w.pos >= size {
		w.pos -= size
	}
	return true
}

// permutation returns the first slot and the stride of key's walk through a
// table of size slots (paper section 3.4). size is prime, so every skip in
// 1..size-1 is coprime with it and the walk visits each slot exactly once.
func permutation(key string, size uint64) (offset, skip uint64) {
	offset = hash(key, offsetSeed) % size
	skip = hash(key, skipSeed)%(size-1) + 1
	return offset, skip
}

// Seeds make the two hashes of a Key independent. Changing them, or hash,
// reshuffles every table: see the package comment.
const (
	offsetSeed = 0x6d61676c65766f66 // "maglevof"
	skipSeed   = 0x6d61676c65767368 // "maglevsh"
)

// hash is 64-bit FNV-1a over key, started from a seeded basis, finished by
// the splitmix64 mixer. FNV-1a alone barely changes its high bits between
// keys that differ in one trailing byte (198.18.0.11 vs .12); the mixer
// spreads every input bit over the whole output so offsets and skips of
// similar keys are unrelated.
func hash(key string, seed uint64) uint64 {
	const (
		fnvBasis = 0xcbf29ce484222325
		fnvPrime = 0x100000001b3
	)
	h := uint64(fnvBasis) ^ seed
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= fnvPrime
	}
	return mix64(h)
}

// mix64 is the splitmix64 finalizer (Steele, Lea, Flood 2014).
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
