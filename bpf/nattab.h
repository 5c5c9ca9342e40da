/* nattab.h: the NAT reverse tables nat4 and nat6 as set-associative
 * arrays, as the connection tables are (conntab.h): the hash of a reply's
 * key (conn_hash4, conn_hash6) names a set of CONN_WAYS entries; a lookup
 * compares the keys, kept apart from the values in the set (struct
 * nat_set4, nat_set6); a new flow takes the set's way of oldest
 * last_seen. An entry replaced while its flow lives loses the flow's
 * replies until the forward side's next touch writes it back, as an LRU
 * eviction did (nat.h).
 *
 * Unlike conns4 and conns6, these entries are shared across CPUs: the
 * forward path's CPU writes one, any CPU's reply reads it. Nothing is
 * locked, so the writes are ordered for a reader that runs meanwhile:
 *   - A new flow's way: the key's protocol word becomes 0 first (the way
 *     is then empty to lookups), then the value is written, then the
 *     key, its protocol word last. A lookup that starts after the first
 *     store misses; one that ends before the last sees the way empty.
 *   - The same flow's way again (the forward side's touch): the hop's
 *     interface becomes 0 first (a reply then asks the FIB, natcache.h),
 *     then the other fields; the cached MACs are left as they are, so a
 *     reply that read the old interface a moment before still sends with
 *     whole MACs.
 * Compiler barriers keep these stores in this order; x86-64 keeps stores
 * and loads in program order towards other CPUs (TSO), so they hold
 * there. A reply that matched a key just before its way was taken by a new
 * flow may still read that new flow's value for one packet: its own flow
 * had lost its entry in that instant anyway. On weakly ordered CPUs
 * (arm64) a reader may also see the stores out of order, with the same
 * bound: one packet of a flow being replaced. */
#ifndef XLB_NATTAB_H
#define XLB_NATTAB_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include "consts.h"
#include "structs.h"
#include "maps.h"
#include "hash.h"
#include "conntab.h"
#include "parse.h"

/* The tables' set counts, set by Go at load time with their max_entries
 * (as conn_sets4 and conn_sets6). */
volatile const __u32 nat_sets4 = MAX_CONN_SETS;
volatile const __u32 nat_sets6 = MAX_CONN_SETS6;

/* nat_set_of4 and nat_set_of6 return the set of a reply's key (IPv6: its
 * hash in *hash). Inlined: tiny. */
static __always_inline struct nat_set4 *nat_set_of4(const struct flow4 *k)
{
	return table_set(&nat4, nat_sets4, conn_hash4(k));
}

static __always_inline struct nat_set6 *nat_set_of6(const struct flow *k, __u32 *hash)
{
	*hash = conn_hash6(k);
	return table_set(&nat6, nat_sets6, *hash);
}

/* table_way4 and table_way6 return which way of a set whose keys are
 * keys (and, IPv6, their hashes hashes) holds a key, CONN_WAYS if none
 * does: IPv4 the key's four words k0..k3, compared word by word, the
 * ports first (an empty way's are 0), as conn_lookup4 does; IPv6 key k,
 * whose hash is h, read as volatile as conn_lookup6 reads it: only a way
 * with that hash has its 40 bytes compared. Each returns at the first
 * match: against a compare of every way without a branch, an IPv4 reply
 * measured 1.52-1.54 x refdr instead of 1.66, a non-VIP packet on an
 * inside interface 1.26-1.38 instead of 1.58-1.72. The NAT reverse sets'
 * search and full NAT's forward sets' (fnat.h). Inlined: a few calls. */
static __always_inline __u32 table_way4(const struct flow4 *keys, __u32 k0, __u32 k1, __u32 k2, __u32 k3)
{
	for (__u32 i = 0; i < CONN_WAYS; i++) {
		const __u32 *ww = (const __u32 *)&keys[i];
		if (ww[2] == k2 && ww[0] == k0 && ww[1] == k1 && ww[3] == k3)
			return i;
	}
	return CONN_WAYS;
}

static __always_inline __u32 table_way6(const __u32 *hashes, const struct flow *keys, const struct flow *k, __u32 h)
{
	const volatile __u32 *kw = (const volatile __u32 *)k;
	for (__u32 i = 0; i < CONN_WAYS; i++) {
		if (hashes[i] != h)
			continue;
		const __u32 *ww = (const __u32 *)&keys[i];
		__u32 diff = 0;
		for (int j = 0; j < FLOW_WORDS; j++)
			diff |= ww[j] ^ kw[j];
		if (!diff)
			return i;
	}
	return CONN_WAYS;
}

/* nat_lookup returns the reverse entry of the reply whose 5-tuple is f,
 * NULL if there is none. An IPv4 key's words are taken from f as
 * fill_flow4 takes them, into registers rather than a key on the stack:
 * the entry function's frame has no room to spare (its stack and
 * fnat_forward's share 512 bytes). Inlined: one call per reply path
 * (xlb.c, icmp.h). Inlined in nat_reply, it took the program from 505k to
 * 737k of the verifier's million processed instructions (guarded by
 * TestVerifierBudget); a global function returning the way kept it at
 * 665k, but cost every packet of an inside interface 4-6 ns more
 * (measured: IPv4 replies 1.92 against 1.74 x refdr as an LRU hash). */
static __always_inline struct nat_rev *nat_lookup(struct flow *f, bool v6)
{
	__u32 h, i;

	if (v6) {
		struct nat_set6 *s6 = nat_set_of6(f, &h);
		if (!s6)
			return NULL;
		i = table_way6(s6->hash, s6->key, f, h);
		if (i >= CONN_WAYS)
			return NULL;
		return &s6->val[i];
	}
	const volatile __u32 *fw = flow_words(f);
	__u32 k0 = fw[V4_MAPPED_WORDS - 1], k1 = fw[2 * V4_MAPPED_WORDS - 1];
	__u32 k2 = fw[FLOW_WORDS - 2], k3 = fw[FLOW_WORDS - 1];
	struct nat_set4 *s4 = table_set(&nat4, nat_sets4, table_hash(k0, k1, k2, k3));
	if (!s4)
		return NULL;
	i = table_way4(s4->key, k0, k1, k2, k3);
	if (i >= CONN_WAYS)
		return NULL;
	return &s4->val[i];
}

/* nat_refresh writes rv into v, the entry of the same key, in the order
 * the top of this file gives: the hop's interface first, the MACs kept.
 * Inlined: once per put. */
static __always_inline void nat_refresh(struct nat_rev *v, const struct nat_rev *rv)
{
	*(volatile __u32 *)&v->hop.ifindex = 0;
	asm volatile("" ::: "memory");
	__builtin_memcpy(v->vip, rv->vip, sizeof(v->vip));
	v->vport = rv->vport;
	v->state = rv->state;
	v->service_id = rv->service_id;
	v->real_id = rv->real_id;
	v->last_seen = rv->last_seen;
}

/* way_key_clear and way_key_set are a set's way's key writes around a
 * new entry's value, in the order the top of this file gives: the key's
 * protocol word (its last, of kw_len: FLOW_WORDS or FLOW4_WORDS) 0 first,
 * so that the way is empty to lookups; after the value the other words,
 * the protocol word last. Inlined: once per claim. */
static __always_inline void way_key_clear(__u32 *key, const int kw_len)
{
	volatile __u32 *kv = key;
	kv[kw_len - 1] = 0;
	asm volatile("" ::: "memory");
}

static __always_inline void way_key_set(__u32 *key, const __u32 *k, const int kw_len)
{
	volatile __u32 *kv = key;
	asm volatile("" ::: "memory");
	for (int j = 0; j < kw_len - 1; j++)
		kv[j] = k[j];
	asm volatile("" ::: "memory");
	kv[kw_len - 1] = k[kw_len - 1];
}

/* nat_claim makes way i of a set (key key, value v) key k's entry rv
 * (way_key_clear, the value, way_key_set). Inlined: once per put. */
static __always_inline void nat_claim(__u32 *key, const __u32 *k, const int kw_len, struct nat_rev *v,
				      const struct nat_rev *rv)
{
	way_key_clear(key, kw_len);
	*v = *rv;
	way_key_set(key, k, kw_len);
}

/* nat_put4 and nat_put6 make rv the reverse entry of key k: in place if
 * k's set holds it (nat_refresh), else in the set's way of oldest
 * last_seen (an empty way's is 0; nat_claim). rv's hop is not used: a new
 * entry has none. Global functions, verified once on their own, as
 * conn_insert4: they run on a NAT flow's first packet and touches. They
 * return 0. */
__noinline int nat_put4(const struct flow4 *k, const struct nat_rev *rv)
{
	if (!k || !rv)
		return 0;
	struct nat_set4 *s = nat_set_of4(k);
	if (!s)
		return 0;
	const __u32 *kw = (const __u32 *)k;
	__u32 i = table_way4(s->key, kw[0], kw[1], kw[2], kw[3]);
	if (i < CONN_WAYS) {
		nat_refresh(&s->val[i], rv);
		return 0;
	}
	i = conn_oldest(s->val[0].last_seen, s->val[1].last_seen, s->val[2].last_seen, s->val[3].last_seen);
	nat_claim((__u32 *)&s->key[i], (const __u32 *)k, FLOW4_WORDS, &s->val[i], rv);
	return 0;
}

__noinline int nat_put6(const struct flow *k, const struct nat_rev *rv)
{
	if (!k || !rv)
		return 0;
	__u32 h;
	struct nat_set6 *s = nat_set_of6(k, &h);
	if (!s)
		return 0;
	__u32 i = table_way6(s->hash, s->key, k, h);
	if (i < CONN_WAYS) {
		nat_refresh(&s->val[i], rv);
		return 0;
	}
	i = conn_oldest(s->val[0].last_seen, s->val[1].last_seen, s->val[2].last_seen, s->val[3].last_seen);
	/* The hash is read only next to a key that matches it. */
	s->hash[i] = h;
	nat_claim((__u32 *)&s->key[i], (const __u32 *)k, FLOW_WORDS, &s->val[i], rv);
	return 0;
}

_Static_assert(sizeof(struct flow4) == FLOW4_WORDS * sizeof(__u32), "flow4 is not FLOW4_WORDS words");
_Static_assert(sizeof(struct flow) == FLOW_WORDS * sizeof(__u32), "flow is not FLOW_WORDS words");

#endif
