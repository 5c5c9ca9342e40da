// Package neigh tells the control plane how to reach a real server on a
// directly connected Ethernet segment: the interface that reaches it, that
// interface's MAC and the real's MAC, which DR forwarding writes into each
// frame. It reads the kernel's routing and neighbour tables over netlink,
// asks the kernel to resolve missing entries, and reports changes from
// netlink notifications instead of polling.
//
// Entries are resolved by marking them managed (NTF_EXT_MANAGED, Linux
// 5.16+). XDP-forwarded frames never pass through the kernel's neighbour
// code, so an ordinary entry for a real would never be confirmed: it would
// go STALE, miss a MAC change and in time be garbage-collected. The kernel
// keeps a managed entry resolved by itself: it re-probes it when it ages
// out (a changed MAC is noticed within about base_reachable_time plus the
// probes, ~40 s measured here, at once when the real sends a gratuitous
// ARP) and retries a FAILED one every interval_probe_time_ms (5 s). This
// also sidesteps arp_accept=0, under which the kernel ignores replies to ARP
// requests it did not send: here the kernel sends them. Kernels without
// managed entries get a one-shot NTF_USE request instead.
//
// All netlink calls act in the calling thread's network namespace; xlbd runs
// in the namespace it serves.
package neigh
