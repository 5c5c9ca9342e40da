package main

import (
	"strings"
	"testing"

	"xlb/controlplane/api"
)

// TestServicesPersistence checks that the listing says what ipvsadm -Ln
// says of persistent and ops services: "persistent T mask M" (an IPv4
// netmask, an IPv6 prefix length, nothing for a host) and "ops".
func TestServicesPersistence(t *testing.T) {
	tests := []struct {
		name string
		svc  api.Service
		want string
	}{
		{"ipv4 /24", api.Service{VIP: "198.18.0.100", Port: 80, Protocol: "tcp", Scheduler: "rr", PersistenceS: 360, PersistenceGranularity: 24},
			"rr persistent 360 mask 255.255.255.0"},
		{"ipv4 host", api.Service{VIP: "198.18.0.100", Port: 0, Protocol: "tcp", Scheduler: "wlc", PersistenceS: 60, PersistenceGranularity: 32},
			"wlc persistent 60 "},
		{"ipv6 /64", api.Service{VIP: "2001:db8::100", Port: 80, Protocol: "tcp", Scheduler: "mh", PersistenceS: 10, PersistenceGranularity: 64},
			"mh persistent 10 mask 64"},
		{"ops", api.Service{VIP: "198.18.0.100", Port: 53, Protocol: "udp", Scheduler: "rr", OPS: true}, "rr ops"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := printServices(&b, api.Services{Services: []api.Service{tc.svc}}, false); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), tc.want) {
				t.Errorf("listing lacks %q:\n%s", tc.want, b.String())
			}
		})
	}
}
