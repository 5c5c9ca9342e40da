// Package sched holds xlb's LVS schedulers in pure Go: the tables the
// control plane builds for the XDP data plane, and Model, a reference
// implementation of every IPVS scheduler's selection rules that the data
// plane is tested against.
//
// # Schedulers
//
// Names follow keepalived's lb_algo (and ipvsadm -s). Rules are those of
// the kernel's net/netfilter/ipvs/ip_vs_*.c; "list order" is the service's
// destination list, and every tie goes to the earlier real in it.
//
//   - rr: the next real of weight > 0 after the last one picked.
//   - wrr: a current weight cw starts at the largest weight and drops by
//     the weights' gcd each time the scan passes the list end; a pass picks
//     each real whose weight ≥ cw. Over one cycle of sum(w)/gcd picks each
//     real gets w/gcd.
//   - lc: smallest overhead = active·256 + inactive
//     (ip_vs_dest_conn_overhead), weight 0 skipped.
//   - wlc: smallest overhead/weight, compared as h1·w2 > h2·w1.
//   - sed: smallest (active+1)/weight; inactive connections do not count.
//   - nq: the first real with no active connection, else sed's choice.
//   - sh, dh: a static table indexed by a hash of the client (sh) or
//     destination (dh) address.
//   - lblc: a per-destination-address cache of one real, kept unless the
//     real is gone, quiesced, or overloaded — active > weight while some
//     real is under half load (active·2 < weight) — then wlc picks anew.
//     Entries unused for lblc_expiration (24 h) are dropped.
//   - lblcr: per destination a set of reals; the set's wlc-least member
//     serves unless overloaded as for lblc, in which case wlc over all reals
//     picks one that joins the set; a set unchanged for lblcr_expiration
//     (24 h) sheds its most loaded member on the next use.
//   - mh: xlb's weighted Maglev (controlplane/maglev) on the flow hash.
//
// A real of weight 0 is quiesced: never picked for a new flow by any
// scheduler, while its existing connections go on.
//
// # XDP mapping plan
//
// Per packet the data plane can afford a few map lookups; a loop over
// every real is allowed only for a flow's first packet and only when
// bounded. Each scheduler becomes a table the control plane builds and
// swaps in atomically, plus small state in the data plane:
//
//   - rr, wrr: RRSequence / WRRSequence, at most MaxSequenceLen ids, stored
//     like a Maglev table with its length in the service entry. Per-CPU
//     state: one position counter per service; a new flow takes
//     seq[pos++ % len].
//   - sh, dh, mh: HashTable (a Maglev table) indexed by
//     Slot(AddrHash(client or destination), size) or Slot(FlowHash(flow),
//     size). No state. AddrHash and FlowHash fix which bytes are hashed and
//     with which seed; TestGoldenHashes pins values computed from
//     bpf/hash.h.
//   - lc, wlc, sed, nq: the service's reals in Key order (Sorted) as a
//     bounded array, and per-real active/inactive counts in a map shared by
//     all CPUs, moved with atomic adds when conntrack sees a flow start,
//     become established, close and expire (Model's Connect, Establish,
//     Close, Expire). A first packet scans the array once with the rules
//     above.
//   - lblc, lblcr: an LRU hash (localities, bpf/lblc.h) keyed by service
//     id and destination address holding a set of at most 8 real ids
//     (lblc: one), newest first, with last use and last change, plus the
//     lc family's list and shared counts: a member's weight comes from
//     the list (each member remembers its index there), its load from the
//     counts. The overload test's "some real under half load" and wlc's
//     pick take one bounded scan of the list, only when the member is over
//     its weight or there is no usable member. Model.SetBound models the
//     bounded set.
//
// # Deviations from LVS
//
//  1. rr/wrr order. IPVS keeps one position per service under a lock; xlb
//     keeps one per CPU, so each CPU walks the cycle on its own and the
//     global order interleaves. Each CPU's picks are whole cycles plus one
//     partial cycle, so over N flows on C CPUs a real's share is off its
//     weight share by at most C·d/N, d its largest deviation over a prefix
//     of the cycle (≤ cycle/4): within ±cycle/N for up to 4 CPUs
//     (TestWRRPerCPU). On a table swap positions carry on modulo the new
//     length, where IPVS restarts at the list head with cw adjusted.
//  2. wrr cycle length. Cycles longer than MaxSequenceLen are scaled down
//     (see WRRSequence) with each share within (n+1)/(MaxSequenceLen−2n) of
//     exact; measured far smaller (TestWRRScaling). At most
//     MaxSequenceLen/4 weighted reals per wrr service.
//  3. sh and dh tables. IPVS fills 256 buckets round-robin over its list
//     (sh repeats each real weight times, so weights summing past 256 cut
//     later reals short; dh ignores weights) and hashes the address
//     multiplicatively, so one change shifts every later bucket. xlb uses a
//     65537-slot weighted Maglev table for both: shares follow weights for
//     any number of reals (dh too), and a change among n reals moves about
//     1/n of keys. A quiesced real holds no slot, so its keys move to the
//     others; in IPVS they find no real unless sh-fallback is set. The
//     sh-port flag is not modelled.
//  4. lc ties and counts. Counts are shared but updated by several CPUs at
//     once, so two CPUs may both see the same least-loaded real and pick
//     it: at most C−1 extra picks per tie. Ties otherwise go to the first
//     real in Key order, where IPVS's list is newest first.
//  5. List order. Model takes list order from the slice it is given; the
//     data plane uses Key order. To model IPVS, pass reals newest first.
//  6. Expiry timing. IPVS collects lblc/lblcr entries from a timer (every
//     minute, a full pass each 30 minutes; entries idle 6 minutes go early
//     when a table holds over 16384); Model drops an entry exactly when
//     it has been idle for the expiration.
//  7. Not modelled: the overload flag of u_threshold/l_threshold, and
//     32-bit overflow of sed/nq's unsigned products (Model uses 64 bits).
//  8. lblcr sets. xlb's hold at most 8 reals; a full set sheds its most
//     loaded member (the oldest if none has weight > 0) for the one
//     joining. A member whose real left the service leaves the set when
//     the set is next used, without counting as a change; IPVS keeps it
//     (never picked) until the set sheds it. Model.SetBound(8) does the
//     same. An entry is rewritten whole, so two CPUs changing one
//     destination's set at once keep one change. The shrink time is the
//     expiration by default, as IPVS (lblcr_expiration serves both);
//     Model.SetShrink and maps.Options.LocalityShrink set it apart.
package sched
