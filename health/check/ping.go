package check

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// ICMP protocol numbers, for icmp.ParseMessage.
const (
	protoICMP   = 1
	protoICMPv6 = 58
)

// PingOptions configures PING_CHECK; Conn.Addr's port is unused.
type PingOptions struct {
	Conn
}

// Ping is PING_CHECK: one ICMP or ICMPv6 echo request, passing when the
// matching reply arrives before the deadline. It uses a raw socket, so
// it needs CAP_NET_RAW (xlbd runs as root); keepalived's ping sockets
// would instead need net.ipv4.ping_group_range opened to root.
type Ping struct {
	opts PingOptions
}

// NewPing validates o and returns the checker.
func NewPing(o PingOptions) (*Ping, error) {
	if err := o.validate(false); err != nil {
		return nil, fmt.Errorf("PING_CHECK: %w", err)
	}
	return &Ping{opts: o}, nil
}

// Check sends one echo request and waits for its reply. The socket is
// made on the calling goroutine's thread.
func (c *Ping) Check(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel := c.opts.attemptCtx(ctx)
	defer cancel()
	dst := c.opts.target().Addr()
	network, bind, proto := "ip4:icmp", "0.0.0.0", protoICMP
	var reqType, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if dst.Is6() {
		network, bind, proto = "ip6:ipv6-icmp", "::", protoICMPv6
		reqType, replyType = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	if c.opts.Bind.IsValid() {
		bind = c.opts.Bind.Unmap().String()
	}
	lc := net.ListenConfig{Control: c.opts.control}
	pc, err := lc.ListenPacket(ctx, network, bind)
	if err != nil {
		return fail(start, "open icmp socket: %v", unwrapOp(err))
	}
	defer pc.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = pc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = pc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	var token [18]byte
	_, _ = rand.Read(token[:])
	echo := &icmp.Echo{
		ID:   int(token[0])<<8 | int(token[1]),
		Seq:  1,
		Data: token[2:],
	}
	// The kernel fills in the ICMPv6 checksum on raw sockets; Marshal
	// computes the ICMPv4 one.
	wire, err := (&icmp.Message{Type: reqType, Body: echo}).Marshal(nil)
	if err != nil {
		return fail(start, "build echo: %v", err)
	}
	to := &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	if _, err := pc.WriteTo(wire, to); err != nil {
		return fail(start, "send echo: %v", unwrapOp(err))
	}
	// A raw socket sees every ICMP message of the namespace; skip others
	// until ours comes back. The count bounds the loop besides the
	// deadline.
	buf := make([]byte, 1500)
	for range 1024 {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if expired(ctx, err) {
				return fail(start, "no echo reply")
			}
			return fail(start, "read: %v", unwrapOp(err))
		}
		if !sameIP(from, dst) {
			continue
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || m.Type != replyType {
			continue
		}
		if r, ok := m.Body.(*icmp.Echo); ok && r.ID == echo.ID && r.Seq == echo.Seq && bytes.Equal(r.Data, echo.Data) {
			return pass(start, "echo reply")
		}
	}
	return fail(start, "no echo reply among the messages read")
}

// sameIP says whether a packet source is addr.
func sameIP(from net.Addr, addr netip.Addr) bool {
	ip, ok := from.(*net.IPAddr)
	if !ok {
		return false
	}
	a, ok := netip.AddrFromSlice(ip.IP)
	return ok && a.Unmap() == addr.WithZone("")
}

func (c *Ping) String() string { return "PING_CHECK " + c.opts.target().Addr().String() }
