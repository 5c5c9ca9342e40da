/* structs.h: the structs shared with Go. bpf2go generates the Go types from
 * these (-type), so they are the one definition. Explicit padding, no
 * unions; addresses are 16 bytes, IPv4 v4-mapped as netip.Addr.As16. */
#ifndef XLB_STRUCTS_H
#define XLB_STRUCTS_H

#include <linux/types.h>
#include "consts.h"

/* vip_key identifies a service: the services map key. Zero it before
 * filling so the padding hashes the same as Go's. */
struct vip_key {
	__u8 addr[16];
	__be16 port;
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};

/* service is the services map value. */
struct service {
	__u32 id;         /* index into maglev_tables and service_stats, 1-based */
	__u32 table_size; /* slots in this service's Maglev table (prime) */
	__u8 kind;        /* enum lb_kind */
	__u8 pad[3];
};

/* real is a backend server; the reals array value, indexed by real id. An
 * entry with ifindex 0 is absent (deleted reals are zeroed). */
struct real {
	__u8 addr[16];
	__u8 mac[ETH_ADDR_LEN];     /* the real's MAC: new destination */
	__u8 src_mac[ETH_ADDR_LEN]; /* MAC of ifindex: new source */
	__u32 ifindex;              /* interface that reaches the real */
	__u32 flags;                /* reserved, zero */
};

/* maglev_bucket is one entry of a service's Maglev table: slot s of the
 * table is real_id[s % MAGLEV_SLOTS_PER_BUCKET] of entry
 * s / MAGLEV_SLOTS_PER_BUCKET. Packed so that no value is padding (see
 * MAGLEV_SLOTS_PER_BUCKET); a table of odd size leaves the last half zero. */
struct maglev_bucket {
	__u32 real_id[MAGLEV_SLOTS_PER_BUCKET]; /* 0: no real */
};

/* counters are per-CPU traffic totals of a service or a real. */
struct counters {
	__u64 packets;
	__u64 bytes; /* whole frames, Ethernet header included */
};

/* reason_count is the per-CPU count of one enum reason. */
struct reason_count {
	__u64 packets;
};

#endif
