package config

import (
	"cmp"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// commonCheckFields are the keywords every connecting checker shares (check/check_api.c).
func commonCheckFields() map[string]field[Checker] {
	return map[string]field[Checker]{
		"connect_ip":         addrField(func(c *Checker) *netip.Addr { return &c.ConnectIP }),
		"connect_port":       portField(func(c *Checker) *uint16 { return &c.ConnectPort }),
		"bindto":             addrField(func(c *Checker) *netip.Addr { return &c.BindTo }),
		"bind_port":          portField(func(c *Checker) *uint16 { return &c.BindPort }),
		"bind_if":            stringField(func(c *Checker) *string { return &c.BindIf }),
		"connect_timeout":    secondsField(func(c *Checker) *time.Duration { return &c.ConnectTimeout }, false),
		"retry":              intField(func(c *Checker) *int { return &c.Retry }, 0, 1<<30),
		"delay_before_retry": secondsField(func(c *Checker) *time.Duration { return &c.DelayBeforeRetry }, true),
		"delay_loop":         secondsField(func(c *Checker) *time.Duration { return &c.DelayLoop }, false),
		"warmup":             secondsField(func(c *Checker) *time.Duration { return &c.Warmup }, true),
		"alpha":              flagField(func(c *Checker) *bool { return &c.Alpha }),
	}
}

// urlSchema decodes the url block of HTTP_GET (words: httpGetURLWords) or SSL_GET.
func urlSchema(words *block) *schema[URL] {
	return &schema[URL]{
		words: words,
		fields: map[string]field[URL]{
			"path":        stringField(func(u *URL) *string { return &u.Path }),
			"digest":      decodeDigest,
			"status_code": decodeStatusCodes,
			"virtualhost": stringField(func(u *URL) *string { return &u.VirtualHost }),
		},
	}
}

var (
	httpURLSchema = urlSchema(httpGetURLWords)
	sslURLSchema  = urlSchema(sslGetURLWords)
)

func httpCheckFields(urlSchema *schema[URL]) map[string]field[Checker] {
	return withFields(commonCheckFields(), map[string]field[Checker]{
		"nb_get_retry": intField(func(c *Checker) *int { return &c.Retry }, 0, 1<<30),
		"virtualhost":  stringField(func(c *Checker) *string { return &c.VirtualHost }),
		"url": func(d *decoder, n *node, c *Checker) {
			if n.Block == nil {
				d.errorf(n.Key.Pos, "%s: url: want a { block }", d.where)
				return
			}
			u := URL{Pos: n.Key.Pos}
			item := d.where + ": url"
			nerr := len(d.errs)
			urlSchema.decode(d, item, n.Block.Nodes, &u)
			if u.Path == "" && len(d.errs) == nerr {
				d.errorf(n.Key.Pos, "%s: no path", item)
				return
			}
			c.URLs = append(c.URLs, u)
		},
	})
}

var checkerSchemas = map[CheckerType]*schema[Checker]{
	CheckHTTP: {words: httpGetWords, fields: httpCheckFields(httpURLSchema)},
	CheckSSL:  {words: sslGetWords, fields: httpCheckFields(sslURLSchema)},
	CheckTCP:  {words: tcpCheckWords, fields: commonCheckFields()},
	CheckSMTP: {words: smtpCheckWords, fields: withFields(commonCheckFields(), map[string]field[Checker]{
		"helo_name": stringField(func(c *Checker) *string { return &c.HeloName }),
		// Decoded by smtpHosts; a row here so that decode takes the word.
		"host": func(*decoder, *node, *Checker) {},
	})},
	CheckMisc: {words: miscCheckWords, fields: map[string]field[Checker]{
		"misc_path":          commandField(func(c *Checker) *string { return &c.MiscPath }),
		"misc_timeout":       secondsField(func(c *Checker) *time.Duration { return &c.MiscTimeout }, false),
		"misc_dynamic":       flagField(func(c *Checker) *bool { return &c.MiscDynamic }),
		"user":               stringField(func(c *Checker) *string { return &c.User }),
		"retry":              intField(func(c *Checker) *int { return &c.Retry }, 0, 1<<30),
		"delay_before_retry": secondsField(func(c *Checker) *time.Duration { return &c.DelayBeforeRetry }, true),
		"delay_loop":         secondsField(func(c *Checker) *time.Duration { return &c.DelayLoop }, false),
		"warmup":             secondsField(func(c *Checker) *time.Duration { return &c.Warmup }, true),
		"alpha":              flagField(func(c *Checker) *bool { return &c.Alpha }),
	}},
}

// checkerField decodes one checker block of a real server.
func checkerField(t CheckerType) field[rsDraft] {
	return func(d *decoder, n *node, r *rsDraft) {
		if n.Block == nil {
			d.errorf(n.Key.Pos, "%s: %s: want a { block }", r.name, t)
			return
		}
		c := Checker{Pos: n.Key.Pos, Type: t}
		item := r.name + ": " + string(t)
		nerr := len(d.errs)
		checkerSchemas[t].decode(d, item, n.Block.Nodes, &c)
		if len(d.errs) > nerr {
			return
		}
		if t == CheckSMTP {
			r.rs.Checkers = append(r.rs.Checkers, smtpHosts(d, item, n, c)...)
			return
		}
		if t == CheckMisc && c.MiscPath == "" {
			d.errorf(n.Key.Pos, "%s: no misc_path", item)
			return
		}
		if (t == CheckHTTP || t == CheckSSL) && len(c.URLs) == 0 {
			d.errorf(n.Key.Pos, "%s: no url { path ... }", item)
			return
		}
		r.rs.Checkers = append(r.rs.Checkers, c)
	}
}

// decodeDigest reads an MD5 digest: 32 hex digits, kept in lower case.
func decodeDigest(d *decoder, n *node, u *URL) {
	t, ok := value(d, d.where, n)
	if !ok {
		return
	}
	s := strings.ToLower(t.Text)
	if len(s) != 32 || strings.Trim(s, "0123456789abcdef") != "" {
		d.errorf(t.Pos, "%s: digest %q: want an MD5 sum, 32 hex digits", d.where, t.Text)
		return
	}
	u.Digest = s
}

// decodeStatusCodes reads "status_code N|N-M ...": HTTP status codes 100..599.
func decodeStatusCodes(d *decoder, n *node, u *URL) {
	if !noBlock(d, n) {
		return
	}
	if len(n.Args) == 0 {
		d.errorf(n.Key.Pos, "%s: status_code: missing value", d.where)
		return
	}
	for _, a := range n.Args {
		lo, hi, isRange := strings.Cut(a.Text, "-")
		l, err1 := strconv.Atoi(lo)
		h, err2 := l, error(nil)
		if isRange {
			h, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || l < 100 || h > 599 || h < l {
			d.errorf(a.Pos, "%s: status_code %q: want a code or range in 100..599", d.where, a.Text)
			continue
		}
		u.StatusCodes = append(u.StatusCodes, a.Text)
	}
}

// smtpHostSchema decodes the host blocks of an SMTP_CHECK: the connection of one more
// checker.
var smtpHostSchema = &schema[Checker]{words: smtpCheckHostWords, fields: commonCheckFields()}

// smtpHosts returns the checkers an SMTP_CHECK stands for. keepalived 2.x deprecates
// "host { ... }" blocks inside it and turns each into a checker of its own, with the
// SMTP_CHECK's settings and the host's connection; the SMTP_CHECK itself stays a checker
// only when it sets a connection of its own (or has no host). xlb does the same and says
// how to write it today.
func smtpHosts(d *decoder, item string, n *node, main Checker) []Checker {
	var hosts []Checker
	for _, h := range n.Block.Nodes {
		if h.Key.Text != "host" {
			continue
		}
		if h.Block == nil {
			d.errorf(h.Key.Pos, "%s: host: want a { block }", item)
			continue
		}
		c := Checker{Pos: h.Key.Pos}
		smtpHostSchema.decode(d, item+": host", h.Block.Nodes, &c)
		// The host's connection; everything else from the SMTP_CHECK.
		host := main
		host.Pos = h.Key.Pos
		host.ConnectIP, host.ConnectPort, host.BindTo, host.BindPort, host.BindIf = c.ConnectIP, c.ConnectPort, c.BindTo, c.BindPort, c.BindIf
		host.ConnectTimeout = cmp.Or(c.ConnectTimeout, main.ConnectTimeout)
		host.Retry = cmp.Or(c.Retry, main.Retry)
		host.DelayBeforeRetry = cmp.Or(c.DelayBeforeRetry, main.DelayBeforeRetry)
		host.DelayLoop = cmp.Or(c.DelayLoop, main.DelayLoop)
		host.Warmup = cmp.Or(c.Warmup, main.Warmup)
		host.Alpha = c.Alpha || main.Alpha
		hosts = append(hosts, host)
		d.warnf(h.Key.Pos, "%s: host blocks are deprecated (keepalived too); write one SMTP_CHECK per host, with connect_ip and connect_port", item)
	}
	ownConnection := main.ConnectIP.IsValid() || main.ConnectPort != 0 || main.BindTo.IsValid() ||
		main.BindPort != 0 || main.BindIf != "" || main.ConnectTimeout != 0
	if len(hosts) == 0 || ownConnection {
		return append([]Checker{main}, hosts...)
	}
	return hosts
}
