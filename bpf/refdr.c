//go:build ignore

// SPDX-License-Identifier: GPL-2.0
/* refdr.c: the second benchmark reference, a minimal stateless DR balancer:
 * parse Ethernet/IPv4 or IPv6/TCP-UDP, look the VIP up in a hash, hash the
 * 5-tuple, pick a real from an array, rewrite the MACs, XDP_TX. No state,
 * no counters, no VLAN, no IPv6 extension headers: the least work a
 * balancer does for each family, so that xlb's cost reads as a ratio to
 * it (issue 4's targets), IPv6 against IPv6. Not used in production. */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "hash.h"
#include "csum.h"
#include "eth.h"

char LICENSE[] SEC("license") = "GPL";

#define REFDR_MAX_SERVICES 64 /* entries */
#define REFDR_MAX_REALS 16384 /* entries */
#define REFDR_L4_MIN 8        /* bytes of TCP/UDP header read: ports, at least a UDP header */
#define REFDR_KEY6_WORDS 5    /* 32-bit words in struct refdr_key6 */
#define REFDR_PROTO_SHIFT 16  /* bits: proto's place in refdr_key6's last word as loaded (bpfel) */
#define REF_TCP_HDR_MIN 20    /* bytes: a TCP header without options, which refct_nat rewrites */
#define REF_IPV6_VERSION_SHIFT 28 /* bits below the version in an IPv6 header's first word */

/* refdr_key is a VIP: IPv4 address, port and protocol, one 8-byte key. */
struct refdr_key {
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 pad;
};

/* refdr_key6 is an IPv6 VIP: five words, written whole (refdr_ipv6). */
struct refdr_key6 {
	__u8 addr[16];
	__be16 port;
	__u8 proto;
	__u8 pad;
};

_Static_assert(sizeof(struct refdr_key6) == REFDR_KEY6_WORDS * sizeof(__u32) &&
	       __builtin_offsetof(struct refdr_key6, port) == (REFDR_KEY6_WORDS - 1) * sizeof(__u32),
	       "refdr_key6: port, proto and pad no longer fill the last word");

/* refdr_service says where a service's reals sit in refdr_reals (and
 * refmode_reals). */
struct refdr_service {
	__u32 first;          /* index of the first real */
	__u32 count;          /* reals from first on; > 0 */
	__u8 tunnel_src[16];  /* refct_tun's outer source; IPv4: the first 4 bytes */
};

/* refdr_real is what a DR forward needs: two MACs. */
struct refdr_real {
	__u8 mac[ETH_ADDR_LEN];
	__u8 src_mac[ETH_ADDR_LEN];
};

/* refmode_real is what refct_tun and refct_nat need of real i (the same
 * index as in refdr_reals): its MACs, an address of each family (so that
 * the IPv4 and IPv6 services of the benchmarks can share one run of
 * reals), NAT's port and egress interface. Padded to 64 bytes: the JIT
 * inlines an array lookup with a shift only for a power-of-two value
 * size, as refdr_real's 16. */
struct refmode_real {
	__u8 mac[ETH_ADDR_LEN];
	__u8 src_mac[ETH_ADDR_LEN];
	__be16 port;    /* NAT: the new destination port */
	__u16 pad;
	__u32 ifindex;  /* NAT: the egress interface (XDP_TX if the ingress one) */
	__be32 addr4;   /* the real's IPv4 address */
	__u8 addr6[16]; /* the real's IPv6 address */
	__u8 pad2[24];
};

_Static_assert(sizeof(struct refmode_real) == 64, "refmode_real: not 64 bytes");
_Static_assert(__builtin_offsetof(struct refmode_real, mac) % sizeof(__u64) == 0 &&
		       __builtin_offsetof(struct refmode_real, src_mac) ==
			       __builtin_offsetof(struct refmode_real, mac) + ETH_ADDR_LEN,
	       "refmode_real: mac and src_mac are not two adjacent MACs, 8-aligned (set_macs)");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, REFDR_MAX_SERVICES);
	__type(key, struct refdr_key);
	__type(value, struct refdr_service);
} refdr_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, REFDR_MAX_REALS);
	__type(key, __u32);
	__type(value, struct refdr_real);
} refdr_reals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, REFDR_MAX_SERVICES);
	__type(key, struct refdr_key6);
	__type(value, struct refdr_service);
} refdr_services6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, REFDR_MAX_REALS);
	__type(key, __u32);
	__type(value, struct refmode_real);
} refmode_reals SEC(".maps");

/* refct_xdp, the third benchmark reference, is refdr with connection
 * tracking (refdr_main's tracked): the least a balancer that keeps flows
 * on their real does. After refdr's VIP lookup it looks the 5-tuple up in an LRU hash of
 * REFCT_CONNS entries (xlb's default table size, the common LRU as xlb's
 * conns4/conns6, keys of xlb's layouts: struct flow4 and struct flow);
 * a hit names the real, a miss schedules as refdr does and inserts. No
 * timeouts, TCP state or counters. Its figures say how much of xlb's cost
 * over refdr any tracked balancer pays here (docs/BENCHMARKS.md): the
 * table lookup, and on a new flow the insert into a full LRU. Shares
 * refdr's services and reals. Not used in production. */

#define REFCT_CONNS (1 << 20) /* entries per family: maps.DefaultConnTableSize */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, REFCT_CONNS);
	__type(key, struct flow4);
	__type(value, __u32); /* index into refdr_reals */
} refct_conns4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, REFCT_CONNS);
	__type(key, struct flow);
	__type(value, __u32);
} refct_conns6 SEC(".maps");

/* refsa_xdp, the sixth benchmark reference, is refct with its
 * connection table as a set-associative array instead of an LRU hash:
 * the flow hash refdr computes anyway picks a set of REFSA_WAYS entries
 * (its top REFSA_SET_BITS bits), a hit is a compare of each way's key in
 * turn, a miss takes the first empty way or else the one the hash's low
 * bits name (random replacement within the set). No kernel hash, no
 * bucket walk, no locks and no LRU lists: the question it answers is what
 * tracking costs when the table is not a kernel hash map. Ways are laid
 * out as xlb's entries would be (IPv4: struct flow4's 16 bytes and a
 * 16-byte struct conn's room; IPv6: struct flow's 40 and the same), and
 * the table holds REFCT_CONNS of them. It ignores what a production table
 * must handle: two CPUs writing one set, and entries that expire.
 * Not used in production. */
#define REFSA_WAYS 4      /* entries per set */
#define REFSA_SET_BITS 18 /* 2^18 sets of 4: REFCT_CONNS entries */
#define REFSA_KEY6_WORDS 10 /* words in struct flow */

/* refsa_way4 is one IPv4 entry: a way is empty while key[3] (the
 * protocol word, never 0 for TCP or UDP) is 0. 32 bytes, so that a set
 * is 128: the JIT inlines an array lookup only for a power-of-two value
 * size. */
struct refsa_way4 {
	__u32 key[4]; /* struct flow4's words */
	__u32 real;   /* index into refdr_reals */
	__u32 pad[3]; /* struct conn's room */
};

struct refsa_set4 {
	struct refsa_way4 way[REFSA_WAYS];
};

/* refsa_way6 is one IPv6 entry, empty while key[9] is 0: 64 bytes. */
struct refsa_way6 {
	__u32 key[REFSA_KEY6_WORDS]; /* struct flow's words */
	__u32 real;                  /* index into refdr_reals */
	__u32 pad[5];                /* struct conn's room */
};

struct refsa_set6 {
	struct refsa_way6 way[REFSA_WAYS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << REFSA_SET_BITS);
	__type(key, __u32);
	__type(value, struct refsa_set4);
} refsa_conns4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << REFSA_SET_BITS);
	__type(key, __u32);
	__type(value, struct refsa_set6);
} refsa_conns6 SEC(".maps");

/* ref_track is a reference's connection table. */
enum ref_track {
	TRACK_NONE, /* refdr */
	TRACK_LRU,  /* refct and its modes: LRU hashes */
	TRACK_SETS, /* refsa: set-associative arrays */
};

/* refct_tun_xdp and refct_nat_xdp, the fourth and fifth references, are
 * refct with TUN's or NAT's rewrite in place of DR's (refdr_main's mode):
 * the least a tracked balancer of that mode does per packet, for issue
 * 4's TUN and NAT rows. They share refdr's services and connection
 * tables; refmode_reals holds what the rewrites need of each real.
 *   refct_tun pushes an outer header of the packet's own family (IPIP,
 *   IP6IP6): bpf_xdp_adjust_head, then the Ethernet header and the outer
 *   IP header written whole (IPv4: ipv4_write_header, as xlb's), and
 *   XDP_TX. No MTU check or PTB, no VLAN, TOS copy or flow label.
 *   refct_nat rewrites the destination address and port, with the
 *   checksums updated incrementally (csum.h, xlb's), sets the MACs and
 *   sends the frame to the real's interface (XDP_TX, or bpf_redirect).
 *   No TTL decrement, no reverse entry: replies are not handled (the
 *   least a reply costs has the same shape, a lookup and one address
 *   rewrite).
 * Not used in production. */
enum ref_mode {
	REF_DR,  /* refdr, refct */
	REF_TUN, /* refct_tun */
	REF_NAT, /* refct_nat */
};

/* refdr_send rewrites the MACs for real idx: the part both families and
 * both DR programs share. Inlined: one call per VIP packet. */
static __always_inline int refdr_send(struct ethhdr *eth, __u32 idx)
{
	struct refdr_real *r = bpf_map_lookup_elem(&refdr_reals, &idx);
	if (!r)
		return XDP_DROP;
	__builtin_memcpy(eth->h_dest, r->mac, ETH_ADDR_LEN);
	__builtin_memcpy(eth->h_source, r->src_mac, ETH_ADDR_LEN);
	return XDP_TX;
}

/* ref_tun is refct_tun's send to real idx (see above). Inlined: one call
 * per VIP packet. */
static __always_inline int ref_tun(struct xdp_md *ctx, const struct refdr_service *svc, __u32 idx, const bool v6)
{
	struct refmode_real *r = bpf_map_lookup_elem(&refmode_reals, &idx);
	if (!r)
		return XDP_DROP;
	if (bpf_xdp_adjust_head(ctx, v6 ? -IPV6_HDR_LEN : -IPV4_HDR_LEN))
		return XDP_DROP;
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if (v6) {
		struct ipv6hdr *outer = (void *)(eth + 1);
		struct ipv6hdr *inner = outer + 1;
		if ((void *)(inner + 1) > data_end)
			return XDP_DROP;
		set_macs(eth, r->mac);
		eth->h_proto = bpf_htons(ETH_TYPE_IPV6);
		*(__be32 *)outer = bpf_htonl((__u32)IPV6_VERSION << REF_IPV6_VERSION_SHIFT);
		outer->payload_len = bpf_htons(bpf_ntohs(inner->payload_len) + IPV6_HDR_LEN);
		outer->nexthdr = IPPROTO_IPV6_NUM;
		outer->hop_limit = TUN_TTL;
		__builtin_memcpy(&outer->saddr, svc->tunnel_src, sizeof(outer->saddr));
		__builtin_memcpy(&outer->daddr, r->addr6, sizeof(outer->daddr));
		return XDP_TX;
	}
	struct iphdr *outer = (void *)(eth + 1);
	struct iphdr *inner = outer + 1;
	if ((void *)(inner + 1) > data_end)
		return XDP_DROP;
	set_macs(eth, r->mac);
	eth->h_proto = bpf_htons(ETH_TYPE_IPV4);
	ipv4_write_header(outer, 0, bpf_ntohs(inner->tot_len) + IPV4_HDR_LEN, TUN_TTL, IPPROTO_IPIP_NUM,
			  *(const __be32 *)svc->tunnel_src, r->addr4);
	return XDP_TX;
}

/* ref_nat is refct_nat's send to real idx (see above): l3 and ports are
 * the packet's IP header and its first 8 bytes of TCP or UDP (proto),
 * bounds-checked. Inlined: one call per VIP packet. */
static __always_inline int ref_nat(struct xdp_md *ctx, struct ethhdr *eth, void *l3, __u16 *ports,
				   void *data_end, __u8 proto, __u32 idx, const bool v6)
{
	struct refmode_real *r = bpf_map_lookup_elem(&refmode_reals, &idx);
	if (!r)
		return XDP_DROP;
	bool udp = proto == IPPROTO_UDP_NUM;
	__u16 *csum = (void *)ports + UDP_CSUM_OFFSET;
	if (!udp) {
		if ((void *)ports + REF_TCP_HDR_MIN > data_end)
			return XDP_DROP;
		csum = (void *)ports + TCP_CSUM_OFFSET;
	}
	__u64 delta = csum_delta16(ports[1], r->port);
	ports[1] = r->port;
	if (v6) {
		__u32 *a = ((struct ipv6hdr *)l3)->daddr.in6_u.u6_addr32;
		const __u32 *na = (const __u32 *)r->addr6;
		for (int i = 0; i < 4; i++) {
			delta += csum_delta32(a[i], na[i]);
			a[i] = na[i];
		}
	} else {
		struct iphdr *ip = l3;
		__u64 d = csum_delta32(ip->daddr, r->addr4);
		ip->daddr = r->addr4;
		ip->check = csum_apply(ip->check, d);
		delta += d; /* the pseudo-header's address */
	}
	/* An IPv4 UDP checksum of 0 (none) stays 0; a computed 0 is sent as
	 * 0xffff (RFC 768). */
	if (!udp || v6 || *csum != 0) {
		__u16 c = csum_apply(*csum, delta);
		*csum = (udp && c == 0) ? 0xffff : c;
	}
	set_macs(eth, r->mac);
	if (r->ifindex == ctx->ingress_ifindex)
		return XDP_TX;
	return bpf_redirect(r->ifindex, 0);
}

/* ref_send sends the packet to real idx by mode (a constant): DR's MACs, or
 * refct_tun's or refct_nat's rewrite. Inlined: one call per VIP
 * packet. */
static __always_inline int ref_send(struct xdp_md *ctx, struct ethhdr *eth, void *l3, __u16 *ports, void *data_end,
				    __u8 proto, const struct refdr_service *svc, __u32 idx, const bool v6,
				    const enum ref_mode mode)
{
	if (mode == REF_TUN)
		return ref_tun(ctx, svc, idx, v6);
	if (mode == REF_NAT)
		return ref_nat(ctx, eth, l3, ports, data_end, proto, idx, v6);
	return refdr_send(eth, idx);
}

/* refdr_ipv6 is the IPv6 path: the fixed header, TCP or UDP right after
 * it (an extension header, as any other next header, is passed). The key
 * is written in whole words, as xlb's fill_vip_key (bpf/parse.h) for the
 * reason given there, so that refdr does not pay a store-forwarding stall
 * xlb avoids. The addresses are folded to one word each by xor before the
 * IPv4 path's hash3. track (a constant) adds the connection table,
 * refct's or refsa's, its key in conns6's layout, written in whole
 * words; mode (a
 * constant) is the rewrite (ref_send). Inlined: one call per IPv6
 * packet. */
static __always_inline int refdr_ipv6(struct xdp_md *ctx, struct ethhdr *eth, void *data_end, const enum ref_track track,
				      const enum ref_mode mode)
{
	const bool tracked = track == TRACK_LRU;
	struct ipv6hdr *ip6 = (void *)(eth + 1);

	if ((void *)(ip6 + 1) > data_end)
		return XDP_DROP;
	__u8 proto = ip6->nexthdr;
	if (proto != IPPROTO_TCP_NUM && proto != IPPROTO_UDP_NUM)
		return XDP_PASS;
	__u16 *ports = (void *)(ip6 + 1);
	if ((void *)ports + REFDR_L4_MIN > data_end)
		return XDP_DROP;

	__u32 *s = (__u32 *)&ip6->saddr;
	__u32 *d = (__u32 *)&ip6->daddr;
	struct refdr_key6 key __attribute__((aligned(sizeof(__u32))));
	__u32 *k = (__u32 *)&key;
	k[0] = d[0];
	k[1] = d[1];
	k[2] = d[2];
	k[3] = d[3];
	/* Port, proto and pad as one word; bpfel: the port is the low half. */
	k[4] = (__u32)ports[1] | (__u32)proto << REFDR_PROTO_SHIFT;
	struct refdr_service *svc = bpf_map_lookup_elem(&refdr_services6, &key);
	if (!svc)
		return XDP_PASS;
	struct flow f;
	__u32 *fw = (__u32 *)&f;
	if (track != TRACK_NONE) {
		for (int i = 0; i < 4; i++) {
			fw[i] = s[i];
			fw[4 + i] = d[i];
		}
		fw[8] = *(__u32 *)ports;
		fw[9] = proto;
	}
	if (tracked) {
		__u32 *c = bpf_map_lookup_elem(&refct_conns6, &f);
		if (c)
			return ref_send(ctx, eth, ip6, ports, data_end, proto, svc, *c, true, mode);
	}
	__u32 h = hash3(s[0] ^ s[1] ^ s[2] ^ s[3], k[0] ^ k[1] ^ k[2] ^ k[3],
			((__u32)ports[0] << 16) | ports[1], proto);
	if (track == TRACK_SETS) {
		__u32 set = h >> (32 - REFSA_SET_BITS);
		struct refsa_set6 *st = bpf_map_lookup_elem(&refsa_conns6, &set);
		if (!st)
			return XDP_DROP;
		__u32 victim = h & (REFSA_WAYS - 1);
		bool empty = false;
		for (int i = 0; i < REFSA_WAYS; i++) {
			struct refsa_way6 *w = &st->way[i];
			if (w->key[9] == fw[9] && w->key[8] == fw[8] && w->key[3] == fw[3] && w->key[2] == fw[2] &&
			    w->key[1] == fw[1] && w->key[0] == fw[0] && w->key[7] == fw[7] && w->key[6] == fw[6] &&
			    w->key[5] == fw[5] && w->key[4] == fw[4])
				return ref_send(ctx, eth, ip6, ports, data_end, proto, svc, w->real, true, mode);
			if (!empty && w->key[9] == 0) {
				victim = i;
				empty = true;
			}
		}
		__u32 idx = svc->first + hash_to_slot(h, svc->count);
		struct refsa_way6 *w = &st->way[victim & (REFSA_WAYS - 1)];
		for (int i = 0; i < REFSA_KEY6_WORDS; i++)
			w->key[i] = fw[i];
		w->real = idx;
		return ref_send(ctx, eth, ip6, ports, data_end, proto, svc, idx, true, mode);
	}
	__u32 idx = svc->first + hash_to_slot(h, svc->count);
	if (tracked)
		bpf_map_update_elem(&refct_conns6, &f, &idx, BPF_ANY);
	return ref_send(ctx, eth, ip6, ports, data_end, proto, svc, idx, true, mode);
}

/* refdr_main is every reference but MAC-swap: refdr, refct and refsa by
 * track, refct_tun and refct_nat by mode (both constants). Inlined: the
 * programs' whole body. */
static __always_inline int refdr_main(struct xdp_md *ctx, const enum ref_track track, const enum ref_mode mode)
{
	const bool tracked = track == TRACK_LRU;
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > data_end)
		return XDP_DROP;
	if (eth->h_proto != bpf_htons(ETH_TYPE_IPV4)) {
		/* IPv4 first: its path costs what it did before IPv6 came. */
		if (eth->h_proto == bpf_htons(ETH_TYPE_IPV6))
			return refdr_ipv6(ctx, eth, data_end, track, mode);
		return XDP_PASS;
	}
	if (ip->protocol != IPPROTO_TCP_NUM && ip->protocol != IPPROTO_UDP_NUM)
		return XDP_PASS;
	__u16 *ports = (void *)ip + ip->ihl * IPV4_IHL_UNIT;
	if ((void *)ports + REFDR_L4_MIN > data_end)
		return XDP_DROP;

	struct refdr_key key = {
		.addr = ip->daddr,
		.port = ports[1],
		.proto = ip->protocol,
	};
	struct refdr_service *svc = bpf_map_lookup_elem(&refdr_services, &key);
	if (!svc)
		return XDP_PASS;
	struct flow4 f;
	if (tracked) {
		/* Whole words, as xlb's fill_flow4. */
		__u32 *fw = (__u32 *)&f;
		fw[0] = ip->saddr;
		fw[1] = ip->daddr;
		fw[2] = *(__u32 *)ports;
		fw[3] = ip->protocol;
		__u32 *c = bpf_map_lookup_elem(&refct_conns4, &f);
		if (c)
			return ref_send(ctx, eth, ip, ports, data_end, ip->protocol, svc, *c, false, mode);
	}
	__u32 h = hash3(ip->saddr, ip->daddr, ((__u32)ports[0] << 16) | ports[1], ip->protocol);
	if (track == TRACK_SETS) {
		__u32 k0 = ip->saddr, k1 = ip->daddr, k2 = *(__u32 *)ports, k3 = ip->protocol;
		__u32 set = h >> (32 - REFSA_SET_BITS);
		struct refsa_set4 *st = bpf_map_lookup_elem(&refsa_conns4, &set);
		if (!st)
			return XDP_DROP;
		__u32 victim = h & (REFSA_WAYS - 1);
		bool empty = false;
		for (int i = 0; i < REFSA_WAYS; i++) {
			struct refsa_way4 *w = &st->way[i];
			if (w->key[2] == k2 && w->key[0] == k0 && w->key[1] == k1 && w->key[3] == k3)
				return ref_send(ctx, eth, ip, ports, data_end, ip->protocol, svc, w->real, false, mode);
			if (!empty && w->key[3] == 0) {
				victim = i;
				empty = true;
			}
		}
		__u32 idx = svc->first + hash_to_slot(h, svc->count);
		struct refsa_way4 *w = &st->way[victim & (REFSA_WAYS - 1)];
		w->key[0] = k0;
		w->key[1] = k1;
		w->key[2] = k2;
		w->key[3] = k3;
		w->real = idx;
		return ref_send(ctx, eth, ip, ports, data_end, ip->protocol, svc, idx, false, mode);
	}
	__u32 idx = svc->first + hash_to_slot(h, svc->count);
	if (tracked)
		bpf_map_update_elem(&refct_conns4, &f, &idx, BPF_ANY);
	return ref_send(ctx, eth, ip, ports, data_end, ip->protocol, svc, idx, false, mode);
}

SEC("xdp")
int refdr_xdp(struct xdp_md *ctx)
{
	return refdr_main(ctx, TRACK_NONE, REF_DR);
}

SEC("xdp")
int refct_xdp(struct xdp_md *ctx)
{
	return refdr_main(ctx, TRACK_LRU, REF_DR);
}

SEC("xdp")
int refct_tun_xdp(struct xdp_md *ctx)
{
	return refdr_main(ctx, TRACK_LRU, REF_TUN);
}

SEC("xdp")
int refct_nat_xdp(struct xdp_md *ctx)
{
	return refdr_main(ctx, TRACK_LRU, REF_NAT);
}

SEC("xdp")
int refsa_xdp(struct xdp_md *ctx)
{
	return refdr_main(ctx, TRACK_SETS, REF_DR);
}
