package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"xlb/controlplane/api"
)

// TestFNATClientCommand runs xlbctl fnat-client against a daemon that
// knows one full-NAT flow: the answer names its client, a flow it does
// not know (404) and bad arguments exit 2, as xlbctl answers every 4xx.
func TestFNATClientCommand(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "xlbd.sock")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathFNATClient, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("real") != "198.19.0.11:8080" || q.Get("local") != "198.19.0.200:40123" || q.Get("protocol") != "tcp" {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(api.Error{Error: "not found: no full-NAT flow"})
			return
		}
		json.NewEncoder(w).Encode(api.FNATClient{Real: q.Get("real"), Local: q.Get("local"), Protocol: "tcp",
			Client: "198.18.1.10:40000", Service: "198.18.0.100:80/tcp", State: "established", IdleS: 2})
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })

	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"found", []string{"198.19.0.11:8080", "198.19.0.200:40123"}, 0,
			"198.19.0.200:40123 -> 198.19.0.11:8080 (tcp): client 198.18.1.10:40000, service 198.18.0.100:80/tcp, established, idle 2s"},
		{"json", []string{"198.19.0.11:8080", "198.19.0.200:40123", "-o", "json"}, 0, `"client": "198.18.1.10:40000"`},
		{"unknown flow", []string{"198.19.0.11:8080", "198.19.0.200:40123", "-p", "udp"}, 2, "no full-NAT flow"},
		{"bad local", []string{"198.19.0.11:8080", "198.19.0.200"}, 2, `local "198.19.0.200": want IP:PORT`},
		{"bad protocol", []string{"198.19.0.11:8080", "198.19.0.200:1", "-p", "sctp"}, 2, `protocol "sctp": want tcp or udp`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCLI(t, append([]string{"--socket", socket, "fnat-client"}, tc.args...)...)
			if code != tc.wantCode || !strings.Contains(out, tc.wantOut) {
				t.Errorf("exit %d, output:\n%s\nwant exit %d and %q", code, out, tc.wantCode, tc.wantOut)
			}
		})
	}
}
