package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
)

// parseSettings runs the root command's flag parsing without running the
// daemon and returns the settings it would use.
func parseSettings(t *testing.T, args ...string) (settings, error) {
	t.Helper()
	var got settings
	cmd := newCommand(func(_ *cobra.Command, s settings) error {
		got = s
		return nil
	})
	cmd.SetArgs(args)
	err := cmd.Execute()
	return got, err
}

func TestSettingsPrecedence(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		args      []string
		wantIf    []string
		wantBPFFS string
		wantSock  string
	}{
		{
			name:      "defaults",
			args:      []string{"-i", "eth0"},
			wantIf:    []string{"eth0"},
			wantBPFFS: "/sys/fs/bpf/xlb",
			wantSock:  "/run/xlb/xlbd.sock",
		},
		{
			name:      "environment",
			env:       map[string]string{"XLB_INTERFACES": "eth0, eth1", "XLB_BPFFS": "/sys/fs/bpf/a", "XLB_SOCKET": "/tmp/a.sock"},
			wantIf:    []string{"eth0", "eth1"},
			wantBPFFS: "/sys/fs/bpf/a",
			wantSock:  "/tmp/a.sock",
		},
		{
			name:      "flags win over environment",
			env:       map[string]string{"XLB_INTERFACES": "eth0", "XLB_BPFFS": "/sys/fs/bpf/a"},
			args:      []string{"-i", "eth2", "-i", "eth3,eth4", "--bpffs", "/sys/fs/bpf/b", "--socket", "/tmp/b.sock"},
			wantIf:    []string{"eth2", "eth3", "eth4"},
			wantBPFFS: "/sys/fs/bpf/b",
			wantSock:  "/tmp/b.sock",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			s, err := parseSettings(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantIf, s.Interfaces); diff != "" {
				t.Errorf("interfaces (-want +got):\n%s", diff)
			}
			if s.BPFFS != tc.wantBPFFS || s.Socket != tc.wantSock {
				t.Errorf("bpffs, socket = %q, %q; want %q, %q", s.BPFFS, s.Socket, tc.wantBPFFS, tc.wantSock)
			}
		})
	}
}

func TestSettingsErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no interface", args: nil, want: "no interface"},
		{name: "maglev size not prime", args: []string{"-i", "eth0", "--maglev-size", "65536"}, want: "maglev-size: want a prime, got 65536"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseSettings(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestConfigTest(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	bad := filepath.Join(dir, "bad.conf")
	writeFile(t, good, "virtual_server 198.18.0.100 80 {\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n  real_server 198.18.0.11 80 {\n    weight 1\n  }\n}\n")
	writeFile(t, bad, "virtual_server 198.18.0.100 80 {\n  lb_algo rrr\n  protocol TCP\n  real_server 198.18.0.11 80 {\n    weight 1\n  }\n}\n")

	tests := []struct {
		name       string
		path       string
		wantCode   int
		wantStderr string
	}{
		{name: "valid", path: good, wantCode: 0, wantStderr: "configuration valid"},
		{name: "invalid", path: bad, wantCode: 1, wantStderr: bad + `:2:11: virtual_server 198.18.0.100 80: lb_algo "rrr": unknown scheduler`},
		{name: "missing file", path: filepath.Join(dir, "none.conf"), wantCode: 1, wantStderr: "none.conf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := newRootCommand()
			var stderr bytes.Buffer
			cmd.SetErr(&stderr)
			cmd.SetArgs([]string{"-t", "-f", tc.path})
			err := cmd.Execute()
			code := 0
			var ee errExit
			if errors.As(err, &ee) {
				code = int(ee)
			} else if err != nil {
				code = 1
			}
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d (err %v); stderr:\n%s", code, tc.wantCode, err, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr does not contain %q:\n%s", tc.wantStderr, stderr.String())
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
