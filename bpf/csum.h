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

#endif
