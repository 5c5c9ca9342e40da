// Package realserver prepares the host it runs on to be a real server
// behind xlb, as the keepalived course's lvs_real.sh does for LVS, and
// undoes it.
//
// Up puts each VIP on lo (/32 or /128) so the host accepts packets sent to
// it, and stops the host from answering ARP for IPv4 VIPs on its other
// interfaces (arp_ignore=1, arp_announce=2 for all and lo), which would
// steal the VIP from the load balancer. IPv6 needs no such setting: Linux
// answers neighbour solicitations only for addresses on the interface
// asked (RFC 4861 7.2.3), never for ones on lo; the VIP is added with
// nodad, since duplicate detection has nothing to find on lo.
//
// With Tunnel (xlb's TUN mode) Up also loads the decapsulator of package
// xlb/bpf/decap, fills its maps with the interface's addresses and the
// VIPs, attaches it to the interface with XDP and pins the link and maps
// under PinDir, so the program stays after the process exits. The inner
// packet's source is the client, which the reverse-path filter checks
// against the interface the tunnel arrived on: where the effective
// rp_filter of the interface is strict (1), Up makes it loose (2, set on
// the interface; the kernel uses the larger of all and the interface), so
// any route back to the client will do while unroutable sources are still
// refused. Where it is 0 or 2 Up leaves it.
//
// Up records what it changed (VIPs it added, sysctls' old values, the
// interface it attached to) in a JSON state file, by default
// /run/xlb/realserver.json (bpffs holds no regular files). Up is
// idempotent: it skips what is already done and keeps the first recorded
// old values. Down undoes what the state file records, best effort: it
// goes on past an error, reports all of them, and keeps the state of what
// it could not undo.
//
// Everything acts in the calling thread's network namespace.
package realserver
