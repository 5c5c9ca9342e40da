// Package script runs the external programs keepalived.conf names —
// MISC_CHECK's misc_path, vrrp_script, notify scripts — the way keepalived
// does: the command line split into words (no shell), optionally as
// another user, in a process group of its own that is killed as a whole
// when the run times out, and only after the enable_script_security rule
// has found no part of the path writable by a non-root user.
package script
