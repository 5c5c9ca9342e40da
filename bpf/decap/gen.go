package decap

// Pinned like bpf/gen.go: clang-14 and llvm-strip-14 so the output is
// reproducible, -mcpu=v3 for 32-bit jumps and ALU32.
//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -tags linux -target bpfel -cflags "-O2 -g -Wall -Werror -mcpu=v3" -type decap_addr -type reason Decap decap.c -- -I.
