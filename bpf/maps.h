/* maps.h: the BTF-typed maps. Go pins each by name and sets max_entries
 * from maps.Options at load time. */
#ifndef XLB_MAPS_H
#define XLB_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "consts.h"
#include "structs.h"

/* services maps a VIP to its service. Not preallocated: memory follows the
 * services configured, and the map is read-mostly. */
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

/* conns tracks flows of DR and TUN services. DR and TUN see each flow in
 * one direction only, on the CPU its receive queue hashes it to, so every
 * CPU keeps its own LRU list (BPF_F_NO_COMMON_LRU): no lock shared between
 * CPUs on insert or eviction, and the entry is still one hash table that Go
 * reads without knowing the CPU. Each CPU holds max_entries / CPUs flows.
 * (BPF_MAP_TYPE_LRU_PERCPU_HASH would store one value per CPU for each
 * flow, of which one is ever used.) Preallocated: an insert never
 * allocates, and the memory is known at load (maps.TestConnMemory). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_CONNS);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct flow);
	__type(value, struct conn);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct counters);
} service_stats SEC(".maps");

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

#endif
