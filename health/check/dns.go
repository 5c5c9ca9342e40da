package check

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DNSOptions configures DNS_CHECK, a query over UDP.
type DNSOptions struct {
	Conn
	// Type is the query type by name: A, NS, CNAME, SOA, MX, TXT, AAAA
	// (keepalived's list; any type miekg/dns knows is accepted). Empty
	// means SOA, keepalived's default.
	Type string
	// Name is the name to query; empty means the root, ".", keepalived's
	// default.
	Name string
	// RequireAnswer also fails a reply with no answer records. keepalived
	// passes any reply whose rcode is NOERROR, as does the zero value.
	RequireAnswer bool
}

// DNS is DNS_CHECK: it sends one recursive query and passes when the
// matching reply's rcode is NOERROR.
type DNS struct {
	opts  DNSOptions
	qtype uint16
}

// NewDNS validates o and returns the checker.
func NewDNS(o DNSOptions) (*DNS, error) {
	if err := o.validate(true); err != nil {
		return nil, fmt.Errorf("DNS_CHECK: %w", err)
	}
	if o.Type == "" {
		o.Type = "SOA"
	}
	qtype, ok := dns.StringToType[strings.ToUpper(o.Type)]
	if !ok {
		return nil, fmt.Errorf("DNS_CHECK: type %q: unknown", o.Type)
	}
	o.Type = strings.ToUpper(o.Type)
	if o.Name == "" {
		o.Name = "."
	}
	o.Name = dns.Fqdn(o.Name)
	if _, ok := dns.IsDomainName(o.Name); !ok {
		return nil, fmt.Errorf("DNS_CHECK: name %q: not a domain name", o.Name)
	}
	return &DNS{opts: o, qtype: qtype}, nil
}

// Check sends the query and waits for its reply, ignoring stray
// datagrams (wrong id, not a reply) as keepalived does.
func (c *DNS) Check(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel := c.opts.attemptCtx(ctx)
	defer cancel()
	conn, err := c.opts.dial(ctx, "udp")
	if err != nil {
		return fail(start, "%v", err)
	}
	defer conn.Close()
	q := new(dns.Msg)
	q.SetQuestion(c.opts.Name, c.qtype)
	q.RecursionDesired = true
	q.Id = randomID()
	wire, err := q.Pack()
	if err != nil {
		return fail(start, "pack query: %v", err)
	}
	if _, err := conn.Write(wire); err != nil {
		return fail(start, "send query: %v", unwrapOp(err))
	}
	buf := make([]byte, dns.MaxMsgSize)
	// Bounded by the deadline and by this count, whichever ends first.
	for range 64 {
		n, err := conn.Read(buf)
		if err != nil {
			return fail(start, "read reply: %v", unwrapOp(err))
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:n]); err != nil || r.Id != q.Id || !r.Response {
			continue
		}
		return c.judge(start, r)
	}
	return fail(start, "no matching reply")
}

// judge decides on a reply that matches the query.
func (c *DNS) judge(start time.Time, r *dns.Msg) Result {
	if r.Rcode != dns.RcodeSuccess {
		return fail(start, "rcode %s", dns.RcodeToString[r.Rcode])
	}
	if c.opts.RequireAnswer && len(r.Answer) == 0 {
		return fail(start, "no answer for %s %s", c.opts.Name, c.opts.Type)
	}
	return pass(start, fmt.Sprintf("NOERROR, %d answers", len(r.Answer)))
}

// randomID returns a query id an off-path sender cannot guess.
func randomID() uint16 {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint16(b[:])
}

func (c *DNS) String() string {
	return fmt.Sprintf("DNS_CHECK %s %s %s", c.opts.target(), c.opts.Type, c.opts.Name)
}
