package alert

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"strings"
	"time"
)

// DefaultTimeout is keepalived's smtp_connect_timeout default.
const DefaultTimeout = 30 * time.Second

// Mailer sends alerts through one SMTP relay. Its zero value sends nothing:
// Enabled says whether it is configured.
type Mailer struct {
	// Server is smtp_server as "host:port" (port 25 when keepalived's
	// config names none; the control plane fills it in).
	Server string
	// HeloName is smtp_helo_name; keepalived says "localhost" without one.
	HeloName string
	From     string   // notification_email_from
	To       []string // notification_email
	// RouterID is global_defs router_id, the "[...]" that starts every
	// subject.
	RouterID string
	// Timeout bounds the whole exchange (smtp_connect_timeout; 30 s when 0).
	Timeout time.Duration
}

// ErrNotConfigured is returned by Send when there is no server, sender or
// recipient to send to.
var ErrNotConfigured = errors.New("smtp alerts not configured: smtp_server, notification_email_from and notification_email are needed")

// Enabled says whether m has a relay, a sender and a recipient.
func (m Mailer) Enabled() bool { return m.Server != "" && m.From != "" && len(m.To) > 0 }

// Message is one alert.
type Message struct {
	Subject string
	Body    string
}

// VRRPInstance is the alert for a VRRP instance entering state ("MASTER",
// "BACKUP", "FAULT"), with keepalived's subject.
func (m Mailer) VRRPInstance(name, state, body string) Message {
	return Message{Subject: fmt.Sprintf("[%s] VRRP Instance %s - Entering %s state", m.RouterID, name, state), Body: body}
}

// VRRPGroup is the alert for a vrrp_sync_group entering state.
func (m Mailer) VRRPGroup(name, state, body string) Message {
	return Message{Subject: fmt.Sprintf("[%s] VRRP Group %s - Entering %s state", m.RouterID, name, state), Body: body}
}

// RealServer is the alert for a real server of a virtual server going
// "UP" or "DOWN".
func (m Mailer) RealServer(real, virtual, state, body string) Message {
	return Message{Subject: fmt.Sprintf("[%s] Realserver %s of virtual server %s - %s", m.RouterID, real, virtual, state), Body: body}
}

// VirtualServer is the alert for a virtual server's quorum going "UP" or
// "DOWN".
func (m Mailer) VirtualServer(virtual, state, body string) Message {
	return Message{Subject: fmt.Sprintf("[%s] Virtualserver %s - %s", m.RouterID, virtual, state), Body: body}
}

// Send delivers msg to every recipient in one SMTP transaction. It returns
// when the relay accepted the message, refused it, or ctx or Timeout ran
// out. It dials on the calling goroutine, so a caller inside a network
// namespace sends from it.
func (m Mailer) Send(ctx context.Context, msg Message) error {
	if !m.Enabled() {
		return ErrNotConfigured
	}
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.Server)
	if err != nil {
		return fmt.Errorf("smtp alert to %s: %w", m.Server, err)
	}
	defer conn.Close()
	// Close the connection when ctx ends (deadline or caller), so a stuck
	// relay does not hold the sender past it. (A connection deadline would
	// race with ctx and hide which one ended the exchange.)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := m.transact(conn, msg); err != nil {
		if ctx.Err() != nil {
			// The deadline or the caller cut the exchange short; say that
			// rather than what the closed connection made of it.
			return fmt.Errorf("smtp alert to %s: %w", m.Server, ctx.Err())
		}
		return fmt.Errorf("smtp alert to %s: %w", m.Server, err)
	}
	return nil
}

func (m Mailer) transact(conn net.Conn, msg Message) error {
	host, _, _ := net.SplitHostPort(m.Server)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer c.Close()
	helo := m.HeloName
	if helo == "" {
		helo = "localhost"
	}
	if err := c.Hello(helo); err != nil {
		return err
	}
	if err := c.Mail(m.From); err != nil {
		return err
	}
	for _, to := range m.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("recipient %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(m.compose(msg, time.Now())); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// compose is the message as keepalived writes it: From, Subject, X-Mailer,
// Date and To headers, then the body with CRLF line ends.
func (m Mailer) compose(msg Message, now time.Time) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\n", m.From)
	fmt.Fprintf(&b, "Subject: %s\r\n", oneLine(msg.Subject))
	b.WriteString("X-Mailer: xlb\r\n")
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(m.To, ", "))
	b.WriteString("\r\n")
	body := strings.ReplaceAll(strings.ReplaceAll(msg.Body, "\r\n", "\n"), "\n", "\r\n")
	b.WriteString(body)
	if !strings.HasSuffix(body, "\r\n") {
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}

// oneLine keeps a header on one line: a name from the config must not
// start a header of its own.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
