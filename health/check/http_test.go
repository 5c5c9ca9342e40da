package check

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// request is what the test server saw of a request.
type request struct {
	host, proto, conn, sni, ua string
}

// seen records the last request.
type seen struct {
	mu   sync.Mutex
	last request
}

func (s *seen) get() request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// testHandler serves /ok ("hello"), /status/N, /big (2000 bytes),
// /chunked (sent in chunks), /slow (waits until the test ends) and
// /redirect.
func testHandler(s *seen, stop <-chan struct{}) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") })
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		w.WriteHeader(code)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Repeat("x", 2000))
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hel")
		w.(http.Flusher).Flush()
		fmt.Fprint(w, "lo")
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	})
	mux.Handle("/redirect", http.RedirectHandler("/ok", http.StatusMovedPermanently))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.last = request{host: r.Host, proto: r.Proto, conn: r.Header.Get("Connection"), ua: r.UserAgent()}
		if r.TLS != nil {
			s.last.sni = r.TLS.ServerName
		}
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	})
}

// serveHTTP starts the test server in the lab's server namespace, over
// TLS when cert is given, and returns its address.
func serveHTTP(t *testing.T, l *lab, s *seen, cert *tls.Certificate) netip.AddrPort {
	t.Helper()
	var ln net.Listener = l.listenTCP(t, serverV4)
	if cert != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*cert}})
	}
	stop := make(chan struct{})
	srv := &http.Server{
		Handler:           testHandler(s, stop),
		ReadHeaderTimeout: 5 * time.Second,
		// Failed handshakes are what some cases test for.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { close(stop); srv.Close(); <-done })
	return addrPort(ln.Addr())
}

const helloMD5 = "5d41402abc4b2a76b9719d911017c592" // md5("hello")

func TestHTTP(t *testing.T) {
	l := newLab(t)
	var s seen
	addr := serveHTTP(t, l, &s, nil)
	url := func(path string) URL { return URL{Path: path} }
	tests := []struct {
		name   string
		opts   HTTPOptions
		up     bool
		reason string
	}{
		{"200 in default set", HTTPOptions{URLs: []URL{url("/ok")}}, true, "status 200"},
		{"503 out of default set", HTTPOptions{URLs: []URL{url("/status/503")}}, false, "/status/503: status 503 not in 200-299"},
		{"503 in listed set", HTTPOptions{URLs: []URL{{Path: "/status/503", Status: MustParseStatusSet("200 500-503")}}}, true, "status 503"},
		{"404 out of listed set", HTTPOptions{URLs: []URL{{Path: "/status/404", Status: MustParseStatusSet("200-299 301")}}}, false, "status 404 not in 200-299 301"},
		{"redirect not followed", HTTPOptions{URLs: []URL{url("/redirect")}}, false, "status 301"},
		{"digest match", HTTPOptions{URLs: []URL{{Path: "/ok", Digest: helloMD5}}}, true, "status 200"},
		{"digest upper case", HTTPOptions{URLs: []URL{{Path: "/ok", Digest: strings.ToUpper(helloMD5)}}}, true, "status 200"},
		{"digest mismatch", HTTPOptions{URLs: []URL{{Path: "/ok", Digest: strings.Repeat("0", 32)}}}, false, "digest mismatch: got " + helloMD5},
		{"chunked body digest", HTTPOptions{Protocol: HTTP11, URLs: []URL{{Path: "/chunked", Digest: helloMD5}}}, true, "status 200"},
		{"body too long", HTTPOptions{MaxBody: 1000, URLs: []URL{{Path: "/big", Digest: helloMD5}}}, false, "body longer than 1000 bytes"},
		{"long body without digest", HTTPOptions{MaxBody: 1000, URLs: []URL{url("/big")}}, true, "status 200"},
		{"regex match", HTTPOptions{URLs: []URL{{Path: "/ok", Regex: regexp.MustCompile("^hel+o$")}}}, true, "status 200"},
		{"regex no match", HTTPOptions{URLs: []URL{{Path: "/ok", Regex: regexp.MustCompile("bye")}}}, false, `body does not match "bye"`},
		{"regex_no_match and body matches", HTTPOptions{URLs: []URL{{Path: "/ok", Regex: regexp.MustCompile("hel"), RegexNoMatch: true}}}, false, `body matches "hel"`},
		{"all urls pass", HTTPOptions{URLs: []URL{url("/ok"), url("/status/204")}}, true, "2 urls ok"},
		{"second url fails", HTTPOptions{URLs: []URL{url("/ok"), url("/status/500")}}, false, "/status/500: status 500"},
		{"closed port", HTTPOptions{Conn: Conn{Addr: netip.AddrPortFrom(serverV4, freePort(t, l, "tcp"))}, URLs: []URL{url("/ok")}}, false, "connection refused"},
		{"deadline during response", HTTPOptions{URLs: []URL{url("/slow")}}, false, "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.opts.Addr.IsValid() {
				tc.opts.Addr = addr
			}
			c, err := NewHTTP(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			timeout := 2 * time.Second
			if strings.Contains(tc.name, "deadline") {
				timeout = 300 * time.Millisecond
			}
			wantResult(t, l.check(t, c, timeout), tc.up, tc.reason)
		})
	}
}

// TestHTTPRequest checks the request line and headers the server sees.
func TestHTTPRequest(t *testing.T) {
	l := newLab(t)
	var s seen
	addr := serveHTTP(t, l, &s, nil)
	tests := []struct {
		name string
		opts HTTPOptions
		want request
	}{
		{"defaults", HTTPOptions{URLs: []URL{{Path: "/ok"}}},
			request{host: addr.String(), proto: "HTTP/1.0", ua: "KeepAliveClient"}},
		{"1.0C", HTTPOptions{Protocol: HTTP10C, URLs: []URL{{Path: "/ok"}}},
			request{host: addr.String(), proto: "HTTP/1.0", conn: "close", ua: "KeepAliveClient"}},
		{"1.1", HTTPOptions{Protocol: HTTP11, URLs: []URL{{Path: "/ok"}}},
			request{host: addr.String(), proto: "HTTP/1.1", conn: "close", ua: "KeepAliveClient"}},
		{"check virtualhost", HTTPOptions{VirtualHost: "www.example.test", URLs: []URL{{Path: "/ok"}}},
			request{host: "www.example.test", proto: "HTTP/1.0", ua: "KeepAliveClient"}},
		{"url virtualhost wins", HTTPOptions{VirtualHost: "www.example.test", URLs: []URL{{Path: "/ok", VirtualHost: "api.example.test"}}},
			request{host: "api.example.test", proto: "HTTP/1.0", ua: "KeepAliveClient"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Addr = addr
			c, err := NewHTTP(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			wantResult(t, l.check(t, c, 2*time.Second), true, "status 200")
			if got := s.get(); got != tc.want {
				t.Errorf("server saw %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSSL(t *testing.T) {
	l := newLab(t)
	cert, pool := selfSigned(t, "www.example.test")
	var s seen
	addr := serveHTTP(t, l, &s, &cert)
	tests := []struct {
		name    string
		vhost   string
		tls     TLSOptions
		up      bool
		reason  string
		wantSNI string
	}{
		{"self-signed, no verify", "", TLSOptions{}, true, "status 200", ""},
		{"vhost without enable_sni sends none", "www.example.test", TLSOptions{}, true, "status 200", ""},
		{"enable_sni sends virtualhost", "www.example.test", TLSOptions{SNI: true}, true, "status 200", "www.example.test"},
		{"sni_name wins", "www.example.test", TLSOptions{SNI: true, SNIName: "other.example.test"}, true, "status 200", "other.example.test"},
		{"verify against CA", "www.example.test", TLSOptions{Verify: true, RootCAs: pool}, true, "status 200", ""},
		{"verify, unknown CA", "www.example.test", TLSOptions{Verify: true, RootCAs: x509.NewCertPool()}, false, "tls handshake", ""},
		{"verify, wrong name", "", TLSOptions{Verify: true, RootCAs: pool, SNI: true, SNIName: "evil.example.test"}, false, "not evil.example.test", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc := tc
			c, err := NewHTTP(HTTPOptions{
				Conn:        Conn{Addr: addr},
				VirtualHost: tc.vhost,
				URLs:        []URL{{Path: "/ok", Digest: helloMD5}},
				TLS:         &tc.tls,
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.String(); !strings.HasPrefix(got, "SSL_GET ") {
				t.Errorf("String() = %q, want SSL_GET ...", got)
			}
			wantResult(t, l.check(t, c, 2*time.Second), tc.up, tc.reason)
			if tc.up {
				if got := s.get().sni; got != tc.wantSNI {
					t.Errorf("server saw SNI %q, want %q", got, tc.wantSNI)
				}
			}
		})
	}
}

// selfSigned makes a certificate for name and a pool that trusts it.
func selfSigned(t *testing.T, name string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestNewHTTPErrors(t *testing.T) {
	addr := netip.AddrPortFrom(serverV4, 80)
	for _, tc := range []struct {
		name string
		opts HTTPOptions
	}{
		{"no url", HTTPOptions{Conn: Conn{Addr: addr}}},
		{"relative path", HTTPOptions{Conn: Conn{Addr: addr}, URLs: []URL{{Path: "ok"}}}},
		{"path with space", HTTPOptions{Conn: Conn{Addr: addr}, URLs: []URL{{Path: "/a b"}}}},
		{"short digest", HTTPOptions{Conn: Conn{Addr: addr}, URLs: []URL{{Path: "/", Digest: "abc"}}}},
		{"bad protocol", HTTPOptions{Conn: Conn{Addr: addr}, Protocol: "2", URLs: []URL{{Path: "/"}}}},
		{"vhost with CRLF", HTTPOptions{Conn: Conn{Addr: addr}, VirtualHost: "a\r\nX: y", URLs: []URL{{Path: "/"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewHTTP(tc.opts); err == nil {
				t.Errorf("NewHTTP(%+v) succeeded, want an error", tc.opts)
			}
		})
	}
}

func TestDigest(t *testing.T) {
	got, err := Digest(strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if got != helloMD5 {
		t.Errorf("Digest(hello) = %s, want %s", got, helloMD5)
	}
}
