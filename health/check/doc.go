// Package check holds keepalived's health checkers — TCP_CHECK, HTTP_GET,
// SSL_GET, SMTP_CHECK, MISC_CHECK, DNS_CHECK, PING_CHECK, UDP_CHECK and
// FILE_CHECK — each as a Checker that probes one real server once. It knows
// nothing of schedules or config files: the health package runs checkers,
// and the control plane builds them from keepalived.conf.
//
// Each checker has an Options struct and a constructor that validates it;
// the network checkers share Conn (connect_ip, connect_port, bindto,
// bind_port, fwmark, connect_timeout). Check opens its sockets on the
// calling goroutine's OS thread — the only goroutines it starts watch ctx
// or wait for a child process — so a caller locked inside a network
// namespace probes from that namespace. An attempt ends at the sooner of
// ctx's deadline and connect_timeout, or after DefaultTimeout when neither
// is set.
package check
