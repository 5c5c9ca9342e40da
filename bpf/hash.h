/* hash.h: the flow hash and how it picks a Maglev slot. The hash is Bob
 * Jenkins' lookup3 final() (public domain) over three words. A real hash,
 * not xor/sum: Linux hands out consecutive source ports, which xor/sum
 * would send to the same real again and again (maps.TestFlowSpread). */
#ifndef XLB_HASH_H
#define XLB_HASH_H

#include <stdbool.h>
#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "structs.h"

#define HASH_WORDS 3                /* words hashed: saddr, daddr, ports */
#define HASH_INIT 0xdeadbeef        /* lookup3's initial value */
#define HASH_WORD_BYTES 4           /* bytes per hashed word */

/* rol32 rotates left; tiny, so inlined. */
static __always_inline __u32 rol32(__u32 x, int k)
{
	return (x << k) | (x >> (32 - k));
}

/* hash3 mixes three words into 32 bits with lookup3's final() alone, as
 * Linux's jhash_3words() hashes TCP 4-tuples for its socket tables.
 * final() makes every input bit affect every bit of c, which is all a flow
 * hash needs; the mix() round hashword() runs before it only serves inputs
 * longer than three words. Inlined: one or two calls per packet. */
static __always_inline __u32 hash3(__u32 a, __u32 b, __u32 c, __u32 init)
{
	a += HASH_INIT + HASH_WORDS * HASH_WORD_BYTES + init;
	b += HASH_INIT + HASH_WORDS * HASH_WORD_BYTES + init;
	c += HASH_INIT + HASH_WORDS * HASH_WORD_BYTES + init;

	/* final(a, b, c) */
	c ^= b; c -= rol32(b, 14);
	a ^= c; a -= rol32(c, 11);
	b ^= a; b -= rol32(a, 25);
	c ^= b; c -= rol32(b, 16);
	a ^= c; a -= rol32(c, 4);
	b ^= a; b -= rol32(a, 14);
	c ^= b; c -= rol32(b, 24);
	return c;
}

/* The multipliers of table_hash: odd 64-bit constants with bits spread
 * over the whole word (golden-ratio and xxHash/murmur primes). */
#define TABLE_HASH_K0 0x9e3779b97f4a7c15ULL
#define TABLE_HASH_K1 0xc2b2ae3d27d4eb4fULL
#define TABLE_HASH_K2 0x165667b19e3779f9ULL
#define TABLE_HASH_K3 0xd6e8feb86659fd93ULL

/* table_hash mixes four words into the 32-bit hash that names a flow's
 * set in the connection and NAT reverse tables (conntab.h, nattab.h):
 * each word times its own 64-bit odd constant, the products xored, the
 * low bits folded into the high ones (h ^= h << 29), the high half kept
 * (hash_to_slot then uses its high bits). The fold is needed: a
 * product's high bits vary with its word as a Weyl sequence does, too
 * regularly, and without it consecutive client addresses bunched: 27 % of
 * the sets asked for more than four flows at half load, where a random
 * hash asks 5 %. With it every pattern maps.TestConnSetSpread tries
 * (ports, clients, networks, VIP ports; both families) spreads as a random
 * hash would. Four independent multiplies instead of hash3's chain of 21
 * dependent steps: 3-4 ns less for every tracked packet (docs/
 * BENCHMARKS.md, session 8); folding by a second multiply instead cost
 * 1-2 ns of that. Like hash3 it is not keyed: a client that knows it
 * can aim many flows at one set (conntab.h says what a full set does).
 * The tables are a node's own, so unlike flow_hash nothing else must
 * agree with it but maps.tableHash, its Go twin. Inlined: once per
 * tracked packet. */
static __always_inline __u32 table_hash(__u32 a, __u32 b, __u32 c, __u32 d)
{
	__u64 h = ((__u64)a * TABLE_HASH_K0) ^ ((__u64)b * TABLE_HASH_K1) ^ ((__u64)c * TABLE_HASH_K2) ^
		  ((__u64)d * TABLE_HASH_K3);
	h ^= h << 29;
	return (__u32)(h >> 32);
}

/* flow_hash hashes a flow for the Maglev slot (and a tunnel's IPv6 flow
 * label). IPv4: addresses and ports, protocol in the seed. IPv6: the client
 * address is first folded to one word as Linux folds it for its socket
 * hash (hash3 over w0^w1, w2, w3), the VIP's words by xor (VIPs are few and
 * fixed). Every node must compute the same hash: it is part of the
 * contract between nodes of one VIP. Inlined: one call per new flow. */
static __always_inline __u32 flow_hash(struct flow *f, bool is_v6)
{
	__u32 *w = (__u32 *)f;
	__u32 s = w[3], d = w[7];

	if (is_v6) {
		s = hash3(w[0] ^ w[1], w[2], w[3], FLOW_HASH_SEED);
		d = w[4] ^ w[5] ^ w[6] ^ w[7];
	}
	/* (sport << 16 | dport) and proto from the flow's last two words,
	 * loaded whole as parse_l4 stored them (see vip_port_proto): the
	 * ports word holds sport in its low half (bpfel). */
	return hash3(s, d, rol32(w[FLOW_WORDS - 2], 16), FLOW_HASH_SEED + w[FLOW_WORDS - 1]);
}

/* addr_hash hashes one address of a flow (w: its four words) for the sh
 * and dh schedulers: hash3(w0^w1, w2, w3, ADDR_HASH_SEED) over the 16-byte
 * v4-mapped form, as controlplane/sched.AddrHash (the contract that Go
 * oracle pins). The parser writes only an IPv4 address's last word, so the
 * v4-mapped prefix is supplied here: w0^w1 = 0, w2 = ::ffff's word. One
 * hash3 call for both families keeps the code small. Inlined: one call per
 * new flow of an sh or dh service. */
static __always_inline __u32 addr_hash(const __u32 *w, bool is_v6)
{
	__u32 a = 0, b = bpf_htonl(V4_MAPPED_MARK);

	if (is_v6) {
		a = w[0] ^ w[1];
		b = w[2];
	}
	return hash3(a, b, w[V4_MAPPED_WORDS - 1], ADDR_HASH_SEED);
}

/* hash_to_slot maps a 32-bit hash onto 0..n-1 as a multiply and a shift
 * (Lemire's "fastrange"): hash / 2^32 scaled by n. Uniform when the hash is,
 * and without the 32-bit division by a variable that hash % n costs (20-40
 * cycles). It uses the hash's high bits, which final() mixes as well as
 * the low ones. Inlined: one call per packet. */
static __always_inline __u32 hash_to_slot(__u32 hash, __u32 n)
{
	return ((__u64)hash * n) >> 32;
}

#endif
