package config

// xlb's own keywords, beyond keepalived's (keywords.go lists only
// keepalived's). Each is documented in docs/config.md as an xlb word; a
// configuration using one is not keepalived's any more, which warns about
// words it does not know and goes on.

// checkerRiseFall are the checker blocks that take rise and fall: every
// one with a schedule (schedCheckFields), and SMTP_CHECK's host blocks.
var checkerRiseFall = []*block{
	tcpCheckWords, httpGetWords, sslGetWords, smtpCheckWords, miscCheckWords,
	dnsCheckWords, udpCheckWords, pingCheckWords, smtpCheckHostWords,
}

func init() {
	virtualServerWords.add("tunnel_source", nil)
	for _, b := range checkerRiseFall {
		b.add("rise", nil)
		b.add("fall", nil)
	}
}
