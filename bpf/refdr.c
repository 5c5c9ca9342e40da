//go:build ignore

// SPDX-License-Identifier: GPL-2.0
/* refdr.c: the second benchmark reference, a minimal stateless DR balancer:
 * parse Ethernet/IPv4/TCP-UDP, look the VIP up in a hash, hash the 5-tuple,
 * pick a real from an array, rewrite the MACs, XDP_TX. No state, no
 * counters, no IPv6, no VLAN: the least work a balancer does, so that xlb's
 * cost reads as a ratio to it (issue 4's targets). Not used in production. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "hash.h"

char LICENSE[] SEC("license") = "GPL";

#define REFDR_MAX_SERVICES 64 /* entries */
#define REFDR_MAX_REALS 16384 /* entries */
#define REFDR_L4_MIN 8        /* bytes of TCP/UDP header read: ports, at least a UDP header */

/* refdr_key is a VIP: IPv4 address, port and protocol, one 8-byte key. */
struct refdr_key {
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 pad;
};

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

SEC("xdp")
int refdr_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > data_end)
		return XDP_DROP;
	if (eth->h_proto != bpf_htons(ETH_TYPE_IPV4))
		return XDP_PASS;
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
	__u32 h = hash3(ip->saddr, ip->daddr, ((__u32)ports[0] << 16) | ports[1], ip->protocol);
	__u32 idx = svc->first + hash_to_slot(h, svc->count);
	struct refdr_real *r = bpf_map_lookup_elem(&refdr_reals, &idx);
	if (!r)
		return XDP_DROP;
	__builtin_memcpy(eth->h_dest, r->mac, ETH_ADDR_LEN);
	__builtin_memcpy(eth->h_source, r->src_mac, ETH_ADDR_LEN);
	return XDP_TX;
}
