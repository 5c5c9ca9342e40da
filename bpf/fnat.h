/* fnat.h: lb_kind FNAT (full NAT), IPv4 and IPv6, TCP and UDP. Beyond
 * NAT (nat.h), the source of a client's packet becomes a local address
 * and port of the service's pool, so the real answers the load balancer
 * itself and needs no route back through it:
 *
 *   forward  client:cport -> VIP:vport   becomes  laddr:lport -> RIP:rport
 *   reply    RIP:rport -> laddr:lport    becomes  VIP:vport -> client:cport
 *
 * Forward (any interface): the flow is tracked in fnat4/fnat6 (struct
 * fnat_conn: the connection table's struct conn, and the local address
 * and port; sets of CONN_WAYS flows as conns4/conns6, a new flow in its
 * set's least recently written way), by the same rules as conns4/conns6
 * (fnat_ct_pick). A new flow gets its local address and port from the
 * service's pool (fnat_pools): a hash of the flow picks a start among the
 * pool's (address, port) pairs, and up to FNAT_PORT_TRIES pairs from
 * there are tried by claiming the reverse entry (key: the reply's
 * 5-tuple; fnat_claim4, fnat_claim6): the set's claim word, taken with a
 * compare-and-swap, makes each claim atomic across CPUs, and a claim
 * succeeds when no fresh entry holds the pair and the set has an empty
 * or stale way for it (a live flow's entry is never replaced). A flow
 * that finds no pair is dropped (drop_fnat_no_port) and tracked nowhere,
 * so its next packet tries again. The pair space is per real and real
 * port: one local address gives each (real, port) up to port_max -
 * port_min + 1 flows at once.
 *
 * Reply (arriving on an interface marked IFACE_F_FNAT): one lookup of its
 * 5-tuple in fnat_rev4/fnat_rev6 (sets as nat4/nat6, read without the
 * claim word) gives both rewrites, the counters and the forward entry to
 * keep in step. Both directions then rewrite with nat_rewrite (once per
 * address and port) and are routed as NAT's (nat_send_direct to a
 * resolved real, nat_route otherwise; replies by their flow's cached hop,
 * natcache.h). State, touches and counts follow nat.h: each side
 * refreshes both entries at most once per CONN_TOUCH_NS and at every
 * state change; the forward side's touch empties the reverse entry's
 * route cache (the next reply asks the FIB).
 *
 * Limits: the local addresses must be the load balancer's own (the
 * control plane checks), on the inside interfaces or routed to them, so
 * the reals' ARP/ND finds this node. A reverse set whose four ways hold
 * live flows refuses further pairs that hash to it, and a claim that
 * meets another CPU's claim in its set gives up that pair: the flow tries
 * its next pairs, and is dropped only when all FNAT_PORT_TRIES fail
 * (reasons show it). A forward entry replaced in its set (four live flows
 * of one set) leaves its flow's reverse entry holding the pair until it
 * expires; the flow's next packet is scheduled as new, with a new pair. */
#ifndef XLB_FNAT_H
#define XLB_FNAT_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "structs.h"
#include "maps.h"
#include "parse.h"
#include "hash.h"
#include "ct.h"
#include "nat.h"
#include "natcache.h"
#include "conntab.h"
#include "nattab.h"
#include "fnattab.h"

/* fnat_put_way makes way i of a forward set (key key, value v) client key
 * k's entry nf, a new flow's, seen at nf's last_seen: a live flow the way
 * held comes off its real's counts (as conn_replace; its reverse entry
 * stays until it expires, holding its local pair). Written in nat_claim's order
 * (way_key_clear, the value, way_key_set): a reply on another CPU may
 * touch the way meanwhile (fnat_touch_forward). Inlined: once per put. */
static __always_inline void fnat_put_way(__u32 *key, const __u32 *k, const int kw_len, struct fnat_conn *v,
					 const struct fnat_conn *nf)
{
	if (key[kw_len - 1] && !conn_expired(&v->conn, nf->conn.last_seen))
		conns_forget(&v->conn);
	way_key_clear(key, kw_len);
	*v = *nf;
	way_key_set(key, k, kw_len);
}

/* fnat_put4 and fnat_put6 make nf the forward entry of client key k,
 * which the caller looked up without finding it: in its set's way of
 * oldest last_seen (an empty way's is 0; fnat_put_way). Global
 * functions, verified once on their own, as conn_insert4: they run on a
 * full-NAT flow's first packet only. They return 0. */
__noinline int fnat_put4(const struct flow4 *k, const struct fnat_conn *nf)
{
	if (!k || !nf)
		return 0;
	struct fnat_set4 *s = table_set(&fnat4, fnat_sets4, conn_hash4(k));
	if (!s)
		return 0;
	__u32 i = conn_oldest(s->val[0].conn.last_seen, s->val[1].conn.last_seen, s->val[2].conn.last_seen,
			      s->val[3].conn.last_seen);
	fnat_put_way((__u32 *)&s->key[i], (const __u32 *)k, FLOW4_WORDS, &s->val[i], nf);
	return 0;
}

__noinline int fnat_put6(const struct flow *k, const struct fnat_conn *nf)
{
	if (!k || !nf)
		return 0;
	__u32 h = conn_hash6(k);
	struct fnat_set6 *s = table_set(&fnat6, fnat_sets6, h);
	if (!s)
		return 0;
	__u32 i = conn_oldest(s->val[0].conn.last_seen, s->val[1].conn.last_seen, s->val[2].conn.last_seen,
			      s->val[3].conn.last_seen);
	/* The hash is read only next to a key that matches it. */
	s->hash[i] = h;
	fnat_put_way((__u32 *)&s->key[i], (const __u32 *)k, FLOW_WORDS, &s->val[i], nf);
	return 0;
}

/* fnat_ct says what fnat_ct_pick did with a flow's entry (ct, as
 * pick_real's struct ct_write), and for a new flow the new entry, which
 * fnat_ct_pick leaves to its caller: full NAT stores it only once it has
 * a local port. */
struct fnat_ct {
	struct ct_write ct;
	struct conn conn; /* ct.fresh: the new entry, which fnat_ct_pick leaves to its caller to store */
};

/* fnat_ct_pick is pick_real (xlb.c) for a full-NAT flow tracked in c
 * (NULL: not tracked): the tracked real under pick_real's rules (its
 * touch shared: ct_touch); else a
 * scheduled one, with the new entry in cw->conn (cw->ct.fresh) for the
 * caller to count and store. NULL and why when there is none. Apart from
 * pick_real because what follows a scheduling differs (the entry waits
 * for a local port; no ops). Inlined: once per full-NAT packet, in
 * fnat_forward. */
static __always_inline struct real *fnat_ct_pick(const struct service *svc, struct packet *p, struct conn *c,
					    __u32 *real_id, enum reason *why, struct fnat_ct *cw)
{
	__u64 now = ct_now();
	cw->ct.now = now;
	cw->ct.written = 0;
	cw->ct.fresh = 0;
	struct real *r;

	if (c) {
		/* As pick_real's. */
		if (conn_expired(c, now) ||
		    conn_reopened(c->state, p->flow.proto, p->tcp_flags)) {
			count_reason(REASON_CT_EXPIRED);
		} else {
			__u32 id = c->real_id;
			r = bpf_map_lookup_elem(&reals, &id);
			if (r && real_usable(r) && r->gen == c->real_gen) {
				ct_touch(svc, p, c, id, now, &cw->ct);
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
		count_reason(REASON_CT_MISS);
	}

	r = choose_real(svc, p, now, real_id, false);
	if (!r) {
		*why = REASON_DROP_NO_REAL;
		return NULL;
	}
	cw->conn.real_id = *real_id;
	cw->conn.real_gen = r->gen;
	cw->conn.state = conn_next_state(0, p->flow.proto, p->tcp_flags);
	cw->conn.flags = 0;
	cw->conn.last_seen = now;
	cw->ct.written = 1;
	cw->ct.state = cw->conn.state;
	cw->ct.fresh = 1;
	return r;
}

/* fnat_count_fresh counts the new entry of cw on its real, and takes the
 * entry c it replaces (if any) off its old real's counts. Inlined: once
 * per new flow. */
static __always_inline void fnat_count_fresh(const struct conn *c, const struct fnat_ct *cw)
{
	conns_add(cw->conn.real_id, cw->conn.state, 1);
	if (c)
		conns_forget(c);
}

/* fnat_scratch is full NAT's per-CPU scratch space: the keys, entries
 * and connection table state fnat_forward builds live here rather than
 * on its stack, which with xlb_xdp's frame must fit 512 bytes. Go never
 * reads it, so it is not in structs.h. */
struct fnat_scratch {
	struct fnat_ct cw;   /* fnat_ct_pick's answer */
	struct fnat_rev rv;  /* a reverse entry to insert */
	struct fnat_conn nf; /* a forward entry to insert */
	struct flow k;       /* an IPv6 reverse key */
	struct flow4 k4;     /* an IPv4 reverse key */
	struct flow4 fk4;    /* the IPv4 forward key */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fnat_scratch);
} fnat_scratch SEC(".maps");

/* fnat_addr_words writes p's source (src true) or destination address as
 * four words, v4-mapped for IPv4 (the parser keeps only an IPv4
 * address's last word). Inlined: tiny. */
static __always_inline void fnat_addr_words(__u32 *out, struct packet *p, bool src)
{
	__u32 *fw = flow_words(&p->flow);
	int off = src ? 0 : V4_MAPPED_WORDS;

	if (p->is_v6) {
		for (int i = 0; i < V4_MAPPED_WORDS; i++)
			out[i] = fw[off + i];
		return;
	}
	out[0] = 0;
	out[1] = 0;
	out[2] = bpf_htonl(V4_MAPPED_MARK);
	out[3] = fw[off + V4_MAPPED_WORDS - 1];
}

/* fnat_rev_fill writes the reverse entry of p's flow (client to VIP, as
 * the client sent it) for real real_id of svc. Inlined: once per new
 * flow and per touch. */
static __always_inline void fnat_rev_fill(struct fnat_rev *rv, const struct service *svc, struct packet *p,
					  __u32 real_id, __u8 state, __u64 now)
{
	fnat_addr_words((__u32 *)rv->client, p, true);
	fnat_addr_words((__u32 *)rv->vip, p, false);
	rv->cport = p->flow.sport;
	rv->vport = p->flow.dport;
	rv->state = state;
	rv->pad = 0;
	rv->hop_mtu = 0;
	rv->service_id = svc->id;
	rv->real_id = real_id;
	rv->last_seen = now;
	/* No cached hop: the next reply asks the FIB (natcache.h). */
	__builtin_memset(&rv->hop, 0, sizeof(rv->hop));
}

/* fnat_key writes the key of a full-NAT table for the 5-tuple src:sport
 * -> dst:dport (addresses as four words, v4-mapped for IPv4) with p's
 * protocol: k for IPv6, k4 for IPv4, in whole words as fill_flow4.
 * Inlined: tiny. */
static __always_inline void fnat_key(struct flow *k, struct flow4 *k4, struct packet *p, const __u32 *src,
				     const __u32 *dst, __be16 sport, __be16 dport)
{
	__u32 proto = flow_words(&p->flow)[FLOW_WORDS - 1];

	if (p->is_v6) {
		__u32 *kw = flow_words(k);
		for (int i = 0; i < V4_MAPPED_WORDS; i++) {
			kw[i] = src[i];
			kw[V4_MAPPED_WORDS + i] = dst[i];
		}
		kw[FLOW_WORDS - 2] = PORTS_WORD(sport, dport);
		kw[FLOW_WORDS - 1] = proto;
		return;
	}
	__u32 *kw = (__u32 *)k4;
	kw[0] = src[V4_MAPPED_WORDS - 1];
	kw[1] = dst[V4_MAPPED_WORDS - 1];
	kw[2] = PORTS_WORD(sport, dport);
	kw[3] = proto;
}

/* claim_way picks the way of a reverse set (values vals, keys keys of
 * kw_len words each) that a key may take at now, given way, where the set
 * holds the key (CONN_WAYS: nowhere): the key's own way if its entry is
 * stale (a pair whose flow is over is taken over), else none (the pair
 * is owned); for a key the set does not hold, its way of oldest
 * last_seen if empty (protocol word 0) or stale, else none: a live
 * flow's entry is never replaced, so no flow loses its pair to another.
 * CONN_WAYS for none. The oldest way is found only when needed: its four
 * clocks beside the search's registers spilled the claim's frame past the
 * 512 bytes xlb_xdp, fnat_forward and it share. Inlined: once per claim. */
static __always_inline __u32 claim_way(__u32 way, const struct fnat_rev *vals, const __u32 *keys, const int kw_len,
				       __u64 now)
{
	if (way < CONN_WAYS)
		return ct_stale(vals[way].state, vals[way].last_seen, now) ? way : CONN_WAYS;
	__u32 i = conn_oldest(vals[0].last_seen, vals[1].last_seen, vals[2].last_seen, vals[3].last_seen);
	if (!keys[i * kw_len + kw_len - 1] || ct_stale(vals[i].state, vals[i].last_seen, now))
		return i;
	return CONN_WAYS;
}

/* fnat_claim4 and fnat_claim6 try to make rv (seen at rv->last_seen)
 * the reverse entry of key k, a local pair towards a real: 1 if they
 * did, then the flow owns the pair. The set's claim word, taken with a
 * compare-and-swap, keeps any other CPU's claim out of the set meanwhile:
 * one held already makes the claim fail at once (the caller tries its
 * next pair; nothing waits). Which way: claim_way. The entry is written
 * in nat_claim's order (way_key_clear, the value, way_key_set), for
 * replies that read the set meanwhile without the claim word; the word is
 * released by an atomic and, after the writes. Global functions,
 * verified once on their own: they run on a full-NAT flow's first packet,
 * at most FNAT_PORT_TRIES times, and at touches. */
__noinline int fnat_claim4(const struct flow4 *k, const struct fnat_rev *rv)
{
	if (!k || !rv)
		return 0;
	const __u32 *kw = (const __u32 *)k;
	__u32 set = hash_to_slot(conn_hash4(k), fnat_rev_sets4);
	struct fnat_rev_set4 *s = bpf_map_lookup_elem(&fnat_rev4, &set);
	if (!s || __sync_val_compare_and_swap(&s->claim, 0, 1) != 0)
		return 0;
	__u32 i = claim_way(table_way4(s->key, kw[0], kw[1], kw[2], kw[3]), s->val, (const __u32 *)s->key, FLOW4_WORDS,
			    rv->last_seen);
	if (i < CONN_WAYS) {
		way_key_clear((__u32 *)&s->key[i], FLOW4_WORDS);
		s->val[i] = *rv;
		way_key_set((__u32 *)&s->key[i], kw, FLOW4_WORDS);
	}
	__sync_fetch_and_and(&s->claim, 0);
	return i < CONN_WAYS;
}

__noinline int fnat_claim6(const struct flow *k, const struct fnat_rev *rv)
{
	if (!k || !rv)
		return 0;
	__u32 h = conn_hash6(k);
	__u32 set = hash_to_slot(h, fnat_rev_sets6);
	struct fnat_rev_set6 *s = bpf_map_lookup_elem(&fnat_rev6, &set);
	if (!s || __sync_val_compare_and_swap(&s->claim, 0, 1) != 0)
		return 0;
	__u32 i = claim_way(table_way6(s->hash, s->key, k, h), s->val, (const __u32 *)s->key, FLOW_WORDS, rv->last_seen);
	if (i < CONN_WAYS) {
		/* The hash is read only next to a key that matches it. */
		s->hash[i] = h;
		way_key_clear((__u32 *)&s->key[i], FLOW_WORDS);
		s->val[i] = *rv;
		way_key_set((__u32 *)&s->key[i], (const __u32 *)k, FLOW_WORDS);
	}
	__sync_fetch_and_and(&s->claim, 0);
	return i < CONN_WAYS;
}

/* fnat_claim tries to own the local pair laddr:lport towards real
 * ra:rport for the flow whose reverse entry is rv (fnat_claim4,
 * fnat_claim6). Inlined: at most FNAT_PORT_TRIES times per new flow. */
static __always_inline bool fnat_claim(struct packet *p, const __u32 *ra, __be16 rport, const __u32 *la,
				       __be16 lport, const struct fnat_rev *rv, struct fnat_scratch *sc)
{
	fnat_key(&sc->k, &sc->k4, p, ra, la, rport, lport);
	if (p->is_v6)
		return fnat_claim6(&sc->k, rv);
	return fnat_claim4(&sc->k4, rv);
}

/* fnat_alloc picks the local address and port of a new flow p to real r
 * (id real_id) on port rport, claiming its reverse entry (state and
 * clock from cw), and writes them into fc: false if the service has no
 * pool or no candidate is free. Inlined: once per new flow. */
static __always_inline bool fnat_alloc(const struct service *svc, struct packet *p, const struct real *r,
				       __u32 real_id, __be16 rport, const struct fnat_ct *cw, struct fnat_conn *fc,
				       struct fnat_scratch *sc)
{
	__u32 sid = svc->id;
	struct fnat_pool *pool = bpf_map_lookup_elem(&fnat_pools, &sid);

	if (!pool)
		return false;
	__u32 count = pool->count;
	__u32 port_min = pool->port_min, port_max = pool->port_max;
	if (count == 0 || count > FNAT_POOL_MAX || port_max < port_min)
		return false;
	/* Pairs are numbered address-first: pair n is address n % count,
	 * port port_min + n / count, so consecutive tries spread over the
	 * addresses. At most FNAT_POOL_MAX x 65536 pairs: no overflow. */
	__u32 total = count * (port_max - port_min + 1);
	__u32 start = hash_to_slot(hash3(flow_hash(&p->flow, p->is_v6), 0, 0, FNAT_HASH_SEED), total);
	struct fnat_rev *rv = &sc->rv;
	fnat_rev_fill(rv, svc, p, real_id, cw->ct.state, cw->ct.now);

	for (__u32 i = 0; i < FNAT_PORT_TRIES && i < total; i++) {
		__u32 pair = start + i;
		if (pair >= total)
			pair -= total;
		__u32 a = pair % count;
		/* clang knows a < count <= FNAT_POOL_MAX and would drop the
		 * check the verifier needs: hide a from it. */
		asm volatile("" : "+r"(a));
		if (a >= FNAT_POOL_MAX)
			return false;
		__be16 lport = bpf_htons((__u16)(port_min + pair / count));
		const __u32 *la = (const __u32 *)pool->addrs[a];
		if (fnat_claim(p, (const __u32 *)r->addr, rport, la, lport, rv, sc)) {
			__u32 *lw = (__u32 *)fc->laddr;
			for (int w = 0; w < V4_MAPPED_WORDS; w++)
				lw[w] = la[w];
			fc->lport = lport;
			return true;
		}
	}
	return false;
}

/* fnat_touch_reverse brings the reverse entry of p's tracked flow fc (to
 * real r) to state and clock now, in place: the hop's interface cleared
 * first so that the next reply asks the FIB (as nat_refresh). An entry
 * that is gone or names another client is left alone: a reverse entry
 * goes only by expiring, and both sides' touches keep a live flow's
 * fresh, so its flow is over (its forward entry expired with it, and its
 * next packet is a new flow with a new pair), or the pair went to
 * another flow meanwhile. Restoring it from here (a claim) took
 * fnat_forward's frame past the 512 bytes it shares with xlb_xdp's and a
 * claim's. Inlined: at most once per CONN_TOUCH_NS and state change per
 * flow. */
static __always_inline void fnat_touch_reverse(struct packet *p, const struct real *r, const struct fnat_conn *fc,
					       __u8 state, __u64 now, struct fnat_scratch *sc)
{
	struct fnat_rev *v;

	fnat_key(&sc->k, &sc->k4, p, (const __u32 *)r->addr, (const __u32 *)fc->laddr, fc->rport, fc->lport);
	if (p->is_v6)
		v = FNAT_AT(fnat_rev6, fnat_rev_set6, fnat_rev_find6(&sc->k));
	else
		v = FNAT_AT(fnat_rev4, fnat_rev_set4, fnat_rev_find4(&sc->k4));
	if (!v)
		return;
	/* Still this flow's: the same client port and address (IPv4: its
	 * one word; the table's entries are all v4-mapped), compared in
	 * registers. */
	const __u32 *fw = flow_words(&p->flow);
	const __u32 *vc = (const __u32 *)v->client;
	bool same = v->cport == p->flow.sport && vc[V4_MAPPED_WORDS - 1] == fw[V4_MAPPED_WORDS - 1];
	if (p->is_v6)
		same = same && vc[0] == fw[0] && vc[1] == fw[1] && vc[2] == fw[2];
	if (!same)
		return;
	*(volatile __u32 *)&v->hop.ifindex = 0;
	asm volatile("" ::: "memory");
	v->state = state;
	v->last_seen = now;
}

/* FNAT_ROUTE is what fnat_forward returns for a rewritten packet to a
 * routed real, which its caller sends with nat_route: no XDP verdict. */
#define FNAT_ROUTE (-1)

/* fnat_forward handles a client's packet p to full-NAT service svc and
 * returns the verdict: track (fnat_ct_pick over fnat4/fnat6), allocate a local
 * pair for a new flow, rewrite both ends, count, send to a resolved real
 * (or FNAT_ROUTE: the caller routes it). Not inlined: as a
 * BPF-to-BPF call its code and registers stay out of xlb_xdp, whose DR
 * path ran ~15 ns slower with it inlined (BENCHMARKS.md); its keys and
 * entries live in fnat_scratch so that both frames fit the 512-byte
 * stack. */
static __noinline int fnat_forward(struct xdp_md *ctx, const struct service *svc, struct packet *p)
{
	__u32 zero = 0;
	struct fnat_scratch *sc = bpf_map_lookup_elem(&fnat_scratch, &zero);
	struct fnat_conn *fc;
	enum reason why;
	__u32 real_id = 0;

	if (!sc) {
		count_reason(REASON_DROP_FNAT_NO_PORT); /* unreachable: a per-CPU array of one */
		return XDP_DROP;
	}
	struct fnat_ct *cw = &sc->cw;
	if (p->is_v6) {
		fc = FNAT_AT(fnat6, fnat_set6, fnat_find6(&p->flow));
	} else {
		fill_flow4(&sc->fk4, &p->flow);
		fc = FNAT_AT(fnat4, fnat_set4, fnat_find4(&sc->fk4));
	}
	struct conn *c = fc ? &fc->conn : NULL;
	struct real *r = fnat_ct_pick(svc, p, c, &real_id, &why, cw);
	if (!r) {
		count_reason(why);
		return XDP_DROP;
	}
	/* No NAT64: the real must be of the VIP's family. */
	if (is_v4_mapped(r->addr) == p->is_v6) {
		count_reason(REASON_DROP_FAMILY);
		return XDP_DROP;
	}

	const struct fnat_conn *use = fc;
	if (cw->ct.fresh) {
		struct fnat_conn *nf = &sc->nf;
		nf->conn = cw->conn;
		nf->rport = r->port ? r->port : p->flow.dport;
		nf->pad = 0;
		if (!fnat_alloc(svc, p, r, real_id, nf->rport, cw, nf, sc)) {
			count_reason(REASON_DROP_FNAT_NO_PORT);
			return XDP_DROP;
		}
		fnat_count_fresh(c, cw);
		if (fc) {
			*fc = *nf; /* in place: no second hash lookup */
		} else if (p->is_v6) {
			fnat_put6(&p->flow, nf);
		} else {
			fnat_put4(&sc->fk4, nf);
			asm volatile("" ::: "memory");
		}
		use = nf;
	} else if (cw->ct.written && fc) {
		fnat_touch_reverse(p, r, fc, cw->ct.state, cw->ct.now, sc);
	}
	if (!use) {
		count_reason(REASON_DROP_MALFORMED); /* unreachable: a hit has its entry */
		return XDP_DROP;
	}

	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = data_end - data; /* as received */
	count_traffic(real_id, len, cw->ct.fresh);
	if (!nat_rewrite(data, data_end, p, false, r->addr, use->rport) ||
	    !nat_rewrite(data, data_end, p, true, use->laddr, use->lport)) {
		count_reason(REASON_DROP_MALFORMED);
		return XDP_DROP;
	}
	if (!r->ifindex)
		return FNAT_ROUTE; /* the caller routes it: bpf_fib_lookup's 64 bytes stay in its frame */
	int verdict = nat_send_direct(ctx, p, r, &why);
	count_reason(why);
	return verdict;
}

/* fnat_touch_forward brings the forward entry of the full-NAT flow that
 * reply p belongs to (found as rv) to state and clock now. Inlined: at
 * most once per CONN_TOUCH_NS and state change per flow. */
static __always_inline void fnat_touch_forward(struct packet *p, const struct fnat_rev *rv, __u8 state, __u64 now)
{
	struct flow k = {};
	struct flow4 k4;
	struct fnat_conn *fc;

	fnat_key(&k, &k4, p, (const __u32 *)rv->client, (const __u32 *)rv->vip, rv->cport, rv->vport);
	if (p->is_v6)
		fc = FNAT_AT(fnat6, fnat_set6, fnat_find6(&k));
	else
		fc = FNAT_AT(fnat4, fnat_set4, fnat_find4(&k4));
	if (!fc)
		return;
	if (state != fc->conn.state) {
		__u32 id = fc->conn.real_id;
		struct real *r = bpf_map_lookup_elem(&reals, &id);
		if (r && r->gen == fc->conn.real_gen)
			conns_move(id, fc->conn.state, state);
	}
	fc->conn.state = state;
	fc->conn.last_seen = now;
}

/* fnat_reply handles p if it is a reply of a tracked full-NAT flow:
 * source back to VIP:vport, destination back to client:cport, out
 * counters, routed by the cached hop or the FIB (nat_reply_send); true
 * and the verdict in *verdict. False (the caller goes on as for any
 * packet) if fnat_rev4/fnat_rev6 has no fresh entry for it. Not inlined, as fnat_forward: called only for
 * packets on interfaces facing full-NAT reals. */
static __noinline bool fnat_reply(struct xdp_md *ctx, struct packet *p, int *verdict)
{
	struct fnat_rev *rv;
	struct flow4 k4;

	if (p->is_v6) {
		rv = FNAT_AT(fnat_rev6, fnat_rev_set6, fnat_rev_find6(&p->flow));
	} else {
		fill_flow4(&k4, &p->flow);
		rv = FNAT_AT(fnat_rev4, fnat_rev_set4, fnat_rev_find4(&k4));
	}
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
		fnat_touch_forward(p, rv, state, now);
		touched = true;
	}

	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = data_end - data; /* as received */
	count_reply(rv->real_id, len);
	if (!nat_rewrite(data, data_end, p, true, rv->vip, rv->vport) ||
	    !nat_rewrite(data, data_end, p, false, rv->client, rv->cport)) {
		count_reason(REASON_DROP_MALFORMED);
		*verdict = XDP_DROP;
		return true;
	}
	/* The flow's cached next hop, as NAT's (natcache.h). */
	enum reason why;
	*verdict = nat_reply_send(ctx, p, &rv->hop, &rv->hop_mtu, touched, &why);
	count_reason(why);
	return true;
}

#endif
