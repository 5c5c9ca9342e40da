package neigh

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// BenchmarkLookup measures Lookup of a resolved real: three netlink round
// trips (route, link, neighbour), the cost the reconciler pays per real.
func BenchmarkLookup(b *testing.B) {
	l := newLab(b)
	addr := netip.MustParseAddr("198.18.0.2")

	// Run the loop itself inside lb, so the figure has no namespace switch.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		b.Fatal(err)
	}
	defer orig.Close()
	if err := netns.Set(l.lb.Handle); err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic(err)
		}
	}()
	deadline := time.Now().Add(waitLimit)
	for _, err := l.table.Lookup(addr); err != nil; _, err = l.table.Lookup(addr) {
		if time.Now().After(deadline) {
			b.Fatalf("Lookup(%s): %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := l.table.Lookup(addr); err != nil {
			b.Fatal(err)
		}
	}
}
