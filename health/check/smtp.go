package check

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// DefaultHELO is keepalived's helo_name default, used when
// SMTPOptions.HELO is empty.
const DefaultHELO = "smtpchecker.keepalived.org"

// Bounds on a reply, so a server that streams garbage cannot hold the
// check: RFC 5321 §4.5.3.1.5 allows 512 octets per reply line.
const (
	maxSMTPLine  = 4096
	maxSMTPLines = 64
)

// ErrSMTPReply reports a line that is not an SMTP reply.
var ErrSMTPReply = errors.New("malformed SMTP reply")

// SMTPOptions configures SMTP_CHECK.
type SMTPOptions struct {
	Conn
	// HELO is helo_name; empty means DefaultHELO.
	HELO string
}

// SMTP is SMTP_CHECK: connect, expect a 220 greeting, send HELO, expect
// 250, send QUIT and read its reply.
type SMTP struct {
	opts SMTPOptions
}

// NewSMTP validates o and returns the checker.
func NewSMTP(o SMTPOptions) (*SMTP, error) {
	if err := o.validate(true); err != nil {
		return nil, fmt.Errorf("SMTP_CHECK: %w", err)
	}
	if o.HELO == "" {
		o.HELO = DefaultHELO
	}
	if strings.ContainsAny(o.HELO, " \t\r\n") {
		return nil, fmt.Errorf("SMTP_CHECK: helo_name %q: contains a space or line break", o.HELO)
	}
	return &SMTP{opts: o}, nil
}

// Check holds the conversation.
func (c *SMTP) Check(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel := c.opts.attemptCtx(ctx)
	defer cancel()
	conn, err := c.opts.dialTCP(ctx)
	if err != nil {
		return fail(start, "%v", err)
	}
	defer conn.Close()
	br := bufio.NewReaderSize(conn, 512)
	steps := []struct {
		send string // sent before reading the reply
		want int    // expected code; 0 takes any
		what string
	}{
		{"", 220, "greeting"},
		{"HELO " + c.opts.HELO + "\r\n", 250, "HELO"},
		// keepalived reads the reply to QUIT but does not judge it.
		{"QUIT\r\n", 0, "QUIT"},
	}
	for _, s := range steps {
		if s.send != "" {
			if _, err := io.WriteString(conn, s.send); err != nil {
				return fail(start, "send %s: %v", s.what, unwrapOp(err))
			}
		}
		code, text, err := ReadSMTPReply(br)
		if err != nil {
			return fail(start, "read %s reply: %v", s.what, unwrapOp(err))
		}
		if s.want != 0 && code != s.want {
			return fail(start, "%s: got %d %s, want %d", s.what, code, text, s.want)
		}
	}
	return pass(start, "HELO accepted")
}

func (c *SMTP) String() string { return "SMTP_CHECK " + c.opts.target().String() }

// ReadSMTPReply reads one reply, which may span lines ("250-first",
// "250 last", RFC 5321 §4.2.1), and returns its code and the text of its
// lines joined by newlines. Every line must carry the same code, whose
// digits RFC 5321 §4.2 bounds to 1-5, 0-5 and 0-9.
func ReadSMTPReply(br *bufio.Reader) (int, string, error) {
	var (
		code  int
		texts []string
	)
	for n := 0; ; n++ {
		if n == maxSMTPLines {
			return 0, "", fmt.Errorf("more than %d lines: %w", maxSMTPLines, ErrSMTPReply)
		}
		line, err := readLine(br)
		if err != nil {
			return 0, "", err
		}
		c, more, text, err := ParseSMTPLine(line)
		if err != nil {
			return 0, "", err
		}
		if n > 0 && c != code {
			return 0, "", fmt.Errorf("code %d after %d: %w", c, code, ErrSMTPReply)
		}
		code = c
		texts = append(texts, text)
		if !more {
			return code, strings.Join(texts, "\n"), nil
		}
	}
}

// readLine reads a line ending in LF (CR optional), without the ending.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		frag, err := br.ReadSlice('\n')
		b = append(b, frag...)
		if len(b) > maxSMTPLine {
			return "", fmt.Errorf("line longer than %d bytes: %w", maxSMTPLine, ErrSMTPReply)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
}

// ParseSMTPLine parses one reply line without its line ending: three
// digits, then "-" when more lines follow, or a space or nothing on the
// last line, then text.
func ParseSMTPLine(line string) (code int, more bool, text string, err error) {
	if len(line) < 3 {
		return 0, false, "", fmt.Errorf("%q: %w", line, ErrSMTPReply)
	}
	for i := range 3 {
		if line[i] < '0' || line[i] > '9' {
			return 0, false, "", fmt.Errorf("%q: %w", line, ErrSMTPReply)
		}
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if line[0] < '1' || line[0] > '5' || line[1] > '5' {
		return 0, false, "", fmt.Errorf("%q: code out of range: %w", line, ErrSMTPReply)
	}
	if len(line) == 3 {
		return code, false, "", nil
	}
	switch line[3] {
	case '-':
		more = true
	case ' ':
	default:
		return 0, false, "", fmt.Errorf("%q: %w", line, ErrSMTPReply)
	}
	return code, more, line[4:], nil
}
