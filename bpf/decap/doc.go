// Package decap holds the real server's tunnel decapsulator, an XDP
// program in C (decap.c), and its bpf2go output (Go identifiers Decap*).
//
// xlb's TUN mode sends a client's packet to a real inside an outer IP
// header addressed to the real: IPIP, IP6IP6 or IPv4 in IPv6 (6in4 is
// accepted too). Kernels without tunnel devices cannot take that header
// off, so this program does, right at the driver: for a frame whose outer
// destination is in the decap_dsts map and whose inner destination is in
// the vips map, it strips the outer header, keeps the Ethernet header
// (rewriting its EtherType to the inner packet's), and passes the inner
// packet to the stack, which delivers it to the VIP on lo. Every other frame
// passes untouched; a malformed inner packet of an accepted tunnel is
// dropped. Both maps are sets keyed by netip.Addr.As16 (IPv4 v4-mapped).
// The reasons map counts every verdict by DecapReason.
//
// Package realserver loads, fills, attaches and pins it.
//
// decap.c starts with //go:build ignore so that go build does not take it
// for a cgo source. Regenerate after editing it with `go generate
// ./bpf/decap/` (needs clang-14 and llvm-strip-14, pinned in gen.go).
package decap
