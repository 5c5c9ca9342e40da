/* icmp.h: ICMP and ICMPv6 errors of tracked flows, and Packet Too Big for
 * TUN.
 *
 * Errors (icmp_error). A router on the way to a client that cannot pass a
 * reply (VIP:vport -> client:cport) sends its error to the VIP, quoting
 * the reply's headers: IPv4 destination unreachable (type 3, fragmentation
 * needed is code 4, RFC 1191) and time exceeded (11), ICMPv6 destination
 * unreachable (1), Packet Too Big (2, RFC 8201) and time exceeded (3). The
 * reply came from the real that holds the flow (DR and TUN reals answer as
 * the VIP), so the error must reach that real, or its PMTU discovery never
 * learns. The quoted header reversed is the flow's connection table key:
 * one lookup of conns4 or conns6 (no event, no refresh: an error keeps no
 * flow alive) finds the real, and the error goes there as the service's
 * packets do: DR rewrites the MACs, TUN pushes the outer header, NAT
 * rewrites the outer destination and the quoted source to the real's
 * address and port (IPVS's ip_vs_nat_icmp does the same), with the outer
 * and quoted IPv4 header checksums and the ICMP checksum (for ICMPv6 the
 * pseudo-header's address too) updated incrementally; the quoted TCP/UDP
 * checksum stays as it was (a receiver of an error does not verify it).
 * Errors from the reals' side of a NAT service (an inside interface; a
 * real's UDP port unreachable about a client's datagram, quoting client ->
 * real:rport) are found in nat4/nat6 by the quote reversed, and leave
 * from the VIP: outer source and quoted destination back to VIP:vport.
 *
 * A forwarded error counts in its real's counters as its flow's packets
 * do (in, or out for the reals' side), never as a new connection.
 *
 * Only errors whose outer destination is the quote's source are taken
 * (what a router sends); the quote must hold the IP header (IPv6: no
 * extension headers) and the ports (the first 8 bytes RFC 792 promises
 * cover them) of a TCP or UDP packet, not a later fragment. Anything else
 * is the host's own ICMP: passed (pass_other_l4). An error about a
 * service's flow that is not tracked is passed too (icmp_no_flow).
 *
 * Packet Too Big (tun_check_mtu, tun_ptb). Before TUN pushes its 20 or 40
 * bytes, the grown packet is compared with the MTU of the real's
 * interface (the interface's own MTU, so nothing is configured): first
 * with the MTU xlbd wrote into the real, then, for a packet that does not
 * fit that, with the interface's MTU now (bpf_check_mtu). A raised MTU
 * applies at once; a lowered one once xlbd has rewritten the real (it
 * follows the kernel's link notifications), until which packets between
 * the two sizes leave too big and the interface drops them. A smaller MTU
 * further along the tunnel is that router's to report, to the tunnel
 * source: not handled. A packet that would not fit is answered, from the
 * VIP, out of the interface it came in on (MACs swapped, 802.1Q tag
 * kept):
 *   IPv4 with DF: ICMP type 3 code 4 with next-hop MTU = MTU - outer header
 *     (RFC 1191), quoting the first ICMP4_QUOTE bytes of the packet (576 in
 *     all, RFC 1812 4.3.2.3); IPv4 without DF is dropped
 *     (drop_tun_too_big): XDP cannot fragment, and a client that allows
 *     fragmentation does no PMTU discovery. A packet below ICMP4_QUOTE
 *     bytes (an egress MTU below 596) is dropped the same way.
 *   IPv6: ICMPv6 Packet Too Big with MTU - outer header, at least 1280
 *     (RFC 8200 5: every IPv6 link passes 1280), quoting ICMP6_QUOTE bytes
 *     (1280 in all, RFC 4443 2.4(c)). A packet of 1280 bytes or less that
 *     still does not fit (egress MTU below 1320 or 1300) is dropped
 *     (drop_tun_too_big): the tunnel would have to fragment (RFC 2473 7).
 * Replies are IPv4 TTL / IPv6 hop limit ICMP_TTL, IPv4 TOS ICMP_TOS (CS6,
 * as Linux's ICMP), DF with id 0 (RFC 6864 4.1: atomic). They are not rate
 * limited (Linux's own are): each is smaller than the packet that caused
 * it, so a spoofed source gains no amplification, and a client that
 * honours the first sends no more that are too big. */
#ifndef XLB_ICMP_H
#define XLB_ICMP_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "structs.h"
#include "eth.h"
#include "maps.h"
#include "parse.h"
#include "csum.h"
#include "counters.h"
#include "ct.h"
#include "conntab.h"
#include "encap.h"
#include "nat.h"
#include "fnattab.h"

#define ICMP_HDR_LEN 8              /* bytes: type, code, checksum and 4 bytes (RFC 792, RFC 4443 2.1) */
#define ICMP_DEST_UNREACH 3         /* RFC 792 */
#define ICMP_FRAG_NEEDED 4          /* code of ICMP_DEST_UNREACH (RFC 1191) */
#define ICMP_TIME_EXCEEDED 11       /* RFC 792 */
#define ICMPV6_DEST_UNREACH 1       /* RFC 4443 3.1 */
#define ICMPV6_PKT_TOOBIG 2         /* RFC 4443 3.2 */
#define ICMPV6_TIME_EXCEED 3        /* RFC 4443 3.3 */
#define ICMP4_QUOTE 548             /* bytes of the packet an IPv4 PTB quotes: 576 - 20 - 8 */
#define ICMP6_QUOTE 1232            /* bytes of the packet an IPv6 PTB quotes: 1280 - 40 - 8 */
#define IPV6_MIN_MTU 1280           /* RFC 8200 5 */
#define ICMP_TTL 64                 /* TTL / hop limit of a PTB */
#define ICMP_TOS 0xc0               /* TOS of an IPv4 PTB: CS6, internetwork control */
#define CSUM_CHUNK 512              /* bytes bpf_csum_diff sums per call (older kernels' scratch buffer) */
#define ICMP_PORT_BYTES 4           /* bytes of the quoted TCP/UDP header read: the ports */
#define ICMP_NEXT_HOP_MTU 0xffff    /* the next-hop MTU's bits in the last word of fragmentation needed (RFC 1191) */

/* icmp_hdr is the start of every ICMP and ICMPv6 message. rest is the
 * PTB's MTU (ICMPv6: 32 bits; ICMP frag needed: the low 16, RFC 1191). */
struct icmp_hdr {
	__u8 type;
	__u8 code;
	__u16 check;
	__be32 rest;
};

/* icmp_scratch is icmp_error's per-CPU working space: the error's packet
 * as icmp_error rebuilds it, the flow it quotes and that flow's fnat4 key.
 * On the stack they took icmp_error's frame past what it may have: its
 * frame, xlb_xdp's and a full-NAT search's share 512 bytes. Go never
 * reads it, so it is not in structs.h. */
struct icmp_scratch {
	struct packet p; /* the error, rebuilt from icmp_meta and its outer header */
	struct flow f;   /* the quote, reversed: the flow as its client sends it */
	struct flow4 k4; /* f's fnat4 key (IPv4 full NAT) */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct icmp_scratch);
} icmp_scratch SEC(".maps");

/* icmp_is_error says whether type is an error icmp_error forwards.
 * Inlined: tiny. */
static __always_inline bool icmp_is_error(__u8 type, bool v6)
{
	if (v6)
		return type == ICMPV6_DEST_UNREACH || type == ICMPV6_PKT_TOOBIG || type == ICMPV6_TIME_EXCEED;
	return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED;
}

/* icmp_send_verdict maps what nat_send_direct or nat_route said of a
 * rewritten error onto the ICMP reasons: sent (as sent), else passed
 * after the rewrite. Inlined: tiny. */
static __always_inline enum reason icmp_send_verdict(enum reason w, enum reason sent)
{
	if (w == REASON_TX || w == REASON_REDIRECT || w == REASON_REPLY_TX || w == REASON_REPLY_REDIRECT)
		return sent;
	return REASON_ICMP_PASS_ROUTE;
}

/* icmp_flow_real returns the real of the tracked flow f (client -> VIP,
 * the conns key), and its id in *real_id, if its entry is fresh and the real
 * usable and of the same generation; NULL otherwise. Nothing is written.
 * Inlined: once. */
static __always_inline struct real *icmp_flow_real(struct flow *f, bool v6, __u32 *real_id)
{
	struct flow4 k4;
	struct conn *c;

	if (v6) {
		c = conn_lookup6(f);
	} else {
		fill_flow4(&k4, f);
		c = conn_lookup4(&k4);
	}
	if (!c || conn_expired(c, ct_now()))
		return NULL;
	__u32 id = c->real_id;
	struct real *r = bpf_map_lookup_elem(&reals, &id);
	if (!r || !real_usable(r) || r->gen != c->real_gen)
		return NULL;
	*real_id = id;
	return r;
}

/* icmp_nat_rewrite readies a NAT flow's error for its way on: to the
 * real (reply false: the outer destination and the quote's source become
 * addr and port) or, from the reals' side, to the client (reply true: the
 * outer source and the quote's destination become addr, the VIP, and
 * port). ic, iip or iip6 (by family) and ports point into the frame at
 * data. Checksums as the top of this file says. False if the outer header
 * is out of bounds, which parse_packet ruled out. Inlined: twice. */
static __always_inline bool icmp_nat_rewrite(void *data, void *data_end, const struct packet *p,
					     struct icmp_hdr *ic, struct iphdr *iip, struct ipv6hdr *iip6,
					     struct l4_ports *ports, bool reply, const __u8 *addr, __be16 port)
{
	const __u32 *na = (const __u32 *)addr;
	void *l3 = data + (p->vlan ? L2_LEN_VLAN : ETH_HLEN);
	__u64 d; /* what the ICMP checksum covers that changes */

	/* The quote's bounds again, before any write: the verifier does not
	 * know that p->is_v6 is the family icmp_error checked them for. */
	if (p->is_v6) {
		if (l3 + IPV6_HDR_LEN > data_end || (void *)(iip6 + 1) > data_end)
			return false;
	} else {
		if (l3 + IPV4_HDR_LEN > data_end || (void *)(iip + 1) > data_end)
			return false;
	}
	if (reply) {
		d = csum_delta16(ports->dst, port);
		ports->dst = port;
	} else {
		d = csum_delta16(ports->src, port);
		ports->src = port;
	}
	if (p->is_v6) {
		struct ipv6hdr *ip6 = l3;
		if ((void *)(ip6 + 1) > data_end || (void *)(iip6 + 1) > data_end)
			return false;
		/* The outer address is in the pseudo-header (RFC 4443 2.3). */
		__u32 *o = reply ? ip6->saddr.in6_u.u6_addr32 : ip6->daddr.in6_u.u6_addr32;
		__u32 *q = reply ? iip6->daddr.in6_u.u6_addr32 : iip6->saddr.in6_u.u6_addr32;
		for (int i = 0; i < V4_MAPPED_WORDS; i++) {
			d += csum_delta32(o[i], na[i]) + csum_delta32(q[i], na[i]);
			o[i] = na[i];
			q[i] = na[i];
		}
	} else {
		struct iphdr *ip = l3;
		if ((void *)(ip + 1) > data_end || (void *)(iip + 1) > data_end)
			return false;
		__u32 nw = na[V4_MAPPED_WORDS - 1];
		/* ICMP has no pseudo-header: the outer address changes only
		 * the outer header's checksum. */
		if (reply) {
			ip->check = csum_apply(ip->check, csum_delta32(ip->saddr, nw));
			ip->saddr = nw;
		} else {
			ip->check = csum_apply(ip->check, csum_delta32(ip->daddr, nw));
			ip->daddr = nw;
		}
		__u16 old = iip->check;
		__u64 dq;
		if (reply) {
			dq = csum_delta32(iip->daddr, nw);
			iip->daddr = nw;
		} else {
			dq = csum_delta32(iip->saddr, nw);
			iip->saddr = nw;
		}
		iip->check = csum_apply(old, dq);
		d += dq + csum_delta16(old, iip->check);
	}
	ic->check = csum_apply(ic->check, d);
	return true;
}

/* icmp_nat_real readies an error about a NAT flow's reply (the quote
 * reversed in sc->f: client -> VIP) for the flow's real: the outer
 * destination and the quote's source become the real's address and port
 * (icmp_nat_rewrite). icmp_fnat_real does the same for a full-NAT flow,
 * as the real knows it: also the outer source and the quote's destination
 * become the flow's local address and port, so that the real, which has
 * no route to the client, takes the error and matches it with its
 * socket. Each counts the error on the real, as the flow's packets are
 * (IPVS counts the errors it forwards too; never as a new connection),
 * and returns the real, which the caller sends it to. NULL, and *why:
 * icmp_no_flow (not tracked, expired, or its real gone: to be passed) or
 * icmp_drop (a family mismatch or a quote out of bounds: to be dropped).
 * Inlined: once each, in icmp_error_in. */
static __always_inline struct real *icmp_nat_real(void *data, void *data_end, struct packet *p, struct flow *f,
						  struct icmp_hdr *ic, struct iphdr *iip, struct ipv6hdr *iip6,
						  struct l4_ports *ports, __u64 len, enum reason *why)
{
	__u32 id = 0;
	struct real *r = icmp_flow_real(f, p->is_v6, &id);

	*why = REASON_ICMP_NO_FLOW;
	if (!r)
		return NULL;
	*why = REASON_ICMP_DROP;
	if (is_v4_mapped(r->addr) == p->is_v6)
		return NULL;
	count_traffic(id, len, 0);
	if (!icmp_nat_rewrite(data, data_end, p, ic, iip, iip6, ports, false, r->addr, r->port ? r->port : f->dport))
		return NULL;
	return r;
}

static __always_inline struct real *icmp_fnat_real(void *data, void *data_end, struct packet *p,
						   struct icmp_scratch *sc, struct icmp_hdr *ic, struct iphdr *iip,
						   struct ipv6hdr *iip6, struct l4_ports *ports, __u64 len, enum reason *why)
{
	struct fnat_conn *fc;

	/* The searches inlined, not the global fnat_find4/6: a call's frame
	 * on top of this one and xlb_xdp's would pass 512 bytes. */
	if (p->is_v6) {
		fc = FNAT_AT(fnat6, fnat_set6, set_find6(&fnat6, fnat_sets6, &sc->f));
	} else {
		fill_flow4(&sc->k4, &sc->f);
		fc = FNAT_AT(fnat4, fnat_set4, set_find4(&fnat4, fnat_sets4, &sc->k4));
	}
	*why = REASON_ICMP_NO_FLOW;
	if (!fc || conn_expired(&fc->conn, ct_now()))
		return NULL;
	__u32 id = fc->conn.real_id;
	struct real *r = bpf_map_lookup_elem(&reals, &id);
	if (!r || !real_usable(r) || r->gen != fc->conn.real_gen)
		return NULL;
	*why = REASON_ICMP_DROP;
	if (is_v4_mapped(r->addr) == p->is_v6)
		return NULL;
	count_traffic(id, len, 0);
	if (!icmp_nat_rewrite(data, data_end, p, ic, iip, iip6, ports, false, r->addr, fc->rport) ||
	    !icmp_nat_rewrite(data, data_end, p, ic, iip, iip6, ports, true, fc->laddr, fc->lport))
		return NULL;
	return r;
}

/* icmp_nat_back readies an error from a NAT real's side about a client's
 * packet (the quote reversed in f: real -> client, the reply's 5-tuple)
 * for the client: the outer source and the quote's destination become
 * the VIP and its port (icmp_nat_rewrite). icmp_fnat_back does the same
 * for a full-NAT flow (f: real -> local pair), and also turns the outer
 * destination and the quote's source from the local pair back into the
 * client's address and port. Each counts the error on the real as a
 * reply (IPVS counts the errors it forwards too) and returns 1, for the
 * caller to route it to the client; 0 if no fresh entry has the flow (the
 * error is passed), -1 if the quote is out of bounds (dropped). Inlined:
 * once each, in icmp_error_in. */
static __always_inline int icmp_nat_back(void *data, void *data_end, struct packet *p, struct flow *f,
					 struct icmp_hdr *ic, struct iphdr *iip, struct ipv6hdr *iip6,
					 struct l4_ports *ports, __u64 len)
{
	struct nat_rev *rv = nat_lookup(f, p->is_v6);

	if (!rv || ct_idle(ct_now(), rv->last_seen) > conn_timeout(rv->state))
		return 0;
	count_reply(rv->real_id, len);
	return icmp_nat_rewrite(data, data_end, p, ic, iip, iip6, ports, true, rv->vip, rv->vport) ? 1 : -1;
}

static __always_inline int icmp_fnat_back(void *data, void *data_end, struct packet *p, struct icmp_scratch *sc,
					  struct icmp_hdr *ic, struct iphdr *iip, struct ipv6hdr *iip6,
					  struct l4_ports *ports, __u64 len)
{
	struct fnat_rev *rv;

	/* Inlined searches, as icmp_fnat_real's. */
	if (p->is_v6) {
		rv = FNAT_AT(fnat_rev6, fnat_rev_set6, set_find6(&fnat_rev6, fnat_rev_sets6, &sc->f));
	} else {
		fill_flow4(&sc->k4, &sc->f);
		rv = FNAT_AT(fnat_rev4, fnat_rev_set4, set_find4(&fnat_rev4, fnat_rev_sets4, &sc->k4));
	}
	if (!rv || ct_idle(ct_now(), rv->last_seen) > conn_timeout(rv->state))
		return 0;
	count_reply(rv->real_id, len);
	if (!icmp_nat_rewrite(data, data_end, p, ic, iip, iip6, ports, true, rv->vip, rv->vport) ||
	    !icmp_nat_rewrite(data, data_end, p, ic, iip, iip6, ports, false, rv->client, rv->cport))
		return -1;
	return 1;
}

/* icmp_error_in handles p, an ICMP or ICMPv6 packet (parse_l4 left
 * l4_off at its header and the protocol in the flow): see the top of this
 * file. Returns the verdict and sets *why. Inlined: once, in icmp_error. */
static __always_inline int icmp_error_in(struct xdp_md *ctx, struct icmp_scratch *sc, enum reason *why)
{
	struct packet *p = &sc->p;
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 l4_off = p->l4_off;
	bool v6 = p->is_v6;
	__u64 len = data_end - data; /* as received, for the real's counters */
	/* The quote's flow lives in a per-CPU scratch value, not on the
	 * stack: this frame and the caller's share 512 bytes. */
	struct flow *f = &sc->f;
	__builtin_memset(f, 0, sizeof(*f));
	__u32 *fw = flow_words(f);
	__u32 *pw = flow_words(&p->flow);
	struct l4_ports *ports;
	__u8 proto;

	*why = REASON_PASS_OTHER_L4;
	if (l4_off > L4_OFF_MAX)
		return XDP_PASS;
	struct icmp_hdr *ic = data + l4_off;
	if ((void *)(ic + 1) > data_end)
		return XDP_PASS;
	if (!icmp_is_error(ic->type, v6))
		return XDP_PASS;

	/* The quote, reversed into f: the flow as its client sends it. */
	struct iphdr *iip = (void *)(ic + 1);
	struct ipv6hdr *iip6 = (void *)(ic + 1);
	if (v6) {
		if ((void *)(iip6 + 1) > data_end || iip6->version != IPV6_VERSION)
			return XDP_PASS;
		proto = iip6->nexthdr;
		ports = (void *)(iip6 + 1);
		if ((void *)ports + ICMP_PORT_BYTES > data_end)
			return XDP_PASS;
		const __u32 *s = (const __u32 *)&iip6->saddr;
		const __u32 *d = (const __u32 *)&iip6->daddr;
		for (int i = 0; i < V4_MAPPED_WORDS; i++) {
			/* An error goes to the quote's source. */
			if (pw[V4_MAPPED_WORDS + i] != s[i])
				return XDP_PASS;
			fw[i] = d[i];
			fw[V4_MAPPED_WORDS + i] = s[i];
		}
	} else {
		if ((void *)(iip + 1) > data_end || iip->version != IPV4_VERSION || iip->ihl < IPV4_IHL_MIN)
			return XDP_PASS;
		if (iip->frag_off & bpf_htons(IPV4_FRAG_OFFSET))
			return XDP_PASS; /* a later fragment: no ports */
		proto = iip->protocol;
		ports = (void *)iip + iip->ihl * IPV4_IHL_UNIT;
		if ((void *)ports + ICMP_PORT_BYTES > data_end)
			return XDP_PASS;
		if (pw[2 * V4_MAPPED_WORDS - 1] != iip->saddr)
			return XDP_PASS;
		fw[V4_MAPPED_WORDS - 1] = iip->daddr;
		fw[2 * V4_MAPPED_WORDS - 1] = iip->saddr;
	}
	if (proto != IPPROTO_TCP_NUM && proto != IPPROTO_UDP_NUM)
		return XDP_PASS;
	fw[FLOW_WORDS - 2] = PORTS_WORD(ports->dst, ports->src);
	fw[FLOW_WORDS - 1] = proto;

	struct service *svc;
	if (v6) {
		struct vip_key key;
		fill_vip_key(&key, f);
		svc = bpf_map_lookup_elem(&services, &key);
	} else {
		struct vip4_key key4;
		fill_vip4_key(&key4, f);
		svc = bpf_map_lookup_elem(&services4, &key4);
	}
	if (!svc) {
		/* From a NAT or full-NAT real's side? Only the interfaces
		 * facing them ask. */
		__u32 ifindex = ctx->ingress_ifindex;
		struct iface *ifc = bpf_map_lookup_elem(&ifaces, &ifindex);
		__u32 flags = ifc ? ifc->flags : 0;
		int done = 0;
		if (flags & IFACE_F_INSIDE)
			done = icmp_nat_back(data, data_end, p, f, ic, iip, iip6, ports, len);
		if (!done && (flags & IFACE_F_FNAT))
			done = icmp_fnat_back(data, data_end, p, sc, ic, iip, iip6, ports, len);
		if (!done)
			return XDP_PASS;
		if (done < 0) {
			*why = REASON_ICMP_DROP;
			return XDP_DROP;
		}
		enum reason w;
		int verdict = nat_route(ctx, p, true, &w);
		*why = icmp_send_verdict(w, REASON_ICMP_REPLY);
		return verdict;
	}

	__u8 kind = svc->kind;
	if (kind == LB_KIND_NAT || kind == LB_KIND_FNAT) {
		struct real *nr = kind == LB_KIND_NAT ? icmp_nat_real(data, data_end, p, f, ic, iip, iip6, ports, len, why)
						      : icmp_fnat_real(data, data_end, p, sc, ic, iip, iip6, ports, len, why);
		if (!nr)
			return *why == REASON_ICMP_NO_FLOW ? XDP_PASS : XDP_DROP;
		enum reason w;
		int verdict = nr->ifindex ? nat_send_direct(ctx, p, nr, &w) : nat_route(ctx, p, false, &w);
		*why = icmp_send_verdict(w, REASON_ICMP_TO_REAL);
		return verdict;
	}
	__u32 real_id = 0;
	struct real *r = icmp_flow_real(f, v6, &real_id);
	if (!r) {
		*why = REASON_ICMP_NO_FLOW;
		return XDP_PASS;
	}
	/* A forwarded error counts in its real's (and so its service's)
	 * packets and bytes as the flow's own packets do, not as a new
	 * connection: IPVS counts the errors it forwards too. */
	if (r->ifindex == 0 || (kind != LB_KIND_DR && kind != LB_KIND_TUN)) {
		*why = REASON_ICMP_DROP;
		return XDP_DROP;
	}
	if (kind == LB_KIND_TUN) {
		/* The flow's label, so routers' ECMP keeps the error on its
		 * flow's path. */
		bool outer_v6 = !is_v4_mapped(r->addr);
		__u32 label = outer_v6 ? flow_hash(f, v6) : 0;
		if (!tun_encap(ctx, p, svc, r, outer_v6, label)) {
			*why = REASON_ICMP_DROP;
			return XDP_DROP;
		}
	} else {
		struct ethhdr *eth = data;
		if ((void *)(eth + 1) > data_end)
			return XDP_PASS;
		set_real_macs(eth, r);
	}
	count_traffic(real_id, len, 0);
	*why = REASON_ICMP_TO_REAL;
	if (r->ifindex == ctx->ingress_ifindex)
		return XDP_TX;
	return bpf_redirect(r->ifindex, 0);
}

/* What icmp_error needs of the parsed packet, packed into one argument
 * (icmp_meta), and its result: verdict and reason in one value. */
#define META_L4_OFF L4_OFF_MAX     /* bits of l4_off: a mask the verifier bounds by (2^14 - 1) */
#define META_BYTE 0xff             /* a byte's bits */
#define META_L3_LEN 0xffff         /* l3_len's bits */
#define META_L3_LEN_SHIFT 16
#define META_TOS_SHIFT 32
#define META_VLAN_SHIFT 40
#define META_V6_SHIFT 41
#define META_PROTO_SHIFT 48
#define ICMP_WHY_SHIFT 8           /* the reason's bits above the verdict's byte */

/* icmp_meta packs p for icmp_error. Inlined: tiny. */
static __always_inline __u64 icmp_meta(const struct packet *p)
{
	return p->l4_off | (__u64)p->l3_len << META_L3_LEN_SHIFT | (__u64)p->tos << META_TOS_SHIFT |
	       (__u64)p->vlan << META_VLAN_SHIFT | (__u64)p->is_v6 << META_V6_SHIFT |
	       (__u64)p->flow.proto << META_PROTO_SHIFT;
}

/* icmp_error is icmp_error_in on a packet of its own, rebuilt from meta
 * (icmp_meta) and the outer addresses, and returns the verdict in the low
 * byte and the reason above ICMP_WHY_SHIFT. Taking the address of the
 * caller's packet or reason instead cost the TCP/UDP path ~10-20 ns (the
 * compiler keeps them in memory on every path then). Not inlined: only
 * ICMP runs it, and the verifier walks the TCP/UDP path as before. */
static __attribute__((noinline)) __u32 icmp_error(struct xdp_md *ctx, __u64 meta)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	enum reason why = REASON_PASS_OTHER_L4;
	__u32 zero = 0;
	struct icmp_scratch *sc = bpf_map_lookup_elem(&icmp_scratch, &zero);
	if (!sc)
		return (__u32)why << ICMP_WHY_SHIFT | XDP_PASS;
	struct packet *p = &sc->p;
	__builtin_memset(p, 0, sizeof(*p));

	p->l4_off = meta & META_L4_OFF;
	p->l3_len = (meta >> META_L3_LEN_SHIFT) & META_L3_LEN;
	p->tos = (meta >> META_TOS_SHIFT) & META_BYTE;
	p->vlan = (meta >> META_VLAN_SHIFT) & 1;
	p->is_v6 = (meta >> META_V6_SHIFT) & 1;
	p->flow.proto = (meta >> META_PROTO_SHIFT) & META_BYTE;
	__u32 *w = flow_words(&p->flow);
	void *l3 = data + (p->vlan ? L2_LEN_VLAN : ETH_HLEN);
	if (p->is_v6) {
		struct ipv6hdr *ip6 = l3;
		if ((void *)(ip6 + 1) > data_end)
			return (__u32)why << ICMP_WHY_SHIFT | XDP_PASS;
		__u32 *a = ip6->saddr.in6_u.u6_addr32; /* saddr, then daddr */
		for (int i = 0; i < 2 * V4_MAPPED_WORDS; i++)
			w[i] = a[i];
	} else {
		struct iphdr *ip = l3;
		if ((void *)(ip + 1) > data_end)
			return (__u32)why << ICMP_WHY_SHIFT | XDP_PASS;
		w[V4_MAPPED_WORDS - 1] = ip->saddr;
		w[2 * V4_MAPPED_WORDS - 1] = ip->daddr;
	}
	int verdict = icmp_error_in(ctx, sc, &why);
	return (__u32)why << ICMP_WHY_SHIFT | verdict;
}

/* tun_check_mtu returns 0 if p's packet, grown by the outer header for
 * real r (IPv6 if outer_v6), fits the MTU of r's interface; else the MTU
 * that leaves the inner packet (the interface's MTU less the outer
 * header). A packet that fits r->mtu, the MTU xlbd read from the
 * interface (it rewrites the real when the kernel reports a change), is
 * not asked about again: bpf_check_mtu, with the spills around a helper
 * call, was a tenth of an established IPIP packet's cost. Only a packet
 * near or over that MTU pays the helper, whose answer (the interface's
 * MTU now) decides. Inlined: once per TUN packet. */
static __always_inline __u32 tun_check_mtu(struct xdp_md *ctx, const struct packet *p, const struct real *r,
					   bool outer_v6)
{
	__u32 grow = outer_v6 ? IPV6_HDR_LEN : IPV4_HDR_LEN;
	if ((__u32)p->l3_len + grow <= r->mtu)
		return 0;
	/* 0 names the ingress interface: no lookup by ifindex. */
	__u32 ifindex = r->ifindex == ctx->ingress_ifindex ? 0 : r->ifindex;
	__u32 len = p->l3_len; /* in: the IP packet's length; out: the MTU */

	if (bpf_check_mtu(ctx, ifindex, &len, grow, 0) != BPF_MTU_CHK_RET_FRAG_NEEDED)
		return 0;
	return len > grow ? len - grow : 1;
}

/* csum_quote adds the one's-complement sum of the len bytes at q (len a
 * constant multiple of 4; the caller checked the bounds) to *sum, a
 * bpf_csum_diff call per CSUM_CHUNK bytes. False if the helper fails.
 * Inlined: len must stay a constant. */
static __always_inline bool csum_quote(void *q, const __u32 len, __u64 *sum)
{
	for (__u32 off = 0; off < len; off += CSUM_CHUNK) {
		__u32 n = len - off < CSUM_CHUNK ? len - off : CSUM_CHUNK;
		__s64 s = bpf_csum_diff(NULL, 0, q + off, n, 0);
		if (s < 0)
			return false;
		*sum += s;
	}
	return true;
}

/* ptb_send turns the frame of p, which does not fit the tunnel's MTU mtu,
 * into the PTB that tells its client so (see the top of this file), and
 * returns XDP_TX; or XDP_DROP with drop_tun_too_big. l2 is the Ethernet
 * header's length with or without the 802.1Q tag, a constant at each call
 * so that every offset is one for the verifier. Inlined: twice. */
static __always_inline int ptb_send(struct xdp_md *ctx, const struct packet *p, const int l2, __u32 mtu,
				    enum reason *why)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	bool v6 = p->is_v6;
	const int hdr = v6 ? IPV6_HDR_LEN + ICMP_HDR_LEN : IPV4_HDR_LEN + ICMP_HDR_LEN;
	const __u32 quote = v6 ? ICMP6_QUOTE : ICMP4_QUOTE;
	const __u32 *fw = flow_words((struct flow *)&p->flow);
	__u8 smac[ETH_ADDR_LEN], dmac[ETH_ADDR_LEN];
	__be16 tci = 0;

	*why = REASON_DROP_TUN_TOO_BIG;
	if (data + l2 + IPV4_HDR_LEN > data_end)
		return XDP_DROP;
	if (v6) {
		if (mtu < IPV6_MIN_MTU)
			mtu = IPV6_MIN_MTU;
		if (p->l3_len <= mtu)
			return XDP_DROP; /* fits 1280 and still too big: see the top */
	} else {
		struct iphdr *ip = data + l2;
		if (!(ip->frag_off & bpf_htons(IPV4_FLAG_DF)) || p->l3_len < ICMP4_QUOTE)
			return XDP_DROP;
	}
	__builtin_memcpy(smac, eth->h_source, ETH_ADDR_LEN);
	__builtin_memcpy(dmac, eth->h_dest, ETH_ADDR_LEN);
	if (l2 != ETH_HLEN)
		tci = ((struct vlan_tag *)(eth + 1))->tci;

	/* Keep l2 + quote bytes (the headers and the start of the packet),
	 * then make room for the new IP and ICMP headers in front: the new
	 * Ethernet header and they overwrite the old Ethernet header, and the
	 * quote starts where it must. */
	int cut = (data_end - data) - (l2 + quote);
	if (cut > 0 && bpf_xdp_adjust_tail(ctx, -cut))
		return XDP_DROP;
	if (bpf_xdp_adjust_head(ctx, -hdr))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	void *l3 = data + l2;
	if (l3 + hdr + quote > data_end)
		return XDP_DROP;
	__builtin_memcpy(eth->h_dest, smac, ETH_ADDR_LEN);
	__builtin_memcpy(eth->h_source, dmac, ETH_ADDR_LEN);
	__be16 type = v6 ? bpf_htons(ETH_TYPE_IPV6) : bpf_htons(ETH_TYPE_IPV4);
	if (l2 == ETH_HLEN) {
		eth->h_proto = type;
	} else {
		struct vlan_tag *tag = (void *)(eth + 1);
		eth->h_proto = bpf_htons(ETH_TYPE_VLAN);
		tag->tci = tci;
		tag->proto = type;
	}

	__u64 sum = 0;
	struct icmp_hdr *ic;
	if (v6) {
		struct ipv6hdr *ip6 = l3;
		ic = l3 + IPV6_HDR_LEN;
		*(__be32 *)ip6 = bpf_htonl((__u32)IPV6_VERSION << IPV6_VERSION_SHIFT);
		ip6->payload_len = bpf_htons(ICMP_HDR_LEN + ICMP6_QUOTE);
		ip6->nexthdr = IPPROTO_ICMPV6_NUM;
		ip6->hop_limit = ICMP_TTL;
		__u32 *sa = ip6->saddr.in6_u.u6_addr32, *da = ip6->daddr.in6_u.u6_addr32;
		for (int i = 0; i < V4_MAPPED_WORDS; i++) {
			sa[i] = fw[V4_MAPPED_WORDS + i]; /* from the VIP */
			da[i] = fw[i];                   /* to the client */
			sum += (__u64)sa[i] + da[i];
		}
		/* The pseudo-header's length and next header (RFC 8200 8.1). */
		sum += (__u64)bpf_htonl(ICMP_HDR_LEN + ICMP6_QUOTE) + bpf_htonl(IPPROTO_ICMPV6_NUM);
		ic->type = ICMPV6_PKT_TOOBIG;
		ic->code = 0;
		ic->rest = bpf_htonl(mtu);
	} else {
		struct iphdr *ip = l3;
		ic = l3 + IPV4_HDR_LEN;
		ipv4_write_header(ip, ICMP_TOS, IPV4_HDR_LEN + ICMP_HDR_LEN + ICMP4_QUOTE, ICMP_TTL, IPPROTO_ICMP_NUM,
				  fw[2 * V4_MAPPED_WORDS - 1], fw[V4_MAPPED_WORDS - 1]);
		ic->type = ICMP_DEST_UNREACH;
		ic->code = ICMP_FRAG_NEEDED;
		ic->rest = bpf_htonl(mtu & ICMP_NEXT_HOP_MTU); /* 16 bits unused, then the next-hop MTU */
	}
	ic->check = 0;
	sum += (__u64)((__u32 *)ic)[0] + ((__u32 *)ic)[1];
	if (!csum_quote(l3 + hdr, quote, &sum))
		return XDP_DROP;
	ic->check = csum_fold64(sum);
	*why = REASON_TUN_PTB_SENT;
	return XDP_TX;
}

/* tun_ptb answers p, which does not fit the tunnel's MTU mtu, with a PTB
 * (ptb_send). Not inlined: only packets too big run it. */
static __attribute__((noinline)) int tun_ptb(struct xdp_md *ctx, const struct packet *p, __u32 mtu, enum reason *why)
{
	if (p->vlan)
		return ptb_send(ctx, p, L2_LEN_VLAN, mtu, why);
	return ptb_send(ctx, p, ETH_HLEN, mtu, why);
}

#endif
