package check

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsServer serves a small zone on UDP in the server namespace:
// example.test A, the root's SOA, empty.test with no records, fail.test
// answering SERVFAIL and stray.test whose answer follows a reply with
// the wrong id. Other names are NXDOMAIN.
func dnsServer(t *testing.T, l *lab, addr netip.Addr) netip.AddrPort {
	t.Helper()
	var pc net.PacketConn
	l.inServer(t, func() (err error) {
		pc, err = net.ListenPacket("udp", netip.AddrPortFrom(addr, 0).String())
		return err
	})
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		r := new(dns.Msg)
		r.SetReply(q)
		name := q.Question[0].Name
		switch {
		case name == "example.test." && q.Question[0].Qtype == dns.TypeA:
			rr, _ := dns.NewRR("example.test. 60 IN A 198.18.0.10")
			r.Answer = append(r.Answer, rr)
		case name == "." && q.Question[0].Qtype == dns.TypeSOA:
			rr, _ := dns.NewRR(". 60 IN SOA ns.test. admin.test. 1 60 60 60 60")
			r.Answer = append(r.Answer, rr)
		case name == "empty.test.":
		case name == "fail.test.":
			r.Rcode = dns.RcodeServerFailure
		case name == "stray.test.":
			stray := r.Copy()
			stray.Id++
			stray.Rcode = dns.RcodeServerFailure
			w.WriteMsg(stray)
		default:
			r.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(r)
	})
	srv := &dns.Server{PacketConn: pc, Handler: h}
	done := make(chan struct{})
	go func() { defer close(done); srv.ActivateAndServe() }()
	t.Cleanup(func() { srv.Shutdown(); <-done })
	return addrPort(pc.LocalAddr())
}

func TestDNS(t *testing.T) {
	l := newLab(t)
	v4 := dnsServer(t, l, serverV4)
	v6 := dnsServer(t, l, serverV6)
	// A socket that reads and never answers.
	var silent net.PacketConn
	l.inServer(t, func() (err error) {
		silent, err = net.ListenPacket("udp", netip.AddrPortFrom(serverV4, 0).String())
		return err
	})
	t.Cleanup(func() { silent.Close() })
	tests := []struct {
		name   string
		opts   DNSOptions
		up     bool
		reason string
	}{
		{"default SOA of root", DNSOptions{}, true, "NOERROR, 1 answers"},
		{"A record", DNSOptions{Type: "a", Name: "example.test"}, true, "NOERROR, 1 answers"},
		{"over IPv6", DNSOptions{Conn: Conn{Addr: v6}, Type: "A", Name: "example.test."}, true, "NOERROR, 1 answers"},
		{"no answer passes as in keepalived", DNSOptions{Name: "empty.test"}, true, "NOERROR, 0 answers"},
		{"no answer with RequireAnswer", DNSOptions{Name: "empty.test", RequireAnswer: true}, false, "no answer for empty.test. SOA"},
		{"SERVFAIL", DNSOptions{Name: "fail.test"}, false, "rcode SERVFAIL"},
		{"NXDOMAIN", DNSOptions{Name: "nothing.test"}, false, "rcode NXDOMAIN"},
		{"stray reply skipped", DNSOptions{Name: "stray.test"}, true, "NOERROR"},
		{"port unreachable", DNSOptions{Conn: Conn{Addr: netip.AddrPortFrom(serverV4, freePort(t, l, "udp"))}}, false, "connection refused"},
		{"silent server, deadline", DNSOptions{Conn: Conn{Addr: addrPort(silent.LocalAddr())}}, false, "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.opts.Addr.IsValid() {
				tc.opts.Addr = v4
			}
			c, err := NewDNS(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			wantResult(t, l.check(t, c, 300*time.Millisecond), tc.up, tc.reason)
		})
	}
}

func TestNewDNSErrors(t *testing.T) {
	addr := netip.AddrPortFrom(serverV4, 53)
	for _, o := range []DNSOptions{
		{Conn: Conn{Addr: addr}, Type: "NOPE"},
		{Conn: Conn{Addr: addr}, Name: "a..b"},
		{Conn: Conn{Addr: netip.AddrPortFrom(serverV4, 0)}},
	} {
		if _, err := NewDNS(o); err == nil {
			t.Errorf("NewDNS(%+v) succeeded, want an error", o)
		}
	}
}
