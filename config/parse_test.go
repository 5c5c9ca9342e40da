package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// strs renders diagnostics as the lines an operator reads.
func strs(ds []Diagnostic) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.String())
	}
	return out
}

// parseDiags parses src as file "k.conf" and returns its errors and warnings as text.
func parseDiags(t *testing.T, src string) (cfg *Config, errs, warns []string) {
	t.Helper()
	cfg, w, err := Parse("k.conf", []byte(src))
	if err != nil {
		var l ErrorList
		if !errors.As(err, &l) {
			t.Fatalf("Parse error %T %v, want ErrorList", err, err)
		}
		if cfg != nil {
			t.Errorf("Parse returned a Config with errors")
		}
		errs = strs(l)
	}
	return cfg, errs, strs(w)
}

// parseWant parses src as parseDiags does and fails t unless its errors and warnings
// are wantErrs (a mismatch ends the test) and wantWarns. It returns the Config, nil
// when there are errors.
func parseWant(t *testing.T, src string, wantErrs, wantWarns []string) *Config {
	t.Helper()
	cfg, errs, warns := parseDiags(t, src)
	if diff := cmp.Diff(wantErrs, errs); diff != "" {
		t.Fatalf("errors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantWarns, warns); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	return cfg
}

func TestParseDiagnostics(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		wantErrs  []string
		wantWarns []string
	}{
		{
			name: "minimal virtual server is clean",
			src:  "virtual_server 198.18.0.100 80 {\n protocol TCP\n real_server 198.18.1.1 80 {\n }\n}\n",
		},
		{
			name:     "typo at top level suggests the keyword",
			src:      "vrrip_script chk {\n script x\n}\n",
			wantErrs: []string{`k.conf:1:1: unknown keyword "vrrip_script" in top level; did you mean vrrp_script?`},
		},
		{
			name:     "case mistake suggests the keyword",
			src:      "virtual_server 198.18.0.100 80 {\n protocol TCP\n real_server 198.18.1.1 80 {\n  http_get {\n  }\n }\n}\n",
			wantErrs: []string{`k.conf:4:3: unknown keyword "http_get" in virtual_server 198.18.0.100 80: real_server 198.18.1.1 80; did you mean HTTP_GET?`},
		},
		{
			name:     "far word gets no suggestion",
			src:      "frobnicate 1\n",
			wantErrs: []string{`k.conf:1:1: unknown keyword "frobnicate" in top level`},
		},
		{
			name: "blocks xlb does not act on warn, unmodelled keywords too",
			src:  "global_defs {\n router_id LB1\n notification_email {\n  a@b\n }\n vrrp_iptables\n}\nvrrp_instance VI_1 {\n state MASTER\n virtual_router_id 9\n virtual_ipaddress { 198.18.0.100/24 }\n}\n",
			wantWarns: []string{
				`k.conf:6:2: global_defs: vrrp_iptables: parsed, but xlb does not act on it yet (xlb fills no firewall sets)`,
			},
		},
		{
			name: "words inside skipped blocks are still checked",
			src:  "global_defs {\n routr_id LB1\n}\nvrrp_instance VI_1 {\n virtual_router_id 1\n authentication {\n  auth_typ PASS\n }\n}\n",
			wantErrs: []string{
				`k.conf:2:2: unknown keyword "routr_id" in global_defs; did you mean router_id?`,
				`k.conf:7:3: unknown keyword "auth_typ" in vrrp_instance VI_1: authentication; did you mean auth_type?`,
			},
		},
		{
			name: "checkers' words are checked",
			src:  "virtual_server 198.18.0.100 80 {\n protocol TCP\n real_server 198.18.1.1 80 {\n  HTTP_GET {\n   url {\n    path /\n    stauts_code 200\n   }\n   tls_compliant\n  }\n  TCP_CHECK { connect_timeout 3 }\n }\n}\n",
			wantErrs: []string{
				`k.conf:7:5: unknown keyword "stauts_code" in virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: HTTP_GET: url; did you mean status_code?`,
				`k.conf:9:4: unknown keyword "tls_compliant" in virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: HTTP_GET`,
			},
		},
		{
			name: "unknown and unsupported words in virtual_server",
			src:  "virtual_server 198.18.0.100 80 {\n protocol TCP\n ops\n lb_alog rr\n real_server 198.18.1.1 80 {\n }\n}\n",
			wantErrs: []string{
				`k.conf:4:2: unknown keyword "lb_alog" in virtual_server 198.18.0.100 80; did you mean lb_algo?`,
			},
			wantWarns: []string{
				`k.conf:1:1: virtual_server 198.18.0.100 80: ops: one-packet scheduling requires protocol UDP; ignored, as keepalived does`,
			},
		},
		{
			name: "bad values name the item",
			src: "virtual_server 198.18.0.100 80 {\n" +
				" lb_algo rrr\n" +
				" lb_kind FOO\n" +
				" protocol SCTP\n" +
				" delay_loop 1.0000001\n" +
				" weight 0\n" +
				" real_server 198.18.1.1 80 {\n  weight 2147483648\n }\n" +
				"}\n" +
				"virtual_server 198.18.0.101 80 {\n protocol icmp\n delay_loop -1\n real_server 198.18.1.1 80 {\n }\n}\n",
			wantErrs: []string{
				`k.conf:2:10: virtual_server 198.18.0.100 80: lb_algo "rrr": unknown scheduler (want one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh, fo, ovf, twos)`,
				`k.conf:3:10: virtual_server 198.18.0.100 80: lb_kind "FOO": want NAT, DR, TUN or FNAT`,
				`k.conf:4:11: virtual_server 198.18.0.100 80: protocol "SCTP": not supported by xlb yet`,
				`k.conf:5:13: virtual_server 198.18.0.100 80: delay_loop "1.0000001": want seconds, at least 0.000001, at most 6 decimal places`,
				`k.conf:6:9: virtual_server 198.18.0.100 80: weight "0": want 1..2147483647`,
				`k.conf:8:10: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: weight "2147483648": want 0..2147483647`,
				`k.conf:12:11: virtual_server 198.18.0.101 80: protocol "icmp": want TCP or UDP`,
				`k.conf:13:13: virtual_server 198.18.0.101 80: delay_loop "-1": want seconds, at least 0.000001, at most 6 decimal places`,
			},
		},
		{
			name: "addresses and ports",
			src: "virtual_server 198.18.0.300 80 {\n}\n" +
				"virtual_server 198.18.0.100 65536 {\n}\n" +
				"virtual_server 198.18.0.100/24 80 {\n}\n" +
				"virtual_server fe80::1%eth0 80 {\n}\n" +
				"virtual_server 198.18.0.100 80 x {\n}\n" +
				"virtual_server\n" +
				"virtual_server 198.18.0.101 80 {\n protocol UDP\n real_server 2001:db8::x 80 {\n }\n real_server 198.18.1.1 -1 {\n }\n real_server {\n }\n}\n",
			wantErrs: []string{
				`k.conf:1:16: virtual_server 198.18.0.300 80: address "198.18.0.300": want an IPv4 or IPv6 address`,
				`k.conf:3:29: virtual_server 198.18.0.100 65536: port "65536": want 0..65535`,
				`k.conf:5:16: virtual_server 198.18.0.100/24 80: address "198.18.0.100/24": want an IPv4 or IPv6 address`,
				`k.conf:7:16: virtual_server fe80::1%eth0 80: address "fe80::1%eth0": want an IPv4 or IPv6 address`,
				`k.conf:9:32: virtual_server 198.18.0.100 80 x: unexpected argument "x"`,
				`k.conf:11:1: virtual_server: want an address and port, "fwmark N" or "group NAME"`,
				`k.conf:14:14: virtual_server 198.18.0.101 80: real_server 2001:db8::x 80: address "2001:db8::x": want an IPv4 or IPv6 address`,
				`k.conf:16:25: virtual_server 198.18.0.101 80: real_server 198.18.1.1 -1: port "-1": want 0..65535`,
				`k.conf:18:2: virtual_server 198.18.0.101 80: real_server: want an address and port`,
			},
		},
		{
			name: "values, arguments and blocks in the wrong shape",
			src:  "virtual_server 198.18.0.100 80 {\n lb_algo\n lb_kind DR NAT\n protocol TCP {\n }\n lb_kind TUN type gue\n real_server 198.18.1.1 80\n}\nvirtual_server 198.18.0.101 80\n",
			wantErrs: []string{
				`k.conf:2:2: virtual_server 198.18.0.100 80: lb_algo: missing value`,
				`k.conf:3:13: virtual_server 198.18.0.100 80: lb_kind: unexpected argument "NAT"`,
				`k.conf:4:15: virtual_server 198.18.0.100 80: protocol takes no block`,
				`k.conf:6:14: virtual_server 198.18.0.100 80: lb_kind TUN type gue: a gue tunnel needs a port, and only gue takes one`,
				`k.conf:7:2: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: want a { block }, even an empty one`,
				`k.conf:9:1: virtual_server 198.18.0.101 80: want a { block } of real_server and options`,
			},
		},
		{
			name: "duplicates",
			src: "virtual_server 198.18.0.100 80 {\n protocol TCP\n real_server 198.18.1.1 80 {\n }\n real_server 198.18.1.1 80 {\n }\n}\n" +
				"virtual_server 198.18.0.100 80 {\n protocol TCP\n real_server 198.18.1.1 80 {\n }\n}\n" +
				"virtual_server 198.18.0.100 80 {\n protocol UDP\n real_server 198.18.1.1 80 {\n }\n}\n" +
				"virtual_server ::ffff:198.18.0.100 80 {\n protocol udp\n real_server 198.18.1.1 80 {\n }\n}\n",
			wantErrs: []string{
				`k.conf:5:2: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: duplicate real_server, first at k.conf:3:2`,
				`k.conf:8:1: virtual_server 198.18.0.100 80: duplicate of 198.18.0.100:80/tcp at k.conf:1:1`,
				`k.conf:18:1: virtual_server ::ffff:198.18.0.100 80: duplicate of [::ffff:198.18.0.100]:80/udp at k.conf:13:1`,
			},
		},
		{
			name: "defaults and port fixes are announced",
			src:  "virtual_server 198.18.0.100 80 {\n lb_kind DR\n real_server 198.18.1.1 8080 {\n }\n}\nvirtual_server 198.18.0.101 80 {\n protocol TCP\n}\n",
			wantWarns: []string{
				`k.conf:1:1: virtual_server 198.18.0.100 80: no protocol line; using UDP, keepalived's default`,
				`k.conf:3:2: virtual_server 198.18.0.100 80: real_server 198.18.1.1 8080: port 8080 differs from the virtual server's with lb_kind DR; using 80`,
				`k.conf:6:1: virtual_server 198.18.0.101 80: no real_server; ignored`,
			},
		},
		{
			name: "fwmark and group virtual servers",
			src: "virtual_server fwmark 7 {\n lb_algo sh\n lb_algox sh\n}\nvirtual_server group G {\n protocol TCP\n}\nvirtual_server_group G {\n 198.18.0.1 80\n}\n" +
				"virtual_server fwmark 8 {\n protocol TCP\n real_server 198.18.1.1 80 {\n }\n}\nvirtual_server group H {\n protocol TCP\n real_server 198.18.1.1 80 {\n }\n}\n",
			wantErrs: []string{
				`k.conf:3:2: unknown keyword "lb_algox" in virtual_server fwmark 7; did you mean lb_algo?`,
				`k.conf:16:1: virtual_server group H: no virtual_server_group H; did you mean G?`,
			},
			wantWarns: []string{
				`k.conf:5:1: virtual_server group G: no real_server; ignored`,
				`k.conf:11:1: virtual_server fwmark 8: protocol is ignored for a fwmark service, as in keepalived`,
				`k.conf:11:1: virtual_server fwmark 8: the XDP backend cannot see firewall marks; xlbd refuses this file unless it runs the IPVS backend`,
			},
		},
		{
			name: "old syntax and keepalived's own warnings",
			src: "vrrp_sync_group SG {\n VI_1\n}\nvrrp_instance VI_1 {\n state MASTER\n virtual_router_id 1\n lvs_sync_daemon_interface eth1\n" +
				" authentication {\n  auth_type AH\n  auth_pass 123456789\n }\n unicast_peer {\n  198.18.0.2 min_ttl 1\n }\n enable_traps\n}\n",
			wantErrs: []string{`k.conf:15:2: unknown keyword "enable_traps" in vrrp_instance VI_1`},
			wantWarns: []string{
				`k.conf:2:2: vrrp_sync_group SG: "VI_1" on a line of its own is old syntax for a member; write group { VI_1 }`,
				`k.conf:4:1: vrrp_instance VI_1: auth_type AH with state MASTER: keepalived starts such an instance as BACKUP`,
				`k.conf:7:2: vrrp_instance VI_1: lvs_sync_daemon_interface is deprecated (keepalived too); write lvs_sync_daemon eth1 VI_1 in global_defs`,
				`k.conf:7:2: vrrp_instance VI_1: lvs_sync_daemon_interface: parsed, but xlb does not act on it yet (IPVS connection sync)`,
				`k.conf:10:13: vrrp_instance VI_1: authentication: auth_pass is longer than 8 bytes; VRRP sends only "12345678"`,
				`k.conf:13:14: vrrp_instance VI_1: unicast_peer 198.18.0.2: min_ttl/max_ttl: parsed, but xlb does not act on it yet (VRRP checks no unicast TTL)`,
			},
		},
		{
			name: "flags, values and cross-references",
			src: "vrrp_script s {\n script x\n init_fail maybe\n}\nvrrp_instance A {\n interface eth0\n virtual_router_id 5\n track_script {\n  s weight 300\n  t\n }\n}\n" +
				"vrrp_instance A {\n virtual_router_id 6\n nopreempt false\n}\nvrrp_sync_group G {\n group { A }\n}\nvrrp_sync_group H {\n group { A }\n}\n",
			wantErrs: []string{
				`k.conf:3:12: vrrp_script s: init_fail "maybe": want no value, or true or false`,
				`k.conf:9:12: vrrp_instance A: track_script s: weight "300": want -254..254`,
				`k.conf:10:3: vrrp_instance A: track_script: t: no vrrp_script t; did you mean s?`,
				`k.conf:13:1: vrrp_instance A: defined twice, first at k.conf:5:1`,
				`k.conf:20:1: vrrp_sync_group H: vrrp_instance A is already in vrrp_sync_group G`,
			},
		},
		{
			name: "old names, tunnels and fwmark groups warn",
			src: "global_defs {\n lvs_process_name c\n vrrp_rlimit_rtime 5\n}\n" +
				"vrrp_instance V {\n virtual_router_id 1\n vmac_garp_intvl 5\n thread_timer_expired\n linkbeat_use_polling\n}\n" +
				"virtual_server_group G {\n 198.18.0.1 80\n fwmark 3\n}\n" +
				"virtual_server group G {\n protocol TCP\n lb_kind TUN type gue port 6080\n real_server 198.18.1.1 80 {\n  lvs_method TUN type ipip\n }\n}\n",
			wantWarns: []string{
				`k.conf:2:2: global_defs: lvs_process_name is deprecated (keepalived too); write checker_process_name`,
				`k.conf:2:2: global_defs: lvs_process_name: parsed, but xlb does not act on it yet (xlbd is one process; its name is the service manager's)`,
				`k.conf:3:2: global_defs: vrrp_rlimit_rtime is deprecated (keepalived too); write vrrp_rlimit_rttime`,
				`k.conf:3:2: global_defs: vrrp_rlimit_rtime: parsed, but xlb does not act on it yet (process scheduling is the service manager's)`,
				`k.conf:7:2: vrrp_instance V: vmac_garp_intvl is deprecated (keepalived too); write garp_extra_if`,
				`k.conf:7:2: vrrp_instance V: vmac_garp_intvl: parsed, but xlb does not act on it yet (VRRP)`,
				`k.conf:8:2: vrrp_instance V: thread_timer_expired is deprecated (keepalived too); write timer_expired_backup`,
				`k.conf:8:2: vrrp_instance V: thread_timer_expired: parsed, but xlb does not act on it yet (VRRP)`,
				`k.conf:9:2: vrrp_instance V: linkbeat_use_polling in vrrp_instance is deprecated (keepalived too); list the interface in a top-level linkbeat_interfaces { }`,
				`k.conf:9:2: vrrp_instance V: linkbeat_use_polling: parsed, but xlb does not act on it yet (link state comes from netlink)`,
				`k.conf:15:1: virtual_server group G: virtual_server_group G has fwmark entries: the XDP backend cannot see firewall marks; xlbd refuses this file unless it runs the IPVS backend`,
				`k.conf:17:2: virtual_server group G: lb_kind TUN type gue port 6080: parsed, but xlb does not act on it yet (the XDP backend tunnels with IPIP only)`,
				`k.conf:19:3: virtual_server group G: real_server 198.18.1.1 80: lvs_method: parsed, but xlb does not act on it yet (a real is reached as its virtual server's lb_kind says)`,
			},
		},
		{
			name: "lexical and brace errors come with the rest",
			src:  "virtual_server 198.18.0.100 80 {\n protocol \"TCP\n real_server 198.18.1.1 80 {\n }\n}\n}\nvrrp_scrpt x {\n",
			wantErrs: []string{
				`k.conf:2:11: quoted string has no closing '"' on its line`,
				`k.conf:6:1: unexpected '}': no block is open`,
				`k.conf:7:1: unknown keyword "vrrp_scrpt" in top level; did you mean vrrp_script?`,
				`k.conf:7:14: '{' has no matching '}'`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parseWant(t, tc.src, tc.wantErrs, tc.wantWarns)
		})
	}
}

func TestParseModel(t *testing.T) {
	p := func(line, col int) Pos { return Pos{File: "k.conf", Line: line, Col: col} }
	tests := []struct {
		name string
		src  string
		want []VirtualServer
	}{
		{
			name: "keepalived defaults",
			src:  "virtual_server 198.18.0.100 80 {\n protocol TCP\n real_server 198.18.1.1 {\n }\n}\n",
			want: []VirtualServer{{
				Pos: p(1, 1), Addr: netip.MustParseAddr("198.18.0.100"), Port: 80,
				Protocol: ProtocolTCP, Scheduler: SchedulerWLC, Kind: KindNAT, DelayLoop: 60 * time.Second, Quorum: 1,
				Reals: []RealServer{{Pos: p(3, 2), Addr: netip.MustParseAddr("198.18.1.1"), Port: 80, Weight: 1}},
			}},
		},
		{
			name: "every modelled keyword and alias",
			src: "virtual_server 2001:db8::100 00 {\n lvs_sched mh\n lvs_method TUN\n protocol udp\n" +
				" delay_loop .25\n weight 7\n" +
				" real_server 2001:db8:1::1 53 {\n  weight 0\n }\n real_server 198.18.1.2 53 {\n }\n}\n",
			want: []VirtualServer{{
				Pos: p(1, 1), Addr: netip.MustParseAddr("2001:db8::100"), Port: 0,
				Protocol: ProtocolUDP, Scheduler: SchedulerMH, Kind: KindTUN, DelayLoop: 250 * time.Millisecond, Quorum: 1,
				PersistenceTimeout: 360 * time.Second, // port 0 implies persistence, as in keepalived
				Reals: []RealServer{
					{Pos: p(7, 2), Addr: netip.MustParseAddr("2001:db8:1::1"), Port: 0, Weight: 0},
					{Pos: p(10, 2), Addr: netip.MustParseAddr("198.18.1.2"), Port: 0, Weight: 7},
				},
			}},
		},
		{
			name: "later lines win, as in keepalived",
			src:  "virtual_server 198.18.0.1 443 {\n lb_algo rr\n lb_algo sh\n delay_loop 1.000001\n protocol TCP\n real_server 198.18.1.1 443 {\n }\n}\n",
			want: []VirtualServer{{
				Pos: p(1, 1), Addr: netip.MustParseAddr("198.18.0.1"), Port: 443,
				Protocol: ProtocolTCP, Scheduler: SchedulerSH, Kind: KindNAT, DelayLoop: time.Second + time.Microsecond, Quorum: 1,
				Reals: []RealServer{{Pos: p(6, 2), Addr: netip.MustParseAddr("198.18.1.1"), Port: 443, Weight: 1}},
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, errs, _ := parseDiags(t, tc.src)
			if errs != nil {
				t.Fatalf("errors: %q", errs)
			}
			if diff := cmp.Diff(tc.want, cfg.VirtualServers, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("VirtualServers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		vs   VirtualServer
		want string
	}{
		{VirtualServer{Addr: netip.MustParseAddr("198.18.0.100"), Port: 80, Protocol: ProtocolTCP}, "198.18.0.100:80/tcp"},
		{VirtualServer{Addr: netip.MustParseAddr("2001:db8::1"), Port: 53, Protocol: ProtocolUDP}, "[2001:db8::1]:53/udp"},
	}
	for _, tc := range tests {
		if got := tc.vs.Key(); got != tc.want {
			t.Errorf("Key() = %q, want %q", got, tc.want)
		}
	}
}

// TestLoadGolden decodes the course-style keepalived.conf in testdata/config and compares
// the model and the warnings with what keepalived itself makes of the file.
func TestLoadGolden(t *testing.T) {
	const file = "../testdata/config/keepalived.conf"
	cfg, warns, err := Load(file)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	p := func(line, col int) Pos { return Pos{File: file, Line: line, Col: col} }
	a := netip.MustParseAddr
	want := []VirtualServer{
		{
			Pos: p(53, 1), Addr: a("198.18.0.100"), Port: 80, Protocol: ProtocolTCP,
			Scheduler: SchedulerWRR, Kind: KindDR, DelayLoop: 6 * time.Second,
			Reals: []RealServer{
				{Pos: p(60, 5), Addr: a("198.18.1.11"), Port: 80, Weight: 3},
				{Pos: p(72, 5), Addr: a("198.18.1.12"), Port: 80, Weight: 1},
				{Pos: p(79, 5), Addr: a("198.18.1.13"), Port: 80, Weight: 0},
			},
		},
		{
			Pos: p(85, 1), Addr: a("198.18.0.101"), Port: 53, Protocol: ProtocolUDP,
			Scheduler: SchedulerRR, Kind: KindNAT, DelayLoop: 2500 * time.Millisecond,
			Reals: []RealServer{
				{Pos: p(92, 5), Addr: a("198.18.1.21"), Port: 5353, Weight: 5},
				{Pos: p(98, 5), Addr: a("198.18.1.22"), Port: 5353, Weight: 5},
			},
		},
		{
			Pos: p(102, 1), Addr: a("2001:db8::100"), Port: 443, Protocol: ProtocolTCP,
			Scheduler: SchedulerMH, Kind: KindTUN, DelayLoop: 60 * time.Second,
			Reals: []RealServer{{Pos: p(108, 5), Addr: a("2001:db8:1::31"), Port: 443, Weight: 1}},
		},
		{
			Pos: p(118, 1), Addr: a("198.18.0.102"), Port: 0, Protocol: ProtocolUDP,
			Scheduler: SchedulerWLC, Kind: KindNAT, DelayLoop: 60 * time.Second,
			Reals: []RealServer{{Pos: p(120, 5), Addr: a("198.18.1.41"), Port: 0, Weight: 2}},
		},
	}
	// The fields the data plane uses, with positions; TestDumpGolden covers the rest.
	contract := cmp.Options{
		cmpopts.EquateComparable(netip.Addr{}),
		cmpopts.IgnoreFields(VirtualServer{}, "PersistenceTimeout", "Quorum", "SorryServer"),
		cmpopts.IgnoreFields(RealServer{}, "Checkers", "InhibitOnFailure", "NotifyUp", "NotifyDown"),
	}
	if diff := cmp.Diff(want, cfg.VirtualServers, contract); diff != "" {
		t.Errorf("VirtualServers (-want +got):\n%s", diff)
	}
	wantWarns := []string{
		file + `:14:4: global_defs: vrrp_skip_check_adv_addr: parsed, but xlb does not act on it yet (VRRP checks every advert's addresses)`,
		file + `:118:1: virtual_server 198.18.0.102 0: no protocol line; using UDP, keepalived's default`,
		file + `:125:1: virtual_server fwmark 7: the XDP backend cannot see firewall marks; xlbd refuses this file unless it runs the IPVS backend`,
	}

	if diff := cmp.Diff(wantWarns, strs(warns)); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Load(filepath.Join(dir, "missing.conf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want os.ErrNotExist", err)
	}
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("lb_algo rr\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := Load(bad)
	var l ErrorList
	if !errors.As(err, &l) || len(l) != 1 || !strings.HasPrefix(l[0].String(), bad+":1:1: unknown keyword") {
		t.Errorf("Load(bad) error = %v, want one ErrorList entry at %s:1:1", err, bad)
	}
}

func BenchmarkParse(b *testing.B) {
	src, err := os.ReadFile("../testdata/config/keepalived.conf")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, _, err := Parse("keepalived.conf", src); err != nil {
			b.Fatal(err)
		}
	}
}
