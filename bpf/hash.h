/* hash.h: the flow hash. Bob Jenkins' lookup3 (public domain), written
 * here for a fixed 4-word input. A real hash, not xor/sum: Linux hands out
 * consecutive source ports, which xor/sum would map to neighbouring slots. */
#ifndef XLB_HASH_H
#define XLB_HASH_H

#include <linux/types.h>
#include "consts.h"

#define HASH_WORDS 4                /* words hashed: saddr, daddr, ports, proto */
#define HASH_INIT 0xdeadbeef        /* lookup3's initial value */
#define HASH_WORD_BYTES 4           /* bytes per hashed word */

/* rol32 rotates left; tiny, so inlined. */
static __always_inline __u32 rol32(__u32 x, int k)
{
	return (x << k) | (x >> (32 - k));
}

/* flow_hash mixes the 5-tuple into 32 bits: lookup3's hashword() on four
 * words (mix after three, final after the fourth). Inlined: one call per
 * packet on the hot path. */
static __always_inline __u32 flow_hash(const struct flow *f)
{
	__u32 a, b, c;

	a = b = c = HASH_INIT + (HASH_WORDS * HASH_WORD_BYTES) + FLOW_HASH_SEED;
	a += f->saddr;
	b += f->daddr;
	c += ((__u32)f->sport << 16) | f->dport;

	/* mix(a, b, c) */
	a -= c; a ^= rol32(c, 4);  c += b;
	b -= a; b ^= rol32(a, 6);  a += c;
	c -= b; c ^= rol32(b, 8);  b += a;
	a -= c; a ^= rol32(c, 16); c += b;
	b -= a; b ^= rol32(a, 19); a += c;
	c -= b; c ^= rol32(b, 4);  b += a;

	a += f->proto;

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

#endif
