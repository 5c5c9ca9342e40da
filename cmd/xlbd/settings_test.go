package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
)

// parseSettings runs the root command's flag parsing without running the
// daemon and returns the settings it would use. The default settings file is
// one that does not exist, so that the host's /etc/xlb cannot change results.
func parseSettings(t *testing.T, args ...string) (settings, error) {
	t.Helper()
	noDefaultSettings(t)
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

// noDefaultSettings points the default settings file to a missing file for
// the test.
func noDefaultSettings(t *testing.T) {
	t.Helper()
	saved := defaultSettingsFile
	defaultSettingsFile = filepath.Join(t.TempDir(), "absent.yaml")
	t.Cleanup(func() { defaultSettingsFile = saved })
}

// TestSettingsFile checks the whole precedence: flags > XLB_* environment >
// YAML settings file > defaults, for every kind of value.
func TestSettingsFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "xlbd.yaml")
	writeFile(t, file, "config: /etc/a.conf\nconfig-id: lb1\ninterfaces: [eth5, eth6]\nbpffs: /sys/fs/bpf/file\n"+
		"socket: /run/file.sock\nlog-level: debug\nmaglev-size: 251\nmax-services: 16\nmax-reals: 32\nconn-table-size: 4096\npersist-table-size: 8192\nnat-table-size: 1\nfnat-table-size: 2\nresolve-timeout: 9s\n")
	defaults := settings{
		Config: "/etc/keepalived/keepalived.conf", ConfigID: shortHostname(t), Interfaces: []string{"eth0"}, BPFFS: "/sys/fs/bpf/xlb",
		Socket: "/run/xlb/xlbd.sock", LogLevel: "info", MaglevSize: 65537, MaxServices: 256, MaxReals: 4096,
		ConnTableSize: 1 << 20, PersistTableSize: 1 << 18, ResolveTimeout: 3 * time.Second, LBLCExpiration: 24 * time.Hour,
	}
	fromFile := settings{
		Config: "/etc/a.conf", ConfigID: "lb1", Interfaces: []string{"eth5", "eth6"}, BPFFS: "/sys/fs/bpf/file",
		Socket: "/run/file.sock", LogLevel: "debug", MaglevSize: 251, MaxServices: 16, MaxReals: 32,
		ConnTableSize: 4096, PersistTableSize: 8192, NATTableSize: 1, FNATTableSize: 2, ResolveTimeout: 9 * time.Second, SettingsFile: file,
		LBLCExpiration: 24 * time.Hour,
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want settings
	}{
		{name: "defaults", args: []string{"-i", "eth0"}, want: defaults},
		{name: "file over defaults", args: []string{"--settings", file}, want: fromFile},
		{name: "file named by environment", env: map[string]string{"XLB_SETTINGS": file}, want: fromFile},
		{
			name: "environment over file",
			env:  map[string]string{"XLB_SOCKET": "/run/env.sock", "XLB_MAGLEV_SIZE": "13", "XLB_INTERFACES": "eth7", "XLB_CONFIG_ID": "lb2"},
			args: []string{"--settings", file},
			want: func() settings {
				s := fromFile
				s.Socket, s.MaglevSize, s.Interfaces, s.ConfigID = "/run/env.sock", 13, []string{"eth7"}, "lb2"
				return s
			}(),
		},
		{
			name: "flags over environment over file",
			env:  map[string]string{"XLB_SOCKET": "/run/env.sock", "XLB_LOG_LEVEL": "warn"},
			args: []string{"--settings", file, "--socket", "/run/flag.sock", "-i", "eth9", "--resolve-timeout", "1s", "--config-id", "lb3"},
			want: func() settings {
				s := fromFile
				s.Socket, s.LogLevel, s.Interfaces, s.ResolveTimeout, s.ConfigID = "/run/flag.sock", "warn", []string{"eth9"}, time.Second, "lb3"
				return s
			}(),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			got, err := parseSettings(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrintSettings(t *testing.T) {
	noDefaultSettings(t)
	file := filepath.Join(t.TempDir(), "xlbd.yaml")
	writeFile(t, file, "interface: [eth1]\nmaglev-size: 251\n")
	t.Setenv("XLB_SOCKET", "/run/env.sock")
	cmd := newRootCommand()
	var stdout bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetArgs([]string{"--print-settings", "--settings", file, "--log-level", "debug"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := "# read from " + file + "\n" +
		`config: "/etc/keepalived/keepalived.conf"` + "\n" +
		`config-id: "` + shortHostname(t) + `"` + "\n" +
		"interface:\n  - \"eth1\"\n" +
		`bpffs: "/sys/fs/bpf/xlb"` + "\n" +
		`socket: "/run/env.sock"` + "\n" +
		`log-level: "debug"` + "\n" +
		"maglev-size: 251\nmax-services: 256\nmax-reals: 4096\nconn-table-size: 1048576\npersist-table-size: 262144\nnat-table-size: 0\nfnat-table-size: 0\nresolve-timeout: 3s\nslow-start: 0s\ncheck-via-vip: false\nlblc-expiration: 24h0m0s\n"
	if diff := cmp.Diff(want, stdout.String()); diff != "" {
		t.Errorf("--print-settings (-want +got):\n%s", diff)
	}
	// The output is itself a settings file that gives the same settings.
	again := filepath.Join(t.TempDir(), "again.yaml")
	writeFile(t, again, stdout.String())
	s1, err := parseSettings(t, "--settings", file, "--socket", "/run/env.sock", "--log-level", "debug")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := parseSettings(t, "--settings", again)
	if err != nil {
		t.Fatal(err)
	}
	s1.SettingsFile, s2.SettingsFile = "", ""
	if diff := cmp.Diff(s1, s2); diff != "" {
		t.Errorf("printed settings read back differ (-want +got):\n%s", diff)
	}
}

func TestSettingsErrors(t *testing.T) {
	dir := t.TempDir()
	badKeys := filepath.Join(dir, "bad.yaml")
	writeFile(t, badKeys, "maglev_size: 13\n")
	notYAML := filepath.Join(dir, "not.yaml")
	writeFile(t, notYAML, "a: [\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no interface", args: nil, want: "no interface"},
		{name: "maglev size not prime", args: []string{"-i", "eth0", "--maglev-size", "65536"}, want: "maglev-size: want a prime, got 65536"},
		{name: "named settings file missing", args: []string{"-i", "eth0", "--settings", "/nonexistent/xlbd.yaml"}, want: "settings /nonexistent/xlbd.yaml: open /nonexistent/xlbd.yaml: no such file or directory"},
		{name: "unknown settings key", args: []string{"-i", "eth0", "--settings", badKeys}, want: `unknown key "maglev_size"`},
		{name: "settings file not YAML", args: []string{"-i", "eth0", "--settings", notYAML}, want: "settings " + notYAML + ":"},
		{name: "dump without -t", args: []string{"-i", "eth0", "--dump"}, want: "--dump goes with -t"},
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
	noDefaultSettings(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	bad := filepath.Join(dir, "bad.conf")
	cond := filepath.Join(dir, "cond.conf")
	outer := filepath.Join(dir, "outer.conf")
	writeFile(t, good, "virtual_server 198.18.0.100 80 {\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n  real_server 198.18.0.11 80 {\n    weight 1\n  }\n}\n")
	writeFile(t, bad, "virtual_server 198.18.0.100 80 {\n  lb_algo rrr\n  protocol TCP\n  real_server 198.18.0.11 80 {\n    weight 1\n  }\n}\n")
	writeFile(t, cond, "virtual_server 198.18.0.100 80 {\n  protocol TCP\n@lb1  real_server 198.18.0.11 80 { }\n@^lb1  real_server 198.18.0.12 80 { }\n}\n")
	writeFile(t, outer, "include bad.conf\n")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // "" means empty
		wantStderr string
	}{
		{name: "valid", args: []string{"-f", good}, wantStderr: "configuration valid (0 warnings)"},
		{name: "invalid", args: []string{"-f", bad}, wantCode: 1, wantStderr: bad + `:2:11: virtual_server 198.18.0.100 80: lb_algo "rrr": unknown scheduler`},
		{name: "missing file", args: []string{"-f", filepath.Join(dir, "none.conf")}, wantCode: 1, wantStderr: "none.conf"},
		{
			name: "error in an included file names the include", args: []string{"-f", outer}, wantCode: 1,
			wantStderr: bad + `:2:11: virtual_server 198.18.0.100 80: lb_algo "rrr": unknown scheduler (want one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh, fo, ovf, twos) (included from ` + outer + ":1:1)",
		},
		{name: "dump", args: []string{"-f", good, "--dump"}, wantStdout: `"lb_kind": "DR"`, wantStderr: "configuration valid"},
		{name: "config id selects lines", args: []string{"-f", cond, "--dump", "--config-id", "lb1"}, wantStdout: `"address": "198.18.0.11"`},
		{name: "other config id", args: []string{"-f", cond, "--dump", "--config-id", "lb2"}, wantStdout: `"address": "198.18.0.12"`},
		{name: "no dump on errors", args: []string{"-f", bad, "--dump"}, wantCode: 1, wantStderr: "unknown scheduler"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := newRootCommand()
			var stdout, stderr bytes.Buffer
			cmd.SetOut(&stdout)
			cmd.SetErr(&stderr)
			cmd.SetArgs(append([]string{"-t"}, tc.args...))
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
			if tc.wantStdout == "" && stdout.Len() > 0 || !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("stdout does not contain %q:\n%s", tc.wantStdout, stdout.String())
			}
			if tc.wantStdout != "" && !json.Valid(stdout.Bytes()) {
				t.Errorf("stdout is not JSON:\n%s", stdout.String())
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

// shortHostname is the host name up to its first dot: the config id xlbd
// uses when none is given, as keepalived does.
func shortHostname(t *testing.T) string {
	t.Helper()
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	short, _, _ := strings.Cut(host, ".")
	return short
}
