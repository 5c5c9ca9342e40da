package check

import (
	"context"
	"fmt"
	"time"
)

// TCPOptions configures TCP_CHECK, which has no options of its own.
type TCPOptions struct {
	Conn
}

// TCP is TCP_CHECK: the real is up when a TCP connection to it opens.
type TCP struct {
	opts TCPOptions
}

// NewTCP validates o and returns the checker.
func NewTCP(o TCPOptions) (*TCP, error) {
	if err := o.validate(true); err != nil {
		return nil, fmt.Errorf("TCP_CHECK: %w", err)
	}
	return &TCP{opts: o}, nil
}

// Check connects and closes at once.
func (c *TCP) Check(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel := c.opts.attemptCtx(ctx)
	defer cancel()
	conn, err := c.opts.dialTCP(ctx)
	if err != nil {
		return fail(start, "%v", err)
	}
	conn.Close()
	return pass(start, "connected")
}

func (c *TCP) String() string { return "TCP_CHECK " + c.opts.target().String() }
