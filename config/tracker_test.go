package config

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// vs wraps checker lines in a virtual server and real server; the checker block starts
// on line 4.
func vs(checkers string) string {
	return "virtual_server 198.18.0.100 80 {\n protocol TCP\n real_server 198.18.1.1 80 {\n" + checkers + " }\n}\n"
}

// TestTrackerErrors checks the messages and positions of mistakes in the blocks VRRP
// tracks, garp_group, lvs_sync_daemon and the checkers beyond the seed's.
func TestTrackerErrors(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		wantErrs []string
	}{
		{
			name: "vrrp_track_process values",
			src: "vrrp_track_process p {\n process\n weight 255\n quorum 0\n quorum_max 70000\n delay 3601\n param_match exact\n full_command maybe\n}\n" +
				"vrrp_track_process q {\n weight 1\n}\n" +
				"vrrp_track_process r {\n process x\n quorum 3\n quorum_max 2\n}\n" +
				"vrrp_track_process s {\n process x\n process y\n weight 1 sideways\n}\n",
			wantErrs: []string{
				`k.conf:2:2: vrrp_track_process p: process: missing value`,
				`k.conf:3:9: vrrp_track_process p: weight "255": want -254..254`,
				`k.conf:4:9: vrrp_track_process p: quorum "0": want 1..65535`,
				`k.conf:5:13: vrrp_track_process p: quorum_max "70000": want 0..65535`,
				`k.conf:6:8: vrrp_track_process p: delay "3601": want seconds, 0.000001..3600`,
				`k.conf:7:14: vrrp_track_process p: param_match "exact": want no value, initial or partial`,
				`k.conf:8:15: vrrp_track_process p: full_command "maybe": want no value, or true or false`,
				`k.conf:10:1: vrrp_track_process q: no process line`,
				`k.conf:13:1: vrrp_track_process r: quorum 3 is above quorum_max 2`,
				`k.conf:20:2: vrrp_track_process s: process given twice`,
				`k.conf:21:11: vrrp_track_process s: weight: "sideways": want reverse or noreverse`,
			},
		},
		{
			name: "bfd_instance values",
			src: "bfd_instance b {\n neighbor_ip 198.18.0.300\n min_rx 0.5\n min_tx 1.2345\n idle_tx 999\n multiplier 0\n ttl 256\n max_hops -2\n weight 254\n}\n" +
				"bfd_instance c {\n source_ip 198.18.0.2\n}\n" +
				"bfd_instance d {\n neighbor_ip 2001:db8::3\n source_ip 198.18.0.2\n}\n" +
				"bfd_instance e {\n neighbor_ip 198.18.0.3\n ttl 5\n max_hops 6\n}\n" +
				"bfd_instance f {\n neighbor_ip 198.18.0.4\n}\nbfd_instance g {\n neighbour_ip 198.18.0.4\n}\n",
			wantErrs: []string{
				`k.conf:2:14: bfd_instance b: neighbor_ip "198.18.0.300": want an IPv4 or IPv6 address`,
				`k.conf:3:9: bfd_instance b: min_rx "0.5": want milliseconds, 1..4294967, at most 3 decimal places`,
				`k.conf:4:9: bfd_instance b: min_tx "1.2345": want milliseconds, 1..4294967, at most 3 decimal places`,
				`k.conf:5:10: bfd_instance b: idle_tx "999": want milliseconds, 1000..4294967, at most 3 decimal places`,
				`k.conf:6:13: bfd_instance b: multiplier "0": want 1..255`,
				`k.conf:7:6: bfd_instance b: ttl "256": want 1..255`,
				`k.conf:8:11: bfd_instance b: max_hops "-2": want -1..255`,
				`k.conf:9:9: bfd_instance b: weight "254": want -253..253`,
				`k.conf:11:1: bfd_instance c: no neighbor_ip`,
				`k.conf:14:1: bfd_instance d: source_ip 198.18.0.2 and neighbor_ip 2001:db8::3 are of different families`,
				`k.conf:18:1: bfd_instance e: max_hops 6 is above the ttl/hoplimit 5`,
				`k.conf:26:1: bfd_instance g: neighbor_ip 198.18.0.4 is the session of bfd_instance f at k.conf:23:1`,
			},
		},
		{
			name: "track references",
			src: "vrrp_track_process proc {\n process x\n}\nbfd_instance peer {\n neighbor_ip 198.18.0.3\n}\n" +
				"vrrp_instance V {\n virtual_router_id 1\n track_process {\n  proc weight 1 reverse\n  prok\n }\n track_bfd {\n  peer weight 254\n  nope\n }\n}\n" +
				"vrrp_sync_group G {\n group { V }\n track_process {\n  other\n }\n track_bfd {\n  peer sideways\n }\n}\n",
			wantErrs: []string{
				`k.conf:11:3: vrrp_instance V: track_process: prok: no vrrp_track_process prok; did you mean proc?`,
				`k.conf:14:15: vrrp_instance V: track_bfd peer: weight "254": want -253..253`,
				`k.conf:15:3: vrrp_instance V: track_bfd: nope: no bfd_instance nope`,
				`k.conf:21:3: vrrp_sync_group G: track_process: other: no vrrp_track_process other`,
				`k.conf:24:8: vrrp_sync_group G: track_bfd peer: unexpected "sideways"; want NAME [weight N [reverse|noreverse]]`,
			},
		},
		{
			name: "garp_group",
			src: "garp_group {\n garp_interval -1\n}\ngarp_group x {\n interface eth0\n}\ngarp_group {\n interface eth0\n interfaces { eth1 }\n}\n" +
				"garp_group {\n interfaces {\n  eth1\n  eth0\n }\n}\ngarp_group {\n gna_interval 0\n}\ngarp_group\n",
			wantErrs: []string{
				`k.conf:2:16: garp_group: garp_interval "-1": want seconds, at least 0, at most 6 decimal places`,
				`k.conf:4:12: garp_group: unexpected argument "x"; it takes no name`,
				`k.conf:7:1: garp_group: both interface and interfaces; write one garp_group for each`,
				`k.conf:11:1: garp_group: interface eth0 is already in the garp_group at k.conf:4:1`,
				`k.conf:17:1: garp_group: no interface or interfaces`,
				`k.conf:20:1: garp_group: want a { block }`,
			},
		},
		{
			name: "lvs_sync_daemon",
			src: "global_defs {\n lvs_sync_daemon eth1 inst VI_2 id 256 maxlen 65508 port 0 ttl 0 group 198.18.0.1 bogus\n}\n" +
				"global_defs {\n lvs_sync_daemon averyveryverylongname\n}\nglobal_defs {\n lvs_sync_daemon eth1 VI_2 port\n}\n" +
				"global_defs {\n lvs_sync_daemon eth1 inst VI_2\n}\nvrrp_instance VI_1 {\n virtual_router_id 1\n}\n",
			wantErrs: []string{
				`k.conf:2:36: global_defs: lvs_sync_daemon id "256": want 0..255`,
				`k.conf:2:47: global_defs: lvs_sync_daemon maxlen "65508": want 1..65507`,
				`k.conf:2:58: global_defs: lvs_sync_daemon port "0": want 1..65535`,
				`k.conf:2:64: global_defs: lvs_sync_daemon ttl "0": want 1..255`,
				`k.conf:2:72: global_defs: lvs_sync_daemon group "198.18.0.1": want a multicast address`,
				`k.conf:2:83: global_defs: lvs_sync_daemon: unknown option "bogus" (want inst, id, maxlen, port, ttl or group)`,
				`k.conf:5:18: global_defs: lvs_sync_daemon interface "averyveryverylongname": longer than 15 bytes`,
				`k.conf:8:28: global_defs: lvs_sync_daemon port: missing value`,
				`k.conf:11:2: global_defs: lvs_sync_daemon: no vrrp_instance VI_2; did you mean VI_1?`,
			},
		},
		{
			name: "HTTP_GET and SSL_GET options",
			src: vs("  SSL_GET {\n   url {\n    path /\n    status_code 200-199 +200 99\n    regex_options caseles\n    regex_min_offset -1\n   }\n" +
				"   http_protocol 2\n   sni_name a b\n   fwmark 4294967296\n   fast_recovery nah\n  }\n" +
				"  HTTP_GET {\n   url {\n    path /\n    tls_compliant\n   }\n   tls_compliant\n  }\n"),
			wantErrs: []string{
				`k.conf:7:17: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: SSL_GET: url: status_code "200-199": want a code or range in 100..599`,
				`k.conf:7:25: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: SSL_GET: url: status_code "+200": want a code or range in 100..599`,
				`k.conf:7:30: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: SSL_GET: url: status_code "99": want a code or range in 100..599`,
				`k.conf:8:19: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: SSL_GET: url: regex_options "caseles": unknown PCRE2 option (want allow_empty_class, alt_bsux, auto_callout, caseless, dollar_endonly, dotall, dupnames, extended, firstline, match_unset_backref, multiline, never_ucp, never_utf, no_auto_capture, no_auto_possess, no_dotstar_anchor, no_start_optimize, ucp, ungreedy, utf, never_backslash_c, alt_circumflex, alt_verbnames or use_offset_limit)`,
				`k.conf:9:22: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: SSL_GET: url: regex_min_offset "-1": want 0..2147483647`,
				`k.conf:11:18: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: SSL_GET: http_protocol "2": want 1.0, 1.0C or 1.1`,
				`k.conf:12:15: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: SSL_GET: sni_name: unexpected argument "b"`,
				`k.conf:13:11: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: SSL_GET: fwmark "4294967296": want 0..4294967295`,
				`k.conf:14:18: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: SSL_GET: fast_recovery "nah": want no value, or true or false`,
				`k.conf:19:5: unknown keyword "tls_compliant" in virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: HTTP_GET: url`,
				`k.conf:21:4: unknown keyword "tls_compliant" in virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: HTTP_GET`,
			},
		},
		{
			name: "DNS, UDP, PING, FILE and BFD checks",
			src: vs("  DNS_CHECK {\n   type SRV\n   name a..b\n  }\n  DNS_CHECK {\n   name .x\n  }\n"+
				"  UDP_CHECK {\n   payload 0g\n   require_reply 1y\n   max_reply_length 65536\n  }\n  UDP_CHECK {\n   payload\n  }\n"+
				"  UDP_CHECK {\n   min_reply_length 300\n  }\n  PING_CHECK {\n   connect_ip x\n   helo_name h\n  }\n"+
				"  FILE_CHECK {\n   weight 2147483648\n  }\n  FILE_CHECK {\n  }\n  FILE_CHECK {\n   track_file nofile\n   weight 1 sideways\n  }\n"+
				"  BFD_CHECK {\n  }\n") +
				// References are checked in valid virtual servers only (line 40 on).
				strings.Replace(vs("  FILE_CHECK {\n   track_file nofile\n  }\n  BFD_CHECK {\n   name nobfd\n  }\n"), "0.100", "0.101", 1),
			wantErrs: []string{
				`k.conf:5:9: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: DNS_CHECK: type "SRV": want A, NS, CNAME, SOA, MX, TXT, AAAA, RRSIG or DNSKEY`,
				`k.conf:6:9: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: DNS_CHECK: name "a..b": want a domain name, labels of 1..63 bytes`,
				`k.conf:9:9: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: DNS_CHECK: name ".x": want a domain name, labels of 1..63 bytes`,
				`k.conf:12:12: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: UDP_CHECK: payload "0g": want hex digits`,
				`k.conf:13:18: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: UDP_CHECK: require_reply "1y": want hex digits, x for any`,
				`k.conf:14:21: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: UDP_CHECK: max_reply_length "65536": want 0..65535`,
				`k.conf:17:4: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: UDP_CHECK: payload: missing value`,
				`k.conf:19:3: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: UDP_CHECK: min_reply_length 300 is above max_reply_length 255`,
				`k.conf:23:15: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: PING_CHECK: connect_ip "x": want an IPv4 or IPv6 address`,
				`k.conf:24:4: unknown keyword "helo_name" in virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: PING_CHECK`,
				`k.conf:27:11: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: FILE_CHECK: weight "2147483648": want -2147483647..2147483647`,
				`k.conf:29:3: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: FILE_CHECK: no track_file`,
				`k.conf:33:13: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: FILE_CHECK: weight: "sideways": want reverse or noreverse`,
				`k.conf:35:3: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: BFD_CHECK: no name (of a bfd_instance)`,
				`k.conf:42:3: real_server 198.18.1.1:80: FILE_CHECK: track_file: no vrrp_track_file or track_file nofile`,
				`k.conf:45:3: real_server 198.18.1.1:80: BFD_CHECK: name: no bfd_instance nobfd`,
			},
		},
		{
			name: "virtual_server, real_server, instance and SSL extras",
			src: "virtual_server 198.18.0.100 80 {\n protocol TCP\n ip_family inet6\n hashed 1\n sorry_server_lvs_method FOO\n" +
				" real_server 198.18.1.1 80 {\n  lvs_method TUN type gue\n  uthreshold -1\n  lthreshold 4294967296\n }\n}\n" +
				"vrrp_instance V {\n virtual_router_id 1\n mcast_dst_ip ff05::12\n unicast_ttl 256\n down_timer_adverts 0\n}\n" +
				"SSL x {\n}\nSSL {\n pasword p\n}\n",
			wantErrs: []string{
				`k.conf:1:1: virtual_server 198.18.0.100 80: ip_family inet6: the address is of the other family`,
				`k.conf:4:9: virtual_server 198.18.0.100 80: hashed: unexpected argument "1"`,
				`k.conf:5:26: virtual_server 198.18.0.100 80: sorry_server_lvs_method "FOO": want NAT, DR, TUN or FNAT`,
				`k.conf:7:18: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: lvs_method TUN type gue: a gue tunnel needs a port, and only gue takes one`,
				`k.conf:8:14: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: uthreshold "-1": want 0..4294967295`,
				`k.conf:9:14: virtual_server 198.18.0.100 80: real_server 198.18.1.1 80: lthreshold "4294967296": want 0..4294967295`,
				`k.conf:14:15: vrrp_instance V: mcast_dst_ip "ff05::12": want an IPv4 multicast or IPv6 link-local multicast address`,
				`k.conf:15:14: vrrp_instance V: unicast_ttl "256": want 0..255`,
				`k.conf:16:21: vrrp_instance V: down_timer_adverts "0": want 1..100`,
				`k.conf:18:1: SSL: want SSL { ... }`,
				`k.conf:21:2: unknown keyword "pasword" in SSL; did you mean password?`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, _ := parseDiags(t, tc.src)
			if diff := cmp.Diff(tc.wantErrs, errs); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTrackerWarnings checks what xlb accepts with a warning: keepalived's deprecated and
// old spellings of the sync daemon, read as meant.
func TestTrackerWarnings(t *testing.T) {
	src := "global_defs {\n lvs_sync_daemon eth1 VI_1 5\n}\n" +
		"vrrp_instance VI_1 {\n virtual_router_id 1\n lvs_sync_daemon_interface eth2\n}\n"
	cfg, errs, warns := parseDiags(t, src)
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	want := []string{
		`k.conf:2:2: global_defs: lvs_sync_daemon: parsed, but xlb does not act on it yet (IPVS connection sync)`,
		`k.conf:2:28: global_defs: lvs_sync_daemon: a sync id without "id" is old syntax; write id 5`,
		`k.conf:4:1: vrrp_instance VI_1: lvs_sync_daemon_interface eth2 is ignored: lvs_sync_daemon is eth1, set at k.conf:2:2`,
		`k.conf:6:2: vrrp_instance VI_1: lvs_sync_daemon_interface is deprecated (keepalived too); write lvs_sync_daemon eth2 VI_1 in global_defs`,
		`k.conf:6:2: vrrp_instance VI_1: lvs_sync_daemon_interface: parsed, but xlb does not act on it yet (IPVS connection sync)`,
	}
	if diff := cmp.Diff(want, warns); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	id := 5
	wantSync := &LVSSyncDaemon{Pos: Pos{File: "k.conf", Line: 2, Col: 2}, Interface: "eth1", Instance: "VI_1", SyncID: &id}
	if diff := cmp.Diff(wantSync, cfg.Global.LVSSyncDaemon, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("lvs_sync_daemon (-want +got):\n%s", diff)
	}

	// Without lvs_sync_daemon, the instance's interface stands for it.
	cfg, errs, _ = parseDiags(t, "vrrp_instance VI_1 {\n virtual_router_id 1\n lvs_sync_daemon_interface eth2\n}\n")
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	wantSync = &LVSSyncDaemon{Pos: Pos{File: "k.conf", Line: 1, Col: 1}, Interface: "eth2", Instance: "VI_1"}
	if diff := cmp.Diff(wantSync, cfg.Global.LVSSyncDaemon, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("lvs_sync_daemon from the instance (-want +got):\n%s", diff)
	}
}

func TestParseHex(t *testing.T) {
	tests := []struct {
		in             string
		wildcard       bool
		wantData, mask []byte
		ok             bool
	}{
		{"Ab12f 3 456", false, []byte{0xab, 0x12, 0x0f, 0x03, 0x45, 0x06}, nil, true},
		{"  00ff\t1 ", false, []byte{0x00, 0xff, 0x01}, nil, true},
		{"1x X", true, []byte{0x10, 0x00}, []byte{0x0f, 0x0f}, true},
		{"1x", false, nil, nil, false}, // x only with wildcard
		{"12g", false, nil, nil, false},
		{"", false, nil, nil, false},
		{"   ", true, nil, nil, false},
	}
	for _, tc := range tests {
		data, mask, ok := parseHex(tc.in, tc.wildcard)
		if ok != tc.ok || !bytes.Equal(data, tc.wantData) || !bytes.Equal(mask, tc.mask) {
			t.Errorf("parseHex(%q, %v) = %x, %x, %v; want %x, %x, %v", tc.in, tc.wildcard, data, mask, ok, tc.wantData, tc.mask, tc.ok)
		}
	}
}

// FuzzParseHex checks that parseHex never panics, keeps data and mask the same length, and
// reads its own output (hex digits) back unchanged.
func FuzzParseHex(f *testing.F) {
	for _, s := range []string{"Ab12f 3 456", "1x X", "0\t0", ""} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, wildcard bool) {
		data, mask, ok := parseHex(s, wildcard)
		if !ok {
			return
		}
		if mask != nil && len(mask) != len(data) {
			t.Fatalf("parseHex(%q): data %x and mask %x differ in length", s, data, mask)
		}
		again, m2, ok := parseHex(hex.EncodeToString(data), false)
		if !ok || !bytes.Equal(again, data) || m2 != nil {
			t.Fatalf("parseHex(%x) = %x, %x, %v; want %x", data, again, m2, ok, data)
		}
	})
}

func TestStatusRange(t *testing.T) {
	tests := []struct {
		r    StatusRange
		text string
		in   []int
		out  []int
	}{
		{StatusRange{200, 200}, "200", []int{200}, []int{199, 201}},
		{StatusRange{300, 399}, "300-399", []int{300, 350, 399}, []int{299, 400}},
	}
	for _, tc := range tests {
		b, err := tc.r.MarshalText()
		if err != nil || string(b) != tc.text {
			t.Errorf("%+v.MarshalText() = %q, %v; want %q", tc.r, b, err, tc.text)
		}
		for _, c := range tc.in {
			if !tc.r.Contains(c) {
				t.Errorf("%s does not contain %d", tc.text, c)
			}
		}
		for _, c := range tc.out {
			if tc.r.Contains(c) {
				t.Errorf("%s contains %d", tc.text, c)
			}
		}
	}
}

func TestUnicastPeerTTL(t *testing.T) {
	conf := func(peer string) string {
		return "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n unicast_peer {\n  " + peer + "\n }\n}\n"
	}
	tests := []struct {
		peer    string
		want    []PeerTTL
		wantErr string
	}{
		{peer: "198.18.0.2"},
		{peer: "198.18.0.2 min_ttl 250", want: []PeerTTL{{Addr: netip.MustParseAddr("198.18.0.2"), MinTTL: 250, MaxTTL: 255}}},
		{peer: "198.18.0.2 max_ttl 64 min_ttl 60", want: []PeerTTL{{Addr: netip.MustParseAddr("198.18.0.2"), MinTTL: 60, MaxTTL: 64}}},
		{peer: "198.18.0.2 min_ttl 256", wantErr: `k.conf:5:22: vrrp_instance V: unicast_peer 198.18.0.2: min_ttl "256": want 0..255`},
		{peer: "198.18.0.2 ttl 5", wantErr: `k.conf:5:14: vrrp_instance V: unicast_peer 198.18.0.2: "ttl": want min_ttl N or max_ttl N`},
		{peer: "198.18.0.2 min_ttl 9 max_ttl 8", wantErr: `k.conf:5:14: vrrp_instance V: unicast_peer 198.18.0.2: min_ttl 9 is above max_ttl 8`},
	}
	for _, tc := range tests {
		t.Run(tc.peer, func(t *testing.T) {
			cfg, errs, _ := parseDiags(t, conf(tc.peer))
			if tc.wantErr != "" {
				if !slices.Contains(errs, tc.wantErr) {
					t.Fatalf("errors %q, want %q", errs, tc.wantErr)
				}
				return
			}
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if diff := cmp.Diff(tc.want, cfg.Instances[0].UnicastPeerTTLs, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("peer TTLs (-want +got):\n%s", diff)
			}
		})
	}
}
