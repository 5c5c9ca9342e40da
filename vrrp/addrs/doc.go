// Package addrs does to the host what a VRRP master does, with keepalived's
// semantics: it adds the virtual addresses (virtual_ipaddress), routes
// (virtual_routes) and rules (virtual_rules) when the instance becomes
// master and removes them when it stops being master, announces the
// addresses with gratuitous ARPs (RFC 5227 §3, as keepalived sends them)
// and unsolicited neighbour advertisements (RFC 4861 §7.2.6), and keeps the
// instance's virtual MAC interface (use_vmac, RFC 5798 §7.3).
//
// A Host removes only what it added: an address, route or rule that was
// already there when the instance took over stays when it lets go.
//
// Open makes its netlink and packet sockets in the calling OS thread's
// network namespace; Take, which opens the announcement sockets, must run
// there too. The sockets then work from any thread.
package addrs
