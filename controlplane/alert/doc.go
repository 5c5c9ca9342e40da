// Package alert sends keepalived's e-mail alerts (smtp_alert): one message
// per VRRP or health-check state change, through global_defs' smtp_server,
// from notification_email_from to every notification_email, with the
// subjects keepalived uses so existing mail filters keep working.
package alert
