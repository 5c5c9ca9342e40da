package lab

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"time"

	"github.com/cilium/ebpf/asm"
	"github.com/vishvananda/netns"
)

// passAll is an XDP program that returns XDP_PASS for every frame.
func passAll() asm.Instructions {
	return asm.Instructions{
		asm.Mov.Imm(asm.R0, xdpPass),
		asm.Return(),
	}
}

// inNS runs fn on a locked OS thread inside the named network namespace.
// Netlink, XDP attach and sockets opened in fn act in that namespace.
func inNS(name string, fn func() error) error {
	target, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", name, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		// The thread stays locked on every error path, so the runtime
		// throws it away rather than reuse it in the wrong namespace.
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("get current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			errc <- fmt.Errorf("enter netns %s: %w", name, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("leave netns %s: %w", name, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Dial opens a TCP connection from inside node n to addr and closes it:
// a cheap check that something listens there and the path works.
func Dial(n Node, addr netip.AddrPort, timeout time.Duration) error {
	return inNS(n.NS, func() error {
		c, err := net.DialTimeout("tcp", addr.String(), timeout)
		if err != nil {
			return err
		}
		return c.Close()
	})
}
