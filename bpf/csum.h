/* csum.h: the Internet checksum (RFC 1071) of headers the program writes. */
#ifndef XLB_CSUM_H
#define XLB_CSUM_H

#include <linux/types.h>
#include <linux/ip.h>
#include "consts.h"

/* csum_fold folds a 32-bit one's-complement sum to 16 bits and complements
 * it. Two folds suffice for sums below 2^31. Inlined: tiny. */
static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* ipv4_csum returns the header checksum of an option-less IPv4 header
 * whose check field is zero (RFC 791 3.1). The caller has bounds-checked
 * the header. Inlined: once per encapsulated packet. */
static __always_inline __u16 ipv4_csum(struct iphdr *ip)
{
	__u16 *h = (__u16 *)ip;
	__u32 sum = 0;

	for (int i = 0; i < IPV4_HDR_HALFWORDS; i++)
		sum += h[i];
	return csum_fold(sum);
}

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
