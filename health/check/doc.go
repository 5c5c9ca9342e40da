// Package check holds keepalived's health checkers — TCP_CHECK, HTTP_GET,
// SSL_GET, SMTP_CHECK, MISC_CHECK, DNS_CHECK, PING_CHECK, UDP_CHECK and
// FILE_CHECK — each as a Checker that probes one real server once. It knows
// nothing of schedules or config files: the health package runs checkers,
// and the control plane builds them from keepalived.conf.
package check
