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

/* persist_ref is where a template lives: its key, built once per new flow,
 * and the entry found (NULL: none). */
struct persist_ref {
	struct persist4_key k4;
	struct persist6_key k6;
	struct persist *t;
};

/* persist_usable says whether a template's real may take a new flow:
 * present, neither removed nor quiesced. Inlined: tiny. */
static __always_inline bool persist_usable(const struct real *r)
{
	return (r->flags & (REAL_F_PRESENT | REAL_F_REMOVED | REAL_F_QUIESCED)) == REAL_F_PRESENT;
}

/* persist_lookup fills ref with the template key of p's client for svc
 * (masked address, service id) and finds its entry. One call site per
 * map, so the verifier inlines each lookup. Inlined: once per new flow of a
 * persistent service, and per touch. */
static __always_inline void persist_lookup(const struct service *svc, struct packet *p, struct persist_ref *ref)
{
	const __u32 *m = (const __u32 *)svc->persist_mask;
	__u32 *fw = flow_words(&p->flow);

	if (p->is_v6) {
		__u32 *c = (__u32 *)ref->k6.client;
		ref->k6.service_id = svc->id;
		for (int i = 0; i < V4_MAPPED_WORDS; i++)
			c[i] = fw[i] & m[i];
		ref->t = bpf_map_lookup_elem(&persist6, &ref->k6);
	} else {
		ref->k4.service_id = svc->id;
		ref->k4.client = fw[V4_MAPPED_WORDS - 1] & m[V4_MAPPED_WORDS - 1];
		ref->t = bpf_map_lookup_elem(&persist4, &ref->k4);
	}
}

/* persist_find returns the real of p's client's template for svc and its
 * id, or NULL when there is no fresh template to a usable real; ref is
 * then ready for persist_store. Refreshes the template it uses. Inlined:
 * once per new flow of a persistent service. */
static __always_inline struct real *persist_find(const struct service *svc, struct packet *p, __u64 now,
						 __u32 *real_id, struct persist_ref *ref)
{
	persist_lookup(svc, p, ref);
	struct persist *t = ref->t;
	if (!t || now - t->last_seen > (__u64)svc->persist_timeout * NSEC_PER_SEC)
		return NULL;
	__u32 id = t->real_id;
	struct real *r = bpf_map_lookup_elem(&reals, &id);
	if (!r || !persist_usable(r) || r->gen != t->real_gen)
		return NULL;
	if (now - t->last_seen >= CONN_TOUCH_NS)
		t->last_seen = now;
	*real_id = id;
	return r;
}

/* persist_store writes the template ref names: real id of generation gen,
 * seen now; in place when ref found an entry. Inlined: once per new flow
 * of a persistent service the template did not decide. */
static __always_inline void persist_store(struct persist_ref *ref, bool is_v6, __u32 id, __u16 gen, __u64 now)
{
	struct persist fresh = {.real_id = id, .real_gen = gen, .last_seen = now};

	if (ref->t) {
		*ref->t = fresh;
	} else if (is_v6) {
		bpf_map_update_elem(&persist6, &ref->k6, &fresh, BPF_ANY);
	} else {
		bpf_map_update_elem(&persist4, &ref->k4, &fresh, BPF_ANY);
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
	struct persist_ref ref;

	persist_lookup(svc, p, &ref);
	if (ref.t) {
		if (ref.t->real_id == id && ref.t->real_gen == gen)
			ref.t->last_seen = now;
		return;
	}
	persist_store(&ref, p->is_v6, id, gen, now);
}

#endif
