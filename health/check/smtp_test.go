package check

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// smtpServer answers each connection with banner, then reads one line
// (recorded on helos) and answers heloReply (nothing if empty, closing
// the connection), then reads QUIT and answers 221.
func smtpServer(t *testing.T, l *lab, banner, heloReply string, helos chan<- string) net.Listener {
	t.Helper()
	ln := l.listenTCP(t, serverV4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(c)
				io.WriteString(c, banner)
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				helos <- strings.TrimRight(line, "\r\n")
				if heloReply == "" {
					return
				}
				io.WriteString(c, heloReply)
				if _, err := br.ReadString('\n'); err == nil {
					io.WriteString(c, "221 bye\r\n")
				}
			}()
		}
	}()
	return ln
}

func TestSMTP(t *testing.T) {
	l := newLab(t)
	tests := []struct {
		name      string
		banner    string
		heloReply string
		heloName  string
		up        bool
		reason    string
		wantHELO  string // "" when the server never gets one
	}{
		{"conversation ok", "220 mx.example.test ESMTP\r\n", "250 hello\r\n", "", true, "HELO accepted", "HELO smtpchecker.keepalived.org"},
		{"helo_name", "220 mx\r\n", "250 hello\r\n", "lb1.example.test", true, "HELO accepted", "HELO lb1.example.test"},
		{"multi-line replies", "220-mx.example.test\r\n220 ESMTP\r\n", "250-hello\r\n250 SIZE 1000\r\n", "", true, "HELO accepted", "HELO smtpchecker.keepalived.org"},
		{"554 banner", "554 go away\r\n", "", "", false, "greeting: got 554 go away, want 220", ""},
		{"HELO refused", "220 mx\r\n", "550 not you\r\n", "", false, "HELO: got 550 not you, want 250", "HELO smtpchecker.keepalived.org"},
		{"closed after HELO", "220 mx\r\n", "", "", false, "read HELO reply: unexpected EOF", "HELO smtpchecker.keepalived.org"},
		{"not SMTP", "SSH-2.0-OpenSSH\r\n", "", "", false, "malformed SMTP reply", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			helos := make(chan string, 1)
			ln := smtpServer(t, l, tc.banner, tc.heloReply, helos)
			c, err := NewSMTP(SMTPOptions{Conn: Conn{Addr: addrPort(ln.Addr())}, HELO: tc.heloName})
			if err != nil {
				t.Fatal(err)
			}
			wantResult(t, l.check(t, c, 2*time.Second), tc.up, tc.reason)
			var got string
			select {
			case got = <-helos:
			default:
			}
			if got != tc.wantHELO {
				t.Errorf("server got HELO line %q, want %q", got, tc.wantHELO)
			}
		})
	}
}

func TestReadSMTPReply(t *testing.T) {
	tests := []struct {
		in   string
		code int
		text string
		err  error
	}{
		{"220 ready\r\n", 220, "ready", nil},
		{"250\r\n", 250, "", nil},
		{"250 no CR\n", 250, "no CR", nil},
		{"250-a\r\n250-b\r\n250 c\r\n", 250, "a\nb\nc", nil},
		{"250-a\r\n251 b\r\n", 0, "", ErrSMTPReply},
		{"25 short\r\n", 0, "", ErrSMTPReply},
		{"2x0 letters\r\n", 0, "", ErrSMTPReply},
		{"220_bad separator\r\n", 0, "", ErrSMTPReply},
		{"620 out of range\r\n", 0, "", ErrSMTPReply},
		{"260 second digit\r\n", 0, "", ErrSMTPReply},
		{"220-never ends\r\n", 0, "", io.ErrUnexpectedEOF},
		{"220 no line end", 0, "", io.ErrUnexpectedEOF},
		{strings.Repeat("220-x\r\n", maxSMTPLines+1), 0, "", ErrSMTPReply},
		{"220 " + strings.Repeat("x", maxSMTPLine) + "\r\n", 0, "", ErrSMTPReply},
	}
	for _, tc := range tests {
		name := tc.in
		if len(name) > 20 {
			name = name[:20]
		}
		t.Run(name, func(t *testing.T) {
			code, text, err := ReadSMTPReply(bufio.NewReader(strings.NewReader(tc.in)))
			if !errors.Is(err, tc.err) {
				t.Fatalf("error = %v, want %v", err, tc.err)
			}
			if diff := cmp.Diff([]any{tc.code, tc.text}, []any{code, text}); diff != "" {
				t.Errorf("code, text (-want +got):\n%s", diff)
			}
		})
	}
}
