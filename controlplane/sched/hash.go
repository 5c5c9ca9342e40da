package sched

import (
	"encoding/binary"
	"math/bits"
	"net/netip"

	"xlb/controlplane/maglev"
)

// Seeds of the hashes the data plane computes. Each is part of the contract
// between nodes serving one VIP behind ECMP (every node must pick the same
// real) and between xlb versions during a rolling upgrade; TestGoldenHashes
// pins them.
const (
	// FlowSeed seeds FlowHash; bpf/consts.h FLOW_HASH_SEED ("xlb0").
	FlowSeed = 0x786c6230
	// AddrSeed seeds AddrHash, the sh and dh key hash ("xlba"). It differs
	// from FlowSeed so that a client's sh slot is unrelated to the slots
	// of its flows under mh.
	AddrSeed = 0x786c6261
)

// Hash3 is Bob Jenkins' lookup3 final() over three words with lookup3's
// initial value for a 12-byte key plus init: the Go twin of bpf/hash.h
// hash3, bit for bit (refdr's model uses it too).
func Hash3(a, b, c, init uint32) uint32 {
	const initval = 0xdeadbeef + 3*4
	a += initval + init
	b += initval + init
	c += initval + init
	c ^= b
	c -= bits.RotateLeft32(b, 14)
	a ^= c
	a -= bits.RotateLeft32(c, 11)
	b ^= a
	b -= bits.RotateLeft32(a, 25)
	c ^= b
	c -= bits.RotateLeft32(b, 16)
	a ^= c
	a -= bits.RotateLeft32(c, 4)
	b ^= a
	b -= bits.RotateLeft32(a, 14)
	c ^= b
	c -= bits.RotateLeft32(b, 24)
	return c
}

// words returns the 16-byte form of a (IPv4 v4-mapped, as in the data
// plane's struct flow) as four 32-bit words the way a BPF program on a
// little-endian target loads them: word i is bytes 4i..4i+3 read little-
// endian. The zone, if any, is ignored.
func words(a netip.Addr) [4]uint32 {
	b := a.As16()
	var w [4]uint32
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return w
}

// AddrHash is the key hash of the sh (client address) and dh (destination
// address) schedulers: Hash3(w0^w1, w2, w3, AddrSeed) over the address's
// 16-byte v4-mapped form loaded as words (see words). IPv4 and IPv6 take
// the same path, so one BPF function serves both:
//
//	__u32 *w = (__u32 *)addr16;
//	h = hash3(w[0] ^ w[1], w[2], w[3], ADDR_HASH_SEED);
//
// The slot is then Slot(h, len(table)).
func AddrHash(a netip.Addr) uint32 {
	w := words(a)
	return Hash3(w[0]^w[1], w[2], w[3], AddrSeed)
}

// Flow is what a scheduler may look at in the first packet of a flow.
type Flow struct {
	// Src is the client's address and port, Dst the VIP's (for dh, lblc
	// and lblcr the destination address is the key).
	Src, Dst netip.AddrPort
	// Proto is the IP protocol number (6 TCP, 17 UDP).
	Proto uint8
}

// FlowHash is the mh scheduler's flow hash: the Go twin of bpf/hash.h
// flow_hash. IPv4: Hash3(saddr, daddr, sport<<16|dport, FlowSeed+proto)
// with addresses and ports as the BPF program loads them (network byte
// order read little-endian). IPv6: the client address is first folded to
// Hash3(w0^w1, w2, w3, FlowSeed) and the VIP's words are xored.
func FlowHash(f Flow) uint32 {
	src, dst := f.Src.Addr().Unmap(), f.Dst.Addr().Unmap()
	ws, wd := words(src), words(dst)
	s, d := ws[3], wd[3]
	if !src.Is4() {
		s = Hash3(ws[0]^ws[1], ws[2], ws[3], FlowSeed)
		d = wd[0] ^ wd[1] ^ wd[2] ^ wd[3]
	}
	// A __be16 loaded on a little-endian target reads byte-swapped.
	sport := uint32(bits.ReverseBytes16(f.Src.Port()))
	dport := uint32(bits.ReverseBytes16(f.Dst.Port()))
	return Hash3(s, d, sport<<16|dport, FlowSeed+uint32(f.Proto))
}

// Slot maps a 32-bit hash onto 0..n-1 by multiply and shift (Lemire's
// fastrange), as bpf/hash.h hash_to_slot does: uniform when the hash is,
// and without a division in the data plane.
func Slot(hash, n uint32) uint32 {
	return uint32(uint64(hash) * uint64(n) >> 32)
}

// HashTable builds the sh and dh lookup table: a weighted Maglev table
// (maglev.Build) of size slots, indexed in the data plane by
// Slot(AddrHash(key), size) where the key is the client address for sh and
// the destination address for dh. Weight-0 backends hold no slot.
//
// LVS fills 256 buckets by repeating each real weight times in list order,
// so adding or removing one real shifts every later bucket. Maglev keeps
// the same share rule (slots follow weights) and moves only about 1/n of
// the keys when one of n reals changes; see doc.go, deviation 3.
func HashTable(backends []Backend, size uint32) ([]uint32, error) {
	return maglev.Build(backends, size)
}
