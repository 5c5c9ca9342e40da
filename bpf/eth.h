/* eth.h: writing a frame's Ethernet addresses. */
#ifndef XLB_ETH_H
#define XLB_ETH_H

#include <linux/if_ether.h>
#include <linux/types.h>
#include "consts.h"
#include "structs.h"

/* set_macs writes the two MACs at macs (8-byte aligned), destination then
 * source side by side as in the Ethernet header: one 8-byte and one 4-byte
 * copy. Two 6-byte memcpys took twelve byte loads and stores, six 16-bit
 * copies 1.5 ns less (session 4), these two 1–3 ns less again (session 9:
 * DR IPv6 1.44 -> 1.36 x refdr). eth itself may be only 2-byte aligned
 * (the packet's start; TUN's grown frame): the verifier allows such
 * accesses where the CPU does them at full speed (x86-64 and arm64 do;
 * it would refuse the program under BPF_F_STRICT_ALIGNMENT). The caller
 * checked that the header is in the packet. Inlined: once per forwarded
 * packet. */
static __always_inline void set_macs(struct ethhdr *eth, const __u8 *macs)
{
	*(__u64 *)eth = *(const __u64 *)macs;
	*(__u32 *)((__u8 *)eth + sizeof(__u64)) = *(const __u32 *)(macs + sizeof(__u64));
}

/* set_real_macs writes real r's next hop (r->mac) and the MAC of its
 * interface (r->src_mac) as eth's destination and source (set_macs).
 * Inlined: once per forwarded packet. */
static __always_inline void set_real_macs(struct ethhdr *eth, const struct real *r)
{
	set_macs(eth, r->mac);
}

_Static_assert(__builtin_offsetof(struct real, mac) % sizeof(__u64) == 0 &&
		       __builtin_offsetof(struct real, src_mac) == __builtin_offsetof(struct real, mac) + ETH_ADDR_LEN,
	       "real: mac and src_mac are not two adjacent MACs, 8-aligned (set_macs)");
_Static_assert(__builtin_offsetof(struct ethhdr, h_source) == ETH_ADDR_LEN, "ethhdr: h_source does not follow h_dest");

#endif
