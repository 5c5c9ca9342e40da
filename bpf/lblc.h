/* lblc.h: the locality-based schedulers, lblc and lblcr, with IPVS's rules
 * (controlplane/sched doc.go). A new flow's destination address (the VIP,
 * or for services spanning addresses the address the client asked for)
 * is looked up with its service in localities:
 *
 *   - lblc keeps one real per destination and sends the flow there while
 *     that real is still in the service with weight > 0 and not
 *     overloaded; otherwise wlc over the service's reals picks one, which
 *     replaces it.
 *   - lblcr keeps a set per destination (newest first) and sends the flow
 *     to the set's weighted least-loaded member; when there is none, or it
 *     is overloaded, wlc's pick joins the set. A set of two or more that
 *     has not changed for locality_shrink_ns sheds its most loaded member
 *     when next used.
 *
 * Overloaded is IPVS's is_overloaded: more active flows than its weight
 * while some real of the service has fewer than half its weight. Entries
 * idle past locality_expiration_ns count as absent (IPVS's timer collects
 * them). The weights and the wlc scan come from the service's sched_list,
 * the loads from the shared real_conns counts, as for wlc. Each member
 * remembers its index in the list (hint), so a use reads the members' loads
 * without a scan; a stale hint (the list changed) is looked up again, and
 * the list is scanned once (bpf_loop) for the overload test and a wlc
 * pick.
 *
 * Deviations (docs/operator-guide.md): a set holds at most
 * LOCALITY_SET_MAX reals, and when full the most loaded member makes room
 * for the one joining; members whose real was deleted or replaced (a new
 * generation) leave the set when it is next used, where IPVS keeps them
 * until the set sheds them; an entry is rewritten whole (copy, change,
 * update), so two CPUs changing one destination's set at the same time keep
 * one of the two changes. */
#ifndef XLB_LBLC_H
#define XLB_LBLC_H

#include <stdbool.h>
#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "structs.h"
#include "maps.h"
#include "ct.h"

/* Set by Go at load time (maps.Options.LocalityExpiration,
 * LocalityShrink), as the connection timeouts in ct.h: how long an entry
 * may go unused, and how long an lblcr set of two or more must go
 * unchanged before it sheds a member. IPVS uses lblcr_expiration for both. */
volatile const __u64 locality_expiration_ns = LOCALITY_EXPIRATION_S * NSEC_PER_SEC;
volatile const __u64 locality_shrink_ns = LOCALITY_EXPIRATION_S * NSEC_PER_SEC;

/* locality_walk is the state of locality_pick's loops (bpf_loop), one
 * struct for all to keep the stack small: the walks over a set's members
 * (prune, extreme) and the scan of the service's list (wlc's pick, and
 * whether some real is under half load). */
struct locality_walk {
	struct locality *loc;
	struct sched_list *list;
	__u64 cost, weight, active; /* extreme: the pick's */
	__u64 best_cost, best_weight; /* scan: wlc's pick's */
	__s32 pick;                 /* extreme: the pick's index, -1 for none */
	__u32 kept;                 /* prune: members kept so far */
	__u32 best;                 /* scan: wlc's pick, 0 for none */
	__u8 best_hint;             /* scan: its index in the list */
	__u8 under;                 /* scan: some real has active*2 < weight */
	__u8 scanned;               /* scan: done */
	__u8 most;                  /* extreme: the most loaded, not the least */
	__u8 changed;               /* prune: a member left or a hint moved */
	__u8 pad[7];
};

/* real_load reads real id's load from real_conns: its active count and
 * wlc's overhead (active*256 + inactive), counts the LRU left negative
 * taken as 0. False without an entry. Inlined: tiny. */
static __always_inline bool real_load(__u32 id, __u64 *active, __u64 *cost)
{
	struct conn_counts *rc = bpf_map_lookup_elem(&real_conns, &id);
	if (!rc)
		return false;
	__s64 a = rc->active, in = rc->inactive;
	*active = a > 0 ? a : 0;
	*cost = (*active << SCHED_ACTIVE_SHIFT) + (in > 0 ? in : 0);
	return true;
}

/* locality_step weighs real i of the scan's list (a bpf_loop callback), as
 * sched_step does for wlc: returns 1 at the list end. */
static long locality_step(__u64 i, void *ctx)
{
	struct locality_walk *s = ctx;
	struct sched_list *l = s->list;

	if (i >= MAX_SCHED_REALS || i >= l->count)
		return 1;
	__u32 id = l->reals[i].id;
	__u64 w = l->reals[i].weight;
	if (w == 0)
		return 0;
	__u64 active, cost;
	if (!real_load(id, &active, &cost))
		return 0;
	if (active * 2 < w)
		s->under = 1;
	if (s->best == 0 || s->best_cost * w > cost * s->best_weight) {
		s->best = id;
		s->best_cost = cost;
		s->best_weight = w;
		s->best_hint = i;
	}
	return 0;
}

/* locality_scan_run scans the list once per pick: later calls reuse the
 * result. Inlined: two call sites, one scan. */
static __always_inline void locality_scan_run(struct locality_walk *s)
{
	if (s->scanned)
		return;
	bpf_loop(MAX_SCHED_REALS, locality_step, s, 0);
	s->scanned = 1;
}

/* locality_find is a search of a sched_list for one real's index. */
struct locality_find {
	struct sched_list *list;
	__u32 id;
	__u32 index; /* LOCALITY_HINT_NONE until found */
};

/* locality_find_step compares real i of the list with the one sought (a
 * bpf_loop callback): returns 1 when found or at the list end. */
static long locality_find_step(__u64 i, void *ctx)
{
	struct locality_find *f = ctx;
	struct sched_list *l = f->list;

	if (i >= MAX_SCHED_REALS || i >= l->count)
		return 1;
	if (l->reals[i].id != f->id)
		return 0;
	f->index = i;
	return 1;
}

/* locality_hint returns where real id is in list, LOCALITY_HINT_NONE if
 * it is not there. Inlined: one call site, in a callback verified once. */
static __always_inline __u8 locality_hint(struct sched_list *list, __u32 id)
{
	struct locality_find f = {.list = list, .id = id, .index = LOCALITY_HINT_NONE};

	if (!list)
		return LOCALITY_HINT_NONE;
	bpf_loop(MAX_SCHED_REALS, locality_find_step, &f, 0);
	return f.index;
}

/* locality_prune_step keeps member j if its real is still the one it was
 * (present, not removed, same generation), moved down to index kept, and
 * refreshes a stale hint (a bpf_loop callback). Returns 1 past the last
 * member. */
static long locality_prune_step(__u64 j, void *ctx)
{
	struct locality_walk *w = ctx;
	struct locality *loc = w->loc;
	struct sched_list *l = w->list;

	if (j >= LOCALITY_SET_MAX || j >= loc->count)
		return 1;
	struct locality_member m = loc->members[j];
	__u32 id = m.real_id;
	struct real *r = bpf_map_lookup_elem(&reals, &id);
	if (!r || !real_usable(r) || r->gen != m.real_gen) {
		w->changed = 1;
		return 0;
	}
	__u32 h = m.hint;
	if (h >= MAX_SCHED_REALS || h >= l->count || l->reals[h].id != id) {
		/* A member still out of the list (quiesced) is looked up on
		 * every use, but written back only when it moved. */
		__u8 found = locality_hint(l, id);
		if (found != m.hint)
			w->changed = 1;
		m.hint = found;
	}
	__u32 k = w->kept;
	if (k < LOCALITY_SET_MAX) {
		loc->members[k] = m;
		w->kept = k + 1;
	}
	return 0;
}

/* locality_extreme_step weighs member j (a bpf_loop callback): members
 * in the list with weight > 0 compete, as IPVS's ip_vs_dest_set_min and
 * _max (compared as cost1*w2 > cost2*w1, the earlier winning ties).
 * Returns 1 past the last member. */
static long locality_extreme_step(__u64 j, void *ctx)
{
	struct locality_walk *w = ctx;
	struct locality *loc = w->loc;
	struct sched_list *l = w->list;

	if (j >= LOCALITY_SET_MAX || j >= loc->count)
		return 1;
	__u32 id = loc->members[j].real_id;
	__u32 h = loc->members[j].hint;
	if (h >= MAX_SCHED_REALS || h >= l->count || l->reals[h].id != id)
		return 0;
	__u64 weight = l->reals[h].weight, active, cost;
	if (weight == 0 || !real_load(id, &active, &cost))
		return 0;
	if (w->pick < 0 || (w->most ? w->cost * weight < cost * w->weight : w->cost * weight > cost * w->weight)) {
		w->pick = j;
		w->cost = cost;
		w->weight = weight;
		w->active = active;
	}
	return 0;
}

/* locality_extreme returns the index of the set's weighted least (most:
 * most) loaded member, -1 if none is in the list with weight > 0, and in
 * w its active count and weight. Inlined: a pick runs it at most twice. */
static __always_inline int locality_extreme(struct locality_walk *w, bool most)
{
	w->pick = -1;
	w->most = most;
	w->cost = w->weight = w->active = 0;
	bpf_loop(LOCALITY_SET_MAX, locality_extreme_step, w, 0);
	return w->pick;
}

/* locality_erase removes member k, keeping the others' order. Inlined:
 * rare (a shrink, or a full set making room). */
static __always_inline void locality_erase(struct locality *loc, int k)
{
	for (int j = 0; j < LOCALITY_SET_MAX - 1; j++)
		if (j >= k)
			loc->members[j] = loc->members[j + 1];
	loc->members[LOCALITY_SET_MAX - 1] = (struct locality_member){};
	if (loc->count > 0)
		loc->count--;
}

/* locality_pick returns the real for a new flow to f's destination under
 * an lblc or lblcr (sched) service, 0 if there is none, and records what
 * it decided in localities. Global, unlike the other functions: the
 * verifier checks a global function once, on its own, where a static one
 * is checked again for every path of the caller that reaches it (which
 * took the program past the verifier's instruction limit). */
__noinline __u32 locality_pick(__u32 svc_id, const struct flow *f, __u8 is_v6, __u8 sched)
{
	if (!f)
		return 0;
	struct locality_key key = {.service_id = svc_id};
	__u32 *kw = (__u32 *)key.addr;
	const __u32 *dw = (const __u32 *)f->daddr;

	if (is_v6) {
		for (int i = 0; i < V4_MAPPED_WORDS; i++)
			kw[i] = dw[i];
	} else {
		/* The parser writes only an IPv4 address's last word. */
		kw[V4_MAPPED_WORDS - 2] = bpf_htonl(V4_MAPPED_MARK);
		kw[V4_MAPPED_WORDS - 1] = dw[V4_MAPPED_WORDS - 1];
	}
	struct sched_list *list = bpf_map_lookup_elem(&sched_lists, &svc_id);
	if (!list)
		return 0;

	/* The working copy of the entry lives in a per-CPU scratch value,
	 * not on the stack: all frames of the program share 512 bytes. */
	__u32 zero = 0;
	struct locality *lp = bpf_map_lookup_elem(&locality_scratch, &zero);
	if (!lp)
		return 0;
	__u64 now = ct_now();
	struct locality *e = bpf_map_lookup_elem(&localities, &key);
	if (e && ct_idle(now, e->last_use) <= locality_expiration_ns) {
		__builtin_memcpy(lp, e, sizeof(*lp));
		/* An entry read by every new flow is written at most once per
		 * CONN_TOUCH_NS when nothing else changes. */
		if (ct_idle(now, lp->last_use) >= CONN_TOUCH_NS)
			e->last_use = now;
	} else {
		__builtin_memset(lp, 0, sizeof(*lp));
	}

	/* Members whose real was deleted or replaced leave the set; a stale
	 * hint (the list changed) is looked up again. */
	struct locality_walk w = {.loc = lp, .list = list};
	bpf_loop(LOCALITY_SET_MAX, locality_prune_step, &w, 0);
	bool write = w.changed;
	for (int j = 0; j < LOCALITY_SET_MAX; j++)
		if (j >= w.kept)
			lp->members[j] = (struct locality_member){};
	lp->count = w.kept;

	int k = locality_extreme(&w, false);
	__u64 active = w.active, weight = w.weight;
	__u32 id = 0;
	if (k >= 0 && k < LOCALITY_SET_MAX)
		id = lp->members[k].real_id;

	/* IPVS picks the set's member first, then sheds: the member shed may
	 * be the one that still serves this flow. */
	if (sched == SCHED_LBLCR && lp->count > 1 && ct_idle(now, lp->last_mod) > locality_shrink_ns) {
		int most = locality_extreme(&w, true);
		if (most >= 0) {
			locality_erase(lp, most);
			lp->last_mod = now;
			write = true;
		}
	}

	if (id) {
		bool over = false;
		if (active > weight) {
			locality_scan_run(&w);
			over = w.under;
		}
		if (!over)
			goto out;
	}

	/* None, or overloaded: wlc over the service's reals. */
	locality_scan_run(&w);
	id = w.best;
	if (!id)
		goto out;
	struct real *r = bpf_map_lookup_elem(&reals, &id);
	if (!r || !real_usable(r))
		goto out; /* schedule() drops the flow */
	struct locality_member m = {.real_id = id, .real_gen = r->gen, .hint = w.best_hint};
	if (sched == SCHED_LBLC) {
		if (lp->count != 1 || lp->members[0].real_id != id) {
			lp->members[0] = m;
			lp->count = 1;
			write = true;
		}
		goto out;
	}
	for (int j = 0; j < LOCALITY_SET_MAX; j++)
		if (j < lp->count && lp->members[j].real_id == id)
			goto out;
	if (lp->count >= LOCALITY_SET_MAX) {
		int most = locality_extreme(&w, true);
		locality_erase(lp, most >= 0 ? most : LOCALITY_SET_MAX - 1);
	}
	for (int j = LOCALITY_SET_MAX - 1; j > 0; j--)
		lp->members[j] = lp->members[j - 1];
	lp->members[0] = m;
	lp->count++;
	lp->last_mod = now;
	write = true;
out:
	if (write) {
		lp->last_use = now;
		bpf_map_update_elem(&localities, &key, lp, BPF_ANY);
	}
	return id;
}

#endif
