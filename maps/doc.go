// Package maps owns xlb's XDP data plane: it loads the program and maps
// from package bpf, pins the maps under a bpffs directory, attaches the
// program to interfaces, and gives typed access to services, reals, Maglev
// tables and counters. It is the only importer of package bpf.
//
// Ids are 1-based: service ids run 1..Options.MaxServices and real ids
// 1..Options.MaxReals. Real id 0 in a Maglev slot means "no real", so a
// zeroed table drops rather than forwarding to a wrong real.
//
// Services and reals are IPv4 or IPv6, forwarded by direct routing (KindDR),
// IP tunnel (KindTUN) or masquerading (KindNAT: the replies come back
// through the node, on interfaces marked with SetInside, and are found in
// reverse tables, set-associative as the connection tables (bpf/nattab.h);
// LookupReply reads them). Flows are tracked in
// set-associative connection tables (bpf/conntab.h: a flow's hash names a
// set of ConnWays flows), one per family (Options.ConnTableSize for IPv4,
// ConnTableSize6 for IPv6;
// IPVS-like timeouts in Options): a tracked flow
// keeps its real while that real exists, whatever the Maglev table says
// (weight changes, quiescing); PutReal, RemoveReal and DeleteReal decide
// when a real stops existing for its flows. LookupConn reads the table.
package maps
