// Package bpf holds xlb's XDP programs in C and their bpf2go output: the
// load balancer (xlb.c, Go identifiers Xlb*) and two references used by
// benchmarks: the MAC-swap XDP_TX floor (macswap.c, Macswap*) and a minimal
// stateless DR balancer (refdr.c, Refdr*). The C structs and enums in structs.h
// and consts.h are the one definition of what Go and the kernel share;
// bpf2go generates the Go types from them. Only package maps imports this
// package.
//
// The C files start with //go:build ignore so that go build does not take
// them for cgo sources.
//
// Regenerate after editing the C with `go generate ./bpf/` (needs clang-14
// and llvm-strip-14, pinned in gen.go so the output is reproducible).
package bpf
