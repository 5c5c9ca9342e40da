// Package testutil gives privileged tests throwaway network namespaces and
// small helpers to run commands in them. Every namespace made here is
// removed by t.Cleanup, so a test leaves nothing behind.
//
// Privileged tests fail (never skip) when not run as root: CI runs as root,
// and a skipped data-plane test would hide a broken data plane.
package testutil
