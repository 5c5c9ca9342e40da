// Package e2e runs xlb end to end: it builds xlbd, xlbctl and xlblab, puts
// xlbd in front of three real servers in a network-namespace lab (see
// e2e/lab) and checks, from a client's point of view, that connections are
// spread by weight, that reals see the client's own address (direct
// routing), that a weight change takes effect and that the daemon leaves no
// pins behind; and the same spread for TUN (IPIP and IP6IP6 to reals that
// decapsulate in XDP), for an IPv6 VIP with direct routing and for UDP.
// It holds only tests; they need root, as CI has.
package e2e
