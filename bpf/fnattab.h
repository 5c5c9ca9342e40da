/* fnattab.h: where a flow is in full NAT's tables (fnat.h): the tables'
 * set counts, the searches of their sets (fnat_find4/6 for the forward
 * tables, fnat_rev_find4/6 for the reverse ones) and FNAT_AT, the entry
 * where a search found it. Apart from fnat.h so that icmp.h, included
 * before it, can find a full-NAT flow's real for an ICMP error. */
#ifndef XLB_FNATTAB_H
#define XLB_FNATTAB_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include "consts.h"
#include "structs.h"
#include "maps.h"
#include "hash.h"
#include "conntab.h"
#include "nattab.h"

/* The forward and reverse tables' set counts, set by Go at load time
 * with their max_entries (as conn_sets4 and conn_sets6). */
volatile const __u32 fnat_sets4 = MAX_CONN_SETS;
volatile const __u32 fnat_sets6 = MAX_CONN_SETS6;
volatile const __u32 fnat_rev_sets4 = MAX_CONN_SETS;
volatile const __u32 fnat_rev_sets6 = MAX_CONN_SETS6;

/* FNAT_NOWHERE is what the full-NAT finds return for a key no set holds. */
#define FNAT_NOWHERE 0xffffffffu

/* set_find4 and set_find6 return where key k is in table (a full-NAT
 * forward or reverse table of sets sets, whose sets start with their
 * keys, IPv6 with the keys' hashes first: structs.h checks): its set's
 * index times CONN_WAYS plus its way, FNAT_NOWHERE if the set of its
 * connection-table hash holds none; searched as the NAT reverse sets are
 * (table_way4, table_way6). Inlined into the global finds below. */
static __always_inline __u32 set_find4(void *table, __u32 sets, const struct flow4 *k)
{
	const __u32 *kw = (const __u32 *)k;
	__u32 set = hash_to_slot(conn_hash4(k), sets);
	const struct flow4 *keys = bpf_map_lookup_elem(table, &set);

	if (!keys)
		return FNAT_NOWHERE;
	__u32 i = table_way4(keys, kw[0], kw[1], kw[2], kw[3]);
	return i < CONN_WAYS ? set * CONN_WAYS + i : FNAT_NOWHERE;
}

static __always_inline __u32 set_find6(void *table, __u32 sets, const struct flow *k)
{
	__u32 h = conn_hash6(k);
	__u32 set = hash_to_slot(h, sets);
	const __u32 *hashes = bpf_map_lookup_elem(table, &set);

	if (!hashes)
		return FNAT_NOWHERE;
	__u32 i = table_way6(hashes, (const struct flow *)(hashes + CONN_WAYS), k, h);
	return i < CONN_WAYS ? set * CONN_WAYS + i : FNAT_NOWHERE;
}

/* fnat_find4 and fnat_find6 find a client's flow key k in fnat4 or fnat6,
 * fnat_rev_find4 and fnat_rev_find6 a reply's in fnat_rev4 or fnat_rev6
 * (set_find4, set_find6). Global functions, verified once on their own:
 * the searches inlined into fnat_forward and fnat_reply took the program
 * past the verifier's million instructions. A full-NAT packet pays the
 * call. */
__noinline __u32 fnat_find4(const struct flow4 *k)
{
	return k ? set_find4(&fnat4, fnat_sets4, k) : FNAT_NOWHERE;
}

__noinline __u32 fnat_find6(const struct flow *k)
{
	return k ? set_find6(&fnat6, fnat_sets6, k) : FNAT_NOWHERE;
}

__noinline __u32 fnat_rev_find4(const struct flow4 *k)
{
	return k ? set_find4(&fnat_rev4, fnat_rev_sets4, k) : FNAT_NOWHERE;
}

__noinline __u32 fnat_rev_find6(const struct flow *k)
{
	return k ? set_find6(&fnat_rev6, fnat_rev_sets6, k) : FNAT_NOWHERE;
}

/* FNAT_AT returns the entry of table, whose sets are of type set_type,
 * where a find found it (at), NULL for FNAT_NOWHERE. A macro: the four
 * tables' entries are of two types. The barrier keeps clang from adding
 * the way's offset to a pointer that may still be NULL, which the
 * verifier refuses. */
#define FNAT_AT(table, set_type, at)                                                             \
	({                                                                                       \
		__u32 at_ = (at), set_ = at_ / CONN_WAYS;                                        \
		struct set_type *s_ = at_ == FNAT_NOWHERE ? NULL : bpf_map_lookup_elem(&table, &set_); \
		__typeof__(&s_->val[0]) v_ = NULL;                                               \
		if (s_) {                                                                        \
			asm volatile("" ::: "memory");                                          \
			v_ = &s_->val[at_ & (CONN_WAYS - 1)];                                    \
		}                                                                                \
		v_;                                                                              \
	})

#endif
