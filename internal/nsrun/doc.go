// Package nsrun runs a function inside another network namespace. Netlink
// calls, XDP attachment and sockets made by the function act in that
// namespace, while the rest of the program stays where it is.
//
// A namespace belongs to an OS thread, not to a goroutine, so the function
// runs on a fresh goroutine locked to its thread. The thread is unlocked
// (and so returned to the runtime's pool) only once it is back in its own
// namespace; on any failure to get back it stays locked, and the runtime
// discards it when the goroutine ends.
package nsrun
