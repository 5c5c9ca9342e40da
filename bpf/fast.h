/* fast.h: the shortcuts in front of the services lookup.
 *
 * VIP hints: every TCP/UDP packet first reads its destination's slot of
 * vip_hints, a bitmap over the services' keys; an empty slot passes the
 * packet (no VIP's) after one inlined array lookup, where a services hash
 * lookup used to decide.
 *
 * Tracked flows: a hinted packet is looked up in the connection table
 * before its service. A tracked flow's real holds the id of its
 * service (the control plane gives each service reals of its own), and
 * service_ids gives that service with one of its keys by an inlined array
 * lookup; the key, checked against the packet's destination, proves the
 * id still names this VIP. Only an untracked packet, or one whose service
 * cannot be proven so (a real put without a service id, a service
 * deleted or its id reused, a VIP of a virtual_server_group or an
 * all-ports service other than the key service_ids holds) looks its
 * service up by key. Both families: the hash lookup the shortcut saves,
 * even of services4's 8-byte key, was a fifth of an established IPv4 DR
 * packet's cost (session 12, docs/BENCHMARKS.md). A build that compared
 * an IPv4 flow's key as an IPv6 one missed the shortcut on every packet
 * (parse_ipv4 leaves the prefix words unwritten) and paid both lookups;
 * that may be why an IPv4 shortcut once measured no faster. */
#ifndef XLB_FAST_H
#define XLB_FAST_H

#include <stdbool.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include "consts.h"
#include "structs.h"
#include "maps.h"
#include "parse.h"

/* vip_hint_at returns the hint bits of the slot of destination address
 * word a (the address folded to one word) and port_proto (the last word
 * of a services key). maps.vipHintSlot is its Go twin. Inlined: tiny. */
static __always_inline __u32 vip_hint_at(__u32 a, __u32 port_proto)
{
	__u32 slot = ((a ^ port_proto) * VIP_HINT_MULT) >> (32 - VIP_HINT_BITS);
	__u32 word = slot / VIP_HINT_SLOTS_PER_WORD;
	__u64 *bits = bpf_map_lookup_elem(&vip_hints, &word);

	if (!bits)
		return 0;
	return (*bits >> ((slot % VIP_HINT_SLOTS_PER_WORD) * VIP_HINT_SLOT_BITS)) & VIP_HINT_MASK;
}

/* vip_hint returns which kinds of service (VIP_HINT_TRACKED,
 * VIP_HINT_OTHER) may have flow f's destination key, 0 if none has:
 * f's slot, and while all-ports services exist (port0) also the slot of
 * f's address at port 0. The address folds to its last word (IPv4) or
 * its four words xored (IPv6). Inlined: once per TCP/UDP packet. */
static __always_inline __u32 vip_hint(struct flow *f, bool is_v6, __u32 port0)
{
	__u32 *w = flow_words(f);
	__u32 a = w[2 * V4_MAPPED_WORDS - 1];

	if (is_v6)
		a ^= w[V4_MAPPED_WORDS] ^ w[V4_MAPPED_WORDS + 1] ^ w[V4_MAPPED_WORDS + 2];
	__u32 hint = vip_hint_at(a, vip_port_proto(f));
	if (port0)
		hint |= vip_hint_at(a, vip_port0_proto(f));
	return hint;
}

/* tracked_service returns the service of the tracked flow f (of family
 * is_v6) whose entry is c: the one whose id c's real holds, if
 * service_ids has it at f's destination key; NULL if not (the caller
 * looks the service up by key). An IPv4 flow's address is only its last word (parse_ipv4), so
 * the key's other words must say v4-mapped instead. The real is
 * pick_real's next read anyway. Inlined: once per tracked packet. */
static __always_inline const struct service *tracked_service(const struct conn *c, struct flow *f, bool is_v6)
{
	__u32 rid = c->real_id;
	struct real *r = bpf_map_lookup_elem(&reals, &rid);

	if (!r)
		return NULL;
	__u32 id = r->service_id;
	struct service_entry *e = bpf_map_lookup_elem(&service_ids, &id);
	if (!e)
		return NULL;
	const __u32 *k = (const __u32 *)&e->key;
	__u32 *w = flow_words(f);
	if (k[V4_MAPPED_WORDS] != vip_port_proto(f) || k[3] != w[V4_MAPPED_WORDS + 3])
		return NULL;
	if (is_v6) {
		if (k[0] != w[V4_MAPPED_WORDS] || k[1] != w[V4_MAPPED_WORDS + 1] || k[2] != w[V4_MAPPED_WORDS + 2])
			return NULL;
	} else if (!is_v4_mapped((const __u8 *)k)) {
		return NULL;
	}
	return &e->svc;
}

_Static_assert(sizeof(struct vip_key) == VIP_KEY_WORDS * sizeof(__u32), "vip_key is not five whole words");

#endif
