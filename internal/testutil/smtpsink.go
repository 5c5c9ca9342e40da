package testutil

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// SMTPSink is a small SMTP server for tests that records one transaction per
// connection and refuses recipients containing Refuse.
type SMTPSink struct {
	Refuse string
	Silent bool // accept connections and never answer

	ln net.Listener

	mu    sync.Mutex
	mails []Mail
	wg    sync.WaitGroup
}

// Mail is one transaction an SMTPSink received.
type Mail struct {
	Helo string
	From string
	To   []string
	Data string
}

// StartSMTPSink listens on addr inside ns (the listener stays in the
// namespace) until the test ends.
func StartSMTPSink(t *testing.T, ns *NS, addr string, s *SMTPSink) *SMTPSink {
	t.Helper()
	if err := ns.Do(func() error {
		var err error
		s.ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(c) }()
		}
	}()
	t.Cleanup(func() { s.ln.Close(); s.wg.Wait() })
	return s
}

func (s *SMTPSink) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if s.Silent {
		buf := make([]byte, 1)
		c.Read(buf) // until the client gives up and closes
		return
	}
	r := bufio.NewReader(c)
	say := func(line string) { c.Write([]byte(line + "\r\n")) }
	var m Mail
	say("220 sink ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			m.Helo = arg
			say("250 sink")
		case "MAIL":
			m.From = arg
			say("250 ok")
		case "RCPT":
			if s.Refuse != "" && strings.Contains(arg, s.Refuse) {
				say("550 no such user")
				continue
			}
			m.To = append(m.To, arg)
			say("250 ok")
		case "DATA":
			say("354 go ahead")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(l)
			}
			m.Data = data.String()
			s.mu.Lock()
			s.mails = append(s.mails, m)
			s.mu.Unlock()
			say("250 queued")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 unknown")
		}
	}
}

// Received returns the mails so far.
func (s *SMTPSink) Received() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}
