// Package maps owns xlb's XDP data plane: it loads the program and maps
// from package bpf, pins the maps under a bpffs directory, attaches the
// program to interfaces, and gives typed access to services, reals, Maglev
// tables and counters. It is the only importer of package bpf.
//
// Ids are 1-based: service ids run 1..Options.MaxServices and real ids
// 1..Options.MaxReals. Real id 0 in a Maglev slot means "no real", so a
// zeroed table drops rather than forwarding to a wrong real.
//
// Only IPv4 services and reals, and only direct routing (KindDR), are
// supported for now; IPv6 arrives with issue 4.
package maps
