package config

import (
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSameMeaningSameDump checks that spellings keepalived reads alike dump alike, so
// that diffing two dumps shows only changes of meaning.
func TestSameMeaningSameDump(t *testing.T) {
	vs := func(kind string) string {
		return "virtual_server 198.18.0.100 80 {\n protocol TCP\n lb_kind " + kind + "\n real_server 198.18.1.1 80 {\n }\n}\n"
	}
	inst := func(line string) string {
		return "vrrp_instance V {\n virtual_router_id 5\n " + line + "\n}\n"
	}
	tests := []struct {
		name string
		a, b string
	}{
		{"plain TUN is IPIP", vs("TUN"), vs("TUN type ipip nocsum")},
		{"last checksum word wins", vs("TUN type gre csum"), vs("TUN type gre nocsum csum")},
		{"ipvlan bridge is the default", inst("use_ipvlan ipv0 bridge"), inst("use_ipvlan name ipv0")},
		{"a five-octet VMAC takes the VRID", inst("use_vmac 02:00:00:00:01"), inst("use_vmac 02:00:00:00:01:05")},
		{"timer_expired_backup bare is 254", inst("timer_expired_backup"), inst("timer_expired_backup 254")},
		{"umask in octal or bits", "global_defs {\n umask 022\n}\n", "global_defs {\n umask IWGRP|IWOTH\n}\n"},
		{"rlimit 1 is raised to 2", "global_defs {\n vrrp_rlimit_rttime 1\n}\n", "global_defs {\n vrrp_rlimit_rttime 2\n}\n"},
		{"rx bufs policy in any case", "global_defs {\n vrrp_rx_bufs_policy advert\n}\n", "global_defs {\n vrrp_rx_bufs_policy ADVERT\n}\n"},
	}
	dump := func(t *testing.T, src string) string {
		t.Helper()
		cfg, _, err := Parse("k.conf", []byte(src))
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		b, err := Dump(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(dump(t, tc.a), dump(t, tc.b)); diff != "" {
				t.Errorf("dumps differ (-a +b):\n%s", diff)
			}
		})
	}
}

// TestTuningGroupsLazy checks that global_defs' tuning groups stay nil in a
// configuration that writes none of their words, and that writing one word allocates its
// group only: large configurations pay nothing for them.
func TestTuningGroupsLazy(t *testing.T) {
	cfg, _, err := Load("../testdata/config/keepalived.conf")
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.Global
	got := []any{g.Process, g.NotifyFifo, g.SNMP, g.DBus, g.Firewall, g.RcvBufs, g.VRRPDefaults, g.CheckerDefaults, g.Alerts, g.Scripts, g.Reload, g.Files}
	for i, p := range got {
		if !isNilPtr(p) {
			t.Errorf("group %d of keepalived.conf's global_defs = %+v, want nil", i, p)
		}
	}

	cfg, _, err = Parse("k.conf", []byte("global_defs {\n enable_dbus\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&DBus{Enable: true}, cfg.Global.DBus); diff != "" {
		t.Errorf("DBus (-want +got):\n%s", diff)
	}
	if cfg.Global.SNMP != nil || cfg.Global.Process != nil {
		t.Errorf("enable_dbus allocated other groups: SNMP %v, Process %v", cfg.Global.SNMP, cfg.Global.Process)
	}
}

func isNilPtr(v any) bool {
	r := reflect.ValueOf(v)
	return r.Kind() == reflect.Pointer && r.IsNil()
}
