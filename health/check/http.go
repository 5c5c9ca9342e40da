package check

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// HTTPProtocol is http_protocol: the request's HTTP version and whether
// it asks the server to close the connection.
type HTTPProtocol string

// The values keepalived accepts. The zero value means HTTP10.
const (
	HTTP10  HTTPProtocol = "1.0"  // HTTP/1.0, no Connection header (keepalived's default)
	HTTP10C HTTPProtocol = "1.0C" // HTTP/1.0 with "Connection: close"
	HTTP11  HTTPProtocol = "1.1"  // HTTP/1.1 with "Connection: close"
)

// DefaultMaxBody is how much of a body an HTTP check reads when
// HTTPOptions.MaxBody is zero.
const DefaultMaxBody = 1 << 20

// userAgent is keepalived's, kept so that servers which let health
// checks through by User-Agent let ours through too.
const userAgent = "KeepAliveClient"

// URL is one url block of HTTP_GET or SSL_GET. The real passes only if
// every URL does.
type URL struct {
	// Path is the request target sent as is, e.g. "/health?full=1".
	Path string
	// Digest, when set, is the MD5 of the body in hex (see Digest).
	Digest string
	// Status is status_code; the zero set means DefaultStatus (2xx).
	Status StatusSet
	// VirtualHost overrides HTTPOptions.VirtualHost for this URL.
	VirtualHost string
	// Regex, when set, must match the body (keepalived's regex; Go's
	// RE2 syntax, not PCRE); with RegexNoMatch it must not.
	Regex        *regexp.Regexp
	RegexNoMatch bool
}

// TLSOptions makes an HTTP check SSL_GET.
type TLSOptions struct {
	// SNI sends a server name in the handshake (enable_sni): SNIName, or
	// else the URL's or the check's virtual host.
	SNI     bool
	SNIName string
	// Verify checks the server's certificate chain against RootCAs (the
	// system's when nil) and its name: SNIName, the virtual host, or the
	// address. keepalived does not verify, and neither does the zero
	// value: a real with a self-signed certificate passes.
	Verify  bool
	RootCAs *x509.CertPool
	// Certificates are client certificates to offer (SSL certificate/key).
	Certificates []tls.Certificate
}

// HTTPOptions configures HTTP_GET, or SSL_GET when TLS is set.
type HTTPOptions struct {
	Conn
	URLs []URL
	// VirtualHost is the Host header (and SNI name) for URLs that name
	// none: the check's, real server's or virtual server's virtualhost,
	// as the control plane resolves it. Empty sends the address and port.
	VirtualHost string
	// Protocol is http_protocol; empty means HTTP10.
	Protocol HTTPProtocol
	// MaxBody bounds the body read for Digest and Regex; a longer body
	// fails the check. Zero means DefaultMaxBody.
	MaxBody int64
	// TLS, when set, makes the check SSL_GET.
	TLS *TLSOptions
}

// HTTP is HTTP_GET or SSL_GET: for each URL it opens a connection, sends
// one GET, and passes when the status is in the URL's set and the body
// has the URL's digest and matches its regex. Redirects are not followed:
// a 301 is judged as a status like any other.
type HTTP struct {
	opts HTTPOptions
}

// NewHTTP validates o and returns the checker.
func NewHTTP(o HTTPOptions) (*HTTP, error) {
	name := "HTTP_GET"
	if o.TLS != nil {
		name = "SSL_GET"
	}
	if err := o.validate(true); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(o.URLs) == 0 {
		return nil, fmt.Errorf("%s: url: none given", name)
	}
	for i, u := range o.URLs {
		if !strings.HasPrefix(u.Path, "/") && u.Path != "*" && !strings.Contains(u.Path, "://") {
			return nil, fmt.Errorf("%s: url %d: path %q: want an absolute path", name, i+1, u.Path)
		}
		if strings.ContainsAny(u.Path, " \r\n") {
			return nil, fmt.Errorf("%s: url %d: path %q: contains a space or line break", name, i+1, u.Path)
		}
		if u.Digest != "" {
			if b, err := hex.DecodeString(u.Digest); err != nil || len(b) != md5.Size {
				return nil, fmt.Errorf("%s: url %d: digest %q: want 32 hex digits", name, i+1, u.Digest)
			}
			o.URLs[i].Digest = strings.ToLower(u.Digest)
		}
		if u.Status.IsZero() {
			o.URLs[i].Status = DefaultStatus
		}
		if strings.ContainsAny(u.VirtualHost, " \r\n") {
			return nil, fmt.Errorf("%s: url %d: virtualhost %q: contains a space or line break", name, i+1, u.VirtualHost)
		}
	}
	if strings.ContainsAny(o.VirtualHost, " \r\n") {
		return nil, fmt.Errorf("%s: virtualhost %q: contains a space or line break", name, o.VirtualHost)
	}
	switch o.Protocol {
	case "":
		o.Protocol = HTTP10
	case HTTP10, HTTP10C, HTTP11:
	default:
		return nil, fmt.Errorf("%s: http_protocol %q: want 1.0, 1.0C or 1.1", name, o.Protocol)
	}
	if o.MaxBody < 0 {
		return nil, fmt.Errorf("%s: max body: want >= 0, got %d", name, o.MaxBody)
	}
	if o.MaxBody == 0 {
		o.MaxBody = DefaultMaxBody
	}
	// The caller's slice stays theirs.
	o.URLs = append([]URL(nil), o.URLs...)
	return &HTTP{opts: o}, nil
}

// Check fetches every URL in turn, all within one attempt's deadline,
// and stops at the first that fails.
func (c *HTTP) Check(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel := c.opts.attemptCtx(ctx)
	defer cancel()
	var resp Response
	for _, u := range c.opts.URLs {
		var err error
		resp, err = c.Fetch(ctx, u)
		if err != nil {
			return fail(start, "%s: %v", u.Path, err)
		}
		if reason := judge(u, resp); reason != "" {
			return fail(start, "%s: %s", u.Path, reason)
		}
	}
	if len(c.opts.URLs) == 1 {
		return pass(start, fmt.Sprintf("status %d", resp.Status))
	}
	return pass(start, fmt.Sprintf("%d urls ok", len(c.opts.URLs)))
}

// judge returns why resp fails u, or "".
func judge(u URL, resp Response) string {
	switch {
	case !u.Status.Contains(resp.Status):
		return fmt.Sprintf("status %d not in %s", resp.Status, u.Status)
	case u.Digest != "" && resp.Digest != u.Digest:
		return fmt.Sprintf("digest mismatch: got %s", resp.Digest)
	case u.Regex != nil && u.Regex.Match(resp.Body) == u.RegexNoMatch:
		if u.RegexNoMatch {
			return fmt.Sprintf("body matches %q", u.Regex)
		}
		return fmt.Sprintf("body does not match %q", u.Regex)
	}
	return ""
}

// Response is what Fetch saw.
type Response struct {
	Status int
	// Digest is the body's MD5 in hex, and Body the body itself, when
	// the URL has a Digest or Regex (or Fetch was asked for them).
	Digest string
	Body   []byte
}

// Fetch sends u's GET over a new connection and reads the reply; it is
// what Check does for one URL, for tools such as `xlbctl genhash`, which
// pass a URL with a Digest of their own to get the body read. The
// connection is made on the calling goroutine.
func (c *HTTP) Fetch(ctx context.Context, u URL) (Response, error) {
	ctx, cancel := c.opts.attemptCtx(ctx)
	defer cancel()
	conn, err := c.opts.dialTCP(ctx)
	if err != nil {
		return Response{}, err
	}
	defer conn.Close()
	host := c.host(u)
	if t := c.opts.TLS; t != nil {
		tc := tls.Client(conn, c.tlsConfig(u, host))
		if err := tc.HandshakeContext(ctx); err != nil {
			return Response{}, fmt.Errorf("tls handshake: %w", unwrapOp(err))
		}
		conn = tc
	}
	if _, err := io.WriteString(conn, c.request(u, host)); err != nil {
		return Response{}, fmt.Errorf("send request: %w", unwrapOp(err))
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		return Response{}, fmt.Errorf("read response: %w", unwrapOp(err))
	}
	defer resp.Body.Close()
	out := Response{Status: resp.StatusCode}
	if u.Digest == "" && u.Regex == nil {
		return out, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxBody+1))
	if err != nil {
		return out, fmt.Errorf("read body: %w", unwrapOp(err))
	}
	if int64(len(body)) > c.opts.MaxBody {
		return out, fmt.Errorf("body longer than %d bytes", c.opts.MaxBody)
	}
	sum := md5.Sum(body)
	out.Digest, out.Body = hex.EncodeToString(sum[:]), body
	return out, nil
}

// host is the Host header: the virtual host, else the address and port.
func (c *HTTP) host(u URL) string {
	if u.VirtualHost != "" {
		return u.VirtualHost
	}
	if c.opts.VirtualHost != "" {
		return c.opts.VirtualHost
	}
	return c.opts.target().String()
}

// request is keepalived's GET, byte for byte but for the Host of an
// address without a virtual host, which netip writes in RFC 3986 form.
func (c *HTTP) request(u URL, host string) string {
	var b strings.Builder
	version, closeConn := "1.0", c.opts.Protocol != HTTP10
	if c.opts.Protocol == HTTP11 {
		version = "1.1"
	}
	fmt.Fprintf(&b, "GET %s HTTP/%s\r\nUser-Agent: %s\r\n", u.Path, version, userAgent)
	if closeConn {
		b.WriteString("Connection: close\r\n")
	}
	fmt.Fprintf(&b, "Host: %s\r\n\r\n", host)
	return b.String()
}

// serverName is the name SSL_GET sends as SNI and verifies against.
func (c *HTTP) serverName(u URL) string {
	switch {
	case c.opts.TLS.SNIName != "":
		return c.opts.TLS.SNIName
	case u.VirtualHost != "":
		return u.VirtualHost
	default:
		return c.opts.VirtualHost
	}
}

// tlsConfig builds the client config for one fetch. Verification, when
// asked for, is done by hand so that it works without SNI too (Go ties
// the verified name to the SNI name).
func (c *HTTP) tlsConfig(u URL, host string) *tls.Config {
	t := c.opts.TLS
	name := c.serverName(u)
	cfg := &tls.Config{
		InsecureSkipVerify: true,
		Certificates:       t.Certificates,
		// keepalived negotiates whatever OpenSSL allows; TLS 1.0 and 1.1
		// reals are rare enough not to matter and Go refuses them.
		MinVersion: tls.VersionTLS12,
	}
	if t.SNI && name != "" {
		cfg.ServerName = name
	}
	if t.Verify {
		verifyName := name
		if verifyName == "" {
			verifyName = c.opts.target().Addr().String()
		}
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyChain(cs, t.RootCAs, verifyName)
		}
	}
	return cfg
}

// verifyChain checks the peer's chain against roots and its name.
func verifyChain(cs tls.ConnectionState, roots *x509.CertPool, name string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no server certificate")
	}
	inter := x509.NewCertPool()
	for _, cert := range cs.PeerCertificates[1:] {
		inter.AddCert(cert)
	}
	leaf := cs.PeerCertificates[0]
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
		return err
	}
	return leaf.VerifyHostname(name)
}

// Digest returns the MD5 of everything r yields, in lower-case hex: the
// value for a url's digest, as keepalived's genhash prints it.
func Digest(r io.Reader) (string, error) {
	h := md5.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (c *HTTP) String() string {
	name := "HTTP_GET "
	if c.opts.TLS != nil {
		name = "SSL_GET "
	}
	return name + c.opts.target().String() + c.opts.URLs[0].Path
}
