/* nat.h: lb_kind NAT (LVS masquerading), IPv4 and IPv6, TCP and UDP.
 *
 * Forward (client -> VIP:vport, any interface): the flow is tracked in
 * conns4/conns6 as for DR and TUN; its destination becomes the real's
 * address and port (real.port, or vport if 0), with incremental IPv4
 * header and TCP/UDP checksum updates; nat_track writes the reverse entry.
 * Reply (real -> client, arriving on an interface marked IFACE_F_INSIDE in
 * ifaces): one lookup of its 5-tuple in nat4/nat6 finds the flow, and the
 * source becomes VIP:vport again. Either way the packet is then routed as
 * a router would: bpf_fib_lookup from the ingress interface gives the
 * egress interface and MACs, the TTL / hop limit drops by one, and the
 * frame leaves by XDP_TX (same interface) or bpf_redirect. A forward
 * packet to a real whose next hop the control plane resolved (ifindex and
 * MACs set, as for DR) skips the FIB lookup (nat_send_direct): measured
 * ~40 ns (IPv4) and ~90 ns (IPv6) less per packet, warm. Replies go to
 * a client that may be anywhere: the FIB's answer for a flow is cached in
 * its reverse entry and asked again when a reply touches it, at most once
 * per CONN_TOUCH_NS while the flow is steady (natcache.h).
 *
 * Fib rule: when the lookup has no answer the rewritten packet goes to the
 * stack (XDP_PASS), which forwards it itself (so the LB needs
 * net.ipv4.ip_forward / net.ipv6.conf.all.forwarding, as bpf_fib_lookup
 * does): no neighbour entry (PASS_NO_NEIGH: the stack resolves it, and the
 * next packets take the fast path), or no route, forwarding disabled,
 * packet above the egress MTU, or a TTL about to expire (PASS_FIB: the
 * stack answers with the ICMP error). 802.1Q tags stay as received.
 *
 * State from both sides: the client's packets move the forward entry as
 * for DR (conn_next_state); a FIN or RST from the real closes the flow
 * (conn_reply_state). Each side refreshes its own entry and the other's
 * at most once per CONN_TOUCH_NS and at once on a state change, so a flow
 * that only one side talks on stays alive, and the forward side's
 * rewrite also restores a reverse entry a newer flow replaced (nattab.h).
 *
 * Limit (as IPVS's NAT): a reply is known by (real, client) alone, so two
 * services that share a real address and port and a client that reaches
 * both from the same address and port meet in one reverse entry; the
 * later flow wins. Full-NAT (later) has no such limit. */
#ifndef XLB_NAT_H
#define XLB_NAT_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "structs.h"
#include "eth.h"
#include "maps.h"
#include "parse.h"
#include "csum.h"
#include "ct.h"
#include "encap.h"
#include "nattab.h"

#define PORTS_WORD(src, dst) ((__u32)(src) | (__u32)(dst) << 16) /* a flow's ports word: bpfel, source in the low half */

/* nat_track writes the reverse entry of p's NAT flow to real r (id
 * real_id) on port rport: key the reply's 5-tuple, in whole words as
 * fill_flow4 (nat_put4, nat_put6: nattab.h). Inlined: once per new flow
 * and per touch. */
static __always_inline void nat_track(const struct service *svc, struct packet *p, const struct real *r,
				      __u32 real_id, __be16 rport, __u8 state, __u64 now)
{
	__u32 *fw = flow_words(&p->flow);
	const __u32 *ra = (const __u32 *)r->addr;
	struct nat_rev rv = {
		.vport = p->flow.dport,
		.state = state,
		.service_id = svc->id,
		.real_id = real_id,
		.last_seen = now,
	};
	__u32 *vw = (__u32 *)rv.vip;

	if (p->is_v6) {
		struct flow k = {};
		__u32 *kw = flow_words(&k);
		for (int i = 0; i < V4_MAPPED_WORDS; i++) {
			kw[i] = ra[i];
			kw[V4_MAPPED_WORDS + i] = fw[i];
			vw[i] = fw[V4_MAPPED_WORDS + i];
		}
		kw[FLOW_WORDS - 2] = PORTS_WORD(rport, p->flow.sport);
		kw[FLOW_WORDS - 1] = fw[FLOW_WORDS - 1];
		nat_put6(&k, &rv);
	} else {
		struct flow4 k4;
		__u32 *kw = (__u32 *)&k4;
		kw[0] = ra[V4_MAPPED_WORDS - 1];
		kw[1] = fw[V4_MAPPED_WORDS - 1];
		kw[2] = PORTS_WORD(rport, p->flow.sport);
		kw[3] = fw[FLOW_WORDS - 1];
		vw[2] = bpf_htonl(V4_MAPPED_MARK);
		vw[3] = fw[2 * V4_MAPPED_WORDS - 1];
		nat_put4(&k4, &rv);
		/* Keeps clang from merging the two updates (see pick_real). */
		asm volatile("" ::: "memory");
	}
}

/* ipv6_lower_hop lowers ip6's hop limit by one, as a router does, and
 * returns true; false (untouched) if that would expire it. The caller
 * checked the header's bounds. Inlined: tiny. */
static __always_inline bool ipv6_lower_hop(struct ipv6hdr *ip6)
{
	if (ip6->hop_limit < TTL_MIN_FORWARD)
		return false;
	ip6->hop_limit--;
	return true;
}

/* ipv4_lower_ttl lowers ip's TTL by one, as a router does, adds the
 * change to *delta (for the caller's header checksum update) and returns
 * true; false (untouched) if that would expire it. TTL shares a 16-bit
 * word with the protocol (RFC 791 3.1). The word is written whole from a
 * register: the checksum update must not load it back after a byte store
 * to its TTL, because a load wider than the store before it cannot be
 * forwarded from the store buffer and waits for the store to retire
 * (measured: that stall was ~10 ns, a sixth of an established NAT
 * packet). The TTL is at least TTL_MIN_FORWARD, so the subtraction
 * borrows nothing from the protocol. The caller checked the header's
 * bounds. Inlined: tiny. */
static __always_inline bool ipv4_lower_ttl(struct iphdr *ip, __u64 *delta)
{
	if (ip->ttl < TTL_MIN_FORWARD)
		return false;
	__u16 *w = (__u16 *)&ip->ttl;
	__u16 old = *w;
	__u16 new = old - bpf_htons(TTL_WORD_ONE);
	*w = new;
	*delta += csum_delta16(old, new);
	return true;
}

/* nat_rewrite_ttl sets the destination (src false: forward) or the source
 * (src true: reply) of p's packet to addr (16 bytes, v4-mapped for IPv4)
 * and port, and updates the IPv4 header and TCP/UDP checksums. An IPv4
 * UDP checksum of 0 (none, RFC 768) stays 0; a computed 0 is sent as
 * 0xffff. With lower_ttl (a constant) it also lowers the TTL / hop limit
 * by one, as nat_ttl does, unless that would expire it, and says in
 * *lowered whether it did: the IPv4 header checksum then takes both
 * changes in one update (measured: a second update after the rewrite
 * cost ~1.5 ns). For a packet whose next hop is known before the rewrite
 * (nat_send_lowered); a packet that may yet go to the stack must keep its
 * TTL, which the stack lowers itself. False only if a header is out of
 * bounds, which parse_packet already ruled out. Inlined: once per NAT
 * packet. */
static __always_inline bool nat_rewrite_ttl(void *data, void *data_end, const struct packet *p, bool src,
					    const __u8 *addr, __be16 port, const bool lower_ttl, bool *lowered)
{
	__u32 l4_off = p->l4_off;
	bool udp = p->flow.proto == IPPROTO_UDP_NUM;
	const __u32 *na = (const __u32 *)addr;
	__u16 *csum;

	if (l4_off > L4_OFF_MAX)
		return false;
	void *l4 = data + l4_off;
	if (udp) {
		if (l4 + sizeof(struct udphdr) > data_end)
			return false;
		csum = l4 + UDP_CSUM_OFFSET;
	} else {
		if (l4 + sizeof(struct tcphdr) > data_end)
			return false;
		csum = l4 + TCP_CSUM_OFFSET;
	}
	struct l4_ports *ports = l4;
	__u64 delta;
	if (src) {
		delta = csum_delta16(ports->src, port);
		ports->src = port;
	} else {
		delta = csum_delta16(ports->dst, port);
		ports->dst = port;
	}

	void *l3 = data + (p->vlan ? L2_LEN_VLAN : ETH_HLEN);
	if (p->is_v6) {
		struct ipv6hdr *ip6 = l3;
		if ((void *)(ip6 + 1) > data_end)
			return false;
		__u32 *a = src ? ip6->saddr.in6_u.u6_addr32 : ip6->daddr.in6_u.u6_addr32;
		for (int i = 0; i < V4_MAPPED_WORDS; i++) {
			delta += csum_delta32(a[i], na[i]);
			a[i] = na[i];
		}
		if (lower_ttl && ipv6_lower_hop(ip6))
			*lowered = true;
	} else {
		struct iphdr *ip = l3;
		if ((void *)(ip + 1) > data_end)
			return false;
		__u32 nw = na[V4_MAPPED_WORDS - 1];
		__u64 d;
		if (src) {
			d = csum_delta32(ip->saddr, nw);
			ip->saddr = nw;
		} else {
			d = csum_delta32(ip->daddr, nw);
			ip->daddr = nw;
		}
		__u64 hd = d; /* the header's changes */
		if (lower_ttl && ipv4_lower_ttl(ip, &hd))
			*lowered = true;
		ip->check = csum_apply(ip->check, hd);
		if (udp && *csum == 0)
			return true;
		delta += d; /* the pseudo-header's address */
	}
	__u16 c = csum_apply(*csum, delta);
	if (udp && c == 0)
		c = 0xffff;
	*csum = c;
	return true;
}

/* nat_rewrite is nat_rewrite_ttl leaving the TTL alone. Inlined: as
 * nat_rewrite_ttl. */
static __always_inline bool nat_rewrite(void *data, void *data_end, const struct packet *p, bool src,
					const __u8 *addr, __be16 port)
{
	return nat_rewrite_ttl(data, data_end, p, src, addr, port, false, NULL);
}

/* nat_ttl lowers the TTL / hop limit of p's packet by one (IPv4: with
 * its checksum), as a router does, and returns false (packet untouched)
 * if it would expire or a header is out of bounds. Inlined: once per
 * NAT packet. */
static __always_inline bool nat_ttl(void *data, void *data_end, const struct packet *p)
{
	void *l3 = data + (p->vlan ? L2_LEN_VLAN : ETH_HLEN);

	if (p->is_v6) {
		struct ipv6hdr *ip6 = l3;
		if ((void *)(ip6 + 1) > data_end || !ipv6_lower_hop(ip6))
			return false;
		return true;
	}
	struct iphdr *ip = l3;
	__u64 d = 0;
	if ((void *)(ip + 1) > data_end || !ipv4_lower_ttl(ip, &d))
		return false;
	ip->check = csum_apply(ip->check, d);
	return true;
}

/* nat_send_lowered sends a rewritten packet to real r, whose next hop
 * the control plane resolved (r->ifindex, MACs: as for DR), without a FIB
 * lookup; lowered is whether its TTL was lowered (nat_rewrite_ttl,
 * nat_ttl), else it would expire and goes to the stack. Inlined: once per
 * NAT packet to a resolved real. */
static __always_inline int nat_send_lowered(struct xdp_md *ctx, const struct real *r, bool lowered,
					    enum reason *why)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end || !lowered) {
		*why = REASON_PASS_FIB;
		return XDP_PASS;
	}
	set_real_macs(eth, r);
	if (r->ifindex == ctx->ingress_ifindex) {
		*why = REASON_TX;
		return XDP_TX;
	}
	*why = REASON_REDIRECT;
	return bpf_redirect(r->ifindex, 0);
}

/* nat_send_direct is nat_send_lowered for a packet whose TTL the rewrite
 * left alone (full NAT's two rewrites, ICMP errors): it lowers it first.
 * Inlined: as nat_send_lowered. */
static __always_inline int nat_send_direct(struct xdp_md *ctx, const struct packet *p, const struct real *r,
					   enum reason *why)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	return nat_send_lowered(ctx, r, nat_ttl(data, data_end, p), why);
}

/* nat_route_store sends p's rewritten packet on as a router (see the top
 * of this file) and returns the verdict; *why gets its reason, REPLY_*
 * ones for a reply. With hop (and hop_mtu) set, a flow's route cache
 * (natcache.h), the lookup's answer is stored there: the next hop and
 * the route's MTU, or hop->ifindex 0 when the FIB gave none. Inlined:
 * once per NAT packet, reply and hop constants there. */
static __always_inline int nat_route_store(struct xdp_md *ctx, const struct packet *p, bool reply, enum reason *why,
					   struct nat_hop *hop, __u16 *hop_mtu)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	void *l3 = data + (p->vlan ? L2_LEN_VLAN : ETH_HLEN);
	enum reason fib_fail = reply ? REASON_REPLY_PASS_FIB : REASON_PASS_FIB;
	struct bpf_fib_lookup fib = {};
	__u8 *ttl;

	fib.l4_protocol = p->flow.proto;
	fib.tot_len = p->l3_len;
	fib.ifindex = ctx->ingress_ifindex;
	if (p->is_v6) {
		struct ipv6hdr *ip6 = l3;
		if ((void *)(ip6 + 1) > data_end) {
			*why = fib_fail;
			return XDP_PASS;
		}
		fib.family = FIB_AF_INET6;
		__builtin_memcpy(fib.ipv6_src, &ip6->saddr, sizeof(fib.ipv6_src));
		__builtin_memcpy(fib.ipv6_dst, &ip6->daddr, sizeof(fib.ipv6_dst));
		ttl = &ip6->hop_limit;
	} else {
		struct iphdr *ip = l3;
		if ((void *)(ip + 1) > data_end) {
			*why = fib_fail;
			return XDP_PASS;
		}
		fib.family = FIB_AF_INET;
		fib.tos = ip->tos;
		fib.ipv4_src = ip->saddr;
		fib.ipv4_dst = ip->daddr;
		ttl = &ip->ttl;
	}
	if (*ttl < TTL_MIN_FORWARD) {
		*why = fib_fail;
		return XDP_PASS;
	}
	/* No ports: they only matter to multipath routes hashing L4. */
	long rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (hop) {
		/* A lookup that fails empties the cache: the route or the
		 * neighbour is gone, and the next packet asks again. */
		if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
			__builtin_memcpy(hop->dmac, fib.dmac, ETH_ADDR_LEN);
			__builtin_memcpy(hop->smac, fib.smac, ETH_ADDR_LEN);
			*hop_mtu = fib.mtu_result; /* set on success, as the MTU check's */
			hop->ifindex = fib.ifindex;
		} else {
			hop->ifindex = 0;
		}
	}
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		*why = reply ? REASON_REPLY_PASS_NO_NEIGH : REASON_PASS_NO_NEIGH;
		return XDP_PASS;
	}
	if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
		*why = fib_fail;
		return XDP_PASS;
	}

	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end || !nat_ttl(data, data_end, p)) {
		*why = fib_fail;
		return XDP_PASS;
	}
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ADDR_LEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ADDR_LEN);
	if (fib.ifindex == ctx->ingress_ifindex) {
		*why = reply ? REASON_REPLY_TX : REASON_TX;
		return XDP_TX;
	}
	*why = reply ? REASON_REPLY_REDIRECT : REASON_REDIRECT;
	return bpf_redirect(fib.ifindex, 0);
}

/* nat_route is nat_route_store without a cache: a packet whose flow keeps
 * no next hop (a routed real's forward packets, ICMP errors). Inlined: as
 * nat_route_store. */
static __always_inline int nat_route(struct xdp_md *ctx, const struct packet *p, bool reply, enum reason *why)
{
	return nat_route_store(ctx, p, reply, why, NULL, NULL);
}

#endif
