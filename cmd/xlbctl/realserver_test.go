package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"xlb/internal/testutil"
)

// TestRealserverUsage checks that bad input exits 2 with a message naming
// the problem, before anything on the host is touched.
func TestRealserverUsage(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"up without vip", []string{"realserver", "up"}, "at least one --vip"},
		{"bad vip", []string{"realserver", "up", "--vip", "198.18.0.300"}, `vip "198.18.0.300"`},
		{"vip with prefix", []string{"realserver", "up", "--vip", "198.18.0.100/32"}, `vip "198.18.0.100/32"`},
		{"multicast vip", []string{"realserver", "up", "--vip", "ff02::1"}, "want a unicast address"},
		{"tunnel without iface", []string{"realserver", "up", "--vip", "198.18.0.100", "--tunnel"}, "tunnel needs the interface"},
		{"stray argument", []string{"realserver", "up", "198.18.0.100"}, "unknown command"},
		{"unknown flag", []string{"realserver", "up", "--vips", "198.18.0.100"}, "unknown flag"},
		{"bad vip on down", []string{"realserver", "down", "--vip", "x"}, `vip "x"`},
		{"unknown subcommand", []string{"realserver", "sideways"}, "unknown command"},
		{"no subcommand", []string{"realserver"}, "want a subcommand"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCLI(t, append(tc.args, "--state", state)...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; output:\n%s", code, exitUsage, out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("output %q does not say %q", out, tc.want)
			}
		})
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("a usage error wrote the state file: %v", err)
	}
}

// TestRealserverCommand runs the built xlbctl realserver up, status and
// down in a namespace. It enters only the network namespace (nsenter
// --net), as on a real host: `ip netns exec` would also give the command a
// private /sys whose bpffs, and with it the pinned decapsulator, vanishes
// when the command exits.
func TestRealserverCommand(t *testing.T) {
	testutil.RequireRoot(t)
	bin, err := testutil.GoBuild(t.TempDir(), "xlb/cmd/xlbctl")
	if err != nil {
		t.Fatal(err)
	}
	peer, real := testutil.NetNS(t), testutil.NetNS(t)
	testutil.Veth(t, peer, "eth0", real, "eth0")
	real.MustRun(t, "ip", "addr", "add", "198.18.0.2/24", "dev", "eth0")
	pinDir := filepath.Join("/sys/fs/bpf", testutil.UniqueName("xlbtest-cli-"))
	t.Cleanup(func() { os.RemoveAll(pinDir) })
	state := filepath.Join(t.TempDir(), "state.json")

	xlbctl := func(args ...string) string {
		t.Helper()
		full := append([]string{"--net=" + real.Path, bin, "realserver"}, args...)
		full = append(full, "--pin-dir", pinDir, "--state", state)
		out, err := exec.Command("nsenter", full...).CombinedOutput()
		if err != nil {
			t.Fatalf("xlbctl realserver %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	xlbctl("up", "--vip", "198.18.0.100", "--vip", "2001:db8:100::100", "--tunnel", "-i", "eth0")
	lo := real.MustRun(t, "ip", "addr", "show", "dev", "lo")
	for _, vip := range []string{"198.18.0.100/32", "2001:db8:100::100/128"} {
		if !strings.Contains(lo, vip) {
			t.Errorf("after up, lo lacks %s:\n%s", vip, lo)
		}
	}
	if eth := real.MustRun(t, "ip", "link", "show", "dev", "eth0"); !strings.Contains(eth, "xdp") {
		t.Errorf("after up (and xlbctl's exit), no XDP program on eth0:\n%s", eth)
	}
	if st := xlbctl("status"); !strings.Contains(st, "decap: attached to eth0") {
		t.Errorf("status does not report the decapsulator attached:\n%s", st)
	}

	xlbctl("down")
	lo = real.MustRun(t, "ip", "addr", "show", "dev", "lo")
	if strings.Contains(lo, "198.18.0.100") || strings.Contains(lo, "2001:db8:100::100") {
		t.Errorf("after down, a VIP is still on lo:\n%s", lo)
	}
	if eth := real.MustRun(t, "ip", "link", "show", "dev", "eth0"); strings.Contains(eth, "xdp") {
		t.Errorf("after down, an XDP program is still on eth0:\n%s", eth)
	}
	if st := xlbctl("status"); !strings.Contains(st, "realserver: down") {
		t.Errorf("status after down:\n%s", st)
	}
}
