package controlplane

import (
	"net"
	"strconv"

	"xlb/config"
	"xlb/controlplane/alert"
)

// Mailer is global_defs' smtp settings as an alert.Mailer (its zero value
// when smtp_server, notification_email_from or notification_email is
// missing).
func Mailer(g config.GlobalDefs) alert.Mailer {
	if g.SMTPServer == "" {
		return alert.Mailer{}
	}
	port := g.SMTPPort
	if port == 0 {
		port = 25
	}
	return alert.Mailer{
		Server:   net.JoinHostPort(g.SMTPServer, strconv.Itoa(int(port))),
		HeloName: g.SMTPHeloName,
		From:     g.NotificationEmailFrom,
		To:       g.NotificationEmail,
		RouterID: g.RouterID,
		Timeout:  g.SMTPConnectTimeout,
	}
}
