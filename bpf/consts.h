/* consts.h: sizes, protocol numbers and the enums Go shares (bpf2go emits
 * them as Go constants). No bare numbers in the packet path. */
#ifndef XLB_CONSTS_H
#define XLB_CONSTS_H

/* Ethernet (IEEE 802.3, 802.1Q). */
#define ETH_ADDR_LEN 6       /* bytes in a MAC address */
#define ETH_TYPE_IPV4 0x0800 /* EtherType, host order */
#define ETH_TYPE_IPV6 0x86dd /* EtherType, host order */
#define ETH_TYPE_VLAN 0x8100 /* 802.1Q tag EtherType, host order */

/* IPv4 (RFC 791 section 3.1). */
#define IPV4_VERSION 4
#define IPV4_IHL_MIN 5          /* 32-bit words: a header without options */
#define IPV4_IHL_UNIT 4         /* bytes per IHL word */
#define IPV4_HDR_LEN 20         /* bytes in a header without options */
#define IPV4_FLAG_DF 0x4000     /* don't fragment, host order */
#define IPV4_FLAG_MF 0x2000     /* more fragments, host order */
#define IPV4_FRAG_OFFSET 0x1fff /* fragment offset mask (8-byte units), host order */
#define IPPROTO_IPIP_NUM 4      /* IPv4 in IP (RFC 2003) */
#define IPPROTO_TCP_NUM 6
#define IPPROTO_UDP_NUM 17
#define IPPROTO_IPV6_NUM 41     /* IPv6 in IP (RFC 2473, RFC 4213) */
#define IPPROTO_ICMP_NUM 1      /* ICMP (RFC 792) */
#define IPPROTO_ICMPV6_NUM 58   /* ICMPv6 (RFC 4443) */

/* IPv6 (RFC 8200). */
#define IPV6_VERSION 6
#define IPV6_HDR_LEN 40          /* bytes in the fixed header */
#define IPV6_FLOW_LABEL 0xfffff  /* flow label mask, host order */
#define NEXTHDR_HOP 0            /* hop-by-hop options (RFC 8200 4.3) */
#define NEXTHDR_ROUTING 43       /* routing header (RFC 8200 4.4) */
#define NEXTHDR_FRAGMENT 44      /* fragment header (RFC 8200 4.5) */
#define NEXTHDR_DEST 60          /* destination options (RFC 8200 4.6) */
#define IPV6_EXT_UNIT 8          /* bytes per Hdr Ext Len unit, and the first 8 not counted */
#define IPV6_EXT_MAX 4           /* extension headers walked before giving the packet to the stack */

/* TCP flags, in byte 13 of the header (RFC 9293 3.1). */
#define TCP_FLAGS_OFFSET 13 /* bytes from the start of the TCP header */
#define TCPF_FIN_BIT 0x01
#define TCPF_SYN_BIT 0x02
#define TCPF_RST_BIT 0x04
#define TCPF_ACK_BIT 0x10

/* Address families of bpf_fib_lookup (linux/socket.h). */
#define FIB_AF_INET 2
#define FIB_AF_INET6 10

/* Forwarding (NAT): a routed packet whose TTL / hop limit would reach 0
 * goes to the stack, which answers with ICMP time exceeded (RFC 1812
 * 5.3.1). */
#define TTL_MIN_FORWARD 2
#define TTL_WORD_ONE 0x0100 /* one TTL in the IPv4 (TTL, protocol) word, host order */

/* Header offsets the NAT rewrite needs. */
#define TCP_CSUM_OFFSET 16 /* bytes from the start of the TCP header to its checksum */
#define UDP_CSUM_OFFSET 6  /* bytes from the start of the UDP header to its checksum */
#define L4_OFF_MAX 16383   /* bytes: above any L4 offset the parser yields (18 + 40 + IPV6_EXT_MAX x 2048); a bound for the verifier */

/* Tunnels (lb_kind TUN). The outer header starts a new IP hop count: 64 is
 * Linux's default TTL (net.ipv4.ip_default_ttl) and hop limit. */
#define TUN_TTL 64

/* v4-mapped IPv6 (RFC 4291 section 2.5.5.2): ::ffff:a.b.c.d, as netip.Addr.As16,
 * in 32-bit words: 0, 0, 0x0000ffff, the IPv4 address. */
#define V4_MAPPED_MARK 0xffff   /* the third word, host order */
#define V4_MAPPED_WORDS 4       /* 32-bit words in the 16-byte address */
#define VIP_KEY_WORDS 5         /* 32-bit words in struct vip_key */
#define FLOW_WORDS 10           /* 32-bit words in struct flow */
#define FLOW4_WORDS 4           /* 32-bit words in struct flow4 */

/* Map sizes. Go overrides max_entries at load time (maps.Options); these are
 * the defaults. Ids are 1-based, index 0 is never used so a zero value in a
 * table slot means "no real". */
#define MAX_SERVICES 257        /* entries: 256 service ids + unused 0 */
#define MAX_REALS 4097          /* entries: 4096 real ids + unused 0 */
#define MAX_CONNS 1048576       /* entries in the IPv4 full-NAT tables */
#define MAX_CONNS6 262144       /* entries in the IPv6 full-NAT tables */
#define MAX_CONN_SETS 262144    /* sets in the IPv4 connection and NAT reverse tables: 4 ways each, 1M flows */
#define MAX_CONN_SETS6 65536    /* sets in the IPv6 connection and NAT reverse tables: 256k flows */
#define CONN_WAYS 4             /* flows a connection table set holds */
#define MAGLEV_TABLE_MAX 65537  /* slots in the largest Maglev table (prime) */
#define MAX_IFACES 4096         /* entries in ifaces: the highest ifindex that can be an inside interface, + 1 */
#define MAX_PERSIST 262144      /* entries in persist4: IPv4 persistence templates (one per client, or client prefix, and service) */
#define MAX_PERSIST6 65536      /* entries in persist6: IPv6 persistence templates */

/* Least-connection schedulers (lc, wlc, sed, nq): a first packet scans the
 * service's reals once, so their number is bounded; 64 keeps the scan (one
 * inlined array lookup per real) near the cost of a Maglev lookup's
 * neighbours and a sched_list value at 520 bytes. A service with more reals
 * needs another scheduler (maps.MaxSchedReals). */
#define MAX_SCHED_REALS 64      /* reals in one sched_list */
/* An active connection weighs 256 inactive ones (IPVS's
 * ip_vs_dest_conn_overhead). */
#define SCHED_ACTIVE_SHIFT 8

/* Locality-based schedulers (lblc, lblcr; bpf/lblc.h). An lblcr set holds
 * at most LOCALITY_SET_MAX reals (IPVS's is unbounded): 8 keep the value at
 * 88 bytes and the member loops short. The table is an LRU shared by all
 * services; IPVS lets each service's table reach 16384 entries before it
 * collects entries idle for 6 minutes, an LRU of that size evicts the
 * least recently used instead. */
#define LOCALITY_SET_MAX 8          /* reals in one lblcr set */
#define MAX_LOCALITIES 16384        /* entries in the localities table */
#define LOCALITY_HINT_NONE 0xff     /* locality_member.hint: not in the service's sched_list (above MAX_SCHED_REALS) */
#define LOCALITY_EXPIRATION_S 86400 /* s: IPVS's lblc_expiration and lblcr_expiration (24 h) */

/* Maglev tables store two slots per array entry (struct maglev_bucket): the
 * kernel rounds array values up to 8 bytes, so one 4-byte slot per entry
 * would pay for 8. */
#define MAGLEV_SLOTS_PER_BUCKET 2 /* slots in one struct maglev_bucket */
#define MAGLEV_BUCKETS_MAX ((MAGLEV_TABLE_MAX + MAGLEV_SLOTS_PER_BUCKET - 1) / MAGLEV_SLOTS_PER_BUCKET) /* entries */

/* Flow hash seed (any constant; every node must use the same one so that
 * Maglev picks the same real on each node behind ECMP). */
#define FLOW_HASH_SEED 0x786c6230 /* "xlb0" */

/* Address hash seed of the sh and dh schedulers (SERVICE_F_HASH_SRC/DST):
 * controlplane/sched.AddrSeed. Unlike FLOW_HASH_SEED so that a client's
 * sh slot is unrelated to the slots of its flows under mh. */
#define ADDR_HASH_SEED 0x786c6261 /* "xlba" */

/* VIP hints (vip_hints, fast.h): 2^VIP_HINT_BITS slots of VIP_HINT_SLOT_BITS
 * bits, indexed by a multiplicative hash of a packet's destination
 * (address, port, protocol): which kinds of service have a key in the
 * slot. A packet whose slot is empty is no VIP's and passes after one
 * inlined array lookup instead of a services hash lookup. 65536 slots keep
 * a false hint below 0.4 % with 256 service keys. Go computes the same
 * slot (maps.vipHintSlot). */
#define VIP_HINT_BITS 16                /* bits of the slot number */
#define VIP_HINT_SLOT_BITS 2            /* bits per slot */
#define VIP_HINT_SLOTS_PER_WORD 32      /* slots per vip_hints value (a __u64) */
#define VIP_HINT_MASK 3                 /* a slot's bits */
#define VIP_HINT_TRACKED 1              /* a DR, TUN or NAT service: its flows are in conns4/conns6 */
#define VIP_HINT_OTHER 2                /* a full-NAT service: its flows are in fnat4/fnat6 */
#define VIP_HINT_WORDS ((1 << VIP_HINT_BITS) / VIP_HINT_SLOTS_PER_WORD) /* entries of vip_hints */
#define VIP_HINT_MULT 0x9e3779b1U       /* 2^32 / golden ratio: Fibonacci hashing */

/* Connection tracking. last_seen is written at most once per
 * CONN_TOUCH_NS per entry (a state change writes at once): an established
 * flow costs no map write per packet, and expiry is early by at most that. */
#define CONN_TOUCH_NS 1000000000ULL /* ns */
#define NSEC_PER_SEC 1000000000ULL

/* Full NAT (fnat.h). A new flow tries at most FNAT_PORT_TRIES (local
 * address, port) pairs of its service's pool, from one its hash picks:
 * each try is one insert into the reverse table, so the bound keeps a
 * nearly full pool from costing a first packet more than a few hundred ns;
 * the flow is dropped (drop_fnat_no_port) when all are taken. */
#define FNAT_POOL_MAX 16        /* local addresses in one service's pool (struct fnat_pool) */
#define FNAT_PORT_TRIES 8       /* candidate (address, port) pairs a new flow tries */
#define FNAT_HASH_SEED 0x786c6266 /* "xlbf": the allocation's start, unrelated to the Maglev slot */

/* lb_kind says how a service forwards to its reals; stored in service.kind. */
enum lb_kind {
	LB_KIND_DR = 1,  /* direct routing: rewrite MACs only */
	LB_KIND_NAT = 2, /* masquerading: rewrite destination to the real, replies' source back to the VIP */
	LB_KIND_TUN = 3, /* IP tunnel: push an outer IPv4/IPv6 header to the real */
	LB_KIND_FNAT = 4, /* full NAT: as NAT, and the source becomes a local address and port of the service's pool (fnat.h) */
};

/* service_flag bits go in service.flags. */
enum service_flag {
	SERVICE_F_DROP_REMOVED = 1, /* drop a tracked flow whose real was removed, instead of rescheduling it */
	SERVICE_F_HASH_SRC = 2,     /* sh: schedule by the client address alone, not the 5-tuple */
	SERVICE_F_HASH_DST = 4,     /* dh: schedule by the destination address alone (wins over HASH_SRC) */
	SERVICE_F_PERSIST = 8,      /* persistence_timeout: a client's new flows follow its template (persist.h) */
	SERVICE_F_OPS = 16,         /* ops: every packet scheduled anew, no connection entry (UDP only) */
};

/* sched_kind is how a service picks the real of a new flow; stored in
 * service.sched. */
enum sched_kind {
	SCHED_MAGLEV = 0, /* mh, sh, dh: the Maglev table, keyed as service.flags say */
	SCHED_RR = 1,     /* rr: the sequence in maglev_tables, one per-CPU position per service */
	SCHED_WRR = 2,    /* wrr: as rr, the sequence is weighted */
	SCHED_LC = 3,     /* lc: least active*256+inactive over sched_lists */
	SCHED_WLC = 4,    /* wlc: least (active*256+inactive)/weight */
	SCHED_SED = 5,    /* sed: least (active+1)/weight */
	SCHED_NQ = 6,     /* nq: the first real without active connections, else sed */
	SCHED_LBLC = 7,   /* lblc: the destination's real in localities unless overloaded, else wlc (lblc.h) */
	SCHED_LBLCR = 8,  /* lblcr: the least loaded of the destination's set in localities, grown by wlc (lblc.h) */
	SCHED_MAX,
};

/* real_flag bits go in real.flags. */
enum real_flag {
	REAL_F_REMOVED = 1, /* the control plane removed this real: its tracked flows move (or drop) */
	REAL_F_PRESENT = 2, /* the entry holds a real (deleted entries keep only gen) */
	REAL_F_QUIESCED = 4, /* weight 0: tracked flows stay, persistence templates to it are ignored and rewritten */
};

/* iface_flag bits go in iface.flags. */
enum iface_flag {
	IFACE_F_INSIDE = 1, /* faces NAT reals: TCP/UDP arriving here is first looked up as a NAT reply */
	IFACE_F_FNAT = 2,   /* faces full-NAT reals: TCP/UDP arriving here is looked up as a full-NAT reply (fnat_rev4/6) */
};

/* conn_state is the light TCP state of a tracked flow (conn.state). DR and
 * TUN see only the client's half, so states follow its flags alone. */
enum conn_state {
	CONN_SYN = 1,         /* SYN seen, no ACK yet: timeout syn */
	CONN_ESTABLISHED = 2, /* an ACK seen: timeout tcp */
	CONN_CLOSING = 3,     /* FIN or RST seen: timeout tcpfin */
	CONN_UDP = 4,         /* any UDP flow: timeout udp */
};

/* reason indexes the per-CPU reasons array. The verdict reasons (up to
 * REASON_REDIRECT, the NAT ones, and the ICMP_* and TUN ones after the
 * events) count each packet once, by the path that decided its verdict;
 * the conntrack events (CT_*) count what the connection table did for a
 * VIP packet (one of hit, miss, expired, real_gone per lookup; ops for a
 * packet of an ops service, which finds no entry and writes none).
 *
 * Invariant: a packet that reaches the connection table gets one event and
 * then one of TX, REDIRECT, DROP_NO_REAL, DROP_REAL_REMOVED, DROP_TUNNEL,
 * PASS_NO_NEIGH, PASS_FIB, DROP_FAMILY, TUN_PTB_SENT, DROP_TUN_TOO_BIG; no
 * other packet gets one of those ten. ICMP errors look their flow up
 * without an event and have verdicts of their own (ICMP_*). NAT replies never reach the connection table the same way (they
 * are found in nat4/nat6) and have verdicts of their own (REPLY_*). Hits are therefore not counted
 * (their entry stays zero, one counter update less per established packet):
 * maps.Reasons derives them as those verdicts (maps.hitCount's list) less
 * miss, expired, real_gone and ops.
 * A new path that forwards without the table must keep this true (or count
 * hits again). */
enum reason {
	REASON_PASS_NOT_IP = 0,    /* neither IPv4 nor IPv6: ARP, other EtherTypes */
	REASON_PASS_NOT_VIP,       /* TCP/UDP whose (daddr, dport, proto) is no service */
	REASON_PASS_FRAGMENT,      /* an IPv4 fragment or an IPv6 fragment header: only the first fragment carries ports */
	REASON_PASS_OTHER_L4,      /* neither TCP nor UDP (ESP, no next header, ...), or ICMP that is no error about a service's flow (echo, errors about the host's own traffic, quotes icmp.h cannot read) */
	REASON_PASS_IPV6_EXT_LIMIT,/* more than IPV6_EXT_MAX IPv6 extension headers */
	REASON_PASS_IPV6_ROUTING,  /* IPv6 routing header with segments left: not the final destination */
	REASON_DROP_MALFORMED,     /* truncated frame, bad IP version/IHL/length, truncated extension or L4 header */
	REASON_DROP_NO_REAL,       /* service without table (Maglev or sequence) or sched_list, unknown scheduler, empty slot, no real of weight > 0, or missing real */
	REASON_DROP_UNKNOWN_KIND,  /* service.kind this program cannot forward */
	REASON_DROP_REAL_REMOVED,  /* tracked flow's real removed, and the service drops such flows */
	REASON_DROP_TUNNEL,        /* TUN: no room for the outer header, or tunnel source and real of different families */
	REASON_TX,                 /* forwarded back out of the ingress interface */
	REASON_REDIRECT,           /* forwarded out of another interface */
	REASON_PASS_NO_NEIGH,      /* NAT: rewritten, but the next hop has no neighbour entry: the stack forwards it and resolves the neighbour */
	REASON_PASS_FIB,           /* NAT: rewritten, but bpf_fib_lookup gave no next hop (no route, forwarding off, MTU) or the TTL expires: the stack decides */
	REASON_DROP_FAMILY,        /* NAT: the real's family is not the VIP's */
	REASON_REPLY_TX,           /* NAT reply rewritten back to the VIP, out of the ingress interface */
	REASON_REPLY_REDIRECT,     /* NAT reply rewritten back to the VIP, out of another interface */
	REASON_REPLY_PASS_NO_NEIGH,/* NAT reply rewritten, passed: as PASS_NO_NEIGH */
	REASON_REPLY_PASS_FIB,     /* NAT reply rewritten, passed: as PASS_FIB */
	REASON_CT_HIT,             /* event: tracked flow, its real kept; derived in Go, never counted here */
	REASON_CT_MISS,            /* event: new flow, scheduled and tracked */
	REASON_CT_EXPIRED,         /* event: tracked flow idle past its timeout, or its closed 5-tuple reopened by a SYN: rescheduled */
	REASON_CT_REAL_GONE,       /* event: tracked flow's real deleted, removed or replaced */
	REASON_OPS,                /* event: a packet of an ops service (a connection-table miss), scheduled and not tracked */
	REASON_DROP_FNAT_NO_PORT,  /* full NAT: no free local address and port within FNAT_PORT_TRIES candidates, or no pool */
	REASON_ICMP_TO_REAL,       /* ICMP/ICMPv6 error about a tracked flow's reply, forwarded to the flow's real (icmp.h) */
	REASON_ICMP_NO_FLOW,       /* ICMP/ICMPv6 error about a service's flow that is not tracked, expired or whose real is gone: passed */
	REASON_ICMP_DROP,          /* ICMP/ICMPv6 error of a tracked flow that cannot be forwarded: real not on a link (DR, TUN), tunnel or family mismatch */
	REASON_ICMP_PASS_ROUTE,    /* NAT: ICMP/ICMPv6 error rewritten for the real or the client, but the FIB gave no next hop: the stack forwards it */
	REASON_ICMP_REPLY,         /* NAT: ICMP/ICMPv6 error from the reals' side about a client's packet, rewritten to come from the VIP, forwarded */
	REASON_TUN_PTB_SENT,       /* TUN: the encapsulated packet would exceed the egress MTU: ICMP fragmentation needed / Packet Too Big sent back (XDP_TX) */
	REASON_DROP_TUN_TOO_BIG,   /* TUN: the encapsulated packet would exceed the egress MTU and no PTB can help: IPv4 without DF, IPv6 within 1280, IPv4 under 548 bytes */
	REASON_MAX,
};

#endif
