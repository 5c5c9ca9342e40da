//go:build ignore

// SPDX-License-Identifier: GPL-2.0
/* refdr.c: the second benchmark reference, a minimal stateless DR balancer:
 * parse Ethernet/IPv4 or IPv6/TCP-UDP, look the VIP up in a hash, hash the
 * 5-tuple, pick a real from an array, rewrite the MACs, XDP_TX. No state,
 * no counters, no VLAN, no IPv6 extension headers: the least work a
 * balancer does for each family, so that xlb's cost reads as a ratio to
 * it (issue 4's targets), IPv6 against IPv6. Not used in production. */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "hash.h"

char LICENSE[] SEC("license") = "GPL";

#define REFDR_MAX_SERVICES 64 /* entries */
#define REFDR_MAX_REALS 16384 /* entries */
#define REFDR_L4_MIN 8        /* bytes of TCP/UDP header read: ports, at least a UDP header */
#define REFDR_KEY6_WORDS 5    /* 32-bit words in struct refdr_key6 */
#define REFDR_PROTO_SHIFT 16  /* bits: proto's place in refdr_key6's last word as loaded (bpfel) */

/* refdr_key is a VIP: IPv4 address, port and protocol, one 8-byte key. */
struct refdr_key {
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 pad;
};

/* refdr_key6 is an IPv6 VIP: five words, written whole (refdr_ipv6). */
struct refdr_key6 {
	__u8 addr[16];
	__be16 port;
	__u8 proto;
	__u8 pad;
};

_Static_assert(sizeof(struct refdr_key6) == REFDR_KEY6_WORDS * sizeof(__u32) &&
	       __builtin_offsetof(struct refdr_key6, port) == (REFDR_KEY6_WORDS - 1) * sizeof(__u32),
	       "refdr_key6: port, proto and pad no longer fill the last word");

/* refdr_service says where a service's reals sit in refdr_reals. */
struct refdr_service {
	__u32 first; /* index of the first real */
	__u32 count; /* reals from first on; > 0 */
};

/* refdr_real is what a DR forward needs: two MACs. */
struct refdr_real {
	__u8 mac[ETH_ADDR_LEN];
	__u8 src_mac[ETH_ADDR_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, REFDR_MAX_SERVICES);
	__type(key, struct refdr_key);
	__type(value, struct refdr_service);
} refdr_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, REFDR_MAX_REALS);
	__type(key, __u32);
	__type(value, struct refdr_real);
} refdr_reals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, REFDR_MAX_SERVICES);
	__type(key, struct refdr_key6);
	__type(value, struct refdr_service);
} refdr_services6 SEC(".maps");

/* refct_xdp, the third benchmark reference, is refdr with connection
 * tracking (refdr_main's tracked): the least a balancer that keeps flows
 * on their real does. After refdr's VIP lookup it looks the 5-tuple up in an LRU hash of
 * REFCT_CONNS entries (xlb's default table size, the common LRU as xlb's
 * conns4/conns6, keys of xlb's layouts: struct flow4 and struct flow);
 * a hit names the real, a miss schedules as refdr does and inserts. No
 * timeouts, TCP state or counters. Its figures say how much of xlb's cost
 * over refdr any tracked balancer pays here (docs/BENCHMARKS.md): the
 * table lookup, and on a new flow the insert into a full LRU. Shares
 * refdr's services and reals. Not used in production. */

#define REFCT_CONNS (1 << 20) /* entries per family: maps.DefaultConnTableSize */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, REFCT_CONNS);
	__type(key, struct flow4);
	__type(value, __u32); /* index into refdr_reals */
} refct_conns4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, REFCT_CONNS);
	__type(key, struct flow);
	__type(value, __u32);
} refct_conns6 SEC(".maps");

/* refdr_send rewrites the MACs for real idx: the part both families and
 * both programs share. Inlined: one call per VIP packet. */
static __always_inline int refdr_send(struct ethhdr *eth, __u32 idx)
{
	struct refdr_real *r = bpf_map_lookup_elem(&refdr_reals, &idx);
	if (!r)
		return XDP_DROP;
	__builtin_memcpy(eth->h_dest, r->mac, ETH_ADDR_LEN);
	__builtin_memcpy(eth->h_source, r->src_mac, ETH_ADDR_LEN);
	return XDP_TX;
}

/* refdr_ipv6 is the IPv6 path: the fixed header, TCP or UDP right after
 * it (an extension header, as any other next header, is passed). The key
 * is written in whole words, as xlb's fill_vip_key (bpf/parse.h) for the
 * reason given there, so that refdr does not pay a store-forwarding stall
 * xlb avoids. The addresses are folded to one word each by xor before the
 * IPv4 path's hash3. tracked (a constant: refct) adds the connection
 * table, its key in conns6's layout, written in whole words. Inlined: one
 * call per IPv6 packet. */
static __always_inline int refdr_ipv6(struct ethhdr *eth, void *data_end, const bool tracked)
{
	struct ipv6hdr *ip6 = (void *)(eth + 1);

	if ((void *)(ip6 + 1) > data_end)
		return XDP_DROP;
	__u8 proto = ip6->nexthdr;
	if (proto != IPPROTO_TCP_NUM && proto != IPPROTO_UDP_NUM)
		return XDP_PASS;
	__u16 *ports = (void *)(ip6 + 1);
	if ((void *)ports + REFDR_L4_MIN > data_end)
		return XDP_DROP;

	__u32 *s = (__u32 *)&ip6->saddr;
	__u32 *d = (__u32 *)&ip6->daddr;
	struct refdr_key6 key __attribute__((aligned(sizeof(__u32))));
	__u32 *k = (__u32 *)&key;
	k[0] = d[0];
	k[1] = d[1];
	k[2] = d[2];
	k[3] = d[3];
	/* Port, proto and pad as one word; bpfel: the port is the low half. */
	k[4] = (__u32)ports[1] | (__u32)proto << REFDR_PROTO_SHIFT;
	struct refdr_service *svc = bpf_map_lookup_elem(&refdr_services6, &key);
	if (!svc)
		return XDP_PASS;
	struct flow f;
	if (tracked) {
		__u32 *fw = (__u32 *)&f;
		for (int i = 0; i < 4; i++) {
			fw[i] = s[i];
			fw[4 + i] = d[i];
		}
		fw[8] = *(__u32 *)ports;
		fw[9] = proto;
		__u32 *c = bpf_map_lookup_elem(&refct_conns6, &f);
		if (c)
			return refdr_send(eth, *c);
	}
	__u32 h = hash3(s[0] ^ s[1] ^ s[2] ^ s[3], k[0] ^ k[1] ^ k[2] ^ k[3],
			((__u32)ports[0] << 16) | ports[1], proto);
	__u32 idx = svc->first + hash_to_slot(h, svc->count);
	if (tracked)
		bpf_map_update_elem(&refct_conns6, &f, &idx, BPF_ANY);
	return refdr_send(eth, idx);
}

/* refdr_main is both programs: refdr, and refct when tracked (a
 * constant). Inlined: the programs' whole body. */
static __always_inline int refdr_main(struct xdp_md *ctx, const bool tracked)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > data_end)
		return XDP_DROP;
	if (eth->h_proto != bpf_htons(ETH_TYPE_IPV4)) {
		/* IPv4 first: its path costs what it did before IPv6 came. */
		if (eth->h_proto == bpf_htons(ETH_TYPE_IPV6))
			return refdr_ipv6(eth, data_end, tracked);
		return XDP_PASS;
	}
	if (ip->protocol != IPPROTO_TCP_NUM && ip->protocol != IPPROTO_UDP_NUM)
		return XDP_PASS;
	__u16 *ports = (void *)ip + ip->ihl * IPV4_IHL_UNIT;
	if ((void *)ports + REFDR_L4_MIN > data_end)
		return XDP_DROP;

	struct refdr_key key = {
		.addr = ip->daddr,
		.port = ports[1],
		.proto = ip->protocol,
	};
	struct refdr_service *svc = bpf_map_lookup_elem(&refdr_services, &key);
	if (!svc)
		return XDP_PASS;
	struct flow4 f;
	if (tracked) {
		/* Whole words, as xlb's fill_flow4. */
		__u32 *fw = (__u32 *)&f;
		fw[0] = ip->saddr;
		fw[1] = ip->daddr;
		fw[2] = *(__u32 *)ports;
		fw[3] = ip->protocol;
		__u32 *c = bpf_map_lookup_elem(&refct_conns4, &f);
		if (c)
			return refdr_send(eth, *c);
	}
	__u32 h = hash3(ip->saddr, ip->daddr, ((__u32)ports[0] << 16) | ports[1], ip->protocol);
	__u32 idx = svc->first + hash_to_slot(h, svc->count);
	if (tracked)
		bpf_map_update_elem(&refct_conns4, &f, &idx, BPF_ANY);
	return refdr_send(eth, idx);
}

SEC("xdp")
int refdr_xdp(struct xdp_md *ctx)
{
	return refdr_main(ctx, false);
}

SEC("xdp")
int refct_xdp(struct xdp_md *ctx)
{
	return refdr_main(ctx, true);
}
