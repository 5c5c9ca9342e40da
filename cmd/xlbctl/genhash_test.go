package main

import (
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestGenhash fetches a page from a server on loopback and checks the
// digest is the MD5 of its body, the status is printed, and the virtual
// host reaches the server.
func TestGenhash(t *testing.T) {
	const body = "healthy enough\n"
	var host string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host = r.Host
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body))
	}))
	defer srv.Close()
	sum := md5.Sum([]byte(body))
	want := hex.EncodeToString(sum[:])

	out, code := runCLI(t, "genhash", srv.URL+"/health", "--virtualhost", "www.example.org")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, w := range []string{"status_code 200", "digest " + want} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if host != "www.example.org" {
		t.Errorf("server saw Host %q, want the virtual host", host)
	}

	out, code = runCLI(t, "genhash", srv.URL+"/missing")
	if code != 0 || !strings.Contains(out, "status_code 404") {
		t.Errorf("missing page: exit %d, output:\n%s\nwant status_code 404", code, out)
	}
}
