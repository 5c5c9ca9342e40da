// Package rate measures xlb's packet rate over veth between two network
// namespaces, all on one CPU, against the MAC-swap floor (bpf/macswap.c:
// the least work an XDP_TX program does). It holds only tests and
// benchmarks; they need root, as CI has.
//
// The lab: namespace gen with veth g0, namespace lb with its peer l0. On
// g0 a generator (an XDP program run by BPF_PROG_TEST_RUN with
// BPF_F_TEST_XDP_LIVE_FRAMES, whose XDP_TX sends each frame out of g0)
// sends the same IPv4 TCP ACK to a VIP; on l0 either macswap.c or xlb
// (native XDP) sends it back with XDP_TX; on g0 a sink XDP program counts
// it per CPU and drops it. For xlb the VIP is a DR service with a full
// Maglev table over one real whose MAC is g0's and whose interface is l0:
// an established DR flow (every frame has the same 5-tuple, so after the
// first one each is a connection-table hit), which rewrites only the
// Ethernet addresses, so the frame needs no other rewrite between sends.
//
// Everything runs on CPU 0: the generator thread is pinned there, and the
// veth receive work (NAPI) of both ends runs in softirq on the CPU that
// transmitted, since threaded NAPI is off (checked, never turned on). The
// sink's per-CPU counts prove it: frames counted on another CPU fail the
// test.
//
// The rate is taken from the sink's count sampled every few
// milliseconds while the frames flow (by a thread kept off CPU 0), from the
// first sample that saw frames to the last that saw more to come: a
// generator call also sets up and tears down its page pool and switches
// the XDP dispatcher (several milliseconds here, seen as call wall time),
// which is no part of the rate. The refdr.c reference (a minimal
// stateless DR balancer) is measured beside xlb and macswap.
package rate
