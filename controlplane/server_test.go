package controlplane

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"xlb/controlplane/api"
	"xlb/maps"
)

// startServer serves f's reconciler on a unix socket in a temp dir and
// returns a client for it.
func startServer(t *testing.T, f *xdpFixture) *api.Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "xlbd.sock")
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewServer(f.rec, discardLogger()).Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return api.NewClient(sock)
}

func TestServerServices(t *testing.T) {
	f := newXDPFixture(t, threeReals)
	delete(f.nb.hops, netip.MustParseAddr("198.18.0.13"))
	f.reconcile(t)
	for id := uint32(1); id <= 3; id++ {
		f.dp.counters[id] = maps.Counters{Packets: 200 + uint64(id)}
	}
	c := startServer(t, f)

	got, err := c.Services(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	real := func(addr string, w int, mac, state string, packets uint64) api.Real {
		r := api.Real{Address: addr, Port: 80, Weight: w, EffectiveWeight: w, MAC: mac, State: state, Packets: packets}
		if mac != "" {
			r.Iface = "eth0"
		}
		return r
	}
	want := api.Services{Services: []api.Service{{
		VIP: "198.18.0.100", Port: 80, Protocol: "tcp", Scheduler: "mh", ServedBy: "mh", Kind: "DR",
		Status: "active", Packets: 201 + 202 + 203, Quorum: 1, QuorumUp: true, // the sum of its reals'
		Reals: []api.Real{
			real("198.18.0.11", 3, "aa:00:00:00:00:11", RealActive, 201),
			real("198.18.0.12", 2, "aa:00:00:00:00:12", RealActive, 202),
			real("198.18.0.13", 1, "", RealUnresolved, 203),
		},
	}}}
	// The unresolved reason comes from the neighbour table; check it is
	// there, then compare the rest exactly.
	if len(got.Services) == 1 && len(got.Services[0].Reals) == 3 {
		if got.Services[0].Reals[2].Reason == "" {
			t.Error("unresolved real has no reason")
		}
		got.Services[0].Reals[2].Reason = ""
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
}

func TestServerWeight(t *testing.T) {
	f := newXDPFixture(t, threeReals)
	f.reconcile(t)
	c := startServer(t, f)
	w := func(i int) *int { return &i }

	tests := []struct {
		name       string
		req        api.WeightRequest
		wantStatus int // 0 = success
		wantErr    string
	}{
		{name: "ok", req: api.WeightRequest{Service: "198.18.0.100:80/tcp", Real: "198.18.0.13:80", Weight: w(0)}},
		{name: "tcp by default", req: api.WeightRequest{Service: "198.18.0.100:80", Real: "198.18.0.12:80", Weight: w(5)}},
		{name: "too big", req: api.WeightRequest{Service: "198.18.0.100:80", Real: "198.18.0.12:80", Weight: w(70000)},
			wantStatus: 400, wantErr: "weight: want 0..65535, got 70000"},
		{name: "negative", req: api.WeightRequest{Service: "198.18.0.100:80", Real: "198.18.0.12:80", Weight: w(-1)},
			wantStatus: 400, wantErr: "weight: want 0..65535, got -1"},
		{name: "missing weight", req: api.WeightRequest{Service: "198.18.0.100:80", Real: "198.18.0.12:80"},
			wantStatus: 400, wantErr: "weight: missing"},
		{name: "bad service", req: api.WeightRequest{Service: "198.18.0.100", Real: "198.18.0.12:80", Weight: w(1)},
			wantStatus: 400},
		{name: "bad real", req: api.WeightRequest{Service: "198.18.0.100:80", Real: "r1", Weight: w(1)},
			wantStatus: 400, wantErr: `real: want RIP:PORT, got "r1"`},
		{name: "unknown service", req: api.WeightRequest{Service: "198.18.0.100:81", Real: "198.18.0.12:80", Weight: w(1)},
			wantStatus: 404, wantErr: "service 198.18.0.100:81/tcp is not configured"},
		{name: "unknown real", req: api.WeightRequest{Service: "198.18.0.100:80/tcp", Real: "198.18.0.14:80", Weight: w(1)},
			wantStatus: 404, wantErr: "service 198.18.0.100:80/tcp has no real server 198.18.0.14:80"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.SetWeight(context.Background(), tc.req)
			if tc.wantStatus == 0 {
				if err != nil {
					t.Fatalf("SetWeight: %v", err)
				}
				return
			}
			var se *api.StatusError
			if !errors.As(err, &se) || se.Status != tc.wantStatus {
				t.Fatalf("SetWeight error = %v, want status %d", err, tc.wantStatus)
			}
			if tc.wantErr != "" && se.Message != tc.wantErr {
				t.Errorf("message = %q, want %q", se.Message, tc.wantErr)
			}
		})
	}

	// The successful calls were written before they returned.
	st, _ := f.rec.Snapshot()
	svc, _ := st.Service(MustParseServiceKey("198.18.0.100:80/tcp"))
	got := map[string]int{}
	for _, r := range svc.Reals {
		got[r.Addr.String()] = r.Weight
	}
	want := map[string]int{"198.18.0.11:80": 3, "198.18.0.12:80": 5, "198.18.0.13:80": 0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("effective weights (-want +got):\n%s", diff)
	}
	assertShares(t, f.dp.share(1), map[uint32]float64{1: 3.0 / 8, 2: 5.0 / 8})
}

func TestOverrideSurvivesReload(t *testing.T) {
	f := newXDPFixture(t, threeReals)
	f.reconcile(t)
	vip := MustParseServiceKey("198.18.0.100:80/tcp")
	r3 := netip.MustParseAddrPort("198.18.0.13:80")
	if err := f.rec.SetWeight(context.Background(), vip, r3, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.rec.SetConfig(context.Background(), mustParse(t, threeReals)); err != nil {
		t.Fatal(err)
	}
	st, _ := f.rec.Snapshot()
	svc, _ := st.Service(vip)
	r, _ := svc.Real(r3)
	if r.Weight != 0 || r.Override == nil {
		t.Errorf("after reload real %s = %+v, want the override 0 kept", r3, r)
	}
}

func TestListenRefusesLiveSocket(t *testing.T) {
	f := newXDPFixture(t, threeReals)
	c := startServer(t, f)
	if _, err := Listen(c.Socket); err == nil {
		t.Error("Listen on a socket a live server answers on succeeded, want an error")
	}
}

func TestClientUnreachable(t *testing.T) {
	c := api.NewClient(filepath.Join(t.TempDir(), "none.sock"))
	_, err := c.Services(context.Background())
	if !errors.Is(err, api.ErrUnreachable) {
		t.Errorf("Services on a missing socket: %v, want ErrUnreachable", err)
	}
}

func TestServerReasons(t *testing.T) {
	f := newXDPFixture(t, threeReals)
	c := startServer(t, f)
	got, err := c.Reasons(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]uint64{"tx": 7, "pass_not_vip": 3}, got.Reasons); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
}
