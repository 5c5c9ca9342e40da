package bpf

// The compiler and strip tool are pinned so CI's regenerate-and-diff holds:
// bpf2go output differs between clang versions. -mcpu=v3 gives 32-bit
// jumps and ALU32, which clang 14 supports and kernel >= 5.1 verifies.
//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -tags linux -target bpfel -cflags "-O2 -g -Wall -Werror -mcpu=v3" -type vip_key -type vip4_key -type service -type real -type maglev_bucket -type flow -type flow4 -type conn -type counters -type nat_rev -type conn_counts -type sched_real -type sched_list -type sched_kind -type iface -type iface_flag -type reason_count -type lb_kind -type reason -type conn_state -type service_flag -type real_flag -type persist4_key -type persist6_key -type persist -type locality_key -type locality_member -type locality -type fnat_conn -type fnat_rev -type fnat_pool -type service_entry -type nat_hop -type conn_way4 -type conn_way6 -type conn_set4 -type conn_set6 -type fnat_set4 -type fnat_set6 -type fnat_rev_set4 -type fnat_rev_set6 Xlb xlb.c -- -I.
//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -tags linux -target bpfel -cflags "-O2 -g -Wall -Werror -mcpu=v3" Macswap macswap.c -- -I.
//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -tags linux -target bpfel -cflags "-O2 -g -Wall -Werror -mcpu=v3" -type refdr_key -type refdr_key6 -type refdr_service -type refdr_real -type refmode_real Refdr refdr.c -- -I.
