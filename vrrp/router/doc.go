// Package router runs a host's VRRP instances and sync groups on real
// sockets: it is the glue between the state machines of xlb/vrrp, the
// sockets of xlb/vrrp/conn, the codec of xlb/vrrp/packet and the host
// changes of xlb/vrrp/addrs.
//
// As keepalived does, a Router opens one socket per interface, address
// family and multicast group (or unicast source) and hands each received
// advertisement to the instance whose VRID it carries. State changes reach
// the caller through one queue, so a slow notify script never holds up a
// state machine.
//
// Run opens the sockets and VMAC interfaces in the network namespace of the
// OS thread that calls it, and every goroutine it starts enters that
// namespace, so a caller (a test) may run a Router inside a namespace of its
// own.
package router
