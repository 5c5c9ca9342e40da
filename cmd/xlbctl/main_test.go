package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xlb/controlplane/api"
)

// fakeDaemon answers the API on a unix socket with canned answers, and
// records the weight requests it got.
type fakeDaemon struct {
	socket   string
	requests []api.WeightRequest
}

func startFakeDaemon(t *testing.T) *fakeDaemon {
	t.Helper()
	d := &fakeDaemon{socket: filepath.Join(t.TempDir(), "xlbd.sock")}
	l, err := net.Listen("unix", d.socket)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathServices, func(w http.ResponseWriter, _ *http.Request) {
		over := 0
		json.NewEncoder(w).Encode(api.Services{Services: []api.Service{{
			VIP: "198.18.0.100", Port: 80, Protocol: "tcp", Scheduler: "wrr", ServedBy: "mh", Kind: "DR",
			Status: "active", Packets: 10, Bytes: 1000, OutPackets: 7, OutBytes: 777, Quorum: 1, QuorumUp: true,
			Reals: []api.Real{
				{Address: "198.18.0.11", Port: 80, Weight: 3, EffectiveWeight: 3, MAC: "aa:00:00:00:00:11", State: "active", Packets: 7},
				{Address: "198.18.0.13", Port: 80, Weight: 1, Override: &over, EffectiveWeight: 0, MAC: "aa:00:00:00:00:13", State: "out", Reason: "weight 0"},
			},
		}}})
	})
	mux.HandleFunc("GET "+api.PathReasons, func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(api.Reasons{Reasons: map[string]uint64{"tx": 1200, "pass_not_vip": 5}})
	})
	mux.HandleFunc("GET "+api.PathChecks, func(w http.ResponseWriter, _ *http.Request) {
		w7 := 7
		json.NewEncoder(w).Encode(api.Checks{Services: []api.CheckService{{
			Name: "198.18.0.100:80/tcp", QuorumUp: false, LiveWeight: 3, Quorum: 4,
			Reals: []api.CheckReal{
				{Address: "198.18.0.11:80", Up: true, Weight: 3, Checks: []api.CheckDetail{
					{ID: "HTTP_GET 198.18.0.11:80/health", Up: true, LastUp: true, LatencyMS: 0.47}}},
				{Address: "198.18.0.12:80", Up: false, Weight: 7, Reason: "TCP_CHECK 198.18.0.12:80: connection refused",
					Checks: []api.CheckDetail{{ID: "TCP_CHECK 198.18.0.12:80", Reason: "connection refused",
						ConsecutiveFailures: 4, DynamicWeight: &w7}}},
			},
		}}})
	})
	mux.HandleFunc("GET "+api.PathVRRP, func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(api.VRRP{
			Instances: []api.VRRPInstance{{Name: "VI_1", VRID: 51, Version: 3, Interface: "eth0", State: "BACKUP",
				Priority: 100, EffectivePriority: 90, Master: "198.18.0.2", MasterPriority: 150,
				Since: time.Now().Add(-time.Minute), Reason: "higher priority 150 from 198.18.0.2", VIPs: []string{"198.18.0.100"}}},
			Groups: []api.VRRPGroup{{Name: "G1", State: "BACKUP", Members: []string{"VI_1"}, Since: time.Now()}},
		})
	})
	mux.HandleFunc("GET "+api.PathExplain, func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(api.Explanation{
			Service: r.URL.Query().Get("service"), Client: r.URL.Query().Get("client"), Real: "198.18.0.12:80",
			DecidedBy: "connection table", Conn: &api.TrackedConn{Real: "198.18.0.12:80", State: "established", IdleS: 3, TimeoutS: 900},
			Scheduler: "mh", Hash: 0xdeadbeef, Slot: 17, TableSize: 65537, SlotReal: "198.18.0.11:80",
		})
	})
	mux.HandleFunc("PUT "+api.PathWeight, func(w http.ResponseWriter, r *http.Request) {
		var req api.WeightRequest
		json.NewDecoder(r.Body).Decode(&req)
		d.requests = append(d.requests, req)
		if req.Real != "198.18.0.11:80" {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(api.Error{Error: "service 198.18.0.100:80/tcp has no real server " + req.Real})
			return
		}
		json.NewEncoder(w).Encode(api.WeightResponse{Service: req.Service, Real: req.Real, Weight: *req.Weight})
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return d
}

// runCLI runs xlbctl with args and returns its output and exit status.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	if err != nil {
		out.WriteString(err.Error())
		return out.String(), exitCode(err)
	}
	return out.String(), 0
}

func TestCLI(t *testing.T) {
	d := startFakeDaemon(t)
	dead := filepath.Join(t.TempDir(), "dead.sock")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
	}{
		{name: "services text", args: []string{"--socket", d.socket, "services"}, wantOut: []string{
			"TCP", "198.18.0.100:80", "wrr(as mh)", "DR", "198.18.0.11:80", "aa:00:00:00:00:11", "active",
			"198.18.0.13:80", "0*", "out",
		}},
		{name: "services json", args: []string{"--socket", d.socket, "services", "-o", "json"}, wantOut: []string{
			`"effective_weight": 3`, `"override": 0`, `"served_by": "mh"`,
		}},
		{name: "weight ok", args: []string{"--socket", d.socket, "weight", "198.18.0.100:80/tcp", "198.18.0.11:80", "0"},
			wantOut: []string{"198.18.0.100:80/tcp 198.18.0.11:80 weight 0"}},
		{name: "unknown real", args: []string{"--socket", d.socket, "weight", "198.18.0.100:80", "198.18.0.14:80", "1"},
			wantCode: 2, wantOut: []string{"has no real server 198.18.0.14:80"}},
		{name: "weight too big", args: []string{"--socket", d.socket, "weight", "198.18.0.100:80", "198.18.0.11:80", "70000"},
			wantCode: 2, wantOut: []string{`weight: want 0..65535, got "70000"`}},
		{name: "bad service", args: []string{"--socket", d.socket, "weight", "198.18.0.100", "198.18.0.11:80", "1"},
			wantCode: 2, wantOut: []string{`service "198.18.0.100"`}},
		{name: "bad real", args: []string{"--socket", d.socket, "weight", "198.18.0.100:80", "r1", "1"},
			wantCode: 2, wantOut: []string{`real "r1": want RIP:PORT`}},
		{name: "missing argument", args: []string{"--socket", d.socket, "weight", "198.18.0.100:80"},
			wantCode: 2, wantOut: []string{"accepts 3 arg(s)"}},
		{name: "services stats", args: []string{"--socket", d.socket, "services", "--stats"},
			wantOut: []string{"Conns", "InPkts", "OutPkts", "InBytes", "OutBytes", "198.18.0.100:80", "777", "ActiveConn", "InActConn"}},
		{name: "services rate", args: []string{"--socket", d.socket, "services", "--rate", "--interval", "10ms"},
			wantOut: []string{"rates over", "PPS", "BPS", "198.18.0.100:80", "198.18.0.13:80"}},
		{name: "services rate json", args: []string{"--socket", d.socket, "services", "--rate", "--interval", "10ms", "-o", "json"},
			wantOut: []string{`"packets_per_second": 0`, `"interval_seconds"`}},
		{name: "services bad interval", args: []string{"--socket", d.socket, "services", "--rate", "--interval", "0s"},
			wantCode: 2, wantOut: []string{"--interval 0s: want more than 0"}},
		{name: "unknown flag", args: []string{"--socket", d.socket, "services", "--bogus"},
			wantCode: 2, wantOut: []string{"unknown flag: --bogus"}},
		{name: "bad output", args: []string{"--socket", d.socket, "services", "-o", "yaml"},
			wantCode: 2, wantOut: []string{`-o "yaml": want text or json`}},
		{name: "reasons text", args: []string{"--socket", d.socket, "reasons"}, wantOut: []string{"pass_not_vip", "5", "tx", "1200"}},
		{name: "reasons json", args: []string{"--socket", d.socket, "reasons", "-o", "json"}, wantOut: []string{`"tx": 1200`}},
		{name: "reasons bad output", args: []string{"--socket", d.socket, "reasons", "-o", "xml"}, wantCode: 2, wantOut: []string{`-o "xml"`}},
		{name: "explain", args: []string{"--socket", d.socket, "explain", "198.18.0.100:80/tcp", "198.18.1.10:40000"}, wantOut: []string{
			"198.18.1.10:40000 -> 198.18.0.100:80/tcp: real 198.18.0.12:80, decided by the connection table",
			"established, idle 3s of 900s", "slot 17 of 65537 -> 198.18.0.11:80"}},
		{name: "explain json", args: []string{"--socket", d.socket, "explain", "198.18.0.100:80", "198.18.1.10:40000", "-o", "json"},
			wantOut: []string{`"decided_by": "connection table"`, `"slot": 17`}},
		{name: "explain bad client", args: []string{"--socket", d.socket, "explain", "198.18.0.100:80", "198.18.1.10"},
			wantCode: 2, wantOut: []string{`client "198.18.1.10": want IP:PORT`}},
		{name: "checks text", args: []string{"--socket", d.socket, "checks"}, wantOut: []string{
			"198.18.0.100:80/tcp", "quorum DOWN", "3/4", "HTTP_GET 198.18.0.11:80/health", "0.47ms",
			"198.18.0.12:80", "DOWN", "TCP_CHECK 198.18.0.12:80: connection refused"}},
		{name: "checks json", args: []string{"--socket", d.socket, "checks", "-o", "json"},
			wantOut: []string{`"consecutive_failures": 4`, `"dynamic_weight": 7`}},
		{name: "genhash needs a URL", args: []string{"genhash"}, wantCode: 2, wantOut: []string{"accepts 1 arg(s)"}},
		{name: "genhash wants an address", args: []string{"genhash", "http://example.org/"}, wantCode: 2,
			wantOut: []string{`host "example.org": want an IP address`}},
		{name: "genhash wants http", args: []string{"genhash", "ftp://198.18.0.1/"}, wantCode: 2,
			wantOut: []string{"want http:// or https://"}},
		{name: "vrrp text", args: []string{"--socket", d.socket, "vrrp"}, wantOut: []string{
			"VI_1", "51", "BACKUP", "90 (100)", "198.18.0.2 (150)", "198.18.0.100", "1m0s ago",
			"higher priority 150 from 198.18.0.2", "G1"}},
		{name: "vrrp json", args: []string{"--socket", d.socket, "vrrp", "-o", "json"},
			wantOut: []string{`"effective_priority": 90`, `"master": "198.18.0.2"`}},
		{name: "daemon unreachable", args: []string{"--socket", dead, "services"},
			wantCode: 1, wantOut: []string{"xlbd unreachable"}},
		{name: "weight with daemon unreachable", args: []string{"--socket", dead, "weight", "198.18.0.100:80", "198.18.0.11:80", "1"},
			wantCode: 1, wantOut: []string{"xlbd unreachable"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCLI(t, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d; output:\n%s", code, tc.wantCode, out)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output does not contain %q:\n%s", w, out)
				}
			}
		})
	}
	if len(d.requests) != 2 || *d.requests[0].Weight != 0 || d.requests[0].Service != "198.18.0.100:80/tcp" {
		t.Errorf("daemon got requests %+v, want the two well-formed ones", d.requests)
	}
}
