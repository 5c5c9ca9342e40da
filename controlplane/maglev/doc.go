// Package maglev builds weighted Maglev lookup tables: the per-service array
// of slots, each holding a real id, that the XDP program indexes with a
// 5-tuple hash to pick a real server.
//
// The construction follows Eisenbud et al., "Maglev: A Fast and Reliable
// Software Network Load Balancer" (NSDI 2016), section 3.4: every backend
// walks its own permutation of the slots, given by an offset and a skip
// derived from its Key, and backends take turns claiming the next free slot
// on their walk. Weights are added by giving each backend turns in
// proportion to its weight, so its share of the slots follows its share of
// the total weight.
//
// A table depends only on the set of (ID, Key, Weight) triples and the size:
// not on input order, not on a random seed. Every xlb node given the same
// reals therefore sends a flow to the same real, which is what lets
// ECMP move flows between nodes without breaking them. The hash functions
// are part of that contract across versions too: changing them reshuffles
// every service during a rolling upgrade, which TestGolden guards against.
package maglev
