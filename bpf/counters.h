/* counters.h: the per-CPU counters every verdict and forwarded packet
 * bumps (maps.h: reasons, real_stats). */
#ifndef XLB_COUNTERS_H
#define XLB_COUNTERS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "consts.h"
#include "structs.h"
#include "maps.h"

/* count_reason bumps the per-CPU count of r. Inlined: one call per packet. */
static __always_inline void count_reason(enum reason r)
{
	__u32 key = r;
	struct reason_count *rc = bpf_map_lookup_elem(&reasons, &key);
	if (rc)
		rc->packets++;
}

/* count_traffic adds one frame of len bytes to real id's counters, and a
 * new connection if fresh. Only reals are counted: a service's counters
 * are its reals' sums, which the control plane adds up (each real id
 * serves one service), so that a packet pays one counter update, not
 * two (measured: each costs 2 ns on an established flow). */
static __always_inline void count_traffic(__u32 id, __u64 len, __u8 fresh)
{
	struct counters *c = bpf_map_lookup_elem(&real_stats, &id);
	if (c) {
		c->packets++;
		c->bytes += len;
		if (fresh) /* no store on an established flow's packets */
			c->conns++;
	}
}

/* count_reply is count_traffic for replies (the out counters). */
static __always_inline void count_reply(__u32 id, __u64 len)
{
	struct counters *c = bpf_map_lookup_elem(&real_stats, &id);
	if (c) {
		c->out_packets++;
		c->out_bytes += len;
	}
}

#endif
