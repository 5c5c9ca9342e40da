package config

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// fnatServer is a virtual server of lb_kind FNAT at vip with one real and the lines
// extra; its real_server is on line 5.
func fnatServer(vip, real, extra string) string {
	return "virtual_server " + vip + " 80 {\n protocol TCP\n lb_kind FNAT\n" + extra +
		" real_server " + real + " 8080 {\n }\n}\n"
}

func TestLocalAddressGroups(t *testing.T) {
	groups := "local_address_group L {\n 198.18.9.1\n 198.18.9.2-4 dpdk0\n 2001:db8:9::1\n}\n" // lines 1-5
	tests := []struct {
		name      string
		src       string
		wantLocal [][]netip.Addr // per virtual server
		wantErrs  []string
		wantWarns []string
	}{
		{
			name: "IPv4 service takes the group's IPv4 addresses, ranges expanded",
			src:  groups + fnatServer("198.18.0.100", "198.18.2.11", " laddr_group_name L\n"),
			wantLocal: [][]netip.Addr{{netip.MustParseAddr("198.18.9.1"), netip.MustParseAddr("198.18.9.2"),
				netip.MustParseAddr("198.18.9.3"), netip.MustParseAddr("198.18.9.4")}},
		},
		{
			name:      "IPv6 service takes the IPv6 ones",
			src:       groups + fnatServer("2001:db8::100", "2001:db8:2::11", " laddr_group_name L\n"),
			wantLocal: [][]netip.Addr{{netip.MustParseAddr("2001:db8:9::1")}},
		},
		{
			name:     "FNAT without a pool",
			src:      fnatServer("198.18.0.100", "198.18.2.11", ""),
			wantErrs: []string{`k.conf:1:1: virtual_server 198.18.0.100 80: lb_kind FNAT needs laddr_group_name naming a local_address_group`},
		},
		{
			name:     "unknown group, with a suggestion",
			src:      groups + fnatServer("198.18.0.100", "198.18.2.11", " laddr_group_name LL\n"),
			wantErrs: []string{`k.conf:6:1: virtual_server 198.18.0.100 80: no local_address_group LL; did you mean L?`},
		},
		{
			name: "family mismatch: no IPv6 local address, and a real of the other family",
			src: "local_address_group V4 {\n 198.18.9.1\n}\n" +
				fnatServer("2001:db8::100", "198.18.2.11", " laddr_group_name V4\n"),
			wantErrs: []string{
				`k.conf:4:1: virtual_server 2001:db8::100 80: local_address_group V4 (k.conf:1:1) has no IPv6 address for its reals`,
				`k.conf:8:2: virtual_server 2001:db8::100 80: real_server 198.18.2.11: lb_kind FNAT needs reals of the virtual server's family (IPv6)`,
			},
		},
		{
			name: "bad group lines",
			src:  "local_address_group B {\n 198.18.9.1\n 198.18.9.1\n nonsense\n 198.18.9.5 dpdk0 extra\n}\nlocal_address_group E {\n}\n",
			wantErrs: []string{
				`k.conf:3:2: local_address_group B: 198.18.9.1 listed twice`,
				`k.conf:4:2: local_address_group B: "nonsense": want ADDRESS[-LAST] [INTERFACE]`,
				`k.conf:5:19: local_address_group B: 198.18.9.5: unexpected argument "extra"`,
				`k.conf:7:1: local_address_group E: no addresses`,
			},
		},
		{
			name:      "laddr_group_name without FNAT is ignored",
			src:       groups + "virtual_server 198.18.0.100 80 {\n protocol TCP\n lb_kind NAT\n laddr_group_name L\n real_server 198.18.2.11 8080 {\n }\n}\n",
			wantLocal: [][]netip.Addr{nil},
			wantWarns: []string{`k.conf:6:1: virtual_server 198.18.0.100 80: laddr_group_name is for lb_kind FNAT; ignored with lb_kind NAT`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parseWant(t, tc.src, tc.wantErrs, tc.wantWarns)
			if cfg == nil {
				return
			}
			var got [][]netip.Addr
			for _, vs := range cfg.VirtualServers {
				got = append(got, vs.LocalAddrs)
				if vs.Kind == KindFNAT && vs.Reals[0].Port != 8080 {
					t.Errorf("real port %d, want 8080: FNAT rewrites the port", vs.Reals[0].Port)
				}
			}
			if diff := cmp.Diff(tc.wantLocal, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("local addresses (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLocalPortRange covers local_address_group's port_range (an xlb word): the range
// reaches the group's virtual servers; bad ranges are errors naming the place; a range
// below 1024 is warned about.
func TestLocalPortRange(t *testing.T) {
	group := func(lines string) string {
		return "local_address_group L {\n 198.18.9.1\n" + lines + "}\n" +
			fnatServer("198.18.0.100", "198.18.2.11", " laddr_group_name L\n")
	}
	tests := []struct {
		name      string
		src       string
		want      PortRange
		wantErrs  []string
		wantWarns []string
	}{
		{name: "none: the default", src: group("")},
		{name: "a range", src: group(" port_range 20000 29999\n"), want: PortRange{20000, 29999}},
		{name: "one port", src: group(" port_range 5000 5000\n"), want: PortRange{5000, 5000}},
		{name: "below 1024 is warned about", src: group(" port_range 500 2000\n"), want: PortRange{500, 2000},
			wantWarns: []string{`k.conf:3:2: local_address_group L: port_range from 500: ports below 1024 are where this node's own services listen`}},
		{name: "MIN above MAX", src: group(" port_range 3000 2000\n"),
			wantErrs: []string{`k.conf:3:2: local_address_group L: port_range 3000 2000: MIN above MAX`}},
		{name: "not a port", src: group(" port_range 0 70000\n"),
			wantErrs: []string{`k.conf:3:13: local_address_group L: port_range: "0" is no port (1-65535)`}},
		{name: "one end only", src: group(" port_range 2000\n"),
			wantErrs: []string{`k.conf:3:2: local_address_group L: port_range: want MIN MAX (1-65535), got 1 arguments`}},
		{name: "twice", src: group(" port_range 2000 3000\n port_range 4000 5000\n"),
			wantErrs: []string{`k.conf:4:2: local_address_group L: port_range given twice`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parseWant(t, tc.src, tc.wantErrs, tc.wantWarns)
			if cfg == nil {
				return
			}
			if got := cfg.VirtualServers[0].LocalPorts; got != tc.want {
				t.Errorf("virtual server's local ports %+v, want %+v", got, tc.want)
			}
			if got := cfg.LocalAddressGroups[0].Ports; got != tc.want {
				t.Errorf("group's port_range %+v, want %+v", got, tc.want)
			}
		})
	}
}
