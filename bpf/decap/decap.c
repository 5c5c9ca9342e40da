//go:build ignore

// SPDX-License-Identifier: GPL-2.0
/* decap.c: the real server's side of xlb's TUN mode. This kernel has no
 * ipip, sit or ip6tnl devices, so this XDP program strips the outer header
 * of tunnelled frames itself and passes the inner packet to the stack, which
 * delivers it to the VIP configured on lo:
 *
 *   outer IPv4, protocol 4  -> inner IPv4   (IPIP, RFC 2003)
 *   outer IPv4, protocol 41 -> inner IPv6   (6in4, RFC 4213 section 3.5)
 *   outer IPv6, next hdr 41 -> inner IPv6   (IP6IP6, RFC 2473)
 *   outer IPv6, next hdr 4  -> inner IPv4   (4in6, RFC 2473)
 *
 * A frame is decapsulated only when its outer destination is in decap_dsts
 * (this host's tunnel endpoints) AND its inner destination is in vips: the
 * real then never forwards tunnelled traffic for anyone else. Everything
 * else passes untouched, so the program can sit on a busy interface.
 * Malformed inner packets of an accepted tunnel are dropped (the stack
 * would drop them too, but only after we have stripped the outer header).
 * Every verdict bumps one enum reason.
 *
 * Outer IPv4 fragments pass untouched (the stack reassembles them and, with
 * no tunnel device, drops the result): xlb's encapsulation answers
 * "fragmentation needed" / Packet Too Big instead of fragmenting. Outer IPv6 extension headers are
 * not walked: xlb never sends them, so such a frame passes untouched.
 * Checksums need no work: no IPv4 header is rewritten, and the inner L4
 * checksum covers only the inner packet, which arrives as the client sent
 * it. */
#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

/* Ethernet (IEEE 802.3, 802.1Q). */
#define ETH_TYPE_IPV4 0x0800 /* EtherType, host order */
#define ETH_TYPE_IPV6 0x86dd /* EtherType, host order */
#define ETH_TYPE_VLAN 0x8100 /* 802.1Q tag EtherType, host order */

/* IPv4 (RFC 791 section 3.1) and IPv6 (RFC 8200 section 3). */
#define IPV4_VERSION 4
#define IPV6_VERSION 6
#define IPV4_IHL_MIN 5          /* 32-bit words: a header without options */
#define IPV4_IHL_UNIT 4         /* bytes per IHL word */
#define IPV4_FLAG_MF 0x2000     /* more fragments, host order */
#define IPV4_FRAG_OFFSET 0x1fff /* fragment offset mask, host order */
#define PROTO_IPIP 4            /* IP protocol / next header: IPv4 inside */
#define PROTO_IPV6 41           /* IP protocol / next header: IPv6 inside */

/* v4-mapped IPv6 (RFC 4291 section 2.5.5.2), as netip.Addr.As16. */
#define V4_MAPPED_MARK 0xffff /* the third 32-bit word, host order */

/* Map sizes (entries). */
#define MAX_DECAP_DSTS 256 /* tunnel endpoint addresses of this host */
#define MAX_VIPS 1024      /* VIPs this real serves */

/* decap_addr is an IPv4 (v4-mapped) or IPv6 address, as netip.Addr.As16. */
struct decap_addr {
	__u8 addr[16];
};

/* reason indexes the per-CPU reasons array; each verdict path bumps one. */
enum reason {
	REASON_PASS_NOT_IP = 0,       /* neither IPv4 nor IPv6 (ARP, ...) */
	REASON_PASS_NOT_TUNNEL,       /* IP, but no IPIP / IPv6 payload: ordinary traffic */
	REASON_PASS_BAD_OUTER,        /* outer header malformed: the stack counts and drops it */
	REASON_PASS_OUTER_FRAGMENT,   /* outer IPv4 fragment: left to the stack */
	REASON_PASS_NOT_DST,          /* outer destination not in decap_dsts */
	REASON_PASS_NOT_VIP,          /* inner destination not in vips */
	REASON_DROP_INNER_TRUNCATED,  /* inner header or datagram longer than the outer payload */
	REASON_DROP_INNER_VERSION,    /* inner IP version does not match the outer protocol */
	REASON_DROP_INNER_MALFORMED,  /* inner IPv4 IHL or total length invalid */
	REASON_DROP_ADJUST_HEAD,      /* bpf_xdp_adjust_head refused */
	REASON_DECAP_IPIP,            /* IPv4 in IPv4 stripped, passed */
	REASON_DECAP_6IN4,            /* IPv6 in IPv4 stripped, passed */
	REASON_DECAP_IP6IP6,          /* IPv6 in IPv6 stripped, passed */
	REASON_DECAP_4IN6,            /* IPv4 in IPv6 stripped, passed */
	REASON_MAX,
};

/* decap_dsts is the set of outer destinations this host accepts tunnels
 * to: the addresses of the interface the program is attached to. The value
 * is unused (Go writes 1); only presence counts. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_DECAP_DSTS);
	__type(key, struct decap_addr);
	__type(value, __u32);
} decap_dsts SEC(".maps");

/* vips is the set of inner destinations accepted: the VIPs on lo. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_VIPS);
	__type(key, struct decap_addr);
	__type(value, __u32);
} vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REASON_MAX);
	__type(key, __u32);
	__type(value, __u64);
} reasons SEC(".maps");

/* btf_anchor is never called: its parameters put enum reason and struct
 * decap_addr into BTF in full, so bpf2go emits them as Go types. Global, so
 * the compiler keeps it; nothing loads it. */
void btf_anchor(enum reason r, struct decap_addr a)
{
}

/* vlan_tag is the 802.1Q tag after the MAC addresses (IEEE 802.1Q 9.3). */
struct vlan_tag {
	__be16 tci;
	__be16 proto; /* EtherType of what follows */
};

/* tunnel describes an accepted tunnelled frame. */
struct tunnel {
	__u32 outer_len;  /* bytes of outer IP header to strip */
	__be16 inner_type; /* EtherType of the inner packet, network order */
	__u8 vlan;        /* 1 if one 802.1Q tag follows the MACs */
	__u8 pad;
};

/* mapped_v4 writes the v4-mapped form of a into k. */
static __always_inline void mapped_v4(struct decap_addr *k, __be32 a)
{
	__u32 *w = (__u32 *)k->addr;

	w[0] = 0;
	w[1] = 0;
	w[2] = bpf_htonl(V4_MAPPED_MARK);
	w[3] = a;
}

/* inner_ok checks the inner packet at inner, inner_len bytes of outer
 * payload, against the version the outer protocol promises, and looks its
 * destination up in vips. It returns REASON_MAX when the frame may be
 * decapsulated, else the reason not to. */
static __always_inline enum reason inner_ok(void *inner, __u32 inner_len,
					    void *data_end, __u8 proto)
{
	struct decap_addr key = {};

	if (proto == PROTO_IPIP) {
		struct iphdr *ip = inner;
		if (inner_len < sizeof(*ip) || (void *)(ip + 1) > data_end)
			return REASON_DROP_INNER_TRUNCATED;
		if (ip->version != IPV4_VERSION)
			return REASON_DROP_INNER_VERSION;
		__u32 hdr_len = ip->ihl * IPV4_IHL_UNIT;
		__u32 tot_len = bpf_ntohs(ip->tot_len);
		if (ip->ihl < IPV4_IHL_MIN || tot_len < hdr_len)
			return REASON_DROP_INNER_MALFORMED;
		if (tot_len > inner_len)
			return REASON_DROP_INNER_TRUNCATED;
		mapped_v4(&key, ip->daddr);
	} else {
		struct ipv6hdr *ip6 = inner;
		if (inner_len < sizeof(*ip6) || (void *)(ip6 + 1) > data_end)
			return REASON_DROP_INNER_TRUNCATED;
		if (ip6->version != IPV6_VERSION)
			return REASON_DROP_INNER_VERSION;
		if (sizeof(*ip6) + bpf_ntohs(ip6->payload_len) > inner_len)
			return REASON_DROP_INNER_TRUNCATED;
		__builtin_memcpy(key.addr, &ip6->daddr, sizeof(key.addr));
	}
	if (!bpf_map_lookup_elem(&vips, &key))
		return REASON_PASS_NOT_VIP;
	return REASON_MAX;
}

/* parse_tunnel decides what to do with a frame. It returns one of the
 * REASON_DECAP_* values and fills t when the frame is to be decapsulated,
 * else the pass or drop reason. It does not change the frame. */
static __always_inline enum reason parse_tunnel(void *data, void *data_end,
						struct tunnel *t)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return REASON_PASS_NOT_IP;
	__be16 type = eth->h_proto;
	void *cur = eth + 1;

	if (type == bpf_htons(ETH_TYPE_VLAN)) {
		struct vlan_tag *tag = cur;
		if ((void *)(tag + 1) > data_end)
			return REASON_PASS_NOT_IP;
		type = tag->proto;
		cur = tag + 1;
		t->vlan = 1;
	}

	struct decap_addr dst = {};
	__u32 inner_len;
	__u8 proto;
	__u64 avail = data_end - cur;

	if (type == bpf_htons(ETH_TYPE_IPV4)) {
		/* RFC 791 3.1: version 4, IHL >= 5 words, total length covers
		 * the header and fits the frame (Ethernet padding may follow). */
		struct iphdr *ip = cur;
		if ((void *)(ip + 1) > data_end || ip->version != IPV4_VERSION)
			return REASON_PASS_BAD_OUTER;
		proto = ip->protocol;
		if (proto != PROTO_IPIP && proto != PROTO_IPV6)
			return REASON_PASS_NOT_TUNNEL;
		__u32 hdr_len = ip->ihl * IPV4_IHL_UNIT;
		__u32 tot_len = bpf_ntohs(ip->tot_len);
		if (ip->ihl < IPV4_IHL_MIN || tot_len < hdr_len || tot_len > avail)
			return REASON_PASS_BAD_OUTER;
		if (ip->frag_off & bpf_htons(IPV4_FLAG_MF | IPV4_FRAG_OFFSET))
			return REASON_PASS_OUTER_FRAGMENT;
		mapped_v4(&dst, ip->daddr);
		t->outer_len = hdr_len;
		inner_len = tot_len - hdr_len;
	} else if (type == bpf_htons(ETH_TYPE_IPV6)) {
		struct ipv6hdr *ip6 = cur;
		if ((void *)(ip6 + 1) > data_end || ip6->version != IPV6_VERSION)
			return REASON_PASS_BAD_OUTER;
		proto = ip6->nexthdr;
		if (proto != PROTO_IPIP && proto != PROTO_IPV6)
			return REASON_PASS_NOT_TUNNEL;
		inner_len = bpf_ntohs(ip6->payload_len);
		if (sizeof(*ip6) + inner_len > avail)
			return REASON_PASS_BAD_OUTER;
		__builtin_memcpy(dst.addr, &ip6->daddr, sizeof(dst.addr));
		t->outer_len = sizeof(*ip6);
	} else {
		return REASON_PASS_NOT_IP;
	}

	if (!bpf_map_lookup_elem(&decap_dsts, &dst))
		return REASON_PASS_NOT_DST;
	enum reason why = inner_ok(cur + t->outer_len, inner_len, data_end, proto);
	if (why != REASON_MAX)
		return why;

	bool outer4 = type == bpf_htons(ETH_TYPE_IPV4);
	if (proto == PROTO_IPIP) {
		t->inner_type = bpf_htons(ETH_TYPE_IPV4);
		return outer4 ? REASON_DECAP_IPIP : REASON_DECAP_4IN6;
	}
	t->inner_type = bpf_htons(ETH_TYPE_IPV6);
	return outer4 ? REASON_DECAP_6IN4 : REASON_DECAP_IP6IP6;
}

/* count_reason bumps the per-CPU count of r. */
static __always_inline void count_reason(enum reason r)
{
	__u32 key = r;
	__u64 *n = bpf_map_lookup_elem(&reasons, &key);
	if (n)
		(*n)++;
}

/* l2_hdr is the largest link header this program moves: the MACs, one
 * 802.1Q tag and the EtherType. */
struct l2_hdr {
	struct ethhdr eth;    /* h_proto holds the tag's TPID when tagged */
	struct vlan_tag tag;  /* present only when tunnel.vlan */
};

SEC("xdp")
int decap_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct tunnel t = {};

	enum reason why = parse_tunnel(data, data_end, &t);
	if (why < REASON_DROP_INNER_TRUNCATED) {
		count_reason(why);
		return XDP_PASS;
	}
	if (why < REASON_DECAP_IPIP) {
		count_reason(why);
		return XDP_DROP;
	}

	/* Keep the link header, drop the outer IP header: save the header,
	 * move the frame start past the outer header, write the header back
	 * in front of the inner packet with the inner EtherType. An accepted
	 * frame holds at least two IPv4 headers after the link header, so the
	 * whole of l2_hdr is readable even when untagged. */
	struct l2_hdr l2;
	if (data + sizeof(l2) > data_end) {
		count_reason(REASON_DROP_INNER_TRUNCATED);
		return XDP_DROP;
	}
	__builtin_memcpy(&l2, data, sizeof(l2));
	if (bpf_xdp_adjust_head(ctx, (int)t.outer_len)) {
		count_reason(REASON_DROP_ADJUST_HEAD);
		return XDP_DROP;
	}
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (t.vlan) {
		if (data + sizeof(l2) > data_end) {
			count_reason(REASON_DROP_ADJUST_HEAD);
			return XDP_DROP;
		}
		l2.tag.proto = t.inner_type;
		__builtin_memcpy(data, &l2, sizeof(l2));
	} else {
		if (data + sizeof(l2.eth) > data_end) {
			count_reason(REASON_DROP_ADJUST_HEAD);
			return XDP_DROP;
		}
		l2.eth.h_proto = t.inner_type;
		__builtin_memcpy(data, &l2.eth, sizeof(l2.eth));
	}
	count_reason(why);
	return XDP_PASS;
}
