/* parse.h: bounded, bounds-checked parsing of Ethernet (one optional
 * 802.1Q tag), IPv4 or IPv6 (with up to IPV6_EXT_MAX extension headers) and
 * the TCP/UDP header, and the services key of the parsed flow. Every read
 * is preceded by a check against data_end; the one loop (IPv6 extension
 * headers) has a constant bound. */
#ifndef XLB_PARSE_H
#define XLB_PARSE_H

#include <stdbool.h>
#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "structs.h"

/* packet is what parse_packet learns about a frame: the flow (the conns
 * key) and what a tunnel's outer header needs. */
struct packet {
	struct flow flow;
	__u16 l3_len;   /* bytes of the IP packet: IPv4 total length, or 40 + IPv6 payload length */
	__u8 vlan;      /* 1 if an 802.1Q tag sits between Ethernet and IP */
	__u8 is_v6;     /* 1 for IPv6, 0 for IPv4 */
	__u8 tcp_flags; /* TCP flags byte; 0 for UDP */
	__u8 tos;       /* IPv4 TOS or IPv6 traffic class (DSCP and ECN) */
	__u16 l4_off;   /* bytes from the frame's start to the TCP/UDP header (NAT rewrites it) */
};

/* vlan_tag is the 802.1Q tag after the MAC addresses (IEEE 802.1Q 9.3). */
struct vlan_tag {
	__be16 tci;
	__be16 proto; /* EtherType of what follows */
};

/* l4_ports is the start shared by TCP (RFC 9293 3.1) and UDP (RFC 768). */
struct l4_ports {
	__be16 src;
	__be16 dst;
};

/* ipv6_ext is the start shared by hop-by-hop, routing and destination
 * options headers (RFC 8200 4.3, 4.4, 4.6); each is at least 8 bytes. */
struct ipv6_ext {
	__u8 nexthdr;
	__u8 len;           /* 8-byte units beyond the first 8 */
	__u8 routing_type;  /* routing header only */
	__u8 segments_left; /* routing header only */
	__u8 rest[4];
};

/* is_v4_mapped says whether a 16-byte address (4-byte aligned) is
 * ::ffff:a.b.c.d, an IPv4 address. Inlined: tiny. */
static __always_inline bool is_v4_mapped(const __u8 *addr)
{
	const __u32 *w = (const __u32 *)addr;
	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(V4_MAPPED_MARK);
}

/* flow_words views the flow as the 32-bit words the program writes. */
static __always_inline __u32 *flow_words(struct flow *f)
{
	return (__u32 *)f;
}

/* parse_l4 reads the ports and TCP flags of the TCP or UDP header at l4,
 * which has avail bytes of the IP packet left. Inlined: once per packet. */
static __always_inline bool parse_l4(void *data, void *l4, __u32 avail, __u8 proto, void *data_end,
				     struct packet *p, enum reason *why)
{
	struct l4_ports *ports = l4;

	if (proto == IPPROTO_TCP_NUM) {
		struct tcphdr *tcp = l4;
		if (sizeof(*tcp) > avail || (void *)(tcp + 1) > data_end) {
			*why = REASON_DROP_MALFORMED;
			return false;
		}
		p->tcp_flags = ((__u8 *)tcp)[TCP_FLAGS_OFFSET];
	} else if (proto == IPPROTO_UDP_NUM) {
		struct udphdr *udp = l4;
		if (sizeof(*udp) > avail || (void *)(udp + 1) > data_end) {
			*why = REASON_DROP_MALFORMED;
			return false;
		}
		p->tcp_flags = 0;
	} else {
		/* Not TCP/UDP: passed, but an ICMP error may be about a tracked
		 * flow (icmp.h), which needs to know where its header is. TCP
		 * and UDP never come here, so this costs them nothing. */
		p->l4_off = l4 - data;
		flow_words(&p->flow)[FLOW_WORDS - 1] = proto;
		*why = REASON_PASS_OTHER_L4;
		return false;
	}
	/* Ports as one word, copied whole from the header (one 32-bit load:
	 * the two ports sit in the flow as in the header), and proto with its
	 * pad as one word, so the key is written in whole words (see
	 * fill_vip_key). */
	__u32 *w = flow_words(&p->flow);
	w[FLOW_WORDS - 2] = *(__u32 *)ports;
	w[FLOW_WORDS - 1] = proto;
	p->l4_off = l4 - data;
	return true;
}

/* parse_ipv4 parses the IPv4 header at ip and what follows.
 *
 * Fragments are passed to the stack, first fragments included: only the
 * first carries ports, so balancing it alone would split a datagram between
 * reals; the stack reassembles instead (DR services with fragmenting
 * clients are rare, and PMTU discovery keeps TCP unfragmented). */
static __always_inline bool parse_ipv4(void *data, struct iphdr *ip, void *data_end,
				       struct packet *p, enum reason *why)
{
	/* RFC 791 3.1: version 4, IHL >= 5 words, total length covers the
	 * header and fits the frame (a frame may be longer: Ethernet padding). */
	if ((void *)(ip + 1) > data_end) {
		*why = REASON_DROP_MALFORMED;
		return false;
	}
	if (ip->version != IPV4_VERSION || ip->ihl < IPV4_IHL_MIN) {
		*why = REASON_DROP_MALFORMED;
		return false;
	}
	__u32 hdr_len = ip->ihl * IPV4_IHL_UNIT;
	__u32 tot_len = bpf_ntohs(ip->tot_len);
	__u64 avail = data_end - (void *)ip;
	if (tot_len < hdr_len || tot_len > avail) {
		*why = REASON_DROP_MALFORMED;
		return false;
	}
	if (ip->frag_off & bpf_htons(IPV4_FLAG_MF | IPV4_FRAG_OFFSET)) {
		*why = REASON_PASS_FRAGMENT;
		return false;
	}

	/* Only the addresses' last words: nothing reads the v4-mapped
	 * prefixes of an IPv4 flow (fill_vip4_key, fill_flow4 and flow_hash
	 * take the last words), and storing them cost six stores per packet. */
	__u32 *w = flow_words(&p->flow);
	w[V4_MAPPED_WORDS - 1] = ip->saddr;
	w[2 * V4_MAPPED_WORDS - 1] = ip->daddr;
	p->l3_len = tot_len;
	p->is_v6 = 0;
	p->tos = ip->tos;
	return parse_l4(data, (void *)ip + hdr_len, tot_len - hdr_len, ip->protocol, data_end, p, why);
}

/* parse_ipv6 parses the IPv6 header at ip6, walks up to IPV6_EXT_MAX
 * hop-by-hop, routing and destination options headers (RFC 8200 4.1),
 * and parses the TCP or UDP header after them. A fragment header sends the
 * packet to the stack (as IPv4 fragments), as does a longer chain and a
 * routing header with segments left (the VIP is not the final destination,
 * RFC 8200 4.4). Anything else (ESP, AH, no next header, ICMPv6) is not
 * TCP/UDP: passed. */
static __always_inline bool parse_ipv6(void *data, struct ipv6hdr *ip6, void *data_end,
				       struct packet *p, enum reason *why)
{
	if ((void *)(ip6 + 1) > data_end || ip6->version != IPV6_VERSION) {
		*why = REASON_DROP_MALFORMED;
		return false;
	}
	__u32 plen = bpf_ntohs(ip6->payload_len);
	__u64 avail = data_end - (void *)ip6;
	if (IPV6_HDR_LEN + plen > avail) {
		*why = REASON_DROP_MALFORMED;
		return false;
	}

	__u32 *w = flow_words(&p->flow);
	__u32 *src = (__u32 *)&ip6->saddr;
	__u32 *dst = (__u32 *)&ip6->daddr;
	w[0] = src[0];
	w[1] = src[1];
	w[2] = src[2];
	w[3] = src[3];
	w[4] = dst[0];
	w[5] = dst[1];
	w[6] = dst[2];
	w[7] = dst[3];
	p->l3_len = IPV6_HDR_LEN + plen;
	p->is_v6 = 1;
	p->tos = ip6->priority << 4 | ip6->flow_lbl[0] >> 4;

	__u8 nh = ip6->nexthdr;
	void *cur = ip6 + 1;
	__u32 used = 0; /* bytes of extension headers walked */
	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		if (nh != NEXTHDR_HOP && nh != NEXTHDR_ROUTING && nh != NEXTHDR_DEST)
			break;
		struct ipv6_ext *ext = cur;
		if ((void *)(ext + 1) > data_end) {
			*why = REASON_DROP_MALFORMED;
			return false;
		}
		if (nh == NEXTHDR_ROUTING && ext->segments_left != 0) {
			*why = REASON_PASS_IPV6_ROUTING;
			return false;
		}
		__u32 len = ((__u32)ext->len + 1) * IPV6_EXT_UNIT;
		used += len;
		if (used > plen) {
			*why = REASON_DROP_MALFORMED;
			return false;
		}
		nh = ext->nexthdr;
		cur += len;
	}
	if (nh == NEXTHDR_FRAGMENT) {
		*why = REASON_PASS_FRAGMENT;
		return false;
	}
	if (nh == NEXTHDR_HOP || nh == NEXTHDR_ROUTING || nh == NEXTHDR_DEST) {
		*why = REASON_PASS_IPV6_EXT_LIMIT;
		return false;
	}
	return parse_l4(data, cur, plen - used, nh, data_end, p, why);
}

/* parse_packet fills p from an Ethernet frame carrying IPv4 or IPv6 TCP or
 * UDP and returns true. Otherwise it returns false and sets why. Inlined:
 * it runs for every packet and fills the caller's stack. */
static __always_inline bool parse_packet(void *data, void *data_end,
					 struct packet *p, enum reason *why)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end) {
		*why = REASON_DROP_MALFORMED;
		return false;
	}
	__be16 type = eth->h_proto;
	void *cur = eth + 1;

	p->vlan = 0;
	if (type == bpf_htons(ETH_TYPE_VLAN)) {
		struct vlan_tag *tag = cur;
		if ((void *)(tag + 1) > data_end) {
			*why = REASON_DROP_MALFORMED;
			return false;
		}
		type = tag->proto;
		cur = tag + 1;
		p->vlan = 1;
	}
	if (type == bpf_htons(ETH_TYPE_IPV4))
		return parse_ipv4(data, cur, data_end, p, why);
	if (type == bpf_htons(ETH_TYPE_IPV6))
		return parse_ipv6(data, cur, data_end, p, why);
	*why = REASON_PASS_NOT_IP;
	return false;
}

_Static_assert(sizeof(struct vip_key) == VIP_KEY_WORDS * sizeof(__u32), "vip_key is not whole words");
_Static_assert(__builtin_offsetof(struct vip_key, port) == V4_MAPPED_WORDS * sizeof(__u32) &&
	       __builtin_offsetof(struct vip_key, proto) == __builtin_offsetof(struct vip_key, port) + sizeof(__be16),
	       "vip_key: port and proto no longer fill the last word");
_Static_assert(sizeof(struct flow) == FLOW_WORDS * sizeof(__u32), "flow is not whole words");
_Static_assert(__builtin_offsetof(struct flow, sport) == (FLOW_WORDS - 2) * sizeof(__u32) &&
	       __builtin_offsetof(struct flow, proto) == (FLOW_WORDS - 1) * sizeof(__u32),
	       "flow: ports and proto are not the last two words");

_Static_assert(sizeof(struct vip4_key) == 2 * sizeof(__u32) &&
	       __builtin_offsetof(struct vip4_key, port) == sizeof(__u32),
	       "vip4_key: port and proto no longer fill the second word");

/* vip_port_proto is the last word of a services key: port (network
 * order), proto, pad 0. Built from the flow's ports and proto words,
 * loaded whole as parse_l4 stored them: a 16-bit load of the destination
 * port, the upper half of the ports word's store, was not forwarded from
 * the store buffer here (6 % of an established DR packet's samples
 * stalled on it). The program is built for little-endian BPF only
 * (bpfel): a word's first bytes are its low half. Inlined: tiny. */
static __always_inline __u32 vip_port_proto(struct flow *f)
{
	__u32 *fw = flow_words(f);

	return fw[FLOW_WORDS - 2] >> 16 | fw[FLOW_WORDS - 1] << 16;
}

/* vip_port0_proto is vip_port_proto for port 0: the last word of the
 * key of an all-ports service of f's protocol, from the proto word as
 * vip_port_proto. Inlined: tiny. */
static __always_inline __u32 vip_port0_proto(struct flow *f)
{
	return flow_words(f)[FLOW_WORDS - 1] << 16;
}

_Static_assert(sizeof(struct flow4) == FLOW4_WORDS * sizeof(__u32), "flow4 is not whole words");
_Static_assert(__builtin_offsetof(struct flow4, sport) == 2 * sizeof(__u32) &&
	       __builtin_offsetof(struct flow4, proto) == 3 * sizeof(__u32),
	       "flow4: ports and proto are not the last two words");

/* fill_flow4 writes the conns4 key of an IPv4 flow f, in whole words (see
 * fill_vip_key): the addresses' last words, the ports word and the proto
 * word with its zero pad, as parse_ipv4 and parse_l4 wrote them. The last
 * two are read as volatile, so one 32-bit load each: clang merged them
 * into one 64-bit load, which spans parse_l4's two 32-bit stores and so
 * cannot be forwarded from the store buffer (measured: 8 % of a NAT
 * reply's samples stalled there). Inlined: once per IPv4 VIP packet. */
static __always_inline void fill_flow4(struct flow4 *k, struct flow *f)
{
	__u32 *w = (__u32 *)k;
	__u32 *fw = flow_words(f);

	w[0] = fw[V4_MAPPED_WORDS - 1];
	w[1] = fw[2 * V4_MAPPED_WORDS - 1];
	w[2] = *(volatile __u32 *)&fw[FLOW_WORDS - 2];
	w[3] = *(volatile __u32 *)&fw[FLOW_WORDS - 1];
}

/* fill_vip_key writes the services key of an IPv6 flow f's destination:
 * the 16-byte address, port and protocol, every byte (padding zero). It
 * stores whole 32-bit words on purpose: the kernel hashes the key a word
 * at a time (jhash2), and a word assembled from narrower stores (zero the
 * key, then write the port and proto bytes) cannot be forwarded from the
 * store buffer, so each such load stalls. Measured: 8 ns per packet, VIP
 * or not. The flow was written in words for the same reason. Inlined: one
 * call per IPv6 packet. */
static __always_inline void fill_vip_key(struct vip_key *key, struct flow *f)
{
	__u32 *w = (__u32 *)key;
	__u32 *fw = flow_words(f);

	w[0] = fw[4];
	w[1] = fw[5];
	w[2] = fw[6];
	w[3] = fw[7];
	w[4] = vip_port_proto(f);
}

/* fill_vip4_key writes the services4 key of an IPv4 flow f's destination,
 * in whole words as fill_vip_key. Inlined: one call per IPv4 packet. */
static __always_inline void fill_vip4_key(struct vip4_key *key, struct flow *f)
{
	__u32 *w = (__u32 *)key;

	w[0] = flow_words(f)[2 * V4_MAPPED_WORDS - 1];
	w[1] = vip_port_proto(f);
}

#endif
