//go:build ignore

// SPDX-License-Identifier: GPL-2.0
/* macswap.c: the benchmark reference. It swaps the Ethernet addresses and
 * sends the frame back (XDP_TX): the least work a forwarding program does. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include "consts.h"

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int macswap_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 tmp[ETH_ADDR_LEN];

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ADDR_LEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ADDR_LEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ADDR_LEN);
	return XDP_TX;
}
