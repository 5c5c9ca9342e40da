/* persist.h: persistence templates (keepalived's persistence_timeout and
 * persistence_granularity), as IPVS's persistent services keep them.
 *
 * A template ties a client -- its address masked by the service's
 * persistence_granularity (service.persist_mask; a host by default) -- to
 * the real its flows to that service go to. A new flow of a persistent
 * service (a connection-table miss, an expired entry, or an entry whose real
 * is gone) first looks for the client's template: a fresh one (idle at most
 * persistence_timeout) whose real is usable, of the same generation and not
 * quiesced gives the real with no scheduling, and is refreshed; else the
 * scheduler picks a real and the template is (re)written to it. So a
 * template to a quiesced (weight 0) or removed real is ignored and
 * rewritten, as IPVS with expire_quiescent_template=1.
 *
 * A template also stays alive while its flows do: when an established
 * flow's connection entry is touched (at most once per CONN_TOUCH_NS, or on
 * a state change; see pick_real) the template of its client is refreshed
 * too, if it still names that flow's real (and recreated if the LRU
 * evicted it). Expiry is thus persistence_timeout after the last packet of
 * the client's last flow, early by at most CONN_TOUCH_NS. IPVS instead
 * keeps a template while it controls connections and starts its timeout
 * once the last of them expires; the difference is the connection's own
 * idle timeout.
 *
 * Services without SERVICE_F_PERSIST never reach this code: one flags
 * test in the touch path, which runs at most once per second per flow. */
#ifndef XLB_PERSIST_H
#define XLB_PERSIST_H

#include <stdbool.h>
#include <linux/types.h>
#include "consts.h"
#include "structs.h"
#include "maps.h"
#include "parse.h"

/* persist_usable says whether a template's real may take a new flow:
 * present, neither removed nor quiesced. Inlined: tiny. */
static __always_inline bool persist_usable(const struct real *r)
{
	return (r->flags & (REAL_F_PRESENT | REAL_F_REMOVED | REAL_F_QUIESCED)) == REAL_F_PRESENT;
}

/* persist_key4 and persist_key6 build the template key of p's client for
 * svc: the masked address and the service id. Keys are built where they
 * are used and live no longer, rather than kept beside the entry: the
 * program's stack (512 bytes for all frames) is tight. Inlined: tiny. */
static __always_inline void persist_key4(const struct service *svc, struct packet *p, struct persist4_key *k)
{
	const __u32 *m = (const __u32 *)svc->persist_mask;
	__u32 *fw = flow_words(&p->flow);

	k->service_id = svc->id;
	k->client = fw[V4_MAPPED_WORDS - 1] & m[V4_MAPPED_WORDS - 1];
}

static __always_inline void persist_key6(const struct service *svc, struct packet *p, struct persist6_key *k)
{
	const __u32 *m = (const __u32 *)svc->persist_mask;
	__u32 *fw = flow_words(&p->flow);
	__u32 *c = (__u32 *)k->client;

	k->service_id = svc->id;
	for (int i = 0; i < V4_MAPPED_WORDS; i++)
		c[i] = fw[i] & m[i];
}

/* persist_lookup finds the template of p's client for svc (NULL: none).
 * One call site per map, so the verifier inlines each lookup. Inlined:
 * once per new flow of a persistent service, and per touch. */
static __always_inline struct persist *persist_lookup(const struct service *svc, struct packet *p)
{
	if (p->is_v6) {
		struct persist6_key k6;
		persist_key6(svc, p, &k6);
		return bpf_map_lookup_elem(&persist6, &k6);
	}
	struct persist4_key k4;
	persist_key4(svc, p, &k4);
	return bpf_map_lookup_elem(&persist4, &k4);
}

/* persist_use returns the real of template t (what persist_lookup found
 * for p's client) and its id, or NULL when t is no fresh template to a
 * usable real. Refreshes the template it uses. Inlined: once per new flow
 * of a persistent service. */
static __always_inline struct real *persist_use(const struct service *svc, struct persist *t, __u64 now,
						__u32 *real_id)
{
	if (!t || ct_idle(now, t->last_seen) > (__u64)svc->persist_timeout * NSEC_PER_SEC)
		return NULL;
	__u32 id = t->real_id;
	struct real *r = bpf_map_lookup_elem(&reals, &id);
	if (!r || !persist_usable(r) || r->gen != t->real_gen)
		return NULL;
	if (ct_idle(now, t->last_seen) >= CONN_TOUCH_NS)
		t->last_seen = now;
	*real_id = id;
	return r;
}

/* persist_store writes p's client's template for svc: real id of
 * generation gen, seen now; in place when t (what persist_lookup
 * found) is an entry. Inlined: once per new flow of a
 * persistent service the template did not decide. */
static __always_inline void persist_store(const struct service *svc, struct packet *p, struct persist *t,
					  __u32 id, __u16 gen, __u64 now)
{
	struct persist fresh = {.real_id = id, .real_gen = gen, .last_seen = now};

	if (t) {
		*t = fresh;
	} else if (p->is_v6) {
		struct persist6_key k6;
		persist_key6(svc, p, &k6);
		bpf_map_update_elem(&persist6, &k6, &fresh, BPF_ANY);
	} else {
		struct persist4_key k4;
		persist_key4(svc, p, &k4);
		bpf_map_update_elem(&persist4, &k4, &fresh, BPF_ANY);
		/* Keeps clang from merging the two updates (see pick_real). */
		asm volatile("" ::: "memory");
	}
}

/* persist_touch keeps the template of p's client alive while one of its
 * flows (to real id, generation gen) is: refreshed if it still names that
 * real, written again if the LRU evicted it, left alone if it names
 * another real (a newer decision). Inlined: at most once per
 * CONN_TOUCH_NS per flow of a persistent service. */
static __always_inline void persist_touch(const struct service *svc, struct packet *p, __u32 id, __u16 gen, __u64 now)
{
	struct persist *t = persist_lookup(svc, p);

	if (t) {
		if (t->real_id == id && t->real_gen == gen)
			t->last_seen = now;
		return;
	}
	persist_store(svc, p, NULL, id, gen, now);
}

#endif
