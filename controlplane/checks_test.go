package controlplane

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"xlb/health"
	"xlb/internal/script"
)

// planView is what a HealthPlan means, in comparable words: per health
// service, its keys and, per real, each check's name and schedule.
type planView struct {
	Keys  []string
	Reals map[string][]string
}

func viewPlan(p HealthPlan) map[string]planView {
	out := map[string]planView{}
	for _, s := range p.Services {
		v := planView{Reals: map[string][]string{}}
		for _, k := range p.Keys[s.Name] {
			v.Keys = append(v.Keys, k.String())
		}
		for _, r := range s.Reals {
			var checks []string
			for _, c := range r.Checks {
				o := c.Options
				checks = append(checks, c.Checker.String()+" "+schedule(o))
			}
			v.Reals[r.Addr.String()] = checks
		}
		out[s.Name] = v
	}
	return out
}

func schedule(o health.CheckOptions) string {
	var b strings.Builder
	b.WriteString("every " + o.Interval.String() + " timeout " + o.Timeout.String() +
		" retry " + string(rune('0'+o.Retry)) + " after " + o.RetryDelay.String() + " warmup " + o.Warmup.String())
	if o.Alpha {
		b.WriteString(" alpha")
	}
	if o.Rise != 0 || o.Fall != 0 {
		fmt.Fprintf(&b, " rise %d fall %d", o.Rise, o.Fall)
	}
	return b.String()
}

func TestHealthChecks(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "weight")
	if err := os.WriteFile(file, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A script anyone may change: enable_script_security refuses it.
	if err := os.WriteFile(filepath.Join(dir, "check.sh"), []byte("#!/bin/sh\n"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "check.sh"), 0o777); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		conf         string
		want         map[string]planView
		wantWarnings []string
		wantErr      string
	}{
		{
			name: "keepalived's defaults",
			conf: `virtual_server 198.18.0.100 80 {
				delay_loop 6
				lb_kind DR
				protocol TCP
				real_server 198.18.0.11 80 { TCP_CHECK { } }
				real_server 198.18.0.12 80 {
					TCP_CHECK {
						connect_port 8080
						connect_timeout 2
						retry 3
						delay_before_retry 2
						warmup 1
						rise 3
						fall 2
					}
				}
			}`,
			want: map[string]planView{"198.18.0.100:80/tcp": {Keys: []string{"198.18.0.100:80/tcp"}, Reals: map[string][]string{
				"198.18.0.11:80": {"TCP_CHECK 198.18.0.11:80 every 6s timeout 0s retry 1 after 1s warmup 6s"},
				"198.18.0.12:80": {"TCP_CHECK 198.18.0.12:8080 every 6s timeout 2s retry 3 after 2s warmup 1s rise 3 fall 2"},
			}}},
		},
		{
			name: "a group is checked once and fans out",
			conf: `virtual_server_group web { 198.18.0.100-101 80 }
				virtual_server group web {
				alpha
				lb_kind DR
				protocol TCP
				real_server 198.18.0.11 80 {
					HTTP_GET {
						url { path /health }
						connect_ip 198.18.0.99
					}
				}
			}`,
			want: map[string]planView{"198.18.0.100:80/tcp": {
				Keys: []string{"198.18.0.100:80/tcp", "198.18.0.101:80/tcp"},
				Reals: map[string][]string{
					"198.18.0.11:80": {"HTTP_GET 198.18.0.99:80/health every 1m0s timeout 0s retry 1 after 1s warmup 1m0s alpha"},
				}}},
		},
		{
			name: "every checker type",
			conf: `vrrp_track_file weight {
					file ` + file + `
					weight 2
				}
				virtual_server 198.18.0.100 53 {
				delay_loop 3
				lb_kind DR
				protocol UDP
				real_server 198.18.0.11 53 {
					DNS_CHECK {
						type A
						name example.org.
					}
					UDP_CHECK { }
					PING_CHECK { }
					FILE_CHECK { track_file weight }
					MISC_CHECK {
						misc_path "/bin/true x"
						misc_timeout 4
					}
					SMTP_CHECK { connect_port 25 }
					SSL_GET { url { path / } }
				} }`,
			want: map[string]planView{"198.18.0.100:53/udp": {Keys: []string{"198.18.0.100:53/udp"}, Reals: map[string][]string{
				"198.18.0.11:53": {
					"DNS_CHECK 198.18.0.11:53 A example.org. every 3s timeout 0s retry 1 after 1s warmup 3s",
					"UDP_CHECK 198.18.0.11:53 every 3s timeout 0s retry 1 after 1s warmup 3s",
					"PING_CHECK 198.18.0.11 every 3s timeout 0s retry 1 after 1s warmup 3s",
					"FILE_CHECK " + file + " every 3s timeout 0s retry 1 after 1s warmup 3s",
					"MISC_CHECK /bin/true x every 3s timeout 4s retry 1 after 1s warmup 3s",
					"SMTP_CHECK 198.18.0.11:25 every 3s timeout 0s retry 1 after 1s warmup 3s",
					"SSL_GET 198.18.0.11:53/ every 3s timeout 0s retry 1 after 1s warmup 3s",
				},
			}}},
		},
		{
			name: "an unsafe MISC_CHECK script is refused under enable_script_security",
			conf: `global_defs { enable_script_security }
				virtual_server 198.18.0.100 80 {
				lb_kind DR
				protocol TCP
				real_server 198.18.0.11 80 { MISC_CHECK { misc_path "` + dir + `/check.sh" } } }`,
			wantErr: "test.conf:5:34: MISC_CHECK of real_server 198.18.0.11:80: ",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan, warnings, err := HealthChecks(mustParse(t, tc.conf))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, script.ErrInsecure) {
					t.Fatalf("error %v, want script.ErrInsecure containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, viewPlan(plan)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantWarnings, warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHealthChecksViaVIP checks which TCP_CHECKs go the clients' way with
// ViaVIP: DR and TUN (IPIP) services' without connect_ip; NAT, a GUE
// tunnel and connect_ip keep theirs, and a DR real whose interface is
// unknown keeps its own with a warning.
func TestHealthChecksViaVIP(t *testing.T) {
	conf := `virtual_server 198.18.0.100 80 {
		lb_kind DR
		protocol TCP
		real_server 198.18.0.11 80 { TCP_CHECK { } }
		real_server 198.18.0.12 80 {
			TCP_CHECK {
				connect_ip 198.18.0.12
			}
		}
		real_server 198.18.0.19 80 { TCP_CHECK { } } }
	virtual_server 198.18.0.101 80 {
		lb_kind TUN
		protocol TCP
		real_server 198.18.0.11 80 { TCP_CHECK { } }
		real_server 2001:db8::11 80 { TCP_CHECK { } } }
	virtual_server 198.18.0.102 80 {
		lb_kind TUN type gue port 6080
		protocol TCP
		real_server 198.18.0.11 80 { TCP_CHECK { } } }
	virtual_server 198.18.0.103 80 {
		lb_kind NAT
		protocol TCP
		real_server 198.18.0.11 80 { TCP_CHECK { } } }`
	iface := func(a netip.Addr) (string, error) {
		if a == netip.MustParseAddr("198.18.0.19") {
			return "", errors.New("no route")
		}
		return "eth0", nil
	}
	plan, warnings, err := HealthChecksWith(mustParse(t, conf), HealthOptions{ViaVIP: true, Iface: iface})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for name, v := range viewPlan(plan) {
		for real, checks := range v.Reals {
			for _, c := range checks {
				got[name] = append(got[name], real+" "+strings.SplitN(c, " every", 2)[0])
			}
		}
		slices.Sort(got[name])
	}
	want := map[string][]string{
		"198.18.0.100:80/tcp": {
			"198.18.0.11:80 TCP_CHECK 198.18.0.100:80 via 198.18.0.11",
			"198.18.0.12:80 TCP_CHECK 198.18.0.12:80",
			"198.18.0.19:80 TCP_CHECK 198.18.0.19:80",
		},
		"198.18.0.101:80/tcp": {
			"198.18.0.11:80 TCP_CHECK 198.18.0.101:80 via tunnel to 198.18.0.11",
			"[2001:db8::11]:80 TCP_CHECK 198.18.0.101:80 via tunnel to 2001:db8::11",
		},
		"198.18.0.102:80/tcp": {"198.18.0.11:80 TCP_CHECK 198.18.0.11:80"},
		"198.18.0.103:80/tcp": {"198.18.0.11:80 TCP_CHECK 198.18.0.11:80"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("checks (-want +got):\n%s", diff)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "198.18.0.19:80: checked at its own address, not via the VIP: no route") ||
		!strings.Contains(warnings[1], "tunnel type gue is not checked via the VIP") {
		t.Errorf("warnings %q, want one for 198.18.0.19 and one for the GUE service", warnings)
	}
}

// TestHealthAlerts checks which reals and services mail their changes:
// smtp_alert in the real_server or virtual_server, else global_defs'
// smtp_alert_checker, else its smtp_alert.
func TestHealthAlerts(t *testing.T) {
	services := `
		virtual_server 198.18.0.100 80 {
			protocol TCP
			real_server 198.18.0.11 80 { smtp_alert
				TCP_CHECK { } }
			real_server 198.18.0.12 80 { TCP_CHECK { } } }
		virtual_server 198.18.0.101 80 {
			protocol TCP
			smtp_alert
			real_server 198.18.0.13 80 { TCP_CHECK { } } }`
	tests := []struct {
		name       string
		global     string
		wantReals  []string
		wantQuorum []string
	}{
		{"words in the blocks only", "", []string{"198.18.0.11:80", "198.18.0.13:80"}, []string{"198.18.0.101:80/tcp"}},
		{"global smtp_alert", "global_defs { smtp_alert }",
			[]string{"198.18.0.11:80", "198.18.0.12:80", "198.18.0.13:80"}, []string{"198.18.0.100:80/tcp", "198.18.0.101:80/tcp"}},
		{"smtp_alert_checker off wins over smtp_alert", "global_defs {\n smtp_alert\n smtp_alert_checker false\n }",
			[]string{"198.18.0.11:80", "198.18.0.13:80"}, []string{"198.18.0.101:80/tcp"}},
		{"smtp_alert_vrrp alone mails no checker", "global_defs { smtp_alert_vrrp }",
			[]string{"198.18.0.11:80", "198.18.0.13:80"}, []string{"198.18.0.101:80/tcp"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan, _, err := HealthChecks(mustParse(t, tc.global+services))
			if err != nil {
				t.Fatal(err)
			}
			var reals, quorum []string
			for _, byReal := range plan.Alerts {
				for a, on := range byReal {
					if on {
						reals = append(reals, a.String())
					}
				}
			}
			for k, on := range plan.QuorumAlerts {
				if on {
					quorum = append(quorum, k.String())
				}
			}
			slices.Sort(reals)
			slices.Sort(quorum)
			if diff := cmp.Diff(tc.wantReals, reals); diff != "" {
				t.Errorf("reals mailed (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantQuorum, quorum); diff != "" {
				t.Errorf("quorum mailed (-want +got):\n%s", diff)
			}
		})
	}
}
