/* parse.h: bounded, bounds-checked parsing of Ethernet (one optional
 * 802.1Q tag), IPv4 and the TCP/UDP ports, and the services key of the
 * parsed flow. Every read is preceded by a check against data_end; there
 * are no loops (IPv4 options are skipped by IHL, not walked). */
#ifndef XLB_PARSE_H
#define XLB_PARSE_H

#include <stdbool.h>
#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "structs.h"

/* flow is the parsed 5-tuple, in network byte order as on the wire. */
struct flow {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
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

/* parse_flow fills f from an Ethernet frame carrying IPv4 TCP or UDP and
 * returns true. Otherwise it returns false and sets why.
 *
 * Fragments are passed to the stack, first fragments included: only the
 * first carries ports, so balancing it alone would split a datagram between
 * reals; the stack reassembles instead (IPv4 DR services with fragmenting
 * clients are rare, and PMTU discovery keeps TCP unfragmented).
 *
 * Inlined: it runs for every packet and fills the caller's stack. */
static __always_inline bool parse_flow(void *data, void *data_end,
				       struct flow *f, enum reason *why)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end) {
		*why = REASON_DROP_MALFORMED;
		return false;
	}
	__be16 type = eth->h_proto;
	void *cur = eth + 1;

	if (type == bpf_htons(ETH_TYPE_VLAN)) {
		struct vlan_tag *tag = cur;
		if ((void *)(tag + 1) > data_end) {
			*why = REASON_DROP_MALFORMED;
			return false;
		}
		type = tag->proto;
		cur = tag + 1;
	}
	if (type != bpf_htons(ETH_TYPE_IPV4)) {
		*why = REASON_PASS_NOT_IPV4;
		return false;
	}

	/* RFC 791 3.1: version 4, IHL >= 5 words, total length covers the
	 * header and fits the frame (a frame may be longer: Ethernet padding). */
	struct iphdr *ip = cur;
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
	__u64 avail = data_end - cur;
	if (tot_len < hdr_len || tot_len > avail) {
		*why = REASON_DROP_MALFORMED;
		return false;
	}
	if (ip->frag_off & bpf_htons(IPV4_FLAG_MF | IPV4_FRAG_OFFSET)) {
		*why = REASON_PASS_FRAGMENT;
		return false;
	}

	__u32 l4_len;
	if (ip->protocol == IPPROTO_TCP_NUM) {
		l4_len = sizeof(struct tcphdr);
	} else if (ip->protocol == IPPROTO_UDP_NUM) {
		l4_len = sizeof(struct udphdr);
	} else {
		*why = REASON_PASS_OTHER_L4;
		return false;
	}
	/* The whole fixed L4 header must be inside the datagram and the frame. */
	struct l4_ports *ports = cur + hdr_len;
	if (hdr_len + l4_len > tot_len ||
	    (void *)ports + l4_len > data_end ||
	    (void *)(ports + 1) > data_end) {
		*why = REASON_DROP_MALFORMED;
		return false;
	}

	f->saddr = ip->saddr;
	f->daddr = ip->daddr;
	f->sport = ports->src;
	f->dport = ports->dst;
	f->proto = ip->protocol;
	return true;
}

_Static_assert(sizeof(struct vip_key) == VIP_KEY_WORDS * sizeof(__u32), "vip_key is not whole words");
_Static_assert(__builtin_offsetof(struct vip_key, port) == V4_MAPPED_WORDS * sizeof(__u32) &&
	       __builtin_offsetof(struct vip_key, proto) == __builtin_offsetof(struct vip_key, port) + sizeof(__be16),
	       "vip_key: port and proto no longer fill the last word");

/* fill_vip_key writes the services key of f's destination: the v4-mapped
 * address, port and protocol, every byte (padding zero). It stores whole
 * 32-bit words on purpose: the kernel hashes the key a word at a time
 * (jhash2), and a word assembled from narrower stores (zero the key, then
 * write the 0xffff, port and proto bytes) cannot be forwarded from the
 * store buffer, so each such load stalls. Measured: 8 ns per packet, VIP or
 * not. Inlined: one call per packet. */
static __always_inline void fill_vip_key(struct vip_key *key, const struct flow *f)
{
	__u32 *w = (__u32 *)key;

	w[0] = 0;
	w[1] = 0;
	w[2] = bpf_htonl(V4_MAPPED_MARK);
	w[3] = f->daddr;
	/* port (network order), proto, pad 0: as a big-endian word. */
	w[4] = bpf_htonl((__u32)bpf_ntohs(f->dport) << 16 | (__u32)f->proto << 8);
}

#endif
