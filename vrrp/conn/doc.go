// Package conn sends and receives VRRP messages (IP protocol 112) on one
// interface, for IPv4 (RFC 3768, RFC 5798 §5.1.1) and IPv6 (RFC 5798
// §5.1.2).
//
// A Conn moves the VRRP payload as bytes and leaves its encoding, checksum
// included, to the caller (xlb/vrrp/packet). What the payload cannot carry
// it handles or reports: the socket is bound to the interface, joins the
// multicast group unless unicast peers are set, sends with TTL or hop limit
// 255 from a chosen source address, and reports each received message's
// source, destination, TTL or hop limit and interface, so the caller can
// apply RFC 5798 §7.1's checks. Messages this Conn sent itself are dropped,
// as keepalived ignores adverts from its own address.
//
// Open creates the socket in the network namespace of the calling OS
// thread; it stays there whichever thread uses it later.
package conn
