/* csum.h: the Internet checksum (RFC 1071) of headers the program writes. */
#ifndef XLB_CSUM_H
#define XLB_CSUM_H

#include <linux/types.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include "consts.h"

/* NAT rewrites update checksums incrementally (RFC 1624 eqn. 3: HC' =
 * ~(~HC + ~m + m')). The one's-complement sum does not depend on byte
 * order or word width (RFC 1071 2.(B), (C)), so the changes are summed as
 * the raw 16- and 32-bit words in memory, in 64 bits, and folded once. */

/* csum_delta32 is the change of a 32-bit word from old to new. Inlined:
 * tiny. */
static __always_inline __u64 csum_delta32(__u32 old, __u32 new)
{
	return (__u64)(__u32)~old + new;
}

/* csum_delta16 is the change of a 16-bit word from old to new. Inlined:
 * tiny. */
static __always_inline __u64 csum_delta16(__u16 old, __u16 new)
{
	return (__u64)(__u16)~old + new;
}

#define CSUM_FOLDS64 4 /* 16-bit folds that bring any sum below 2^48 to 16 bits */

/* csum_fold64 folds a sum of 16- or 32-bit words to the 16-bit
 * complement a checksum field holds. Inlined: tiny. */
static __always_inline __u16 csum_fold64(__u64 s)
{
	for (int i = 0; i < CSUM_FOLDS64; i++)
		s = (s & 0xffff) + (s >> 16);
	return ~(__u16)s;
}

/* ipv4_write_header writes an option-less IPv4 header at ip (the caller
 * checked its bounds): version 4, IHL 5, tos, tot_len (host order), id 0
 * (RFC 6864 4.1: atomic datagrams), DF, ttl, proto, saddr, daddr, and its
 * checksum (RFC 791 3.1). The header goes out as five 32-bit stores, and
 * the checksum is summed from the same words in registers, as they sit in
 * memory (RFC 1071 2.(B): byte order does not matter). Summing it back
 * from the packet would load 16-bit words over narrower stores, which the
 * CPU cannot forward from its store buffer: each such load waits for the
 * stores to retire (measured: ~8 ns, a sixth of a TUN packet). Inlined:
 * once per header written. */
static __always_inline void ipv4_write_header(struct iphdr *ip, __u8 tos, __u16 tot_len, __u8 ttl, __u8 proto,
					      __be32 saddr, __be32 daddr)
{
	__u32 *w = (__u32 *)ip;
	__u32 w0 = bpf_htonl((__u32)IPV4_VERSION << 28 | (__u32)IPV4_IHL_MIN << 24 | (__u32)tos << 16 | tot_len);
	__u32 w1 = bpf_htonl(IPV4_FLAG_DF);                                  /* id 0, then flags and offset */
	__u32 w2 = bpf_htonl((__u32)ttl << 24 | (__u32)proto << 16);      /* checksum 0 */
	__u16 check = csum_fold64((__u64)w0 + w1 + w2 + saddr + daddr);

	w[0] = w0;
	w[1] = w1;
	w[2] = w2;
	w[3] = saddr;
	w[4] = daddr;
	ip->check = check;
}

/* csum_apply returns checksum check after the changes summed in delta.
 * Inlined: tiny. */
static __always_inline __u16 csum_apply(__u16 check, __u64 delta)
{
	__u64 s = (__u16)~check + delta;

	for (int i = 0; i < CSUM_FOLDS64; i++)
		s = (s & 0xffff) + (s >> 16);
	return ~(__u16)s;
}

#endif
