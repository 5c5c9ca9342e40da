package controlplane

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"xlb/config"
	"xlb/vrrp"
	"xlb/vrrp/addrs"
	"xlb/vrrp/router"
)

// vrrpInstance returns the mapping of the smallest instance the tests
// write, "VI_1" on eth0 with VRID 51 and VIP 198.18.0.100, changed by mod.
func vrrpInstance(mod func(c *router.InstanceConfig)) router.InstanceConfig {
	c := router.InstanceConfig{
		VRRP: vrrp.Options{
			Name: "VI_1", VRID: 51, Version: 2, Priority: 100, AdvertInterval: time.Second, Accept: true,
		},
		Interface: "eth0",
		Addresses: []addrs.Address{{Prefix: netip.MustParsePrefix("198.18.0.100/32")}},
	}
	if mod != nil {
		mod(&c)
	}
	return c
}

// primaryTrack is the track of the instance's own interface keepalived
// adds unless dont_track_primary.
func primaryTrack(target, iface string) VRRPTrack {
	return VRRPTrack{Target: target, Name: "interface:" + iface, Kind: vrrp.TrackInterface, Source: "interface", Object: iface}
}

func TestVRRPConfig(t *testing.T) {
	const minimal = `
vrrp_instance VI_1 {
	interface eth0
	virtual_router_id 51
	virtual_ipaddress {
		198.18.0.100
	}
}
`
	for _, tc := range []struct {
		name string
		conf string
		want VRRPPlan
		// wantWarn are substrings of the mapping's warnings, in order.
		wantWarn []string
	}{
		{
			name: "defaults",
			conf: minimal,
			want: VRRPPlan{
				Options: router.Options{Instances: []router.InstanceConfig{vrrpInstance(nil)}},
				Tracks:  []VRRPTrack{primaryTrack("VI_1", "eth0")},
			},
		},
		{
			name: "v2 multicast with everything",
			conf: `
global_defs {
	vrrp_mcast_group4 224.0.0.19
	vrrp_garp_master_repeat 3
	vrrp_garp_master_delay 2
	vrrp_garp_interval 0.01
}
vrrp_instance VI_1 {
	state MASTER
	interface eth0
	virtual_router_id 51
	priority 150
	advert_int 2
	nopreempt
	preempt_delay 5
	no_accept
	mcast_src_ip 198.18.0.1
	garp_master_repeat 1
	garp_master_refresh 60
	authentication {
		auth_type PASS
		auth_pass secret
	}
	virtual_ipaddress {
		198.18.0.100/24 brd 198.18.0.255 dev eth0 scope link label eth0:1
		198.18.0.101
	}
	virtual_ipaddress_excluded {
		198.18.9.1/32
	}
	virtual_routes {
		198.18.5.0/24 via 198.18.0.254 table 100 metric 7
		blackhole 198.18.6.0/24
	}
	virtual_rules {
		from 198.18.0.100 table 100 priority 100
	}
	notify_master "/bin/true master"
	notify "/bin/echo"
	smtp_alert
}
`,
			want: VRRPPlan{
				Options: router.Options{Instances: []router.InstanceConfig{vrrpInstance(func(c *router.InstanceConfig) {
					c.VRRP.InitialState = vrrp.StateMaster
					c.VRRP.Priority = 150
					c.VRRP.AdvertInterval = 2 * time.Second
					c.VRRP.NoPreempt = true
					c.VRRP.PreemptDelay = 5 * time.Second
					c.VRRP.Accept = false
					c.VRRP.AuthPass = "secret"
					c.Source = netip.MustParseAddr("198.18.0.1")
					c.Group = netip.MustParseAddr("224.0.0.19")
					c.Addresses = []addrs.Address{
						{
							Prefix: netip.MustParsePrefix("198.18.0.100/24"), Broadcast: netip.MustParseAddr("198.18.0.255"),
							Dev: "eth0", Scope: addrs.ScopeLink, Label: "eth0:1",
						},
						{Prefix: netip.MustParsePrefix("198.18.0.101/32")},
					}
					c.Excluded = []addrs.Address{{Prefix: netip.MustParsePrefix("198.18.9.1/32")}}
					c.Routes = []addrs.Route{
						{To: netip.MustParsePrefix("198.18.5.0/24"), Via: netip.MustParseAddr("198.18.0.254"), Table: 100, Metric: 7},
						{Type: addrs.RouteBlackhole, To: netip.MustParsePrefix("198.18.6.0/24")},
					}
					c.Rules = []addrs.Rule{{From: netip.MustParsePrefix("198.18.0.100/32"), Table: 100, Priority: 100}}
					c.Announce = addrs.Announce{Repeat: 1, Delay: 2 * time.Second, Refresh: time.Minute, Interval: 10 * time.Millisecond}
				})}},
				Notify:    map[string]config.Notify{"VI_1": {Master: "/bin/true master", Any: "/bin/echo"}},
				SMTPAlert: map[string]bool{"VI_1": true},
				Tracks:    []VRRPTrack{primaryTrack("VI_1", "eth0")},
			},
		},
		{
			name: "v3 unicast",
			conf: `
global_defs {
	vrrp_version 3
	v3_checksum_as_v2
}
vrrp_instance VI_1 {
	interface eth0
	virtual_router_id 51
	advert_int 0.1
	unicast_src_ip 198.18.0.1
	unicast_peer {
		198.18.0.2
		198.18.0.3
	}
	old_unicast_checksum
	virtual_ipaddress {
		198.18.0.100
	}
}
`,
			want: VRRPPlan{
				Options: router.Options{Instances: []router.InstanceConfig{vrrpInstance(func(c *router.InstanceConfig) {
					c.VRRP.Version = 3
					c.VRRP.AdvertInterval = 100 * time.Millisecond
					c.VRRP.Unicast = []netip.Addr{netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.3")}
					c.Source = netip.MustParseAddr("198.18.0.1")
					c.V3ChecksumAsV2 = true
					c.OldUnicastChecksum = true
				})}},
				Tracks: []VRRPTrack{primaryTrack("VI_1", "eth0")},
			},
		},
		{
			name: "ipv6 defaults to version 3",
			conf: `
global_defs {
	vrrp_mcast_group6 ff02::13
	vrrp_garp_interval 0.5
	vrrp_gna_interval 0.02
}
vrrp_instance VI_6 {
	interface eth0
	virtual_router_id 52
	use_vmac vrrp6
	vmac_xmit_base
	dont_track_primary
	virtual_ipaddress {
		2001:db8::100/64
	}
}
`,
			want: VRRPPlan{
				Options: router.Options{Instances: []router.InstanceConfig{{
					VRRP: vrrp.Options{
						Name: "VI_6", VRID: 52, Version: 3, Priority: 100, AdvertInterval: time.Second, Accept: true,
					},
					Interface: "eth0", Group: netip.MustParseAddr("ff02::13"),
					UseVMAC: true, VMACName: "vrrp6", VMACXmitBase: true,
					Addresses: []addrs.Address{{Prefix: netip.MustParsePrefix("2001:db8::100/64")}},
					Announce:  addrs.Announce{Interval: 20 * time.Millisecond},
				}}},
			},
		},
		{
			name: "tracking and sync group",
			conf: `
vrrp_script chk_up {
	script "/bin/true"
	weight 10
}
vrrp_track_file flag {
	file /run/xlb-flag
	weight -3
}
vrrp_sync_group G1 {
	group {
		VI_1
		VI_2
	}
	track_script {
		chk_up weight -20
	}
	notify_backup "/bin/true backup"
	sync_group_tracking_weight
}
vrrp_instance VI_1 {
	interface eth0
	virtual_router_id 51
	track_interface {
		eth1 weight -30
		eth2
	}
	track_script {
		chk_up
	}
	track_file {
		flag
	}
	virtual_ipaddress {
		198.18.0.100
	}
}
vrrp_instance VI_2 {
	interface eth1
	virtual_router_id 52
	dont_track_primary
	virtual_ipaddress {
		198.18.1.100
	}
}
`,
			want: VRRPPlan{
				Options: router.Options{
					Instances: []router.InstanceConfig{
						vrrpInstance(nil),
						vrrpInstance(func(c *router.InstanceConfig) {
							c.VRRP.Name, c.VRRP.VRID, c.Interface = "VI_2", 52, "eth1"
							c.Addresses = []addrs.Address{{Prefix: netip.MustParsePrefix("198.18.1.100/32")}}
						}),
					},
					Groups: []router.GroupConfig{{Name: "G1", Members: []string{"VI_1", "VI_2"}, TrackingWeight: true}},
				},
				Notify: map[string]config.Notify{"G1": {Backup: "/bin/true backup"}},
				Tracks: []VRRPTrack{
					primaryTrack("VI_1", "eth0"),
					{Target: "VI_1", Name: "interface:eth1", Kind: vrrp.TrackInterface, Source: "interface", Object: "eth1", Weight: -30},
					{Target: "VI_1", Name: "interface:eth2", Kind: vrrp.TrackInterface, Source: "interface", Object: "eth2"},
					{Target: "VI_1", Name: "script:chk_up", Kind: vrrp.TrackScript, Source: "script", Object: "chk_up", Weight: 10},
					{Target: "VI_1", Name: "file:flag", Kind: vrrp.TrackFile, Source: "file", Object: "flag", Weight: -3},
					{Target: "G1", Name: "script:chk_up", Kind: vrrp.TrackScript, Source: "script", Object: "chk_up", Weight: -20},
				},
			},
		},
		{
			name: "fractional v2 advert_int is rounded",
			conf: strings.Replace(minimal, "interface eth0", "interface eth0\n\tadvert_int 1.6", 1),
			want: VRRPPlan{
				Options: router.Options{Instances: []router.InstanceConfig{vrrpInstance(func(c *router.InstanceConfig) {
					c.VRRP.AdvertInterval = 2 * time.Second
				})}},
				Tracks: []VRRPTrack{primaryTrack("VI_1", "eth0")},
			},
			wantWarn: []string{"test.conf:2:1: vrrp_instance VI_1: advert_int 1.6s: VRRP version 2 sends 2s"},
		},
		{
			name: "global smtp_alert_vrrp mails every instance",
			conf: "global_defs {\n smtp_alert_vrrp\n}\n" + minimal,
			want: VRRPPlan{
				Options:   router.Options{Instances: []router.InstanceConfig{vrrpInstance(func(c *router.InstanceConfig) {})}},
				SMTPAlert: map[string]bool{"VI_1": true},
				Tracks:    []VRRPTrack{primaryTrack("VI_1", "eth0")},
			},
		},
		{
			name: "global smtp_alert_vrrp off wins over smtp_alert",
			conf: "global_defs {\n smtp_alert\n smtp_alert_vrrp off\n}\n" + minimal,
			want: VRRPPlan{
				Options: router.Options{Instances: []router.InstanceConfig{vrrpInstance(func(c *router.InstanceConfig) {})}},
				Tracks:  []VRRPTrack{primaryTrack("VI_1", "eth0")},
			},
		},
		{
			name: "v3 drops auth_pass",
			conf: strings.Replace(minimal, "interface eth0", "interface eth0\n\tversion 3\n\tauthentication {\n\t\tauth_type PASS\n\t\tauth_pass x\n\t}", 1),
			want: VRRPPlan{
				Options: router.Options{Instances: []router.InstanceConfig{vrrpInstance(func(c *router.InstanceConfig) {
					c.VRRP.Version = 3
				})}},
				Tracks: []VRRPTrack{primaryTrack("VI_1", "eth0")},
			},
			wantWarn: []string{"test.conf:2:1: vrrp_instance VI_1: authentication: VRRP version 3 has none, ignoring it"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := config.Parse("test.conf", []byte(tc.conf))
			if err != nil {
				t.Fatalf("config.Parse: %v", err)
			}
			got, warns, err := VRRPConfig(cfg)
			if err != nil {
				t.Fatalf("VRRPConfig: %v", err)
			}
			if tc.want.Notify == nil {
				tc.want.Notify = map[string]config.Notify{}
			}
			if tc.want.SMTPAlert == nil {
				tc.want.SMTPAlert = map[string]bool{}
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("VRRPConfig (-want +got):\n%s", diff)
			}
			var gotWarn []string
			for _, w := range warns {
				gotWarn = append(gotWarn, w.String())
			}
			if diff := cmp.Diff(tc.wantWarn, gotWarn, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestVRRPConfigErrors checks that what xlb cannot run is refused with the
// position of the item at fault.
func TestVRRPConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		conf string
		want []string
	}{
		{
			name: "auth_type AH",
			conf: `
vrrp_instance VI_1 {
	interface eth0
	virtual_router_id 51
	authentication {
		auth_type AH
		auth_pass secret
	}
	virtual_ipaddress {
		198.18.0.100
	}
}
`,
			want: []string{"test.conf:2:1: vrrp_instance VI_1: authentication: auth_type AH: not supported (use PASS, or none)"},
		},
		{
			name: "ipv6 with version 2",
			conf: `
global_defs {
	vrrp_version 2
}
vrrp_instance VI_6 {
	interface eth0
	virtual_router_id 52
	virtual_ipaddress {
		2001:db8::100
	}
}
`,
			want: []string{"test.conf:5:1: vrrp_instance VI_6: IPv6 virtual_ipaddress needs VRRP version 3, got version 2"},
		},
		{
			name: "mixed families and a foreign peer",
			conf: `
vrrp_instance VI_1 {
	interface eth0
	virtual_router_id 51
	unicast_peer {
		2001:db8::2
	}
	virtual_ipaddress {
		198.18.0.100
		2001:db8::100
	}
}
`,
			want: []string{
				"test.conf:10:3: vrrp_instance VI_1: virtual_ipaddress 2001:db8::100/128: all must be of one family (the first is IPv4); put others in virtual_ipaddress_excluded",
				"test.conf:2:1: vrrp_instance VI_1: unicast_peer 2001:db8::2: want an IPv4 address like the virtual_ipaddress",
			},
		},
		{
			name: "no interface",
			conf: `
vrrp_instance VI_1 {
	virtual_router_id 51
	virtual_ipaddress {
		198.18.0.100
	}
}
`,
			want: []string{"test.conf:2:1: vrrp_instance VI_1: no interface (and no global_defs default_interface)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := config.Parse("test.conf", []byte(tc.conf))
			if err != nil {
				t.Fatalf("config.Parse: %v", err)
			}
			got, _, err := VRRPConfig(cfg)
			var list config.ErrorList
			if err != nil {
				var ok bool
				if list, ok = err.(config.ErrorList); !ok {
					t.Fatalf("error %T %v: want a config.ErrorList", err, err)
				}
			}
			var gotMsgs []string
			for _, d := range list {
				gotMsgs = append(gotMsgs, d.String())
			}
			if diff := cmp.Diff(tc.want, gotMsgs); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(VRRPPlan{}, got, cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); diff != "" {
				t.Errorf("plan returned with errors (-want +got):\n%s", diff)
			}
		})
	}
}
