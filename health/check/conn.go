package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"
)

// DefaultTimeout bounds an attempt whose ctx has no deadline and whose
// Conn.Timeout is zero: keepalived's connect_timeout default.
const DefaultTimeout = 5 * time.Second

// Conn holds the connection options every network checker shares.
type Conn struct {
	// Addr is where to probe: connect_ip and connect_port, which the
	// control plane defaults to the real server's address and port.
	// PING_CHECK ignores the port. A link-local IPv6 address carries its
	// interface as the zone (keepalived's bind_if).
	Addr netip.AddrPort
	// Bind is the source address (bindto); the zero Addr lets the kernel
	// choose.
	Bind netip.Addr
	// BindPort is the source port (bind_port); 0 lets the kernel choose.
	BindPort uint16
	// FWMark marks the checker's packets (fwmark, SO_MARK), so policy
	// routing can steer them; 0 leaves them unmarked.
	FWMark uint32
	// Timeout is connect_timeout: it bounds one attempt together with
	// the caller's ctx deadline, whichever is sooner.
	Timeout time.Duration
}

// validate checks c; port says whether the checker needs a port.
func (c Conn) validate(port bool) error {
	switch {
	case !c.Addr.Addr().IsValid():
		return errors.New("connect_ip: missing")
	case port && c.Addr.Port() == 0:
		return errors.New("connect_port: missing")
	case c.Bind.IsValid() && c.Bind.Unmap().Is4() != c.Addr.Addr().Unmap().Is4():
		return fmt.Errorf("bindto: %s is not of connect_ip %s's family", c.Bind, c.Addr.Addr())
	case c.BindPort != 0 && !c.Bind.IsValid():
		return errors.New("bind_port: needs bindto")
	case c.Timeout < 0:
		return fmt.Errorf("connect_timeout: want >= 0, got %s", c.Timeout)
	}
	return nil
}

// target is Addr with an IPv4-mapped address unmapped, as sockets want.
func (c Conn) target() netip.AddrPort {
	return netip.AddrPortFrom(c.Addr.Addr().Unmap(), c.Addr.Port())
}

// attemptCtx returns ctx bounded by c.Timeout, or by DefaultTimeout when
// neither sets a deadline.
func (c Conn) attemptCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	switch {
	case c.Timeout > 0:
		return context.WithTimeout(ctx, c.Timeout)
	case hasDeadline(ctx):
		return context.WithCancel(ctx)
	default:
		return context.WithTimeout(ctx, DefaultTimeout)
	}
}

func hasDeadline(ctx context.Context) bool {
	_, ok := ctx.Deadline()
	return ok
}

// dialer returns a dialer that binds and marks as c says. The connect
// runs on the calling goroutine's thread, so a caller inside a network
// namespace dials from it.
func (c Conn) dialer(network string) *net.Dialer {
	d := &net.Dialer{Control: c.control}
	if c.Bind.IsValid() {
		src := netip.AddrPortFrom(c.Bind.Unmap(), c.BindPort)
		if network == "udp" {
			d.LocalAddr = net.UDPAddrFromAddrPort(src)
		} else {
			d.LocalAddr = net.TCPAddrFromAddrPort(src)
		}
	}
	return d
}

// control sets SO_MARK before the socket binds or connects.
func (c Conn) control(network, _ string, rc syscall.RawConn) error {
	if c.FWMark == 0 && c.BindPort == 0 {
		return nil
	}
	var serr error
	err := rc.Control(func(fd uintptr) {
		if c.FWMark != 0 {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_MARK, int(c.FWMark))
			if serr != nil {
				serr = fmt.Errorf("set fwmark %d: %w", c.FWMark, serr)
				return
			}
		}
		if c.BindPort != 0 {
			// A fixed source port is reused every attempt: allow the
			// bind, and close with a reset so no TIME_WAIT entry for
			// the same four-tuple refuses the next connect.
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
			if serr == nil && strings.HasPrefix(network, "tcp") {
				serr = syscall.SetsockoptLinger(int(fd), syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1})
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// dialTCP connects to c's target within ctx.
func (c Conn) dialTCP(ctx context.Context) (net.Conn, error) {
	return c.dial(ctx, "tcp")
}

// dial connects a socket of network ("tcp" or "udp") to c's target.
func (c Conn) dial(ctx context.Context, network string) (net.Conn, error) {
	conn, err := c.dialer(network).DialContext(ctx, network, c.target().String())
	if err != nil {
		return nil, fmt.Errorf("connect: %w", unwrapOp(err))
	}
	return bindConn(ctx, conn), nil
}

// expired says whether err comes from the attempt's deadline passing
// rather than from a cancellation. The socket deadline, set from ctx's,
// may fire a moment before ctx's own timer does.
func expired(ctx context.Context, err error) bool {
	switch ctx.Err() {
	case context.DeadlineExceeded:
		return true
	case nil:
		return errors.Is(err, os.ErrDeadlineExceeded)
	}
	return false
}

// ctxConn is a connection whose reads and writes end when its ctx does.
type ctxConn struct {
	net.Conn
	stop func() bool
}

// bindConn makes conn's I/O fail once ctx is done, by deadline or by
// cancellation; closing it releases the watch.
func bindConn(ctx context.Context, conn net.Conn) net.Conn {
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return &ctxConn{Conn: conn, stop: stop}
}

func (c *ctxConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// unwrapOp drops net.OpError's address prefix, which the check's String
// already names, keeping reasons short: "connection refused".
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// fail makes a failed Result whose Reason is the error's text.
func fail(start time.Time, format string, args ...any) Result {
	return Result{Reason: fmt.Sprintf(format, args...), Latency: time.Since(start)}
}

// pass makes a passed Result.
func pass(start time.Time, reason string) Result {
	return Result{Up: true, Reason: reason, Latency: time.Since(start)}
}
