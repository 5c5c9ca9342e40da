/* consts.h: sizes, protocol numbers and the enums Go shares (bpf2go emits
 * them as Go constants). No bare numbers in the packet path. */
#ifndef XLB_CONSTS_H
#define XLB_CONSTS_H

/* Ethernet (IEEE 802.3, 802.1Q). */
#define ETH_ADDR_LEN 6      /* bytes in a MAC address */
#define ETH_TYPE_IPV4 0x0800 /* EtherType, host order */
#define ETH_TYPE_VLAN 0x8100 /* 802.1Q tag EtherType, host order */

/* IPv4 (RFC 791 section 3.1). */
#define IPV4_VERSION 4
#define IPV4_IHL_MIN 5          /* 32-bit words: a header without options */
#define IPV4_IHL_UNIT 4         /* bytes per IHL word */
#define IPV4_FLAG_MF 0x2000     /* more fragments, host order */
#define IPV4_FRAG_OFFSET 0x1fff /* fragment offset mask (8-byte units), host order */
#define IPPROTO_TCP_NUM 6
#define IPPROTO_UDP_NUM 17

/* v4-mapped IPv6 (RFC 4291 section 2.5.5.2): ::ffff:a.b.c.d, as netip.Addr.As16,
 * in 32-bit words: 0, 0, 0x0000ffff, the IPv4 address. */
#define V4_MAPPED_MARK 0xffff   /* the third word, host order */
#define V4_MAPPED_WORDS 4       /* 32-bit words in the 16-byte address */
#define VIP_KEY_WORDS 5         /* 32-bit words in struct vip_key */

/* Map sizes. Go overrides max_entries at load time (maps.Options); these are
 * the defaults. Ids are 1-based, index 0 is never used so a zero value in a
 * table slot means "no real". */
#define MAX_SERVICES 257        /* entries: 256 service ids + unused 0 */
#define MAX_REALS 4097          /* entries: 4096 real ids + unused 0 */
#define MAGLEV_TABLE_MAX 65537  /* slots in the largest Maglev table (prime) */

/* Maglev tables store two slots per array entry (struct maglev_bucket): the
 * kernel rounds array values up to 8 bytes, so one 4-byte slot per entry
 * would pay for 8. */
#define MAGLEV_SLOTS_PER_BUCKET 2 /* slots in one struct maglev_bucket */
#define MAGLEV_BUCKETS_MAX ((MAGLEV_TABLE_MAX + MAGLEV_SLOTS_PER_BUCKET - 1) / MAGLEV_SLOTS_PER_BUCKET) /* entries */

/* Flow hash seed (any constant; every node must use the same one so that
 * Maglev picks the same real on each node behind ECMP). */
#define FLOW_HASH_SEED 0x786c6230 /* "xlb0" */

/* lb_kind says how a service forwards to its reals; stored in service.kind. */
enum lb_kind {
	LB_KIND_DR = 1, /* direct routing: rewrite MACs only */
	/* LB_KIND_NAT = 2 and LB_KIND_TUN = 3 are reserved for later. */
};

/* reason indexes the per-CPU reasons array; each verdict path bumps one. */
enum reason {
	REASON_PASS_NOT_IPV4 = 0,  /* not IPv4: ARP, IPv6 (for now), other EtherTypes */
	REASON_PASS_NOT_VIP,       /* IPv4 TCP/UDP whose (daddr, dport, proto) is no service */
	REASON_PASS_FRAGMENT,      /* any IPv4 fragment: only the first carries ports */
	REASON_PASS_OTHER_L4,      /* IPv4 neither TCP nor UDP (ICMP, ...) */
	REASON_DROP_MALFORMED,     /* truncated frame, bad IPv4 version/IHL/length, truncated L4 */
	REASON_DROP_NO_REAL,       /* service without table, empty slot or missing real */
	REASON_DROP_UNKNOWN_KIND,  /* service.kind this program cannot forward */
	REASON_TX,                 /* forwarded back out of the ingress interface */
	REASON_REDIRECT,           /* forwarded out of another interface */
	REASON_MAX,
};

#endif
