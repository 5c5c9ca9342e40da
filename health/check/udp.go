package check

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"
)

// DefaultMaxReply is max_reply_length's default.
const DefaultMaxReply = 255

// UDPOptions configures UDP_CHECK.
type UDPOptions struct {
	Conn
	// Payload is sent as the datagram (payload, ParseHex); nil sends 16
	// random bytes, as keepalived sends a random payload.
	Payload []byte
	// RequireReply makes a reply necessary (require_reply); otherwise the
	// check waits out its deadline and fails only on an ICMP error.
	RequireReply bool
	// Reply, when set, must match the start of the reply
	// (require_reply's hex string, ParseHexPattern).
	Reply HexPattern
	// MinReply and MaxReply bound a required reply's length
	// (min_reply_length, max_reply_length); MaxReply 0 means
	// DefaultMaxReply.
	MinReply, MaxReply int
}

// UDP is UDP_CHECK: it sends one datagram on a connected socket. An ICMP
// error back (port or host unreachable, seen as ECONNREFUSED and
// friends) fails it; a reply passes it if it fits the options; silence
// until the deadline passes it unless a reply is required, as in
// keepalived 2.2.
type UDP struct {
	opts UDPOptions
}

// NewUDP validates o and returns the checker.
func NewUDP(o UDPOptions) (*UDP, error) {
	if err := o.validate(true); err != nil {
		return nil, fmt.Errorf("UDP_CHECK: %w", err)
	}
	if o.MaxReply == 0 {
		o.MaxReply = DefaultMaxReply
	}
	switch {
	case o.MinReply < 0 || o.MinReply > 65535:
		return nil, fmt.Errorf("UDP_CHECK: min_reply_length: want 0..65535, got %d", o.MinReply)
	case o.MaxReply < 0 || o.MaxReply > 65535:
		return nil, fmt.Errorf("UDP_CHECK: max_reply_length: want 0..65535, got %d", o.MaxReply)
	case o.MinReply > o.MaxReply:
		return nil, fmt.Errorf("UDP_CHECK: min_reply_length %d > max_reply_length %d", o.MinReply, o.MaxReply)
	case len(o.Reply.Data) != len(o.Reply.Mask):
		return nil, errors.New("UDP_CHECK: require_reply: data and mask differ in length")
	case len(o.Reply.Data) > 0 && !o.RequireReply:
		return nil, errors.New("UDP_CHECK: reply pattern without require_reply")
	}
	return &UDP{opts: o}, nil
}

// Check sends the datagram and waits for a reply or an ICMP error.
func (c *UDP) Check(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel := c.opts.attemptCtx(ctx)
	defer cancel()
	conn, err := c.opts.dial(ctx, "udp")
	if err != nil {
		return fail(start, "%v", err)
	}
	defer conn.Close()
	payload := c.opts.Payload
	if payload == nil {
		payload = make([]byte, 16)
		_, _ = rand.Read(payload)
	}
	if _, err := conn.Write(payload); err != nil {
		return fail(start, "send: %v", unwrapOp(err))
	}
	buf := make([]byte, c.opts.MaxReply+1)
	n, err := conn.Read(buf)
	switch {
	case err == nil:
	case isICMPError(err):
		return fail(start, "%v", unwrapOp(err))
	case expired(ctx, err) && !c.opts.RequireReply:
		return pass(start, "no ICMP error")
	case expired(ctx, err):
		return fail(start, "no reply")
	default:
		return fail(start, "read: %v", unwrapOp(err))
	}
	if !c.opts.RequireReply {
		return pass(start, "reply")
	}
	switch reply := buf[:n]; {
	case n < c.opts.MinReply || n > c.opts.MaxReply:
		return fail(start, "reply of %d bytes, want %d..%d", n, c.opts.MinReply, c.opts.MaxReply)
	case !c.opts.Reply.Match(reply):
		return fail(start, "reply mismatch: got % x", reply[:min(n, 32)])
	}
	return pass(start, fmt.Sprintf("reply of %d bytes", n))
}

// isICMPError says whether err is the kernel reporting an ICMP error on
// a connected socket.
func isICMPError(err error) bool {
	for _, e := range []syscall.Errno{syscall.ECONNREFUSED, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EPROTO} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (c *UDP) String() string { return "UDP_CHECK " + c.opts.target().String() }

// HexPattern is require_reply's expected bytes: a reply matches when its
// first min(len(reply), len(Data)) bytes equal Data outside the bits set
// in Mask.
type HexPattern struct {
	Data, Mask []byte
}

// Match says whether reply matches p.
func (p HexPattern) Match(reply []byte) bool {
	for i := 0; i < len(reply) && i < len(p.Data); i++ {
		if (reply[i]^p.Data[i])&^p.Mask[i] != 0 {
			return false
		}
	}
	return true
}

// String writes p as ParseHexPattern reads it: two digits per byte,
// space separated, X for an ignored nibble.
func (p HexPattern) String() string {
	const digits = "0123456789abcdef"
	var b strings.Builder
	for i, d := range p.Data {
		if i > 0 {
			b.WriteByte(' ')
		}
		for _, shift := range []uint{4, 0} {
			if p.Mask[i]>>shift&0xf == 0xf {
				b.WriteByte('X')
			} else {
				b.WriteByte(digits[d>>shift&0xf])
			}
		}
	}
	return b.String()
}

// ParseHex parses payload's hex string as keepalived does: spaces and
// tabs separate groups; each group is read two digits to a byte, and a
// lone last digit makes a byte of its own, so "Ab12f 3 456" is
// AB 12 0F 03 45 06.
func ParseHex(s string) ([]byte, error) {
	p, err := parseHex(s, false)
	return p.Data, err
}

// ParseHexPattern is ParseHex for require_reply, where X or x stands for
// a nibble the reply may have any value in.
func ParseHexPattern(s string) (HexPattern, error) {
	return parseHex(s, true)
}

func parseHex(s string, wildcard bool) (HexPattern, error) {
	var p HexPattern
	for _, group := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' }) {
		for i := 0; i < len(group); i += 2 {
			v, m, ok := nibble(group[i], wildcard)
			if ok && i+1 < len(group) {
				var lo, lm byte
				lo, lm, ok = nibble(group[i+1], wildcard)
				v, m = v<<4|lo, m<<4|lm
			}
			if !ok {
				return HexPattern{}, fmt.Errorf("hex string %q: bad digit in %q", s, group)
			}
			p.Data = append(p.Data, v)
			p.Mask = append(p.Mask, m)
		}
	}
	if len(p.Data) == 0 {
		return HexPattern{}, fmt.Errorf("hex string %q: empty", s)
	}
	return p, nil
}

// nibble decodes one hex digit, or a wildcard as mask 0xf.
func nibble(c byte, wildcard bool) (v, mask byte, ok bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', 0, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, 0, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, 0, true
	case wildcard && (c == 'x' || c == 'X'):
		return 0, 0xf, true
	}
	return 0, 0, false
}
