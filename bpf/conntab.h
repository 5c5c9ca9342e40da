/* conntab.h: the connection tables conns4 and conns6 as set-associative
 * arrays. A flow's hash names one set of CONN_WAYS entries; a lookup
 * compares the flow's key with each way's, a new flow takes the set's
 * empty or oldest way (the least recently written: last_seen), and a live
 * flow it replaces comes off its real's counts (conns_forget), which an
 * LRU hash's silent eviction could not do. Expired entries stay until a
 * new flow takes their way; Go's resync counts them out.
 *
 * Why not the kernel's LRU hash, which these tables were until session 7:
 * a lookup there is a call that hashes the key with jhash, walks a bucket
 * and compares the key with memcmp; an insert into a full table takes the
 * LRU's locks, whose interrupt save and restore is a hypercall in a guest.
 * Measured here (docs/BENCHMARKS.md, session 7) on refct and refsa,
 * references that differ only in the table: an established IPv4 flow
 * 1.25 against 1.06 x refdr, IPv6 1.76 against 1.13, a new flow into a full
 * table, batched, 26-29 against 8.3-8.7 x.
 *
 * What it costs in behaviour, documented in docs/operator-guide.md:
 *   - A set fills before the table does: four live flows whose hash names
 *     one set make a fifth replace the oldest of them, while the LRU hash
 *     evicted only when full (and then the least recently used of all).
 *     Replaced flows are rescheduled on their next packet, to the same
 *     real under mh, sh and dh while the real set is unchanged.
 *   - Nothing is locked. DR and TUN flows are each seen on one CPU, NAT
 *     forward entries too (replies use nat4/nat6); two CPUs writing one
 *     way at once (two new flows of one set, in the same instant) may leave
 *     a way that matches neither flow: both are rescheduled. A lookup that
 *     races a write to its own way may read a half-written entry for one
 *     packet.
 * Go reads the tables with the same hash (maps.connSetIndex). */
#ifndef XLB_CONNTAB_H
#define XLB_CONNTAB_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include "consts.h"
#include "structs.h"
#include "maps.h"
#include "hash.h"
#include "ct.h"

/* The tables' set counts, set by Go at load time with their max_entries
 * (read as constants, as ct.h's timeouts). */
volatile const __u32 conn_sets4 = MAX_CONN_SETS;
volatile const __u32 conn_sets6 = MAX_CONN_SETS6;

/* conn_hash4 and conn_hash6 are the hash of a flow's key that names its
 * set, here and in the NAT reverse tables (nattab.h): table_hash of its
 * words, each IPv6 address folded to one word by xor. Inlined: tiny. */
static __always_inline __u32 conn_hash4(const struct flow4 *k)
{
	const __u32 *w = (const __u32 *)k;
	return table_hash(w[0], w[1], w[2], w[3]);
}

static __always_inline __u32 conn_hash6(const struct flow *k)
{
	const __u32 *w = (const __u32 *)k;
	return table_hash(w[0] ^ w[1] ^ w[2] ^ w[3], w[4] ^ w[5] ^ w[6] ^ w[7], w[8], w[9]);
}

/* table_set returns the set of a key whose hash is hash in table, an
 * array of sets sets long: the hash scaled onto the set count. Inlined
 * (table is then a constant map): tiny. */
static __always_inline void *table_set(void *table, __u32 sets, __u32 hash)
{
	__u32 set = hash_to_slot(hash, sets);
	return bpf_map_lookup_elem(table, &set);
}

/* conn_set_of4 and conn_set_of6 return the set of a flow's key (IPv6:
 * its hash in *hash). Inlined: tiny. */
static __always_inline struct conn_set4 *conn_set_of4(const struct flow4 *k)
{
	return table_set(&conns4, conn_sets4, conn_hash4(k));
}

static __always_inline struct conn_set6 *conn_set_of6(const struct flow *k, __u32 *hash)
{
	*hash = conn_hash6(k);
	return table_set(&conns6, conn_sets6, *hash);
}

/* conn_same is 1 if diff, the or of two keys' words xored, is 0 (the same
 * key), else 0: without a branch. Inlined: tiny. */
static __always_inline __u32 conn_same(__u32 diff)
{
	return ((diff | -diff) >> 31) ^ 1;
}

/* conn_lookup4 and conn_lookup6 return the entry of the flow whose key is
 * k, NULL if its set holds none. The key's words are read as volatile,
 * from the stack at each compare: clang otherwise holds all ten of an
 * IPv6 key in registers across the unrolled loop and spills them, which
 * takes the program past the verifier's 512-byte stack. The IPv4 ways
 * are compared word by word and return at the first match. An IPv6 way
 * keeps its key's hash: only a way whose hash is the flow's has its forty
 * bytes compared, without a branch (conn_same; a set holds a key at most
 * once), and the hit is returned at an index the verifier cannot know.
 * What the verifier takes well was measured (TestVerifierBudget): about
 * 505k instructions this way, 980k with both families returning a pointer
 * per way (the rest of the program verified once per way's offset), over
 * the limit with both branchless. Comparing every way's forty bytes cost
 * a tracked IPv6 packet most of what the table saved (1.91 against 1.99 x
 * refdr; 1.66 with the hash). Inlined: a few calls. */
static __always_inline struct conn *conn_lookup4(const struct flow4 *k)
{
	struct conn_set4 *s = conn_set_of4(k);
	if (!s)
		return NULL;
	const volatile __u32 *kw = (const volatile __u32 *)k;
	for (int i = 0; i < CONN_WAYS; i++) {
		const __u32 *ww = (const __u32 *)&s->way[i].key;
		if (ww[2] == kw[2] && ww[0] == kw[0] && ww[1] == kw[1] && ww[3] == kw[3])
			return &s->way[i].val;
	}
	return NULL;
}

static __always_inline struct conn *conn_lookup6(const struct flow *k)
{
	__u32 h;
	struct conn_set6 *s = conn_set_of6(k, &h);
	if (!s)
		return NULL;
	const volatile __u32 *kw = (const volatile __u32 *)k;
	__u32 found = 0, way = 0;
	for (int i = 0; i < CONN_WAYS; i++) {
		if (s->way[i].hash != h)
			continue;
		const __u32 *ww = (const __u32 *)&s->way[i].key;
		__u32 diff = 0;
		for (int j = 0; j < FLOW_WORDS; j++)
			diff |= ww[j] ^ kw[j];
		__u32 hit = conn_same(diff);
		found |= hit;
		way += hit * i;
	}
	if (!found)
		return NULL;
	return &s->way[way & (CONN_WAYS - 1)].val;
}

/* conn_write makes c the entry of a flow scheduled to real_id (of
 * generation gen) at now, in state. Inlined: tiny. */
static __always_inline void conn_write(struct conn *c, __u32 real_id, __u16 gen, __u8 state, __u64 now)
{
	c->real_id = real_id;
	c->real_gen = gen;
	c->state = state;
	c->flags = 0;
	c->last_seen = now;
}

/* conn_oldest returns which of a set's ways, by their last_seen times t0
 * to t3, a new flow takes: the least recently seen (an empty way's time
 * is 0). Inlined: once per insert. */
static __always_inline __u32 conn_oldest(__u64 t0, __u64 t1, __u64 t2, __u64 t3)
{
	__u32 a = t1 < t0 ? 1 : 0, b = t3 < t2 ? 3 : 2;
	__u64 ta = t1 < t0 ? t1 : t0, tb = t3 < t2 ? t3 : t2;
	return (tb < ta ? b : a) & (CONN_WAYS - 1);
}

_Static_assert(CONN_WAYS == 4, "conn_oldest compares four ways");

/* conn_replace makes c, the entry of a way whose key's protocol is proto
 * (0: empty), a new flow's (conn_write), taking a live flow it held off
 * its real's counts. An expired one is Go's resync's to take off
 * (maps.ResyncConnCounts), not the program's, so that it comes off once.
 * Inlined: once per insert. */
static __always_inline void conn_replace(struct conn *c, __u8 proto, __u32 real_id, __u16 gen, __u8 state, __u64 now)
{
	if (proto && !conn_expired(c, now))
		conns_forget(c);
	conn_write(c, real_id, gen, state, now);
}

/* conn_insert4 and conn_insert6 put flow k's entry (conn_write's) in the
 * oldest way of its set (the least last_seen; an empty way's is 0); a
 * live flow that way held comes off its real's counts. The caller has
 * looked k up and found nothing; now is ct_now's. Global functions,
 * verified once on their own: a call on the first packet of a flow costs
 * little, and inlined they took the program past the verifier's stack
 * limit (with fnat_forward's frame) and near its instruction limit. They
 * return 0. */
__noinline int conn_insert4(const struct flow4 *k, __u32 real_id, __u16 gen, __u8 state, __u64 now)
{
	if (!k)
		return 0;
	struct conn_set4 *s = conn_set_of4(k);
	if (!s)
		return 0;
	struct conn_way4 *w = &s->way[conn_oldest(s->way[0].val.last_seen, s->way[1].val.last_seen,
						    s->way[2].val.last_seen, s->way[3].val.last_seen)];
	conn_replace(&w->val, w->key.proto, real_id, gen, state, now);
	w->key = *k;
	return 0;
}

__noinline int conn_insert6(const struct flow *k, __u32 real_id, __u16 gen, __u8 state, __u64 now)
{
	if (!k)
		return 0;
	__u32 h;
	struct conn_set6 *s = conn_set_of6(k, &h);
	if (!s)
		return 0;
	struct conn_way6 *w = &s->way[conn_oldest(s->way[0].val.last_seen, s->way[1].val.last_seen,
						    s->way[2].val.last_seen, s->way[3].val.last_seen)];
	conn_replace(&w->val, w->key.proto, real_id, gen, state, now);
	w->hash = h;
	w->key = *k;
	return 0;
}

#endif
