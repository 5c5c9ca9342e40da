/* hash.h: the flow hash and how it picks a Maglev slot. The hash is Bob
 * Jenkins' lookup3 final() (public domain) over three words. A real hash,
 * not xor/sum: Linux hands out consecutive source ports, which xor/sum
 * would send to the same real again and again (maps.TestFlowSpread). */
#ifndef XLB_HASH_H
#define XLB_HASH_H

#include <linux/types.h>
#include "consts.h"

#define HASH_WORDS 3                /* words hashed: saddr, daddr, ports */
#define HASH_INIT 0xdeadbeef        /* lookup3's initial value */
#define HASH_WORD_BYTES 4           /* bytes per hashed word */

/* rol32 rotates left; tiny, so inlined. */
static __always_inline __u32 rol32(__u32 x, int k)
{
	return (x << k) | (x >> (32 - k));
}

/* flow_hash mixes the 5-tuple into 32 bits: three words and lookup3's
 * final() alone, as Linux's jhash_3words() hashes TCP 4-tuples for its
 * socket tables. final() makes every input bit affect every bit of c, which
 * is all a flow hash needs; the mix() round hashword() runs before it only
 * serves inputs longer than three words. The protocol has no word of its
 * own: it perturbs the initial value. Inlined: one call per packet. */
static __always_inline __u32 flow_hash(const struct flow *f)
{
	__u32 a, b, c;

	a = b = c = HASH_INIT + HASH_WORDS * HASH_WORD_BYTES + FLOW_HASH_SEED + f->proto;
	a += f->saddr;
	b += f->daddr;
	c += ((__u32)f->sport << 16) | f->dport;

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
