package conn_test

import (
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"xlb/internal/testutil"
	"xlb/vrrp/conn"
)

// TestKeepalivedAdvert receives the adverts of a real keepalived master,
// version 2 over IPv4 and version 3 over IPv6, and checks what the socket
// layer reports of them.
func TestKeepalivedAdvert(t *testing.T) {
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Fatalf("keepalived is not installed (make deps): %v", err)
	}
	tests := []struct {
		name        string
		opts        conn.Options
		conf        string
		wantVersion byte
		wantVRID    byte
	}{
		{
			name:        "version 2, ipv4",
			opts:        conn.Options{Interface: "eth0"},
			wantVersion: 2,
			wantVRID:    51,
			conf: `vrrp_instance V4 {
	state MASTER
	interface eth0
	virtual_router_id 51
	priority 200
	advert_int 1
	virtual_ipaddress {
		198.18.0.100/24
	}
}
`,
		},
		{
			name:        "version 3, ipv6",
			opts:        conn.Options{Interface: "eth0", IPv6: true},
			wantVersion: 3,
			wantVRID:    52,
			conf: `vrrp_instance V6 {
	state MASTER
	interface eth0
	version 3
	virtual_router_id 52
	priority 200
	advert_int 0.1
	virtual_ipaddress {
		2001:db8::100/64
	}
}
`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			rc := open(t, l.b, tc.opts)
			k := testutil.StartKeepalived(t, l.a, tc.conf)
			wantSrc := netip.MustParseAddr("198.18.0.1")
			if tc.opts.IPv6 {
				wantSrc = l.a.LinkLocal(t, "eth0")
			}
			// keepalived is backup for 3 intervals before it advertises.
			start := time.Now()
			p, err := receive(rc, 15*time.Second)
			t.Logf("first advert after %v", time.Since(start))
			if err != nil {
				t.Fatalf("no advert from keepalived: %v\nkeepalived:\n%s", err, k.Log())
			}
			if len(p.Payload) < 8 {
				t.Fatalf("advert of %d bytes, want at least 8: % x", len(p.Payload), p.Payload)
			}
			got := struct {
				Version, Type, VRID byte
				HopLimit            int
				Src, Dst            string
			}{p.Payload[0] >> 4, p.Payload[0] & 0xf, p.Payload[1], p.HopLimit, p.Src.String(), p.Dst.String()}
			want := got
			want.Version, want.Type, want.VRID, want.HopLimit = tc.wantVersion, 1, tc.wantVRID, 255
			want.Src, want.Dst = wantSrc.String(), rc.Group().String()
			if got != want {
				t.Errorf("advert: got %+v, want %+v", got, want)
			}
		})
	}
}
