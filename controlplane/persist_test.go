package controlplane

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"xlb/maps"
)

// TestXDPPersistenceEntries checks what persistence, ops and all-ports
// services write: the services entry's settings, as the configuration
// (with keepalived's fix-ups) gives them.
func TestXDPPersistenceEntries(t *testing.T) {
	tests := []struct {
		name string
		conf string
		key  maps.ServiceKey
		want maps.Service
	}{
		{
			name: "persistent rr by /24",
			conf: "virtual_server 198.18.0.100 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n persistence_timeout 600\n persistence_granularity 255.255.255.0\n real_server 198.18.0.11 80 { weight 1 }\n}\n",
			key:  maps.ServiceKey{Addr: netip.MustParseAddr("198.18.0.100"), Port: 80, Proto: 6},
			want: maps.Service{ID: 1, TableSize: 1, Kind: maps.KindDR, Scheduler: maps.SchedRR, Persist: 600 * time.Second, PersistPrefix: 24},
		},
		{
			name: "granularity alone: 360 s",
			conf: "virtual_server 198.18.0.100 80 {\n lb_algo mh\n lb_kind DR\n protocol TCP\n persistence_granularity 16\n real_server 198.18.0.11 80 { weight 1 }\n}\n",
			key:  maps.ServiceKey{Addr: netip.MustParseAddr("198.18.0.100"), Port: 80, Proto: 6},
			want: maps.Service{ID: 1, TableSize: smallTable, Kind: maps.KindDR, Persist: 360 * time.Second, PersistPrefix: 16},
		},
		{
			name: "ops on udp",
			conf: "virtual_server 198.18.0.100 53 {\n lb_algo rr\n lb_kind DR\n protocol UDP\n ops\n real_server 198.18.0.11 53 { weight 1 }\n}\n",
			key:  maps.ServiceKey{Addr: netip.MustParseAddr("198.18.0.100"), Port: 53, Proto: 17},
			want: maps.Service{ID: 1, TableSize: 1, Kind: maps.KindDR, Scheduler: maps.SchedRR, OnePacket: true},
		},
		{
			name: "ops on tcp is dropped, as keepalived",
			conf: "virtual_server 198.18.0.100 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n ops\n real_server 198.18.0.11 80 { weight 1 }\n}\n",
			key:  maps.ServiceKey{Addr: netip.MustParseAddr("198.18.0.100"), Port: 80, Proto: 6},
			want: maps.Service{ID: 1, TableSize: 1, Kind: maps.KindDR, Scheduler: maps.SchedRR},
		},
		{
			name: "port 0 is served, persistent by default",
			conf: "virtual_server 198.18.0.100 0 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n real_server 198.18.0.11 0 { weight 1 }\n}\n",
			key:  maps.ServiceKey{Addr: netip.MustParseAddr("198.18.0.100"), Port: 0, Proto: 6},
			want: maps.Service{ID: 1, TableSize: 1, Kind: maps.KindDR, Scheduler: maps.SchedRR, Persist: 360 * time.Second},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newXDPFixture(t, tc.conf)
			f.reconcile(t)
			got, ok := f.dp.services[tc.key]
			if !ok {
				t.Fatalf("no service entry at %s; have %v", tc.key, f.dp.services)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("service entry (-want +got):\n%s", diff)
			}
		})
	}
}

// TestXDPQuiescedAndAllPortsNAT checks the reals' side: weight 0 writes
// the quiesced flag (and weight back clears it), and a NAT real of an
// all-ports service keeps the client's port (Port 0) whatever its own.
func TestXDPQuiescedAndAllPortsNAT(t *testing.T) {
	conf := "virtual_server 198.18.0.100 0 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n persistence_timeout 60\n" +
		" real_server 198.18.0.11 0 { weight 1 }\n real_server 198.18.0.12 8080 { weight 1 }\n}\n"
	f := newXDPFixture(t, conf)
	f.reconcile(t)
	for id, r := range f.dp.reals {
		if r.Port != 0 || r.Quiesced {
			t.Errorf("real %d = port %d quiesced %v, want port 0 (the client's) and not quiesced", id, r.Port, r.Quiesced)
		}
	}
	vip := MustParseServiceKey("198.18.0.100:0/tcp")
	real := netip.MustParseAddrPort("198.18.0.12:8080")
	quiesced := func() bool {
		for _, r := range f.dp.reals {
			if r.Addr == real.Addr() {
				return r.Quiesced
			}
		}
		t.Fatalf("real %s not written", real)
		return false
	}
	for _, w := range []int{0, 1} {
		if err := f.rec.SetWeight(context.Background(), vip, real, w); err != nil {
			t.Fatal(err)
		}
		if got, want := quiesced(), w == 0; got != want {
			t.Errorf("weight %d: real quiesced = %v, want %v", w, got, want)
		}
	}
}

// TestExplainTemplate checks that explain shows a persistent service's
// template and lets it decide exactly when the program would.
func TestExplainTemplate(t *testing.T) {
	conf := strings.Replace(threeReals, "lb_algo mh", "lb_algo rr\n    persistence_timeout 300\n    persistence_granularity 24", 1)
	f := newXDPFixture(t, conf)
	f.reconcile(t)
	vip := MustParseServiceKey("198.18.0.100:80/tcp")
	client := netip.MustParseAddrPort("198.18.1.10:40000")
	svcID := f.x.services[vip].id
	realID := func(a string) uint32 { return f.x.services[vip].reals[netip.MustParseAddrPort(a)].id }
	masked := netip.MustParseAddr("198.18.1.0")

	tests := []struct {
		name      string
		tmpl      *maps.Template
		weight0   bool
		wantReal  string
		wantBy    string
		wantNotes string
	}{
		{name: "no template", wantBy: "scheduler", wantNotes: "no template for 198.18.1.0/24"},
		{name: "fresh template", tmpl: &maps.Template{RealID: realID("198.18.0.12:80"), LastSeen: maps.MonotonicNow() - time.Minute},
			wantReal: "198.18.0.12:80", wantBy: "persistence template"},
		{name: "expired template", tmpl: &maps.Template{RealID: realID("198.18.0.12:80"), LastSeen: maps.MonotonicNow() - 10*time.Minute},
			wantBy: "scheduler", wantNotes: "idle past persistence_timeout 5m0s"},
		{name: "template to a quiesced real", tmpl: &maps.Template{RealID: realID("198.18.0.13:80"), LastSeen: maps.MonotonicNow()},
			weight0: true, wantBy: "scheduler", wantNotes: "quiesced"},
		{name: "template to a real gone", tmpl: &maps.Template{RealID: 99, LastSeen: maps.MonotonicNow()},
			wantBy: "scheduler", wantNotes: "no longer configured"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := 1
			if tc.weight0 {
				w = 0
			}
			if err := f.rec.SetWeight(context.Background(), vip, netip.MustParseAddrPort("198.18.0.13:80"), w); err != nil {
				t.Fatal(err)
			}
			f.dp.templates = map[persistKey]maps.Template{}
			if tc.tmpl != nil {
				f.dp.templates[persistKey{svcID, masked}] = *tc.tmpl
			}
			e, err := f.rec.Explain(vip, client)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantReal != "" && e.Real.String() != tc.wantReal {
				t.Errorf("real = %s, want %s", e.Real, tc.wantReal)
			}
			if e.DecidedBy != tc.wantBy {
				t.Errorf("decided by %q, want %q (notes %q)", e.DecidedBy, tc.wantBy, e.Notes)
			}
			if (tc.tmpl != nil) != (e.Template != nil) {
				t.Errorf("template shown = %v, want %v", e.Template != nil, tc.tmpl != nil)
			}
			if e.Template != nil && (e.Template.Client != masked || e.Template.Timeout != 5*time.Minute) {
				t.Errorf("template = %+v, want client %s, timeout 5m", e.Template, masked)
			}
			if tc.wantNotes != "" && !strings.Contains(strings.Join(e.Notes, "; "), tc.wantNotes) {
				t.Errorf("notes %q, want one containing %q", e.Notes, tc.wantNotes)
			}
		})
	}
}

// TestXDPSorryQuiesced checks that the sorry server's entry is quiesced
// while the reals hold the table, so that a persistence template written
// while it stood in does not keep a client there once a real is back.
func TestXDPSorryQuiesced(t *testing.T) {
	conf := "virtual_server 198.18.0.100 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n persistence_timeout 60\n" +
		" sorry_server 198.18.0.13 80\n real_server 198.18.0.11 80 { weight 1 }\n}\n"
	f := newXDPFixture(t, conf)
	f.reconcile(t)
	vip := MustParseServiceKey("198.18.0.100:80/tcp")
	sorry := func() maps.Real {
		t.Helper()
		for _, r := range f.dp.reals {
			if r.Addr == netip.MustParseAddr("198.18.0.13") {
				return r
			}
		}
		t.Fatal("sorry server not written")
		return maps.Real{}
	}
	for _, step := range []struct {
		weight       int
		wantQuiesced bool
	}{{1, true}, {0, false}, {1, true}} {
		if err := f.rec.SetWeight(context.Background(), vip, netip.MustParseAddrPort("198.18.0.11:80"), step.weight); err != nil {
			t.Fatal(err)
		}
		if got := sorry().Quiesced; got != step.wantQuiesced {
			t.Errorf("real weight %d: sorry server quiesced = %v, want %v", step.weight, got, step.wantQuiesced)
		}
	}
}
