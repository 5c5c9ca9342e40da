/* structs.h: the structs shared with Go. bpf2go generates the Go types from
 * these (-type), so they are the one definition. Explicit padding, no
 * unions; addresses are 16 bytes, IPv4 v4-mapped as netip.Addr.As16. */
#ifndef XLB_STRUCTS_H
#define XLB_STRUCTS_H

#include <linux/types.h>
#include "consts.h"

/* vip_key identifies an IPv6 service: the services map key (IPv4
 * services are in services4, struct vip4_key). Every byte is written
 * (fill_vip_key), so the padding hashes the same as Go's. */
struct vip_key {
	__u8 addr[16];
	__be16 port;
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};

/* vip4_key identifies an IPv4 service: the services4 map key. Two words
 * where struct vip_key takes five: the kernel hashes and compares the key
 * on every IPv4 packet, VIP or not. */
struct vip4_key {
	__be32 addr;
	__be16 port;
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};

/* service is the services and services4 map value. */
struct service {
	__u32 id;             /* index into maglev_tables and service_stats, 1-based */
	__u32 table_size;     /* slots in this service's Maglev table (prime) */
	__u8 kind;            /* enum lb_kind */
	__u8 flags;           /* enum service_flag bits */
	__u8 pad[2];
	__u8 tunnel_src[16];  /* TUN: outer source address; its family must be the real's */
};

/* real is a backend server; the reals array value, indexed by real id. An
 * entry with ifindex 0 is absent (deleted reals are zeroed but keep gen). */
struct real {
	__u8 addr[16];              /* TUN: outer destination */
	__u8 mac[ETH_ADDR_LEN];     /* next hop's MAC (the real's, or a gateway's for TUN): new destination */
	__u8 src_mac[ETH_ADDR_LEN]; /* MAC of ifindex: new source */
	__u32 ifindex;              /* interface that reaches the real */
	__u16 flags;                /* enum real_flag bits */
	__u16 gen;                  /* changes when the id names another real: tracked flows of the old one move */
};

/* maglev_bucket is one entry of a service's Maglev table: slot s of the
 * table is real_id[s % MAGLEV_SLOTS_PER_BUCKET] of entry
 * s / MAGLEV_SLOTS_PER_BUCKET. Packed so that no value is padding (see
 * MAGLEV_SLOTS_PER_BUCKET); a table of odd size leaves the last half zero. */
struct maglev_bucket {
	__u32 real_id[MAGLEV_SLOTS_PER_BUCKET]; /* 0: no real */
};

/* flow is a packet's 5-tuple as on the wire (ports in network order), as
 * the parser fills it for either family, and the conns6 key. For IPv4 the
 * parser writes only the addresses' last words: the v4-mapped prefixes are
 * never read (fill_vip4_key, fill_flow4, flow_hash). Aligned to 4 so the
 * program reads and writes it in whole words (see fill_vip_key for why). */
struct flow {
	__u8 saddr[16];
	__u8 daddr[16];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
} __attribute__((aligned(4)));

/* flow4 is an IPv4 flow, the conns4 key: the 5-tuple in 16 bytes where
 * struct flow takes 40 (the v4-mapped prefixes say nothing). Smaller keys
 * hash faster and take 24 bytes less per entry (maps.TestConnMemory). Four
 * whole words, written as such (fill_flow4). */
struct flow4 {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
} __attribute__((aligned(4)));

/* conn is a tracked flow: the conns4 and conns6 value. */
struct conn {
	__u32 real_id;   /* the real the flow goes to */
	__u16 real_gen;  /* real.gen when the flow was scheduled */
	__u8 state;      /* enum conn_state */
	__u8 flags;      /* reserved, zero (later: counted as active/inactive) */
	__u64 last_seen; /* bpf_ktime_get_coarse_ns() (CLOCK_MONOTONIC_COARSE), at most CONN_TOUCH_NS stale */
};

/* counters are per-CPU traffic totals of a service or a real. */
struct counters {
	__u64 packets;
	__u64 bytes; /* whole frames as received, Ethernet header included */
};

/* reason_count is the per-CPU count of one enum reason. */
struct reason_count {
	__u64 packets;
};

#endif
