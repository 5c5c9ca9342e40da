//go:build ignore

// SPDX-License-Identifier: GPL-2.0
/* xlb.c: the XDP entry point. It only wires the headers:
 * parse (parse.h) -> the VIP hint, then the connection table (ct.h;
 * conns4 or conns6, by family; ops services' packets are never tracked)
 * and the service through the tracked real (fast.h), or the services
 * lookup (services4 or services, then service_ids by id)
 * -> on a new, expired or orphaned flow the
 * client's persistence template (persist.h) or the service's scheduler (a
 * Maglev slot, hash.h; the rr/wrr sequence; the lc/wlc/sed/nq scan; or
 * lblc/lblcr's locality table, lblc.h) -> real -> rewrite MACs (DR),
 * push an outer header (TUN, encap.h) or rewrite the destination and route
 * (NAT, nat.h), and for full NAT (fnat.h) the source too, to a local
 * address and port -> XDP_TX or redirect. ICMP errors about tracked flows
 * follow their flow (icmp.h); a TUN packet too big for the tunnel is
 * answered with a PTB (icmp.h). On interfaces facing NAT or full-NAT reals
 * (ifaces) a reply lookup comes first. Every verdict bumps one verdict
 * reason, every conntrack lookup but a hit one event (enum reason; hits
 * are derived in Go). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "consts.h"
#include "structs.h"
#include "eth.h"
#include "maps.h"
#include "parse.h"
#include "hash.h"
#include "counters.h"
#include "ct.h"
#include "conntab.h"
#include "lblc.h"
#include "encap.h"
#include "nat.h"
#include "natcache.h"
#include "persist.h"
#include "icmp.h"
#include "fast.h"

char LICENSE[] SEC("license") = "GPL";

/* port0_services is non-zero while a service listens on port 0 (all
 * ports, keepalived's "virtual_server IP 0"): only then does a packet whose
 * (VIP, port, proto) is no service pay a second lookup, of (VIP, 0, proto).
 * Set by Go (maps.PutService, DeleteService); a global in .bss, one load. */
volatile __u32 port0_services;

/* marked_ifaces is non-zero while some interface has flags in ifaces
 * (facing NAT or full-NAT reals): only then does a packet pay the ifaces
 * lookup, so that a node balancing DR and TUN only reads one global
 * instead of an array entry per packet. Set by Go (maps.SetInside,
 * SetFNATInside); a global in .bss, one load. */
volatile __u32 marked_ifaces;

/* btf_anchor is never called. Its parameters put into BTF, in full, types
 * clang 14 would leave out or only forward-declare: enums used only as
 * constants (bpf2go needs them to emit Go constants) and struct maglev_bucket,
 * which the inner map template only reaches through a pointer (the loader
 * needs its size; passed by value because a pointer parameter would again
 * be forward-declared). Global, so the compiler keeps it; nothing loads it. */
void btf_anchor(enum reason r, enum lb_kind k, struct maglev_bucket b)
{
}

/* btf_anchor_flags is btf_anchor's second half (BPF functions take at most
 * five arguments). */
void btf_anchor_flags(enum conn_state s, enum service_flag sf, enum real_flag rf, enum iface_flag ff)
{
}

/* btf_anchor_sched is btf_anchor's third part: the scheduler enum. */
void btf_anchor_sched(enum sched_kind k)
{
}

/* sched_scan is sched_least's state across the reals of one scan. */
struct sched_scan {
	struct sched_list *list;
	__u64 best_cost, best_weight;
	__u32 sched;
	__u32 best;
};

/* sched_step weighs real i of the scan's list (a bpf_loop callback):
 * returns 1 to stop the scan (list end, or nq found an idle real). */
static long sched_step(__u64 i, void *ctx)
{
	struct sched_scan *s = ctx;
	struct sched_list *l = s->list;

	if (i >= MAX_SCHED_REALS || i >= l->count)
		return 1;
	__u32 id = l->reals[i].id;
	__u64 w = l->reals[i].weight;
	if (w == 0)
		return 0;
	/* cost starts as lc's and wlc's overhead (real_load, lblc.h). */
	__u64 active, cost;
	if (!real_load(id, &active, &cost))
		return 0;
	switch (s->sched) {
	case SCHED_LC:
		w = 1; /* lc ignores weights but 0 */
		break;
	case SCHED_WLC:
		break;
	case SCHED_NQ:
		if (active == 0) {
			s->best = id;
			return 1;
		}
		cost = active + 1;
		break;
	default: /* SCHED_SED */
		cost = active + 1;
	}
	if (s->best == 0 || s->best_cost * w > cost * s->best_weight) {
		s->best = id;
		s->best_cost = cost;
		s->best_weight = w;
	}
	return 0;
}

/* sched_least picks the real of a new flow of an lc, wlc, sed or nq
 * service (sched) from its sched_list with the shared connection counts,
 * scanning the list once in order: IPVS's rules (controlplane/sched
 * doc.go). lc takes the least overhead = active*256 + inactive; wlc the
 * least overhead/weight, sed the least (active+1)/weight, both compared
 * as cost1*w2 > cost2*w1 so that no division is needed, the earlier real
 * winning ties; nq the first real without active flows, else sed's pick.
 * Reals of weight 0 are skipped; a count left negative by drift counts
 * as 0. Returns the id, 0 if there is none. bpf_loop, not a for loop: the
 * verifier checks the callback once instead of every iteration's
 * branches (a 64-iteration loop took minutes to verify), and inlines the
 * helper into a loop with a direct call. Inlined: once per new flow of
 * such a service. */
static __always_inline __u32 sched_least(__u32 svc_id, __u32 sched)
{
	struct sched_scan s = {.sched = sched};

	s.list = bpf_map_lookup_elem(&sched_lists, &svc_id);
	if (!s.list)
		return 0;
	bpf_loop(MAX_SCHED_REALS, sched_step, &s, 0);
	return s.best;
}

/* schedule picks a real for p's flow by the service's scheduler and
 * returns it (NULL: none) and its id. Maglev (mh, sh, dh): the slot of the
 * service's table comes from the flow hash (mh), or from the client's (sh,
 * SERVICE_F_HASH_SRC) or destination's (dh, SERVICE_F_HASH_DST) address
 * alone, so that all of a client's flows (sh) or all flows to one address
 * (dh) share a real. rr and wrr: the slot is this CPU's position in the
 * service's sequence, which then moves on by one. lc, wlc, sed, nq: a scan
 * of the service's reals (sched_least). lblc, lblcr: the destination's
 * entry in localities, else wlc (locality_pick, lblc.h), when locality is
 * true (the caller has seen that the service is lblc or lblcr), and only
 * then; with locality false, lblc and lblcr find no real. Two callers
 * run with locality false, each in a frame of its own (choose_real_id,
 * fnat.h's full NAT path), and with locality_pick's frame and callback
 * below them the program's frames would pass the 512 bytes of stack they
 * share: so pick_real calls locality_pick from the entry function's
 * frame, and the control plane serves no FNAT service with lblc or lblcr.
 * Inlined: once per new flow. */
static __always_inline struct real *schedule(const struct service *svc, struct packet *p, __u32 *real_id,
					     const bool locality)
{
	__u32 svc_id = svc->id;
	__u32 table_size = svc->table_size;
	__u8 sched = svc->sched;
	__u32 id;

	if (locality) {
		id = locality_pick(svc_id, &p->flow, p->is_v6, sched);
	} else if (sched >= SCHED_LC) {
		if (sched >= SCHED_MAX || sched == SCHED_LBLC || sched == SCHED_LBLCR)
			return NULL;
		id = sched_least(svc_id, sched);
	} else {
		if (table_size == 0)
			return NULL;
		void *table = bpf_map_lookup_elem(&maglev_tables, &svc_id);
		if (!table)
			return NULL;
		__u32 slot;
		if (sched == SCHED_MAGLEV) {
			/* sh and dh key the table by one address, mh (no flag) by
			 * the flow: one test of flags on the 5-tuple path. */
			__u32 hash;
			__u8 flags = svc->flags;
			if (flags & (SERVICE_F_HASH_SRC | SERVICE_F_HASH_DST)) {
				const __u8 *addr = (flags & SERVICE_F_HASH_DST) ? p->flow.daddr : p->flow.saddr;
				hash = addr_hash((const __u32 *)addr, p->is_v6);
			} else {
				hash = flow_hash(&p->flow, p->is_v6);
			}
			slot = hash_to_slot(hash, table_size);
		} else {
			__u32 *pos = bpf_map_lookup_elem(&sched_pos, &svc_id);
			if (!pos)
				return NULL;
			slot = *pos;
			/* A sequence swapped for a shorter one leaves the
			 * position beyond it: carry on modulo the new length
			 * (a division only then). */
			if (slot >= table_size)
				slot %= table_size;
			*pos = slot + 1 < table_size ? slot + 1 : 0;
		}
		__u32 bucket = slot / MAGLEV_SLOTS_PER_BUCKET;
		struct maglev_bucket *b = bpf_map_lookup_elem(table, &bucket);
		if (!b)
			return NULL;
		id = b->real_id[slot % MAGLEV_SLOTS_PER_BUCKET];
	}
	if (id == 0)
		return NULL;
	struct real *r = bpf_map_lookup_elem(&reals, &id);
	if (!r || !real_usable(r))
		return NULL;
	*real_id = id;
	return r;
}

/* choose_real picks the real of a new flow of svc: the client's
 * persistence template when the service is persistent and the template
 * holds (persist.h), else the scheduler, whose pick then becomes the
 * template. Inlined: once per new flow. */
static __always_inline struct real *choose_real(const struct service *svc, struct packet *p, __u64 now, __u32 *real_id,
						const bool locality)
{
	if (!(svc->flags & SERVICE_F_PERSIST))
		return schedule(svc, p, real_id, locality);
	struct persist *t = persist_lookup(svc, p);
	struct real *r = persist_use(svc, t, now, real_id);
	if (r)
		return r;
	r = schedule(svc, p, real_id, locality);
	if (r)
		persist_store(svc, p, t, *real_id, r->gen, now);
	return r;
}

/* choose_real_id is choose_real for a service that is not lblc or lblcr
 * (locality false): the id of the real of p's new flow of svc, seen now;
 * 0 if there is none. A global function, so the verifier checks it once,
 * on its own, instead of once for every path that reaches a new flow
 * (both families, every kind, a miss or an expired or orphaned entry):
 * that took the program from 853k processed instructions (of the
 * verifier's million) to 524k, and its load from 7 to 3 s. A new flow
 * pays the call and one more reals lookup. */
__noinline __u32 choose_real_id(const struct service *svc, struct packet *p, __u64 now)
{
	__u32 id = 0;

	/* A global function's pointer arguments may be NULL, as far as the
	 * verifier knows. */
	if (!svc || !p)
		return 0;
	return choose_real(svc, p, now, &id, false) ? id : 0;
}

/* ct_write says what pick_real wrote to the connection table: the state
 * and clock of an entry it created or refreshed (written 0: nothing, an
 * established packet within CONN_TOUCH_NS). NAT mirrors them into the
 * reverse entry. */
struct ct_write {
	__u64 now;
	__u8 written;
	__u8 state;
	__u8 fresh; /* a new flow was scheduled: counts in the conns counters */
};

/* ct_touch brings entry c of p's tracked flow, kept on its real id (of
 * svc), to the packet's state and clock now: written only on a state
 * change and at most once per CONN_TOUCH_NS (most packets write
 * nothing), cw saying what it wrote; the client's persistence template
 * with it, which lives while one of its flows does. pick_real's and full
 * NAT's (fnat_ct_pick) one copy of it. The tests around it stay with each
 * caller: one helper for the whole tracked branch cost DR IPv6 1.3 ns
 * and the verifier 29k instructions (registers allocated otherwise).
 * Inlined: once per tracked packet of each. */
static __always_inline void ct_touch(const struct service *svc, struct packet *p, struct conn *c, __u32 id,
				     __u64 now, struct ct_write *cw)
{
	__u8 state = conn_next_state(c->state, p->flow.proto, p->tcp_flags);

	if (state == c->state && ct_idle(now, c->last_seen) < CONN_TOUCH_NS)
		return;
	conns_move(id, c->state, state);
	c->state = state;
	c->last_seen = now;
	cw->written = 1;
	cw->state = state;
	if (svc->flags & SERVICE_F_PERSIST)
		persist_touch(svc, p, id, c->real_gen, now);
}

/* pick_real returns the real for p's flow and its id: the tracked one
 * (c, its connection table entry, NULL if none; k4 its conns4 key for
 * IPv4) if the entry is fresh and its real still usable (so a flow keeps
 * its real across weight changes and quiescing); else a scheduled one, which the
 * connection table then remembers. NULL and why when there is none.
 * Inlined: once per VIP packet. */
static __always_inline struct real *pick_real(const struct service *svc, struct packet *p, struct conn *c,
					      struct flow4 *k4, __u32 *real_id, enum reason *why,
					      struct ct_write *cw)
{
	__u64 now = ct_now();
	cw->now = now;
	cw->written = 0;
	cw->fresh = 0;
	struct real *r;
	bool ops = false;

	if (c) {
		/* An entry is over when idle past its timeout or when a new
		 * connection reopens its closed 5-tuple: both count expired.
		 * conn_expired's test written out: through the helper, clang
		 * emits code that took the verifier past its million
		 * instructions (measured; the same test in fnat.h does not). */
		if (ct_idle(now, c->last_seen) > conn_timeout(c->state) ||
		    conn_reopened(c->state, p->flow.proto, p->tcp_flags)) {
			count_reason(REASON_CT_EXPIRED);
		} else {
			__u32 id = c->real_id;
			r = bpf_map_lookup_elem(&reals, &id);
			if (r && real_usable(r) && r->gen == c->real_gen) {
				/* No count: a hit is what is left of the lookups
				 * (REASON_CT_HIT in consts.h). */
				ct_touch(svc, p, c, id, now, cw);
				*real_id = id;
				return r;
			}
			count_reason(REASON_CT_REAL_GONE);
			if (svc->flags & SERVICE_F_DROP_REMOVED) {
				*why = REASON_DROP_REAL_REMOVED;
				return NULL;
			}
		}
	} else {
		/* ops: each packet is a flow of its own, never tracked (a NAT
		 * service still writes the reverse entry, so replies find the
		 * VIP). Tested here, on a miss, which is all an ops service's
		 * packets get: an ops packet pays the failed lookup, tracked
		 * flows pay no test. */
		ops = svc->flags & SERVICE_F_OPS;
		count_reason(ops ? REASON_OPS : REASON_CT_MISS);
	}

	/* lblc and lblcr: locality_pick from this frame (schedule says
	 * why); the others through choose_real_id. */
	__u8 sched = svc->sched;
	if (sched == SCHED_LBLC || sched == SCHED_LBLCR) {
		r = choose_real(svc, p, now, real_id, true);
	} else {
		__u32 id = choose_real_id(svc, p, now);
		r = id ? bpf_map_lookup_elem(&reals, &id) : NULL;
		if (r && !real_usable(r))
			r = NULL;
		*real_id = id;
	}
	if (!r) {
		*why = REASON_DROP_NO_REAL;
		return NULL;
	}
	/* The new entry's fields go straight into its way (conn_write): a
	 * struct conn built on the stack first took the program past the
	 * verifier's stack limit. */
	__u8 state = conn_next_state(0, p->flow.proto, p->tcp_flags);
	__u16 gen = r->gen;
	cw->written = 1;
	cw->state = state;
	cw->fresh = 1;
	if (ops)
		return r;
	conns_add(*real_id, state, 1);
	if (c) {
		/* Only a flow not past its timeout still counts on its real:
		 * an expired one is Go's resync's to take off (conntab.h). */
		if (!conn_expired(c, now))
			conns_forget(c);
		conn_write(c, *real_id, gen, state, now); /* in place: no second lookup */
	} else if (p->is_v6) {
		conn_insert6(&p->flow, *real_id, gen, state, now);
	} else {
		conn_insert4(k4, *real_id, gen, state, now);
		/* Keeps clang from merging the two families' inserts, whose
		 * merged code the verifier then rejects. */
		asm volatile("" ::: "memory");
	}
	return r;
}

/* Full NAT uses schedule, the counters and nat.h: included here. */
#include "fnat.h"

/* nat_touch_forward brings the forward entry of the NAT flow that reply
 * p belongs to (found as rv) to state and clock now: the reply's 5-tuple
 * reversed, with the VIP for the real. Not inlined: it runs at most once
 * per CONN_TOUCH_NS and state change per flow, and its IPv6 key and
 * lookup, inlined, took the program past the verifier's stack limit. */
static __noinline void nat_touch_forward(struct packet *p, const struct nat_rev *rv, __u8 state, __u64 now)
{
	__u32 *fw = flow_words(&p->flow);
	const __u32 *vw = (const __u32 *)rv->vip;
	struct conn *c;

	if (p->is_v6) {
		struct flow k = {};
		__u32 *kw = flow_words(&k);
		for (int i = 0; i < V4_MAPPED_WORDS; i++) {
			kw[i] = fw[V4_MAPPED_WORDS + i];
			kw[V4_MAPPED_WORDS + i] = vw[i];
		}
		kw[FLOW_WORDS - 2] = PORTS_WORD(p->flow.dport, rv->vport);
		kw[FLOW_WORDS - 1] = fw[FLOW_WORDS - 1];
		c = conn_lookup6(&k);
	} else {
		struct flow4 k4;
		__u32 *kw = (__u32 *)&k4;
		kw[0] = fw[2 * V4_MAPPED_WORDS - 1];
		kw[1] = vw[V4_MAPPED_WORDS - 1];
		kw[2] = PORTS_WORD(p->flow.dport, rv->vport);
		kw[3] = fw[FLOW_WORDS - 1];
		c = conn_lookup4(&k4);
	}
	if (c) {
		if (state != c->state) {
			__u32 id = c->real_id;
			struct real *r = bpf_map_lookup_elem(&reals, &id);
			if (r && r->gen == c->real_gen)
				conns_move(id, c->state, state);
		}
		c->state = state;
		c->last_seen = now;
	}
}

/* nat_reply handles p if it is a reply of a tracked NAT flow: source back
 * to VIP:vport, out counters, routed by the flow's cached hop or the FIB
 * (nat_reply_send); true and the verdict in
 * *verdict. False (the caller goes on as for any packet) if nat4/nat6 has
 * no fresh entry for it. Inlined: once per packet on inside interfaces. */
static __always_inline bool nat_reply(struct xdp_md *ctx, struct packet *p, int *verdict)
{
	struct nat_rev *rv = nat_lookup(&p->flow, p->is_v6);

	if (!rv)
		return false;
	__u64 now = ct_now();
	if (ct_idle(now, rv->last_seen) > conn_timeout(rv->state))
		return false;
	__u8 state = conn_reply_state(rv->state, p->flow.proto, p->tcp_flags);
	bool touched = false;
	if (state != rv->state || ct_idle(now, rv->last_seen) >= CONN_TOUCH_NS) {
		rv->state = state;
		rv->last_seen = now;
		nat_touch_forward(p, rv, state, now);
		touched = true;
	}

	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = data_end - data; /* as received */
	count_reply(rv->real_id, len);
	if (!nat_rewrite(data, data_end, p, true, rv->vip, rv->vport)) {
		count_reason(REASON_DROP_MALFORMED);
		*verdict = XDP_DROP;
		return true;
	}
	/* The flow's cached next hop, asked again at every touch
	 * (natcache.h). */
	enum reason why;
	*verdict = nat_reply_send(ctx, p, &rv->hop, &rv->hop_mtu, touched, &why);
	count_reason(why);
	return true;
}

/* service_by_key returns the service of p's destination: by the id its
 * services4 (IPv4) or services (IPv6) entry holds, the service_ids one,
 * so that the program's service pointer is always into service_ids, as
 * tracked_service's (struct service_entry says why: pointers into
 * services4 too took the verifier from 657k to 745k instructions); while
 * all-ports services exist, the entry at port 0 when there is none at
 * p's port. NULL if none, or if service_ids does not hold the id (a
 * service being written or deleted). One call site per map, so the
 * verifier inlines each lookup. Inlined: once per hinted packet that is
 * not a tracked one. */
static __always_inline const struct service *service_by_key(struct packet *p)
{
	struct service *ks;
	if (!p->is_v6) {
		struct vip4_key key4;
		fill_vip4_key(&key4, &p->flow);
		ks = bpf_map_lookup_elem(&services4, &key4);
		if (!ks && port0_services) {
			((__u32 *)&key4)[1] = vip_port0_proto(&p->flow);
			ks = bpf_map_lookup_elem(&services4, &key4);
		}
	} else {
		struct vip_key key;
		fill_vip_key(&key, &p->flow);
		ks = bpf_map_lookup_elem(&services, &key);
		if (!ks && port0_services) {
			((__u32 *)&key)[VIP_KEY_WORDS - 1] = vip_port0_proto(&p->flow);
			ks = bpf_map_lookup_elem(&services, &key);
		}
	}
	if (!ks)
		return NULL;
	__u32 id = ks->id;
	struct service_entry *e = bpf_map_lookup_elem(&service_ids, &id);
	if (!e || e->svc.id != id)
		return NULL;
	return &e->svc;
}

SEC("xdp")
int xlb_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct packet p;
	enum reason why;

	if (!parse_packet(data, data_end, &p, &why)) {
		/* An ICMP error may be about a tracked flow (icmp.h). */
		if (why == REASON_PASS_OTHER_L4 &&
		    p.flow.proto == (p.is_v6 ? IPPROTO_ICMPV6_NUM : IPPROTO_ICMP_NUM)) {
			__u32 res = icmp_error(ctx, icmp_meta(&p));
			count_reason(res >> ICMP_WHY_SHIFT);
			return res & META_BYTE;
		}
		count_reason(why);
		return why == REASON_DROP_MALFORMED ? XDP_DROP : XDP_PASS;
	}

	/* Replies from NAT and full-NAT reals: only on interfaces marked
	 * as facing them. */
	__u32 ifindex = ctx->ingress_ifindex;
	struct iface *ifc = marked_ifaces ? bpf_map_lookup_elem(&ifaces, &ifindex) : NULL;
	if (ifc && ifc->flags) {
		int verdict;
		if ((ifc->flags & IFACE_F_INSIDE) && nat_reply(ctx, &p, &verdict))
			return verdict;
		if ((ifc->flags & IFACE_F_FNAT) && fnat_reply(ctx, &p, &verdict))
			return verdict;
	}

	/* The VIP hint, then the connection table before the services
	 * (fast.h). k4, conns4's key, is also what an IPv4 new flow is
	 * inserted at (pick_real). One call site per map, so the verifier
	 * inlines each lookup. */
	struct flow4 k4;
	struct conn *c = NULL;
	const struct service *svc = NULL;
	__u32 hint = vip_hint(&p.flow, p.is_v6, port0_services);
	if (!p.is_v6)
		fill_flow4(&k4, &p.flow);
	if (hint & VIP_HINT_TRACKED) {
		if (p.is_v6)
			c = conn_lookup6(&p.flow);
		else
			c = conn_lookup4(&k4);
		/* Keeps clang from merging the two families' lookups, whose
		 * merged code the verifier then rejects. */
		asm volatile("" ::: "memory");
		if (c)
			svc = tracked_service(c, &p.flow, p.is_v6);
	}
	if (!svc && hint)
		svc = service_by_key(&p);
	if (!svc) {
		count_reason(REASON_PASS_NOT_VIP);
		return XDP_PASS;
	}
	__u8 kind = svc->kind;
	if (kind == LB_KIND_FNAT) {
		int verdict = fnat_forward(ctx, svc, &p);
		if (verdict != FNAT_ROUTE)
			return verdict;
		verdict = nat_route(ctx, &p, false, &why);
		count_reason(why);
		return verdict;
	}
	if (kind != LB_KIND_DR && kind != LB_KIND_TUN && kind != LB_KIND_NAT) {
		count_reason(REASON_DROP_UNKNOWN_KIND);
		return XDP_DROP;
	}
	__u32 real_id = 0;
	struct ct_write cw;
	struct real *r = pick_real(svc, &p, c, &k4, &real_id, &why, &cw);
	if (!r) {
		count_reason(why);
		return XDP_DROP;
	}

	__u64 len = data_end - data; /* as received */
	if (kind == LB_KIND_NAT) {
		/* No NAT64: the real must be of the VIP's family. */
		if (is_v4_mapped(r->addr) == p.is_v6) {
			count_reason(REASON_DROP_FAMILY);
			return XDP_DROP;
		}
		__be16 rport = r->port ? r->port : p.flow.dport;
		if (cw.written)
			nat_track(svc, &p, r, real_id, rport, cw.state, cw.now);
		count_traffic(real_id, len, cw.fresh);
		/* A real the control plane resolved goes as DR does, its TTL
		 * lowered with the rewrite; a routed one (ifindex 0) through
		 * the FIB. */
		int verdict;
		if (r->ifindex) {
			bool lowered = false;
			if (!nat_rewrite_ttl(data, data_end, &p, false, r->addr, rport, true, &lowered)) {
				count_reason(REASON_DROP_MALFORMED);
				return XDP_DROP;
			}
			verdict = nat_send_lowered(ctx, r, lowered, &why);
		} else {
			if (!nat_rewrite(data, data_end, &p, false, r->addr, rport)) {
				count_reason(REASON_DROP_MALFORMED);
				return XDP_DROP;
			}
			verdict = nat_route(ctx, &p, false, &why);
		}
		count_reason(why);
		return verdict;
	}
	/* DR and TUN need a real on a link: a routed one is for NAT only. */
	if (r->ifindex == 0) {
		count_reason(REASON_DROP_NO_REAL);
		return XDP_DROP;
	}
	if (kind == LB_KIND_TUN) {
		/* The outer header's family, asked once (tun_encap). */
		bool outer_v6 = !is_v4_mapped(r->addr);
		/* Too big once encapsulated: tell the client (icmp.h). */
		__u32 mtu = tun_check_mtu(ctx, &p, r, outer_v6);
		if (mtu) {
			int verdict = tun_ptb(ctx, &p, mtu, &why);
			count_reason(why);
			return verdict;
		}
		/* One inlined copy per outer family, so that each is
		 * straight-line code; the flow label (the flow hash) only for
		 * IPv6 outers. */
		bool ok;
		if (outer_v6)
			ok = tun_encap(ctx, &p, svc, r, true, flow_hash(&p.flow, p.is_v6));
		else
			ok = tun_encap(ctx, &p, svc, r, false, 0);
		if (!ok) {
			count_reason(REASON_DROP_TUNNEL);
			return XDP_DROP;
		}
	} else {
		/* DR: the real owns the VIP too, so only the MACs change. */
		struct ethhdr *eth = data;
		set_real_macs(eth, r);
	}

	count_traffic(real_id, len, cw.fresh);

	if (r->ifindex == ctx->ingress_ifindex) {
		count_reason(REASON_TX);
		return XDP_TX;
	}
	count_reason(REASON_REDIRECT);
	return bpf_redirect(r->ifindex, 0);
}
