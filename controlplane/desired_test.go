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
				Key: vip, Scheduler: "wrr", Kind: "DR",
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
				Key: vip, Scheduler: "rr", Kind: "DR",
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
				{Key: vip, Scheduler: "rr", Kind: "DR", Reals: []Real{
					{Addr: netip.MustParseAddrPort("198.18.0.11:80"), ConfigWeight: 1, Weight: 1}}},
				{Key: MustParseServiceKey("198.18.0.200:53/udp"), Scheduler: "rr", Kind: "DR", Reals: []Real{
					{Addr: netip.MustParseAddrPort("198.18.0.11:53"), ConfigWeight: 1, Weight: 1}}},
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Desired(mustParse(t, tc.conf), tc.ov)
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
	st, err := Desired(mustParse(t, threeReals), nil)
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
