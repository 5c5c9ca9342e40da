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
	__u32 id;             /* index into maglev_tables, sched_lists, and sched_pos, 1-based */
	__u32 table_size;     /* slots in this service's maglev_tables entry: a Maglev table (prime) or an rr/wrr sequence */
	__u8 kind;            /* enum lb_kind */
	__u8 flags;           /* enum service_flag bits */
	__u8 sched;           /* enum sched_kind */
	__u8 pad;
	__u8 tunnel_src[16];  /* TUN: outer source address; its family must be the real's */
	__u32 persist_timeout;  /* s: persistence_timeout, with SERVICE_F_PERSIST */
	__u8 persist_mask[16];  /* persistence_granularity as a mask of the client address (IPv4: the last 4 bytes) */
};

/* real is a backend server; the reals array value, indexed by real id. An
 * entry without REAL_F_PRESENT is absent (deleted reals are zeroed but keep
 * gen). A routed real (ifindex 0, no MACs) is reached through
 * bpf_fib_lookup: only NAT services can use it, DR and TUN drop its
 * packets (drop_no_real). */
struct real {
	__u8 addr[16];              /* TUN: outer destination; NAT: new destination */
	__u8 mac[ETH_ADDR_LEN];     /* next hop's MAC (the real's, or a gateway's for TUN): new destination */
	__u8 src_mac[ETH_ADDR_LEN]; /* MAC of ifindex: new source */
	__u32 ifindex;              /* interface that reaches the real; 0: routed (NAT only) */
	__u16 flags;                /* enum real_flag bits */
	__u16 gen;                  /* changes when the id names another real: tracked flows of the old one move */
	__be16 port;                /* NAT: new destination port; 0 keeps the VIP's port */
	__u16 mtu;                  /* TUN: ifindex's MTU as xlbd last read it (at most 65535); 0: unknown (see tun_check_mtu) */
	__u32 service_id;           /* the service whose real this is (each has reals of its own): a tracked packet finds its service by it (fast.h); 0: none */
	__u8 pad2[4];
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
	__u8 flags;      /* reserved, zero */
	__u64 last_seen; /* bpf_ktime_get_coarse_ns() (CLOCK_MONOTONIC_COARSE), at most CONN_TOUCH_NS stale */
};

/* counters are per-CPU traffic totals of a real (a service's are its
 * reals' sums, added up in Go: count_traffic says why). "in" is
 * client to real (every mode), "out" real to client (NAT replies; DR and
 * TUN replies bypass the balancer). */
struct counters {
	__u64 packets;
	__u64 bytes;     /* whole frames as received, Ethernet header included */
	__u64 out_packets;
	__u64 out_bytes; /* as packets and bytes, for replies */
	__u64 conns;     /* new flows scheduled (a connection table miss, expiry or real gone) and forwarded */
};

/* conn_counts is the real_conns array value, indexed by real id and shared
 * by all CPUs (moved with atomic adds): how many tracked flows of the
 * real's current generation are active (TCP established) and inactive
 * (SYN seen, closing, UDP), as IPVS's activeconns and inactconns. Signed:
 * full NAT's LRU tables evict entries without telling the program, and
 * updates racing Go's resync are lost, so a count drifts either way; maps
 * clamps what it reports at 0 and ResyncConnCounts rebuilds them from the
 * tables. */
struct conn_counts {
	__s64 active;
	__s64 inactive;
};

/* sched_real is one real of a sched_list: its id and weight (0: quiesced,
 * never picked). */
struct sched_real {
	__u32 id;
	__u32 weight;
};

/* sched_list is the sched_lists value: the reals an lc, wlc, sed or nq
 * service scans for a new flow, in the control plane's list order (Key
 * order), ties going to the earlier. */
struct sched_list {
	__u32 count; /* reals in use, <= MAX_SCHED_REALS */
	__u32 pad;
	struct sched_real reals[MAX_SCHED_REALS];
};

/* nat_hop is a flow's cached next hop towards the client (natcache.h):
 * what bpf_fib_lookup answered for one of its replies, kept in the
 * flow's reverse entry so that the next replies skip the lookup. */
struct nat_hop {
	__u32 ifindex;           /* egress interface; 0: nothing cached, ask the FIB */
	__u8 dmac[ETH_ADDR_LEN]; /* the next hop's MAC: new destination */
	__u8 smac[ETH_ADDR_LEN]; /* ifindex's MAC: new source */
};

/* nat_rev is a NAT flow seen from the real's side: the value of nat4 and
 * nat6, whose key is the reply's 5-tuple (struct flow4 or flow: real
 * address and port to client address and port). One lookup of that key
 * gives what the reply's source becomes (vip, vport) and which counters
 * it bumps. state and last_seen mirror the forward entry (conns4/conns6),
 * which both directions keep in step at most once per CONN_TOUCH_NS and at
 * every state change (see nat.h). */
struct nat_rev {
	__u8 vip[16];     /* the service's address, v4-mapped for IPv4: the reply's new source */
	__be16 vport;     /* the service's port: the reply's new source port */
	__u8 state;       /* enum conn_state */
	__u8 pad;
	__u32 service_id; /* the flow's service (Go's listings; counters are per real) */
	__u32 real_id;    /* real_stats index */
	__u16 hop_mtu;    /* the cached route's MTU: a longer packet asks the FIB */
	__u16 pad2;
	__u64 last_seen;  /* as conn.last_seen */
	struct nat_hop hop; /* the replies' next hop, refreshed at every touch */
};

/* iface is the ifaces array value, indexed by ifindex: what the program
 * does with packets arriving on that interface beyond VIP lookups. */
struct iface {
	__u32 flags; /* enum iface_flag bits */
};

/* reason_count is the per-CPU count of one enum reason. */
struct reason_count {
	__u64 packets;
};

/* persist4_key is the persist4 key: an IPv4 client, masked by its
 * service's persistence_granularity, and the service. Two whole words. */
struct persist4_key {
	__u32 service_id;
	__be32 client;
};

/* persist6_key is the persist6 key: as persist4_key, 16-byte client. */
struct persist6_key {
	__u32 service_id;
	__u8 client[16];
};

/* persist is a persistence template (IPVS's): the persist4 and persist6
 * value, the real a client's new flows to a persistent service go to. */
struct persist {
	__u32 real_id;   /* the real the client's flows go to */
	__u16 real_gen;  /* real.gen when the template was written */
	__u16 pad;
	__u64 last_seen; /* as conn.last_seen: a new flow or a touch of one of its flows */
};

/* locality_key is the localities map key: a service and a destination
 * address (v4-mapped for IPv4), one key for both families. Every byte is
 * written (locality_pick). */
struct locality_key {
	__u32 service_id;
	__u8 addr[16];
};

/* locality_member is one real of a locality entry: its id and generation
 * (an id that names another real since is a dead member) and where it was
 * last seen in the service's sched_list, so a use reads its weight without
 * a scan. */
struct locality_member {
	__u32 real_id;
	__u16 real_gen;
	__u8 hint; /* index in the service's sched_list; LOCALITY_HINT_NONE: not there */
	__u8 pad;
};

/* locality is the localities map value: the reals a destination goes to
 * under lblc (one) or lblcr (a set, newest first, as IPVS adds members at
 * the head), and the times IPVS keeps (ns, the connection table's clock). */
struct locality {
	__u64 last_use; /* last new flow to the destination, at most CONN_TOUCH_NS stale */
	__u64 last_mod; /* lblcr: when a member last joined or was shed */
	__u32 count;    /* members in use, <= LOCALITY_SET_MAX */
	__u32 pad;
	struct locality_member members[LOCALITY_SET_MAX];
};

/* fnat_conn is a full-NAT flow's forward entry: the fnat4 and fnat6
 * value, key the client's 5-tuple as for conns4/conns6. It starts with
 * a struct conn, so the connection table logic (ct.h, pick_real) serves
 * both; DR, TUN and NAT flows stay in conns4/conns6 at 16 bytes. */
struct fnat_conn {
	struct conn conn;
	__u8 laddr[16]; /* the local address the flow's source became, v4-mapped for IPv4 */
	__be16 lport;   /* and its local port */
	__be16 rport;   /* the real's port the destination became */
	__u32 pad;
};

/* fnat_rev is a full-NAT flow seen from the real's side: the value of
 * fnat_rev4 and fnat_rev6, whose key is the reply's 5-tuple (real
 * address and port to local address and port). It gives both addresses
 * the reply gets back (source VIP:vport, destination client:cport) and
 * which counters it bumps; state and last_seen as struct nat_rev. The
 * entry also holds the local port: an insert with BPF_NOEXIST allocates
 * it (fnat.h). */
struct fnat_rev {
	__u8 client[16];  /* the client's address, v4-mapped for IPv4: the reply's new destination */
	__u8 vip[16];     /* the service's address: the reply's new source */
	__be16 cport;     /* the client's port */
	__be16 vport;     /* the service's port */
	__u8 state;       /* enum conn_state */
	__u8 pad;
	__u16 hop_mtu;    /* as nat_rev.hop_mtu */
	__u32 service_id; /* as nat_rev.service_id */
	__u32 real_id;    /* real_stats index */
	__u64 last_seen;  /* as conn.last_seen */
	struct nat_hop hop; /* as nat_rev.hop */
};

/* fnat_pool is a full-NAT service's local addresses and port range: the
 * fnat_pools value, by service id. All addresses are of the service's
 * family. */
struct fnat_pool {
	__u32 count;    /* addresses in use, 1..FNAT_POOL_MAX */
	__u16 port_min; /* first local port, host order */
	__u16 port_max; /* last local port, host order, >= port_min */
	__u8 addrs[FNAT_POOL_MAX][16];
};

/* service_entry is the service_ids value, by service id: the service and
 * one key it is at in services or services4 (vip_key form, an IPv4 VIP
 * v4-mapped). Every services lookup ends here, by the id the services
 * value holds, so that the program's service pointer is always of this
 * one map (the verifier explores every path once per map a pointer may
 * point into). The key lets a tracked packet, which finds its service
 * through its real's service_id (fast.h), check that the id still names
 * the VIP it was sent to. An all-zero entry names no service. */
struct service_entry {
	struct service svc;
	struct vip_key key;
};

/* conn_way4 and conn_way6 are one entry of conns4 and conns6 (conntab.h):
 * a flow's key and its struct conn, and for IPv6 the key's hash. A way is
 * empty while its key's last word (the protocol, never 0 for TCP or UDP)
 * is 0. 32 and 64 bytes, so that a set of CONN_WAYS is 128 and 256: the
 * JIT inlines an array lookup only for a power-of-two value size. */
struct conn_way4 {
	struct flow4 key;
	struct conn val;
};

struct conn_way6 {
	struct flow key;
	struct conn val;
	__u32 hash; /* the key's table_hash (conn_hash6, conntab.h), compared before the key */
	__u8 pad[4];
};

/* conn_set4 and conn_set6 are the conns4 and conns6 values: CONN_WAYS
 * entries that the flow hash's set holds. */
struct conn_set4 {
	struct conn_way4 way[CONN_WAYS];
};

struct conn_set6 {
	struct conn_way6 way[CONN_WAYS];
};

_Static_assert(sizeof(struct conn_set4) == 128 && sizeof(struct conn_set6) == 256,
	       "connection table sets are not of a power-of-two size");

/* nat_set4 and nat_set6 are the nat4 and nat6 values: CONN_WAYS reverse
 * entries of NAT flows (nattab.h), keys apart from values so that a
 * lookup compares the keys in one cache line (IPv4: four 16-byte keys;
 * IPv6: the four keys' hashes, then only a key whose hash matches) and
 * reads one value. A way is empty while its key's protocol is 0. The pad
 * makes a set whole cache lines (320 and 448 bytes), so that sets in the
 * array start on a line. */
struct nat_set4 {
	struct flow4 key[CONN_WAYS];
	struct nat_rev val[CONN_WAYS];
	__u8 pad[32];
};

struct nat_set6 {
	__u32 hash[CONN_WAYS]; /* each key's table_hash (as conn_way6.hash) */
	struct flow key[CONN_WAYS];
	struct nat_rev val[CONN_WAYS];
	__u8 pad[48];
};

_Static_assert(sizeof(struct nat_set4) % 64 == 0 && sizeof(struct nat_set6) % 64 == 0,
	       "NAT reverse table sets are not whole cache lines");

/* fnat_set4 and fnat_set6 are the fnat4 and fnat6 values: CONN_WAYS
 * forward entries of full-NAT flows (fnat.h), laid out as nat_set4 and
 * nat_set6 (keys apart from values, found by the same way search,
 * nattab.h) and whole cache lines (256 and 384 bytes). */
struct fnat_set4 {
	struct flow4 key[CONN_WAYS];
	struct fnat_conn val[CONN_WAYS];
	__u8 pad[32];
};

struct fnat_set6 {
	__u32 hash[CONN_WAYS]; /* each key's table_hash (as conn_way6.hash) */
	struct flow key[CONN_WAYS];
	struct fnat_conn val[CONN_WAYS];
	__u8 pad[48];
};

_Static_assert(sizeof(struct fnat_set4) == 256 && sizeof(struct fnat_set6) == 384,
	       "full-NAT forward table sets are not whole cache lines");

/* fnat_rev_set4 and fnat_rev_set6 are the fnat_rev4 and fnat_rev6
 * values: CONN_WAYS reverse entries of full-NAT flows, laid out as
 * nat_set4 and nat_set6, and a claim word: a new flow's claim of a local
 * pair (fnat_claim4, fnat_claim6 in fnat.h) holds the set, 1, while it
 * checks that no live way has the pair and writes its own, so that two
 * CPUs never both own one pair. 384 and 512 bytes. */
struct fnat_rev_set4 {
	struct flow4 key[CONN_WAYS];
	struct fnat_rev val[CONN_WAYS];
	__u32 claim;
	__u8 pad[28];
};

struct fnat_rev_set6 {
	__u32 hash[CONN_WAYS]; /* each key's table_hash (as conn_way6.hash) */
	struct flow key[CONN_WAYS];
	struct fnat_rev val[CONN_WAYS];
	__u32 claim;
	__u8 pad[44];
};

_Static_assert(sizeof(struct fnat_rev_set4) == 384 && sizeof(struct fnat_rev_set6) == 512,
	       "full-NAT reverse table sets are not whole cache lines");
/* fnat.h's set_find4 and set_find6 read both kinds of full-NAT set by
 * these offsets. */
_Static_assert(__builtin_offsetof(struct fnat_set4, key) == 0 && __builtin_offsetof(struct fnat_rev_set4, key) == 0 &&
		       __builtin_offsetof(struct fnat_set6, hash) == 0 && __builtin_offsetof(struct fnat_rev_set6, hash) == 0 &&
		       __builtin_offsetof(struct fnat_set6, key) == CONN_WAYS * sizeof(__u32) &&
		       __builtin_offsetof(struct fnat_rev_set6, key) == CONN_WAYS * sizeof(__u32),
	       "full-NAT sets do not start with their keys (IPv6: hashes, then keys)");

#endif
