/* natcache.h: the route cache of NAT and full-NAT replies.
 *
 * A reply goes to the client, which may be anywhere, so it is routed
 * (nat_route_store): bpf_fib_lookup costs ~40 ns (IPv4) and ~90 ns (IPv6)
 * a packet, more than the rest of the reply path. The answer depends on
 * the client's address alone (no ports: see nat_route_store), which is
 * fixed for the flow, so the flow's reverse entry keeps it (struct
 * nat_hop in nat_rev and fnat_rev: egress interface, both MACs, and the
 * route's MTU in hop_mtu) and later replies reuse it (nat_send_hop).
 *
 * When the cache is asked again: whenever the reply touches its entry (a
 * state change, or CONN_TOUCH_NS since the last touch by either side: a
 * new route or neighbour MAC is picked up within a second of traffic);
 * when the forward side rewrites the reverse entry (its touch, at most
 * once per CONN_TOUCH_NS, writes it without a hop); when nothing is
 * cached (hop.ifindex 0, which a failed lookup also leaves); and for a
 * packet longer than the cached MTU, so that the FIB still answers
 * FRAG_NEEDED (pass_fib: the stack sends the ICMP error). The verdict
 * reasons are those of a lookup: a cached hop gives reply_tx or
 * reply_redirect, an expiring TTL reply_pass_fib.
 *
 * Limits: a route or neighbour change reaches a flow only at its next
 * touch, so for up to CONN_TOUCH_NS replies still leave by the old hop
 * (the same delay the connection table has for its clock). The entry is
 * written in place; replies of one flow arriving on two CPUs at once (not
 * the case with RSS, which keeps a flow on one queue) could read a hop
 * half rewritten by a refresh. The lookup runs from the ingress interface
 * of the reply that refreshes: policy routes by incoming interface apply
 * as of that packet. */
#ifndef XLB_NATCACHE_H
#define XLB_NATCACHE_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include "consts.h"
#include "structs.h"
#include "parse.h"
#include "nat.h"

/* nat_send_hop sends p's rewritten packet by the cached next hop:
 * nat_send_direct's work with the hop's interface and MACs. Inlined:
 * once per reply with a cached hop. */
static __always_inline int nat_send_hop(struct xdp_md *ctx, const struct packet *p, const struct nat_hop *hop,
					__u32 ifindex, enum reason *why)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end || !nat_ttl(data, data_end, p)) {
		*why = REASON_REPLY_PASS_FIB;
		return XDP_PASS;
	}
	__builtin_memcpy(eth->h_dest, hop->dmac, ETH_ADDR_LEN);
	__builtin_memcpy(eth->h_source, hop->smac, ETH_ADDR_LEN);
	if (ifindex == ctx->ingress_ifindex) {
		*why = REASON_REPLY_TX;
		return XDP_TX;
	}
	*why = REASON_REPLY_REDIRECT;
	return bpf_redirect(ifindex, 0);
}

/* nat_reply_send routes reply p by its flow's cache (hop, hop_mtu: in the
 * flow's reverse entry) unless refresh (the reply touched the entry), the
 * cache is empty or the packet is longer than its MTU; then it asks the
 * FIB and caches the answer. Returns the verdict, *why its reason.
 * Inlined: once per reply. */
static __always_inline int nat_reply_send(struct xdp_md *ctx, const struct packet *p, struct nat_hop *hop,
					  __u16 *hop_mtu, bool refresh, enum reason *why)
{
	__u32 ifindex = hop->ifindex;

	if (!refresh && ifindex && p->l3_len <= *hop_mtu)
		return nat_send_hop(ctx, p, hop, ifindex, why);
	return nat_route_store(ctx, p, true, why, hop, hop_mtu);
}

#endif
