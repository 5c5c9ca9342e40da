package controlplane

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// equateAddrs lets go-cmp compare netip values, whose fields are unexported.
var equateAddrs = cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{})

func intp(i int) *int { return &i }

func TestDesired(t *testing.T) {
	vip := MustParseServiceKey("198.18.0.100:80/tcp")
	tests := []struct {
		name string
		conf string
		ov   Overrides
		want State
	}{
		{
			name: "config weights, reals sorted",
			conf: `virtual_server 198.18.0.100 80 {
				lb_algo wrr
				lb_kind DR
				protocol TCP
				real_server 198.18.0.12 80 { weight 2 }
				real_server 198.18.0.11 80 { weight 3 } }`,
			want: State{Services: []Service{{
				Key: vip, Scheduler: "wrr", Kind: "DR", Quorum: 1, QuorumUp: true,
				Reals: []Real{
					{Addr: netip.MustParseAddrPort("198.18.0.11:80"), ConfigWeight: 3, Weight: 3},
					{Addr: netip.MustParseAddrPort("198.18.0.12:80"), ConfigWeight: 2, Weight: 2},
				},
			}}},
		},
		{
			name: "override wins over config",
			conf: `virtual_server 198.18.0.100 80 {
				lb_algo rr
				lb_kind DR
				protocol TCP
				real_server 198.18.0.11 80 { weight 3 } }`,
			ov: Overrides{vip: {netip.MustParseAddrPort("198.18.0.11:80"): 0}},
			want: State{Services: []Service{{
				Key: vip, Scheduler: "rr", Kind: "DR", Quorum: 1,
				Reals: []Real{{Addr: netip.MustParseAddrPort("198.18.0.11:80"), ConfigWeight: 3, Override: intp(0), Weight: 0}},
			}}},
		},
		{
			name: "services sorted, udp apart from tcp",
			conf: `virtual_server 198.18.0.200 53 {
					protocol UDP
					lb_kind DR
					lb_algo rr
					real_server 198.18.0.11 53 { weight 1 }
				}
				virtual_server 198.18.0.100 80 {
					protocol TCP
					lb_kind DR
					lb_algo rr
					real_server 198.18.0.11 80 { weight 1 }
				}`,
			want: State{Services: []Service{
				{Key: vip, Scheduler: "rr", Kind: "DR", Quorum: 1, QuorumUp: true, Reals: []Real{
					{Addr: netip.MustParseAddrPort("198.18.0.11:80"), ConfigWeight: 1, Weight: 1}}},
				{Key: MustParseServiceKey("198.18.0.200:53/udp"), Scheduler: "rr", Kind: "DR", Quorum: 1, QuorumUp: true, Reals: []Real{
					{Addr: netip.MustParseAddrPort("198.18.0.11:53"), ConfigWeight: 1, Weight: 1}}},
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Desired(mustParse(t, tc.conf), Inputs{Overrides: tc.ov})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, equateAddrs); diff != "" {
				t.Errorf("Desired (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOverridesPrune(t *testing.T) {
	st, err := Desired(mustParse(t, threeReals), Inputs{})
	if err != nil {
		t.Fatal(err)
	}
	vip := MustParseServiceKey("198.18.0.100:80/tcp")
	gone := MustParseServiceKey("198.18.0.101:80/tcp")
	ov := Overrides{}
	ov.Set(vip, netip.MustParseAddrPort("198.18.0.11:80"), 7)
	ov.Set(vip, netip.MustParseAddrPort("198.18.0.99:80"), 1)
	ov.Set(gone, netip.MustParseAddrPort("198.18.0.11:80"), 1)

	dropped := ov.Prune(st)
	want := []string{"198.18.0.100:80/tcp 198.18.0.99:80", "198.18.0.101:80/tcp 198.18.0.11:80"}
	if diff := cmp.Diff(want, dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	wantLeft := Overrides{vip: {netip.MustParseAddrPort("198.18.0.11:80"): 7}}
	if diff := cmp.Diff(wantLeft, ov, equateAddrs); diff != "" {
		t.Errorf("left (-want +got):\n%s", diff)
	}
}

func TestParseServiceKey(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "198.18.0.100:80", want: "198.18.0.100:80/tcp"},
		{in: "198.18.0.100:53/udp", want: "198.18.0.100:53/udp"},
		{in: "198.18.0.100:53/UDP", want: "198.18.0.100:53/udp"},
		{in: "[2001:db8::1]:443/tcp", want: "[2001:db8::1]:443/tcp"},
		{in: "198.18.0.100:80/sctp", wantErr: true},
		{in: "198.18.0.100", wantErr: true},
		{in: "198.18.0.100:99999", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			k, err := ParseServiceKey(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseServiceKey(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if err == nil && k.String() != tc.want {
				t.Errorf("ParseServiceKey(%q) = %s, want %s", tc.in, k, tc.want)
			}
		})
	}
}

// TestDesiredHealth checks the one place where health, misc_dynamic,
// overrides, inhibit_on_failure and quorum meet.
func TestDesiredHealth(t *testing.T) {
	const conf = `virtual_server 198.18.0.100 80 {
		lb_algo wrr
		lb_kind DR
		protocol TCP
		quorum 4
		hysteresis 1
		sorry_server 198.18.0.50 80
		real_server 198.18.0.11 80 { weight 3 }
		real_server 198.18.0.12 80 { weight 2
			inhibit_on_failure }
		real_server 198.18.0.13 80 { weight 1 } }`
	vip := MustParseServiceKey("198.18.0.100:80/tcp")
	r11, r12, r13 := netip.MustParseAddrPort("198.18.0.11:80"), netip.MustParseAddrPort("198.18.0.12:80"), netip.MustParseAddrPort("198.18.0.13:80")
	down := RealHealth{Up: false, Reason: "connect: connection refused"}
	// real is the expected entry of one real: configured weight cw,
	// effective weight w.
	real := func(a netip.AddrPort, cw, w int) Real {
		return Real{Addr: a, ConfigWeight: cw, Weight: w, Inhibit: a == r12}
	}
	failed := func(r Real) Real { r.Down, r.HealthReason, r.Weight, r.Checked = true, down.Reason, 0, true; return r }
	tests := []struct {
		name string
		in   Inputs
		// want: the service's Reals, Down, QuorumUp and SorryOnly.
		reals, downs []Real
		quorumUp     bool
	}{
		{name: "all up: 6 >= 4+1", reals: []Real{real(r11, 3, 3), real(r12, 2, 2), real(r13, 1, 1)}, quorumUp: true},
		{
			name:  "failed real leaves the pool; 3 < 4+1 at start",
			in:    Inputs{Health: Health{vip: {r11: down}}},
			reals: []Real{real(r12, 2, 2), real(r13, 1, 1)}, downs: []Real{failed(real(r11, 3, 3))},
		},
		{
			name:  "hysteresis: quorum held keeps down to 4-1",
			in:    Inputs{Health: Health{vip: {r11: down}}, Quorum: map[ServiceKey]bool{vip: true}},
			reals: []Real{real(r12, 2, 2), real(r13, 1, 1)}, downs: []Real{failed(real(r11, 3, 3))}, quorumUp: true,
		},
		{
			name:  "hysteresis: quorum lost needs 4+1 to return",
			in:    Inputs{Quorum: map[ServiceKey]bool{vip: false}, Overrides: Overrides{vip: {r11: 1}}},
			reals: []Real{{Addr: r11, ConfigWeight: 3, Weight: 1, Override: intp(1)}, real(r12, 2, 2), real(r13, 1, 1)},
		},
		{
			name:  "inhibit_on_failure keeps a failed real at weight 0",
			in:    Inputs{Health: Health{vip: {r12: down}}, Quorum: map[ServiceKey]bool{vip: true}},
			reals: []Real{real(r11, 3, 3), failed(real(r12, 2, 2)), real(r13, 1, 1)}, quorumUp: true,
		},
		{
			name: "misc_dynamic sets the weight",
			in:   Inputs{Health: Health{vip: {r13: {Up: true, Reason: "exit 9", Weight: 7, HasWeight: true}}}},
			reals: []Real{real(r11, 3, 3), real(r12, 2, 2),
				{Addr: r13, ConfigWeight: 1, Weight: 7, DynamicWeight: intp(7), HealthReason: "exit 9", Checked: true}},
			quorumUp: true,
		},
		{
			name: "an override wins over misc_dynamic",
			in: Inputs{Health: Health{vip: {r13: {Up: true, Weight: 7, HasWeight: true}}},
				Overrides: Overrides{vip: {r13: 2}}},
			reals: []Real{real(r11, 3, 3), real(r12, 2, 2),
				{Addr: r13, ConfigWeight: 1, Weight: 2, DynamicWeight: intp(7), Override: intp(2), Checked: true}},
			quorumUp: true,
		},
		{
			name:  "a failed real stays at 0 whatever its override",
			in:    Inputs{Health: Health{vip: {r12: down}}, Overrides: Overrides{vip: {r12: 9}}},
			reals: []Real{real(r11, 3, 3), func() Real { r := failed(real(r12, 2, 2)); r.Override = intp(9); return r }(), real(r13, 1, 1)},
		},
		{
			name:  "no live weight never has quorum, even when it had",
			in:    Inputs{Health: Health{vip: {r11: down, r12: down, r13: down}}, Quorum: map[ServiceKey]bool{vip: true}},
			reals: []Real{failed(real(r12, 2, 2))}, downs: []Real{failed(real(r11, 3, 3)), failed(real(r13, 1, 1))},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := Desired(mustParse(t, conf), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			want := Service{
				Key: vip, Scheduler: "wrr", Kind: "DR", Quorum: 4, Hysteresis: 1,
				Sorry: netip.MustParseAddrPort("198.18.0.50:80"), Reals: tc.reals, Down: tc.downs,
				QuorumUp: tc.quorumUp, SorryOnly: !tc.quorumUp,
			}
			if diff := cmp.Diff([]Service{want}, st.Services, equateAddrs); diff != "" {
				t.Errorf("Desired (-want +got):\n%s", diff)
			}
		})
	}
}
