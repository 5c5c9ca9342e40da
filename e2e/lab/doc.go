// Package lab builds and drives the network-namespace lab that xlb's demo
// and end-to-end test share: a client, a load balancer and real servers on
// one bridged L2 segment, the HTTP servers and client that measure where
// connections land, xlbd and xlbctl started inside it, and a teardown that
// stops every process it started by PID and deletes every namespace.
//
// Everything in the lab lives in 198.18.0.0/24 (RFC 2544 benchmarking
// space) and 2001:db8::/64 (RFC 3849 documentation space) inside
// namespaces whose names are unique per lab, so two labs run side by side
// and nothing reaches the host's own network.
//
// The reals are prepared for direct routing (Mode DR: the VIPs on lo, ARP
// sysctls) or for xlb's TUN mode (Mode TUN: `xlbctl realserver up
// --tunnel`, whose BPF decapsulator is pinned per lab and real under
// /sys/fs/bpf and taken down again by Close).
package lab
