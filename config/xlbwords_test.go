package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRiseFall checks xlb's rise and fall words: read in every checker
// with a schedule, inherited by SMTP_CHECK's host blocks, bounded, and
// errors naming the line.
func TestRiseFall(t *testing.T) {
	src := "virtual_server 198.18.0.100 80 {\n protocol TCP\n real_server 198.18.1.1 80 {\n" +
		"  TCP_CHECK {\n   rise 3\n   fall 2\n  }\n" +
		"  HTTP_GET {\n   url { path / }\n   rise 5\n  }\n" +
		"  SMTP_CHECK {\n   fall 4\n   host {\n    connect_ip 198.18.1.9\n    rise 2\n   }\n  }\n" +
		"  MISC_CHECK {\n   misc_path /bin/true\n  }\n }\n}\n"
	cfg, errs, _ := parseDiags(t, src)
	if errs != nil {
		t.Fatalf("errors: %q", errs)
	}
	type riseFall struct {
		Type       CheckerType
		Rise, Fall int
	}
	var got []riseFall
	for _, c := range cfg.VirtualServers[0].Reals[0].Checkers {
		got = append(got, riseFall{c.Type, c.Rise, c.Fall})
	}
	want := []riseFall{{CheckTCP, 3, 2}, {CheckHTTP, 5, 0}, {CheckSMTP, 2, 4}, {CheckMisc, 0, 0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("checkers (-want +got):\n%s", diff)
	}

	for _, tc := range []struct{ line, want string }{
		{"rise 0", `k.conf:5:9: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: TCP_CHECK: rise "0": want 1..1000`},
		{"fall 1001", `k.conf:5:9: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: TCP_CHECK: fall "1001": want 1..1000`},
	} {
		src := "virtual_server 198.18.0.100 80 {\n protocol TCP\n real_server 198.18.1.1 80 {\n  TCP_CHECK {\n   " + tc.line + "\n  }\n }\n}\n"
		_, errs, _ := parseDiags(t, src)
		if diff := cmp.Diff([]string{tc.want}, errs); diff != "" {
			t.Errorf("%s: errors (-want +got):\n%s", tc.line, diff)
		}
	}
}

// TestTunnelSource checks xlb's tunnel_source word: read for lb_kind TUN,
// refused elsewhere and for a real of the other family, at its line.
func TestTunnelSource(t *testing.T) {
	src := "virtual_server 198.18.0.100 80 {\n protocol TCP\n lb_kind TUN\n tunnel_source 198.18.0.2\n real_server 198.18.1.1 80 {\n }\n}\n"
	cfg, errs, _ := parseDiags(t, src)
	if errs != nil {
		t.Fatalf("errors: %q", errs)
	}
	if got := cfg.VirtualServers[0].TunnelSource.String(); got != "198.18.0.2" {
		t.Errorf("TunnelSource = %s, want 198.18.0.2", got)
	}
	for _, tc := range []struct{ name, src, want string }{
		{"not TUN", "virtual_server 198.18.0.100 80 {\n protocol TCP\n lb_kind DR\n tunnel_source 198.18.0.2\n real_server 198.18.1.1 80 {\n }\n}\n",
			"k.conf:4:2: virtual_server 198.18.0.100 80: tunnel_source: only lb_kind TUN has an outer source (this one is DR)"},
		{"real of the other family", "virtual_server 198.18.0.100 80 {\n protocol TCP\n lb_kind TUN\n tunnel_source 2001:db8::2\n real_server 198.18.1.1 80 {\n }\n}\n",
			"k.conf:5:2: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: 198.18.1.1 is not of tunnel_source 2001:db8::2's family: the outer header needs both of one family"},
		{"not an address", "virtual_server 198.18.0.100 80 {\n protocol TCP\n lb_kind TUN\n tunnel_source eth0\n real_server 198.18.1.1 80 {\n }\n}\n",
			`k.conf:4:16: virtual_server 198.18.0.100 80: tunnel_source "eth0": want an IPv4 or IPv6 address`},
	} {
		_, errs, _ := parseDiags(t, tc.src)
		if diff := cmp.Diff([]string{tc.want}, errs); diff != "" {
			t.Errorf("%s: errors (-want +got):\n%s", tc.name, diff)
		}
	}
}
