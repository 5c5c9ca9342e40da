package lab

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseReply(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantName string
		wantPeer netip.AddrPort
		wantErr  bool
	}{
		{name: "v4", body: "r1 198.18.0.10:43512\n", wantName: "r1", wantPeer: netip.MustParseAddrPort("198.18.0.10:43512")},
		{name: "v6", body: "r2 [2001:db8::10]:80\n", wantName: "r2", wantPeer: netip.MustParseAddrPort("[2001:db8::10]:80")},
		{name: "no newline", body: "r1 198.18.0.10:1", wantErr: true},
		{name: "no address", body: "r1\n", wantErr: true},
		{name: "no port", body: "r1 198.18.0.10\n", wantErr: true},
		{name: "empty name", body: " 198.18.0.10:1\n", wantErr: true},
		{name: "extra word", body: "r1 198.18.0.10:1 x\n", wantErr: true},
		{name: "empty", body: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name, peer, err := ParseReply(tc.body)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseReply(%q) error = %v, want error %v", tc.body, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantName+" "+tc.wantPeer.String(), name+" "+peer.String()); diff != "" && !tc.wantErr {
				t.Errorf("ParseReply(%q) -want +got:\n%s", tc.body, diff)
			}
		})
	}
}

// FuzzParseReply checks the parser never panics and that whatever it
// accepts formats back to the same body.
func FuzzParseReply(f *testing.F) {
	seeds, err := filepath.Glob("testdata/replies/*")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, body string) {
		name, peer, err := ParseReply(body)
		if err != nil {
			return
		}
		again := FormatReply(name, peer)
		name2, peer2, err := ParseReply(again)
		if err != nil {
			t.Fatalf("ParseReply(FormatReply(%q, %v)) = %v", name, peer, err)
		}
		if name2 != name || peer2 != peer {
			t.Fatalf("round trip of %q: got %q %v, want %q %v", body, name2, peer2, name, peer)
		}
	})
}

// TestServeAndRunClient runs the server and the client in this process on
// loopback: every request gets its own connection and the server reports
// the client's address and port unchanged.
func TestServeAndRunClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, "r9", ln, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})

	rep, err := RunClient(context.Background(), ClientOptions{
		URL: "http://" + ln.Addr().String() + "/", Count: 50, Parallel: 3, Timeout: 20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*Seen{"r9": {Count: 50, Peers: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}}
	if diff := cmp.Diff(want, rep.Servers, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("servers -want +got:\n%s", diff)
	}
	if rep.Requests != 50 || rep.Errors != 0 {
		t.Errorf("requests %d errors %d (first %q), want 50 and 0", rep.Requests, rep.Errors, rep.FirstError)
	}
}

// TestRunClientCountsErrors checks refused connections are counted, not
// retried or dropped.
func TestRunClientCountsErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	rep, err := RunClient(context.Background(), ClientOptions{URL: "http://" + addr + "/", Count: 7, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 7 || rep.Errors != 7 || rep.OK() != 0 || !strings.Contains(rep.FirstError, "refused") {
		t.Errorf("report = %+v, want 7 refused requests", rep)
	}
}

func TestServeRejectsBadName(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := Serve(context.Background(), "two words", ln, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("Serve accepted a name with a space; replies would not parse")
	}
}
