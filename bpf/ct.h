/* ct.h: connection tracking for DR and TUN. A flow's entry in conns holds
 * its real (id and generation), a light TCP state and when it was last
 * seen; timeouts per state follow IPVS (ipvsadm --set tcp tcpfin udp, and
 * IPVS's syn_recv). */
#ifndef XLB_CT_H
#define XLB_CT_H

#include <linux/types.h>
#include "consts.h"
#include "structs.h"
#include "maps.h"

/* Timeouts, set by Go at load time (maps.Options; const volatile globals
 * live in .rodata, which the loader fills before the verifier sees the
 * program, so each reads as a constant): no map lookup per packet. Changing
 * one means reloading the program. */
volatile const __u64 conn_timeout_syn_ns = 60 * NSEC_PER_SEC;     /* IPVS syn_recv */
volatile const __u64 conn_timeout_tcp_ns = 900 * NSEC_PER_SEC;    /* IPVS tcp (established) */
volatile const __u64 conn_timeout_tcpfin_ns = 120 * NSEC_PER_SEC; /* IPVS tcpfin */
volatile const __u64 conn_timeout_udp_ns = 300 * NSEC_PER_SEC;    /* IPVS udp */

/* ct_now returns the connection table's clock, CLOCK_MONOTONIC_COARSE in
 * ns (what Go's maps.MonotonicNow reads), without a helper call on most
 * packets: bpf_jiffies64 is inlined into one load, and the coarse clock,
 * which only moves on a tick too, is read once per jiffy and CPU and kept
 * in the per-CPU clock map. The value may lag by one tick (jiffies moves
 * just before the coarse clock), far below CONN_TOUCH_NS. Inlined: once
 * per VIP packet. */
static __always_inline __u64 ct_now(void)
{
	__u32 zero = 0;
	struct clock_cache *cc = bpf_map_lookup_elem(&clock, &zero);
	__u64 j = bpf_jiffies64();

	if (!cc)
		return bpf_ktime_get_coarse_ns();
	if (cc->jiffies != j) {
		cc->jiffies = j;
		cc->now = bpf_ktime_get_coarse_ns();
	}
	return cc->now;
}

/* ct_idle returns how long before now then was, 0 if then is later.
 * ct_now's clock is cached per CPU: a CPU that reads the coarse clock in
 * a new jiffy before the timekeeping tick has moved it keeps the last
 * tick's time for the whole jiffy, while another CPU has the new one. An
 * entry written a moment ago on that other CPU then looks up to a tick
 * in the future, and the plain now - then would read as 2^64 - that: an
 * expired flow, rescheduled between its SYN and its ACK (e2e saw the
 * reset). Every age the program compares goes through here. Inlined:
 * tiny. */
static __always_inline __u64 ct_idle(__u64 now, __u64 then)
{
	return now > then ? now - then : 0;
}

/* conn_timeout is how long a flow in state may stay idle. Inlined: tiny. */
static __always_inline __u64 conn_timeout(__u8 state)
{
	switch (state) {
	case CONN_SYN:
		return conn_timeout_syn_ns;
	case CONN_ESTABLISHED:
		return conn_timeout_tcp_ns;
	case CONN_CLOSING:
		return conn_timeout_tcpfin_ns;
	default:
		return conn_timeout_udp_ns;
	}
}

/* ct_stale says whether an entry in state, last seen at last_seen, is
 * past that state's timeout at now (a connection entry: conn_expired; a
 * full-NAT reverse entry's claim: fnat.h). Another CPU may have written a
 * later clock: not stale then (ct_idle). The per-packet paths (pick_real,
 * nat_reply, fnat_reply, icmp.h's) write the same test out: through this
 * helper clang orders their code otherwise, and the verifier processed
 * 14-23k instructions more (measured in session 10). Inlined: tiny. */
static __always_inline bool ct_stale(__u8 state, __u64 last_seen, __u64 now)
{
	return ct_idle(now, last_seen) > conn_timeout(state);
}

/* conn_expired is ct_stale for connection-table entry c. Inlined: tiny. */
static __always_inline bool conn_expired(const struct conn *c, __u64 now)
{
	return ct_stale(c->state, c->last_seen, now);
}

/* conn_next_state is a flow's state after a packet from the client with
 * TCP flags; old is 0 for a new flow. DR and TUN never see the server's
 * half, so this is IPVS's input-only view: FIN or RST closes; after that
 * only a new SYN reopens (a new connection on the same 5-tuple); an ACK
 * establishes; a SYN opens a new flow and leaves a known one as it is.
 * Inlined: once per VIP packet. */
static __always_inline __u8 conn_next_state(__u8 old, __u8 proto, __u8 flags)
{
	if (proto != IPPROTO_TCP_NUM)
		return CONN_UDP;
	if (flags & (TCPF_FIN_BIT | TCPF_RST_BIT))
		return CONN_CLOSING;
	if (old == CONN_CLOSING)
		return (flags & (TCPF_SYN_BIT | TCPF_ACK_BIT)) == TCPF_SYN_BIT ? CONN_SYN : CONN_CLOSING;
	if (flags & TCPF_ACK_BIT)
		return CONN_ESTABLISHED;
	if (old)
		return old;
	return (flags & TCPF_SYN_BIT) ? CONN_SYN : CONN_ESTABLISHED;
}

/* conn_reopened says whether a packet with TCP flags opens a new
 * connection on the 5-tuple of a closed one: a SYN without ACK after FIN or
 * RST. Such a connection is scheduled afresh, as IPVS does with
 * conn_reuse_mode 1, rather than sent to the old real: a client that
 * reuses its port must not bring a drained (weight 0) real a new
 * connection. Inlined: tiny. */
static __always_inline bool conn_reopened(__u8 state, __u8 proto, __u8 flags)
{
	return proto == IPPROTO_TCP_NUM && state == CONN_CLOSING &&
	       (flags & (TCPF_SYN_BIT | TCPF_ACK_BIT)) == TCPF_SYN_BIT;
}

/* conn_reply_state is a NAT flow's state after a reply from the real with
 * TCP flags: FIN or RST from either side closes (as IPVS's NAT state
 * table), anything else leaves the state to the client's packets. Inlined:
 * tiny. */
static __always_inline __u8 conn_reply_state(__u8 old, __u8 proto, __u8 flags)
{
	if (proto != IPPROTO_TCP_NUM)
		return CONN_UDP;
	if (flags & (TCPF_FIN_BIT | TCPF_RST_BIT))
		return CONN_CLOSING;
	return old;
}

/* Per-real connection counts (real_conns), as IPVS's activeconns and
 * inactconns: a flow counts active while established, inactive in any
 * other state (SYN seen, closing, UDP). The counts move with atomic adds,
 * shared by all CPUs, when the connection table creates an entry
 * (conns_add +1), sees it change class (conns_move: an ACK establishes, a
 * FIN or RST closes, from either side for NAT), and replaces a live one
 * (reopened, its real gone, or the oldest of a full set: conns_add -1 on
 * the old real, only if that real is still the same generation: PutReal
 * zeroes the counts of a new generation). Expired flows of conns4 and
 * conns6 are not taken off by the program: maps.ResyncConnCounts rebuilds
 * the counts from the tables every few seconds and leaves them out, so
 * each comes off once (conntab.h). Full NAT's LRU tables keep the old
 * way: the program takes an expired entry off when it replaces it, and
 * the resync deletes the expired entries it leaves out (the LRU's
 * evictions the program never sees). */

/* conns_add adds delta to the count of real_id's flows in state's class.
 * Inlined: once per new or replaced flow. */
static __always_inline void conns_add(__u32 real_id, __u8 state, __s64 delta)
{
	struct conn_counts *rc = bpf_map_lookup_elem(&real_conns, &real_id);
	if (!rc)
		return;
	if (state == CONN_ESTABLISHED)
		__sync_fetch_and_add(&rc->active, delta);
	else
		__sync_fetch_and_add(&rc->inactive, delta);
}

/* conns_move moves one of real_id's flows from old's class to state's, if
 * they differ. Inlined: once per state change. */
static __always_inline void conns_move(__u32 real_id, __u8 old, __u8 state)
{
	if ((old == CONN_ESTABLISHED) == (state == CONN_ESTABLISHED))
		return;
	struct conn_counts *rc = bpf_map_lookup_elem(&real_conns, &real_id);
	if (!rc)
		return;
	__s64 d = state == CONN_ESTABLISHED ? 1 : -1;
	__sync_fetch_and_add(&rc->active, d);
	__sync_fetch_and_add(&rc->inactive, -d);
}

/* conns_forget takes the flow c off its real's counts when the entry is
 * replaced, if the real is still the generation c counted on. Inlined:
 * once per replaced entry. */
static __always_inline void conns_forget(const struct conn *c)
{
	__u32 id = c->real_id;
	struct real *r = bpf_map_lookup_elem(&reals, &id);
	if (r && r->gen == c->real_gen)
		conns_add(id, c->state, -1);
}

/* real_usable says whether r may take packets: present and not removed. */
static __always_inline bool real_usable(const struct real *r)
{
	return (r->flags & (REAL_F_PRESENT | REAL_F_REMOVED)) == REAL_F_PRESENT;
}

#endif
