/* maps.h: the BTF-typed maps. Go pins each by name and sets max_entries
 * from maps.Options at load time. */
#ifndef XLB_MAPS_H
#define XLB_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "consts.h"
#include "structs.h"

/* CONN_LRU_FLAGS are the map flags of the LRU tables that remain (the
 * persistence templates): 0, the common LRU. Per-CPU LRU lists
 * (BPF_F_NO_COMMON_LRU) make the kernel rotate a list on every insert,
 * scanning up to 128 entries of cold memory, while the common LRU hands
 * each CPU free entries 128 at a time and touches the shared list (and its
 * lock) once per batch. With the table full (every insert evicts), the
 * old BenchmarkConnMapType measured per new flow (ns, two runs, session 4
 * in docs/BENCHMARKS.md): per-CPU lists 1770/1162 cold, 1057/743 warm;
 * per-CPU values (LRU_PERCPU_HASH) 1445/879 cold, 943/667 warm; common
 * 702/839 cold, 629/723 warm. */
#define CONN_LRU_FLAGS 0

/* services4 maps an IPv4 VIP to its service, services an IPv6 one: the
 * IPv4 key is 8 bytes instead of 20, which the kernel hashes and compares
 * on every IPv4 packet. Not preallocated: memory follows the services
 * configured, and the maps are read-mostly. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_SERVICES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vip4_key);
	__type(value, struct service);
} services4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_SERVICES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vip_key);
	__type(value, struct service);
} services SEC(".maps");

/* reals holds every real by id. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_REALS);
	__type(key, __u32);
	__type(value, struct real);
} reals SEC(".maps");

/* maglev_tables holds one table per service id. Go builds a new table aside
 * and swaps it in with one update, so a packet sees the old table or the new
 * one, never a half-written one. The inner definition is the template:
 * BPF_F_INNER_MAP lets Go install tables of any prime size up to
 * MAGLEV_TABLE_MAX slots, in (size + 1) / 2 entries. Memory: two 4-byte
 * slots fill each 8-byte value, so a 65537-slot table takes 256 KiB (one
 * slot per value took 512 KiB: the kernel rounds array values up to 8). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, MAX_SERVICES);
	__type(key, __u32);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_ARRAY);
		__uint(max_entries, MAGLEV_BUCKETS_MAX);
		__uint(map_flags, BPF_F_INNER_MAP);
		__type(key, __u32);
		__type(value, struct maglev_bucket);
	});
} maglev_tables SEC(".maps");

/* sched_lists holds the reals of each lc, wlc, sed and nq service by
 * service id. A hash, not an array, and not preallocated: an update links
 * a new element in place of the old one (RCU), so a first packet reads
 * either list whole, as with the Maglev tables; an array value would be
 * overwritten under the reader. Read only on a service's new flows. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_SERVICES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct sched_list);
} sched_lists SEC(".maps");

/* sched_pos is, per CPU, each rr/wrr service's position in its sequence
 * (the next slot to use). Per CPU so that taking a slot needs no atomic
 * operation and no shared cache line: each CPU walks the cycle on its own
 * (controlplane/sched doc.go, Deviations 1). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_SERVICES);
	__type(key, __u32);
	__type(value, __u32);
} sched_pos SEC(".maps");

/* real_conns holds each real's active and inactive flow counts, shared by
 * all CPUs (struct conn_counts). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_REALS);
	__type(key, __u32);
	__type(value, struct conn_counts);
} real_conns SEC(".maps");

/* conns4 and conns6 track flows of DR, TUN and NAT services, IPv4 and
 * IPv6 apart (an IPv4 key takes 16 bytes instead of 40, struct flow4).
 * Set-associative arrays, not LRU hashes (conntab.h says why): the flow
 * hash names a set of CONN_WAYS entries, and a new flow takes the set's
 * oldest. Preallocated: an insert never allocates, the memory is known at
 * load (32 bytes a flow for IPv4, 64 for IPv6), and a flood of new flows
 * replaces old ones instead of failing. Go sizes each by its set count
 * (maps.Options.ConnTableSize, ConnTableSize6, divided by CONN_WAYS) and
 * tells the program that count (conn_sets4, conn_sets6 in conntab.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CONN_SETS);
	__type(key, __u32);
	__type(value, struct conn_set4);
} conns4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CONN_SETS6);
	__type(key, __u32);
	__type(value, struct conn_set6);
} conns6 SEC(".maps");

/* nat4 and nat6 find NAT flows from the real's side: key the reply's
 * 5-tuple (real to client), value what the reply's source becomes. The
 * forward path writes the entry when it tracks a new NAT flow, so any
 * CPU's reply finds it, and rewrites it at most once per CONN_TOUCH_NS,
 * which also brings back an entry a newer flow replaced. Set-associative
 * arrays as conns4 and conns6, with the same hash (nattab.h says how they
 * are shared across CPUs), sized by set count from
 * maps.Options.NATTableSize and NATTableSize6 (nat_sets4, nat_sets6). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CONN_SETS);
	__type(key, __u32);
	__type(value, struct nat_set4);
} nat4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CONN_SETS6);
	__type(key, __u32);
	__type(value, struct nat_set6);
} nat6 SEC(".maps");

/* ifaces holds, by ifindex, the role of the interfaces the program is
 * attached to. Only interfaces marked IFACE_F_INSIDE look packets up in
 * nat4/nat6: an array lookup, which the verifier inlines, gates the
 * reverse table's lookup, so non-VIP traffic on other interfaces pays no NAT lookup. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_IFACES);
	__type(key, __u32);
	__type(value, struct iface);
} ifaces SEC(".maps");

/* real_stats counts each real's traffic (struct counters), per CPU. There
 * is no per-service map: each real id serves one service, so Go sums a
 * service's reals (count_traffic, counters.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_REALS);
	__type(key, __u32);
	__type(value, struct counters);
} real_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REASON_MAX);
	__type(key, __u32);
	__type(value, struct reason_count);
} reasons SEC(".maps");

/* clock_cache is the clock map's value: the coarse clock as read during
 * one jiffy. Go never reads it, so it is not in structs.h. */
struct clock_cache {
	__u64 jiffies; /* bpf_jiffies64() when now was read */
	__u64 now;     /* bpf_ktime_get_coarse_ns() then */
};

/* clock caches, per CPU, the connection table's clock
 * (bpf_ktime_get_coarse_ns) for the current jiffy: see ct_now in ct.h. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct clock_cache);
} clock SEC(".maps");

/* persist4 and persist6 hold the persistence templates of persistent
 * services (persist.h), IPv4 and IPv6 apart as the connection tables.
 * LRU hashes shared by all CPUs (a client's flows arrive on any CPU),
 * preallocated: a flood of clients evicts the oldest templates instead of
 * failing. Sized by maps.Options.PersistTableSize, PersistTableSize6. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_PERSIST);
	__uint(map_flags, CONN_LRU_FLAGS);
	__type(key, struct persist4_key);
	__type(value, struct persist);
} persist4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_PERSIST6);
	__uint(map_flags, CONN_LRU_FLAGS);
	__type(key, struct persist6_key);
	__type(value, struct persist);
} persist6 SEC(".maps");

/* localities maps (service, destination address) to the real (lblc) or
 * set of reals (lblcr) new flows to that destination go to (bpf/lblc.h).
 * An LRU shared by all CPUs and services, read and written only on new
 * flows of lblc and lblcr services; sized by maps.Options.LocalityTableSize.
 * Preallocated, as every LRU: 16384 entries take 2.75 MiB
 * (maps.TestLocalityMemory). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_LOCALITIES);
	__type(key, struct locality_key);
	__type(value, struct locality);
} localities SEC(".maps");

/* locality_scratch is locality_pick's working copy of an entry, one per
 * CPU: on the stack it would take 88 of the 512 bytes all frames share. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct locality);
} locality_scratch SEC(".maps");

/* fnat4 and fnat6 track full-NAT flows from the client's side (struct
 * fnat_conn: the conn, and the local address and port the flow got):
 * set-associative arrays as conns4 and conns6 (struct fnat_set4,
 * fnat_set6; fnat.h), fnat_sets4 and fnat_sets6 sets, which Go sets with
 * max_entries from maps.Options.FNATTableSize and FNATTableSize6.
 * fnat_rev4 and fnat_rev6 find the flows from the real's side (struct
 * fnat_rev): sets too (struct fnat_rev_set4, fnat_rev_set6; fnat_rev_sets4
 * and fnat_rev_sets6), shared by all CPUs, whose claim word makes a new
 * flow's claim of a local port atomic across CPUs (fnat_claim4). Separate
 * from conns4 and conns6 so that DR, TUN and NAT entries keep their
 * 16-byte value. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CONN_SETS);
	__type(key, __u32);
	__type(value, struct fnat_set4);
} fnat4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CONN_SETS6);
	__type(key, __u32);
	__type(value, struct fnat_set6);
} fnat6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CONN_SETS);
	__type(key, __u32);
	__type(value, struct fnat_rev_set4);
} fnat_rev4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CONN_SETS6);
	__type(key, __u32);
	__type(value, struct fnat_rev_set6);
} fnat_rev6 SEC(".maps");

/* fnat_pools holds each full-NAT service's local addresses by service
 * id. A hash without preallocation, as sched_lists: an update links a
 * new element, so a first packet reads the old pool or the new one. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_SERVICES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct fnat_pool);
} fnat_pools SEC(".maps");

/* vip_hints is a bitmap of VIP_HINT_BITS-bit slots over the services'
 * keys (vip_hint in fast.h): a slot with no bit set says that no service
 * has a key hashing there, so the packet is no VIP's and needs no
 * services or connection table lookup. Written by Go (maps.PutService,
 * DeleteService), which derives it from the services maps. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIP_HINT_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} vip_hints SEC(".maps");

/* service_ids holds every service by id, with one of its keys (struct
 * service_entry). Written by Go before the services maps name the id. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct service_entry);
} service_ids SEC(".maps");

#endif
