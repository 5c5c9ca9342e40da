/* encap.h: lb_kind TUN. The frame gets an outer IP header between its
 * Ethernet header (and 802.1Q tag) and the client's IP packet, which is
 * left untouched:
 *
 *   real IPv4, packet IPv4: IPIP, outer protocol 4 (RFC 2003)
 *   real IPv4, packet IPv6: outer protocol 41 (RFC 4213)
 *   real IPv6, packet IPv6: IP6IP6, outer next header 41 (RFC 2473)
 *   real IPv6, packet IPv4: outer next header 4 (RFC 2473)
 *
 * The outer source is the service's tunnel_src (same family as the real,
 * else the packet is dropped), the destination the real's address. TTL /
 * hop limit TUN_TTL (64): a new hop count for the tunnel. IPv4 outer
 * headers set DF: the tunnel adds 20 or 40 bytes, and a router that cannot
 * pass the result must report it (ICMP fragmentation needed / PTB, RFC
 * 1191) rather than fragment, so the client's PMTU discovery and MSS see
 * the tunnel; id is 0 (RFC 6864 4.1: atomic datagrams). The IPv6 outer
 * flow label is the flow hash (RFC 6438) so routers' ECMP spreads tunnelled
 * flows; the outer TOS / traffic class copies the inner one (RFC 2983
 * uniform model: DSCP and ECN survive).
 *
 * MTU: the frame grows by 20 or 40 bytes. A packet that would then exceed
 * the MTU of the real's interface never gets here: xlb.c answers it with
 * ICMP fragmentation needed / Packet Too Big instead (icmp.h), so clients
 * lower their MSS. */
#ifndef XLB_ENCAP_H
#define XLB_ENCAP_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "structs.h"
#include "eth.h"
#include "parse.h"
#include "csum.h"

#define IPV6_VERSION_SHIFT 28 /* bits below the version in the first word */
#define IPV6_TCLASS_SHIFT 20  /* bits below the traffic class in the first word */
#define L2_LEN_VLAN (ETH_HLEN + 4) /* bytes: Ethernet header and one 802.1Q tag */

/* write_outer writes the Ethernet header (l2_len bytes: with or without
 * the 802.1Q tag, a constant at each call) and the outer IP header at the
 * front of a frame adjust_head just grew. Inlined twice, once per l2_len,
 * so that every offset is a constant for the verifier. */
static __always_inline bool write_outer(void *data, void *data_end, const int l2_len, bool outer_v6,
					const struct packet *p, const struct service *svc,
					const struct real *r, __be16 tci, __u32 label)
{
	struct ethhdr *eth = data;
	void *outer = data + l2_len;
	__u8 inner = p->is_v6 ? IPPROTO_IPV6_NUM : IPPROTO_IPIP_NUM;
	__be16 type = outer_v6 ? bpf_htons(ETH_TYPE_IPV6) : bpf_htons(ETH_TYPE_IPV4);

	if (outer + (outer_v6 ? IPV6_HDR_LEN : IPV4_HDR_LEN) > data_end || outer + IPV4_HDR_LEN > data_end)
		return false;
	set_real_macs(eth, r);
	if (l2_len == ETH_HLEN) {
		eth->h_proto = type;
	} else {
		struct vlan_tag *tag = (void *)(eth + 1);
		eth->h_proto = bpf_htons(ETH_TYPE_VLAN);
		tag->tci = tci;
		tag->proto = type;
	}

	if (outer_v6) {
		struct ipv6hdr *ip6 = outer;
		if ((void *)(ip6 + 1) > data_end)
			return false;
		*(__be32 *)ip6 = bpf_htonl((__u32)IPV6_VERSION << IPV6_VERSION_SHIFT |
					   (__u32)p->tos << IPV6_TCLASS_SHIFT | (label & IPV6_FLOW_LABEL));
		ip6->payload_len = bpf_htons(p->l3_len);
		ip6->nexthdr = inner;
		ip6->hop_limit = TUN_TTL;
		__builtin_memcpy(&ip6->saddr, svc->tunnel_src, sizeof(ip6->saddr));
		__builtin_memcpy(&ip6->daddr, r->addr, sizeof(ip6->daddr));
		return true;
	}
	ipv4_write_header(outer, p->tos, p->l3_len + IPV4_HDR_LEN, TUN_TTL, inner,
			  ((const __u32 *)svc->tunnel_src)[V4_MAPPED_WORDS - 1], ((const __u32 *)r->addr)[V4_MAPPED_WORDS - 1]);
	return true;
}

/* tun_encap pushes the outer header for real r in front of p's IP packet
 * (see the top of this file). On false the frame may have grown already
 * and must be dropped. outer_v6 is whether r's address is IPv6 (the
 * caller asks is_v4_mapped once per packet, for the MTU check, the label
 * and this), label the IPv6 outer flow label.
 * Inlined: once per TUN packet, and it takes ctx. */
static __always_inline bool tun_encap(struct xdp_md *ctx, const struct packet *p,
				      const struct service *svc, const struct real *r, bool outer_v6, __u32 label)
{
	if (outer_v6 == is_v4_mapped(svc->tunnel_src))
		return false;

	__be16 tci = 0;
	if (p->vlan) {
		void *data = (void *)(long)ctx->data;
		struct vlan_tag *tag = data + ETH_HLEN;
		if ((void *)(tag + 1) > (void *)(long)ctx->data_end)
			return false;
		tci = tag->tci;
	}
	int grow = outer_v6 ? IPV6_HDR_LEN : IPV4_HDR_LEN;
	if (bpf_xdp_adjust_head(ctx, -grow))
		return false;

	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (p->vlan)
		return write_outer(data, data_end, L2_LEN_VLAN, outer_v6, p, svc, r, tci, label);
	return write_outer(data, data_end, ETH_HLEN, outer_v6, p, svc, r, tci, label);
}

#endif
