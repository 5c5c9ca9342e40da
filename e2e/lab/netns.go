package lab

import (
	"net"
	"net/netip"
	"time"

	"github.com/cilium/ebpf/asm"

	"xlb/internal/nsrun"
)

// passAll is an XDP program that returns XDP_PASS for every frame.
func passAll() asm.Instructions {
	return asm.Instructions{
		asm.Mov.Imm(asm.R0, xdpPass),
		asm.Return(),
	}
}

// Dial opens a TCP connection from inside node n to addr and closes it:
// a cheap check that something listens there and the path works.
func Dial(n Node, addr netip.AddrPort, timeout time.Duration) error {
	return nsrun.DoNamed(n.NS, func() error {
		c, err := net.DialTimeout("tcp", addr.String(), timeout)
		if err != nil {
			return err
		}
		return c.Close()
	})
}
