// Package bpfutil holds the small BPF chores that the XDP data plane (maps)
// and the real servers' decapsulator (realserver, bpf/decap) share: making a
// pin directory on bpffs, and reading an enum's names from a program's BTF
// so that counters are named by the C source alone.
package bpfutil
