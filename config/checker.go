package config

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// schedCheckFields are the keywords of when and how often a check runs, which every
// checker but FILE_CHECK and BFD_CHECK takes (check/check_api.c).
func schedCheckFields() map[string]field[Checker] {
	return map[string]field[Checker]{
		"retry":              intField(func(c *Checker) *int { return &c.Retry }, 0, 1<<30),
		"delay_before_retry": secondsField(func(c *Checker) *time.Duration { return &c.DelayBeforeRetry }, true),
		"delay_loop":         secondsField(func(c *Checker) *time.Duration { return &c.DelayLoop }, false),
		"warmup":             secondsField(func(c *Checker) *time.Duration { return &c.Warmup }, true),
		"alpha":              flagField(func(c *Checker) *bool { return &c.Alpha }),
		"log_all_failures":   flagField(func(c *Checker) *bool { return &c.LogAllFailures }),
		"rise":               intField(func(c *Checker) *int { return &c.Rise }, 1, maxRiseFall),
		"fall":               intField(func(c *Checker) *int { return &c.Fall }, 1, maxRiseFall),
	}
}

// maxRiseFall bounds rise and fall: beyond it a real would take days
// to change state at any sensible delay_loop.
const maxRiseFall = 1000

// commonCheckFields are the keywords every connecting checker shares (check/check_api.c).
func commonCheckFields() map[string]field[Checker] {
	return withFields(schedCheckFields(), map[string]field[Checker]{
		"connect_ip":      addrField(func(c *Checker) *netip.Addr { return &c.ConnectIP }),
		"connect_port":    portField(func(c *Checker) *uint16 { return &c.ConnectPort }),
		"bindto":          addrField(func(c *Checker) *netip.Addr { return &c.BindTo }),
		"bind_port":       portField(func(c *Checker) *uint16 { return &c.BindPort }),
		"bind_if":         stringField(func(c *Checker) *string { return &c.BindIf }),
		"connect_timeout": secondsField(func(c *Checker) *time.Duration { return &c.ConnectTimeout }, false),
		"fwmark":          decodeCheckFwmark,
	})
}

// decodeCheckFwmark reads the firewall mark a checker's packets carry, 0..4294967295.
func decodeCheckFwmark(d *decoder, n *node, c *Checker) {
	t, ok := value(d, d.where, n)
	if !ok {
		return
	}
	m, ok := parseUint(t.Text, math.MaxUint32)
	if !ok {
		d.errorf(t.Pos, "%s: fwmark %q: want 0..%d", d.where, t.Text, uint32(math.MaxUint32))
		return
	}
	c.Fwmark = uint32(m)
}

// regexOptions are the PCRE2 options keepalived takes in regex_options.
var regexOptions = []string{
	"allow_empty_class", "alt_bsux", "auto_callout", "caseless", "dollar_endonly", "dotall",
	"dupnames", "extended", "firstline", "match_unset_backref", "multiline", "never_ucp",
	"never_utf", "no_auto_capture", "no_auto_possess", "no_dotstar_anchor", "no_start_optimize",
	"ucp", "ungreedy", "utf", "never_backslash_c", "alt_circumflex", "alt_verbnames",
	"use_offset_limit",
}

// urlSchema decodes the url block of HTTP_GET (words: httpGetURLWords) or SSL_GET, whose
// url also takes tls_compliant.
func urlSchema(words *block) *schema[URL] {
	fields := map[string]field[URL]{
		"path":             stringField(func(u *URL) *string { return &u.Path }),
		"digest":           decodeDigest,
		"status_code":      decodeStatusCodes,
		"virtualhost":      stringField(func(u *URL) *string { return &u.VirtualHost }),
		"regex":            stringField(func(u *URL) *string { return &u.Regex }),
		"regex_no_match":   flagField(func(u *URL) *bool { return &u.RegexNoMatch }),
		"regex_options":    decodeRegexOptions,
		"regex_min_offset": intField(func(u *URL) *int { return &u.RegexMinOffset }, 0, math.MaxInt32),
		"regex_max_offset": intField(func(u *URL) *int { return &u.RegexMaxOffset }, 0, math.MaxInt32),
		"regex_stack":      decodeRegexStack,
	}
	if words.knows("tls_compliant") {
		fields["tls_compliant"] = flagField(func(u *URL) *bool { return &u.TLSCompliant })
	}
	return &schema[URL]{words: words, fields: fields}
}

// decodeRegexStack reads "regex_stack START MAX": the PCRE2 JIT stack, in bytes, that
// this url's regex may use (keepalived keeps the largest of all urls).
func decodeRegexStack(d *decoder, n *node, u *URL) {
	if !noBlock(d, n) {
		return
	}
	if len(n.Args) != 2 {
		d.errorf(n.Key.Pos, "%s: regex_stack: want START MAX, in bytes", d.where)
		return
	}
	var v [2]uint64
	for i, a := range n.Args {
		x, ok := parseUint(a.Text, math.MaxUint32)
		if !ok {
			d.errorf(a.Pos, "%s: regex_stack %q: want bytes, 0..%d", d.where, a.Text, uint32(math.MaxUint32))
			return
		}
		v[i] = x
	}
	if v[0] > v[1] {
		d.errorf(n.Args[0].Pos, "%s: regex_stack: START %d is above MAX %d", d.where, v[0], v[1])
		return
	}
	u.RegexStack = &RegexStack{Start: uint32(v[0]), Max: uint32(v[1])}
}

// decodeRegexOptions reads "regex_options OPTION ...". keepalived ignores a word it does
// not know; xlb reports it, as a typo would otherwise change the match silently.
func decodeRegexOptions(d *decoder, n *node, u *URL) {
	if !noBlock(d, n) {
		return
	}
	for _, a := range n.Args {
		if !slices.Contains(regexOptions, a.Text) {
			d.errorf(a.Pos, "%s: regex_options %q: unknown PCRE2 option (want %s)", d.where, a.Text, orList(regexOptions))
			continue
		}
		u.RegexOptions = append(u.RegexOptions, a.Text)
	}
}

var (
	httpURLSchema = urlSchema(httpGetURLWords)
	sslURLSchema  = urlSchema(sslGetURLWords)
)

func httpCheckFields(words *block, urlSchema *schema[URL]) map[string]field[Checker] {
	fields := withFields(commonCheckFields(), map[string]field[Checker]{
		"nb_get_retry":  intField(func(c *Checker) *int { return &c.Retry }, 0, 1<<30),
		"virtualhost":   stringField(func(c *Checker) *string { return &c.VirtualHost }),
		"http_protocol": enumField(func(c *Checker) *string { return &c.HTTPProtocol }, "1.0", "1.0C", "1.1"),
		"enable_sni":    flagField(func(c *Checker) *bool { return &c.EnableSNI }),
		"sni_name":      decodeSNIName,
		"fast_recovery": flagField(func(c *Checker) *bool { return &c.FastRecovery }),
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
			if len(u.StatusCodes) == 0 {
				u.StatusCodes = []StatusRange{{200, 299}} // keepalived's default
			}
			c.URLs = append(c.URLs, u)
		},
	})
	if words.knows("tls_compliant") {
		fields["tls_compliant"] = flagField(func(c *Checker) *bool { return &c.TLSCompliant })
	}
	return fields
}

// decodeSNIName reads "sni_name [NAME]", which also turns SNI on; without a name the
// virtual host is sent.
func decodeSNIName(d *decoder, n *node, c *Checker) {
	if !noBlock(d, n) {
		return
	}
	if len(n.Args) > 1 {
		d.errorf(n.Args[1].Pos, "%s: sni_name: unexpected argument %q", d.where, n.Args[1].Text)
		return
	}
	if len(n.Args) == 1 {
		c.SNIName = n.Args[0].Text
	}
	c.EnableSNI = true
}

// dnsTypes are the query types DNS_CHECK asks (check/check_dns.c).
var dnsTypes = []string{"A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "RRSIG", "DNSKEY"}

var checkerSchemas = map[CheckerType]*schema[Checker]{
	CheckHTTP: {words: httpGetWords, fields: httpCheckFields(httpGetWords, httpURLSchema)},
	CheckSSL:  {words: sslGetWords, fields: httpCheckFields(sslGetWords, sslURLSchema)},
	CheckTCP:  {words: tcpCheckWords, fields: commonCheckFields()},
	CheckSMTP: {words: smtpCheckWords, fields: withFields(commonCheckFields(), map[string]field[Checker]{
		"helo_name": stringField(func(c *Checker) *string { return &c.HeloName }),
		// Decoded by smtpHosts; a row here so that decode takes the word.
		"host": func(*decoder, *node, *Checker) {},
	})},
	CheckMisc: {words: miscCheckWords, fields: withFields(schedCheckFields(), map[string]field[Checker]{
		"misc_path":    commandField(func(c *Checker) *string { return &c.MiscPath }),
		"misc_timeout": secondsField(func(c *Checker) *time.Duration { return &c.MiscTimeout }, false),
		"misc_dynamic": flagField(func(c *Checker) *bool { return &c.MiscDynamic }),
		"user":         stringField(func(c *Checker) *string { return &c.User }),
	})},
	CheckDNS: {words: dnsCheckWords, fields: withFields(commonCheckFields(), map[string]field[Checker]{
		"type": enumField(func(c *Checker) *string { return &c.DNSType }, dnsTypes...),
		"name": decodeDNSName,
	})},
	CheckUDP: {words: udpCheckWords, fields: withFields(commonCheckFields(), map[string]field[Checker]{
		"payload":          decodePayload,
		"require_reply":    decodeRequireReply,
		"min_reply_length": intField(func(c *Checker) *int { return &c.MinReplyLength }, 0, math.MaxUint16),
		"max_reply_length": intField(func(c *Checker) *int { return &c.MaxReplyLength }, 0, math.MaxUint16),
	})},
	CheckPing: {words: pingCheckWords, fields: commonCheckFields()},
	CheckFile: {words: fileCheckWords, fields: map[string]field[Checker]{
		"track_file": stringField(func(c *Checker) *string { return &c.TrackFile }),
		"weight":     decodeFileWeight,
	}},
	CheckBFD: {words: bfdCheckWords, fields: map[string]field[Checker]{
		"name":  stringField(func(c *Checker) *string { return &c.BFD }),
		"alpha": flagField(func(c *Checker) *bool { return &c.Alpha }),
	}},
}

// checkerField decodes one checker block of a real server.
func checkerField(t CheckerType) field[rsDraft] {
	return func(d *decoder, n *node, r *rsDraft) {
		if n.Block == nil {
			d.errorf(n.Key.Pos, "%s: %s: want a { block }", r.name, t)
			return
		}
		// Decoded in place, as the real's last checker: a Checker is large, and a copy
		// made on the heap for each of thousands of checkers shows in a large
		// configuration's parse.
		r.rs.Checkers = append(r.rs.Checkers, Checker{Pos: n.Key.Pos, Type: t})
		last := len(r.rs.Checkers) - 1
		c := &r.rs.Checkers[last]
		drop := func() { r.rs.Checkers = r.rs.Checkers[:last] }
		if t == CheckUDP {
			c.MaxReplyLength = defaultMaxReplyLength
		}
		item := r.name + ": " + string(t)
		nerr := len(d.errs)
		checkerSchemas[t].decode(d, item, n.Block.Nodes, c)
		if len(d.errs) > nerr {
			drop()
			return
		}
		switch t {
		case CheckSMTP:
			main := *c
			drop()
			r.rs.Checkers = append(r.rs.Checkers, smtpHosts(d, item, n, main)...)
		case CheckMisc:
			if c.MiscPath == "" {
				d.errorf(n.Key.Pos, "%s: no misc_path", item)
				drop()
			}
		case CheckHTTP, CheckSSL:
			if len(c.URLs) == 0 {
				d.errorf(n.Key.Pos, "%s: no url { path ... }", item)
				drop()
			}
		case CheckDNS:
			c.DNSType = cmp.Or(c.DNSType, "SOA")
			c.DNSName = cmp.Or(c.DNSName, ".")
		case CheckUDP:
			if c.MinReplyLength > c.MaxReplyLength {
				// keepalived's check would always fail.
				d.errorf(n.Key.Pos, "%s: min_reply_length %d is above max_reply_length %d", item, c.MinReplyLength, c.MaxReplyLength)
				drop()
			}
		case CheckFile:
			if c.TrackFile == "" {
				d.errorf(n.Key.Pos, "%s: no track_file", item)
				drop()
			}
		case CheckBFD:
			if c.BFD == "" {
				d.errorf(n.Key.Pos, "%s: no name (of a bfd_instance)", item)
				drop()
			}
		}
	}
}

// defaultMaxReplyLength is UDP_CHECK's max_reply_length when none is written.
const defaultMaxReplyLength = 255

// decodeDNSName reads DNS_CHECK's query name. keepalived refuses empty labels; xlb also
// refuses what no DNS message can carry (RFC 1035 section 2.3.4: labels of 63 bytes,
// names of 255), and writes the name fully qualified.
func decodeDNSName(d *decoder, n *node, c *Checker) {
	t, ok := value(d, d.where, n)
	if !ok {
		return
	}
	name := t.Text
	if name != "." {
		name = strings.TrimSuffix(name, ".")
		for _, l := range strings.Split(name, ".") {
			if l == "" || len(l) > 63 {
				d.errorf(t.Pos, "%s: name %q: want a domain name, labels of 1..63 bytes", d.where, t.Text)
				return
			}
		}
		name += "."
	}
	if len(name) > 254 {
		d.errorf(t.Pos, "%s: name %q: longer than 253 bytes", d.where, t.Text)
		return
	}
	c.DNSName = name
}

// decodePayload reads UDP_CHECK's "payload HEX ...".
func decodePayload(d *decoder, n *node, c *Checker) {
	if !noBlock(d, n) {
		return
	}
	if len(n.Args) == 0 {
		d.errorf(n.Key.Pos, "%s: payload: missing value", d.where)
		return
	}
	data, _, ok := parseHex(words(n.Args), false)
	if !ok {
		d.errorf(n.Args[0].Pos, "%s: payload %q: want hex digits", d.where, words(n.Args))
		return
	}
	c.Payload = data
}

// decodeRequireReply reads "require_reply [HEX ...]", where x stands for any nibble.
func decodeRequireReply(d *decoder, n *node, c *Checker) {
	if !noBlock(d, n) {
		return
	}
	c.RequireReply = true
	if len(n.Args) == 0 {
		return
	}
	data, mask, ok := parseHex(words(n.Args), true)
	if !ok {
		d.errorf(n.Args[0].Pos, "%s: require_reply %q: want hex digits, x for any", d.where, words(n.Args))
		return
	}
	c.Reply, c.ReplyMask = data, mask
}

// parseHex reads keepalived's free-form hex strings (lib/parser.c read_hex_str): blanks
// separate groups; each two digits make a byte, and a digit alone before a blank or the
// end is a byte too ("Ab12f 3" is ab 12 0f 03). With wildcard, x or X is a nibble to
// ignore: it is 0 in data and f in mask, which is nil when there is none.
func parseHex(s string, wildcard bool) (data, mask []byte, ok bool) {
	nibble := func(c byte) (v, m byte, ok bool) {
		switch {
		case c >= '0' && c <= '9':
			return c - '0', 0, true
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10, 0, true
		case c >= 'A' && c <= 'F':
			return c - 'A' + 10, 0, true
		case wildcard && (c == 'x' || c == 'X'):
			return 0, 0xf, true
		}
		return 0, 0, false
	}
	masked := false
	for i := 0; i < len(s); {
		if s[i] == ' ' || s[i] == '\t' {
			i++
			continue
		}
		v, m, ok := nibble(s[i])
		if !ok {
			return nil, nil, false
		}
		i++
		if i < len(s) && s[i] != ' ' && s[i] != '\t' {
			v2, m2, ok := nibble(s[i])
			if !ok {
				return nil, nil, false
			}
			v, m = v<<4|v2, m<<4|m2
			i++
		}
		data, mask = append(data, v), append(mask, m)
		masked = masked || m != 0
	}
	if len(data) == 0 {
		return nil, nil, false
	}
	if !masked {
		mask = nil
	}
	return data, mask, true
}

// decodeFileWeight reads FILE_CHECK's "weight N [reverse|noreverse]": the multiplier of
// the file's number, within IPVS's weights.
func decodeFileWeight(d *decoder, n *node, c *Checker) {
	if !noBlock(d, n) || len(n.Args) == 0 || len(n.Args) > 2 {
		d.errorf(n.Key.Pos, "%s: weight: want N [reverse|noreverse]", d.where)
		return
	}
	w, ok := parseIntRange(n.Args[0].Text, -maxWeight, maxWeight)
	if !ok {
		d.errorf(n.Args[0].Pos, "%s: weight %q: want %d..%d", d.where, n.Args[0].Text, -maxWeight, maxWeight)
		return
	}
	if len(n.Args) == 2 {
		switch n.Args[1].Text {
		case "reverse":
			c.FileReverse = true
		case "noreverse":
		default:
			d.errorf(n.Args[1].Pos, "%s: weight: %q: want reverse or noreverse", d.where, n.Args[1].Text)
			return
		}
	}
	c.FileWeight = &w
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
		if !isRange {
			hi = lo
		}
		l, ok1 := parseUint(lo, 599)
		h, ok2 := parseUint(hi, 599)
		if !ok1 || !ok2 || l < 100 || h < l {
			d.errorf(a.Pos, "%s: status_code %q: want a code or range in 100..599", d.where, a.Text)
			continue
		}
		u.StatusCodes = append(u.StatusCodes, StatusRange{Min: int(l), Max: int(h)})
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
		host.Fwmark = cmp.Or(c.Fwmark, main.Fwmark)
		host.LogAllFailures = c.LogAllFailures || main.LogAllFailures
		host.ConnectTimeout = cmp.Or(c.ConnectTimeout, main.ConnectTimeout)
		host.Retry = cmp.Or(c.Retry, main.Retry)
		host.DelayBeforeRetry = cmp.Or(c.DelayBeforeRetry, main.DelayBeforeRetry)
		host.DelayLoop = cmp.Or(c.DelayLoop, main.DelayLoop)
		host.Warmup = cmp.Or(c.Warmup, main.Warmup)
		host.Rise = cmp.Or(c.Rise, main.Rise)
		host.Fall = cmp.Or(c.Fall, main.Fall)
		host.Alpha = c.Alpha || main.Alpha
		hosts = append(hosts, host)
		d.warnf(h.Key.Pos, "%s: host blocks are deprecated (keepalived too); write one SMTP_CHECK per host, with connect_ip and connect_port", item)
	}
	ownConnection := main.ConnectIP.IsValid() || main.ConnectPort != 0 || main.BindTo.IsValid() ||
		main.BindPort != 0 || main.BindIf != "" || main.ConnectTimeout != 0 || main.Fwmark != 0
	if len(hosts) == 0 || ownConnection {
		return append([]Checker{main}, hosts...)
	}
	return hosts
}

var sslSchema = &schema[SSL]{
	words: sslWords,
	fields: map[string]field[SSL]{
		"password":    stringField(func(s *SSL) *string { return &s.Password }),
		"ca":          stringField(func(s *SSL) *string { return &s.CA }),
		"certificate": stringField(func(s *SSL) *string { return &s.Certificate }),
		"key":         stringField(func(s *SSL) *string { return &s.Key }),
	},
}

// decodeSSL reads the top-level "SSL { ... }" block; a second one adds to the first, as
// keepalived has one SSL context.
func decodeSSL(d *decoder, n *node, c *configDraft) {
	if len(n.Args) > 0 || n.Block == nil {
		d.errorf(n.Key.Pos, "SSL: want SSL { ... }")
		return
	}
	if c.cfg.SSL == nil {
		c.cfg.SSL = &SSL{}
	}
	sslSchema.decode(d, "SSL", n.Block.Nodes, c.cfg.SSL)
}
