package conn_test

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"xlb/internal/testutil"
	"xlb/vrrp/conn"
)

// startKeepalived runs Debian's keepalived (VRRP only) in ns with config
// conf until the test ends, and returns its output so far on demand.
func startKeepalived(t *testing.T, ns *testutil.NS, conf string) func() string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command("ip", "netns", "exec", ns.Name, "keepalived", "-n", "-l", "-D", "-P", "-f", cfg,
		"-p", filepath.Join(dir, "main.pid"), "-r", filepath.Join(dir, "vrrp.pid"),
		"-c", filepath.Join(dir, "checkers.pid"), "-b", filepath.Join(dir, "bfd.pid"))
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so the VRRP child goes too (LAB-NOTES).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start keepalived: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		pid := cmd.Process.Pid
		syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
		// The child may outlive a parent that was slow to stop.
		syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
	})
	return func() string { return out.String() }
}

// TestKeepalivedAdvert receives the adverts of a real keepalived master,
// version 2 over IPv4 and version 3 over IPv6, and checks what the socket
// layer reports of them.
func TestKeepalivedAdvert(t *testing.T) {
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Fatalf("keepalived is not installed (make deps): %v", err)
	}
	tests := []struct {
		name        string
		opts        conn.Options
		conf        string
		wantVersion byte
		wantVRID    byte
	}{
		{
			name:        "version 2, ipv4",
			opts:        conn.Options{Interface: "eth0"},
			wantVersion: 2,
			wantVRID:    51,
			conf: `vrrp_instance V4 {
	state MASTER
	interface eth0
	virtual_router_id 51
	priority 200
	advert_int 1
	virtual_ipaddress {
		198.18.0.100/24
	}
}
`,
		},
		{
			name:        "version 3, ipv6",
			opts:        conn.Options{Interface: "eth0", IPv6: true},
			wantVersion: 3,
			wantVRID:    52,
			conf: `vrrp_instance V6 {
	state MASTER
	interface eth0
	version 3
	virtual_router_id 52
	priority 200
	advert_int 0.1
	virtual_ipaddress {
		2001:db8::100/64
	}
}
`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			rc := open(t, l.b, tc.opts)
			output := startKeepalived(t, l.a, tc.conf)
			wantSrc := netip.MustParseAddr("198.18.0.1")
			if tc.opts.IPv6 {
				wantSrc = linkLocal(t, l.a, "eth0")
			}
			// keepalived is backup for 3 intervals before it advertises.
			start := time.Now()
			p, err := receive(rc, 15*time.Second)
			t.Logf("first advert after %v", time.Since(start))
			if err != nil {
				t.Fatalf("no advert from keepalived: %v\nkeepalived:\n%s", err, output())
			}
			if len(p.Payload) < 8 {
				t.Fatalf("advert of %d bytes, want at least 8: % x", len(p.Payload), p.Payload)
			}
			got := struct {
				Version, Type, VRID byte
				HopLimit            int
				Src, Dst            string
			}{p.Payload[0] >> 4, p.Payload[0] & 0xf, p.Payload[1], p.HopLimit, p.Src.String(), p.Dst.String()}
			want := got
			want.Version, want.Type, want.VRID, want.HopLimit = tc.wantVersion, 1, tc.wantVRID, 255
			want.Src, want.Dst = wantSrc.String(), rc.Group().String()
			if got != want {
				t.Errorf("advert: got %+v, want %+v", got, want)
			}
		})
	}
}
