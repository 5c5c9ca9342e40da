// Package controlplane turns what the operator asked for into what the data
// plane does, and keeps the two equal.
//
// The flow has one direction:
//
//	config (keepalived.conf) + runtime overrides (xlbctl weight)
//	    → Desired: a plain State value (services, reals, effective weights)
//	    → Backend.Apply: writes only what differs from what it wrote before
//
// State holds no kernel handles, so the logic is tested without a kernel.
// The XDP backend (XDP) adds what only a packet-rewriting data plane needs:
// real server ids, Maglev tables and next hops (MACs) from the kernel's
// neighbour table. A later IPVS backend takes the same State.
//
// The Reconciler owns the inputs and serialises every change: a config
// reload, a weight override and a neighbour change all end in one Apply.
// Server exposes it over HTTP+JSON on a unix socket (schema in package api).
package controlplane
