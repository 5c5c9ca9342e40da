/* eth.h: writing a frame's Ethernet addresses. */
#ifndef XLB_ETH_H
#define XLB_ETH_H

#include <linux/if_ether.h>
#include <linux/types.h>
#include "consts.h"
#include "structs.h"

/* set_macs writes the two MACs at macs, destination then source side by
 * side as in the Ethernet header and 2-byte aligned, as eth's: six 16-bit
 * copies do what two 6-byte memcpys did with twelve byte loads and stores
 * (measured: 1.5 ns of DR's established packet). The caller checked that
 * the header is in the packet. Inlined: once per forwarded packet. */
static __always_inline void set_macs(struct ethhdr *eth, const __u8 *macs)
{
	__u16 *to = (__u16 *)eth;
	const __u16 *from = (const __u16 *)macs;

	for (int i = 0; i < 2 * ETH_ADDR_LEN / sizeof(__u16); i++)
		to[i] = from[i];
}

/* set_real_macs writes real r's next hop (r->mac) and the MAC of its
 * interface (r->src_mac) as eth's destination and source (set_macs).
 * Inlined: once per forwarded packet. */
static __always_inline void set_real_macs(struct ethhdr *eth, const struct real *r)
{
	set_macs(eth, r->mac);
}

_Static_assert(__builtin_offsetof(struct real, mac) % sizeof(__u16) == 0 &&
		       __builtin_offsetof(struct real, src_mac) == __builtin_offsetof(struct real, mac) + ETH_ADDR_LEN,
	       "real: mac and src_mac are not two adjacent, 2-aligned MACs");
_Static_assert(__builtin_offsetof(struct ethhdr, h_source) == ETH_ADDR_LEN, "ethhdr: h_source does not follow h_dest");

#endif
